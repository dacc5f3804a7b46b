/*
 * The module inside someone else's process, through real libpam: TLS peers it must
 * refuse, signals and timers it must not touch, fds it must not leak to children,
 * many transactions and many threads.
 */
#include "buildconf.h"

#include "testlib.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- a second stand-in with another certificate or TLS version ---- */

struct standin {
	pid_t pid;
	char port[16];
};

static struct standin spawn_standin(const char *dir, const char *cert, const char *tls_max)
{
	struct standin s = { 0 };
	char *script = t_path(t_env("CSMS_SRCDIR"), "tests/csms_standin.py");
	char *portf = t_path(dir, "port"), *logf = t_path(dir, "requests.jsonl");
	const char *env_py = getenv("PYTHON"), *py = env_py != NULL ? env_py : "python3";
	char *argv[16];
	int n = 0;

	argv[n++] = strdup(py);
	argv[n++] = strdup(script);
	argv[n++] = strdup("--pki");
	argv[n++] = strdup(t_env("CSMS_TEST_PKI"));
	argv[n++] = strdup("--port-file");
	argv[n++] = strdup(portf);
	argv[n++] = strdup("--log");
	argv[n++] = strdup(logf);
	argv[n++] = strdup("--cert");
	argv[n++] = strdup(cert);
	argv[n++] = strdup("--exit-with-parent");
	if (tls_max != NULL) {
		argv[n++] = strdup("--tls-max");
		argv[n++] = strdup(tls_max);
	}
	argv[n] = NULL;
	ck_assert_int_eq(posix_spawnp(&s.pid, py, NULL, NULL, argv, environ), 0);
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(portf, "re");

		if (f != NULL) {
			if (fgets(s.port, sizeof(s.port), f) != NULL)
				s.port[strcspn(s.port, "\n")] = '\0';
			fclose(f);
			if (s.port[0] != '\0')
				break;
		}
		usleep(100000);
	}
	ck_assert_msg(s.port[0] != '\0', "stand-in with --cert %s did not start", cert);
	for (int i = 0; i < n; i++)
		free(argv[i]);
	free(script);
	free(portf);
	free(logf);
	return s;
}

static void stop_standin(struct standin *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
}

static const struct {
	const char *cert, *tls_max, *host, *ca;
	int want;
	const char *reason;
} tls_rows[] = {
	{ "server", NULL, "127.0.0.1", "ca.pem", PAM_SUCCESS, "state" },
	{ "server", NULL, "localhost", "ca.pem", PAM_SUCCESS, "state" },
	{ "wronghost", NULL, "127.0.0.1", "ca.pem", PAM_AUTHINFO_UNAVAIL, "tls" },
	{ "expired", NULL, "127.0.0.1", "ca.pem", PAM_AUTHINFO_UNAVAIL, "tls" },
	{ "otherca-server", NULL, "127.0.0.1", "ca.pem", PAM_AUTHINFO_UNAVAIL, "tls" },
	{ "server", NULL, "127.0.0.1", "other-ca.pem", PAM_AUTHINFO_UNAVAIL, "tls" },
	{ "server", "1.1", "127.0.0.1", "ca.pem", PAM_AUTHINFO_UNAVAIL, "tls" },
};

START_TEST(t_tls_peer)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *args;
	struct standin s = spawn_standin(dir, tls_rows[_i].cert, tls_rows[_i].tls_max);
	struct t_pam_result r;

	if (asprintf(&args, "conf=%s endpoint=https://%s:%s ca_file=%s/%s fail_mode=open", conf,
		     tls_rows[_i].host, s.port, t_env("CSMS_TEST_PKI"), tls_rows[_i].ca) < 0)
		abort();
	if (tls_rows[_i].want != PAM_SUCCESS) /* a TLS failure must not fail open either way */
		args[strlen(args) - strlen(" fail_mode=open")] = '\0';
	t_log_reset();
	r = t_pam("sshd", "enabled-tls", args, T_ACCOUNT, 0);
	stop_standin(&s);
	ck_assert_msg(r.rc == tls_rows[_i].want, "row %d: %d\n%s", _i, r.rc, t_log());
	t_assert_log_field("reason", tls_rows[_i].reason);
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* ---- the host process ---- */

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	char line[128], *p;
	long resident;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	p = strchr(line, ' '); /* size, then resident, in pages */
	ck_assert_ptr_nonnull(p);
	resident = strtol(p + 1, NULL, 10);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_signal(int sig)
{
	(void)sig;
}

START_TEST(t_signals_and_timers)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", "");
	struct sigaction pipe_act = { .sa_handler = on_signal },
			 alrm_act = { .sa_handler = on_signal };
	struct sigaction pipe_after, alrm_after;
	struct itimerval timer = { .it_value = { 100, 0 } }, t_after;
	sigset_t mask_before, mask_after;
	static const char *const users[] = { "cutbody-s1", "enabled-s2", "endless-s3",
					     "slowbody-s4" };

	ck_assert_int_eq(sigaction(SIGPIPE, &pipe_act, NULL), 0);
	ck_assert_int_eq(sigaction(SIGALRM, &alrm_act, NULL), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &timer, NULL), 0);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &mask_before), 0);
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		(void)t_pam("sshd", users[i], args, T_ACCOUNT, 0);
	ck_assert_int_eq(sigaction(SIGPIPE, NULL, &pipe_after), 0);
	ck_assert_int_eq(sigaction(SIGALRM, NULL, &alrm_after), 0);
	ck_assert_int_eq(getitimer(ITIMER_REAL, &t_after), 0);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &mask_after), 0);
	ck_assert(pipe_after.sa_handler == on_signal);
	ck_assert(alrm_after.sa_handler == on_signal);
	ck_assert_int_gt(t_after.it_value.tv_sec, 80); /* still pending, not reset */
	ck_assert_int_eq(sigismember(&mask_after, SIGPIPE), sigismember(&mask_before, SIGPIPE));
	ck_assert_int_eq(sigismember(&mask_after, SIGALRM), sigismember(&mask_before, SIGALRM));
	free(args);
	free(dir);
}
END_TEST

/* A command the host runs after the hook (su, sudo) sees exactly the fds it saw before. */
static int child_fd_count(void)
{
	char sh[] = "/bin/sh", dash_c[] = "-c", cmd[] = "ls /proc/self/fd | wc -l";
	char *argv[] = { sh, dash_c, cmd, NULL };
	int pipefd[2], status;
	pid_t pid;
	char buf[32] = { 0 };
	posix_spawn_file_actions_t fa;

	ck_assert_int_eq(pipe(pipefd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	ck_assert_int_eq(posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	ck_assert_int_gt(read(pipefd[0], buf, sizeof(buf) - 1), 0);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return (int)strtol(buf, NULL, 10);
}

START_TEST(t_no_fd_leak_to_children)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", "");
	int before_parent = t_count_fds(), before_child = child_fd_count();

	ck_assert_int_eq(t_pam("sshd", "enabled-fd1", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	ck_assert_int_eq(t_pam("sshd", "slowhdr1-fd2", args, T_AUTH, 0).rc, PAM_SUCCESS);
	(void)t_pam("sshd", "cutbody-fd3", args, T_ACCOUNT, 0);
	ck_assert_int_eq(t_count_fds(), before_parent);
	ck_assert_int_eq(child_fd_count(), before_child);
	free(args);
	free(dir);
}
END_TEST

/* pam_start ... pam_end a thousand times: libpam dlcloses the module every time. */
START_TEST(t_thousand_cycles)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", ""), user[64];
	int fds = -1;
	long rss = 0;

	for (int i = 0; i < 1000; i++) {
		int want = i % 2 ? PAM_PERM_DENIED : PAM_SUCCESS;

		snprintf(user, sizeof(user), "%s-cyc%d", i % 2 ? "disabled" : "enabled", i);
		t_log_reset();
		ck_assert_int_eq(t_pam("sshd", user, args, T_ACCOUNT, 0).rc, want);
		if (i == 99) {
			fds = t_count_fds();
			rss = rss_kb();
		}
	}
	ck_assert_int_eq(t_count_fds(), fds);
#ifndef __SANITIZE_ADDRESS__
	/* ASan keeps freed memory in quarantine (256 MiB): there LeakSanitizer does this job */
	ck_assert_msg(rss_kb() - rss < 4096, "RSS grew from %ld to %ld kB", rss, rss_kb());
#else
	(void)rss;
#endif
	free(args);
	free(dir);
}
END_TEST

struct worker {
	const char *args;
	int id;
	int wrong;
};

static void *work(void *p)
{
	struct worker *w = p;
	char user[64];

	for (int i = 0; i < 4; i++) {
		bool enabled = (w->id + i) % 2 == 0;
		int rc;

		snprintf(user, sizeof(user), "%s-th%d-%d", enabled ? "enabled" : "disabled", w->id,
			 i);
		rc = t_pam("sshd", user, w->args, T_ACCOUNT, 0).rc;
		if (rc != (enabled ? PAM_SUCCESS : PAM_PERM_DENIED))
			w->wrong++;
	}
	return NULL;
}

START_TEST(t_fifty_threads)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", "");
	pthread_t th[50];
	struct worker w[50];
	int wrong = 0;

	for (int i = 0; i < 50; i++) {
		w[i] = (struct worker){ .args = args, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 50; i++) {
		pthread_join(th[i], NULL);
		wrong += w[i].wrong;
	}
	ck_assert_int_eq(wrong, 0);
	free(args);
	free(dir);
}
END_TEST

/* Environment a setuid caller could set: nothing of it steers the module. */
START_TEST(t_hostile_environment)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", ""), *kl = t_path(dir, "keylog");
	struct stat st;

	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	setenv("NO_PROXY", "*", 1);
	setenv("CURL_CA_BUNDLE", "/dev/null", 1);
	setenv("SSL_CERT_FILE", "/dev/null", 1);
	setenv("HOME", dir, 1);
	setenv("CURL_HOME", dir, 1);
	setenv("OPENSSL_CONF", "/nonexistent/openssl.cnf", 1);
	{
		char *netrc = t_path(dir, ".netrc"), *curlrc = t_path(dir, ".curlrc");

		t_write_str(netrc, "machine 127.0.0.1 login x password y\n", 0600);
		t_write_str(curlrc, "proxy = http://127.0.0.1:9\n", 0600);
		free(netrc);
		free(curlrc);
	}
	setenv("LANG", "tr_TR.UTF-8", 1);
	setenv("LC_ALL", "tr_TR.UTF-8", 1);
	ck_assert_int_eq(t_pam("sshd", "enabled-env1", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	ck_assert_int_eq(t_requests_for("enabled-env1"), 1);
	{
		char *authz = t_last_header("enabled-env1", "authorization");

		ck_assert_ptr_null(authz); /* .netrc was not read */
	}
	free(args);
	/* SSLKEYLOGFILE: refused before libcurl starts, even with fail_mode=open */
	if (asprintf(&args, "conf=%s/pam_csms.conf fail_mode=open", dir) < 0)
		abort();
	setenv("SSLKEYLOGFILE", kl, 1);
	ck_assert_int_eq(t_pam("sshd", "enabled-env2", args, T_ACCOUNT, 0).rc,
			 PAM_AUTHINFO_UNAVAIL);
	ck_assert_int_ne(stat(kl, &st), 0);
	ck_assert_int_eq(t_requests_for("enabled-env2"), 0);
	free(kl);
	free(args);
	free(dir);
}
END_TEST

/* ---- stacks and handles built by hand ---- */

static int conv_fail(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)n;
	(void)msg;
	(void)data;
	*resp = NULL;
	return PAM_CONV_ERR;
}

/* Write `stack` (with @M@ for the module and its conf= argument) as service `svc`. */
static char *write_stack(const char *dir, const char *svc, const char *stack, const char *margs)
{
	char *path = t_path(dir, svc), *text, *o;
	const char *module = t_env("CSMS_MODULE"), *p;

	text = malloc(strlen(stack) * 2 + 4 * (strlen(module) + strlen(margs) + 2) + 1);
	for (o = text, p = stack; *p;) {
		if (strncmp(p, "@M@", 3) == 0) {
			o += sprintf(o, "%s %s", module, margs);
			p += 3;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	t_write_str(path, text, 0644);
	free(text);
	return path;
}

/*
 * bookworm's common-account with pam_unix in place (pam_permit stands in for it): only
 * required and requisite keep a DISABLED user out; the others fail open, which is why the
 * profile and the docs say required.
 */
static const struct {
	const char *control;
	int want; /* for a DISABLED user */
} stacks[] = {
	{ "required", PAM_PERM_DENIED },     { "requisite", PAM_PERM_DENIED },
	{ "optional", PAM_SUCCESS },         { "sufficient", PAM_SUCCESS },
	{ "[default=ignore]", PAM_SUCCESS },
};

START_TEST(t_stack_matrix)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *margs, *stack, *svc;
	struct pam_conv conv = { conv_fail, NULL };
	pam_handle_t *pamh;
	int rc;

	if (asprintf(&margs, "conf=%s", conf) < 0 ||
	    asprintf(&stack,
		     "account [success=1 new_authtok_reqd=done default=ignore] pam_permit.so\n"
		     "account requisite pam_deny.so\n"
		     "account required pam_permit.so\n"
		     "account %s @M@\n",
		     stacks[_i].control) < 0)
		abort();
	svc = write_stack(dir, "common", stack, margs);
	ck_assert_int_eq(pam_start_confdir("common", "disabled-stack", &conv, dir, &pamh),
			 PAM_SUCCESS);
	rc = pam_acct_mgmt(pamh, 0);
	pam_end(pamh, rc);
	ck_assert_msg(rc == stacks[_i].want, "%s: %d", stacks[_i].control, rc);
	ck_assert_int_eq(pam_start_confdir("common", "enabled-stack", &conv, dir, &pamh),
			 PAM_SUCCESS);
	rc = pam_acct_mgmt(pamh, 0);
	pam_end(pamh, rc);
	ck_assert_int_eq(rc, PAM_SUCCESS);
	free(svc);
	free(stack);
	free(margs);
	free(conf);
	free(dir);
}
END_TEST

/* One handle, several calls, PAM_USER changed in between, a failing conversation. */
START_TEST(t_same_handle)
{
	char *dir = t_scratch(), *conf = t_config(dir, "deny_message = no", ""), *margs, *svc;
	struct pam_conv conv = { conv_fail, NULL };
	pam_handle_t *pamh;

	if (asprintf(&margs, "conf=%s", conf) < 0)
		abort();
	svc = write_stack(dir, "same", "auth required @M@\naccount required @M@\n", margs);
	ck_assert_int_eq(pam_start_confdir("same", "enabled-same", &conv, dir, &pamh), PAM_SUCCESS);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_SUCCESS);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	ck_assert_int_eq(t_requests_for("enabled-same"), 3); /* no cached answer */
	/* another module changed PAM_USER: the module follows it and never sets it */
	ck_assert_int_eq(pam_set_item(pamh, PAM_USER, "disabled-same"), PAM_SUCCESS);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED); /* conv fails: still deny */
	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	{
		const void *u = NULL;

		ck_assert_int_eq(pam_get_item(pamh, PAM_USER, &u), PAM_SUCCESS);
		ck_assert_str_eq(u, "disabled-same");
	}
	pam_end(pamh, PAM_SUCCESS);
	free(svc);
	free(margs);
	free(conf);
	free(dir);
}
END_TEST

/* ---- servers that never answer ---- */

static int listen_loopback(int backlog, char *port, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	snprintf(port, len, "%u", ntohs(a.sin_port));
	return fd;
}

/* TCP accepted by the kernel, but no ServerHello ever comes. */
START_TEST(t_silent_server)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *args, port[16];
	int lfd = listen_loopback(16, port, sizeof(port));
	struct t_pam_result r;

	if (asprintf(&args, "conf=%s endpoint=https://127.0.0.1:%s timeout=1s", conf, port) < 0)
		abort();
	t_log_reset();
	r = t_pam("sshd", "enabled-silent", args, T_ACCOUNT, 0);
	ck_assert_int_eq(r.rc, PAM_AUTHINFO_UNAVAIL);
	ck_assert_msg(r.ms < 2000, "%ld ms", r.ms);
	t_assert_log_field("reason", "timeout");
	close(lfd);
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* A full accept queue drops SYNs: each attempt hits connect_timeout, all within timeout. */
START_TEST(t_syn_dropped)
{
	char *dir = t_scratch(), *conf = t_config(dir, "", ""), *args, *f, port[16];
	int lfd = listen_loopback(0, port, sizeof(port)), fillers[8];
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)strtol(port, NULL, 10)) };
	struct t_pam_result r;

	for (int i = 0; i < 8; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		(void)connect(fillers[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(100000);
	if (asprintf(&args,
		     "conf=%s endpoint=https://127.0.0.1:%s timeout=2s connect_timeout=300ms", conf,
		     port) < 0)
		abort();
	t_log_reset();
	r = t_pam("sshd", "enabled-syn", args, T_ACCOUNT, 0);
	ck_assert_int_eq(r.rc, PAM_AUTHINFO_UNAVAIL);
	ck_assert_msg(r.ms < 3000, "%ld ms", r.ms);
	f = t_log_field("reason");
	ck_assert_msg(strcmp(f, "network") == 0 || strcmp(f, "timeout") == 0, "%s", f);
	free(f);
	for (int i = 0; i < 8; i++)
		close(fillers[i]);
	close(lfd);
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* Short of file descriptors: a correct answer or a clean refusal, never a permit for a
 * DISABLED user, never a crash. */
START_TEST(t_fd_limit)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", ""), user[64];
	struct rlimit lim, orig;
	int fillers[1024], nfill = 0, next;

	/* RLIMIT_NOFILE bounds fd numbers, not counts: fill any holes the parent left so that
	 * "limit = next free fd + n" means exactly n spare descriptors, whatever was inherited. */
	for (;;) {
		int hi = -1, fd;
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;

		ck_assert_ptr_nonnull(d);
		while ((e = readdir(d)) != NULL) {
			long n = strtol(e->d_name, NULL, 10);

			if (e->d_name[0] != '.' && n != dirfd(d) && n > hi)
				hi = (int)n;
		}
		closedir(d);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		if (fd > hi) {
			next = fd;
			close(fd);
			break;
		}
		ck_assert_int_lt(nfill, (int)(sizeof(fillers) / sizeof(fillers[0])));
		fillers[nfill++] = fd;
	}
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &orig), 0);
	for (int extra = 0; extra <= 8; extra++) {
		int rc;

		lim = orig;
		/* One more for the harness writing the PAM service file; it is closed again before
		 * pam_start, so the stack itself starts with `extra` spare. */
		lim.rlim_cur = (rlim_t)next + 1 + (rlim_t)extra;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
		snprintf(user, sizeof(user), "disabled-nofd%d", extra);
		rc = t_pam("sshd", user, args, T_ACCOUNT, 0).rc;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &orig), 0);
		ck_assert_msg(rc != PAM_SUCCESS && rc != PAM_IGNORE, "%d spare fds: rc %d", extra,
			      rc);
	}
	while (nfill > 0)
		close(fillers[--nfill]);
	free(args);
	free(dir);
}
END_TEST

static bool libcurl_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	bool found = false;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "libcurl") != NULL)
			found = true;
	fclose(f);
	return found;
}

/* libcurl is loaded only when a request is made, never for answers found without one. */
START_TEST(t_lazy_libcurl)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "bypass_users = breakglass", "");
	char *dir2 = t_scratch(), *more, *cached;
	int status;
	pid_t pid;

	if (asprintf(&more, "cache_dir = %s/cache\ncache_ttl = 1h", dir2) < 0)
		abort();
	cached = t_conf_args(dir2, more, "");
	ck_assert(!libcurl_mapped());
	ck_assert_int_eq(t_pam("sshd", "breakglass", args, T_ACCOUNT, 0).rc, PAM_IGNORE);
	ck_assert_int_eq(t_pam("sshd", "..", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	ck_assert_int_eq(t_pam("sshd", "enabled-lazy", "conf=/nonexistent", T_ACCOUNT, 0).rc,
			 PAM_SERVICE_ERR);
	/* a cache hit: the answer was kept by another process (which loaded libcurl) */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(t_pam("sshd", "enabled-lazy", cached, T_ACCOUNT, 0).rc == PAM_SUCCESS ? 0
											    : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(t_pam("sshd", "enabled-lazy", cached, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	t_assert_log_field("source", "cache");
	ck_assert_msg(!libcurl_mapped(), "libcurl loaded without a request");
	ck_assert_int_eq(t_pam("sshd", "enabled-lazy", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	ck_assert(libcurl_mapped());
	free(cached);
	free(more);
	free(dir2);
	free(args);
	free(dir);
}
END_TEST

#ifndef __SANITIZE_ADDRESS__
static long vm_size_kib(void)
{
	char *status = t_slurp("/proc/self/status"), *p = strstr(status, "\nVmSize:");
	long kib;

	ck_assert_ptr_nonnull(p);
	kib = strtol(p + 8, NULL, 10);
	free(status);
	return kib;
}
#endif

/*
 * One long-lived host (saslauthd, dovecot's auth workers): its first check runs short of
 * address space (RLIMIT_AS) and cannot load libcurl. That is a fault of this host, not CSMS
 * failing: an error, never fail_open and never a stale permit from offline_grace. Once the
 * shortage is over, the next check loads libcurl and decides as usual.
 */
START_TEST(t_libcurl_after_shortage)
{
#ifdef __SANITIZE_ADDRESS__
	/* ASan reserves terabytes of shadow memory: no RLIMIT_AS for it */
	return;
#else
	char *dir = t_scratch(), *more, *args, *bypass;
	struct rlimit lim, orig;
	struct t_pam_result r;
	int status;
	pid_t pid;

	if (asprintf(&more,
		     "cache_dir = %s/cache\noffline_grace = 1h\nfail_mode = open\n"
		     "bypass_users = breakglass",
		     dir) < 0)
		abort();
	args = t_conf_args(dir, more, "");
	t_states("shortage-1=ENABLED\n");
	/* another process keeps a young ENABLED answer (and loads libcurl, this one does not) */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(t_pam("sshd", "shortage-1", args, T_ACCOUNT, 0).rc == PAM_SUCCESS ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t_states("shortage-1=DISABLED\n");
	/* the module and json-c are loaded first: the limit only has to keep libcurl out */
	ck_assert_int_eq(t_pam("sshd", "breakglass", args, T_ACCOUNT, 0).rc, PAM_IGNORE);
	ck_assert(!libcurl_mapped());

	ck_assert_int_eq(getrlimit(RLIMIT_AS, &orig), 0);
	lim = orig;
	lim.rlim_cur = (rlim_t)(vm_size_kib() + 3072) * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &lim), 0);
	t_log_reset();
	r = t_pam("sshd", "shortage-1", args, T_ACCOUNT, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &orig), 0);
	ck_assert_msg(r.rc == PAM_BUF_ERR || r.rc == PAM_SERVICE_ERR, "rc %d\n%s", r.rc, t_log());
	t_assert_log_field("decision", "error");
	t_assert_log_field("source", "none");
	t_assert_log_field("attempts", "0");
	bypass = t_log_field("detail");
	ck_assert_msg(bypass != NULL && strstr(bypass, "libcurl.so.4") != NULL, "%s", t_log());
	free(bypass);
	ck_assert(!libcurl_mapped());

	/* the shortage is over: the next check loads it and asks */
	ck_assert_int_eq(t_pam("sshd", "shortage-1", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	t_assert_log_field("source", "api");
	ck_assert_int_eq(t_pam("sshd", "enabled-shortage", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	ck_assert(libcurl_mapped());
	t_states("");
	free(args);
	free(more);
	free(dir);
#endif
}
END_TEST

/* The module creates no files, whatever the umask. */
START_TEST(t_umask_no_files)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "", "");
	int before;

	umask(0);
	before = t_dir_entries(dir);
	ck_assert_int_eq(t_pam("sshd", "enabled-um", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	ck_assert_int_eq(t_dir_entries(dir), before);
	free(args);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("host");
	TCase *tls = tcase_create("tls"), *host = tcase_create("host");

	tcase_set_timeout(tls, 60);
	tcase_add_loop_test(tls, t_tls_peer, 0, sizeof(tls_rows) / sizeof(tls_rows[0]));
	tcase_set_timeout(host, 300);
	tcase_add_test(host, t_signals_and_timers);
	tcase_add_test(host, t_no_fd_leak_to_children);
	tcase_add_test(host, t_thousand_cycles);
	tcase_add_test(host, t_fifty_threads);
	tcase_add_test(host, t_hostile_environment);
	tcase_add_test(host, t_umask_no_files);
	tcase_add_test(host, t_lazy_libcurl);
	tcase_add_test(host, t_libcurl_after_shortage);
	tcase_add_loop_test(host, t_stack_matrix, 0, sizeof(stacks) / sizeof(stacks[0]));
	tcase_add_test(host, t_same_handle);
	tcase_add_test(host, t_silent_server);
	tcase_add_test(host, t_syn_dropped);
	tcase_add_test(host, t_fd_limit);
	suite_add_tcase(s, tls);
	suite_add_tcase(s, host);
	return t_run(s);
}
