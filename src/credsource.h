/* Where one check's credentials come from: the token file, the credentials file, or the ECS
 * metadata service, whose temporary keys are kept in cache_dir and shared between checks. */
#ifndef CSMS_CREDSOURCE_H
#define CSMS_CREDSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"
#include "credentials.h"

/* Temporary keys are asked for again once less than this is left (Huawei rotates them
 * about 10 minutes before they expire, and both are good meanwhile). */
#define CSMS_CREDS_REFRESH_MS ((int64_t)15 * 60 * 1000)
/* Never signed with once less than this is left: the clocks may differ a little. */
#define CSMS_CREDS_MIN_LEFT_MS ((int64_t)60 * 1000)
/* While the service keeps giving the same ones, it is asked at most this often. */
#define CSMS_CREDS_ASK_EVERY_MS ((int64_t)60 * 1000)

/*
 * The credentials for cfg->auth into *c. With auth=metadata, need_project asks for the
 * instance's project id too (the config has none); `cache` (open, or with dirfd -1) keeps
 * the temporary keys between checks and serialises fetching them: when they have run out,
 * one check asks the service and the others wait for its answer, within the deadline. A
 * setuid caller's cache (a reader) is read but never written. Returns 0; -ENOMEM; for the
 * token and credentials files their error (a local fault); for the metadata service
 * -EIO, -EACCES or -EBADMSG (csms_metadata_fetch: the instance cannot reach its keys),
 * -EADDRINUSE (its loopback port held by another user), or -EPERM (SSLKEYLOGFILE) and
 * -ELIBACC (libcurl) when nothing could be asked. The
 * cause is in err; c->source says where they came from.
 */
int csms_credentials_get(const struct csms_config *cfg, const struct csms_cache *cache,
			 bool need_project, const char *ca, size_t ca_len, int64_t deadline_ms,
			 struct csms_credentials *c, char *err, size_t errlen);

#endif
