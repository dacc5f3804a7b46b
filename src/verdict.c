/* What a check decided, why, and how that reads in the one log line. */
#include "buildconf.h"

#include "verdict.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX_IN 256
#define SECRETS_MAX_IN (CSMS_SECRETS_MAX * (CSMS_SECRET_NAME_MAX + 1))

void csms_verdict_init(struct csms_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->decision = CSMS_DECISION_DENY;
	v->reason = CSMS_REASON_CONFIG;
	v->source = CSMS_SOURCE_NONE;
	v->decided_by = -1;
	for (size_t i = 0; i < CSMS_SECRETS_MAX; i++) {
		v->secrets[i].decision = CSMS_DECISION_DENY;
		v->secrets[i].reason = CSMS_REASON_CONFIG;
	}
}

void csms_verdict_free(struct csms_verdict *v)
{
	for (size_t i = 0; i < CSMS_SECRETS_MAX; i++) {
		free(v->secrets[i].metadata_json);
		v->secrets[i].metadata_json = NULL;
	}
}

void csms_verdict_set_error(struct csms_verdict *v, int rc, const char *detail)
{
	v->decision = CSMS_DECISION_ERROR;
	v->reason = rc == -ENOMEM ? CSMS_REASON_MEMORY : CSMS_REASON_CONFIG;
	v->source = CSMS_SOURCE_NONE;
	csms_strlcpy(v->detail, detail ? detail : "", sizeof(v->detail));
}

const char *csms_decision_name(enum csms_decision d)
{
	switch (d) {
	case CSMS_DECISION_PERMIT:
		return "permit";
	case CSMS_DECISION_DENY:
		return "deny";
	case CSMS_DECISION_IGNORE:
		return "ignore";
	case CSMS_DECISION_BYPASS:
		return "bypass";
	case CSMS_DECISION_UNAVAILABLE:
		return "unavailable";
	case CSMS_DECISION_FAIL_OPEN:
		return "fail_open";
	case CSMS_DECISION_ERROR:
		return "error";
	}
	return "error";
}

const char *csms_reason_name(enum csms_reason r)
{
	static const char *const names[] = {
		[CSMS_REASON_STATE] = "state",
		[CSMS_REASON_NOT_FOUND] = "not_found",
		[CSMS_REASON_INVALID_NAME] = "invalid_name",
		[CSMS_REASON_BYPASS] = "bypass",
		[CSMS_REASON_NETWORK] = "network",
		[CSMS_REASON_TLS] = "tls",
		[CSMS_REASON_TIMEOUT] = "timeout",
		[CSMS_REASON_HTTP] = "http",
		[CSMS_REASON_THROTTLED] = "throttled",
		[CSMS_REASON_CREDENTIALS_REJECTED] = "credentials_rejected",
		[CSMS_REASON_BAD_RESPONSE] = "bad_response",
		[CSMS_REASON_CONFIG] = "config",
		[CSMS_REASON_CREDENTIALS] = "credentials",
		[CSMS_REASON_MEMORY] = "memory",
	};

	if ((size_t)r < sizeof(names) / sizeof(names[0]) && names[r] != NULL)
		return names[r];
	return "config";
}

const char *csms_source_name(enum csms_source s)
{
	switch (s) {
	case CSMS_SOURCE_API:
		return "api";
	case CSMS_SOURCE_CACHE:
		return "cache";
	case CSMS_SOURCE_STALE:
		return "stale";
	case CSMS_SOURCE_NONE:
		break;
	}
	return "none";
}

size_t csms_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen, size_t max_in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	if (dstlen < 8) {
		if (dstlen > 0)
			dst[0] = '\0';
		return 0;
	}
	for (i = 0; i < srclen && i < max_in; i++) {
		unsigned char c = (unsigned char)src[i];
		/* '=' too: a user named "decision=permit" must not make a second field */
		bool plain = c > 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '\\' && c != '=';

		if (o + (plain ? 1 : 4) + 3 >= dstlen) /* keep room for the cut mark */
			break;
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	if (i < srclen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return o;
}

static bool has_state(const struct csms_answer *a)
{
	return !a->missing && a->kind == CSMS_STATE_STRING;
}

static void put_field_len(char *buf, size_t len, size_t *off, const char *key, const char *value,
			  size_t vlen)
{
	char esc[SECRETS_MAX_IN * 4 + 8];
	int n;

	if (*off >= len)
		return;
	if (value == NULL || vlen == 0)
		csms_strlcpy(esc, "-", sizeof(esc));
	else
		/* every other field is cut at 256 bytes; eight names take more */
		csms_log_escape(esc, sizeof(esc), value, vlen,
				strcmp(key, "secret") == 0 ? SECRETS_MAX_IN : FIELD_MAX_IN);
	n = snprintf(buf + *off, len - *off, "%s%s=%s", *off ? " " : "", key, esc);
	if (n > 0)
		*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

static void put_field(char *buf, size_t len, size_t *off, const char *key, const char *value)
{
	put_field_len(buf, len, off, key, value, value ? strlen(value) : 0);
}

/* The fields one secret's result and the whole check's share, from state to attempts. */
static void put_outcome(char *buf, size_t len, size_t *off, const struct csms_answer *a,
			enum csms_source source, long http, const char *request_id, int attempts)
{
	char num[32];

	put_field_len(buf, len, off, "state", has_state(a) ? a->state : NULL, a->state_len);
	put_field(buf, len, off, "source", csms_source_name(source));
	snprintf(num, sizeof(num), "%ld", http);
	put_field(buf, len, off, "http", http ? num : NULL);
	put_field(buf, len, off, "request_id", request_id);
	snprintf(num, sizeof(num), "%d", attempts);
	put_field(buf, len, off, "attempts", num);
}

void csms_verdict_format(const struct csms_verdict *v, const char *user, const char *service,
			 char *buf, size_t len)
{
	char num[32];
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	put_field(buf, len, &off, "decision", csms_decision_name(v->decision));
	put_field(buf, len, &off, "reason", csms_reason_name(v->reason));
	put_field(buf, len, &off, "user", user);
	put_field(buf, len, &off, "service", service);
	put_field(buf, len, &off, "secret", v->secret);
	put_outcome(buf, len, &off, &v->answer, v->source, v->http, v->request_id, v->attempts);
	snprintf(num, sizeof(num), "%lld", (long long)v->ms);
	put_field(buf, len, &off, "ms", num);
	if (v->ntemplates > 1)
		put_field(buf, len, &off, "decided_by",
			  v->decided_by >= 0 ? v->secrets[v->decided_by].name : NULL);
	if (v->detail[0] != '\0')
		put_field(buf, len, &off, "detail", v->detail);
}

void csms_secret_result_format(const struct csms_secret_result *s, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	put_field(buf, len, &off, "secret", s->name);
	put_field(buf, len, &off, "decision", csms_decision_name(s->decision));
	put_field(buf, len, &off, "reason", csms_reason_name(s->reason));
	put_outcome(buf, len, &off, &s->answer, s->source, s->http, s->request_id, s->attempts);
	if (s->detail[0] != '\0')
		put_field(buf, len, &off, "detail", s->detail);
}

/*
 * A JSON string for bytes from anywhere (a user name, a header): JSON text must be UTF-8,
 * so each byte that is not part of a well-formed sequence is written as the four
 * characters \xHH, as in the log line. NULL for NULL.
 */
static struct json_object *json_bytes(const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	struct json_object *o;
	char *buf;
	size_t o_len = 0;

	if (s == NULL)
		return NULL;
	buf = malloc(n * 4 + 1);
	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = csms_utf8_seq(s + i, n - i);

		/* a backslash too, so that \xHH always means a byte and never the text */
		if (k == 0 || s[i] == '\\') {
			buf[o_len++] = '\\';
			buf[o_len++] = 'x';
			buf[o_len++] = hex[(unsigned char)s[i] >> 4];
			buf[o_len++] = hex[(unsigned char)s[i] & 0xf];
			i++;
		} else {
			memcpy(buf + o_len, s + i, k);
			o_len += k;
			i += k;
		}
	}
	o = json_object_new_string_len(buf, (int)o_len);
	free(buf);
	return o;
}

static int add_bytes(struct json_object *o, const char *key, const char *value, size_t len)
{
	struct json_object *s = json_bytes(value, len);

	if (value != NULL && s == NULL)
		return -ENOMEM;
	return json_object_object_add(o, key, s) == 0 ? 0 : -ENOMEM;
}

static int add_str(struct json_object *o, const char *key, const char *value)
{
	return add_bytes(o, key, value, value != NULL ? strlen(value) : 0);
}

/* Metadata (JSON text json-c wrote) as an object again, or JSON null. */
static int add_metadata(struct json_object *o, const char *metadata_json)
{
	struct json_object *meta = metadata_json != NULL ? json_tokener_parse(metadata_json) : NULL;

	return json_object_object_add(o, "metadata", meta) == 0 ? 0 : -ENOMEM;
}

static int add_outcome(struct json_object *o, const struct csms_answer *a, enum csms_source src,
		       long http, const char *request_id, int attempts, const char *detail)
{
	int rc = 0;

	rc |= add_bytes(o, "state", has_state(a) ? a->state : NULL, a->state_len);
	rc |= add_str(o, "source", csms_source_name(src));
	rc |= json_object_object_add(o, "http", http ? json_object_new_int64(http) : NULL);
	rc |= add_str(o, "request_id", request_id[0] ? request_id : NULL);
	rc |= json_object_object_add(o, "attempts", json_object_new_int(attempts));
	rc |= add_str(o, "detail", detail[0] ? detail : NULL);
	return rc;
}

static struct json_object *secret_json(const struct csms_secret_result *s)
{
	struct json_object *o = json_object_new_object();
	int rc = 0;

	if (o == NULL)
		return NULL;
	rc |= add_str(o, "name", s->name);
	rc |= add_str(o, "decision", csms_decision_name(s->decision));
	rc |= add_str(o, "reason", csms_reason_name(s->reason));
	rc |= add_outcome(o, &s->answer, s->source, s->http, s->request_id, s->attempts, s->detail);
	rc |= add_metadata(o, s->metadata_json);
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *csms_verdict_json(const struct csms_verdict *v, const char *user, const char *service)
{
	struct json_object *o = json_object_new_object(), *list = json_object_new_array();
	const struct csms_secret_result *decider = v->decided_by >= 0 ? &v->secrets[v->decided_by]
								      : NULL;
	char *out = NULL;
	int rc = 0;

	if (o == NULL || list == NULL) {
		json_object_put(o);
		json_object_put(list);
		return NULL;
	}
	rc |= add_str(o, "decision", csms_decision_name(v->decision));
	rc |= add_str(o, "reason", csms_reason_name(v->reason));
	rc |= add_str(o, "user", user);
	rc |= add_str(o, "service", service);
	rc |= add_str(o, "secret", v->secret[0] ? v->secret : NULL);
	rc |= add_outcome(o, &v->answer, v->source, v->http, v->request_id, v->attempts, v->detail);
	rc |= json_object_object_add(o, "ms", json_object_new_int64(v->ms));
	rc |= add_str(o, "decided_by", decider != NULL ? decider->name : NULL);
	/* one secret: its metadata; several: each in "secrets" */
	rc |= add_metadata(o,
			   v->ntemplates == 1 && decider != NULL ? decider->metadata_json : NULL);
	for (size_t i = 0; i < v->nsecrets; i++) {
		struct json_object *s = secret_json(&v->secrets[i]);

		rc |= s == NULL || json_object_array_add(list, s) != 0 ? -ENOMEM : 0;
	}
	rc |= json_object_object_add(o, "secrets", list);
	if (rc == 0) {
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

		out = s ? strdup(s) : NULL;
	}
	json_object_put(o);
	return out;
}
