/* The ShowSecret request, built in one place from the config: URL, credentials, TLS, budget. */
#include "buildconf.h"

#include "showsecret.h"
#include "sign.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTH_PREFIX "Authorization: "

void csms_endpoint_host(const char *endpoint, char *out, size_t len)
{
	const char *h = strncmp(endpoint, "https://", 8) == 0 ? endpoint + 8 : endpoint;
	size_t n = strlen(h);

	if (n > 4 && strcmp(h + n - 4, ":443") == 0)
		n -= 4;
	snprintf(out, len, "%.*s", (int)n, h);
}

static char *header_line(const char *name, const char *value, size_t vlen)
{
	size_t n = strlen(name) + 2 + vlen + 1;
	char *line = malloc(n);

	if (line != NULL)
		snprintf(line, n, "%s: %.*s", name, (int)vlen, value);
	return line;
}

static void wipe_line(char **line)
{
	if (*line != NULL) {
		explicit_bzero(*line, strlen(*line));
		free(*line);
	}
	*line = NULL;
}

/* The lines of one attempt: the token as it is, or a signature made now. */
static int attempt_lines(void *ctx, const char *const **lines)
{
	struct csms_showsecret *q = ctx;
	const struct csms_credentials *c = q->cred;
	struct csms_sign_header h[4];
	struct csms_sign_request rq;
	char date[CSMS_SIGN_DATE_LEN + 1];
	size_t n = 0, l = 0;
	int rc;

	if (c->kind == CSMS_AUTH_TOKEN) {
		q->lines[l++] = q->token_line;
		q->lines[l] = NULL;
		*lines = q->lines;
		return 0;
	}
	/* a fresh date for every attempt: a retry must not carry a stale one */
	csms_sign_date((int64_t)time(NULL), date);
	h[n++] = (struct csms_sign_header){ "Host", q->host };
	h[n++] = (struct csms_sign_header){ "X-Project-Id", q->project_id };
	h[n++] = (struct csms_sign_header){ "X-Sdk-Date", date };
	if (c->security_token != NULL)
		h[n++] = (struct csms_sign_header){ "X-Security-Token", c->security_token };
	rq = (struct csms_sign_request){
		.method = "GET", .path = q->path, .headers = h, .nheaders = n
	};
	memcpy(q->auth_line, AUTH_PREFIX, sizeof(AUTH_PREFIX));
	rc = csms_sign_authorization(c->access_key, c->secret_key, c->secret_key_len, date, &rq,
				     q->auth_line + sizeof(AUTH_PREFIX) - 1,
				     sizeof(q->auth_line) - sizeof(AUTH_PREFIX) + 1);
	if (rc != 0)
		return rc;
	snprintf(q->date_line, sizeof(q->date_line), "X-Sdk-Date: %s", date);
	q->lines[l++] = q->host_line;
	q->lines[l++] = q->project_line;
	q->lines[l++] = q->date_line;
	if (q->security_line != NULL)
		q->lines[l++] = q->security_line;
	q->lines[l++] = q->auth_line;
	q->lines[l] = NULL;
	*lines = q->lines;
	return 0;
}

int csms_showsecret_build(struct csms_showsecret *q, const struct csms_config *cfg,
			  const char *project_id, const char *secret,
			  const struct csms_credentials *cred, const char *ca, size_t ca_len,
			  int64_t deadline_ms, int retries)
{
	int n;

	memset(q, 0, sizeof(*q));
	n = snprintf(q->path, sizeof(q->path), "/v1/%s/secrets/%s", project_id, secret);
	if (n < 0 || (size_t)n >= sizeof(q->path))
		return -ENAMETOOLONG;
	n = snprintf(q->url, sizeof(q->url), "%s%s", cfg->endpoint, q->path);
	if (n < 0 || (size_t)n >= sizeof(q->url))
		return -ENAMETOOLONG;
	q->cred = cred;
	q->project_id = project_id;
	csms_endpoint_host(cfg->endpoint, q->host, sizeof(q->host));
	if (cred->kind == CSMS_AUTH_TOKEN) {
		q->token_line = header_line("X-Auth-Token", cred->token, cred->token_len);
		if (q->token_line == NULL)
			return -ENOMEM;
	} else {
		/* sent exactly as signed: the Host libcurl would send, set so it cannot differ */
		snprintf(q->host_line, sizeof(q->host_line), "Host: %s", q->host);
		snprintf(q->project_line, sizeof(q->project_line), "X-Project-Id: %s", project_id);
		if (cred->security_token != NULL) {
			q->security_line = header_line("X-Security-Token", cred->security_token,
						       cred->security_token_len);
			if (q->security_line == NULL)
				return -ENOMEM;
		}
	}
	q->http = (struct csms_http_request){
		.url = q->url,
		.accept = "application/json",
		.headers = attempt_lines,
		.headers_ctx = q,
		.ca_blob = ca,
		.ca_blob_len = ca_len,
		.ca_path = cfg->ca_path,
		.proxy = cfg->proxy,
		.deadline_ms = deadline_ms,
		.connect_timeout_ms = cfg->connect_timeout_ms,
		.retries = retries,
	};
	return 0;
}

void csms_showsecret_free(struct csms_showsecret *q)
{
	wipe_line(&q->token_line);
	wipe_line(&q->security_line);
	explicit_bzero(q->auth_line, sizeof(q->auth_line));
}
