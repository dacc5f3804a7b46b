/* csms-check --doctor: each thing a check needs, tested in turn, with the fix when it fails. */
#include "buildconf.h"

#include "doctor.h"
#include "cache.h"
#include "config.h"
#include "credsource.h"
#include "http.h"
#include "response.h"
#include "safefile.h"
#include "showsecret.h"
#include "token.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* A secret name nobody has: any answer but 401/403 shows the token is accepted. */
#define PROBE_SECRET "pam-csms-doctor-probe"

/* What the steps find out, for the steps after them. */
struct doctor {
	FILE *out;
	int failed;
	struct csms_config cfg;
	struct csms_credentials cred;
	const char *project; /* the config's, or the instance's */
	char *ca;
	size_t ca_len;
	char host[256], port[8];
	struct addrinfo *ai;
	struct csms_http_response resp; /* the one ShowSecret call: tls, clock and api */
};

static void ok(struct doctor *d, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool failed(struct doctor *d, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "NAME: ok: what" or "NAME: FAIL: what; fix", one line each. */
static void report(struct doctor *d, const char *check, const char *verdict, const char *fmt,
		   va_list ap)
{
	char what[1024];

	/* clang 14's analyzer misreads the caller's va_start (valist.Uninitialized) */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
		what[0] = '\0';
	fprintf(d->out, "%-12s %s%s%s\n", check, verdict, what[0] ? ": " : "", what);
}

static void ok(struct doctor *d, const char *check, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(d, check, "ok", fmt, ap);
	va_end(ap);
}

static bool failed(struct doctor *d, const char *check, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(d, check, "FAIL", fmt, ap);
	va_end(ap);
	d->failed++;
	return false;
}

/* Split https://host[:port] (the config has validated the form). */
static void endpoint_host_port(const char *endpoint, char *host, size_t hlen, char *port,
			       size_t plen)
{
	const char *h = endpoint + 8, *end, *colon;

	if (*h == '[') {
		end = strchr(h, ']');
		h++;
		colon = end && end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strchr(h, ':');
		end = colon ? colon : h + strlen(h);
	}
	snprintf(host, hlen, "%.*s", (int)(end - h), h);
	snprintf(port, plen, "%s", colon ? colon + 1 : "443");
}

static int tcp_connect(const struct addrinfo *ai, int timeout_ms, char *why, size_t wlen)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	struct pollfd p;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0) {
		csms_errf(why, wlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		csms_errf(why, wlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) != 1) {
		csms_errf(why, wlen, "no answer within %d ms", timeout_ms);
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
		csms_errf(why, wlen, "%s", strerror(soerr ? soerr : errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The config file itself passed its checks when it was loaded (step_config). */
static bool step_files(struct doctor *d)
{
	char err[CSMS_ERRLEN];

	if (csms_ca_load(csms_config_ca_file(&d->cfg), d->cfg.ca_path, &d->ca, &d->ca_len, err,
			 sizeof(err)) != 0) {
		return failed(d, "files", "%s; make it a root-owned file no one else can write",
			      err);
	}
	ok(d, "files", "config and CA files: owner and mode are safe");
	return true;
}

static bool token_ok(struct doctor *d)
{
	const char *file = d->cfg.token_file;
	char err[CSMS_ERRLEN];
	struct stat st;
	time_t age;

	if (csms_credentials_get(&d->cfg, NULL, false, NULL, 0, 0, &d->cred, err, sizeof(err)) != 0)
		return failed(
			d, "credentials",
			"%s; write the IAM token on one line to %s (chmod 600, owned by root)", err,
			file);
	if (stat(file, &st) == 0 && (age = time(NULL) - st.st_mtime) > CSMS_DOCTOR_TOKEN_MAX_AGE)
		return failed(
			d, "credentials",
			"%s was written %lld h ago and IAM tokens expire after 24 h; refresh it "
			"(see the token-refresh timer in the README)",
			file, (long long)age / 3600);
	ok(d, "credentials", "%s holds a %zu-byte token", file, d->cred.token_len);
	return true;
}

static bool aksk_ok(struct doctor *d)
{
	char err[CSMS_ERRLEN];

	if (csms_credentials_get(&d->cfg, NULL, false, NULL, 0, 0, &d->cred, err, sizeof(err)) != 0)
		return failed(d, "credentials",
			      "%s; write [credentials] with access_key and secret_key to %s (chmod "
			      "600, owned by root)",
			      err, d->cfg.credentials_file);
	ok(d, "credentials", "%s: access key %s%s (AK/SK signing)", d->cfg.credentials_file,
	   d->cred.access_key, d->cred.security_token ? ", with a security token" : "");
	return true;
}

/* The keys the module would use: cache_dir's if good, else the service's (nothing written). */
static bool metadata_ok(struct doctor *d)
{
	struct csms_cache cache;
	char err[CSMS_ERRLEN], when[32];
	struct tm tm;
	time_t t;
	int64_t left;
	int rc;

	(void)csms_cache_open(&cache, csms_config_cache_dir(&d->cfg), d->cfg.endpoint,
			      d->cfg.project_id, false);
	rc = csms_credentials_get(&d->cfg, &cache, d->cfg.project_id == NULL, d->ca, d->ca_len,
				  csms_now_ms() + d->cfg.timeout_ms, &d->cred, err, sizeof(err));
	csms_cache_close(&cache);
	if (rc != 0)
		return failed(d, "credentials",
			      "%s; on ECS: bind an IAM agency allowing csms:secret:get to the "
			      "instance, and reach %s (metadata_url)",
			      err, d->cfg.metadata_url);
	if (d->cfg.project_id == NULL)
		d->project = d->cred.project_id;
	t = (time_t)(d->cred.expires_ms / 1000);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		csms_strlcpy(when, "?", sizeof(when));
	left = (d->cred.expires_ms - csms_wall_ms()) / 60000;
	ok(d, "credentials",
	   "temporary keys from %s: access key %s, expire at %s (in %lld min)%s%s%s",
	   d->cred.source, d->cred.access_key, when, (long long)left,
	   d->cfg.project_id == NULL ? "; project_id " : "",
	   d->cfg.project_id == NULL ? d->project : "",
	   d->cfg.project_id == NULL ? " from the instance's meta_data.json" : "");
	return true;
}

static bool step_credentials(struct doctor *d)
{
	switch (d->cfg.auth) {
	case CSMS_AUTH_AKSK:
		return aksk_ok(d);
	case CSMS_AUTH_METADATA:
		return metadata_ok(d);
	case CSMS_AUTH_TOKEN:
		break;
	}
	return token_ok(d);
}

static bool read_only(int fd)
{
	struct statvfs vfs;

	return fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

/*
 * The cache is optional: a cache_dir the module refuses costs speed, never a login. Only
 * looked at: the module creates it (0700) on its first check, the doctor never does, so a
 * missing one is fine when its parent passes the same checks.
 */
static bool step_cache(struct doctor *d)
{
	const char *dir = csms_config_cache_dir(&d->cfg);
	char err[CSMS_ERRLEN], where[PATH_MAX];
	bool missing, good = true;
	int fd;

	if (!csms_config_keeps_state(&d->cfg)) {
		ok(d, "cache",
		   "off for csms-check (no cache_dir, cache_ttl or offline_grace; a "
		   "[service] section may still turn it on)");
		return true;
	}
	csms_strlcpy(where, dir, sizeof(where));
	fd = csms_dir_open(where, 0, err, sizeof(err));
	missing = fd == -ENOENT;
	if (missing) {
		char *slash = strrchr(where, '/');

		if (slash != NULL)
			slash[slash == where ? 1 : 0] = '\0';
		fd = csms_dir_open(where, 0, err, sizeof(err));
	}
	if (fd < 0) {
		return failed(d, "cache", "%s%s%s; %s", missing ? dir : "",
			      missing ? " does not exist and the module cannot create it: " : "",
			      err,
			      fd == -EACCES ? "run csms-check as root, as the module runs"
					    : "until then every check goes without the cache (see "
					      "cache_dir in pam_csms.conf(5))");
	}
	if (read_only(fd)) {
		good = failed(d, "cache",
			      "%s%s%.400s is on a read-only file system: answers are not kept and "
			      "outages not damped; name a cache_dir on a writable one",
			      missing ? dir : "", missing ? " does not exist and " : "", where);
	} else if (missing) {
		ok(d, "cache", "%s does not exist yet; the first check creates it (mode 0700)",
		   dir);
	} else {
		ok(d, "cache", "%s: a directory no one else can write", dir);
	}
	close(fd);
	return good;
}

/* Load libcurl as csms-check does (every symbol bound: csms_http_bind_now) and start it. */
static bool step_libcurl(struct doctor *d)
{
	char why[CSMS_ERRLEN];
	int rc = csms_http_ready(why, sizeof(why));

	if (rc != 0) {
		return failed(d, "libcurl", "%s; %s", why, csms_http_ready_fix(rc));
	}
	ok(d, "libcurl", "libcurl.so.4 and every library it needs load and start");
	return true;
}

static bool step_dns(struct doctor *d)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	int rc;

	endpoint_host_port(d->cfg.endpoint, d->host, sizeof(d->host), d->port, sizeof(d->port));
	rc = getaddrinfo(d->host, d->port, &hints, &d->ai);
	if (rc != 0) {
		d->ai = NULL;
		return failed(
			d, "dns",
			"cannot resolve %s: %s; check the endpoint/region and /etc/resolv.conf",
			d->host, gai_strerror(rc));
	}
	ok(d, "dns", "%s resolves", d->host);
	return true;
}

static bool step_tcp(struct doctor *d)
{
	char err[CSMS_ERRLEN];

	if (tcp_connect(d->ai, (int)d->cfg.connect_timeout_ms, err, sizeof(err)) != 0) {
		return failed(
			d, "tcp",
			"cannot connect to %s port %s: %s; check the firewall, proxy and endpoint",
			d->host, d->port, err);
	}
	ok(d, "tcp", "connected to %s port %s", d->host, d->port);
	return true;
}

/* One real ShowSecret request gives the TLS, clock and API answers. */
static bool step_tls(struct doctor *d)
{
	struct csms_showsecret q;

	if (csms_showsecret_build(&q, &d->cfg, d->project, PROBE_SECRET, &d->cred, d->ca, d->ca_len,
				  csms_now_ms() + d->cfg.timeout_ms, 0) != 0) {
		csms_showsecret_free(&q);
		return failed(d, "tls", "the request could not be made (out of memory)");
	}
	csms_http_get(NULL, &q.http, &d->resp);
	csms_showsecret_free(&q);
	if (d->resp.result == CSMS_HTTP_TLS || d->resp.result == CSMS_HTTP_CA) {
		return failed(
			d, "tls",
			"%s; check ca_file/ca_path (the CA that signed the endpoint) and that the "
			"endpoint's host name matches its certificate",
			d->resp.detail);
	}
	if (d->resp.result != CSMS_HTTP_OK)
		return failed(d, "tls", "no HTTP answer: %s", d->resp.detail);
	ok(d, "tls", "certificate chain and host name verified");
	return true;
}

static bool step_clock(struct doctor *d)
{
	int64_t server = csms_http_date_parse(d->resp.date), skew;

	if (server < 0)
		return failed(d, "clock",
			      "the server sent no usable Date header; check the "
			      "endpoint is the CSMS (KMS) API");
	skew = (int64_t)time(NULL) - server;
	if (llabs(skew) > CSMS_DOCTOR_MAX_SKEW)
		return failed(d, "clock",
			      "off by %llds from the server; set the clock (e.g. enable NTP with "
			      "timedatectl set-ntp true)",
			      (long long)skew);
	ok(d, "clock", "off by %llds from the server", (long long)skew);
	return true;
}

static bool step_api(struct doctor *d)
{
	long status = d->resp.status;

	if ((status == 401 || status == 403) && d->cfg.auth == CSMS_AUTH_TOKEN)
		return failed(d, "api",
			      "ShowSecret answered HTTP %ld: the token is expired, for another "
			      "region or lacks csms:secret:get; get a new one",
			      status);
	if (status == 401 || status == 403) {
		char why[CSMS_ERRLEN];

		/* five bad signatures in a row lock the key: the doctor asks once */
		csms_response_rejection(status, d->resp.body, d->resp.body_len, d->resp.date,
					(int64_t)time(NULL), why, sizeof(why));
		return failed(d, "api", "ShowSecret answered %s", why);
	}
	if (status != 200 && status != 404 && status != 400)
		return failed(d, "api",
			      "ShowSecret answered HTTP %ld; check the endpoint and project_id, or "
			      "try again later",
			      status);
	ok(d, "api", "ShowSecret answered HTTP %ld (request_id %s)", status,
	   d->resp.request_id[0] ? d->resp.request_id : "-");
	return true;
}

/* The checks in order; a step runs only when every step it needs passed. */
enum {
	CONFIG = 1u << 0,
	FILES = 1u << 1,
	CREDENTIALS = 1u << 2,
	CACHE = 1u << 3,
	LIBCURL = 1u << 4,
	DNS = 1u << 5,
	TCP = 1u << 6,
	TLS = 1u << 7,
	CLOCK = 1u << 8,
	API = 1u << 9,
};

static const struct step {
	const char *name;
	unsigned self;
	bool (*run)(struct doctor *d);
	unsigned needs;
} steps[] = {
	{ "files", FILES, step_files, CONFIG },
	{ "credentials", CREDENTIALS, step_credentials, CONFIG },
	{ "cache", CACHE, step_cache, CONFIG },
	{ "libcurl", LIBCURL, step_libcurl, CONFIG },
	{ "dns", DNS, step_dns, CONFIG },
	{ "tcp", TCP, step_tcp, DNS },
	{ "tls", TLS, step_tls, TCP | FILES | CREDENTIALS | LIBCURL },
	{ "clock", CLOCK, step_clock, TLS },
	{ "api", API, step_api, TLS },
};

int csms_doctor(int argc, const char *const *argv, FILE *out)
{
	struct doctor d = { .out = out };
	char err[CSMS_ERRLEN];
	unsigned passed = 0;
	int rc;

	csms_strlcpy(err, "out of memory", sizeof(err));
	rc = csms_config_init(&d.cfg);
	if (rc == 0)
		rc = csms_config_load(&d.cfg, "csms-check", argc, argv, err, sizeof(err));
	if (rc != 0) {
		failed(&d, "config", "%s; fix it (see pam_csms.conf(5))", err);
	} else {
		ok(&d, "config", "%s: endpoint %s, project %s, auth %s", d.cfg.conf_path,
		   d.cfg.endpoint,
		   d.cfg.project_id ? d.cfg.project_id : "from the instance's meta_data.json",
		   d.cfg.auth == CSMS_AUTH_TOKEN  ? "token"
		   : d.cfg.auth == CSMS_AUTH_AKSK ? "aksk"
						  : "metadata");
		d.project = d.cfg.project_id;
		passed |= CONFIG;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((steps[i].needs & passed) != steps[i].needs) {
			failed(&d, steps[i].name, "not checked, an earlier check failed");
			continue;
		}
		if (steps[i].run(&d))
			passed |= steps[i].self;
	}
	if (d.ai != NULL)
		freeaddrinfo(d.ai);
	csms_http_response_free(&d.resp);
	csms_credentials_free(&d.cred);
	free(d.ca);
	csms_config_free(&d.cfg);
	return d.failed;
}
