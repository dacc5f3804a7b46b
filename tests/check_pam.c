/*
 * The decision table through real libpam (pam_start_confdir), for the account and the
 * auth hook, against the TLS stand-in: PAM code, log fields, requests the server saw.
 */
#include "buildconf.h"

#include "testlib.h"

#include <check.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct row {
	const char *user; /* stand-in scenario; "-<row><hook>" is appended unless exact */
	bool exact;
	const char *args; /* extra module arguments; @PKI@ is the test PKI directory */
	int acct, auth;
	const char *decision, *reason, *state, *source;
	int requests; /* what the stand-in must have seen; -1: not checked */
};

#define PERMIT PAM_SUCCESS, PAM_SUCCESS, "permit"
#define DENY PAM_PERM_DENIED, PAM_AUTH_ERR, "deny"
#define IGNORE(d) PAM_IGNORE, PAM_IGNORE, d
#define UNAVAIL PAM_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL, "unavailable"
#define ERROR PAM_SERVICE_ERR, PAM_SERVICE_ERR, "error"

static const struct row rows[] = {
	/* the secret's state decides */
	{ "enabled", false, "", PERMIT, "state", "ENABLED", "api", 1 },
	{ "disabled", false, "", DENY, "state", "DISABLED", "api", 1 },
	{ "frozen", false, "", DENY, "state", "FROZEN", "api", 1 },
	{ "pendingdel", false, "", DENY, "state", "PENDING_DELETE", "api", 1 },
	{ "unknownstate", false, "", DENY, "state", "SUSPENDED", "api", 1 },
	{ "lowerenabled", false, "", DENY, "state", "enabled", "api", 1 },
	{ "nulbyte", false, "", DENY, "state", "ENABLED\\x00X", "api", 1 },
	{ "nostate", false, "", DENY, "state", "-", "api", 1 },
	{ "nullstate", false, "", DENY, "state", "-", "api", 1 },
	{ "numstate", false, "", DENY, "state", "-", "api", 1 },
	{ "escstate", false, "", PERMIT, "state", "ENABLED", "api", 1 },
	{ "uppertype", false, "", PERMIT, "state", "ENABLED", "api", 1 },
	{ "exact64k", false, "", PERMIT, "state", "ENABLED", "api", 1 },
	/* the secret does not exist */
	{ "nf404", false, "", DENY, "not_found", "-", "api", 1 },
	{ "nf0106", false, "", DENY, "not_found", "-", "api", 1 },
	{ "nf0005", false, "", DENY, "not_found", "-", "api", 1 },
	{ "nested0106", false, "", DENY, "not_found", "-", "api", 1 },
	{ "nf404", false, "on_missing=ignore", IGNORE("ignore"), "not_found", "-", "api", 1 },
	/* a 404 from the gateway (wrong project_id) is not "no such secret" */
	{ "enabled", false, "project_id=wrong-project on_missing=ignore", UNAVAIL, "http", "-",
	  "api", -1 },
	{ "nf0106", false, "on_missing=ignore", IGNORE("ignore"), "not_found", "-", "api", 1 },
	/* scheduled for deletion: as PENDING_DELETE */
	{ "sched0103", false, "", DENY, "state", "PENDING_DELETE", "api", 1 },
	{ "sched0107", false, "", DENY, "state", "PENDING_DELETE", "api", 1 },
	{ "sched0103", false, "on_missing=ignore", DENY, "state", "PENDING_DELETE", "api", 1 },
	/* names that are never sent */
	{ "..", true, "", DENY, "invalid_name", "-", "none", 0 },
	{ ".", true, "", DENY, "invalid_name", "-", "none", 0 },
	{ "a/b", true, "", DENY, "invalid_name", "-", "none", 0 },
	{ "../enabled", true, "", DENY, "invalid_name", "-", "none", 0 },
	{ "%2e%2e", true, "", DENY, "invalid_name", "-", "none", 0 },
	{ "enabled x", true, "", DENY, "invalid_name", "-", "none", 0 },
	{ "enabled\n", true, "", DENY, "invalid_name", "-", "none", 0 },
	{ "", true, "", DENY, "invalid_name", "-", "none", -1 },
	{ "enabledaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true, "", DENY,
	  "invalid_name", "-", "none", 0 }, /* 65 */
	{ "enabledaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true, "", PERMIT,
	  "state", "ENABLED", "api", 1 }, /* 64 */
	{ "enabled", true, "secret=x%uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	  DENY, "invalid_name", "-", "none", 0 },
	/* bypass: no request at all */
	{ "disabled-bypass", true, "bypass_users=someone,disabled-bypass", IGNORE("bypass"),
	  "bypass", "-", "none", 0 },
	{ "root", true, "bypass_groups=nogroup,root", IGNORE("bypass"), "bypass", "-", "none", 0 },
	{ "root", true, "secret=%u-nobypass", DENY, "state", "DISABLED", "api",
	  1 }, /* no pass for root */
	{ "disabled-nobypass", true, "bypass_groups=nogroup", DENY, "state", "DISABLED", "api", 1 },
	/* CSMS cannot answer */
	{ "enabled", false, "endpoint=https://127.0.0.1:1", UNAVAIL, "network", "-", "api", 0 },
	{ "enabled", false, "endpoint=https://127.0.0.1:1 fail_mode=open", IGNORE("fail_open"),
	  "network", "-", "api", 0 },
	/* a 70-byte label: the resolver refuses it locally, no query leaves the machine */
	{ "enabled", false,
	  "endpoint=https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
	  UNAVAIL, "network", "-", "api", 0 },
	{ "enabled", false, "ca_file=@PKI@/other-ca.pem", UNAVAIL, "tls", "-", "api", 0 },
	{ "slowhdr3", false, "timeout=1s", UNAVAIL, "timeout", "-", "api", 1 },
	{ "unauth", false, "", UNAVAIL, "credentials_rejected", "-", "api", 1 },
	{ "forbidden", false, "", UNAVAIL, "credentials_rejected", "-", "api", 1 },
	{ "unauth", false, "fail_mode=open", IGNORE("fail_open"), "credentials_rejected", "-",
	  "api", 1 },
	{ "throttle", false, "retries=1", UNAVAIL, "throttled", "-", "api", 2 },
	{ "throttlebig", false, "", UNAVAIL, "throttled", "-", "api", 1 },
	{ "throttleonce", false, "", PERMIT, "state", "ENABLED", "api", 2 },
	{ "err500", false, "retries=1", UNAVAIL, "http", "-", "api", 2 },
	{ "err502", false, "retries=0", UNAVAIL, "http", "-", "api", 1 },
	{ "err503", false, "retries=2", UNAVAIL, "http", "-", "api", 3 },
	{ "err504", false, "retries=0 fail_mode=open", IGNORE("fail_open"), "http", "-", "api", 1 },
	{ "flaky503", false, "", PERMIT, "state", "ENABLED", "api", 2 },
	{ "bad400", false, "", UNAVAIL, "http", "-", "api", 1 },
	{ "redirect", false, "", UNAVAIL, "http", "-", "api", 1 },
	{ "redirect301", false, "", UNAVAIL, "http", "-", "api", 1 },
	{ "garbage", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "trailing", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "wrongname", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "noname", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "nosecret", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "arraytop", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "emptybody", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "truncjson", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "deep", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "big", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "over64k", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "chunkedbig", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "htmltype", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "notype", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "jsonx", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "gzip", false, "", UNAVAIL, "bad_response", "-", "api", 1 },
	{ "garbage", false, "fail_mode=open", IGNORE("fail_open"), "bad_response", "-", "api", 1 },
	/* config errors never fail open */
	{ "enabled", false, "tmeout=1s", ERROR, "config", "-", "none", 0 },
	{ "enabled", false, "fail_mode=open tmeout=1s", ERROR, "config", "-", "none", 0 },
	{ "enabled", false, "timeout=70s fail_mode=open", ERROR, "config", "-", "none", 0 },
	{ "enabled", false, "auth=kerberos", ERROR, "config", "-", "none", 0 },
	{ "enabled", false, "auth=aksk credentials_file=/nonexistent/credentials fail_mode=open",
	  ERROR, "credentials", "-", "none", 0 },
	{ "enabled", false, "conf=/nonexistent/pam_csms.conf", ERROR, "config", "-", "none", 0 },
	{ "enabled", false, "token_file=/nonexistent/token fail_mode=open", ERROR, "credentials",
	  "-", "none", 0 },
	{ "enabled", false, "ca_file=/nonexistent/ca.pem fail_mode=open", ERROR, "config", "-",
	  "none", 0 },
};

static char *expand_args(const char *conf, const char *args)
{
	const char *pki = t_env("CSMS_TEST_PKI"), *p;
	char *out, *o;
	size_t n = strlen(conf) + strlen(args) * 2 + strlen(pki) * 4 + 16;

	out = malloc(n);
	o = out;
	if (strstr(args, "conf=") == NULL)
		o += sprintf(o, "conf=%s ", conf);
	for (p = args; *p;) {
		if (strncmp(p, "@PKI@", 5) == 0) {
			o += sprintf(o, "%s", pki);
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static void run_row(int i, enum t_op op)
{
	const struct row *r = &rows[i];
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *args = expand_args(conf, r->args);
	char user[256];
	int want = op == T_ACCOUNT ? r->acct : r->auth;
	struct t_pam_result res;
	static const char *const keys[] = { "decision",   "reason",   "user",   "service",
					    "secret",     "state",    "source", "http",
					    "request_id", "attempts", "ms",     NULL };

	if (r->exact)
		snprintf(user, sizeof(user), "%s", r->user);
	else
		snprintf(user, sizeof(user), "%s-%d%c", r->user, i, op == T_ACCOUNT ? 'a' : 'u');
	t_log_reset();
	res = t_pam("csms-test", user, args, op, 0);

	ck_assert_msg(res.rc == want, "row %d %s (%s): PAM code %d (%s), want %d\nlog: %s", i,
		      op == T_ACCOUNT ? "account" : "auth", r->user, res.rc,
		      pam_strerror(NULL, res.rc), want, t_log());
	for (const char *const *k = keys; *k; k++) {
		char *f = t_log_field(*k);

		ck_assert_msg(f != NULL, "row %d: no %s= in log: %s", i, *k, t_log());
		free(f);
	}
	t_assert_log_field("decision", r->decision);
	t_assert_log_field("reason", r->reason);
	t_assert_log_field("state", r->state);
	t_assert_log_field("source", r->source);
	t_assert_log_field("service", "csms-test");
	ck_assert_msg(strstr(t_log(), T_TOKEN_DEFAULT) == NULL, "token in log: %s", t_log());
	ck_assert_msg(strchr(t_log(), '\x1b') == NULL, "raw ESC in log");
	if (r->requests >= 0 && !r->exact)
		ck_assert_msg(t_requests_for(user) == r->requests, "row %d: %d requests, want %d",
			      i, t_requests_for(user), r->requests);
	if (r->requests == 0 && r->exact && user[0] != '\0' && strchr(user, '\n') == NULL &&
	    strchr(user, ' ') == NULL)
		ck_assert_int_eq(t_requests_for(user), 0);
	/* a check always returns within timeout (5 s here, 1 s where set) plus a second */
	ck_assert_msg(res.ms < (strstr(r->args, "timeout=1s") ? 2000 : 6000), "row %d: %ld ms", i,
		      res.ms);
	free(args);
	free(conf);
	free(dir);
}

START_TEST(t_account)
{
	run_row(_i, T_ACCOUNT);
}
END_TEST

START_TEST(t_auth)
{
	run_row(_i, T_AUTH);
}
END_TEST

/* What reached the server: the path, the token header, nothing else of ours. */
START_TEST(t_request_shape)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *args, *h;
	struct t_pam_result res;

	if (asprintf(&args, "conf=%s secret=%%u-x", conf) < 0)
		abort();
	res = t_pam("sshd", "enabled-shape", args, T_ACCOUNT, 0);
	ck_assert_int_eq(res.rc, PAM_SUCCESS);
	ck_assert_int_eq(t_requests_for("enabled-shape-x"), 1);
	h = t_last_header("enabled-shape-x", "x-auth-token");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h, T_TOKEN_DEFAULT);
	free(h);
	h = t_last_header("enabled-shape-x", "user-agent");
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(strncmp(h, "pam_csms/", 9) == 0, "%s", h);
	free(h);
	h = t_log_field("secret");
	ck_assert_str_eq(h, "enabled-shape-x");
	free(h);
	h = t_log_field("request_id");
	ck_assert_int_eq(strlen(h), 32);
	free(h);
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* No user name means no check on anyone's behalf, even with a fixed secret name. */
START_TEST(t_no_user)
{
	char *dir = t_scratch(), *conf = t_config(dir, "secret = enabled-role", ""), *args;

	if (asprintf(&args, "conf=%s", conf) < 0)
		abort();
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	t_assert_log_field("reason", "invalid_name");
	ck_assert_int_eq(t_pam("sshd", "someone", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	ck_assert_int_eq(t_requests_for("enabled-role"), 1);
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* [service NAME] sections apply to that PAM service only. */
START_TEST(t_service_section)
{
	char *dir = t_scratch(),
	     *args = t_conf_args(dir, "", "[service sudo]\nsecret = enabled-%u\n");

	ck_assert_int_eq(t_pam("sudo", "svc", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	ck_assert_int_eq(t_requests_for("enabled-svc"), 1);
	ck_assert_int_eq(t_pam("sshd", "svc", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	ck_assert_int_eq(t_requests_for("svc"), 1);
	free(args);
	free(dir);
}
END_TEST

START_TEST(t_deny_message)
{
	char *dir = t_scratch(), *conf = t_config(dir, "deny_message = Switched off in CSMS.", ""),
	     *args;
	struct t_pam_result res;

	if (asprintf(&args, "conf=%s", conf) < 0)
		abort();
	res = t_pam("sshd", "disabled-msg1", args, T_ACCOUNT, 0);
	ck_assert_int_eq(res.rc, PAM_PERM_DENIED);
	ck_assert_str_eq(res.conv, "Switched off in CSMS.");
	res = t_pam("sshd", "disabled-msg2", args, T_ACCOUNT, PAM_SILENT);
	ck_assert_int_eq(res.rc, PAM_PERM_DENIED);
	ck_assert_str_eq(res.conv, "");
	res = t_pam("sshd", "enabled-msg3", args, T_AUTH, 0);
	ck_assert_int_eq(res.rc, PAM_SUCCESS);
	ck_assert_str_eq(res.conv, "");
	res = t_pam("sshd", "disabled-msg4", args, T_AUTH, 0);
	ck_assert_int_eq(res.rc, PAM_AUTH_ERR);
	ck_assert_str_eq(res.conv, "Switched off in CSMS.");
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* The hooks that do no check, through libpam too. */
START_TEST(t_other_hooks)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", "");

	ck_assert_int_eq(t_pam("sshd", "disabled-x", args, T_SETCRED, 0).rc, PAM_SUCCESS);
	ck_assert_int_eq(t_pam("sshd", "disabled-x", args, T_OPEN_SESSION, 0).rc, PAM_IGNORE);
	ck_assert_int_eq(t_pam("sshd", "disabled-x", args, T_CLOSE_SESSION, 0).rc, PAM_IGNORE);
	ck_assert_int_eq(t_pam("sshd", "disabled-x", args, T_CHAUTHTOK, 0).rc, PAM_IGNORE);
	ck_assert_int_eq(t_requests_for("disabled-x"), 0);
	free(args);
	free(dir);
}
END_TEST

/* Credentials and CA problems found on disk. */
START_TEST(t_file_errors)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *token = t_path(dir, "token");
	char *ca = t_path(dir, "garbage.pem"), *args;

	if (asprintf(&args, "conf=%s fail_mode=open", conf) < 0)
		abort();
	ck_assert_int_eq(chmod(token, 0644), 0);
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "enabled-f1", args, T_ACCOUNT, 0).rc, PAM_SERVICE_ERR);
	t_assert_log_field("reason", "credentials");
	ck_assert_msg(strstr(t_log(), token) != NULL, "log does not name the token file");
	ck_assert_int_eq(chmod(token, 0600), 0);
	t_write_str(token, "short\n", 0600);
	ck_assert_int_eq(t_pam("sshd", "enabled-f2", args, T_AUTH, 0).rc, PAM_SERVICE_ERR);
	ck_assert_int_eq(t_requests_for("enabled-f2"), 0);
	free(args);

	t_write_str(token, T_TOKEN_DEFAULT "\n", 0600);
	t_write_str(ca,
		    "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
		    0644);
	if (asprintf(&args, "conf=%s ca_file=%s fail_mode=open", conf, ca) < 0)
		abort();
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "enabled-f3", args, T_ACCOUNT, 0).rc, PAM_SERVICE_ERR);
	t_assert_log_field("reason", "config");
	free(args);
	ck_assert_int_eq(chmod(ca, 0666), 0);
	if (asprintf(&args, "conf=%s ca_file=%s", conf, ca) < 0)
		abort();
	ck_assert_int_eq(t_pam("sshd", "enabled-f4", args, T_ACCOUNT, 0).rc, PAM_SERVICE_ERR);
	free(args);
	free(ca);
	free(token);
	free(conf);
	free(dir);
}
END_TEST

/* The token is re-read at every check: a refreshed file takes effect at once. */
START_TEST(t_token_refresh)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *token = t_path(dir, "token");
	char *next = t_path(dir, "token.new"), *args;

	if (asprintf(&args, "conf=%s", conf) < 0)
		abort();
	ck_assert_int_eq(t_pam("sshd", "enabled-r1", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	t_write_str(next, "a-different-token-that-the-server-rejects\n", 0600);
	ck_assert_int_eq(rename(next, token), 0);
	ck_assert_int_eq(t_pam("sshd", "enabled-r2", args, T_ACCOUNT, 0).rc, PAM_AUTHINFO_UNAVAIL);
	free(args);
	free(next);
	free(token);
	free(conf);
	free(dir);
}
END_TEST

/* Log lines for hostile names are escaped and bounded. */
START_TEST(t_hostile_log)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *args, huge[70000];

	if (asprintf(&args, "conf=%s", conf) < 0)
		abort();
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "a b\x1b[31m\x07%s%n\"'", args, T_ACCOUNT, 0).rc,
			 PAM_PERM_DENIED);
	t_assert_log_field("user", "a\\x20b\\x1b[31m\\x07%s%n\\x22\\x27");
	/* an unauthenticated sshd client picks the name: it must not read as a second field */
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "decision=permit", args, T_AUTH, 0).rc, PAM_AUTH_ERR);
	t_assert_log_field("user", "decision\\x3dpermit");
	t_assert_log_field("decision", "deny");
	ck_assert_msg(strstr(t_log(), "decision=permit") == NULL, "%s", t_log());
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", huge, args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	ck_assert_int_lt(strlen(t_log()), 2048);
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* Config files refused before anything is asked: named twice, or with a control byte. */
START_TEST(t_config_refused)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *base = t_slurp(conf), *args, *text;
	char *bad = t_path(dir, "vt.conf"), *detail;

	if (asprintf(&args, "conf=%s/none-a.conf conf=%s/none-b.conf", dir, dir) < 0)
		abort();
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "enabled-c1", args, T_ACCOUNT, 0).rc, PAM_SERVICE_ERR);
	t_assert_log_field("reason", "config");
	detail = t_log_field("detail");
	ck_assert_msg(detail != NULL && strstr(detail, "given\\x20twice") != NULL &&
			      strstr(detail, "not\\x20found") == NULL,
		      "%s", t_log());
	free(detail);
	free(args);

	/* "\v[csms]:" is a key line to a reader, a section header to inih */
	if (asprintf(&text, "%s[service sshd]\n\v[csms]:\nbypass_users = enabled-c2\n", base) < 0)
		abort();
	t_write_str(bad, text, 0644);
	if (asprintf(&args, "conf=%s fail_mode=open", bad) < 0)
		abort();
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "enabled-c2", args, T_ACCOUNT, 0).rc, PAM_SERVICE_ERR);
	t_assert_log_field("decision", "error");
	detail = t_log_field("detail");
	ck_assert_msg(detail != NULL && strstr(detail, "control\\x20character\\x200x0b") != NULL,
		      "%s", t_log());
	free(detail);
	ck_assert_int_eq(t_requests_for("enabled-c2"), 0);
	free(args);
	free(bad);
	free(text);
	free(base);
	free(conf);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pam");
	TCase *rows_tc = tcase_create("decision table"), *tc = tcase_create("behaviour");
	int n = sizeof(rows) / sizeof(rows[0]);

	tcase_set_timeout(rows_tc, 30);
	tcase_add_loop_test(rows_tc, t_account, 0, n);
	tcase_add_loop_test(rows_tc, t_auth, 0, n);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_request_shape);
	tcase_add_test(tc, t_service_section);
	tcase_add_test(tc, t_no_user);
	tcase_add_test(tc, t_deny_message);
	tcase_add_test(tc, t_other_hooks);
	tcase_add_test(tc, t_file_errors);
	tcase_add_test(tc, t_token_refresh);
	tcase_add_test(tc, t_hostile_log);
	tcase_add_test(tc, t_config_refused);
	suite_add_tcase(s, rows_tc);
	suite_add_tcase(s, tc);
	return t_run(s);
}
