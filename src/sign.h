/* Huawei Cloud's SDK-HMAC-SHA256 request signature (the API gateway's AK/SK scheme). */
#ifndef CSMS_SIGN_H
#define CSMS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define CSMS_SIGN_ALGORITHM "SDK-HMAC-SHA256"
/* X-Sdk-Date: YYYYMMDDTHHMMSSZ, UTC */
#define CSMS_SIGN_DATE_LEN 16
#define CSMS_SIGN_MAX_HEADERS 16
#define CSMS_SIGN_MAX_PARAMS 32
/* How far X-Sdk-Date may be from the gateway's clock before it refuses the signature. */
#define CSMS_SIGN_SKEW_MAX_S ((int64_t)15 * 60)

struct csms_sign_header {
	const char *name;  /* any case: signed in lower case */
	const char *value; /* signed with leading and trailing blanks trimmed */
};

struct csms_sign_param {
	const char *key; /* decoded: the signer escapes key and value */
	const char *value;
};

/* One request as the gateway will see it. Every header in `headers` is signed, so it must
 * be sent exactly so (the Host header included). */
struct csms_sign_request {
	const char *method;
	const char *path; /* decoded segments, "/v1/p/secrets/x": each is escaped */
	const struct csms_sign_param *params;
	size_t nparams;
	const struct csms_sign_header *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
};

/*
 * The canonical request: METHOD, the escaped path with a trailing "/", the sorted escaped
 * query, "name:value\n" per signed header in name order, the signed header names joined by
 * ";", and the hex SHA-256 of the body, joined by "\n". Into buf (NUL-terminated); returns
 * 0, -EINVAL for a request that cannot be signed (too many or repeated headers, a header
 * name or value with a control byte), -ENOSPC when buf is too small.
 */
int csms_sign_canonical_request(const struct csms_sign_request *rq, char *buf, size_t len);

/* "SDK-HMAC-SHA256\n" date "\n" hex(SHA-256(canonical request)), into buf (>= 100 bytes). */
int csms_sign_string_to_sign(const struct csms_sign_request *rq, const char *date, char *buf,
			     size_t len);

/*
 * The Authorization header value, "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b,
 * Signature=hex", for the request signed with the secret key sk at `date` (the value of
 * the request's X-Sdk-Date header). Returns 0, -EINVAL or -ENOSPC as above. Nothing derived
 * from sk stays in memory.
 */
int csms_sign_authorization(const char *ak, const char *sk, size_t sk_len, const char *date,
			    const struct csms_sign_request *rq, char *buf, size_t len);

/* The X-Sdk-Date value for `when` (seconds since the epoch), UTC. */
void csms_sign_date(int64_t when, char out[CSMS_SIGN_DATE_LEN + 1]);

#endif
