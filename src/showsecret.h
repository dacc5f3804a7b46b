/* The ShowSecret request, built in one place from the config: URL, credentials, TLS, budget. */
#ifndef CSMS_SHOWSECRET_H
#define CSMS_SHOWSECRET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "credentials.h"
#include "http.h"

/* https:// + a 253-byte host + :65535, /v1/ + 64, /secrets/ + 64, with room to spare */
#define CSMS_URL_MAX 512
#define CSMS_AUTHORIZATION_MAX 512

struct csms_showsecret {
	char url[CSMS_URL_MAX];
	struct csms_http_request http; /* http.url points into this struct: do not copy it */
	/* what each attempt sends (csms_showsecret_headers) */
	const struct csms_credentials *cred;
	char path[CSMS_URL_MAX];
	char host[300];
	const char *project_id;
	char *token_line;    /* "X-Auth-Token: ..." */
	char *security_line; /* "X-Security-Token: ..." */
	char host_line[320], project_line[96], date_line[48];
	char auth_line[CSMS_AUTHORIZATION_MAX];
	const char *lines[6];
};

/*
 * GET {endpoint}/v1/{project_id}/secrets/{secret} with the credentials (an IAM token sent as
 * X-Auth-Token, or an access key that signs each attempt afresh: Host, X-Project-Id,
 * X-Sdk-Date and X-Security-Token when there is one), the CA bundle `ca` already read and
 * checked (csms_ca_load), the config's proxy and connect_timeout, `retries` and the absolute
 * deadline (csms_now_ms's clock). `project_id` is the config's or the instance's. Returns 0,
 * -ENOMEM, or -ENAMETOOLONG if the URL would not fit (it always does for valid names).
 * The credentials must outlive q; csms_showsecret_free wipes what it copied of them.
 */
int csms_showsecret_build(struct csms_showsecret *q, const struct csms_config *cfg,
			  const char *project_id, const char *secret,
			  const struct csms_credentials *cred, const char *ca, size_t ca_len,
			  int64_t deadline_ms, int retries);
void csms_showsecret_free(struct csms_showsecret *q);

/* The Host header for endpoint https://host[:port]: host, and the port unless it is 443
 * (what libcurl would send, and so what is signed). */
void csms_endpoint_host(const char *endpoint, char *out, size_t len);

#endif
