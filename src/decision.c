/* The check itself: bypass, secret name, token, ShowSecret, reply -> verdict. No PAM here. */
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
static void cannot_answer(const struct csms_config *cfg, struct csms_verdict *v,
			  enum csms_reason reason)
{
	v->decision = cfg->fail_mode == CSMS_FAIL_OPEN ? CSMS_DECISION_FAIL_OPEN
						       : CSMS_DECISION_UNAVAILABLE;
	v->reason = reason;
}

/* What CSMS said (now, or earlier and kept), under today's policy (on_missing). */
static void from_answer(const struct csms_config *cfg, const struct csms_answer *a,
			struct csms_verdict *v)
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
				   const struct csms_http_response *resp, struct csms_verdict *v)
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
	case CSMS_HTTP_OK:
		cannot_answer(cfg, v, CSMS_REASON_NETWORK);
		break;
	}
}

static void from_status_200(const struct csms_request *rq, const struct csms_http_response *resp,
			    struct csms_verdict *v)
{
	struct csms_answer a;
	char why[CSMS_ERRLEN];

	if (!csms_content_type_is_json(resp->content_type)) {
		cannot_answer(rq->cfg, v, CSMS_REASON_BAD_RESPONSE);
		csms_errf(v->detail, sizeof(v->detail),
			  "reply Content-Type is not application/json");
		return;
	}
	if (csms_response_parse_secret(resp->body, resp->body_len, v->secret, &a,
				       rq->want_metadata ? &v->metadata_json : NULL, why,
				       sizeof(why)) != 0) {
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
			    struct csms_verdict *v)
{
	static const struct csms_answer missing = { .missing = true };
	/* scheduled for deletion: as if the state were PENDING_DELETE */
	static const struct csms_answer pending = { .kind = CSMS_STATE_STRING,
						    .state = "PENDING_DELETE",
						    .state_len = 14 };
	char code[32];

	if (csms_response_error_code(resp->body, resp->body_len, code, sizeof(code)) != 0) {
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
			    struct csms_verdict *v)
{
	static const struct csms_answer missing = { .missing = true };
	char code[32];

	if (csms_response_error_code(resp->body, resp->body_len, code, sizeof(code)) == 0 &&
	    strncmp(code, "APIGW.", 6) == 0) {
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
		     struct csms_verdict *v)
{
	cannot_answer(rq->cfg, v, CSMS_REASON_CREDENTIALS_REJECTED);
	csms_response_rejection(resp->status, resp->body, resp->body_len, resp->date,
				(int64_t)time(NULL), v->detail, sizeof(v->detail));
}

static void from_response(const struct csms_request *rq, const struct csms_http_response *resp,
			  struct csms_verdict *v)
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
static bool answered(const struct csms_verdict *v)
{
	return v->source == CSMS_SOURCE_API &&
	       (v->reason == CSMS_REASON_STATE || v->reason == CSMS_REASON_NOT_FOUND);
}

/*
 * Failures that say CSMS as a whole cannot answer now, and so open an outage window.
 * Not those one secret, one token or this process could cause: 401/403 (IAM may refuse one
 * secret; they are quick anyway), other 4xx, bad bodies, local resource trouble, and
 * nothing at all when CSMS was never tried (attempts 0: libcurl refused under
 * SSLKEYLOGFILE, or could not be loaded or started here, which says nothing of CSMS).
 */
static bool is_outage(const struct csms_verdict *v)
{
	if (v->decision != CSMS_DECISION_UNAVAILABLE && v->decision != CSMS_DECISION_FAIL_OPEN)
		return false;
	if (v->attempts == 0)
		return false;
	switch (v->reason) {
	case CSMS_REASON_NETWORK:
	case CSMS_REASON_TLS:
	case CSMS_REASON_TIMEOUT:
	case CSMS_REASON_THROTTLED:
		return true;
	case CSMS_REASON_HTTP:
		return v->http >= 500 || v->http == 0;
	default:
		return false;
	}
}

/* Keep what CSMS said (or that it could not say) for the next checks. */
static void remember(struct csms_cache *c, const struct csms_verdict *v, int64_t asked,
		     bool keep_missing)
{
	if (answered(v)) {
		const struct csms_cache_entry fresh = { .time_ms = asked, .answer = v->answer };

		/* a fresh answer always replaces the entry: DISABLED takes effect */
		if (fresh.answer.missing && !keep_missing)
			csms_cache_forget(c, v->secret);
		else
			(void)csms_cache_put(c, v->secret, &fresh);
		csms_outage_clear(c);
	} else if (is_outage(v)) {
		csms_outage_record(c, csms_wall_ms(), v->reason);
	}
}

/*
 * CSMS could not answer: a young cached ENABLED permits (offline_grace), a young cached
 * deny keeps fail_mode=open shut, and a setuid caller's own failure (`trusted` false) does
 * neither and never fails open.
 */
static void unanswered(const struct csms_config *cfg, const struct csms_cache_entry *cached,
		       int64_t now, bool trusted, struct csms_verdict *v)
{
	bool young = cached != NULL && now - cached->time_ms < cfg->offline_grace_ms;

	if (young && trusted && csms_answer_enabled(&cached->answer)) {
		char why[CSMS_ERRLEN];

		csms_strlcpy(why, v->detail, sizeof(why));
		from_answer(cfg, &cached->answer, v);
		v->source = CSMS_SOURCE_STALE;
		csms_errf(v->detail, sizeof(v->detail),
			  "ENABLED %llds ago, within offline_grace; CSMS: %s",
			  (long long)(now - cached->time_ms) / 1000, why);
	} else if (v->decision == CSMS_DECISION_FAIL_OPEN && young) {
		/* fail_mode=open is for not knowing; a recent deny is knowing */
		v->decision = CSMS_DECISION_UNAVAILABLE;
		csms_errf(v->detail, sizeof(v->detail),
			  "CSMS denied %llds ago, within offline_grace: not failing open",
			  (long long)(now - cached->time_ms) / 1000);
	} else if (v->decision == CSMS_DECISION_FAIL_OPEN && !trusted) {
		v->decision = CSMS_DECISION_UNAVAILABLE;
		csms_strlcpy(v->detail,
			     "fail_mode=open is not honoured for a setuid process's own failure",
			     sizeof(v->detail));
	}
}

/* Ask CSMS. Fills the verdict from the reply; returns the transport's result. */
static enum csms_http_result ask(const struct csms_request *rq, const char *project,
				 const struct csms_credentials *cred, const char *ca, size_t ca_len,
				 int64_t start, struct csms_verdict *v)
{
	const struct csms_config *cfg = rq->cfg;
	struct csms_showsecret q;
	struct csms_http_response resp;
	enum csms_http_result result;
	int rc;

	rc = csms_showsecret_build(&q, cfg, project, v->secret, cred, ca, ca_len,
				   start + cfg->timeout_ms, cfg->retries);
	if (rc != 0) {
		csms_showsecret_free(&q);
		v->decision = CSMS_DECISION_ERROR;
		v->reason = rc == -ENOMEM ? CSMS_REASON_MEMORY : CSMS_REASON_CONFIG;
		csms_strlcpy(v->detail, rc == -ENOMEM ? "out of memory" : "request URL too long",
			     sizeof(v->detail));
		return CSMS_HTTP_PROTOCOL;
	}
	csms_http_get(&q.http, &resp);
	csms_showsecret_free(&q);
	/* source=api once CSMS was asked, whatever came of it */
	v->source = resp.attempts > 0 ? CSMS_SOURCE_API : CSMS_SOURCE_NONE;
	v->attempts = resp.attempts;
	v->http = resp.status;
	csms_strlcpy(v->request_id, resp.request_id, sizeof(v->request_id));
	csms_strlcpy(v->trace, resp.trace, sizeof(v->trace));
	if (resp.result == CSMS_HTTP_OK) {
		from_response(rq, &resp, v);
	} else {
		from_transport_failure(cfg, &resp, v);
		csms_strlcpy(v->detail, resp.detail, sizeof(v->detail));
	}
	result = resp.result;
	csms_http_response_free(&resp);
	return result;
}

/* The credentials could not be had: a file is a local fault (an error); the metadata
 * service is the instance not reaching its keys, which fail_mode decides like CSMS not
 * answering. */
static void credentials_failed(const struct csms_config *cfg, int rc, struct csms_verdict *v)
{
	if (rc == -ENOMEM) {
		v->decision = CSMS_DECISION_ERROR;
		v->reason = CSMS_REASON_MEMORY;
	} else if (cfg->auth == CSMS_AUTH_METADATA) {
		cannot_answer(cfg, v, CSMS_REASON_CREDENTIALS);
	} else {
		v->decision = CSMS_DECISION_ERROR;
		v->reason = CSMS_REASON_CREDENTIALS;
	}
}

/* Append "; text" to detail (or set it). */
static void detail_add(struct csms_verdict *v, const char *text)
{
	size_t n = strlen(v->detail);

	if (n == 0)
		csms_strlcpy(v->detail, text, sizeof(v->detail));
	else if (n + 2 < sizeof(v->detail))
		snprintf(v->detail + n, sizeof(v->detail) - n, "; %s", text);
}

void csms_decide(const struct csms_request *rq, struct csms_verdict *v)
{
	const struct csms_config *cfg = rq->cfg;
	struct csms_cache cache = { .dirfd = -1 }, none = { .dirfd = -1 }, *state;
	struct csms_cache_entry cached;
	struct csms_outage outage;
	struct csms_credentials cred = { 0 };
	const char *project = cfg->project_id;
	char *ca = NULL;
	size_t ca_len = 0;
	int64_t start = rq->start_ms ? rq->start_ms : csms_now_ms(), wall = csms_wall_ms();
	/* in setuid su or sudo the caller can make the request fail (SIGSTOP, ulimit -n) */
	bool secure = getauxval(AT_SECURE) != 0, keeps_state, have_cached = false, damped = false;
	bool refused = false, have_cred = false, have_ca = false, project_from_metadata = false;
	int rc;

	csms_verdict_init(v);
	keeps_state = csms_config_keeps_state(cfg) && !rq->no_cache;
	/* verdicts and outage windows only when asked for; the metadata service's keys always */
	state = keeps_state ? &cache : &none;

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
	rc = csms_secret_name_expand(cfg->secret_template, rq->user, rq->service ? rq->service : "",
				     rq->host ? rq->host : "", v->secret, sizeof(v->secret));
	if (rc != 0) {
		/* never sent: dots, slashes, percent signs or over-long names cannot reach a URL */
		v->decision = CSMS_DECISION_DENY;
		v->reason = CSMS_REASON_INVALID_NAME;
		csms_strlcpy(v->detail, "secret name is not [A-Za-z0-9._-]{1,64}",
			     sizeof(v->detail));
		goto out;
	}

	if (keeps_state || (cfg->auth == CSMS_AUTH_METADATA && !rq->no_cache))
		/* an unusable cache_dir only means no cache: c.err goes into the log line */
		(void)csms_cache_open(&cache, csms_config_cache_dir(cfg), cfg->endpoint, project,
				      !secure);
	if (project == NULL) {
		/* auth=metadata without project_id: the instance's meta_data.json names it, and
		 * verdicts are kept under it, so the keys come first */
		rc = csms_ca_load(csms_config_ca_file(cfg), cfg->ca_path, &ca, &ca_len, v->detail,
				  sizeof(v->detail));
		if (rc != 0) {
			v->decision = CSMS_DECISION_ERROR;
			v->reason = rc == -ENOMEM ? CSMS_REASON_MEMORY : CSMS_REASON_CONFIG;
			goto out;
		}
		have_ca = true;
		rc = csms_credentials_get(cfg, &cache, true, ca, ca_len, start + cfg->timeout_ms,
					  &cred, v->detail, sizeof(v->detail));
		if (rc != 0) {
			credentials_failed(cfg, rc, v);
			goto unanswered;
		}
		have_cred = project_from_metadata = true;
		project = cred.project_id;
		csms_cache_set_project(&cache, project);
	}
	have_cached = csms_cache_get(state, v->secret, &cached) == 0;
	if (have_cached && wall - cached.time_ms < cfg->cache_ttl_ms) {
		/* fresh enough: permit or deny, CSMS is not asked */
		from_answer(cfg, &cached.answer, v);
		v->source = CSMS_SOURCE_CACHE;
		csms_errf(v->detail, sizeof(v->detail), "cached answer from %llds ago",
			  (long long)(wall - cached.time_ms) / 1000);
		goto out;
	}

	if (!have_ca) {
		rc = csms_ca_load(csms_config_ca_file(cfg), cfg->ca_path, &ca, &ca_len, v->detail,
				  sizeof(v->detail));
		if (rc != 0) {
			v->decision = CSMS_DECISION_ERROR;
			v->reason = rc == -ENOMEM ? CSMS_REASON_MEMORY : CSMS_REASON_CONFIG;
			goto out;
		}
	}
	if (!have_cred) {
		rc = csms_credentials_get(cfg, &cache, false, ca, ca_len, start + cfg->timeout_ms,
					  &cred, v->detail, sizeof(v->detail));
		if (rc != 0) {
			credentials_failed(cfg, rc, v);
			goto unanswered;
		}
	}

	/* A setuid caller's own failure is not evidence of an outage: it neither opens a
	 * window nor takes the probe. */
	damped =
		csms_outage_damped(state, wall, cfg->timeout_ms + PROBE_SLACK_MS, !secure, &outage);
	if (damped) {
		cannot_answer(cfg, v, outage.reason);
		if (outage.until_ms > wall)
			csms_errf(v->detail, sizeof(v->detail),
				  "CSMS did not answer a recent check; not asked again for %lldms",
				  (long long)(outage.until_ms - wall));
		else
			csms_strlcpy(
				v->detail,
				"CSMS did not answer a recent check; another check is asking it now",
				sizeof(v->detail));
	} else {
		refused = ask(rq, project, &cred, ca, ca_len, start, v) == CSMS_HTTP_REFUSED;

		/* `wall` dates the answer from before it was asked, so a slow answer never
		 * passes for newer than one given meanwhile. A setuid caller can stop itself
		 * between answer and write, or kill the write (SIGXFSZ): it only reads.
		 * Anyone can make sshd's auth stack ask for any name, so "no such secret"
		 * is kept only for a name the account database knows; for another, any
		 * entry there is removed. Every other answer is about a secret that exists. */
		if (!secure)
			remember(state, v, wall, rq->account_name != NULL);
	}
unanswered:
	/* In a setuid process only an outage seen by others may let anyone in; the caller's
	 * environment (SSLKEYLOGFILE) never does. */
	if (!refused &&
	    (v->decision == CSMS_DECISION_UNAVAILABLE || v->decision == CSMS_DECISION_FAIL_OPEN))
		unanswered(cfg, have_cached ? &cached : NULL, wall, damped || !secure, v);
out:
	if (project_from_metadata)
		detail_add(v, "project_id from the instance's meta_data.json");
	if (cache.err[0] != '\0' && v->detail[0] == '\0') /* cache_dir could not be used */
		csms_strlcpy(v->detail, cache.err, sizeof(v->detail));
	csms_cache_close(&cache);
	csms_credentials_free(&cred);
	free(ca);
	v->ms = csms_now_ms() - start;
}
