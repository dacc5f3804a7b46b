/* The IAM token file: one line, sent as X-Auth-Token, re-read at every check. */
#ifndef CSMS_TOKEN_H
#define CSMS_TOKEN_H

#include <stddef.h>

#define CSMS_TOKEN_MIN 16
#define CSMS_TOKEN_MAX ((size_t)64 * 1024)

/* Check a token held in memory: 16..CSMS_TOKEN_MAX bytes of 0x21..0x7e. 0 or -EINVAL. */
int csms_token_validate(const char *tok, size_t len, char *err, size_t errlen);

/*
 * Read and validate the token file (0600/0400, owned by root or the euid). One trailing
 * "\n" is allowed ("\r\n" leaves a CR, a control character, and is refused). On success
 * *tok is a NUL-terminated heap copy that the caller releases with csms_token_free().
 * Returns 0 or a negative errno.
 */
int csms_token_read(const char *path, char **tok, size_t *len, char *err, size_t errlen);

void csms_token_free(char *tok, size_t len);

#endif
