/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): cache names and request signatures, with
 * no crypto library to load in every login. */
#ifndef CSMS_SHA256_H
#define CSMS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CSMS_SHA256_LEN 32

struct csms_sha256 {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char buf[64];
	size_t used;
};

void csms_sha256_init(struct csms_sha256 *c);
void csms_sha256_update(struct csms_sha256 *c, const void *data, size_t len);
void csms_sha256_final(struct csms_sha256 *c, unsigned char out[CSMS_SHA256_LEN]);

/* csms_sha256_final as 64 lowercase hex digits and a NUL. */
void csms_sha256_final_hex(struct csms_sha256 *c, char out[2 * CSMS_SHA256_LEN + 1]);

/* The hash of data, as csms_sha256_final_hex gives it. */
void csms_sha256_hex(const void *data, size_t len, char out[2 * CSMS_SHA256_LEN + 1]);

/* HMAC-SHA256 of msg under key (any length), as 64 lowercase hex digits and a NUL. */
void csms_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
			  char out[2 * CSMS_SHA256_LEN + 1]);

#endif
