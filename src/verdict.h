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

/* What one secret of a check came to. */
struct csms_secret_result {
	char name[CSMS_SECRET_SHOW_MAX + 1]; /* as expanded (also when invalid) */
	enum csms_decision decision;
	enum csms_reason reason;
	enum csms_source source;
	struct csms_answer answer; /* what CSMS said (now or before), when it said anything */
	long http;                 /* 0: no HTTP status */
	char request_id[CSMS_REQUEST_ID_MAX + 1];
	int attempts;
	char detail[CSMS_ERRLEN]; /* a one-line explanation; never a credential */
	char *metadata_json;      /* its metadata (csms-check --json) */
};

/* What a check decided, from its secrets: the first that denies, or the first that could
 * not be answered, decides; all must be ENABLED to permit. */
struct csms_verdict {
	enum csms_decision decision;
	enum csms_reason reason;
	enum csms_source source;
	/* the secrets checked, comma-separated; empty when no name was formed */
	char secret[(CSMS_SECRET_SHOW_MAX + 1) * CSMS_SECRETS_MAX];
	struct csms_answer answer; /* the deciding secret's */
	long http;                 /* the deciding secret's; 0: no HTTP status */
	char request_id[CSMS_REQUEST_ID_MAX + 1];
	int attempts; /* every secret's */
	int64_t ms;
	char detail[CSMS_ERRLEN]; /* a one-line explanation; never a credential */
	char trace[256];          /* per-attempt timings, logged with debug */
	size_t ntemplates;        /* how many the config names: more than one logs decided_by */
	size_t nsecrets;          /* how many were checked (a deny stops the rest) */
	int decided_by;           /* the index of the secret that decided, or -1 */
	struct csms_secret_result secrets[CSMS_SECRETS_MAX];
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
 * attempts ms [decided_by] [detail]; decided_by when the config names several secrets. */
void csms_verdict_format(const struct csms_verdict *v, const char *user, const char *service,
			 char *buf, size_t len);

/* One secret's line for csms-check: secret decision reason state source http request_id
 * attempts [detail]. */
void csms_secret_result_format(const struct csms_secret_result *s, char *buf, size_t len);

/* The same fields as one JSON object (plus "metadata", "decided_by" and "secrets", each with
 * its fields and metadata); malloc'd, NULL on no memory. */
char *csms_verdict_json(const struct csms_verdict *v, const char *user, const char *service);

#endif
