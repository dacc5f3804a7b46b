/* The ShowSecret request, built in one place from the config: URL, credentials, TLS, budget. */
#include "buildconf.h"

#include "showsecret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int csms_showsecret_build(struct csms_showsecret *q, const struct csms_config *cfg,
			  const char *secret, const char *token, const char *ca, size_t ca_len,
			  int64_t deadline_ms, int retries)
{
	int n;

	memset(q, 0, sizeof(*q));
	n = snprintf(q->url, sizeof(q->url), "%s/v1/%s/secrets/%s", cfg->endpoint, cfg->project_id,
		     secret);
	if (n < 0 || (size_t)n >= sizeof(q->url))
		return -ENAMETOOLONG;
	q->http = (struct csms_http_request){
		.url = q->url,
		.token = token,
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
