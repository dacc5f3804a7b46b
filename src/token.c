/* The IAM token file: one line, sent as X-Auth-Token, re-read at every check. */
#include "buildconf.h"

#include "token.h"
#include "safefile.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int csms_token_validate(const char *tok, size_t len, char *err, size_t errlen)
{
	if (len < CSMS_TOKEN_MIN) {
		csms_errf(err, errlen, "token shorter than %d bytes", CSMS_TOKEN_MIN);
		return -EINVAL;
	}
	if (len > CSMS_TOKEN_MAX) {
		csms_errf(err, errlen, "token longer than %zu bytes", CSMS_TOKEN_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];

		/* Anything else could split or forge an HTTP header. */
		if (c < 0x21 || c > 0x7e) {
			csms_errf(err, errlen,
				  "token contains a space, control or non-ASCII byte at offset %zu",
				  i);
			return -EINVAL;
		}
	}
	return 0;
}

int csms_token_read(const char *path, char **tok, size_t *len, char *err, size_t errlen)
{
	char *buf = NULL, why[CSMS_ERRLEN];
	size_t n = 0, got;
	int rc;

	*tok = NULL;
	*len = 0;
	rc = csms_file_read(path, CSMS_TOKEN_MAX + 2, CSMS_FILE_SECRET, &buf, &n, err, errlen);
	if (rc != 0)
		return rc;
	got = n;
	/* one trailing newline; a CR is a control character like any other */
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	rc = csms_token_validate(buf, n, why, sizeof(why));
	if (rc != 0) {
		csms_errf(err, errlen, "%s: %s", path, why);
		csms_token_free(buf, got);
		return rc;
	}
	buf[n] = '\0';
	*tok = buf;
	*len = n;
	return 0;
}

void csms_token_free(char *tok, size_t len)
{
	if (tok == NULL)
		return;
	explicit_bzero(tok, len);
	free(tok);
}
