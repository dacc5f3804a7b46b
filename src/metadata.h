/* The ECS metadata service: temporary AK/SK (/openstack/latest/securitykey) and the
 * instance's project id (/openstack/latest/meta_data.json), with the optional session
 * token step first (PUT /meta-data/latest/api/token). */
#ifndef CSMS_METADATA_H
#define CSMS_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "credentials.h"

/* Each call's limit, as the SDKs have it; always within the check's one budget. */
#define CSMS_METADATA_CALL_MS 3000
/* What the agency error's body says (the SDKs look for the same words). */
#define CSMS_METADATA_NO_AGENCY "Please configure Cloud Service Agency first"

/*
 * Ask the service at cfg->metadata_url for temporary credentials and, with want_project,
 * the project id, before the absolute deadline (csms_now_ms's clock). Returns 0 with *c
 * filled (kind metadata, asked now); -ENOMEM; -EACCES when no agency is bound to the
 * instance; -EBADMSG for a malformed reply; -EIO for anything else (unreachable, a timeout,
 * an unexpected status), the cause in err. Nothing is asked, as for ShowSecret, when
 * SSLKEYLOGFILE is set (-EPERM) or libcurl cannot be loaded or started (-ELIBACC), nor when
 * the service is on a loopback port another user holds (-EADDRINUSE, src/peer.c). A
 * timeout of the token step is a failure, as in the SDKs; 404, 405 and 503 there mean "no
 * token", and the calls go on without one.
 */
int csms_metadata_fetch(const struct csms_config *cfg, bool want_project, const char *ca,
			size_t ca_len, int64_t deadline_ms, struct csms_credentials *c, char *err,
			size_t errlen);

/* {"credential":{"access":..,"secret":..,"securitytoken":..,"expires_at":..}}, strictly. */
int csms_metadata_parse_securitykey(const char *body, size_t len, struct csms_credentials *c,
				    char *err, size_t errlen);

/* meta_data.json's "project_id", [A-Za-z0-9_-]{1,64}. */
int csms_metadata_parse_project(const char *body, size_t len, char out[CSMS_PROJECT_ID_MAX + 1],
				char *err, size_t errlen);

/* "2020-01-08T03:50:07Z", with or without a fraction of a second, UTC, as milliseconds
 * since the epoch; -1 if it is not that. */
int64_t csms_iso8601_ms(const char *s);

#endif
