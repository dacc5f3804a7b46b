/* Shared test helpers: scratch files with real permissions, the stand-in, real libpam runs. */
#include "buildconf.h"

#include "testlib.h"

#include <check.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *t_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "%s is not set: run this test through tests/with-standin.sh\n",
			name);
		abort();
	}
	return v;
}

char *t_scratch(void)
{
	const char *base = getenv("CSMS_TEST_DIR");
	char *tmpl;

	if (base == NULL)
		base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	if (asprintf(&tmpl, "%s/t.XXXXXX", base) < 0)
		abort();
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return tmpl;
}

char *t_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

void t_write(const char *path, const char *content, size_t len, mode_t mode)
{
	int fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

void t_write_str(const char *path, const char *content, mode_t mode)
{
	t_write(path, content, strlen(content), mode);
}

const char *t_endpoint(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "https://127.0.0.1:%s", t_env("CSMS_STANDIN_PORT"));
	return buf;
}

const char *t_dead_endpoint(void)
{
	return "https://127.0.0.1:1";
}

char *t_config(const char *dir, const char *extra, const char *tail)
{
	char *conf = t_path(dir, "pam_csms.conf"), *token = t_path(dir, "token"), *text;

	t_write_str(token, T_TOKEN_DEFAULT "\n", 0600);
	if (asprintf(&text,
		     "# written by the test suite\n"
		     "[csms]\n"
		     "endpoint = %s\n"
		     "project_id = %s\n"
		     "token_file = %s\n"
		     "ca_file = %s\n"
		     "%s\n%s\n",
		     t_endpoint(), t_env("CSMS_STANDIN_PROJECT"), token, t_env("CSMS_TEST_CA"),
		     extra ? extra : "", tail ? tail : "") < 0)
		abort();
	t_write_str(conf, text, 0644);
	free(text);
	free(token);
	return conf;
}

char *t_conf_args(const char *dir, const char *extra, const char *tail)
{
	char *conf = t_config(dir, extra, tail), *args;

	if (asprintf(&args, "conf=%s", conf) < 0)
		abort();
	free(conf);
	return args;
}

static int root_skipped;

void t_add_root_test(TCase *tc, const TTest *test, const char *what)
{
	if (geteuid() == 0) {
		tcase_add_test(tc, test);
		return;
	}
	printf("SKIP: %s: needs root\n", what);
	root_skipped++;
}

int t_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return 1;
	if (root_skipped > 0) {
		printf("%d root-only test(s) skipped\n", root_skipped);
		return 77;
	}
	return 0;
}

int t_dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", path, strerror(errno));
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

int t_count_fds(void)
{
	return t_dir_entries("/proc/self/fd") - 1; /* the DIR's own fd */
}

char *t_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (f == NULL)
		return strdup("");
	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 8192;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

void t_states(const char *text)
{
	const char *path = t_env("CSMS_STANDIN_STATES");
	char *tmp;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		abort();
	t_write_str(tmp, text, 0644);
	ck_assert_int_eq(rename(tmp, path), 0);
	free(tmp);
}

int t_requests_total(void)
{
	char *log = t_slurp(t_env("CSMS_STANDIN_LOG"));
	int count = 0;

	for (const char *p = log; *p; p++)
		count += *p == '\n';
	free(log);
	return count;
}

/* How often needle (freed here) stands in the stand-in's request log. */
static int log_count(char *needle)
{
	char *log = t_slurp(t_env("CSMS_STANDIN_LOG"));
	int count = 0;

	for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		count++;
	free(needle);
	free(log);
	return count;
}

int t_requests_for(const char *name)
{
	char *needle;

	if (asprintf(&needle, "/secrets/%s\"", name) < 0)
		abort();
	return log_count(needle);
}

char *t_nth_header(const char *name, int n, const char *lname)
{
	char *log = t_slurp(t_env("CSMS_STANDIN_LOG")), *needle, *found = NULL;
	char *line, *save = NULL;
	int seen = 0;

	if (asprintf(&needle, "/secrets/%s\"", name) < 0)
		abort();
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct json_object *o, *h, *v;

		if (strstr(line, needle) == NULL)
			continue;
		o = json_tokener_parse(line);
		if (o && json_object_object_get_ex(o, "headers", &h) && (n < 0 || seen == n)) {
			free(found);
			found = json_object_object_get_ex(h, lname, &v)
					? strdup(json_object_get_string(v))
					: NULL;
		}
		seen++;
		json_object_put(o);
	}
	free(needle);
	free(log);
	return found;
}

char *t_last_header(const char *name, const char *lname)
{
	return t_nth_header(name, -1, lname);
}

int t_connections_for(const char *const *names)
{
	char *log = t_slurp(t_env("CSMS_STANDIN_LOG")), *line, *save = NULL;
	long seen[64];
	int n = 0;

	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(line), *path, *conn;
		bool mine = false, known = false;

		if (o == NULL || !json_object_object_get_ex(o, "path", &path) ||
		    !json_object_object_get_ex(o, "conn", &conn)) {
			json_object_put(o);
			continue;
		}
		for (const char *const *nm = names; *nm && !mine; nm++) {
			const char *p = strrchr(json_object_get_string(path), '/');

			mine = p != NULL && strcmp(p + 1, *nm) == 0;
		}
		for (int i = 0; mine && i < n; i++)
			known = known || seen[i] == json_object_get_int64(conn);
		if (mine && !known && n < 64)
			seen[n++] = json_object_get_int64(conn);
		json_object_put(o);
	}
	free(log);
	return n;
}

int t_metadata_calls(const char *path)
{
	char *needle;

	if (asprintf(&needle, "\"path\": \"%s\", \"server\": \"metadata\"", path) < 0)
		abort();
	return log_count(needle);
}

char *t_log_field(const char *key)
{
	const char *log = t_log(), *line = NULL, *p, *end;
	size_t kl = strlen(key);

	for (p = log; (p = strstr(p, "decision=")) != NULL; p++)
		line = p;
	if (line == NULL)
		return NULL;
	end = strchr(line, '\n');
	if (end == NULL)
		end = line + strlen(line);
	for (p = line; p < end;) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *tok_end = sp ? sp : end;

		if ((size_t)(tok_end - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=')
			return strndup(p + kl + 1, (size_t)(tok_end - p - kl - 1));
		p = tok_end + 1;
	}
	return NULL;
}

void t_assert_log_field(const char *key, const char *want)
{
	char *f = t_log_field(key);

	ck_assert_msg(f != NULL && strcmp(f, want) == 0, "%s=%s, want %s\n%s", key,
		      f ? f : "(none)", want, t_log());
	free(f);
}

struct conv_state {
	char *out;
	size_t len;
};

static int conv_record(int n, const struct pam_message **msg, struct pam_response **resp,
		       void *data)
{
	struct conv_state *st = data;

	*resp = NULL;
	for (int i = 0; i < n; i++) {
		size_t used = strlen(st->out);

		if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			return PAM_CONV_ERR;
		if (strstr(msg[i]->msg, "=cred_insufficient") != NULL)
			continue; /* pam_debug.so announcing its sentinel answer */
		snprintf(st->out + used, st->len - used, "%s%s", used ? "\n" : "", msg[i]->msg);
	}
	return PAM_SUCCESS;
}

struct t_pam_result t_pam(const char *service, const char *user, const char *args, enum t_op op,
			  int flags)
{
	struct t_pam_result r;
	struct conv_state st = { r.conv, sizeof(r.conv) };
	struct pam_conv conv = { conv_record, &st };
	const char *module = t_env("CSMS_MODULE");
	/* The module's code for failures propagates; PAM_IGNORE falls through to pam_debug,
	 * whose cred_insufficient answer stands in for it. */
	const char *ctl = "[success=done ignore=ignore default=bad]";
	char *dir = t_scratch(), *svc = t_path(dir, service), *text;
	pam_handle_t *pamh = NULL;
	struct timespec a, b;
	int rc;

	memset(&r, 0, sizeof(r));
	if (asprintf(&text,
		     "auth %s %s %s\n"
		     "auth required pam_debug.so auth=cred_insufficient cred=cred_insufficient\n"
		     "account %s %s %s\n"
		     "account required pam_debug.so acct=cred_insufficient\n"
		     "session %s %s %s\n"
		     "session required pam_debug.so open_session=cred_insufficient "
		     "close_session=cred_insufficient\n"
		     "password %s %s %s\n"
		     "password required pam_debug.so prechauthtok=cred_insufficient "
		     "chauthtok=cred_insufficient\n",
		     ctl, module, args, ctl, module, args, ctl, module, args, ctl, module,
		     args) < 0)
		abort();
	t_write_str(svc, text, 0644);
	free(text);

	rc = pam_start_confdir(service, user, &conv, dir, &pamh);
	ck_assert_int_eq(rc, PAM_SUCCESS);
	clock_gettime(CLOCK_MONOTONIC, &a);
	switch (op) {
	case T_ACCOUNT:
		rc = pam_acct_mgmt(pamh, flags);
		break;
	case T_AUTH:
		rc = pam_authenticate(pamh, flags);
		break;
	case T_SETCRED:
		rc = pam_setcred(pamh, flags | (int)PAM_ESTABLISH_CRED);
		break;
	case T_OPEN_SESSION:
		rc = pam_open_session(pamh, flags);
		break;
	case T_CLOSE_SESSION:
		rc = pam_close_session(pamh, flags);
		break;
	case T_CHAUTHTOK:
		rc = pam_chauthtok(pamh, flags);
		break;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	r.ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	r.rc = rc == PAM_CRED_INSUFFICIENT ? PAM_IGNORE : rc;
	pam_end(pamh, rc);
	unlink(svc);
	rmdir(dir);
	free(svc);
	free(dir);
	return r;
}
