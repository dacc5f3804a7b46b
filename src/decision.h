/* The check itself: bypass, secret names, credentials, ShowSecret for each, the answers ->
 * one verdict. No PAM here. */
#ifndef CSMS_DECISION_H
#define CSMS_DECISION_H

#include <stdbool.h>

#include "config.h"
#include "verdict.h"

struct csms_request {
	const struct csms_config *cfg;
	const char *user;    /* may be NULL: then the name is invalid */
	const char *service; /* PAM service, for %s */
	const char *host;    /* short host name, for %h */
	const char *group;   /* the user's primary group name, for %g; NULL if none */
	/* the name the account database gives this user, or NULL if it has none */
	const char *account_name;
	/* 1 if user is a member of group, 0 if not, negative on lookup failure */
	int (*in_group)(void *ctx, const char *user, const char *group);
	void *group_ctx;
	bool want_metadata;
	bool no_cache;    /* csms-check --no-cache: ask CSMS, leave cache_dir alone */
	int64_t start_ms; /* csms_now_ms() when the hook started; 0: now */
};

/* Decide for one user: permit only when every secret the config names is ENABLED. Never
 * fails: every problem becomes a verdict with its reason. */
void csms_decide(const struct csms_request *rq, struct csms_verdict *v);

#endif
