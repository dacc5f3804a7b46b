/* ShowSecret over HTTPS with libcurl, set up to live inside someone else's process. */
#include "buildconf.h"

#include "http.h"
#include "peer.h"
#include "response.h"
#include "util.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEADERS_MAX ((size_t)64 * 1024)
#define BACKOFF_BASE_MS 100
#define MIN_ATTEMPT_MS 50

/*
 * libcurl is loaded only when a request is needed. Debian's libcurl.so.4 brings some 30
 * libraries and costs more to load than a whole pam_permit transaction; libpam loads
 * every module of a stack for every transaction, so linking it would make each sshd, su
 * and sudo pay that even when a bypass list, an invalid name or a config error decides.
 * The library is never unloaded (resolver threads; the host may use it too).
 *
 * The module loads it RTLD_LAZY. libcurl.so.4 itself, libssl, libcrypto and about half of
 * the libraries it brings are linked -z now (DF_BIND_NOW), and the loader binds such
 * objects completely at dlopen whatever the mode: a libcurl that needs a function its
 * libraries lack fails the dlopen, an error of this host (tests/test_libcurl_load.sh, which
 * also checks that the system's libraries are so linked). RTLD_NOW would also bind the
 * libraries built without it (krb5, gssapi, rtmp, gmp, nghttp2, zlib, ...), which an HTTPS
 * GET does not call on Debian 12, at a cost the README's "Speed" section measures. The
 * price: if one of those lacks a function it needs, the dlopen succeeds and the host dies
 * ("symbol lookup error") only if that function is ever called. csms-check loads RTLD_NOW
 * (csms_http_bind_now), so running it finds such a set.
 */
struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	const char *(*easy_strerror)(CURLcode cc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

static struct curl_api api;
/*
 * Loading and starting libcurl is tried again by the next check after a failure: one
 * transient shortage (RLIMIT_AS, fds) must not leave a long-lived host (saslauthd, dovecot's
 * auth workers, a display manager) failing every check until it restarts. Once it worked it
 * stays done for the life of the process (the library is never unloaded).
 */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool curl_ready;
static int dlopen_mode = RTLD_LAZY | RTLD_LOCAL;
static char load_error[160]; /* why libcurl could not be loaded: paths and symbol names */

void csms_http_bind_now(void)
{
	dlopen_mode = RTLD_NOW | RTLD_LOCAL;
}

static int load_libcurl(void)
{
	void *h;
	struct {
		void **slot;
		const char *name;
	} syms[] = {
		{ (void **)&api.global_init, "curl_global_init" },
		{ (void **)&api.easy_init, "curl_easy_init" },
		{ (void **)&api.easy_setopt, "curl_easy_setopt" },
		{ (void **)&api.easy_perform, "curl_easy_perform" },
		{ (void **)&api.easy_getinfo, "curl_easy_getinfo" },
		{ (void **)&api.easy_cleanup, "curl_easy_cleanup" },
		{ (void **)&api.easy_strerror, "curl_easy_strerror" },
		{ (void **)&api.slist_append, "curl_slist_append" },
		{ (void **)&api.slist_free_all, "curl_slist_free_all" },
		{ (void **)&api.easy_reset, "curl_easy_reset" },
	};

	errno = 0;
	h = dlopen("libcurl.so.4", dlopen_mode);
	if (h == NULL) {
		/* the loader leaves the errno of what failed: ENOMEM for an mmap or malloc (a
		 * shortage, RLIMIT_AS), anything else a library that is missing or broken */
		int e = errno;
		const char *why = dlerror();

		csms_strlcpy(load_error, why != NULL ? why : "not found", sizeof(load_error));
		return e == ENOMEM || strstr(load_error, "Cannot allocate memory") != NULL
			       ? -ENOMEM
			       : -ENOENT;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot == NULL) {
			(void)dlerror(); /* leave no pending error for the host */
			snprintf(load_error, sizeof(load_error), "it has no %s", syms[i].name);
			return -ENOENT; /* h stays loaded: harmless, and never unloaded anyway */
		}
	}
	return 0;
}

/*
 * libcurl opens SSLKEYLOGFILE at initialisation and appends TLS secrets to it. In a setuid su
 * or sudo the variable belongs to the caller, and even elsewhere it would leak the session:
 * refuse whenever it is set, checked at every call so the answer does not depend on who came
 * first. curl_global_cleanup is never called (the host or another module may use libcurl;
 * resolver threads).
 */
static int http_global_init(char *why, size_t len)
{
	int rc = 0;

	if (getenv("SSLKEYLOGFILE") != NULL) {
		csms_strlcpy(why, "refusing: SSLKEYLOGFILE is set", len);
		return -EPERM;
	}
	if (pthread_mutex_lock(&init_lock) != 0) {
		csms_strlcpy(why, "libcurl initialisation failed: cannot take its lock", len);
		return -EIO;
	}
	if (!curl_ready) {
		rc = load_libcurl();
		if (rc != 0) {
			snprintf(why, len, "cannot load libcurl.so.4: %s", load_error);
		} else {
			CURLcode cc = api.global_init(CURL_GLOBAL_DEFAULT);

			rc = cc == CURLE_OK ? 0 : cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
			if (rc != 0)
				snprintf(
					why, len,
					"libcurl initialisation failed: curl_global_init failed (%d)",
					(int)cc);
		}
		curl_ready = rc == 0;
	}
	/* the words are written under the lock: another thread's retry rewrites load_error */
	(void)pthread_mutex_unlock(&init_lock);
	if (rc == 0)
		csms_strlcpy(why, "", len);
	return rc;
}

int csms_http_ready(char *why, size_t len)
{
	return http_global_init(why, len);
}

const char *csms_http_ready_fix(int rc)
{
	switch (rc) {
	case -EPERM:
		return "unset SSLKEYLOGFILE, under which no check runs";
	case -ENOENT:
		return "reinstall libcurl4 and its libraries (apt-get install --reinstall libcurl4)";
	case -ENOMEM:
		return "out of memory: raise the service's memory limit (ulimit -v, MemoryMax=)";
	default:
		return "check the memory limits and OpenSSL's configuration (OPENSSL_CONF, "
		       "/usr/lib/ssl/openssl.cnf)";
	}
}

/* One attempt: what goes in (the budget left) and everything that comes back. */
struct transfer {
	int64_t remaining; /* ms of the budget this attempt may use */
	int socket_errno;  /* a local failure to make a socket (EMFILE, ENOMEM, ...) */
	char *body;        /* CSMS_BODY_MAX + 1 bytes, kept across attempts */
	size_t len;
	bool body_overflow;
	size_t header_bytes;
	bool header_overflow;
	long status;
	char content_type[128];
	char request_id[CSMS_REQUEST_ID_MAX + 1];
	char retry_after[64];
	char date[64];
	char errbuf[CURL_ERROR_SIZE];
	char peer_refused[CSMS_ERRLEN]; /* why the loopback server was not trusted */
};

/* Everything but the body buffer back to nothing, for the next attempt. */
static void transfer_reset(struct transfer *t, int64_t remaining)
{
	char *body = t->body;

	memset(t, 0, sizeof(*t));
	t->body = body;
	t->body[0] = '\0';
	t->remaining = remaining;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;

	/* CURLOPT_MAXFILESIZE does not stop unknown-length bodies before curl 8.4. */
	if (n > CSMS_BODY_MAX - t->len) {
		t->body_overflow = true;
		return 0;
	}
	memcpy(t->body + t->len, ptr, n);
	t->len += n;
	t->body[t->len] = '\0';
	return n;
}

static void header_value(const char *line, size_t n, size_t namelen, char *out, size_t outlen)
{
	const char *v = line + namelen;
	size_t vl = n - namelen;

	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 &&
	       (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (vl >= outlen)
		vl = outlen - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;

	t->header_bytes += n;
	if (t->header_bytes > HEADERS_MAX) {
		t->header_overflow = true;
		return 0;
	}
	if (csms_prefix_icase(line, n, "http/")) {
		/* a new response (e.g. after 100 Continue): forget the previous one's headers */
		t->request_id[0] = '\0';
		t->retry_after[0] = '\0';
		t->date[0] = '\0';
	} else if (csms_prefix_icase(line, n, "x-request-id:")) {
		header_value(line, n, 13, t->request_id, sizeof(t->request_id));
	} else if (csms_prefix_icase(line, n, "retry-after:")) {
		header_value(line, n, 12, t->retry_after, sizeof(t->retry_after));
	} else if (csms_prefix_icase(line, n, "date:")) {
		header_value(line, n, 5, t->date, sizeof(t->date));
	}
	return n;
}

static curl_socket_t open_socket_cloexec(void *clientp, curlsocktype purpose UNUSED,
					 struct curl_sockaddr *addr)
{
	struct transfer *t = clientp;
	int fd;

	/* libcurl 7.88 leaves sockets inheritable; su and sudo fork and exec after PAM. */
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd < 0)
		t->socket_errno = errno;
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static enum csms_http_result classify(CURLcode cc, const struct transfer *t)
{
	/* the process itself is short of something: never "CSMS cannot answer" */
	if (cc != CURLE_OK && t->socket_errno != 0 && t->socket_errno != EAFNOSUPPORT)
		return CSMS_HTTP_MEMORY;
	if (cc == CURLE_ABORTED_BY_CALLBACK && t->peer_refused[0] != '\0')
		return CSMS_HTTP_PEER;
	switch (cc) {
	case CURLE_OK:
		return CSMS_HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return CSMS_HTTP_TIMEOUT;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return t->body_overflow || t->header_overflow || cc == CURLE_FILESIZE_EXCEEDED
			       ? CSMS_HTTP_TOO_BIG
			       : CSMS_HTTP_PROTOCOL;
	case CURLE_PARTIAL_FILE:
		return CSMS_HTTP_TRUNCATED;
	case CURLE_SSL_CACERT_BADFILE:
		return CSMS_HTTP_CA;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
		return CSMS_HTTP_TLS;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
		return CSMS_HTTP_MEMORY;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return CSMS_HTTP_PROTOCOL;
	default:
		return CSMS_HTTP_NETWORK;
	}
}

/*
 * Plain http, just connected, nothing sent yet: a loopback server must be run by root or by
 * this process's euid. Any user may bind a free loopback port, and one who got there first
 * must not hand out keys (and, with project_id left to the service, a project of their own).
 */
static int on_connected(void *userdata, char *peer_ip, char *local_ip, int peer_port,
			int local_port)
{
	struct transfer *t = userdata;
	uid_t owner = 0;
	int rc;

	if (!csms_ip_is_loopback(peer_ip))
		return CURL_PREREQFUNC_OK;
	rc = csms_loopback_listeners(peer_ip, peer_port, local_ip, local_port, geteuid(), &owner);
	if (rc == 0)
		return CURL_PREREQFUNC_OK;
	if (rc == -EPERM)
		snprintf(t->peer_refused, sizeof(t->peer_refused),
			 "the server on %s port %d is run by uid %lu, not root: not asked (another "
			 "user may hold the port; run the service as root)",
			 peer_ip, peer_port, (unsigned long)owner);
	else
		snprintf(t->peer_refused, sizeof(t->peer_refused),
			 "cannot tell who runs the server on %s port %d (/proc/net/tcp: %s): not "
			 "asked",
			 peer_ip, peer_port, strerror(-rc));
	return CURL_PREREQFUNC_ABORT;
}

#define SETOPT(h, opt, val)                                         \
	do {                                                        \
		if (api.easy_setopt((h), (opt), (val)) != CURLE_OK) \
			goto setopt_failed;                         \
	} while (0)

/*
 * One libcurl handle for the requests of one check (several secrets, their retries): they
 * share its connection (HTTP/1.1 keep-alive) and nothing else, as every option is set again
 * for every attempt. It is never kept beyond the check: no other user or login shares it.
 */
struct csms_http_session {
	CURL *h;
};

struct csms_http_session *csms_http_session_new(void)
{
	return calloc(1, sizeof(struct csms_http_session));
}

void csms_http_session_free(struct csms_http_session *s)
{
	if (s == NULL)
		return;
	if (s->h != NULL)
		api.easy_cleanup(s->h); /* closes the connection */
	free(s);
}

/* One attempt on the session's handle, every option set afresh (curl_easy_reset keeps only
 * the open connection and caches). */
static CURLcode perform_once(struct csms_http_session *s, const struct csms_http_request *rq,
			     struct curl_slist *headers, struct transfer *t)
{
	CURL *h;
	CURLcode cc;
	char *ctype = NULL;
	int64_t connect_ms = rq->connect_timeout_ms < t->remaining ? rq->connect_timeout_ms
								   : t->remaining;

	if (s->h == NULL)
		s->h = api.easy_init();
	else
		api.easy_reset(s->h);
	h = s->h;
	if (h == NULL)
		return CURLE_OUT_OF_MEMORY;

	SETOPT(h, CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(h, CURLOPT_URL, rq->url);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, rq->plain_http ? "http" : "https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_MAXREDIRS, 0L);
	SETOPT(h, CURLOPT_PATH_AS_IS, 1L);
	SETOPT(h, CURLOPT_HTTPGET, 1L);
	if (rq->method != NULL && strcmp(rq->method, "GET") != 0)
		SETOPT(h, CURLOPT_CUSTOMREQUEST, rq->method);
	SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(h, CURLOPT_FAILONERROR, 0L);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* Only the CA the config names: drop libcurl's compiled-in bundle and directory. */
	SETOPT(h, CURLOPT_CAINFO, (char *)NULL);
	SETOPT(h, CURLOPT_CAPATH, (char *)NULL);
	SETOPT(h, CURLOPT_PROXY_CAINFO, (char *)NULL);
	SETOPT(h, CURLOPT_PROXY_CAPATH, (char *)NULL);
	if (rq->ca_blob != NULL) {
		struct curl_blob blob = {
			.data = (void *)(uintptr_t)rq->ca_blob,
			.len = rq->ca_blob_len,
			.flags = CURL_BLOB_COPY,
		};

		SETOPT(h, CURLOPT_CAINFO_BLOB, &blob);
		SETOPT(h, CURLOPT_PROXY_CAINFO_BLOB, &blob);
	}
	if (rq->ca_path != NULL) {
		SETOPT(h, CURLOPT_CAPATH, rq->ca_path);
		SETOPT(h, CURLOPT_PROXY_CAPATH, rq->ca_path);
	}
	/* "" disables proxies even when http_proxy and friends are in the environment. */
	SETOPT(h, CURLOPT_PROXY, rq->proxy != NULL ? rq->proxy : "");
	SETOPT(h, CURLOPT_NOPROXY, "");
	SETOPT(h, CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(h, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, (long)t->remaining);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	SETOPT(h, CURLOPT_HTTPHEADER, headers);
	/* the credentials' headers never go to a proxy's CONNECT */
	SETOPT(h, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
	SETOPT(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CSMS_BODY_MAX);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(h, CURLOPT_WRITEDATA, t);
	SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h, CURLOPT_HEADERDATA, t);
	SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, open_socket_cloexec);
	SETOPT(h, CURLOPT_OPENSOCKETDATA, t);
	if (rq->plain_http) {
		SETOPT(h, CURLOPT_PREREQFUNCTION, on_connected);
		SETOPT(h, CURLOPT_PREREQDATA, t);
	}
	/* do not wait for a stuck resolver thread at cleanup: the budget is the budget */
	SETOPT(h, CURLOPT_QUICK_EXIT, 1L);

	cc = api.easy_perform(h);
	if (cc == CURLE_OK) {
		(void)api.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->status);
		if (api.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL)
			csms_strlcpy(t->content_type, ctype, sizeof(t->content_type));
	}
	return cc;

setopt_failed:
	csms_strlcpy(t->errbuf, "libcurl refused an option", sizeof(t->errbuf));
	return CURLE_FAILED_INIT;
}

/* ---- the retry policy ------------------------------------------------------------- */

/* Worth another attempt: no connection, a timed-out attempt, 429 and 5xx. Never 4xx: five
 * bad signatures in a row lock an access key. */
static bool retryable(enum csms_http_result r, long status)
{
	if (r == CSMS_HTTP_NETWORK || r == CSMS_HTTP_TIMEOUT)
		return true;
	return r == CSMS_HTTP_OK && (status == 429 || (status >= 500 && status <= 599));
}

/* The wait before the attempt after `attempt`: a 429's Retry-After when it has a usable one,
 * else exponential back-off (100 ms doubling) with jitter in its upper half. The caller
 * gives up instead when the wait would not leave room for another attempt. */
static int64_t retry_wait_ms(int attempt, long status, const char *retry_after)
{
	int64_t wait = status == 429 ? csms_retry_after_ms(retry_after, (int64_t)time(NULL)) : -1;

	if (wait < 0) {
		int64_t base = (int64_t)BACKOFF_BASE_MS << (attempt - 1);

		wait = base / 2 + csms_jitter((uint32_t)(base / 2 + 1));
	}
	return wait;
}

static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", parsed without the locale. */
int64_t csms_http_date_parse(const char *s)
{
	/* fixed layout: "Www, DD Mmm YYYY HH:MM:SS GMT" */
	static const char layout[] = "Www, 00 Mmm 0000 00:00:00 GMT";
	struct tm tm = { 0 };
	int d, y, hh, mm, ss;

	if (strlen(s) != sizeof(layout) - 1)
		return -1;
	for (size_t i = 0; i < sizeof(layout) - 1; i++) {
		if (layout[i] == '0' && (s[i] < '0' || s[i] > '9'))
			return -1;
		if (layout[i] != '0' && layout[i] != 'W' && layout[i] != 'w' && layout[i] != 'M' &&
		    layout[i] != 'm' && s[i] != layout[i])
			return -1;
	}
	d = (s[5] - '0') * 10 + (s[6] - '0');
	y = (s[12] - '0') * 1000 + (s[13] - '0') * 100 + (s[14] - '0') * 10 + (s[15] - '0');
	hh = (s[17] - '0') * 10 + (s[18] - '0');
	mm = (s[20] - '0') * 10 + (s[21] - '0');
	ss = (s[23] - '0') * 10 + (s[24] - '0');
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strncmp(s + 8, month_names[i], 3) == 0)
			tm.tm_mon = i;
	if (tm.tm_mon < 0 || d < 1 || d > 31 || y < 1970 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	return (int64_t)timegm(&tm);
}

int64_t csms_retry_after_ms(const char *value, int64_t now)
{
	int64_t secs = 0;
	const char *p = value;

	if (value == NULL || *value == '\0')
		return -1;
	if (*p >= '0' && *p <= '9') {
		for (; *p >= '0' && *p <= '9'; p++) {
			if (secs > (int64_t)86400 * 365)
				return -1;
			secs = secs * 10 + (*p - '0');
		}
		return *p == '\0' ? secs * 1000 : -1;
	}
	secs = csms_http_date_parse(value);
	if (secs < 0)
		return -1;
	return secs <= now ? 0 : (secs - now) * 1000;
}

/* Block SIGPIPE in this thread only; the host's disposition is never touched. */
struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	(void)sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
	(void)pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t set, pending;
	const struct timespec zero = { 0, 0 };

	sigemptyset(&pending);
	(void)sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	(void)pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void trace_add(struct csms_http_response *resp, int attempt, enum csms_http_result r,
		      long status, int64_t ms)
{
	size_t used = strlen(resp->trace);

	if (used + 40 >= sizeof(resp->trace))
		return;
	if (r == CSMS_HTTP_OK)
		snprintf(resp->trace + used, sizeof(resp->trace) - used, "%s#%d:%ld/%lldms",
			 used ? " " : "", attempt, status, (long long)ms);
	else
		snprintf(resp->trace + used, sizeof(resp->trace) - used, "%s#%d:err%d/%lldms",
			 used ? " " : "", attempt, (int)r, (long long)ms);
}

static void wipe_headers(struct curl_slist *list)
{
	if (list == NULL)
		return;
	for (struct curl_slist *l = list; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	api.slist_free_all(list);
}

static bool append(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = api.slist_append(*list, line);

	if (l == NULL)
		return false;
	*list = l;
	return true;
}

/* One attempt's headers: Accept, the caller's (a token or a fresh signature), and for a PUT
 * its empty body said so. NULL on failure, with -ENOMEM or the caller's code in *rc. */
static struct curl_slist *attempt_headers(const struct csms_http_request *rq, int *rc)
{
	struct curl_slist *list = NULL;
	const char *const *lines = NULL;
	char accept[160];

	*rc = -ENOMEM;
	if (rq->accept != NULL) {
		snprintf(accept, sizeof(accept), "Accept: %s", rq->accept);
		if (!append(&list, accept))
			goto failed;
	}
	if (rq->method != NULL && strcmp(rq->method, "PUT") == 0 &&
	    !append(&list, "Content-Length: 0"))
		goto failed;
	if (rq->headers != NULL) {
		*rc = rq->headers(rq->headers_ctx, &lines);
		if (*rc != 0)
			goto failed;
		*rc = -ENOMEM;
		for (; lines != NULL && *lines != NULL; lines++)
			if (!append(&list, *lines))
				goto failed;
	}
	/* an "Expect:" with no value sends nothing: it only makes the list non-empty */
	if (list == NULL && !append(&list, "Expect:"))
		goto failed;
	*rc = 0;
	return list;
failed:
	wipe_headers(list);
	return NULL;
}

void csms_http_get(struct csms_http_session *session, const struct csms_http_request *rq,
		   struct csms_http_response *resp)
{
	struct csms_http_session once = { NULL }, *s = session != NULL ? session : &once;
	struct transfer t;
	struct sigpipe_guard guard;
	int rc;

	memset(resp, 0, sizeof(*resp));
	memset(&t, 0, sizeof(t));
	resp->result = CSMS_HTTP_MEMORY;

	rc = csms_http_ready(resp->detail, sizeof(resp->detail));
	if (rc != 0) {
		/* nothing was asked: a fault of this host, never "CSMS cannot answer" */
		resp->result = rc == -EPERM    ? CSMS_HTTP_REFUSED
			       : rc == -ENOMEM ? CSMS_HTTP_MEMORY
					       : CSMS_HTTP_LIBRARY;
		if (rc != -EPERM) {
			size_t n = strlen(resp->detail);

			snprintf(resp->detail + n, sizeof(resp->detail) - n, "; %s",
				 csms_http_ready_fix(rc));
		}
		return;
	}

	t.body = malloc(CSMS_BODY_MAX + 1);
	if (t.body == NULL)
		return;

	sigpipe_block(&guard);
	for (int attempt = 1;; attempt++) {
		int64_t start = csms_now_ms(), wait;
		struct curl_slist *headers;
		CURLcode cc;
		enum csms_http_result r;

		if (rq->deadline_ms - start <= 0) {
			resp->result = CSMS_HTTP_TIMEOUT;
			if (resp->detail[0] == '\0')
				csms_strlcpy(resp->detail, "timeout reached before a request",
					     sizeof(resp->detail));
			break;
		}
		transfer_reset(&t, rq->deadline_ms - start);
		headers = attempt_headers(rq, &rc);
		if (headers == NULL) {
			resp->result = rc == -ENOMEM ? CSMS_HTTP_MEMORY : CSMS_HTTP_SIGN;
			csms_strlcpy(resp->detail,
				     rc == -ENOMEM ? "out of memory"
						   : "the request could not be signed",
				     sizeof(resp->detail));
			break;
		}
		cc = perform_once(s, rq, headers, &t);
		wipe_headers(headers);
		r = classify(cc, &t);
		/* an attempt that hit connect_timeout with budget left is a network failure;
		 * reason=timeout means the whole budget ran out */
		if (r == CSMS_HTTP_TIMEOUT && rq->deadline_ms - csms_now_ms() > MIN_ATTEMPT_MS)
			r = CSMS_HTTP_NETWORK;
		resp->attempts = attempt;
		resp->result = r;
		resp->status = t.status;
		csms_strlcpy(resp->content_type, t.content_type, sizeof(resp->content_type));
		csms_strlcpy(resp->request_id, t.request_id, sizeof(resp->request_id));
		csms_strlcpy(resp->date, t.date, sizeof(resp->date));
		if (r == CSMS_HTTP_PEER)
			csms_strlcpy(resp->detail, t.peer_refused, sizeof(resp->detail));
		else if (r == CSMS_HTTP_TOO_BIG)
			csms_strlcpy(resp->detail,
				     t.header_overflow ? "response headers over the cap"
						       : "response body over the size cap",
				     sizeof(resp->detail));
		else if (r != CSMS_HTTP_OK)
			csms_strlcpy(resp->detail, t.errbuf[0] ? t.errbuf : api.easy_strerror(cc),
				     sizeof(resp->detail));
		else
			resp->detail[0] = '\0';
		trace_add(resp, attempt, r, t.status, csms_now_ms() - start);

		if (!retryable(r, t.status) || attempt > rq->retries)
			break;
		wait = retry_wait_ms(attempt, t.status, t.retry_after);
		if (csms_now_ms() + wait > rq->deadline_ms - MIN_ATTEMPT_MS)
			break; /* no room left for another attempt */
		csms_sleep_until_ms(csms_now_ms() + wait);
	}
	sigpipe_restore(&guard);

	if (resp->result == CSMS_HTTP_OK) {
		resp->body = t.body;
		resp->body_len = t.len;
		t.body = NULL;
	} else if (t.body != NULL) {
		explicit_bzero(t.body, t.len); /* part of a securitykey reply, say */
	}
	free(t.body);
	/* the handle points into this frame (error buffer, callbacks' data, headers): nothing
	 * of it may outlive the call but the connection */
	if (s->h != NULL)
		api.easy_reset(s->h);
	if (once.h != NULL)
		api.easy_cleanup(once.h);
}

void csms_http_response_free(struct csms_http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}
