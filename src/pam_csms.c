/* The PAM adapter: gather items and arguments, run the check, map the verdict, log once. */
#include "buildconf.h"

#include "config.h"
#include "decision.h"
#include "util.h"
#include "verdict.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_ACCOUNT
#define PAM_SM_AUTH
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#define EXPORT __attribute__((visibility("default")))

enum hook { HOOK_ACCOUNT, HOOK_AUTH };

static int user_in_group(void *ctx, const char *user, const char *group)
{
	return pam_modutil_user_in_group_nam_nam(ctx, user, group) ? 1 : 0;
}

static void short_hostname(char *buf, size_t len)
{
	char *dot;

	if (gethostname(buf, len) != 0)
		buf[0] = '\0';
	buf[len - 1] = '\0';
	dot = strchr(buf, '.');
	if (dot != NULL)
		*dot = '\0';
}

/* The one place a verdict becomes a PAM code. */
static int verdict_to_pam(const struct csms_verdict *v, enum hook hook)
{
	switch (v->decision) {
	case CSMS_DECISION_PERMIT:
		return PAM_SUCCESS;
	case CSMS_DECISION_DENY:
		return hook == HOOK_ACCOUNT ? PAM_PERM_DENIED : PAM_AUTH_ERR;
	case CSMS_DECISION_IGNORE:
	case CSMS_DECISION_BYPASS:
	case CSMS_DECISION_FAIL_OPEN:
		return PAM_IGNORE;
	case CSMS_DECISION_UNAVAILABLE:
		return PAM_AUTHINFO_UNAVAIL;
	case CSMS_DECISION_ERROR:
		return v->reason == CSMS_REASON_MEMORY ? PAM_BUF_ERR : PAM_SERVICE_ERR;
	}
	return PAM_SERVICE_ERR;
}

static int log_priority(const struct csms_verdict *v)
{
	switch (v->decision) {
	case CSMS_DECISION_PERMIT:
	case CSMS_DECISION_IGNORE:
		return LOG_INFO;
	case CSMS_DECISION_DENY:
	case CSMS_DECISION_BYPASS:
		return LOG_NOTICE;
	case CSMS_DECISION_UNAVAILABLE:
	case CSMS_DECISION_FAIL_OPEN:
		return LOG_WARNING;
	case CSMS_DECISION_ERROR:
		break;
	}
	return LOG_ERR;
}

static int run_check(pam_handle_t *pamh, int flags, int argc, const char **argv, enum hook hook)
{
	struct csms_config cfg;
	struct csms_verdict v;
	struct csms_request rq;
	const char *user = NULL;
	const void *item = NULL;
	const char *service = NULL;
	char host[256], line[4096], err[CSMS_ERRLEN];
	int64_t start = csms_now_ms();
	int rc, pam_rc;

	csms_verdict_init(&v);
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS)
		service = item;
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS)
		user = NULL;

	rc = csms_config_init(&cfg);
	if (rc == 0)
		rc = csms_config_load(&cfg, service, argc, argv, err, sizeof(err));
	if (rc != 0) {
		/* a config error never fails open, whatever fail_mode says */
		csms_verdict_set_error(&v, rc, rc == -ENOMEM ? "out of memory" : err);
		v.ms = csms_now_ms() - start;
	} else {
		const struct passwd *pw = user ? pam_modutil_getpwnam(pamh, user) : NULL;
		/* NSS is asked for the group only when a template needs it: a cache hit pays
		 * one lookup, not two */
		const struct group *gr = pw && csms_config_needs_group(&cfg)
						 ? pam_modutil_getgrgid(pamh, pw->pw_gid)
						 : NULL;

		short_hostname(host, sizeof(host));
		rq = (struct csms_request){
			.cfg = &cfg,
			.user = user,
			.service = service,
			.host = host,
			.account_name = pw ? pw->pw_name : NULL,
			.group = gr ? gr->gr_name : NULL,
			.in_group = user_in_group,
			.group_ctx = pamh,
			.start_ms = start,
		};
		csms_decide(&rq, &v);
	}

	pam_rc = verdict_to_pam(&v, hook);
	csms_verdict_format(&v, user, service, line, sizeof(line));
	pam_syslog(pamh, log_priority(&v), "%s", line);
	if (rc == 0 && cfg.debug && v.trace[0] != '\0')
		pam_syslog(pamh, LOG_DEBUG, "debug: endpoint=%s attempts: %s", cfg.endpoint,
			   v.trace);
	if (rc == 0 && v.decision == CSMS_DECISION_DENY && cfg.deny_message != NULL &&
	    cfg.deny_message[0] != '\0' && !(flags & PAM_SILENT))
		(void)pam_error(pamh, "%s", cfg.deny_message);

	csms_verdict_free(&v);
	csms_config_free(&cfg);
	return pam_rc;
}

EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run_check(pamh, flags, argc, argv, HOOK_ACCOUNT);
}

EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run_check(pamh, flags, argc, argv, HOOK_AUTH);
}

EXPORT int pam_sm_setcred(pam_handle_t *pamh UNUSED, int flags UNUSED, int argc UNUSED,
			  const char **argv UNUSED)
{
	return PAM_SUCCESS;
}

EXPORT int pam_sm_open_session(pam_handle_t *pamh UNUSED, int flags UNUSED, int argc UNUSED,
			       const char **argv UNUSED)
{
	return PAM_IGNORE;
}

EXPORT int pam_sm_close_session(pam_handle_t *pamh UNUSED, int flags UNUSED, int argc UNUSED,
				const char **argv UNUSED)
{
	return PAM_IGNORE;
}

EXPORT int pam_sm_chauthtok(pam_handle_t *pamh UNUSED, int flags UNUSED, int argc UNUSED,
			    const char **argv UNUSED)
{
	return PAM_IGNORE;
}
