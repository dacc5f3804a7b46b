/* The ShowSecret request, built in one place from the config: URL, credentials, TLS, budget. */
#ifndef CSMS_SHOWSECRET_H
#define CSMS_SHOWSECRET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"

/* https:// + a 253-byte host + :65535, /v1/ + 64, /secrets/ + 64, with room to spare */
#define CSMS_URL_MAX 512

struct csms_showsecret {
	char url[CSMS_URL_MAX];
	struct csms_http_request http; /* http.url points into this struct: do not copy it */
};

/*
 * GET {endpoint}/v1/{project_id}/secrets/{secret} with the token, the CA bundle `ca` already
 * read and checked (csms_ca_load), the config's proxy and connect_timeout, `retries` and the
 * absolute deadline (csms_now_ms's clock). Returns 0, or -ENAMETOOLONG if the URL would not
 * fit (it always does for names that pass csms_secret_name_valid).
 */
int csms_showsecret_build(struct csms_showsecret *q, const struct csms_config *cfg,
			  const char *secret, const char *token, const char *ca, size_t ca_len,
			  int64_t deadline_ms, int retries);

#endif
