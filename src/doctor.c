/* csms-check --doctor: each thing a check needs, tested in turn, with the fix when it fails. */
#include "buildconf.h"

#include "doctor.h"
#include "config.h"
#include "decision.h"
#include "http.h"
#include "safefile.h"
#include "token.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
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

struct report {
	FILE *out;
	int failed;
};

static void ok(struct report *r, const char *check, const char *what)
{
	fprintf(r->out, "%-12s ok%s%s\n", check, what[0] ? ": " : "", what);
}

static void failed(struct report *r, const char *check, const char *what)
{
	fprintf(r->out, "%-12s FAIL: %s\n", check, what);
	r->failed++;
}

static void skipped(struct report *r, const char *check)
{
	fprintf(r->out, "%-12s FAIL: not checked, an earlier check failed\n", check);
	r->failed++;
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

static void check_credentials(struct report *r, const struct csms_config *cfg, char **token,
			      size_t *token_len)
{
	char err[CSMS_ERRLEN], msg[1024];
	struct stat st;
	time_t age;

	if (csms_token_read(cfg->token_file, token, token_len, err, sizeof(err)) != 0) {
		snprintf(msg, sizeof(msg),
			 "%s; write the IAM token on one line to %s (chmod 600, owned by root)",
			 err, cfg->token_file);
		failed(r, "credentials", msg);
		return;
	}
	if (stat(cfg->token_file, &st) == 0 &&
	    (age = time(NULL) - st.st_mtime) > CSMS_DOCTOR_TOKEN_MAX_AGE) {
		snprintf(msg, sizeof(msg),
			 "%s was written %lld h ago and IAM tokens expire after 24 h; refresh it "
			 "(see the token-refresh timer in the README)",
			 cfg->token_file, (long long)age / 3600);
		failed(r, "credentials", msg);
		return;
	}
	snprintf(msg, sizeof(msg), "%s holds a %zu-byte token", cfg->token_file, *token_len);
	ok(r, "credentials", msg);
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
static void check_cache(struct report *r, const struct csms_config *cfg)
{
	const char *dir = csms_config_cache_dir(cfg);
	char err[CSMS_ERRLEN], msg[1024], where[PATH_MAX];
	bool missing;
	int fd;

	if (!csms_config_keeps_state(cfg)) {
		ok(r, "cache",
		   "off for csms-check (no cache_dir, cache_ttl or offline_grace; a "
		   "[service] section may still turn it on)");
		return;
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
		snprintf(msg, sizeof(msg), "%s%s%s; %s", missing ? dir : "",
			 missing ? " does not exist and the module cannot create it: " : "", err,
			 fd == -EACCES ? "run csms-check as root, as the module runs"
				       : "until then every check goes without the cache (see "
					 "cache_dir in pam_csms.conf(5))");
		failed(r, "cache", msg);
		return;
	}
	if (read_only(fd)) {
		snprintf(msg, sizeof(msg),
			 "%s%s%.400s is on a read-only file system: answers are not kept and "
			 "outages not damped; name a cache_dir on a writable one",
			 missing ? dir : "", missing ? " does not exist and " : "", where);
		failed(r, "cache", msg);
	} else if (missing) {
		snprintf(msg, sizeof(msg),
			 "%s does not exist yet; the first check creates it (mode 0700)", dir);
		ok(r, "cache", msg);
	} else {
		snprintf(msg, sizeof(msg), "%s: a directory no one else can write", dir);
		ok(r, "cache", msg);
	}
	close(fd);
}

/* Load libcurl as csms-check does (every symbol bound: csms_http_bind_now) and start it. */
static bool check_libcurl(struct report *r)
{
	char why[CSMS_ERRLEN], msg[1024];
	int rc = csms_http_ready(why, sizeof(why));

	if (rc == 0) {
		ok(r, "libcurl", "libcurl.so.4 and every library it needs load and start");
		return true;
	}
	snprintf(msg, sizeof(msg), "%s; %s", why, csms_http_ready_fix(rc));
	failed(r, "libcurl", msg);
	return false;
}

int csms_doctor(int argc, const char *const *argv, FILE *out)
{
	struct report r = { out, 0 };
	struct csms_config cfg;
	struct csms_http_request hrq;
	struct csms_http_response resp;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char err[CSMS_ERRLEN], msg[1024], host[256], port[8], url[512];
	char *token = NULL, *ca = NULL;
	size_t token_len = 0, ca_len = 0;
	bool files_ok, curl_ok, net_ok = false;
	int rc;

	memset(&resp, 0, sizeof(resp));
	csms_strlcpy(err, "out of memory", sizeof(err));
	rc = csms_config_init(&cfg);
	if (rc == 0)
		rc = csms_config_load(&cfg, "csms-check", argc, argv, err, sizeof(err));
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "%s; fix it (see pam_csms.conf(5))", err);
		failed(&r, "config", msg);
		for (const char *const *c =
			     (const char *const[]){ "files", "credentials", "cache", "libcurl",
						    "dns", "tcp", "tls", "clock", "api", NULL };
		     *c; c++)
			skipped(&r, *c);
		goto out;
	}
	snprintf(msg, sizeof(msg), "%s: endpoint %s, project %s", cfg.conf_path, cfg.endpoint,
		 cfg.project_id);
	ok(&r, "config", msg);

	/* the config file itself passed its checks when it was loaded */
	rc = csms_ca_load(&cfg, &ca, &ca_len, err, sizeof(err));
	files_ok = rc == 0;
	if (!files_ok) {
		snprintf(msg, sizeof(msg), "%s; make it a root-owned file no one else can write",
			 err);
		failed(&r, "files", msg);
	} else {
		ok(&r, "files", "config and CA files: owner and mode are safe");
	}
	check_credentials(&r, &cfg, &token, &token_len);
	check_cache(&r, &cfg);
	curl_ok = check_libcurl(&r);

	endpoint_host_port(cfg.endpoint, host, sizeof(host), port, sizeof(port));
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(msg, sizeof(msg),
			 "cannot resolve %s: %s; check the endpoint/region and "
			 "/etc/resolv.conf",
			 host, gai_strerror(rc));
		failed(&r, "dns", msg);
		skipped(&r, "tcp");
	} else {
		snprintf(msg, sizeof(msg), "%s resolves", host);
		ok(&r, "dns", msg);
		if (tcp_connect(ai, (int)cfg.connect_timeout_ms, err, sizeof(err)) != 0) {
			snprintf(msg, sizeof(msg),
				 "cannot connect to %s port %s: %s; check the firewall, proxy and "
				 "endpoint",
				 host, port, err);
			failed(&r, "tcp", msg);
		} else {
			snprintf(msg, sizeof(msg), "connected to %s port %s", host, port);
			ok(&r, "tcp", msg);
			net_ok = true;
		}
		freeaddrinfo(ai);
	}
	if (!net_ok || !files_ok || !curl_ok || token == NULL) {
		skipped(&r, "tls");
		skipped(&r, "clock");
		skipped(&r, "api");
		goto out;
	}

	/* one real ShowSecret request gives the TLS, clock and API answers */
	snprintf(url, sizeof(url), "%s/v1/%s/secrets/" PROBE_SECRET, cfg.endpoint, cfg.project_id);
	hrq = (struct csms_http_request){
		.url = url,
		.token = token,
		.ca_blob = ca,
		.ca_blob_len = ca_len,
		.ca_path = cfg.ca_path,
		.proxy = cfg.proxy,
		.deadline_ms = csms_now_ms() + cfg.timeout_ms,
		.connect_timeout_ms = cfg.connect_timeout_ms,
		.retries = 0,
	};
	csms_http_get(&hrq, &resp);
	if (resp.result == CSMS_HTTP_TLS || resp.result == CSMS_HTTP_CA) {
		snprintf(msg, sizeof(msg),
			 "%s; check ca_file/ca_path (the CA that signed the endpoint) and that the "
			 "endpoint's host name matches its certificate",
			 resp.detail);
		failed(&r, "tls", msg);
		skipped(&r, "clock");
		skipped(&r, "api");
		goto out;
	}
	if (resp.result != CSMS_HTTP_OK) {
		snprintf(msg, sizeof(msg), "no HTTP answer: %s", resp.detail);
		failed(&r, "tls", msg);
		skipped(&r, "clock");
		skipped(&r, "api");
		goto out;
	}
	ok(&r, "tls", "certificate chain and host name verified");

	{
		int64_t server = csms_http_date_parse(resp.date);

		if (server < 0) {
			failed(&r, "clock",
			       "the server sent no usable Date header; check the "
			       "endpoint is the CSMS (KMS) API");
		} else {
			int64_t skew = (int64_t)time(NULL) - server;

			snprintf(msg, sizeof(msg), "off by %llds from the server", (long long)skew);
			if (llabs(skew) > CSMS_DOCTOR_MAX_SKEW) {
				size_t n = strlen(msg);

				snprintf(msg + n, sizeof(msg) - n,
					 "; set the clock (e.g. enable NTP with timedatectl "
					 "set-ntp true)");
				failed(&r, "clock", msg);
			} else {
				ok(&r, "clock", msg);
			}
		}
	}

	if (resp.status == 401 || resp.status == 403) {
		snprintf(
			msg, sizeof(msg),
			"ShowSecret answered HTTP %ld: the token is expired, for another region or "
			"lacks csms:secret:get; get a new one",
			resp.status);
		failed(&r, "api", msg);
	} else if (resp.status == 200 || resp.status == 404 || resp.status == 400) {
		snprintf(msg, sizeof(msg), "ShowSecret answered HTTP %ld (request_id %s)",
			 resp.status, resp.request_id[0] ? resp.request_id : "-");
		ok(&r, "api", msg);
	} else {
		snprintf(msg, sizeof(msg),
			 "ShowSecret answered HTTP %ld; check the endpoint and project_id, or try "
			 "again later",
			 resp.status);
		failed(&r, "api", msg);
	}
out:
	csms_http_response_free(&resp);
	csms_token_free(token, token_len);
	free(ca);
	csms_config_free(&cfg);
	return r.failed;
}
