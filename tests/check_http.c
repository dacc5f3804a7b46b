/* The transport against the TLS stand-in: deadline, caps, retries, and the host process. */
#include "buildconf.h"

#include "http.h"
#include "peer.h"
#include "response.h"
#include "testlib.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *ca_blob;
static size_t ca_len;

static void load_ca(void)
{
	ca_blob = t_slurp(t_env("CSMS_TEST_CA"));
	ca_len = strlen(ca_blob);
	ck_assert_uint_gt(ca_len, 0);
}

static int token_line(void *ctx, const char *const **lines)
{
	static const char *const token[] = { "X-Auth-Token: " T_TOKEN_DEFAULT, NULL };

	(void)ctx;
	*lines = token;
	return 0;
}

static void get(const char *name, int64_t budget_ms, int retries, struct csms_http_response *r)
{
	char url[256];
	struct csms_http_request rq = { 0 };

	load_ca();
	snprintf(url, sizeof(url), "%s/v1/%s/secrets/%s", t_endpoint(),
		 t_env("CSMS_STANDIN_PROJECT"), name);
	rq.url = url;
	rq.headers = token_line;
	rq.accept = "application/json";
	rq.ca_blob = ca_blob;
	rq.ca_blob_len = ca_len;
	rq.deadline_ms = csms_now_ms() + budget_ms;
	rq.connect_timeout_ms = budget_ms < 2000 ? budget_ms : 2000;
	rq.retries = retries;
	csms_http_get(NULL, &rq, r);
	free(ca_blob);
}

static const struct {
	const char *name;
	int64_t budget_ms;
	int retries;
	enum csms_http_result result;
	long status; /* -1: not checked */
	int requests;
} rows[] = {
	{ "enabled-h1", 5000, 2, CSMS_HTTP_OK, 200, 1 },
	{ "noclen-h2", 5000, 2, CSMS_HTTP_OK, 200, 1 },
	{ "redirect-h3", 5000, 2, CSMS_HTTP_OK, 302, 1 },
	{ "redirect308-h4", 5000, 2, CSMS_HTTP_OK, 308, 1 },
	{ "endless-h5", 5000, 2, CSMS_HTTP_TOO_BIG, -1, 1 },
	{ "chunkedbig-h6", 5000, 2, CSMS_HTTP_TOO_BIG, -1, 1 },
	{ "over64k-h7", 5000, 2, CSMS_HTTP_TOO_BIG, -1, 1 },
	{ "hugeheaders-h8", 5000, 2, CSMS_HTTP_TOO_BIG, -1, 1 },
	{ "slowbody-h9", 1500, 2, CSMS_HTTP_TIMEOUT, -1, 1 },
	{ "slowhdr3-h10", 1000, 2, CSMS_HTTP_TIMEOUT, -1, 1 },
	{ "dribble-h11", 1000, 0, CSMS_HTTP_TIMEOUT, -1, 1 },
	{ "flaky2x503-h12", 5000, 2, CSMS_HTTP_OK, 200, 3 },
	{ "flaky2x503-h13", 5000, 1, CSMS_HTTP_OK, 503, 2 },
	{ "err500-h14", 5000, 0, CSMS_HTTP_OK, 500, 1 },
	{ "unauth-h15", 5000, 5, CSMS_HTTP_OK, 401, 1 },
	{ "forbidden-h16", 5000, 5, CSMS_HTTP_OK, 403, 1 },
	{ "nf404-h17", 5000, 5, CSMS_HTTP_OK, 404, 1 },
	{ "nf0106-h18", 5000, 5, CSMS_HTTP_OK, 400, 1 },
	{ "throttledate-h19", 5000, 1, CSMS_HTTP_OK, 200, 2 },
	{ "throttleneg-h20", 5000, 1, CSMS_HTTP_OK, 429, 2 },
	{ "throttlejunk-h21", 5000, 1, CSMS_HTTP_OK, 429, 2 },
	{ "throttlenone-h22", 5000, 1, CSMS_HTTP_OK, 429, 2 },
	{ "throttle-h23", 1000, 5, CSMS_HTTP_OK, 429, 1 }, /* Retry-After 1 s does not fit */
	{ "throttlebig-h24", 5000, 5, CSMS_HTTP_OK, 429, 1 },
};

START_TEST(t_transport)
{
	struct csms_http_response r;
	int64_t t0 = csms_now_ms(), elapsed;

	get(rows[_i].name, rows[_i].budget_ms, rows[_i].retries, &r);
	elapsed = csms_now_ms() - t0;
	ck_assert_msg(r.result == rows[_i].result, "%s: result %d (%s), want %d", rows[_i].name,
		      r.result, r.detail, rows[_i].result);
	if (rows[_i].status >= 0)
		ck_assert_msg(r.status == rows[_i].status, "%s: status %ld", rows[_i].name,
			      r.status);
	ck_assert_msg(t_requests_for(rows[_i].name) == rows[_i].requests, "%s: %d requests",
		      rows[_i].name, t_requests_for(rows[_i].name));
	ck_assert_int_eq(r.attempts, rows[_i].requests);
	/* the whole call stays inside its budget plus a small constant */
	ck_assert_msg(elapsed < rows[_i].budget_ms + 500, "%s: %lld ms", rows[_i].name,
		      (long long)elapsed);
	if (r.result == CSMS_HTTP_OK)
		ck_assert_int_eq(r.body_len, strlen(r.body));
	else
		ck_assert_ptr_null(r.body);
	csms_http_response_free(&r);
}
END_TEST

START_TEST(t_body_at_cap)
{
	struct csms_http_response r;

	get("exact64k-c1", 5000, 0, &r);
	ck_assert_int_eq(r.result, CSMS_HTTP_OK);
	ck_assert_int_eq(r.body_len, CSMS_BODY_MAX);
	csms_http_response_free(&r);
}
END_TEST

START_TEST(t_cut_body)
{
	struct csms_http_response r;

	get("cutbody-c2", 5000, 0, &r);
	ck_assert_msg(r.result == CSMS_HTTP_NETWORK || r.result == CSMS_HTTP_TRUNCATED, "%d %s",
		      r.result, r.detail);
	ck_assert_ptr_null(r.body);
	csms_http_response_free(&r);
}
END_TEST

START_TEST(t_request_id)
{
	struct csms_http_response r;

	get("enabled-c3", 5000, 0, &r);
	ck_assert_int_eq(strlen(r.request_id), 32);
	csms_http_response_free(&r);
	get("reqid-long-c4", 5000, 0, &r);
	ck_assert_int_eq(strlen(r.request_id), CSMS_REQUEST_ID_MAX); /* bounded */
	csms_http_response_free(&r);
}
END_TEST

/* Proxy variables are ignored: the request goes straight to the stand-in. */
START_TEST(t_proxy_env_ignored)
{
	struct csms_http_response r;

	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	setenv("NO_PROXY", "", 1);
	get("enabled-p1", 5000, 0, &r);
	ck_assert_int_eq(r.result, CSMS_HTTP_OK);
	ck_assert_int_eq(r.status, 200);
	csms_http_response_free(&r);
}
END_TEST

/* With SSLKEYLOGFILE set, libcurl is never initialised and nothing is written. */
START_TEST(t_keylog_refused)
{
	char *dir = t_scratch(), *kl = t_path(dir, "keys.log");
	struct csms_http_response r;
	struct stat st;

	setenv("SSLKEYLOGFILE", kl, 1);
	get("enabled-k1", 5000, 0, &r);
	ck_assert_int_eq(r.result, CSMS_HTTP_REFUSED);
	ck_assert_int_eq(r.attempts, 0);
	ck_assert_int_eq(t_requests_for("enabled-k1"), 0);
	ck_assert_int_ne(stat(kl, &st), 0);
	ck_assert_ptr_nonnull(strstr(r.detail, "SSLKEYLOGFILE"));
	free(kl);
	free(dir);
}
END_TEST

/* The host's signal dispositions, mask and fds are as they were. */
START_TEST(t_host_untouched)
{
	struct sigaction before, after;
	sigset_t mask_before, mask_after;
	struct csms_http_response r;
	int fds;

	get("enabled-w0", 5000, 0, &r); /* first use: libcurl's one-time init */
	csms_http_response_free(&r);
	fds = t_count_fds();
	ck_assert_int_eq(sigaction(SIGPIPE, NULL, &before), 0);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &mask_before), 0);
	get("cutbody-w1", 5000, 0, &r);
	csms_http_response_free(&r);
	get("enabled-w2", 5000, 0, &r);
	csms_http_response_free(&r);
	ck_assert_int_eq(sigaction(SIGPIPE, NULL, &after), 0);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &mask_after), 0);
	ck_assert(before.sa_handler == after.sa_handler);
	ck_assert_int_eq(sigismember(&mask_before, SIGPIPE), sigismember(&mask_after, SIGPIPE));
	ck_assert_int_eq(t_count_fds(), fds);
}
END_TEST

static const struct {
	const char *value;
	int64_t ms;
} retry_after[] = {
	{ "0", 0 },
	{ "1", 1000 },
	{ "120", 120000 },
	{ "999999", 999999000 },
	{ "", -1 },
	{ "-5", -1 },
	{ "1.5", -1 },
	{ "soon", -1 },
	{ "1 ", -1 },
	{ "99999999999999999999", -1 },
	{ "Thu, 01 Jan 1970 00:00:10 GMT", 0 },     /* in the past */
	{ "Thu, 01 Jan 1970 00:01:40 GMT", 90000 }, /* now is 10 s */
	{ "Thu, 01 Jan 1970 00:01:40 UTC", -1 },
	{ "Thursday, 01-Jan-70 00:01:40 GMT", -1 },
	{ "Thu, 01 Foo 1970 00:01:40 GMT", -1 },
};

START_TEST(t_retry_after)
{
	ck_assert_msg(csms_retry_after_ms(retry_after[_i].value, 10) == retry_after[_i].ms,
		      "'%s' -> %lld", retry_after[_i].value,
		      (long long)csms_retry_after_ms(retry_after[_i].value, 10));
}
END_TEST

static const struct {
	const char *ip;
	bool loopback;
} loopbacks[] = {
	{ "127.0.0.1", true },
	{ "127.255.255.254", true },
	{ "::1", true },
	{ "::ffff:127.0.0.1", true },
	{ "128.0.0.1", false },
	{ "126.255.255.255", false },
	{ "169.254.169.254", false },
	{ "::2", false },
	{ "::ffff:10.0.0.1", false },
	{ "fe80::1", false },
	{ "localhost", false },
	{ "", false },
};

START_TEST(t_loopback)
{
	ck_assert_msg(csms_ip_is_loopback(loopbacks[_i].ip) == loopbacks[_i].loopback, "%s",
		      loopbacks[_i].ip);
}
END_TEST

/* A listener on ip:*port (0: any port, then set) made in a child that is `as` (when root),
 * kept listening there by pause(); IPv6 dual-stack unless v6only. */
static pid_t listener(int family, const char *ip, uid_t as, bool v6only, long *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int pipefd[2], got;
	pid_t pid;

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int p = -1, only = v6only, fd;

		/* the socket is made after dropping to `as`: it is theirs */
		if (as != geteuid() && (setgid(as) != 0 || setuid(as) != 0))
			_exit(1);
		fd = socket(family, SOCK_STREAM, 0);
		if (family == AF_INET) {
			((struct sockaddr_in *)&ss)->sin_family = AF_INET;
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)*port);
			inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
		} else {
			((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)*port);
			inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only));
		}
		if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, sl) == 0 && listen(fd, 4) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			p = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						    : ((struct sockaddr_in6 *)&ss)->sin6_port);
		if (write(pipefd[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], &got, sizeof(got)), sizeof(got));
	close(pipefd[0]);
	ck_assert_msg(got > 0, "cannot listen on %s port %ld", ip, *port);
	*port = got;
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Connect to ip:port as a client would and ask who listens there: the lookup's result, or
 * -ECONNREFUSED. */
static int probe(const char *ip, long port, uid_t trusted, uid_t *owner)
{
	struct sockaddr_storage ss = { 0 }, me = { 0 };
	bool v4 = strchr(ip, ':') == NULL;
	socklen_t sl = v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
		  ml = sizeof(me);
	int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM, 0), rc;
	char local[64];
	long local_port;

	ck_assert_int_ge(fd, 0);
	if (v4) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		close(fd);
		return -ECONNREFUSED;
	}
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&me, &ml), 0);
	if (v4) {
		struct sockaddr_in a;

		memcpy(&a, &me, sizeof(a));
		inet_ntop(AF_INET, &a.sin_addr, local, sizeof(local));
		local_port = ntohs(a.sin_port);
	} else {
		struct sockaddr_in6 a;

		memcpy(&a, &me, sizeof(a));
		inet_ntop(AF_INET6, &a.sin6_addr, local, sizeof(local));
		local_port = ntohs(a.sin6_port);
	}
	rc = csms_loopback_listeners(ip, port, local, local_port, trusted, owner);
	close(fd);
	return rc;
}

/* Who listens where a loopback connection lands: this process, on IPv4, IPv6, a dual-stack
 * [::] (the connection then listed in tcp6) and 0.0.0.0; as root, another user's listener
 * is named, an IPv6-only [::] of another user on the same port as ours is no candidate for
 * IPv4, and another user's [::ffff:0.0.0.0] is. */
START_TEST(t_peer_owner)
{
	uid_t owner = 12345, me = geteuid();
	long port = 0, p2;
	pid_t pid, pid2;

	pid = listener(AF_INET, "127.0.0.1", me, false, &port);
	ck_assert_int_eq(probe("127.0.0.1", port, me, &owner), 0);
	ck_assert_int_eq(probe("127.0.0.2", port, me, &owner), -ECONNREFUSED);
	/* not a connection of ours: nothing to look up */
	ck_assert_int_eq(csms_loopback_listeners("127.0.0.1", port, "127.0.0.1", 1, me, &owner),
			 -ENOENT);
	stop(pid);
	port = 0;
	pid = listener(AF_INET6, "::1", me, true, &port);
	ck_assert_int_eq(probe("::1", port, me, &owner), 0);
	stop(pid);
	port = 0;
	pid = listener(AF_INET6, "::", me, false, &port);
	ck_assert_int_eq(probe("127.0.0.1", port, me, &owner), 0);
	ck_assert_int_eq(probe("::1", port, me, &owner), 0);
	stop(pid);
	port = 0;
	pid = listener(AF_INET, "0.0.0.0", me, false, &port);
	ck_assert_int_eq(probe("127.0.0.9", port, me, &owner), 0);
	stop(pid);
	if (me == 0) {
		port = 0;
		pid = listener(AF_INET, "127.0.0.1", 65534, false, &port);
		ck_assert_int_eq(probe("127.0.0.1", port, 0, &owner), -EPERM);
		ck_assert_int_eq(owner, 65534);
		/* trusted: the user running the check */
		ck_assert_int_eq(probe("127.0.0.1", port, 65534, &owner), 0);
		stop(pid);
		/* ours on 127.0.0.1, another user's IPv6-only [::] on the same port */
		port = 0;
		pid = listener(AF_INET, "127.0.0.1", 0, false, &port);
		p2 = port;
		pid2 = listener(AF_INET6, "::", 65534, true, &p2);
		ck_assert_int_eq(probe("127.0.0.1", port, 0, &owner), 0);
		ck_assert_int_eq(probe("::1", port, 0, &owner), -EPERM);
		stop(pid2);
		stop(pid);
		/* another user's [::ffff:0.0.0.0] takes IPv4 connections */
		port = 0;
		pid = listener(AF_INET6, "::ffff:0.0.0.0", 65534, false, &port);
		ck_assert_int_eq(probe("127.0.0.1", port, 0, &owner), -EPERM);
		stop(pid);
	}
	ck_assert_int_eq(csms_loopback_listeners("not-an-ip", 80, "127.0.0.1", 80, me, &owner),
			 -EINVAL);
	ck_assert_int_eq(csms_loopback_listeners("127.0.0.1", 0, "127.0.0.1", 80, me, &owner),
			 -EINVAL);
	ck_assert_int_eq(csms_loopback_listeners("127.0.0.1", 80, "127.0.0.1", 65536, me, &owner),
			 -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, t_transport, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_loop_test(tc, t_retry_after, 0, sizeof(retry_after) / sizeof(retry_after[0]));
	tcase_add_test(tc, t_body_at_cap);
	tcase_add_test(tc, t_cut_body);
	tcase_add_test(tc, t_request_id);
	tcase_add_test(tc, t_proxy_env_ignored);
	tcase_add_test(tc, t_keylog_refused);
	tcase_add_test(tc, t_host_untouched);
	tcase_add_loop_test(tc, t_loopback, 0, sizeof(loopbacks) / sizeof(loopbacks[0]));
	tcase_add_test(tc, t_peer_owner);
	suite_add_tcase(s, tc);
	return t_run(s);
}
