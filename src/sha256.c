/* SHA-256 (FIPS 180-4), for naming cache entries; small enough to carry, no crypto library. */
#include "buildconf.h"

#include "sha256.h"

#include <string.h>

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void block(struct csms_sha256 *c, const unsigned char *p)
{
	uint32_t w[64], s[8];

	for (size_t i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(s, c->h, sizeof(s));
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ror(s[4], 6) ^ ror(s[4], 11) ^ ror(s[4], 25);
		uint32_t ch = (s[4] & s[5]) ^ (~s[4] & s[6]);
		uint32_t t1 = s[7] + S1 + ch + K[i] + w[i];
		uint32_t S0 = ror(s[0], 2) ^ ror(s[0], 13) ^ ror(s[0], 22);
		uint32_t maj = (s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]);

		memmove(s + 1, s, 7 * sizeof(s[0]));
		s[4] += t1;
		s[0] = t1 + S0 + maj;
	}
	for (int i = 0; i < 8; i++)
		c->h[i] += s[i];
}

void csms_sha256_init(struct csms_sha256 *c)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memset(c, 0, sizeof(*c));
	memcpy(c->h, iv, sizeof(iv));
}

void csms_sha256_update(struct csms_sha256 *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	c->bytes += len;
	while (len > 0) {
		size_t n = sizeof(c->buf) - c->used;

		if (n > len)
			n = len;
		memcpy(c->buf + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		if (c->used == sizeof(c->buf)) {
			block(c, c->buf);
			c->used = 0;
		}
	}
}

void csms_sha256_final(struct csms_sha256 *c, unsigned char out[CSMS_SHA256_LEN])
{
	uint64_t bits = c->bytes * 8;
	unsigned char pad = 0x80, len[8];

	csms_sha256_update(c, &pad, 1);
	pad = 0;
	while (c->used != 56)
		csms_sha256_update(c, &pad, 1);
	for (unsigned i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	csms_sha256_update(c, len, sizeof(len));
	for (size_t i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
	memset(c, 0, sizeof(*c));
}

static void to_hex(const unsigned char md[CSMS_SHA256_LEN], char out[2 * CSMS_SHA256_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < CSMS_SHA256_LEN; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[(size_t)2 * CSMS_SHA256_LEN] = '\0';
}

void csms_sha256_final_hex(struct csms_sha256 *c, char out[2 * CSMS_SHA256_LEN + 1])
{
	unsigned char md[CSMS_SHA256_LEN];

	csms_sha256_final(c, md);
	to_hex(md, out);
}

void csms_sha256_hex(const void *data, size_t len, char out[2 * CSMS_SHA256_LEN + 1])
{
	struct csms_sha256 c;

	csms_sha256_init(&c);
	csms_sha256_update(&c, data, len);
	csms_sha256_final_hex(&c, out);
}

void csms_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
			  char out[2 * CSMS_SHA256_LEN + 1])
{
	unsigned char k[64] = { 0 }, pad[64], md[CSMS_SHA256_LEN];
	struct csms_sha256 c;

	if (keylen > sizeof(k)) {
		csms_sha256_init(&c);
		csms_sha256_update(&c, key, keylen);
		csms_sha256_final(&c, k);
	} else {
		memcpy(k, key, keylen);
	}
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	csms_sha256_init(&c);
	csms_sha256_update(&c, pad, sizeof(pad));
	csms_sha256_update(&c, msg, msglen);
	csms_sha256_final(&c, md);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	csms_sha256_init(&c);
	csms_sha256_update(&c, pad, sizeof(pad));
	csms_sha256_update(&c, md, sizeof(md));
	csms_sha256_final(&c, md);
	to_hex(md, out);
	/* the key (a secret key) and what was derived from it go with the stack frame */
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(md, sizeof(md));
}
