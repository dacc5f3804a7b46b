/*
 * Huawei Cloud's SDK-HMAC-SHA256 request signature (the API gateway's AK/SK scheme), as the
 * Go, Python, Node and C++ SDKs compute it for a request without a body:
 *   StringToSign = "SDK-HMAC-SHA256\n" X-Sdk-Date "\n" hex(SHA-256(CanonicalRequest))
 *   Signature    = hex(HMAC-SHA256(secret key, StringToSign))
 * The canonical request is streamed into SHA-256 as it is produced, so signing allocates
 * nothing whatever the length of a security token.
 */
#include "buildconf.h"

#include "sign.h"
#include "sha256.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Where the canonical request goes: a hash, a buffer, or both. */
struct sink {
	struct csms_sha256 *hash;
	char *buf;
	size_t len, used;
	bool overflow;
};

static void put(struct sink *k, const char *s, size_t n)
{
	if (k->hash != NULL)
		csms_sha256_update(k->hash, s, n);
	if (k->buf == NULL)
		return;
	if (n >= k->len - k->used) {
		k->overflow = true;
		return;
	}
	memcpy(k->buf + k->used, s, n);
	k->used += n;
	k->buf[k->used] = '\0';
}

static void put_str(struct sink *k, const char *s)
{
	put(k, s, strlen(s));
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* Percent-encoding with upper-case hex, byte by byte (UTF-8 stays UTF-8 bytes). */
static void put_escaped(struct sink *k, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c)) {
			put(k, s + i, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			put(k, e, 3);
		}
	}
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int name_cmp(const char *a, const char *b)
{
	for (; *a && lower(*a) == lower(*b); a++, b++)
		;
	return lower((unsigned char)*a) - lower((unsigned char)*b);
}

static int param_cmp(const struct csms_sign_param *a, const struct csms_sign_param *b)
{
	int c = strcmp(a->key, b->key);

	return c != 0 ? c : strcmp(a->value, b->value);
}

/* The value as signed: without leading and trailing blanks. */
static void trimmed(const char *v, const char **start, size_t *n)
{
	size_t len = strlen(v);

	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	*start = v;
	*n = len;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

/* Indices of headers (or params) in signing order: insertion sort, the lists are short. */
static int header_order(const struct csms_sign_request *rq, size_t order[])
{
	if (rq->nheaders > CSMS_SIGN_MAX_HEADERS)
		return -EINVAL;
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct csms_sign_header *h = &rq->headers[i];
		size_t j = i;

		if (h->name[0] == '\0' || has_control(h->name) || strchr(h->name, ':') != NULL ||
		    has_control(h->value))
			return -EINVAL;
		for (; j > 0; j--) {
			int c = name_cmp(rq->headers[order[j - 1]].name, h->name);

			if (c == 0)
				return -EINVAL; /* one value per signed name */
			if (c < 0)
				break;
			order[j] = order[j - 1];
		}
		order[j] = i;
	}
	return 0;
}

static int param_order(const struct csms_sign_request *rq, size_t order[])
{
	if (rq->nparams > CSMS_SIGN_MAX_PARAMS)
		return -EINVAL;
	for (size_t i = 0; i < rq->nparams; i++) {
		size_t j = i;

		for (; j > 0 && param_cmp(&rq->params[order[j - 1]], &rq->params[i]) > 0; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	return 0;
}

static void put_lower(struct sink *k, const char *s)
{
	for (; *s; s++) {
		char c = (char)lower((unsigned char)*s);

		put(k, &c, 1);
	}
}

/* "a;b;c": the lower-case names of the signed headers, in signing order. */
static void put_signed_names(const struct csms_sign_request *rq, const size_t order[],
			     struct sink *k)
{
	for (size_t i = 0; i < rq->nheaders; i++) {
		if (i > 0)
			put(k, ";", 1);
		put_lower(k, rq->headers[order[i]].name);
	}
}

static int canonical(const struct csms_sign_request *rq, struct sink *k)
{
	size_t horder[CSMS_SIGN_MAX_HEADERS], porder[CSMS_SIGN_MAX_PARAMS];
	const char *p = rq->path, *v;
	char body_hash[2 * CSMS_SHA256_LEN + 1];
	size_t n;

	if (header_order(rq, horder) != 0 || param_order(rq, porder) != 0)
		return -EINVAL;
	put_str(k, rq->method);
	put(k, "\n", 1);
	/* each segment escaped, "/" kept, and always a trailing "/" */
	for (;;) {
		const char *slash = strchr(p, '/');

		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		put_escaped(k, p, n);
		if (slash == NULL)
			break;
		put(k, "/", 1);
		p = slash + 1;
	}
	if (rq->path[0] == '\0' || rq->path[strlen(rq->path) - 1] != '/')
		put(k, "/", 1);
	put(k, "\n", 1);
	for (size_t i = 0; i < rq->nparams; i++) {
		const struct csms_sign_param *q = &rq->params[porder[i]];

		if (i > 0)
			put(k, "&", 1);
		put_escaped(k, q->key, strlen(q->key));
		put(k, "=", 1);
		put_escaped(k, q->value, strlen(q->value));
	}
	put(k, "\n", 1);
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct csms_sign_header *h = &rq->headers[horder[i]];

		put_lower(k, h->name);
		put(k, ":", 1);
		trimmed(h->value, &v, &n);
		put(k, v, n);
		put(k, "\n", 1);
	}
	put(k, "\n", 1);
	put_signed_names(rq, horder, k);
	put(k, "\n", 1);
	csms_sha256_hex(rq->body != NULL ? rq->body : "", rq->body_len, body_hash);
	put_str(k, body_hash);
	return k->overflow ? -ENOSPC : 0;
}

int csms_sign_canonical_request(const struct csms_sign_request *rq, char *buf, size_t len)
{
	struct sink k = { .buf = buf, .len = len };

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	return canonical(rq, &k);
}

int csms_sign_string_to_sign(const struct csms_sign_request *rq, const char *date, char *buf,
			     size_t len)
{
	struct csms_sha256 h;
	struct sink k = { .hash = &h };
	char hex[2 * CSMS_SHA256_LEN + 1];
	int rc, n;

	csms_sha256_init(&h);
	rc = canonical(rq, &k);
	csms_sha256_final_hex(&h, hex);
	if (rc != 0)
		return rc;
	n = snprintf(buf, len, CSMS_SIGN_ALGORITHM "\n%s\n%s", date, hex);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int csms_sign_authorization(const char *ak, const char *sk, size_t sk_len, const char *date,
			    const struct csms_sign_request *rq, char *buf, size_t len)
{
	size_t order[CSMS_SIGN_MAX_HEADERS];
	char sts[128], sig[2 * CSMS_SHA256_LEN + 1];
	struct sink names;
	char signed_names[512];
	int rc, n;

	rc = csms_sign_string_to_sign(rq, date, sts, sizeof(sts));
	if (rc != 0)
		return rc;
	rc = header_order(rq, order);
	if (rc != 0)
		return rc;
	names = (struct sink){ .buf = signed_names, .len = sizeof(signed_names) };
	signed_names[0] = '\0';
	put_signed_names(rq, order, &names);
	if (names.overflow)
		return -ENOSPC;
	csms_hmac_sha256_hex(sk, sk_len, sts, strlen(sts), sig);
	n = snprintf(buf, len, CSMS_SIGN_ALGORITHM " Access=%s, SignedHeaders=%s, Signature=%s", ak,
		     signed_names, sig);
	explicit_bzero(sig, sizeof(sig));
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

void csms_sign_date(int64_t when, char out[CSMS_SIGN_DATE_LEN + 1])
{
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CSMS_SIGN_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != CSMS_SIGN_DATE_LEN)
		csms_strlcpy(out, "19700101T000000Z", CSMS_SIGN_DATE_LEN + 1);
}
