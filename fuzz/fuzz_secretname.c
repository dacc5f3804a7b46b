/*
 * libFuzzer harness for the user -> secret-name mapping, the log escaper and the token check.
 *
 * The input is TEMPLATE \0 USER \0 SERVICE \0 HOST \0 GROUP (missing parts are NULL: a
 * user without a primary group name). Invariants (each
 * traps when broken):
 *  - csms_secret_template_check() accepts exactly the templates a reference checker accepts;
 *  - for a checked template, csms_secret_name_expand() returns 0 exactly when a reference
 *    expansion (no cap) is [A-Za-z0-9._-]{1,64} and not only dots, and then gives that name;
 *    otherwise out holds the reference expansion cut at CSMS_SECRET_SHOW_MAX bytes; out is
 *    always NUL-terminated within CSMS_SECRET_SHOW_MAX + 1 bytes; with %g and no group,
 *    -ENOENT;
 *  - template "%u": rc == 0 iff the user is itself a valid name, and then out == user;
 *  - csms_log_escape(), whole input, several buffer sizes: the result is NUL-terminated in the
 *    buffer, has only 0x21..0x7e without quotes or '=', a backslash only as \xHH, and decodes back to
 *    the input (or a prefix of at most max_in bytes followed by "..."); no cut when room allows;
 *  - csms_token_validate() accepts exactly 16..65536 bytes of 0x21..0x7e.
 */
#include "buildconf.h"

#include "fuzz.h"
#include "secretname.h"
#include "token.h"
#include "util.h"
#include "verdict.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NPARTS 5
#define GUARD 16
#define FILL 0xa5

static bool ref_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* ^[A-Za-z0-9._-]{1,64}$ and not only dots */
static bool ref_name_valid(const char *s, size_t n)
{
	size_t dots = 0;

	if (n < 1 || n > CSMS_SECRET_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!ref_name_char((unsigned char)s[i]))
			return false;
		dots += s[i] == '.';
	}
	return dots < n;
}

static bool ref_template_ok(const char *t)
{
	size_t n = strlen(t);

	if (n < 1 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '%') {
			if (i + 1 >= n || strchr("ushg%", t[i + 1]) == NULL)
				return false;
			i++;
		} else if (!ref_name_char((unsigned char)t[i])) {
			return false;
		}
	}
	return true;
}

/* A checked template with a %g escape (not "%%g", a percent sign and a g). */
static bool ref_has_group(const char *t)
{
	for (size_t i = 0; t[i] != '\0'; i++) {
		if (t[i] == '%') {
			if (t[i + 1] == 'g')
				return true;
			i++;
		}
	}
	return false;
}

/* The expansion of a checked template, without any cap; malloc'd. */
static char *ref_expand(const char *t, const char *user, const char *service, const char *host,
			const char *group, size_t *len)
{
	const char *u = user ? user : "", *s = service ? service : "", *h = host ? host : "";
	const char *g = group ? group : "";
	size_t cap = strlen(t) * (strlen(u) + strlen(s) + strlen(h) + strlen(g) + 1) + 1, n = 0;
	char *out = malloc(cap);

	if (out == NULL)
		abort();
	for (size_t i = 0; t[i] != '\0'; i++) {
		const char *piece = t + i;
		size_t pl = 1;

		if (t[i] == '%') {
			i++;
			piece = t[i] == 'u'   ? u
				: t[i] == 's' ? s
				: t[i] == 'h' ? h
				: t[i] == 'g' ? g
					      : "%";
			pl = strlen(piece);
		}
		memcpy(out + n, piece, pl);
		n += pl;
	}
	out[n] = '\0';
	*len = n;
	return out;
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void check_expand(const char *tmpl, const char *user, const char *service, const char *host,
			 const char *group)
{
	const struct csms_name_parts parts = { user, service, host, group };
	const size_t outlen = CSMS_SECRET_SHOW_MAX + 1; /* the smallest buffer allowed */
	char err[CSMS_ERRLEN], *out = malloc(outlen), *ref;
	bool tmpl_ok;
	size_t ref_len, n;
	int trc, rc;

	if (out == NULL)
		abort();
	trc = csms_secret_template_check(tmpl, err, sizeof(err));
	tmpl_ok = ref_template_ok(tmpl);
	FUZZ_CHECK((trc == 0) == tmpl_ok);
	FUZZ_CHECK(trc == 0 || memchr(err, '\0', sizeof(err)) != NULL);

	memset(out, FILL, outlen);
	rc = csms_secret_name_expand(tmpl, &parts, out, outlen);
	if (!tmpl_ok) {
		/* never reached in production (config checks the template); memory safety only */
		free(out);
		return;
	}
	FUZZ_CHECK(memchr(out, '\0', outlen) != NULL);
	n = strlen(out);
	FUZZ_CHECK(n <= CSMS_SECRET_SHOW_MAX);
	if (group == NULL && ref_has_group(tmpl)) {
		FUZZ_CHECK(rc == -ENOENT);
		rc = -EINVAL; /* out still shows the expansion, the group as nothing */
	}
	ref = ref_expand(tmpl, user, service, host, group, &ref_len);
	FUZZ_CHECK((rc == 0) ==
		   (ref_name_valid(ref, ref_len) && !(group == NULL && ref_has_group(tmpl))));
	if (rc == 0) {
		FUZZ_CHECK(n == ref_len && memcmp(out, ref, n) == 0);
		FUZZ_CHECK(ref_name_valid(out, n));
	} else {
		FUZZ_CHECK(rc < 0);
		FUZZ_CHECK(n == (ref_len < CSMS_SECRET_SHOW_MAX ? ref_len : CSMS_SECRET_SHOW_MAX));
		FUZZ_CHECK(memcmp(out, ref, n) == 0);
	}
	free(ref);
	free(out);
}

/* "%u" must be the identity on valid names and reject everything else: injective. */
static void check_user_identity(const char *user)
{
	char out[CSMS_SECRET_SHOW_MAX + 1];
	size_t ul = user ? strlen(user) : 0;
	const struct csms_name_parts parts = { user, "svc", "host", "grp" };
	int rc = csms_secret_name_expand("%u", &parts, out, sizeof(out));

	FUZZ_CHECK((rc == 0) == ref_name_valid(user ? user : "", ul));
	FUZZ_CHECK(csms_secret_name_valid(user ? user : "", ul) == (rc == 0));
	if (rc == 0)
		FUZZ_CHECK(user != NULL && strcmp(out, user) == 0);
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void check_escape(const uint8_t *src, size_t srclen, size_t dstlen, size_t max_in)
{
	size_t alloc = dstlen + GUARD, o, k = 0;
	char *dst = malloc(alloc);
	uint8_t *dec = malloc(dstlen + 1);
	bool full, cut;

	if (dst == NULL || dec == NULL)
		abort();
	memset(dst, FILL, alloc);
	o = csms_log_escape(dst, dstlen, (const char *)src, srclen, max_in);
	for (size_t i = dstlen; i < alloc; i++)
		FUZZ_CHECK((unsigned char)dst[i] == FILL);
	if (dstlen == 0) {
		FUZZ_CHECK(o == 0);
		goto out;
	}
	FUZZ_CHECK(o < dstlen && dst[o] == '\0' && strlen(dst) == o);
	if (dstlen < 8) {
		FUZZ_CHECK(o == 0);
		goto out;
	}
	for (size_t i = 0; i < o; i++) {
		unsigned char c = (unsigned char)dst[i];

		FUZZ_CHECK(c >= 0x21 && c <= 0x7e && c != '"' && c != '\'' && c != '=');
		if (c == '\\') {
			int hi, lo;

			FUZZ_CHECK(i + 3 < o && dst[i + 1] == 'x');
			hi = unhex(dst[i + 2]);
			lo = unhex(dst[i + 3]);
			FUZZ_CHECK(hi >= 0 && lo >= 0);
			dec[k++] = (uint8_t)(hi * 16 + lo);
			i += 3;
		} else {
			dec[k++] = c;
		}
	}
	full = k == srclen && (k == 0 || memcmp(dec, src, k) == 0);
	cut = k >= 3 && memcmp(dec + k - 3, "...", 3) == 0 && k - 3 < srclen && k - 3 <= max_in &&
	      (k == 3 || memcmp(dec, src, k - 3) == 0);
	FUZZ_CHECK(full || cut);
	if (srclen > max_in)
		FUZZ_CHECK(cut);
	if (srclen <= max_in && srclen <= (dstlen - 4) / 4)
		FUZZ_CHECK(full); /* room for every byte escaped: nothing may be cut */
out:
	free(dec);
	free(dst);
}

static void check_token(const uint8_t *tok, size_t len)
{
	char err[CSMS_ERRLEN + GUARD];
	bool ok = len >= CSMS_TOKEN_MIN && len <= CSMS_TOKEN_MAX;
	int rc;

	for (size_t i = 0; ok && i < len; i++)
		ok = tok[i] >= 0x21 && tok[i] <= 0x7e;
	memset(err, FILL, sizeof(err));
	rc = csms_token_validate((const char *)tok, len, err, CSMS_ERRLEN);
	FUZZ_CHECK((rc == 0) == ok);
	for (size_t i = CSMS_ERRLEN; i < sizeof(err); i++)
		FUZZ_CHECK((unsigned char)err[i] == FILL);
	if (rc != 0)
		FUZZ_CHECK(memchr(err, '\0', CSMS_ERRLEN) != NULL && err[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[NPARTS] = { NULL };
	size_t off = 0, np = 0;

	if (size > (size_t)1024 * 1024)
		return -1;
	while (np < NPARTS && (np == 0 || off <= size)) {
		const uint8_t *nul = off < size ? memchr(data + off, '\0', size - off) : NULL;
		size_t n = nul ? (size_t)(nul - (data + off)) : size - off;

		part[np++] = dup_bytes(data + off, n);
		off += n + 1;
		if (nul == NULL)
			break;
	}

	check_expand(part[0], part[1], part[2], part[3], part[4]);
	check_user_identity(part[1]);
	for (size_t i = 0; i < np; i++)
		FUZZ_CHECK(csms_secret_name_valid(part[i], strlen(part[i])) ==
			   ref_name_valid(part[i], strlen(part[i])));

	/* the log escaper over the raw input: the cut sizes verdict.c uses, and edge sizes */
	check_escape(data, size, 0, SIZE_MAX);
	check_escape(data, size, 1, SIZE_MAX);
	check_escape(data, size, 7, SIZE_MAX);
	check_escape(data, size, 8, SIZE_MAX);
	check_escape(data, size, 9, 1);
	check_escape(data, size, 16, 0);
	check_escape(data, size, 64, 16);
	check_escape(data, size, (size_t)256 * 4 + 8, 256);
	check_escape(data, size, 8 + (size * 7) % 97, size % 13);
	check_escape(data, size, 4 * size + 4, size);

	/* the token check over the raw input and over each part */
	check_token(data, size);
	for (size_t i = 0; i < np; i++)
		check_token((const uint8_t *)part[i], strlen(part[i]));

	for (size_t i = 0; i < np; i++)
		free(part[i]);
	return 0;
}
