/* Reading ShowSecret replies strictly: exactly one JSON object, types checked, lengths compared. */
#ifndef CSMS_RESPONSE_H
#define CSMS_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#define CSMS_BODY_MAX ((size_t)64 * 1024)
#define CSMS_STATE_MAX 32

enum csms_state_kind {
	CSMS_STATE_STRING, /* state holds the value (cut at CSMS_STATE_MAX for the log) */
	CSMS_STATE_ABSENT,
	CSMS_STATE_NOT_STRING,
};

struct csms_secret_info {
	enum csms_state_kind kind;
	char state[CSMS_STATE_MAX + 1];
	size_t state_len;    /* may hold NUL bytes: json-c keeps \u0000 */
	bool enabled;        /* the state is exactly the 7 bytes "ENABLED" */
	char *metadata_json; /* the secret object re-serialised, when asked for; free() it */
};

/*
 * Parse a 200 body for secret `want`. Returns 0 when the body is exactly one JSON object
 * (whitespace around it allowed) whose "secret" is an object with "name" equal to `want`;
 * otherwise -EBADMSG with the reason in err. with_metadata fills metadata_json.
 */
int csms_response_parse_secret(const char *body, size_t len, const char *want, bool with_metadata,
			       struct csms_secret_info *out, char *err, size_t errlen);

/*
 * Find the error code of an error body: "error_code" at the top, or "code" inside an
 * "error" object. Returns 0 and copies it into code, or -ENOENT.
 */
int csms_response_error_code(const char *body, size_t len, char *code, size_t codelen);

/* Content-Type is application/json, in any case, with or without parameters. */
bool csms_content_type_is_json(const char *ct);

#endif
