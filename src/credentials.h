/* What a check authenticates with: an IAM token, or an access key pair (a file, or the ECS
 * metadata service's temporary one). No secret here ever reaches a log. */
#ifndef CSMS_CREDENTIALS_H
#define CSMS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CSMS_CREDENTIALS_FILE_MAX ((size_t)64 * 1024)
#define CSMS_ACCESS_KEY_MAX 128
#define CSMS_SECRET_KEY_MAX 256
#define CSMS_SECURITY_TOKEN_MAX ((size_t)32 * 1024)
#define CSMS_PROJECT_ID_MAX 64

struct csms_credentials {
	enum csms_auth kind;
	char *token; /* auth=token */
	size_t token_len;
	char access_key[CSMS_ACCESS_KEY_MAX + 1]; /* auth=aksk and metadata */
	char *secret_key;
	size_t secret_key_len;
	char *security_token; /* temporary credentials: sent and signed as X-Security-Token */
	size_t security_token_len;
	int64_t expires_ms; /* temporary credentials: their expiry (wall clock), else 0 */
	int64_t asked_ms;   /* metadata: when the service last gave them */
	char project_id[CSMS_PROJECT_ID_MAX + 1]; /* metadata: meta_data.json's, when asked */
	char source[160]; /* where they came from, for detail= and --doctor */
};

/* Wipe every secret and free it; the struct may be zero-initialised or half-filled. */
void csms_credentials_free(struct csms_credentials *c);

/*
 * Read credentials_file: an INI file with one [credentials] section holding access_key,
 * secret_key and optionally security_token (the token file's checks: 0600 or 0400, owned by
 * root or the euid, one link, no symlink). Anything else in it, a key twice, a value with a
 * space or control byte or out of bounds, is an error naming the file and the line, never
 * a value. Returns 0, -ENOMEM, or another negative errno with the reason in err.
 */
int csms_credentials_file_read(const char *path, struct csms_credentials *c, char *err,
			       size_t errlen);

/* An access key id [A-Za-z0-9]{1,128}, a secret key or token: 1 to max bytes of 0x21-0x7e. */
bool csms_access_key_valid(const char *s, size_t n);
bool csms_printable_valid(const char *s, size_t n, size_t max);

/* Fill c->secret_key / c->security_token with copies of s[0..n). 0 or -ENOMEM. */
int csms_credentials_set_secret(struct csms_credentials *c, const char *s, size_t n);
int csms_credentials_set_security_token(struct csms_credentials *c, const char *s, size_t n);

#endif
