/* The check itself: bypass, secret names, credentials, ShowSecret for each, the answers ->
 * one verdict. No PAM here. */
#include "buildconf.h"

#include "decision.h"
#include "cache.h"
#include "credsource.h"
#include "http.h"
#include "response.h"
#include "safefile.h"
#include "secretname.h"
#include "showsecret.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

/* A probe token older than timeout plus this belongs to a check that died. */
#define PROBE_SLACK_MS 5000

static bool is_bypassed(const struct csms_request *rq)
{
	const struct csms_config *cfg = rq->cfg;

	if (rq->user == NULL)
		return false;
	if (csms_list_contains(&cfg->bypass_users, rq->user))
		return true;
	for (size_t i = 0; i < cfg->bypass_groups.n; i++)
		if (rq->in_group != NULL &&
		    rq->in_group(rq->group_ctx, rq->user, cfg->bypass_groups.items[i]) == 1)
			return true;
	return false;
}

/* CSMS could not give an answer: fail_mode decides, never a config error. */
static void cannot_answer(const struct csms_config *cfg, struct csms_secret_result *v,
			  enum csms_reason reason)
{
	v->decision = cfg->fail_mode == CSMS_FAIL_OPEN ? CSMS_DECISION_FAIL_OPEN
						       : CSMS_DECISION_UNAVAILABLE;
	v->reason = reason;
}

static void out_of_memory(struct csms_secret_result *v)
{
	v->decision = CSMS_DECISION_ERROR;
	v->reason = CSMS_REASON_MEMORY;
	csms_strlcpy(v->detail, "out of memory", sizeof(v->detail));
}

/* Append "; text" to detail (or set it). */
static void detail_add_to(char *detail, size_t size, const char *text)
{
	size_t n = strlen(detail);

	if (n == 0)
		csms_strlcpy(detail, text, size);
	else if (n + 2 < size)
		snprintf(detail + n, size - n, "; %s", text);
}

/* What CSMS said (now, or earlier and kept), under today's policy (on_missing). */
static void from_answer(const struct csms_config *cfg, const struct csms_answer *a,
			struct csms_secret_result *v)
{
	v->answer = *a;
	if (a->missing) {
		v->decision = cfg->on_missing == CSMS_MISSING_IGNORE ? CSMS_DECISION_IGNORE
								     : CSMS_DECISION_DENY;
		v->reason = CSMS_REASON_NOT_FOUND;
		return;
	}
	v->reason = CSMS_REASON_STATE;
	v->decision = csms_answer_enabled(a) ? CSMS_DECISION_PERMIT : CSMS_DECISION_DENY;
}

static void from_transport_failure(const struct csms_config *cfg,
				   const struct csms_http_response *resp,
				   struct csms_secret_result *v)
{
	switch (resp->result) {
	case CSMS_HTTP_TLS:
		cannot_answer(cfg, v, CSMS_REASON_TLS);
		break;
	case CSMS_HTTP_TIMEOUT:
		cannot_answer(cfg, v, CSMS_REASON_TIMEOUT);
		break;
	case CSMS_HTTP_TOO_BIG:
	case CSMS_HTTP_TRUNCATED:
		cannot_answer(cfg, v, CSMS_REASON_BAD_RESPONSE);
		break;
	case CSMS_HTTP_PROTOCOL:
		cannot_answer(cfg, v, CSMS_REASON_HTTP);
		break;
	case CSMS_HTTP_CA:
		v->decision = CSMS_DECISION_ERROR;
		v->reason = CSMS_REASON_CONFIG;
		break;
	case CSMS_HTTP_MEMORY:
		v->decision = CSMS_DECISION_ERROR;
		v->reason = CSMS_REASON_MEMORY;
		break;
	case CSMS_HTTP_SIGN:
		/* never sent: a credential that cannot be put in a header is a local fault */
		v->decision = CSMS_DECISION_ERROR;
		v->reason = CSMS_REASON_CREDENTIALS;
		break;
	case CSMS_HTTP_LIBRARY:
		/* a fault of this host, like a missing CA file: never fail_open or a stale
		 * permit, and no outage window for the other checks */
		v->decision = CSMS_DECISION_ERROR;
		v->reason = CSMS_REASON_CONFIG;
		break;
	case CSMS_HTTP_REFUSED:
		/* the caller's environment must never be a way to fail open */
		v->decision = CSMS_DECISION_UNAVAILABLE;
		v->reason = CSMS_REASON_TLS;
		break;
	case CSMS_HTTP_NETWORK:
	case CSMS_HTTP_PEER: /* plain http only: the metadata service, never ShowSecret */
	case CSMS_HTTP_OK:
		cannot_answer(cfg, v, CSMS_REASON_NETWORK);
		break;
	}
}

static void from_status_200(const struct csms_request *rq, const struct csms_http_response *resp,
			    struct csms_secret_result *v)
{
	struct csms_answer a;
	char why[CSMS_ERRLEN];
	int rc;

	if (!csms_content_type_is_json(resp->content_type)) {
		cannot_answer(rq->cfg, v, CSMS_REASON_BAD_RESPONSE);
		csms_errf(v->detail, sizeof(v->detail),
			  "reply Content-Type is not application/json");
		return;
	}
	rc = csms_response_parse_secret(resp->body, resp->body_len, v->name, &a,
					rq->want_metadata ? &v->metadata_json : NULL, why,
					sizeof(why));
	if (rc == -ENOMEM) {
		/* this host ran short, not CSMS: never fail_open or a stale permit */
		out_of_memory(v);
		return;
	}
	if (rc != 0) {
		cannot_answer(rq->cfg, v, CSMS_REASON_BAD_RESPONSE);
		csms_strlcpy(v->detail, why, sizeof(v->detail));
		return;
	}
	from_answer(rq->cfg, &a, v);
	if (a.kind == CSMS_STATE_ABSENT)
		csms_strlcpy(v->detail, "secret has no state", sizeof(v->detail));
	else if (a.kind == CSMS_STATE_NOT_STRING)
		csms_strlcpy(v->detail, "secret state is not a string", sizeof(v->detail));
}

static void from_status_400(const struct csms_config *cfg, const struct csms_http_response *resp,
			    struct csms_secret_result *v)
{
	static const struct csms_answer missing = { .missing = true };
	/* scheduled for deletion: as if the state were PENDING_DELETE */
	static const struct csms_answer pending = { .kind = CSMS_STATE_STRING,
						    .state = "PENDING_DELETE",
						    .state_len = 14 };
	char code[32];
	int rc;

	rc = csms_response_error_code(resp->body, resp->body_len, code, sizeof(code));
	if (rc == -ENOMEM) {
		out_of_memory(v);
		return;
	}
	if (rc != 0) {
		cannot_answer(cfg, v, CSMS_REASON_HTTP);
		csms_strlcpy(v->detail, "HTTP 400 without an error code", sizeof(v->detail));
		return;
	}
	if (strcmp(code, "CSMS.0106") == 0 || strcmp(code, "CSMS.0005") == 0)
		from_answer(cfg, &missing, v);
	else if (strcmp(code, "CSMS.0103") == 0 || strcmp(code, "CSMS.0107") == 0)
		from_answer(cfg, &pending, v);
	else
		cannot_answer(cfg, v, CSMS_REASON_HTTP);
	csms_errf(v->detail, sizeof(v->detail), "error_code %s", code);
}

/*
 * 404 is "no such secret", unless the API gateway says it has no such API (APIGW.0101:
 * a wrong endpoint or project_id), which must not become on_missing=ignore for everyone.
 */
static void from_status_404(const struct csms_config *cfg, const struct csms_http_response *resp,
			    struct csms_secret_result *v)
{
	static const struct csms_answer missing = { .missing = true };
	char code[32];

	int rc = csms_response_error_code(resp->body, resp->body_len, code, sizeof(code));

	if (rc == -ENOMEM) {
		out_of_memory(v);
		return;
	}
	if (rc == 0 && strncmp(code, "APIGW.", 6) == 0) {
		cannot_answer(cfg, v, CSMS_REASON_HTTP);
		csms_errf(v->detail, sizeof(v->detail),
			  "HTTP 404 %s from the API gateway: check endpoint and project_id", code);
		return;
	}
	from_answer(cfg, &missing, v);
}

/* 401 or 403: CSMS cannot answer with these credentials (never retried: five bad signatures
 * in a row lock an access key); the detail says which way they failed. */
static void rejected(const struct csms_request *rq, const struct csms_http_response *resp,
		     struct csms_secret_result *v)
{
	cannot_answer(rq->cfg, v, CSMS_REASON_CREDENTIALS_REJECTED);
	csms_response_rejection(resp->status, resp->body, resp->body_len, resp->date,
				(int64_t)time(NULL), v->detail, sizeof(v->detail));
}

static void from_response(const struct csms_request *rq, const struct csms_http_response *resp,
			  struct csms_secret_result *v)
{
	const struct csms_config *cfg = rq->cfg;
	long s = resp->status;

	if (s == 200)
		from_status_200(rq, resp, v);
	else if (s == 404)
		from_status_404(cfg, resp, v);
	else if (s == 400)
		from_status_400(cfg, resp, v);
	else if (s == 401 || s == 403)
		rejected(rq, resp, v);
	else if (s == 429)
		cannot_answer(cfg, v, CSMS_REASON_THROTTLED);
	else
		cannot_answer(cfg, v, CSMS_REASON_HTTP); /* 3xx (never followed), 5xx, others */
	if (v->detail[0] == '\0' && s != 200)
		csms_errf(v->detail, sizeof(v->detail), "HTTP %ld", s);
}

/* CSMS said what the secret is, or that there is none, just now: worth keeping. */
static bool answered(const struct csms_secret_result *s)
{
	return s->source == CSMS_SOURCE_API &&
	       (s->reason == CSMS_REASON_STATE || s->reason == CSMS_REASON_NOT_FOUND);
}

static bool cannot(const struct csms_secret_result *s)
{
	return s->decision == CSMS_DECISION_UNAVAILABLE || s->decision == CSMS_DECISION_FAIL_OPEN;
}

/*
 * Failures that say CSMS as a whole cannot answer now, and so open an outage window.
 * Not those one secret, one token or this process could cause: 401/403 (IAM may refuse one
 * secret; they are quick anyway), other 4xx, bad bodies, local resource trouble, and
 * nothing at all when CSMS was never tried (attempts 0: libcurl refused under
 * SSLKEYLOGFILE, or could not be loaded or started here, which says nothing of CSMS).
 */
static bool is_outage(const struct csms_secret_result *s)
{
	if (!cannot(s) || s->attempts == 0)
		return false;
	switch (s->reason) {
	case CSMS_REASON_NETWORK:
	case CSMS_REASON_TLS:
	case CSMS_REASON_TIMEOUT:
	case CSMS_REASON_THROTTLED:
		return true;
	case CSMS_REASON_HTTP:
		return s->http >= 500 || s->http == 0;
	default:
		return false;
	}
}

/* Keep what CSMS said (or that it could not say) for the next checks. */
static void remember(struct csms_cache *c, const struct csms_secret_result *s, int64_t asked,
		     bool keep_missing)
{
	if (answered(s)) {
		const struct csms_cache_entry fresh = { .time_ms = asked, .answer = s->answer };

		/* a fresh answer always replaces the entry: DISABLED takes effect */
		if (fresh.answer.missing && !keep_missing)
			csms_cache_forget(c, s->name);
		else
			(void)csms_cache_put(c, s->name, &fresh);
		csms_outage_clear(c);
	} else if (is_outage(s)) {
		csms_outage_record(c, csms_wall_ms(), s->reason);
	}
}

/*
 * CSMS could not answer for this secret: a young cached ENABLED permits (offline_grace), a
 * young cached deny keeps fail_mode=open shut, and a setuid caller's own failure (`trusted`
 * false) does neither and never fails open.
 */
static void unanswered(const struct csms_config *cfg, const struct csms_cache_entry *cached,
		       int64_t now, bool trusted, struct csms_secret_result *s)
{
	bool young = cached != NULL && now - cached->time_ms < cfg->offline_grace_ms;

	if (young && trusted && csms_answer_enabled(&cached->answer)) {
		char why[CSMS_ERRLEN];

		csms_strlcpy(why, s->detail, sizeof(why));
		from_answer(cfg, &cached->answer, s);
		s->source = CSMS_SOURCE_STALE;
		csms_errf(s->detail, sizeof(s->detail),
			  "ENABLED %llds ago, within offline_grace; CSMS: %s",
			  (long long)(now - cached->time_ms) / 1000, why);
	} else if (s->decision == CSMS_DECISION_FAIL_OPEN && young) {
		/* fail_mode=open is for not knowing; a recent deny is knowing */
		s->decision = CSMS_DECISION_UNAVAILABLE;
		csms_errf(s->detail, sizeof(s->detail),
			  "CSMS denied %llds ago, within offline_grace: not failing open",
			  (long long)(now - cached->time_ms) / 1000);
	} else if (s->decision == CSMS_DECISION_FAIL_OPEN && !trusted) {
		s->decision = CSMS_DECISION_UNAVAILABLE;
		csms_strlcpy(s->detail,
			     "fail_mode=open is not honoured for a setuid process's own failure",
			     sizeof(s->detail));
	}
}

/* The credentials could not be had: a file is a local fault (an error); the metadata
 * service is the instance not reaching its keys, which fail_mode decides like CSMS not
 * answering, unless it was not asked at all: under SSLKEYLOGFILE (refused, as ShowSecret
 * would be: *refused), with no usable libcurl (an error of this host), or with its
 * loopback port held by another user (unavailable, never fail_open). */
static void credentials_failed(const struct csms_config *cfg, int rc, struct csms_secret_result *s,
			       bool *refused)
{
	if (rc == -ENOMEM) {
		s->decision = CSMS_DECISION_ERROR;
		s->reason = CSMS_REASON_MEMORY;
	} else if (cfg->auth == CSMS_AUTH_METADATA && rc == -ELIBACC) {
		s->decision = CSMS_DECISION_ERROR;
		s->reason = CSMS_REASON_CONFIG;
	} else if (cfg->auth == CSMS_AUTH_METADATA && rc == -EPERM) {
		/* the caller's environment must never be a way to fail open */
		s->decision = CSMS_DECISION_UNAVAILABLE;
		s->reason = CSMS_REASON_TLS;
		*refused = true;
	} else if (cfg->auth == CSMS_AUTH_METADATA && rc == -EADDRINUSE) {
		/* a loopback service's port held by another user: whoever can bind a port must
		 * not be able to open the door (fail_mode=open) */
		s->decision = CSMS_DECISION_UNAVAILABLE;
		s->reason = CSMS_REASON_CREDENTIALS;
	} else if (cfg->auth == CSMS_AUTH_METADATA) {
		cannot_answer(cfg, s, CSMS_REASON_CREDENTIALS);
	} else {
		s->decision = CSMS_DECISION_ERROR;
		s->reason = CSMS_REASON_CREDENTIALS;
	}
}

static void ca_failed(int rc, struct csms_secret_result *s)
{
	s->decision = CSMS_DECISION_ERROR;
	s->reason = rc == -ENOMEM ? CSMS_REASON_MEMORY : CSMS_REASON_CONFIG;
}

/* Everything one check needs for its requests, got once, when the first secret needs it. */
struct check {
	const struct csms_request *rq;
	struct csms_cache cache, *state; /* state: the cache, or none when state is not kept */
	struct csms_credentials cred;
	const char *project;
	char *ca;
	size_t ca_len;
	struct csms_http_session *session;
	int64_t start, wall;
	bool secure, have_ca, have_cred, ready, damped, refused;
	/* why the network cannot be used, for every secret that needs it: filled once */
	struct csms_secret_result blocked;
	bool is_blocked;
	struct csms_outage outage;
	struct csms_cache_entry cached[CSMS_SECRETS_MAX];
	bool have_cached[CSMS_SECRETS_MAX];
	char trace[256];
};

static int load_ca(struct check *c, struct csms_secret_result *s)
{
	const struct csms_config *cfg = c->rq->cfg;
	int rc = 0;

	if (!c->have_ca) {
		rc = csms_ca_load(csms_config_ca_file(cfg), cfg->ca_path, &c->ca, &c->ca_len,
				  s->detail, sizeof(s->detail));
		c->have_ca = rc == 0;
	}
	return rc;
}

/*
 * The CA, the credentials, the outage window and the session, before the first request.
 * False when no request may be made; then c->blocked says why, for every secret after.
 */
static bool network_ready(struct check *c)
{
	const struct csms_config *cfg = c->rq->cfg;
	struct csms_secret_result *b = &c->blocked;
	int rc;

	if (c->ready || c->is_blocked)
		return c->ready;
	c->is_blocked = true;
	rc = load_ca(c, b);
	if (rc != 0) {
		ca_failed(rc, b);
		return false;
	}
	if (!c->have_cred) {
		rc = csms_credentials_get(cfg, &c->cache, false, c->ca, c->ca_len,
					  c->start + cfg->timeout_ms, &c->cred, b->detail,
					  sizeof(b->detail));
		if (rc != 0) {
			credentials_failed(cfg, rc, b, &c->refused);
			return false;
		}
		c->have_cred = true;
	}
	/* A setuid caller's own failure is not evidence of an outage: it neither opens a
	 * window nor takes the probe. */
	c->damped = csms_outage_damped(c->state, c->wall, cfg->timeout_ms + PROBE_SLACK_MS,
				       !c->secure, &c->outage);
	if (c->damped) {
		cannot_answer(cfg, b, c->outage.reason);
		if (c->outage.until_ms > c->wall)
			csms_errf(b->detail, sizeof(b->detail),
				  "CSMS did not answer a recent check; not asked again for %lldms",
				  (long long)(c->outage.until_ms - c->wall));
		else
			csms_strlcpy(
				b->detail,
				"CSMS did not answer a recent check; another check is asking it now",
				sizeof(b->detail));
		return false;
	}
	c->session = csms_http_session_new();
	if (c->session == NULL) {
		b->decision = CSMS_DECISION_ERROR;
		b->reason = CSMS_REASON_MEMORY;
		csms_strlcpy(b->detail, "out of memory", sizeof(b->detail));
		return false;
	}
	c->is_blocked = false;
	c->ready = true;
	return true;
}

/* Ask CSMS about one secret, on the check's connection. Fills s from the reply. */
static void ask(struct check *c, struct csms_secret_result *s)
{
	const struct csms_request *rq = c->rq;
	const struct csms_config *cfg = rq->cfg;
	struct csms_showsecret q;
	struct csms_http_response resp;
	size_t used;
	int rc;

	rc = csms_showsecret_build(&q, cfg, c->project, s->name, &c->cred, c->ca, c->ca_len,
				   c->start + cfg->timeout_ms, cfg->retries);
	if (rc != 0) {
		csms_showsecret_free(&q);
		s->decision = CSMS_DECISION_ERROR;
		s->reason = rc == -ENOMEM ? CSMS_REASON_MEMORY : CSMS_REASON_CONFIG;
		csms_strlcpy(s->detail, rc == -ENOMEM ? "out of memory" : "request URL too long",
			     sizeof(s->detail));
		return;
	}
	csms_http_get(c->session, &q.http, &resp);
	csms_showsecret_free(&q);
	/* source=api once CSMS was asked, whatever came of it */
	s->source = resp.attempts > 0 ? CSMS_SOURCE_API : CSMS_SOURCE_NONE;
	s->attempts = resp.attempts;
	s->http = resp.status;
	csms_strlcpy(s->request_id, resp.request_id, sizeof(s->request_id));
	used = strlen(c->trace);
	if (used + strlen(resp.trace) + 2 < sizeof(c->trace)) {
		if (used > 0)
			c->trace[used++] = ' ';
		csms_strlcpy(c->trace + used, resp.trace, sizeof(c->trace) - used);
	}
	if (resp.result == CSMS_HTTP_OK) {
		from_response(rq, &resp, s);
	} else {
		from_transport_failure(cfg, &resp, s);
		csms_strlcpy(s->detail, resp.detail, sizeof(s->detail));
	}
	c->refused = c->refused || resp.result == CSMS_HTTP_REFUSED;
	csms_http_response_free(&resp);
}

/* One secret: a fresh cached answer, or CSMS's, kept for the next checks. */
static void check_secret(struct check *c, size_t i, struct csms_secret_result *s)
{
	const struct csms_config *cfg = c->rq->cfg;
	const struct csms_cache_entry *e = &c->cached[i];

	c->have_cached[i] = csms_cache_get(c->state, s->name, &c->cached[i]) == 0;
	if (c->have_cached[i] && c->wall - e->time_ms < cfg->cache_ttl_ms) {
		/* fresh enough: permit or deny, CSMS is not asked */
		from_answer(cfg, &e->answer, s);
		s->source = CSMS_SOURCE_CACHE;
		csms_errf(s->detail, sizeof(s->detail), "cached answer from %llds ago",
			  (long long)(c->wall - e->time_ms) / 1000);
		return;
	}
	if (!network_ready(c)) {
		s->decision = c->blocked.decision;
		s->reason = c->blocked.reason;
		s->source = CSMS_SOURCE_NONE;
		csms_strlcpy(s->detail, c->blocked.detail, sizeof(s->detail));
		return;
	}
	ask(c, s);
	if (s->reason == CSMS_REASON_CREDENTIALS_REJECTED && s->http == 401) {
		/* the same credentials sign every request: one 401 is the answer for all, and
		 * five bad signatures in a row lock an access key. Temporary keys that CSMS
		 * refuses are dropped from cache_dir, so the next check asks for new ones. A 403
		 * may be this secret's alone (IAM can allow some secrets and not others): the
		 * others are still asked. */
		c->ready = false;
		c->is_blocked = true;
		c->blocked = *s;
		c->blocked.metadata_json = NULL;
		if (cfg->auth == CSMS_AUTH_METADATA && !c->secure)
			csms_cache_creds_forget(&c->cache, cfg->metadata_url, c->cred.access_key);
	}
	/* `wall` dates the answer from before it was asked, so a slow answer never passes for
	 * newer than one given meanwhile. A setuid caller can stop itself between answer and
	 * write, or kill the write (SIGXFSZ): it only reads. Anyone can make sshd's auth stack
	 * ask for any name, so "no such secret" is kept only for a name the account database
	 * knows; for another, any entry there is removed. Every other answer is about a secret
	 * that exists. */
	if (!c->secure)
		remember(c->state, s, c->wall, c->rq->account_name != NULL);
}

/*
 * auth=metadata without project_id, and the keys could not be had (rc): the failure in
 * *first. True when the project the kept keys were issued for (expired or not) goes into
 * project; then each secret is checked as usual against the verdicts kept under it, the
 * failure standing for CSMS (cache_ttl, offline_grace, a recent deny). False when the check
 * is decided by *first alone; without the project, the recent deny that keeps
 * fail_mode=open shut under offline_grace cannot be looked for, so it stays shut.
 */
static bool no_keys(struct check *c, int rc, struct csms_secret_result *first,
		    char project[CSMS_PROJECT_ID_MAX + 1])
{
	const struct csms_config *cfg = c->rq->cfg;
	struct csms_credentials kept;
	bool found;

	if (!c->have_ca) {
		ca_failed(rc, first);
		return false;
	}
	credentials_failed(cfg, rc, first, &c->refused);
	if (first->decision == CSMS_DECISION_ERROR)
		return false;
	found = csms_cache_creds_get(&c->cache, cfg->metadata_url, &kept) == 0 &&
		kept.project_id[0] != '\0';
	if (found)
		csms_strlcpy(project, kept.project_id, CSMS_PROJECT_ID_MAX + 1);
	csms_credentials_free(&kept);
	if (!found) {
		if (first->decision == CSMS_DECISION_FAIL_OPEN && cfg->offline_grace_ms > 0) {
			first->decision = CSMS_DECISION_UNAVAILABLE;
			detail_add_to(first->detail, sizeof(first->detail),
				      "no project_id kept to look for a recent deny: not failing "
				      "open (set project_id)");
		}
		return false;
	}
	c->blocked = *first;
	c->is_blocked = true;
	return true;
}

/* The check's decision is secret i's; the attempts are all the secrets'. */
static void decided_by(struct csms_verdict *v, int i)
{
	const struct csms_secret_result *d = &v->secrets[i];

	v->decided_by = i;
	v->decision = d->decision;
	v->reason = d->reason;
	v->source = d->source;
	v->answer = d->answer;
	v->http = d->http;
	csms_strlcpy(v->request_id, d->request_id, sizeof(v->request_id));
	csms_strlcpy(v->detail, d->detail, sizeof(v->detail));
	v->attempts = 0;
	for (size_t k = 0; k < v->nsecrets; k++)
		v->attempts += v->secrets[k].attempts;
}

/*
 * The secrets' results into one decision: an error or a deny decides (the first); else a
 * secret CSMS could not answer for decides, unless offline_grace finds a young cached
 * ENABLED for each such one; else all ignored is ignore, and otherwise permit.
 */
static void combine(struct check *c, struct csms_verdict *v)
{
	const struct csms_config *cfg = c->rq->cfg;
	/* In a setuid process only an outage seen by others may let anyone in */
	bool trusted = c->damped || !c->secure;
	int decider = -1, first_unanswered = -1;
	bool any_stale = false, any_api = false, all_ignored = true;

	for (size_t i = 0; i < v->nsecrets && decider < 0; i++)
		if (v->secrets[i].decision == CSMS_DECISION_ERROR ||
		    v->secrets[i].decision == CSMS_DECISION_DENY)
			decider = (int)i;
	for (size_t i = 0; i < v->nsecrets && decider < 0; i++) {
		struct csms_secret_result *s = &v->secrets[i];

		if (!cannot(s))
			continue;
		/* the caller's environment (SSLKEYLOGFILE) never lets anyone in */
		if (!c->refused)
			unanswered(cfg, c->have_cached[i] ? &c->cached[i] : NULL, c->wall, trusted,
				   s);
		if (cannot(s) &&
		    (first_unanswered < 0 ||
		     (s->decision == CSMS_DECISION_UNAVAILABLE &&
		      v->secrets[first_unanswered].decision != CSMS_DECISION_UNAVAILABLE)))
			first_unanswered = (int)i; /* unavailable wins over fail_open */
	}
	if (decider < 0)
		decider = first_unanswered;
	for (size_t i = 0; i < v->nsecrets; i++) {
		any_stale = any_stale || v->secrets[i].source == CSMS_SOURCE_STALE;
		any_api = any_api || v->secrets[i].source == CSMS_SOURCE_API;
		all_ignored = all_ignored && v->secrets[i].decision == CSMS_DECISION_IGNORE;
	}
	if (decider < 0) {
		/* every secret permits or is ignored: the last one that permits decides */
		decider = (int)v->nsecrets - 1;
		for (int i = (int)v->nsecrets - 1; !all_ignored && i >= 0; i--)
			if (v->secrets[i].decision == CSMS_DECISION_PERMIT) {
				decider = i;
				break;
			}
	}
	if (decider < 0)
		return;
	decided_by(v, decider);
	/* a permit from several secrets: stale if one answer was, api if CSMS was asked */
	if (v->decision == CSMS_DECISION_PERMIT)
		v->source = any_stale ? CSMS_SOURCE_STALE : any_api ? CSMS_SOURCE_API : v->source;
}

static void detail_add(struct csms_verdict *v, const char *text)
{
	detail_add_to(v->detail, sizeof(v->detail), text);
}

/* "a,b,c": the names of the secrets checked, for the log's secret= field. */
static void list_names(struct csms_verdict *v)
{
	size_t off = 0;

	v->secret[0] = '\0';
	for (size_t i = 0; i < v->nsecrets; i++)
		off += (size_t)snprintf(v->secret + off, sizeof(v->secret) - off, "%s%s",
					i ? "," : "", v->secrets[i].name);
}

/* Expand every template; false (and that secret decides) when one gives no valid name. */
static bool expand_names(const struct csms_request *rq, struct csms_verdict *v)
{
	const struct csms_config *cfg = rq->cfg;
	const struct csms_name_parts parts = {
		.user = rq->user,
		.service = rq->service ? rq->service : "",
		.host = rq->host ? rq->host : "",
		.group = rq->group,
	};

	for (size_t i = 0; i < cfg->secrets.n && i < CSMS_SECRETS_MAX; i++) {
		struct csms_secret_result *s = &v->secrets[i];
		int rc = csms_secret_name_expand(cfg->secrets.items[i], &parts, s->name,
						 sizeof(s->name));

		v->nsecrets = i + 1;
		if (rc != 0) {
			/* never sent: dots, slashes, percent signs or over-long names cannot reach a
			 * URL; and no request at all, for any of the secrets */
			s->decision = CSMS_DECISION_DENY;
			s->reason = CSMS_REASON_INVALID_NAME;
			csms_strlcpy(s->detail,
				     rc == -ENOENT ? "the user has no primary group name (for %g)"
						   : "secret name is not [A-Za-z0-9._-]{1,64}",
				     sizeof(s->detail));
			decided_by(v, (int)i);
			return false;
		}
	}
	return true;
}

void csms_decide(const struct csms_request *rq, struct csms_verdict *v)
{
	const struct csms_config *cfg = rq->cfg;
	struct check c = {
		.rq = rq,
		.cache = { .dirfd = -1 },
		.project = cfg->project_id,
		.start = rq->start_ms ? rq->start_ms : csms_now_ms(),
		.wall = csms_wall_ms(),
		/* in setuid su or sudo the caller can make the request fail (SIGSTOP, ulimit -n) */
		.secure = getauxval(AT_SECURE) != 0,
	};
	struct csms_cache none = { .dirfd = -1 };
	char kept_project[CSMS_PROJECT_ID_MAX + 1];
	bool keeps_state, project_from_metadata = false;
	int rc;

	csms_verdict_init(v);
	v->ntemplates = cfg->secrets.n;
	keeps_state = csms_config_keeps_state(cfg) && !rq->no_cache;
	/* verdicts and outage windows only when asked for; the metadata service's keys always */
	c.state = keeps_state ? &c.cache : &none;

	if (is_bypassed(rq)) {
		v->decision = CSMS_DECISION_BYPASS;
		v->reason = CSMS_REASON_BYPASS;
		goto out;
	}
	if (rq->user == NULL || rq->user[0] == '\0') {
		/* even a template without %u must not check on behalf of nobody */
		v->decision = CSMS_DECISION_DENY;
		v->reason = CSMS_REASON_INVALID_NAME;
		csms_strlcpy(v->detail, "no user name", sizeof(v->detail));
		goto out;
	}
	if (rq->account_name != NULL && strcmp(rq->account_name, rq->user) != 0) {
		/* a case-folding name service would log BOB in as bob: ask for neither */
		v->decision = CSMS_DECISION_DENY;
		v->reason = CSMS_REASON_INVALID_NAME;
		csms_errf(v->detail, sizeof(v->detail),
			  "the account database calls this user '%.64s'", rq->account_name);
		goto out;
	}
	if (!expand_names(rq, v)) {
		list_names(v);
		goto out;
	}

	if (keeps_state || (cfg->auth == CSMS_AUTH_METADATA && !rq->no_cache))
		/* an unusable cache_dir only means no cache: its err goes into the log line */
		(void)csms_cache_open(&c.cache, csms_config_cache_dir(cfg), cfg->endpoint,
				      c.project, !c.secure);
	if (c.project == NULL) {
		/* auth=metadata without project_id: the instance's meta_data.json names it, and
		 * verdicts are kept under it, so the keys come first */
		struct csms_secret_result *first = &v->secrets[0];

		rc = load_ca(&c, first);
		if (rc == 0)
			rc = csms_credentials_get(cfg, &c.cache, true, c.ca, c.ca_len,
						  c.start + cfg->timeout_ms, &c.cred, first->detail,
						  sizeof(first->detail));
		if (rc == 0) {
			c.have_cred = project_from_metadata = true;
			c.project = c.cred.project_id;
		} else if (!no_keys(&c, rc, first, kept_project)) {
			v->nsecrets = 1;
			goto decided;
		} else {
			c.project = kept_project;
		}
		csms_cache_set_project(&c.cache, c.project);
	}
	for (size_t i = 0; i < v->nsecrets; i++) {
		struct csms_secret_result *s = &v->secrets[i];

		check_secret(&c, i, s);
		/* a deny needs no more requests; nor does an error of this host */
		if (s->decision == CSMS_DECISION_DENY || s->decision == CSMS_DECISION_ERROR) {
			v->nsecrets = i + 1;
			break;
		}
	}
decided:
	combine(&c, v);
	list_names(v);
out:
	if (project_from_metadata)
		detail_add(v, "project_id from the instance's meta_data.json");
	if (c.cache.err[0] != '\0' && v->detail[0] == '\0') /* cache_dir could not be used */
		csms_strlcpy(v->detail, c.cache.err, sizeof(v->detail));
	csms_strlcpy(v->trace, c.trace, sizeof(v->trace));
	csms_http_session_free(c.session);
	csms_cache_close(&c.cache);
	csms_credentials_free(&c.cred);
	free(c.ca);
	v->ms = csms_now_ms() - c.start;
}
