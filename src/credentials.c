/* What a check authenticates with: an IAM token, or an access key pair (a file, or the ECS
 * metadata service's temporary one). No secret here ever reaches a log. */
#include "buildconf.h"

#include "credentials.h"
#include "safefile.h"
#include "token.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void wipe_free(char **p, size_t *len)
{
	if (*p != NULL) {
		explicit_bzero(*p, *len);
		free(*p);
	}
	*p = NULL;
	*len = 0;
}

void csms_credentials_free(struct csms_credentials *c)
{
	csms_token_free(c->token, c->token_len);
	wipe_free(&c->secret_key, &c->secret_key_len);
	wipe_free(&c->security_token, &c->security_token_len);
	explicit_bzero(c, sizeof(*c));
}

bool csms_access_key_valid(const char *s, size_t n)
{
	if (n == 0 || n > CSMS_ACCESS_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9')))
			return false;
	}
	return true;
}

bool csms_printable_valid(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false; /* anything else could split or forge a header */
	return true;
}

static int set_copy(char **slot, size_t *slot_len, const char *s, size_t n)
{
	char *copy = malloc(n + 1);

	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, s, n);
	copy[n] = '\0';
	wipe_free(slot, slot_len);
	*slot = copy;
	*slot_len = n;
	return 0;
}

int csms_credentials_set_secret(struct csms_credentials *c, const char *s, size_t n)
{
	return set_copy(&c->secret_key, &c->secret_key_len, s, n);
}

int csms_credentials_set_security_token(struct csms_credentials *c, const char *s, size_t n)
{
	return set_copy(&c->security_token, &c->security_token_len, s, n);
}

/* The text between s and e without blanks at either end. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

enum { KEY_ACCESS, KEY_SECRET, KEY_TOKEN, NKEYS };

static const char *const key_names[NKEYS] = { "access_key", "secret_key", "security_token" };

/* One "key = value" line of [credentials]. */
static int take_line(struct csms_credentials *c, const char *path, unsigned lineno, const char *s,
		     const char *e, bool seen[NKEYS], char *err, size_t errlen)
{
	const char *eq = memchr(s, '=', (size_t)(e - s)), *k_end, *v;
	int key = -1;
	size_t vl;

	if (eq == NULL) {
		csms_errf(err, errlen, "%s:%u: expected key = value", path, lineno);
		return -EINVAL;
	}
	k_end = eq;
	v = eq + 1;
	trim(&s, &k_end);
	trim(&v, &e);
	vl = (size_t)(e - v);
	for (int i = 0; i < NKEYS; i++)
		if (csms_streq_len(s, (size_t)(k_end - s), key_names[i]))
			key = i;
	if (key < 0) {
		/* named only when it looks like a key: "security_token: <token>" must not echo
		 * the token */
		size_t kl = (size_t)(k_end - s);
		bool plain = kl > 0 && kl <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz_") >= kl;

		csms_errf(err, errlen,
			  "%s:%u: unknown key%s%.*s%s (access_key, secret_key, security_token)",
			  path, lineno, plain ? " '" : "", plain ? (int)kl : 0, s,
			  plain ? "'" : "");
		return -EINVAL;
	}
	if (seen[key]) {
		csms_errf(err, errlen, "%s:%u: %s given twice", path, lineno, key_names[key]);
		return -EINVAL;
	}
	seen[key] = true;
	if (key == KEY_ACCESS) {
		if (!csms_access_key_valid(v, vl)) {
			csms_errf(err, errlen,
				  "%s:%u: access_key must be 1 to %d letters and digits", path,
				  lineno, CSMS_ACCESS_KEY_MAX);
			return -EINVAL;
		}
		memcpy(c->access_key, v, vl);
		c->access_key[vl] = '\0';
		return 0;
	}
	if (!csms_printable_valid(
		    v, vl, key == KEY_SECRET ? CSMS_SECRET_KEY_MAX : CSMS_SECURITY_TOKEN_MAX)) {
		csms_errf(err, errlen,
			  "%s:%u: %s must be 1 to %zu printable characters without spaces", path,
			  lineno, key_names[key],
			  key == KEY_SECRET ? (size_t)CSMS_SECRET_KEY_MAX
					    : CSMS_SECURITY_TOKEN_MAX);
		return -EINVAL;
	}
	if ((key == KEY_SECRET ? csms_credentials_set_secret(c, v, vl)
			       : csms_credentials_set_security_token(c, v, vl)) != 0) {
		csms_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int parse(struct csms_credentials *c, const char *path, const char *buf, size_t len,
		 char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	bool seen[NKEYS] = { false }, in_section = false, had_section = false;
	unsigned lineno = 0;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		const char *s = p, *e = eol;

		lineno++;
		for (const char *q = p; q < eol; q++) {
			if (((unsigned char)*q < 0x20 && *q != '\t') || (unsigned char)*q == 0x7f) {
				csms_errf(err, errlen, "%s:%u: control character 0x%02x", path,
					  lineno, (unsigned char)*q);
				return -EINVAL;
			}
		}
		p = nl ? nl + 1 : end;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			if (!csms_streq_len(s, (size_t)(e - s), "[credentials]") || had_section) {
				csms_errf(err, errlen,
					  "%s:%u: only one [credentials] section is allowed", path,
					  lineno);
				return -EINVAL;
			}
			in_section = had_section = true;
			continue;
		}
		if (!in_section) {
			csms_errf(err, errlen, "%s:%u: put the keys under [credentials]", path,
				  lineno);
			return -EINVAL;
		}
		rc = take_line(c, path, lineno, s, e, seen, err, errlen);
		if (rc != 0)
			return rc;
	}
	if (!seen[KEY_ACCESS] || !seen[KEY_SECRET]) {
		csms_errf(err, errlen, "%s: [credentials] needs access_key and secret_key", path);
		return -EINVAL;
	}
	return 0;
}

int csms_credentials_file_read(const char *path, struct csms_credentials *c, char *err,
			       size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	c->kind = CSMS_AUTH_AKSK;
	rc = csms_file_read(path, CSMS_CREDENTIALS_FILE_MAX, CSMS_FILE_SECRET, &buf, &len, err,
			    errlen);
	if (rc != 0)
		return rc;
	rc = parse(c, path, buf, len, err, errlen);
	explicit_bzero(buf, len);
	free(buf);
	if (rc != 0) {
		csms_credentials_free(c);
		c->kind = CSMS_AUTH_AKSK;
		return rc;
	}
	csms_errf(c->source, sizeof(c->source), "credentials_file %s", path);
	return 0;
}
