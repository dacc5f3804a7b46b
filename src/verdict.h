/* What a check decided, why, and how that reads in the one log line. */
#ifndef CSMS_VERDICT_H
#define CSMS_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "response.h"
#include "secretname.h"
#include "util.h"

enum csms_decision {
	CSMS_DECISION_DENY, /* the zero value: a verdict starts as a denial */
	CSMS_DECISION_PERMIT,
	CSMS_DECISION_IGNORE,
	CSMS_DECISION_BYPASS,
	CSMS_DECISION_UNAVAILABLE,
	CSMS_DECISION_FAIL_OPEN,
	CSMS_DECISION_ERROR,
};

enum csms_reason {
	CSMS_REASON_STATE,
	CSMS_REASON_NOT_FOUND,
	CSMS_REASON_INVALID_NAME,
	CSMS_REASON_BYPASS,
	CSMS_REASON_NETWORK,
	CSMS_REASON_TLS,
	CSMS_REASON_TIMEOUT,
	CSMS_REASON_HTTP,
	CSMS_REASON_THROTTLED,
	CSMS_REASON_CREDENTIALS_REJECTED,
	CSMS_REASON_BAD_RESPONSE,
	CSMS_REASON_CONFIG,
	CSMS_REASON_CREDENTIALS,
	CSMS_REASON_MEMORY,
};

enum csms_source { CSMS_SOURCE_NONE, CSMS_SOURCE_API, CSMS_SOURCE_CACHE, CSMS_SOURCE_STALE };

struct csms_verdict {
	enum csms_decision decision;
	enum csms_reason reason;
	enum csms_source source;
	char secret[CSMS_SECRET_SHOW_MAX + 1]; /* empty when no name was formed */
	struct csms_answer answer; /* what CSMS said (now or before), when it said anything */
	long http;                 /* 0: no HTTP status */
	char request_id[CSMS_REQUEST_ID_MAX + 1];
	int attempts;
	int64_t ms;
	char detail[CSMS_ERRLEN]; /* a one-line explanation; never a credential */
	char trace[256];          /* per-attempt timings, logged with debug */
	char *metadata_json;      /* the secret's metadata (csms-check --json) */
};

void csms_verdict_init(struct csms_verdict *v);
void csms_verdict_free(struct csms_verdict *v);

/* Record a failure that happened before any check: config (or -ENOMEM: memory). */
void csms_verdict_set_error(struct csms_verdict *v, int rc, const char *detail);

const char *csms_decision_name(enum csms_decision d);
const char *csms_reason_name(enum csms_reason r);
const char *csms_source_name(enum csms_source s);

/*
 * Escape for the log: bytes outside printable ASCII, space, quotes and backslash become
 * \xHH. At most `max_in` input bytes are used ("..." marks a cut). Returns bytes written.
 */
size_t csms_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen, size_t max_in);

/* The key=value log line: decision reason user service secret state source http request_id
 * attempts ms [detail]. */
void csms_verdict_format(const struct csms_verdict *v, const char *user, const char *service,
			 char *buf, size_t len);

/* The same fields as one JSON object (plus "metadata"); malloc'd, NULL on no memory. */
char *csms_verdict_json(const struct csms_verdict *v, const char *user, const char *service);

#endif
