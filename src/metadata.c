/* The ECS metadata service: temporary AK/SK (/openstack/latest/securitykey) and the
 * instance's project id (/openstack/latest/meta_data.json), with the optional session
 * token step first (PUT /meta-data/latest/api/token). */
#include "buildconf.h"

#include "metadata.h"
#include "http.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_PATH "/meta-data/latest/api/token"
#define KEY_PATH "/openstack/latest/securitykey"
#define META_PATH "/openstack/latest/meta_data.json"
#define TOKEN_MAX 1024

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int64_t csms_iso8601_ms(const char *s)
{
	/* YYYY-MM-DDTHH:MM:SS then [.digits] then Z */
	static const char layout[] = "0000-00-00T00:00:00";
	size_t n = strlen(s), i;
	struct tm tm = { 0 };
	int64_t ms = 0;

	if (n < sizeof(layout) || s[n - 1] != 'Z')
		return -1;
	for (i = 0; i < sizeof(layout) - 1; i++)
		if (layout[i] == '0' ? !digits(s + i, 1) : s[i] != layout[i])
			return -1;
	if (s[i] == '.') {
		size_t frac_digits = 0;

		for (i++; s[i] >= '0' && s[i] <= '9'; i++, frac_digits++)
			if (frac_digits < 3)
				ms = ms * 10 + (s[i] - '0');
		if (frac_digits == 0 || frac_digits > 9)
			return -1;
		for (size_t k = frac_digits; k < 3; k++)
			ms *= 10;
	}
	if (s[i] != 'Z' || s[i + 1] != '\0')
		return -1;
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	tm.tm_hour = num(s + 11, 2);
	tm.tm_min = num(s + 14, 2);
	tm.tm_sec = num(s + 17, 2);
	if (tm.tm_year < 70 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The member `key` of o as a string of length 1..max, or NULL. */
static const char *member(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

int csms_metadata_parse_securitykey(const char *body, size_t len, struct csms_credentials *c,
				    char *err, size_t errlen)
{
	struct json_object *root, *cred;
	const char *access, *secret = NULL, *token = NULL, *expires;
	size_t al = 0, sl = 0, tl = 0, el = 0;
	int rc = csms_json_parse_object(body, len, &root, err, errlen);

	if (rc != 0)
		return rc;
	rc = -EBADMSG;
	if (!json_object_object_get_ex(root, "credential", &cred) ||
	    !json_object_is_type(cred, json_type_object)) {
		csms_errf(err, errlen, "no \"credential\" object in the securitykey reply");
		goto out;
	}
	access = member(cred, "access", &al);
	secret = member(cred, "secret", &sl);
	token = member(cred, "securitytoken", &tl);
	expires = member(cred, "expires_at", &el);
	if (access == NULL || !csms_access_key_valid(access, al)) {
		csms_errf(err, errlen, "credential.access is missing or not an access key id");
		goto out;
	}
	if (secret == NULL || !csms_printable_valid(secret, sl, CSMS_SECRET_KEY_MAX)) {
		csms_errf(err, errlen, "credential.secret is missing or malformed");
		goto out;
	}
	if (token == NULL || !csms_printable_valid(token, tl, CSMS_SECURITY_TOKEN_MAX)) {
		csms_errf(err, errlen, "credential.securitytoken is missing or malformed");
		goto out;
	}
	if (expires == NULL || el > 40 || memchr(expires, '\0', el) != NULL ||
	    (c->expires_ms = csms_iso8601_ms(expires)) < 0) {
		c->expires_ms = 0;
		csms_errf(err, errlen,
			  "credential.expires_at is missing or not an ISO 8601 UTC time");
		goto out;
	}
	memcpy(c->access_key, access, al);
	c->access_key[al] = '\0';
	if (csms_credentials_set_secret(c, secret, sl) != 0 ||
	    csms_credentials_set_security_token(c, token, tl) != 0) {
		csms_errf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	rc = 0;
out:
	/* json-c's copies go with the tree: wiped first (the body itself is wiped by the
	 * caller) */
	if (secret != NULL)
		explicit_bzero((char *)(uintptr_t)secret, sl);
	if (token != NULL)
		explicit_bzero((char *)(uintptr_t)token, tl);
	json_object_put(root);
	return rc;
}

int csms_metadata_parse_project(const char *body, size_t len, char out[CSMS_PROJECT_ID_MAX + 1],
				char *err, size_t errlen)
{
	struct json_object *root;
	const char *id;
	size_t n = 0;
	int rc = csms_json_parse_object(body, len, &root, err, errlen);

	if (rc != 0)
		return rc;
	rc = -EBADMSG;
	id = member(root, "project_id", &n);
	if (id == NULL || n == 0 || n > CSMS_PROJECT_ID_MAX ||
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
		csms_errf(err, errlen, "meta_data.json has no project_id of [A-Za-z0-9_-]{1,64}");
	} else {
		memcpy(out, id, n);
		out[n] = '\0';
		rc = 0;
	}
	json_object_put(root);
	return rc;
}

/* One call's fixed header lines. */
struct call {
	const char *lines[3];
	char token_line[TOKEN_MAX + 32];
};

static int call_lines(void *ctx, const char *const **lines)
{
	*lines = ((struct call *)ctx)->lines;
	return 0;
}

struct fetch {
	const struct csms_config *cfg;
	const char *ca;
	size_t ca_len;
	int64_t deadline_ms;
	char token[TOKEN_MAX + 1]; /* the session token, or "" */
	char *err;
	size_t errlen;
};

/* One request to the service, with the session token when there is one. */
static void call(struct fetch *f, const char *method, const char *path, const char *extra,
		 struct csms_http_response *resp)
{
	struct call c = { .lines = { NULL } };
	struct csms_http_request rq;
	char url[CSMS_ERRLEN + 64];
	int64_t deadline = csms_now_ms() + CSMS_METADATA_CALL_MS;
	size_t n = 0;

	snprintf(url, sizeof(url), "%s%s", f->cfg->metadata_url, path);
	if (extra != NULL)
		c.lines[n++] = extra;
	if (f->token[0] != '\0') {
		snprintf(c.token_line, sizeof(c.token_line), "X-Metadata-Token: %s", f->token);
		c.lines[n++] = c.token_line;
	}
	rq = (struct csms_http_request){
		.url = url,
		.method = method,
		.plain_http = strncmp(url, "http://", 7) == 0,
		.headers = call_lines,
		.headers_ctx = &c,
		.ca_blob = f->ca,
		.ca_blob_len = f->ca_len,
		.ca_path = f->cfg->ca_path,
		.proxy = NULL, /* link-local: never through a proxy */
		.deadline_ms = deadline < f->deadline_ms ? deadline : f->deadline_ms,
		.connect_timeout_ms = f->cfg->connect_timeout_ms,
		.retries = 0,
	};
	csms_http_get(NULL, &rq, resp);
	explicit_bzero(&c, sizeof(c));
}

/* The failure of a call, in words: 0 if it answered 200. */
static int failed(struct fetch *f, const char *what, const struct csms_http_response *resp)
{
	if (resp->result == CSMS_HTTP_MEMORY) {
		csms_strlcpy(f->err, resp->detail[0] ? resp->detail : "out of memory", f->errlen);
		return -ENOMEM;
	}
	/* not asked at all: the same faults of this host as for ShowSecret */
	if (resp->result == CSMS_HTTP_REFUSED || resp->result == CSMS_HTTP_LIBRARY) {
		csms_strlcpy(f->err, resp->detail, f->errlen);
		return resp->result == CSMS_HTTP_REFUSED ? -EPERM : -ELIBACC;
	}
	if (resp->result != CSMS_HTTP_OK) {
		csms_errf(f->err, f->errlen, "metadata service %s: %s: %s", f->cfg->metadata_url,
			  what, resp->detail);
		/* another user holding the port is not the service failing: never fail_open */
		return resp->result == CSMS_HTTP_PEER ? -EADDRINUSE : -EIO;
	}
	if (resp->status == 401 && resp->body != NULL &&
	    strstr(resp->body, CSMS_METADATA_NO_AGENCY) != NULL) {
		csms_errf(f->err, f->errlen,
			  "metadata service: no agency is bound to this instance (\"%s\"): bind an "
			  "IAM agency that allows csms:secret:get to the ECS",
			  CSMS_METADATA_NO_AGENCY);
		return -EACCES;
	}
	if (resp->status != 200) {
		csms_errf(f->err, f->errlen, "metadata service %s: %s answered HTTP %ld",
			  f->cfg->metadata_url, what, resp->status);
		return -EIO;
	}
	return 0;
}

/* The session token step: a token, none (404, 405, 503: the service has no such step), or
 * a failure (a timeout included: no quiet fallback, as in the SDKs). */
static int session_token(struct fetch *f)
{
	struct csms_http_response resp;
	int rc = 0;

	f->token[0] = '\0';
	call(f, "PUT", TOKEN_PATH, "X-Metadata-Token-Ttl-Seconds: 21600", &resp);
	if (resp.result == CSMS_HTTP_OK &&
	    (resp.status == 404 || resp.status == 405 || resp.status == 503))
		goto out;
	rc = failed(f, "the token request (PUT " TOKEN_PATH ")", &resp);
	if (rc != 0)
		goto out;
	if (!csms_printable_valid(resp.body, resp.body_len, TOKEN_MAX)) {
		csms_errf(f->err, f->errlen, "metadata service: the session token is malformed");
		rc = -EBADMSG;
		goto out;
	}
	memcpy(f->token, resp.body, resp.body_len);
	f->token[resp.body_len] = '\0';
out:
	if (resp.body != NULL)
		explicit_bzero(resp.body, resp.body_len);
	csms_http_response_free(&resp);
	return rc;
}

/* GET path with the token; a 401 that is not the agency error gets one new token (it may
 * have expired), as the SDKs do. The body stays in resp for the caller. */
static int get(struct fetch *f, const char *what, const char *path, struct csms_http_response *resp)
{
	call(f, "GET", path, NULL, resp);
	if (resp->result == CSMS_HTTP_OK && resp->status == 401 && f->token[0] != '\0' &&
	    (resp->body == NULL || strstr(resp->body, CSMS_METADATA_NO_AGENCY) == NULL)) {
		int rc;

		csms_http_response_free(resp);
		rc = session_token(f);
		if (rc != 0)
			return rc;
		call(f, "GET", path, NULL, resp);
	}
	return failed(f, what, resp);
}

int csms_metadata_fetch(const struct csms_config *cfg, bool want_project, const char *ca,
			size_t ca_len, int64_t deadline_ms, struct csms_credentials *c, char *err,
			size_t errlen)
{
	struct fetch f = {
		.cfg = cfg,
		.ca = ca,
		.ca_len = ca_len,
		.deadline_ms = deadline_ms,
		.err = err,
		.errlen = errlen,
	};
	struct csms_http_response resp = { 0 };
	char why[CSMS_ERRLEN];
	int rc;

	memset(c, 0, sizeof(*c));
	c->kind = CSMS_AUTH_METADATA;
	rc = session_token(&f);
	if (rc != 0)
		goto out;
	rc = get(&f, "GET " KEY_PATH, KEY_PATH, &resp);
	if (rc == 0) {
		rc = csms_metadata_parse_securitykey(resp.body, resp.body_len, c, why, sizeof(why));
		if (rc == -EBADMSG)
			csms_errf(err, errlen, "metadata service: securitykey: %s", why);
		else if (rc != 0)
			csms_errf(err, errlen, "out of memory");
	}
	if (resp.body != NULL)
		explicit_bzero(resp.body, resp.body_len);
	csms_http_response_free(&resp);
	if (rc != 0 || !want_project)
		goto out;
	rc = get(&f, "GET " META_PATH, META_PATH, &resp);
	if (rc == 0) {
		rc = csms_metadata_parse_project(resp.body, resp.body_len, c->project_id, why,
						 sizeof(why));
		if (rc != 0)
			csms_errf(err, errlen, "metadata service: %s", why);
	}
	csms_http_response_free(&resp);
out:
	explicit_bzero(f.token, sizeof(f.token));
	if (rc != 0) {
		csms_credentials_free(c);
		c->kind = CSMS_AUTH_METADATA;
		return rc;
	}
	c->asked_ms = csms_wall_ms();
	csms_errf(c->source, sizeof(c->source), "the metadata service %s", cfg->metadata_url);
	return 0;
}
