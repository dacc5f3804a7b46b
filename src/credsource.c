/* Where one check's credentials come from: the token file, the credentials file, or the ECS
 * metadata service, whose temporary keys are kept in cache_dir and shared between checks. */
#include "buildconf.h"

#include "credsource.h"
#include "metadata.h"
#include "token.h"
#include "util.h"

#include <errno.h>
#include <string.h>

struct ask {
	const struct csms_config *cfg;
	const struct csms_cache *cache;
	bool need_project;
	const char *ca;
	size_t ca_len;
	int64_t deadline_ms;
	int64_t now; /* wall clock */
};

static bool fresh(const struct ask *a, const struct csms_credentials *c)
{
	return c->expires_ms - a->now >= CSMS_CREDS_REFRESH_MS;
}

static bool usable(const struct ask *a, const struct csms_credentials *c)
{
	return c->expires_ms - a->now > CSMS_CREDS_MIN_LEFT_MS;
}

/* Good enough not to ask the service now: plenty left, or some left and asked lately. */
static bool good_enough(const struct ask *a, const struct csms_credentials *c)
{
	return fresh(a, c) || (usable(a, c) && a->now - c->asked_ms < CSMS_CREDS_ASK_EVERY_MS);
}

/* What cache_dir holds, if it will do for this check (the project id too, when needed). */
static bool kept(const struct ask *a, struct csms_credentials *c)
{
	if (csms_cache_creds_get(a->cache, a->cfg->metadata_url, c) != 0)
		return false;
	if (a->need_project && c->project_id[0] == '\0') {
		csms_credentials_free(c);
		return false;
	}
	return true;
}

static void take(struct csms_credentials *dst, struct csms_credentials *src)
{
	csms_credentials_free(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

static int from_metadata(const struct ask *a, struct csms_credentials *c, char *err, size_t errlen)
{
	struct csms_credentials old = { 0 }, got = { 0 };
	bool have = kept(a, &old), writer = a->cache->writer && a->cache->dirfd >= 0;
	int lock = -1, rc;

	if (have && good_enough(a, &old)) {
		take(c, &old);
		return 0;
	}
	if (writer) {
		/* with keys still good, no one waits: a check that finds the lock taken signs
		 * with those; with none, the others wait for the one fetching */
		bool wait = !(have && usable(a, &old));

		lock = csms_cache_creds_lock(a->cache, a->cfg->metadata_url, wait, a->deadline_ms);
		if (lock == -EWOULDBLOCK && !wait) {
			take(c, &old);
			return 0;
		}
		csms_credentials_free(&old);
		have = kept(a, &old); /* what the check that held the lock wrote */
		if (have && good_enough(a, &old)) {
			csms_cache_creds_unlock(lock);
			take(c, &old);
			return 0;
		}
	}
	rc = csms_metadata_fetch(a->cfg, a->need_project, a->ca, a->ca_len, a->deadline_ms, &got,
				 err, errlen);
	if (rc == 0) {
		if (writer)
			(void)csms_cache_creds_put(a->cache, a->cfg->metadata_url, &got);
		take(c, &got);
	} else if (rc != -ENOMEM && rc != -ELIBACC && rc != -EPERM && have && usable(a, &old)) {
		/* the service failed, the keys kept are still good: use them, and ask again in a
		 * minute rather than at every login (not when nothing could be asked: libcurl
		 * refused or unusable fails ShowSecret the same way, and is tried once) */
		old.asked_ms = a->now;
		if (writer)
			(void)csms_cache_creds_put(a->cache, a->cfg->metadata_url, &old);
		take(c, &old);
		rc = 0;
	}
	csms_cache_creds_unlock(lock);
	csms_credentials_free(&old);
	return rc;
}

int csms_credentials_get(const struct csms_config *cfg, const struct csms_cache *cache,
			 bool need_project, const char *ca, size_t ca_len, int64_t deadline_ms,
			 struct csms_credentials *c, char *err, size_t errlen)
{
	struct ask a = {
		.cfg = cfg,
		.cache = cache,
		.need_project = need_project,
		.ca = ca,
		.ca_len = ca_len,
		.deadline_ms = deadline_ms,
		.now = csms_wall_ms(),
	};
	int rc;

	memset(c, 0, sizeof(*c));
	c->kind = cfg->auth;
	switch (cfg->auth) {
	case CSMS_AUTH_TOKEN:
		rc = csms_token_read(cfg->token_file, &c->token, &c->token_len, err, errlen);
		if (rc == 0)
			csms_errf(c->source, sizeof(c->source), "token_file %s", cfg->token_file);
		return rc;
	case CSMS_AUTH_AKSK:
		return csms_credentials_file_read(cfg->credentials_file, c, err, errlen);
	case CSMS_AUTH_METADATA:
		break;
	}
	rc = from_metadata(&a, c, err, errlen);
	c->kind = CSMS_AUTH_METADATA;
	return rc;
}
