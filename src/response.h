/* Reading ShowSecret replies strictly: exactly one JSON object, types checked, lengths compared. */
#ifndef CSMS_RESPONSE_H
#define CSMS_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CSMS_BODY_MAX ((size_t)64 * 1024)
#define CSMS_STATE_MAX 32

enum csms_state_kind {
	CSMS_STATE_ABSENT, /* the zero value: no state known */
	CSMS_STATE_STRING, /* state holds the value (cut at CSMS_STATE_MAX for the log) */
	CSMS_STATE_NOT_STRING,
};

/* What CSMS said about one secret: that there is none, or what its state is. The reply, a
 * cache entry and a verdict each hold one of these. */
struct csms_answer {
	bool missing;              /* the secret does not exist; nothing below is set */
	enum csms_state_kind kind; /* of the secret's "state" member */
	char state[CSMS_STATE_MAX + 1];
	size_t state_len; /* may hold NUL bytes: json-c keeps \u0000 */
};

/* The one test that lets anyone in: the secret exists and its state is exactly the 7 bytes
 * "ENABLED" (compared by length: no prefix, no case, no embedded NUL). */
bool csms_answer_enabled(const struct csms_answer *a);

/*
 * Parse a 200 body for secret `want`. Returns 0 when the body is exactly one JSON object
 * (whitespace around it allowed) whose "secret" is an object with "name" equal to `want`,
 * and fills *out; otherwise -EBADMSG with the reason in err, or -ENOMEM (a fault of this
 * host, not of the reply). A non-NULL metadata_json gets the secret object re-serialised
 * (free() it).
 */
int csms_response_parse_secret(const char *body, size_t len, const char *want,
			       struct csms_answer *out, char **metadata_json, char *err,
			       size_t errlen);

/*
 * Find the error code of an error body: "error_code" at the top, or "code" inside an
 * "error" object. Returns 0 and copies it into code, -ENOENT, or -ENOMEM.
 */
int csms_response_error_code(const char *body, size_t len, char *code, size_t codelen);

/*
 * The same, and the error's message ("error_msg" beside "error_code", or "message" beside
 * "code") into msg, cut to fit; "" when there is none.
 */
int csms_response_error(const char *body, size_t len, char *code, size_t codelen, char *msg,
			size_t msglen);

/*
 * What a 401 or 403 means, for the log: "HTTP 401 APIGW.0301: unknown access key: ...",
 * from the error's message (an unknown access key, a signature that does not verify, an
 * expired request, a security token or IAM token refused), and when the server's Date is
 * more than 15 minutes from `now` (seconds), that the host clock is wrong and by how much.
 * The gateway's own words are never copied: for a bad signature they echo the canonical
 * request, security token and all.
 */
void csms_response_rejection(long status, const char *body, size_t len, const char *date,
			     int64_t now, char *out, size_t outlen);

/* Content-Type is application/json, in any case, with or without parameters. */
bool csms_content_type_is_json(const char *ct);

#endif
