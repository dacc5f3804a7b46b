/*
 * auth=aksk and auth=metadata through real libpam, against the stand-in's gateway, which
 * checks SDK-HMAC-SHA256 signatures itself (tests/csms_standin.py), and its ECS metadata
 * service: PAM codes, log fields and details, and the requests each side saw.
 */
#include "buildconf.h"

#include "testlib.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_PATH "/openstack/latest/securitykey"
#define TOKEN_PATH "/meta-data/latest/api/token"
#define META_PATH "/openstack/latest/meta_data.json"

/* A credentials file and a config that signs with it; extra goes into [csms]. */
static char *aksk_args(const char *dir, const char *ak, const char *sk, const char *token,
		       const char *extra)
{
	char *creds = t_path(dir, "credentials"), *text, *more, *args;

	if (asprintf(&text,
		     "[credentials]\n# written by the test suite\naccess_key = %s\n"
		     "secret_key = %s\n%s%s%s",
		     ak, sk, token ? "security_token = " : "", token ? token : "",
		     token ? "\n" : "") < 0)
		abort();
	t_write_str(creds, text, 0600);
	if (asprintf(&more, "auth = aksk\ncredentials_file = %s\n%s", creds, extra ? extra : "") <
	    0)
		abort();
	args = t_conf_args(dir, more, "");
	free(more);
	free(text);
	free(creds);
	return args;
}

static char *good_aksk(const char *dir, const char *extra)
{
	return aksk_args(dir, t_env("CSMS_TEST_AK"), t_env("CSMS_TEST_SK"), NULL, extra);
}

static void expect(const char *args, const char *user, int rc, const char *decision,
		   const char *reason)
{
	struct t_pam_result r;

	t_log_reset();
	r = t_pam("sshd", user, args, T_ACCOUNT, 0);
	ck_assert_msg(r.rc == rc, "%s: rc %d, want %d\n%s", user, r.rc, rc, t_log());
	t_assert_log_field("decision", decision);
	t_assert_log_field("reason", reason);
}

/* The detail= of the last decision contains want (written with \x20 for spaces). */
static void expect_detail(const char *want)
{
	char *d = t_log_field("detail"), esc[512];
	size_t o = 0;

	for (const char *p = want; *p && o + 5 < sizeof(esc); p++) {
		if (*p == ' ' || *p == '\'' || *p == '=')
			o += (size_t)snprintf(esc + o, sizeof(esc) - o, "\\x%02x", *p);
		else
			esc[o++] = *p;
	}
	esc[o] = '\0';
	ck_assert_msg(d != NULL && strstr(d, esc) != NULL, "detail %s lacks %s", d ? d : "-", esc);
	free(d);
}

static void no_secret_in_log(const char *sk)
{
	ck_assert_msg(strstr(t_log(), sk) == NULL, "the secret key is in the log: %s", t_log());
	ck_assert_msg(strstr(t_log(), "Signature=") == NULL, "a signature is in the log");
}

/* Good keys: permit and deny as the state says, one signed request each, no token. */
START_TEST(t_aksk_decides)
{
	char *dir = t_scratch(), *args = good_aksk(dir, ""), *h;

	expect(args, "enabled-ak1", PAM_SUCCESS, "permit", "state");
	no_secret_in_log(t_env("CSMS_TEST_SK"));
	ck_assert_int_eq(t_requests_for("enabled-ak1"), 1);
	h = t_last_header("enabled-ak1", "authorization");
	ck_assert_msg(h != NULL && strncmp(h, "SDK-HMAC-SHA256 Access=", 23) == 0, "%s", h);
	ck_assert_ptr_nonnull(
		strstr(h, ", SignedHeaders=host;x-project-id;x-sdk-date, Signature="));
	free(h);
	h = t_last_header("enabled-ak1", "x-project-id");
	ck_assert_str_eq(h, t_env("CSMS_STANDIN_PROJECT"));
	free(h);
	h = t_last_header("enabled-ak1", "x-sdk-date");
	ck_assert_msg(h != NULL && strlen(h) == 16 && h[8] == 'T' && h[15] == 'Z', "%s", h);
	free(h);
	ck_assert_ptr_null(t_last_header("enabled-ak1", "x-auth-token"));
	ck_assert_ptr_null(t_last_header("enabled-ak1", "x-security-token"));
	expect(args, "disabled-ak1", PAM_PERM_DENIED, "deny", "state");
	ck_assert_int_eq(t_requests_for("disabled-ak1"), 1);
	free(args);
	free(dir);
}
END_TEST

/* Each way the gateway refuses: never retried (five bad signatures lock a key), one request,
 * and a detail that says which. */
static const struct {
	const char *user, *ak, *sk, *token, *states, *detail;
} refusals[] = {
	{ "enabled-badsk", NULL, "a-wrong-secret-key", NULL, NULL,
	  "signature does not verify: check secret_key" },
	{ "enabled-badak", "NOSUCHACCESSKEY", NULL, NULL, NULL,
	  "unknown access key: check access_key" },
	{ "enabled-notoken", "TESTAKWITHTOKEN", "sk-of-the-temporary-key", NULL, NULL,
	  "the security token is missing, wrong or expired" },
	{ "enabled-wrongtoken", "TESTAKWITHTOKEN", "sk-of-the-temporary-key", "ST-not-this-one",
	  NULL, "the security token is missing, wrong or expired" },
	/* the server's clock is 20 minutes ahead: ours is that much behind */
	{ "enabled-skew", NULL, NULL, NULL, "@skew=1200\n",
	  "the request expired: its X-Sdk-Date is too far from the server's time; the host "
	  "clock is " },
};

/* The detail says the host clock is `want` seconds behind, give or take the second the
 * request may straddle (the server's Date has whole seconds). */
#define BEHIND "s\\x20behind\\x20the\\x20server\\x27s"

static void expect_behind(long want)
{
	char *d = t_log_field("detail"), *p = d ? strstr(d, "clock\\x20is\\x20") : NULL;
	long got = p ? strtol(p + strlen("clock\\x20is\\x20"), &p, 10) : -1;

	ck_assert_msg(p != NULL && got >= want - 1 && got <= want + 1 &&
			      strncmp(p, BEHIND, strlen(BEHIND)) == 0,
		      "detail %s: not %lds behind", d ? d : "-", want);
	free(d);
}

START_TEST(t_aksk_refused)
{
	char *dir = t_scratch(), *args;
	FILE *f = fopen(t_env("CSMS_STANDIN_AKSK"), "ae");

	/* a temporary key the gateway knows with its security token */
	ck_assert_ptr_nonnull(f);
	fprintf(f, "TESTAKWITHTOKEN sk-of-the-temporary-key ST-the-right-one\n");
	fclose(f);
	args = aksk_args(dir, refusals[_i].ak ? refusals[_i].ak : t_env("CSMS_TEST_AK"),
			 refusals[_i].sk ? refusals[_i].sk : t_env("CSMS_TEST_SK"),
			 refusals[_i].token, "retries = 2");
	t_states(refusals[_i].states ? refusals[_i].states : "");
	expect(args, refusals[_i].user, PAM_AUTHINFO_UNAVAIL, "unavailable",
	       "credentials_rejected");
	t_assert_log_field("http", "401");
	expect_detail(refusals[_i].detail);
	if (refusals[_i].states != NULL)
		expect_behind(1200);
	ck_assert_int_eq(t_requests_for(refusals[_i].user), 1);
	no_secret_in_log(refusals[_i].sk ? refusals[_i].sk : t_env("CSMS_TEST_SK"));
	/* the gateway echoes the canonical request, security token and all: never logged */
	ck_assert_msg(strstr(t_log(), "ST-") == NULL && strstr(t_log(), "canonicalRequest") == NULL,
		      "%s", t_log());
	t_states("");
	/* and with the same key right, the same user gets in */
	if (refusals[_i].token != NULL || strcmp(refusals[_i].user, "enabled-notoken") == 0) {
		char *line;

		free(args);
		args = aksk_args(dir, "TESTAKWITHTOKEN", "sk-of-the-temporary-key",
				 "ST-the-right-one", "");
		expect(args, refusals[_i].user, PAM_SUCCESS, "permit", "state");
		line = t_last_header(refusals[_i].user, "authorization");
		ck_assert_ptr_nonnull(strstr(line, "SignedHeaders=host;x-project-id;x-sdk-date;"
						   "x-security-token,"));
		free(line);
	}
	free(args);
	free(dir);
}
END_TEST

/* The same keys sign every secret of a login: the first 401 is the answer for all of them,
 * and the others are not asked (five bad signatures in a row lock an access key). */
START_TEST(t_aksk_refused_once)
{
	char *dir = t_scratch(), *args;

	args = aksk_args(dir, t_env("CSMS_TEST_AK"), "a-wrong-secret-key", NULL,
			 "secret = %u, team-ro1, fleet-ro1\nretries = 2");
	expect(args, "enabled-ro1", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials_rejected");
	expect_detail("signature does not verify");
	ck_assert_int_eq(t_requests_for("enabled-ro1"), 1);
	ck_assert_int_eq(t_requests_for("team-ro1"), 0);
	ck_assert_int_eq(t_requests_for("fleet-ro1"), 0);
	t_assert_log_field("secret", "enabled-ro1,team-ro1,fleet-ro1");
	free(args);
	free(dir);
}
END_TEST

/* A retry is signed afresh: after a 429 with Retry-After: 1 the date has moved on. */
START_TEST(t_aksk_retry_fresh_date)
{
	char *dir = t_scratch(), *args = good_aksk(dir, ""), *d1, *d2;

	expect(args, "throttleonce-ak", PAM_SUCCESS, "permit", "state");
	ck_assert_int_eq(t_requests_for("throttleonce-ak"), 2);
	d1 = t_nth_header("throttleonce-ak", 0, "x-sdk-date");
	d2 = t_nth_header("throttleonce-ak", 1, "x-sdk-date");
	ck_assert_msg(d1 && d2 && strcmp(d1, d2) < 0, "dates %s then %s", d1, d2);
	free(d1);
	free(d2);
	free(args);
	free(dir);
}
END_TEST

/* The credentials file: the token file's checks, and nothing in it but what it may hold.
 * Each is an error of this host, whatever fail_mode says, and never logs a value. */
static const struct {
	const char *text;
	mode_t mode;
	const char *detail;
} bad_files[] = {
	{ "[credentials]\naccess_key = AK\nsecret_key = SKVALUE1\n", 0644, "readable by group" },
	{ "[credentials]\naccess_key = AK\nsecret_key = SKVALUE1\n", 0660, "writable by group" },
	{ "[credentials]\naccess_key = AK\n", 0600, "needs access_key and secret_key" },
	{ "access_key = AK\nsecret_key = SKVALUE1\n", 0600, "put the keys under [credentials]" },
	{ "[credentials]\naccess_key = AK\nsecret_key = SKVALUE1\nsecret_key = SKVALUE1\n", 0600,
	  "secret_key given twice" },
	{ "[credentials]\naccess_key = AK\nsecret_key = SKVALUE1\nregion = x\n", 0600,
	  "unknown key 'region'" },
	/* a value mistyped after ':' holds '=' (base64): the "key" is never echoed */
	{ "[credentials]\naccess_key = AK\nsecurity_token: SKVALUE1/abc=def==\n", 0600,
	  ":3: unknown key (access_key, secret_key" },
	{ "[credentials]\naccess_key = A-K\nsecret_key = SKVALUE1\n", 0600,
	  "access_key must be 1 to 128 letters and digits" },
	{ "[credentials]\naccess_key = AK\nsecret_key = SK VALUE1\n", 0600,
	  "secret_key must be 1 to 256 printable characters" },
	{ "[credentials]\naccess_key = AK\nsecret_key = SKVALUE1\r\n", 0600, "control character" },
	{ "[credentials]\n[other]\naccess_key = AK\n", 0600, "only one [credentials] section" },
};

START_TEST(t_aksk_bad_file)
{
	char *dir = t_scratch(), *args = good_aksk(dir, "fail_mode = open"), *creds;

	creds = t_path(dir, "credentials");
	t_write_str(creds, bad_files[_i].text, bad_files[_i].mode);
	expect(args, "enabled-badfile", PAM_SERVICE_ERR, "error", "credentials");
	expect_detail(bad_files[_i].detail);
	ck_assert_msg(strstr(t_log(), "SKVALUE1") == NULL, "a value in the log: %s", t_log());
	ck_assert_int_eq(t_requests_for("enabled-badfile"), 0);
	unlink(creds);
	expect(args, "enabled-badfile", PAM_SERVICE_ERR, "error", "credentials");
	expect_detail("file not found");
	free(creds);
	free(args);
	free(dir);
}
END_TEST

/* ---- auth=metadata ---- */

static char *metadata_args(const char *dir, const char *extra)
{
	char *more, *args;

	if (asprintf(&more, "auth = metadata\nmetadata_url = %s\ncache_dir = %s/cache\n%s",
		     t_env("CSMS_METADATA_URL"), dir, extra ? extra : "") < 0)
		abort();
	args = t_conf_args(dir, more, "");
	free(more);
	return args;
}

/* The config's project_id dropped: the instance's meta_data.json names it. */
static char *metadata_args_no_project(const char *dir, const char *extra)
{
	char *args = metadata_args(dir, extra), *conf = t_path(dir, "pam_csms.conf");
	char *text = t_slurp(conf), *p = strstr(text, "project_id = ");

	ck_assert_ptr_nonnull(p);
	*p = '#';
	t_write_str(conf, text, 0644);
	free(text);
	free(conf);
	return args;
}

struct calls {
	int token, key, meta;
};

static struct calls calls_now(void)
{
	return (struct calls){ t_metadata_calls(TOKEN_PATH), t_metadata_calls(KEY_PATH),
			       t_metadata_calls(META_PATH) };
}

static void expect_calls(struct calls before, int token, int key, int meta)
{
	struct calls now = calls_now();

	ck_assert_msg(now.token - before.token == token && now.key - before.key == key &&
			      now.meta - before.meta == meta,
		      "metadata calls token %d key %d meta %d, want %d %d %d",
		      now.token - before.token, now.key - before.key, now.meta - before.meta, token,
		      key, meta);
}

/* The common deployment: region and auth = metadata, nothing secret on disk. */
START_TEST(t_metadata_decides)
{
	char *dir = t_scratch(), *args = metadata_args_no_project(dir, ""), *h;
	struct calls before = calls_now();

	t_states("");
	expect(args, "enabled-md1", PAM_SUCCESS, "permit", "state");
	expect_detail("project_id from the instance's meta_data.json");
	expect_calls(before, 1, 1, 1);
	h = t_last_header("enabled-md1", "x-security-token");
	ck_assert_msg(h != NULL && strncmp(h, "ST", 2) == 0, "%s", h);
	ck_assert_msg(strstr(t_log(), h) == NULL, "the security token is in the log");
	free(h);
	h = t_last_header("enabled-md1", "authorization");
	ck_assert_ptr_nonnull(strstr(h, "Access=TMPAK0001"));
	ck_assert_ptr_nonnull(
		strstr(h, "SignedHeaders=host;x-project-id;x-sdk-date;x-security-token,"));
	free(h);
	/* kept in cache_dir: the next logins ask the metadata service nothing */
	before = calls_now();
	expect(args, "disabled-md1", PAM_PERM_DENIED, "deny", "state");
	expect(args, "enabled-md2", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 0, 0, 0);
	ck_assert_int_eq(t_requests_for("enabled-md2"), 1);
	free(args);
	free(dir);
}
END_TEST

/* With project_id in the config, meta_data.json is never asked. */
START_TEST(t_metadata_project_configured)
{
	char *dir = t_scratch(), *args = metadata_args(dir, "");
	struct calls before = calls_now();

	t_states("");
	expect(args, "enabled-md3", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	free(args);
	free(dir);
}
END_TEST

/* The token step: 404, 405 and 503 mean there is none (go on without); anything else, or no
 * answer at all, is the instance not reaching its keys: reason=credentials, fail_mode. */
static const struct {
	const char *states;
	int rc;
	const char *decision, *reason, *detail;
	int token, key;
	bool with_token;
} token_rows[] = {
	{ "@token=404\n", PAM_SUCCESS, "permit", "state", NULL, 1, 1, false },
	{ "@token=405\n", PAM_SUCCESS, "permit", "state", NULL, 1, 1, false },
	{ "@token=503\n", PAM_SUCCESS, "permit", "state", NULL, 1, 1, false },
	{ "@token=ok\n", PAM_SUCCESS, "permit", "state", NULL, 1, 1, true },
	{ "@token=500\n", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials",
	  "the token request (PUT /meta-data/latest/api/token) answered HTTP 500", 1, 0, false },
	{ "@key=noagency\n", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials",
	  "no agency is bound to this instance", 1, 1, true },
	{ "@key=malformed\n", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials",
	  "securitykey: not JSON", 1, 1, true },
	{ "@key=nosecuritytoken\n", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials",
	  "credential.securitytoken is missing", 1, 1, true },
	{ "@key=500\n", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials", "answered HTTP 500", 1,
	  1, true },
	{ "@key=nofraction\n", PAM_SUCCESS, "permit", "state", NULL, 1, 1, true },
};

START_TEST(t_metadata_token_step)
{
	char *dir = t_scratch(), *args = metadata_args(dir, ""), user[64];
	struct calls before;

	snprintf(user, sizeof(user), "enabled-mdtok%d", _i);
	t_states(token_rows[_i].states);
	before = calls_now();
	expect(args, user, token_rows[_i].rc, token_rows[_i].decision, token_rows[_i].reason);
	if (token_rows[_i].detail != NULL)
		expect_detail(token_rows[_i].detail);
	expect_calls(before, token_rows[_i].token, token_rows[_i].key, 0);
	if (token_rows[_i].rc == PAM_SUCCESS) {
		char *h = t_last_header(user, "x-security-token");

		ck_assert_ptr_nonnull(h);
		free(h);
	} else {
		ck_assert_int_eq(t_requests_for(user), 0);
		t_assert_log_field("source", "none");
	}
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* Unreachable is "cannot answer": fail_mode=open lets in, a young cached ENABLED permits. */
START_TEST(t_metadata_unreachable)
{
	char *dir = t_scratch(), *dir2 = t_scratch(), *args, *open_args, *more;
	struct t_pam_result r;

	if (asprintf(&more,
		     "auth = metadata\nmetadata_url = http://127.0.0.1:1\ncache_dir = %s/c\n",
		     dir) < 0)
		abort();
	args = t_conf_args(dir, more, "");
	expect(args, "enabled-mdun", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials");
	expect_detail("metadata service http://127.0.0.1:1");
	free(more);
	if (asprintf(&more,
		     "auth = metadata\nmetadata_url = http://127.0.0.1:1\ncache_dir = %s/c\n"
		     "fail_mode = open\n",
		     dir2) < 0)
		abort();
	open_args = t_conf_args(dir2, more, "");
	expect(open_args, "disabled-mdun", PAM_IGNORE, "fail_open", "credentials");
	/* a hung service costs the check's one budget, no more */
	free(args);
	args = metadata_args(dir, "timeout = 1500ms\n");
	t_states("@token=hang\n");
	t_log_reset();
	r = t_pam("sshd", "enabled-mdhang", args, T_ACCOUNT, 0);
	ck_assert_int_eq(r.rc, PAM_AUTHINFO_UNAVAIL);
	t_assert_log_field("reason", "credentials");
	ck_assert_msg(r.ms < 2500, "%ld ms", r.ms);
	t_states("");
	free(more);
	free(open_args);
	free(args);
	free(dir2);
	free(dir);
}
END_TEST

/* A metadata service on a loopback port that another user holds (one who bound it first):
 * nothing is sent to it, and the detail names the owner. The server here runs as nobody
 * and would hand out keys and a project of its own. */
START_TEST(t_metadata_foreign_owner)
{
	char *dir = t_scratch(), *more, *args, buf[4096];
	int ready[2], seen[2], port = 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	ssize_t got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(seen), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;

		/* the socket is made after dropping to nobody: it is nobody's */
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(fd, 8) != 0 || getsockname(fd, (struct sockaddr *)&a, &al) != 0)
			_exit(3);
		port = ntohs(a.sin_port);
		if (write(ready[1], &port, sizeof(port)) != sizeof(port))
			_exit(4);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			ssize_t n;
			static const char reply[] =
				"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

			if (c < 0)
				_exit(5);
			n = read(c, buf, sizeof(buf));
			if (n > 0 && write(seen[1], buf, (size_t)n) < 0)
				_exit(6);
			if (write(c, reply, sizeof(reply) - 1) < 0)
				_exit(7);
			close(c);
		}
	}
	close(ready[1]);
	close(seen[1]);
	ck_assert_int_eq(read(ready[0], &port, sizeof(port)), sizeof(port));
	/* fail_mode=open: whoever can bind a port must not be able to open the door */
	if (asprintf(&more,
		     "auth = metadata\nmetadata_url = http://127.0.0.1:%d\ncache_dir = %s/c\n"
		     "fail_mode = open\n",
		     port, dir) < 0)
		abort();
	args = t_conf_args(dir, more, "");
	expect(args, "enabled-mdfo", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials");
	expect_detail("is run by uid 65534, not root: not asked");
	ck_assert_int_eq(t_requests_for("enabled-mdfo"), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	/* it was connected to, and never sent a byte */
	got = read(seen[0], buf, sizeof(buf));
	ck_assert_msg(got == 0, "the foreign server was sent %zd bytes", got);
	close(ready[0]);
	close(seen[0]);
	free(args);
	free(more);
	free(dir);
}
END_TEST

/* Under SSLKEYLOGFILE nothing is asked, the metadata service included: unavailable, never
 * fail_open, and no key log written; a libcurl that cannot be used is an error here too. */
START_TEST(t_metadata_refused)
{
	char *dir = t_scratch(), *args = metadata_args_no_project(dir, "fail_mode = open\n");
	char *keys = t_path(dir, "keys");
	struct calls before = calls_now();

	ck_assert_int_eq(setenv("SSLKEYLOGFILE", keys, 1), 0);
	expect(args, "enabled-mdkl", PAM_AUTHINFO_UNAVAIL, "unavailable", "tls");
	expect_detail("SSLKEYLOGFILE");
	expect_calls(before, 0, 0, 0);
	ck_assert_int_eq(access(keys, F_OK), -1);
	free(args);
	args = metadata_args(dir, "fail_mode = open\n");
	expect(args, "enabled-mdkl2", PAM_AUTHINFO_UNAVAIL, "unavailable", "tls");
	expect_calls(before, 0, 0, 0);
	ck_assert_int_eq(access(keys, F_OK), -1);
	ck_assert_int_eq(unsetenv("SSLKEYLOGFILE"), 0);
	free(keys);
	free(args);
	free(dir);
}
END_TEST

/* The kept keys' file in dir/cache (k-HASH), found by its prefix. */
static char *kept_file(const char *dir)
{
	char *cache = t_path(dir, "cache"), *found = NULL;
	DIR *d = opendir(cache);
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "k-", 2) == 0)
			found = t_path(cache, e->d_name);
	closedir(d);
	ck_assert_msg(found != NULL, "no kept keys in %s", cache);
	free(cache);
	return found;
}

/* The kept keys' file, rewritten with its `key` line set to value (mode 0600 again). */
static void rewrite_kept(const char *dir, const char *key, const char *value)
{
	char *file = kept_file(dir), *text = t_slurp(file), *out, *line, *save = NULL;
	size_t kl = strlen(key), used = 0, cap = strlen(text) + strlen(value) + 64;

	out = calloc(1, cap);
	ck_assert_ptr_nonnull(out);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			used += (size_t)snprintf(out + used, cap - used, "%s %s\n", key, value);
		else
			used += (size_t)snprintf(out + used, cap - used, "%s\n", line);
	}
	t_write_str(file, out, 0600);
	free(out);
	free(text);
	free(file);
}

/* Set the kept keys' `key` (expires, asked) to now + offset_ms. */
static void kept_in(const char *dir, int64_t offset_ms, const char *key)
{
	char v[32];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(v, sizeof(v), "%lld",
		 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset_ms);
	rewrite_kept(dir, key, v);
}

#define MIN_MS ((int64_t)60 * 1000)

/* Refreshed once less than 15 minutes remain, asked at most once a minute meanwhile, and
 * asked again once they expire; a rotation's new keys sign the next request. */
START_TEST(t_metadata_refresh)
{
	char *dir = t_scratch(), *args = metadata_args(dir, ""), *h;
	struct calls before;

	t_states("@generation=11\n");
	expect(args, "enabled-mdr1", PAM_SUCCESS, "permit", "state");
	/* 20 minutes left: used as they are */
	kept_in(dir, 20 * MIN_MS, "expires");
	before = calls_now();
	expect(args, "enabled-mdr2", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 0, 0, 0);
	/* 10 minutes left, asked half a minute ago: not asked again yet */
	kept_in(dir, 10 * MIN_MS, "expires");
	kept_in(dir, -MIN_MS / 2, "asked");
	before = calls_now();
	expect(args, "enabled-mdr3", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 0, 0, 0);
	/* asked two minutes ago: asked now, and the rotated keys are used at once */
	kept_in(dir, -2 * MIN_MS, "asked");
	t_states("@generation=12\n");
	before = calls_now();
	expect(args, "enabled-mdr4", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	h = t_last_header("enabled-mdr4", "authorization");
	ck_assert_msg(strstr(h, "Access=TMPAK0012") != NULL, "%s", h);
	free(h);
	/* the service fails while the kept keys still have 10 minutes: they go on signing */
	kept_in(dir, 10 * MIN_MS, "expires");
	kept_in(dir, -2 * MIN_MS, "asked");
	t_states("@generation=12\n@key=500\n");
	before = calls_now();
	expect(args, "enabled-mdr5", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	/* ... and it is not asked again for a minute */
	before = calls_now();
	expect(args, "enabled-mdr6", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 0, 0, 0);
	/* expired: never signed with; the service is asked */
	kept_in(dir, -1000, "expires");
	t_states("@generation=13\n");
	before = calls_now();
	expect(args, "enabled-mdr7", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	h = t_last_header("enabled-mdr7", "authorization");
	ck_assert_msg(strstr(h, "Access=TMPAK0013") != NULL, "%s", h);
	free(h);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* What cache_dir holds is checked like a verdict entry: spoiled, dated ahead or from another
 * boot is absent. */
START_TEST(t_metadata_kept_file)
{
	char *dir = t_scratch(), *args = metadata_args(dir, ""), *file;
	struct calls before;
	struct stat st;

	t_states("@generation=21\n");
	expect(args, "enabled-mdk1", PAM_SUCCESS, "permit", "state");
	file = kept_file(dir);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	/* readable by others: not used, asked afresh and replaced */
	ck_assert_int_eq(chmod(file, 0644), 0);
	before = calls_now();
	expect(args, "enabled-mdk2", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	free(file);
	/* dated ahead (asked in the future): removed, asked afresh */
	kept_in(dir, MIN_MS * 60 * 8, "asked");
	before = calls_now();
	expect(args, "enabled-mdk3", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	/* a corrupt secret line: absent */
	rewrite_kept(dir, "secret", "has space");
	before = calls_now();
	expect(args, "enabled-mdk4", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	/* another boot's keys (a cloned disk, a reboot): absent, asked afresh */
	rewrite_kept(dir, "boot", "00000000-0000-0000-0000-000000000000");
	before = calls_now();
	expect(args, "enabled-mdk5", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	/* ... and this boot's are used again */
	before = calls_now();
	expect(args, "enabled-mdk6", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 0, 0, 0);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* The metadata service down and the kept keys expired, with project_id left to the instance:
 * the project the kept keys name still finds the verdicts kept under it, so offline_grace
 * lets a recent ENABLED in and a recent deny keeps fail_mode=open shut, for every secret.
 * With nothing kept there is no project to look under, and under offline_grace
 * fail_mode=open stays shut too. */
START_TEST(t_metadata_down_grace)
{
	char *dir = t_scratch(), *args, *file;

	args = metadata_args_no_project(dir, "secret = %u, team-mdg\noffline_grace = 1h\n"
					     "fail_mode = open\n");
	t_states("team-mdg=ENABLED\n");
	expect(args, "enabled-mdg", PAM_SUCCESS, "permit", "state");
	expect(args, "disabled-mdg", PAM_PERM_DENIED, "deny", "state");
	kept_in(dir, -1000, "expires");
	t_states("team-mdg=ENABLED\n@token=500\n");
	expect(args, "enabled-mdg", PAM_SUCCESS, "permit", "state");
	t_assert_log_field("source", "stale");
	expect_detail("within offline_grace");
	ck_assert_int_eq(t_requests_for("enabled-mdg"), 1);
	expect(args, "disabled-mdg", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials");
	expect_detail("CSMS denied");
	/* a secret never seen: fail_mode=open, as for CSMS not answering */
	expect(args, "enabled-mdg-new", PAM_IGNORE, "fail_open", "credentials");
	/* nothing kept: no project to look under */
	file = kept_file(dir);
	ck_assert_int_eq(unlink(file), 0);
	expect(args, "disabled-mdg", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials");
	expect_detail("not failing open (set project_id)");
	t_states("");
	free(file);
	free(args);
	free(dir);
}
END_TEST

/* Kept keys CSMS refuses (revoked, or spoiled on disk) are dropped at once, so the next check
 * asks the metadata service for new ones instead of signing with them until they expire. */
START_TEST(t_metadata_kept_refused)
{
	char *dir = t_scratch(), *args = metadata_args(dir, "secret = %u, team-mdx\n"), *file;
	struct calls before;

	t_states("@generation=31\nteam-mdx=ENABLED\n");
	expect(args, "enabled-mdx1", PAM_SUCCESS, "permit", "state");
	file = kept_file(dir);
	rewrite_kept(dir, "secret", "not-the-secret-key-of-TMPAK0031");
	before = calls_now();
	expect(args, "enabled-mdx2", PAM_AUTHINFO_UNAVAIL, "unavailable", "credentials_rejected");
	expect_calls(before, 0, 0, 0);
	ck_assert_int_eq(t_requests_for("enabled-mdx2"), 1);
	ck_assert_int_eq(t_requests_for("team-mdx"), 1); /* only enabled-mdx1's */
	ck_assert_msg(access(file, F_OK) == -1, "the refused keys are still in %s", file);
	before = calls_now();
	expect(args, "enabled-mdx3", PAM_SUCCESS, "permit", "state");
	expect_calls(before, 1, 1, 0);
	t_states("");
	free(file);
	free(args);
	free(dir);
}
END_TEST

/* 200 logins from 32 processes at the moment the kept keys expire: the checks that find
 * them gone wait for the one fetching, so the service is asked a bounded number of times,
 * and every decision is right. */
#define PROCS 32
#define LOGINS 200

START_TEST(t_metadata_herd)
{
	char *dir = t_scratch(), *args = metadata_args(dir, "");
	struct calls before;
	pid_t pids[PROCS];
	int wrong = 0, status;

	t_states("@generation=31\n");
	expect(args, "enabled-mdh", PAM_SUCCESS, "permit", "state");
	kept_in(dir, -1, "expires");
	t_states("@generation=32\n");
	before = calls_now();
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			int bad = 0;

			for (int i = p; i < LOGINS; i += PROCS) {
				char user[32];
				bool en = i % 2 == 0;

				snprintf(user, sizeof(user), "%s-herd%d",
					 en ? "enabled" : "disabled", i);
				bad += t_pam("sshd", user, args, T_ACCOUNT, 0).rc !=
				       (en ? PAM_SUCCESS : PAM_PERM_DENIED);
			}
			_exit(bad > 100 ? 100 : bad);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert(WIFEXITED(status));
		wrong += WEXITSTATUS(status);
	}
	ck_assert_int_eq(wrong, 0);
	{
		struct calls now = calls_now();

		printf("herd: %d logins from %d processes at expiry: %d securitykey call(s)\n",
		       LOGINS, PROCS, now.key - before.key);
		ck_assert_int_ge(now.key - before.key, 1);
		ck_assert_int_le(now.key - before.key, 2);
	}
	t_states("");
	free(args);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *aksk = tcase_create("aksk"), *md = tcase_create("metadata");

	tcase_set_timeout(aksk, 30);
	tcase_add_test(aksk, t_aksk_decides);
	tcase_add_loop_test(aksk, t_aksk_refused, 0, sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(aksk, t_aksk_refused_once);
	tcase_add_test(aksk, t_aksk_retry_fresh_date);
	tcase_add_loop_test(aksk, t_aksk_bad_file, 0, sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_set_timeout(md, 120);
	tcase_add_test(md, t_metadata_decides);
	tcase_add_test(md, t_metadata_project_configured);
	tcase_add_loop_test(md, t_metadata_token_step, 0,
			    sizeof(token_rows) / sizeof(token_rows[0]));
	tcase_add_test(md, t_metadata_unreachable);
	tcase_add_test(md, t_metadata_down_grace);
	tcase_add_test(md, t_metadata_refused);
	t_add_root_test(md, t_metadata_foreign_owner, "a metadata service run by another user");
	tcase_add_test(md, t_metadata_refresh);
	tcase_add_test(md, t_metadata_kept_file);
	tcase_add_test(md, t_metadata_kept_refused);
	tcase_add_test(md, t_metadata_herd);
	suite_add_tcase(s, aksk);
	suite_add_tcase(s, md);
	return t_run(s);
}
