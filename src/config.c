/* The one configuration struct: defaults, then the file, then [service NAME], then arguments. */
#include "buildconf.h"

#include "config.h"
#include "safefile.h"
#include "secretname.h"
#include "util.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH_LEN 4096
#define MAX_LIST_ITEMS 256
#define MAX_SECTIONS 64

typedef int (*setter_fn)(struct csms_config *cfg, const char *value, char *err, size_t errlen);

struct key_def {
	const char *name;
	bool policy;   /* may appear in [service NAME] */
	setter_fn set; /* NULL: a contract key this version does not support yet */
};

/* ---- value parsers ---------------------------------------------------------------- */

int csms_bool_parse(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int csms_duration_parse(const char *s, int64_t *ms)
{
	int64_t n = 0, mult;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (*p - '0');
	}
	if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "m") == 0)
		mult = (int64_t)60 * 1000;
	else if (strcmp(p, "h") == 0)
		mult = (int64_t)3600 * 1000;
	else
		return -EINVAL;
	if (n > INT64_MAX / mult)
		return -ERANGE;
	*ms = n * mult;
	return 0;
}

static bool all_chars_in(const char *s, const char *extra)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (strchr(extra, c) == NULL)
			return false;
	}
	return true;
}

static bool has_control_or_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

static int replace_str(char **slot, const char *value, char *err, size_t errlen)
{
	char *copy = strdup(value);

	if (copy == NULL) {
		csms_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

static void list_free(struct csms_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static int list_parse(struct csms_list *out, const char *value, const char *key, char *err,
		      size_t errlen)
{
	struct csms_list l = { 0 };
	const char *p = value;
	int rc = -EINVAL;

	if (*value == '\0')
		goto done;
	l.items = calloc(MAX_LIST_ITEMS, sizeof(*l.items));
	if (l.items == NULL) {
		csms_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			csms_errf(err, errlen, "%s: empty entry in the comma-separated list", key);
			goto fail;
		}
		if (l.n == MAX_LIST_ITEMS) {
			csms_errf(err, errlen, "%s: more than %d entries", key, MAX_LIST_ITEMS);
			goto fail;
		}
		l.items[l.n] = strndup(p, len);
		if (l.items[l.n] == NULL) {
			csms_errf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		if (has_control_or_space(l.items[l.n++])) {
			csms_errf(err, errlen, "%s: entry with a space or control character", key);
			goto fail;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
done:
	list_free(out);
	*out = l;
	return 0;
fail:
	list_free(&l);
	return rc;
}

bool csms_list_contains(const struct csms_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static int set_path(char **slot, const char *key, const char *value, char *err, size_t errlen)
{
	if (value[0] != '/' || strlen(value) > MAX_PATH_LEN || has_control_or_space(value)) {
		csms_errf(err, errlen, "%s: '%s' is not an absolute path", key, value);
		return -EINVAL;
	}
	return replace_str(slot, value, err, errlen);
}

/* ---- setters, one per key ----------------------------------------------------------- */

static int set_region(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n > 32 || v[0] == '-' || !all_chars_in(v, "-")) {
		csms_errf(err, errlen, "region: '%s' is not a region id such as cn-north-4", v);
		return -EINVAL;
	}
	return replace_str(&cfg->region, v, err, errlen);
}

/* Nothing, or ":" and a port from 1 to 65535, and then the end. */
static bool port_suffix_valid(const char *p)
{
	long port = 0;
	const char *d;

	if (*p == '\0')
		return true;
	if (*p != ':')
		return false;
	for (d = ++p; *p >= '0' && *p <= '9' && p - d < 6; p++)
		port = port * 10 + (*p - '0');
	return p > d && *p == '\0' && port >= 1 && port <= 65535;
}

/* https://host[:port] and nothing else: no user info, path, query or fragment. */
static bool endpoint_valid(const char *v)
{
	const char *h = v + 8, *p;

	if (strncmp(v, "https://", 8) != 0)
		return false;
	if (*h == '[') {
		p = strchr(h, ']');
		if (p == NULL || p == h + 1 || (size_t)(p - h) > 46)
			return false;
		for (const char *q = h + 1; q < p; q++)
			if (strchr("0123456789abcdefABCDEF:.", *q) == NULL)
				return false;
		p++;
	} else {
		p = h;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
			p++;
		size_t hl = (size_t)(p - h);

		if (hl == 0 || hl > 253 || h[0] == '.' || h[0] == '-' || h[hl - 1] == '-')
			return false;
	}
	return port_suffix_valid(p);
}

static int set_endpoint(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	if (!endpoint_valid(v)) {
		csms_errf(err, errlen,
			  "endpoint: '%s' is not https://host[:port] (no path, query, user info or "
			  "other scheme)",
			  v);
		return -EINVAL;
	}
	return replace_str(&cfg->endpoint, v, err, errlen);
}

static int set_project_id(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n > 64 || !all_chars_in(v, "_-")) {
		csms_errf(err, errlen, "project_id: must be 1 to 64 of A-Z a-z 0-9 _ -");
		return -EINVAL;
	}
	return replace_str(&cfg->project_id, v, err, errlen);
}

static int set_auth(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "token") == 0)
		cfg->auth = CSMS_AUTH_TOKEN;
	else if (strcmp(v, "aksk") == 0)
		cfg->auth = CSMS_AUTH_AKSK;
	else if (strcmp(v, "metadata") == 0)
		cfg->auth = CSMS_AUTH_METADATA;
	else {
		csms_errf(err, errlen, "auth: '%s' is not one of token, aksk, metadata", v);
		return -EINVAL;
	}
	return 0;
}

static int set_token_file(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return set_path(&cfg->token_file, "token_file", v, err, errlen);
}

static int set_credentials_file(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return set_path(&cfg->credentials_file, "credentials_file", v, err, errlen);
}

/* An IPv4 literal in 127.0.0.0/8 or 169.254.0.0/16. */
static bool ipv4_local(const char *h, size_t n)
{
	unsigned octet[4] = { 0 }, k = 0, v = 0, digits = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			if (digits == 0 || k == 4 || v > 255)
				return false;
			octet[k++] = v;
			v = digits = 0;
		} else if (h[i] >= '0' && h[i] <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(h[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	return k == 4 && (octet[0] == 127 || (octet[0] == 169 && octet[1] == 254));
}

/* An IPv6 literal, brackets included: [::1], or one in fe80::/10 ([fe80::] to [febf:...]). */
static bool ipv6_local(const char *h, size_t n)
{
	if (n == 5 && memcmp(h, "[::1]", 5) == 0)
		return true;
	if (n < 8 || h[0] != '[' || h[n - 1] != ']' || (h[1] != 'f' && h[1] != 'F') ||
	    (h[2] != 'e' && h[2] != 'E') || strchr("89abAB", h[3]) == NULL || h[3] == '\0')
		return false;
	for (size_t i = 4; i + 1 < n; i++)
		if (strchr("0123456789abcdefABCDEF:", h[i]) == NULL || h[i] == '\0')
			return false;
	return h[4] != ']' && memchr(h, ':', n) != NULL;
}

/*
 * The ECS metadata service: plain http only to a link-local or loopback address (nothing on
 * the way can then see or change the credentials it hands out), else https like endpoint.
 */
static int set_metadata_url(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	bool ok = false;

	if (strncmp(v, "http://", 7) == 0) {
		const char *h = v + 7, *close = *h == '[' ? strchr(h, ']') : NULL;
		const char *end = *h == '[' ? (close != NULL ? close + 1 : h) : h + strcspn(h, ":");
		size_t hl = (size_t)(end - h);

		ok = (ipv4_local(h, hl) || ipv6_local(h, hl)) && port_suffix_valid(end);
	} else if (strncmp(v, "https://", 8) == 0) {
		ok = endpoint_valid(v);
	}
	if (!ok) {
		csms_errf(
			err, errlen,
			"metadata_url: '%s' is not http:// to a link-local or loopback address "
			"(169.254.x.x, 127.x.x.x, [fe80::...], [::1]) or https://host[:port], with "
			"no path",
			v);
		return -EINVAL;
	}
	return replace_str(&cfg->metadata_url, v, err, errlen);
}

static int set_secret(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	struct csms_list l = { 0 };
	char why[CSMS_ERRLEN];
	int rc = list_parse(&l, v, "secret", err, errlen);

	if (rc == 0 && l.n == 0) {
		csms_errf(err, errlen, "secret: give at least one template (e.g. %%u)");
		rc = -EINVAL;
	}
	if (rc == 0 && l.n > CSMS_SECRETS_MAX) {
		csms_errf(err, errlen, "secret: more than %d templates", CSMS_SECRETS_MAX);
		rc = -EINVAL;
	}
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		if (csms_secret_template_check(l.items[i], why, sizeof(why)) != 0) {
			csms_errf(err, errlen, "secret: '%.64s': %s", l.items[i], why);
			rc = -EINVAL;
		}
		for (size_t j = 0; rc == 0 && j < i; j++) {
			if (strcmp(l.items[i], l.items[j]) == 0) {
				csms_errf(err, errlen, "secret: '%.64s' given twice", l.items[i]);
				rc = -EINVAL;
			}
		}
	}
	if (rc != 0) {
		list_free(&l);
		return rc;
	}
	list_free(&cfg->secrets);
	cfg->secrets = l;
	return 0;
}

static int set_fail_mode(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "closed") == 0)
		cfg->fail_mode = CSMS_FAIL_CLOSED;
	else if (strcmp(v, "open") == 0)
		cfg->fail_mode = CSMS_FAIL_OPEN;
	else {
		csms_errf(err, errlen, "fail_mode: '%s' is not closed or open", v);
		return -EINVAL;
	}
	return 0;
}

static int set_on_missing(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "deny") == 0)
		cfg->on_missing = CSMS_MISSING_DENY;
	else if (strcmp(v, "ignore") == 0)
		cfg->on_missing = CSMS_MISSING_IGNORE;
	else {
		csms_errf(err, errlen, "on_missing: '%s' is not deny or ignore", v);
		return -EINVAL;
	}
	return 0;
}

static int set_bypass_users(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return list_parse(&cfg->bypass_users, v, "bypass_users", err, errlen);
}

static int set_bypass_groups(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return list_parse(&cfg->bypass_groups, v, "bypass_groups", err, errlen);
}

static int set_deny_message(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
			csms_errf(err, errlen, "deny_message: contains a control character");
			return -EINVAL;
		}
	}
	return replace_str(&cfg->deny_message, v, err, errlen);
}

/* The largest unit that says it exactly: 0, 100ms, 60s, 24h. */
static void show_duration(int64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else if (ms != 0)
		snprintf(buf, len, "%lldms", (long long)ms);
	else
		snprintf(buf, len, "0");
}

static int parse_ranged_duration(const char *key, const char *v, int64_t lo, int64_t hi,
				 int64_t *out, char *err, size_t errlen)
{
	int64_t ms;

	if (csms_duration_parse(v, &ms) != 0 || ms < lo || ms > hi) {
		char los[32], his[32];

		show_duration(lo, los, sizeof(los));
		show_duration(hi, his, sizeof(his));
		csms_errf(err, errlen, "%s: '%s' is not a duration from %s to %s (e.g. 5s, 500ms)",
			  key, v, los, his);
		return -EINVAL;
	}
	*out = ms;
	return 0;
}

static int set_timeout(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return parse_ranged_duration("timeout", v, 100, 60000, &cfg->timeout_ms, err, errlen);
}

static int set_connect_timeout(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	int rc = parse_ranged_duration("connect_timeout", v, 100, 60000, &cfg->connect_timeout_ms,
				       err, errlen);

	if (rc == 0)
		cfg->connect_timeout_set = true;
	return rc;
}

static int set_retries(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	if (v[0] < '0' || v[0] > '5' || v[1] != '\0') {
		csms_errf(err, errlen, "retries: '%s' is not a whole number from 0 to 5", v);
		return -EINVAL;
	}
	cfg->retries = v[0] - '0';
	return 0;
}

static int set_ca_file(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return set_path(&cfg->ca_file, "ca_file", v, err, errlen);
}

static int set_ca_path(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return set_path(&cfg->ca_path, "ca_path", v, err, errlen);
}

static int set_proxy(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	const char *h = strncmp(v, "http://", 7) == 0    ? v + 7
			: strncmp(v, "https://", 8) == 0 ? v + 8
							 : NULL;

	if (h == NULL || *h == '\0' || *h == '/' || *h == ':' || strlen(v) > 1024 ||
	    has_control_or_space(v)) {
		csms_errf(err, errlen, "proxy: '%s' is not an http:// or https:// proxy URL", v);
		return -EINVAL;
	}
	return replace_str(&cfg->proxy, v, err, errlen);
}

static int set_cache_dir(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return set_path(&cfg->cache_dir, "cache_dir", v, err, errlen);
}

static int set_cache_ttl(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return parse_ranged_duration("cache_ttl", v, 0, CSMS_CACHE_TTL_MAX_MS, &cfg->cache_ttl_ms,
				     err, errlen);
}

static int set_offline_grace(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	return parse_ranged_duration("offline_grace", v, 0, CSMS_OFFLINE_GRACE_MAX_MS,
				     &cfg->offline_grace_ms, err, errlen);
}

static int set_debug(struct csms_config *cfg, const char *v, char *err, size_t errlen)
{
	if (csms_bool_parse(v, &cfg->debug) != 0) {
		csms_errf(err, errlen, "debug: '%s' is not yes or no", v);
		return -EINVAL;
	}
	return 0;
}

static const struct key_def keys[] = {
	{ "region", false, set_region },
	{ "endpoint", false, set_endpoint },
	{ "project_id", false, set_project_id },
	{ "auth", false, set_auth },
	{ "token_file", false, set_token_file },
	{ "credentials_file", false, set_credentials_file },
	{ "metadata_url", false, set_metadata_url },
	{ "secret", true, set_secret },
	{ "fail_mode", true, set_fail_mode },
	{ "on_missing", true, set_on_missing },
	{ "bypass_users", true, set_bypass_users },
	{ "bypass_groups", true, set_bypass_groups },
	{ "deny_message", true, set_deny_message },
	{ "timeout", false, set_timeout },
	{ "connect_timeout", false, set_connect_timeout },
	{ "retries", false, set_retries },
	{ "ca_file", false, set_ca_file },
	{ "ca_path", false, set_ca_path },
	{ "proxy", false, set_proxy },
	{ "cache_dir", false, set_cache_dir },
	{ "cache_ttl", true, set_cache_ttl },
	{ "offline_grace", true, set_offline_grace },
	{ "debug", true, set_debug },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

const char *csms_config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

static const struct key_def *key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The single setter every layer goes through. */
static int config_set(struct csms_config *cfg, const char *key, const char *value, bool policy_only,
		      char *err, size_t errlen)
{
	const struct key_def *k = key_find(key);

	if (k == NULL) {
		csms_errf(err, errlen, "unknown key '%s'", key);
		return -EINVAL;
	}
	if (policy_only && !k->policy) {
		csms_errf(err, errlen, "key '%s' cannot be set per service; move it to [csms]",
			  key);
		return -EINVAL;
	}
	if (k->set == NULL) {
		csms_errf(err, errlen, "%s: not supported yet in this version; remove it", key);
		return -ENOTSUP;
	}
	return k->set(cfg, value, err, errlen);
}

/* ---- init / free ---------------------------------------------------------------------- */

int csms_config_init(struct csms_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->auth = CSMS_AUTH_TOKEN;
	cfg->fail_mode = CSMS_FAIL_CLOSED;
	cfg->on_missing = CSMS_MISSING_DENY;
	cfg->timeout_ms = 5000;
	cfg->connect_timeout_ms = 2000;
	cfg->retries = 2;
	cfg->token_file = strdup(CSMS_DEFAULT_TOKEN_FILE);
	cfg->credentials_file = strdup(CSMS_DEFAULT_CREDENTIALS_FILE);
	cfg->metadata_url = strdup(CSMS_DEFAULT_METADATA_URL);
	cfg->secrets.items = calloc(1, sizeof(*cfg->secrets.items));
	if (cfg->secrets.items != NULL && (cfg->secrets.items[0] = strdup("%u")) != NULL)
		cfg->secrets.n = 1;
	if (cfg->token_file == NULL || cfg->credentials_file == NULL || cfg->metadata_url == NULL ||
	    cfg->secrets.n == 0)
		return -ENOMEM;
	return 0;
}

void csms_config_free(struct csms_config *cfg)
{
	free(cfg->conf_path);
	free(cfg->region);
	free(cfg->endpoint);
	free(cfg->project_id);
	free(cfg->token_file);
	free(cfg->credentials_file);
	free(cfg->metadata_url);
	list_free(&cfg->secrets);
	list_free(&cfg->bypass_users);
	list_free(&cfg->bypass_groups);
	free(cfg->deny_message);
	free(cfg->ca_file);
	free(cfg->ca_path);
	free(cfg->proxy);
	free(cfg->cache_dir);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- the file ------------------------------------------------------------------------- */

struct section_seen {
	char *name;
	unsigned lineno;
	unsigned char keyseen[NKEYS];
};

struct pending_kv {
	char *key;
	char *value;
};

struct parse_ctx {
	struct csms_config *cfg;
	const char *service;
	struct section_seen sections[MAX_SECTIONS];
	size_t nsections;
	struct pending_kv pending[NKEYS];
	size_t npending;
	char msg[CSMS_ERRLEN];
	int rc;
};

static bool service_name_valid(const char *s, size_t n)
{
	/* inih keeps 50 bytes of a section name, "service " included */
	if (n == 0 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void ctx_fail(struct parse_ctx *ctx, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ctx_fail(struct parse_ctx *ctx, int rc, const char *fmt, ...)
{
	va_list ap;

	if (ctx->rc != 0)
		return;
	ctx->rc = rc;
	va_start(ap, fmt);
	/* clang-tidy 14 reports ap as uninitialised here, but only when it analyses several
	 * files in one run: a false positive */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	if (vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap) < 0)
		ctx->msg[0] = '\0';
	va_end(ap);
}

/*
 * Before inih sees the text: a NUL, an over-long line (inih r55 would parse its tail as a
 * new line) or an unknown or repeated section header rejects the whole file.
 */
static int prescan(struct parse_ctx *ctx, const char *name, const char *buf, size_t len, char *err,
		   size_t errlen)
{
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;

	if (len > CSMS_CONFIG_MAX_SIZE) {
		csms_errf(err, errlen, "%s: larger than %zu bytes", name, CSMS_CONFIG_MAX_SIZE);
		return -EFBIG;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *s = p, *e = eol;

		lineno++;
		/* inih strips \v, \f and the like as space: "\v[csms]" would reopen a section
		 * this scan took for a key line, so no control byte but tab passes (and the CR
		 * of a CRLF line end) */
		for (const char *q = p; q < eol; q++) {
			unsigned char c = (unsigned char)*q;

			if (c == '\0') {
				csms_errf(err, errlen, "%s:%u: contains a NUL byte", name, lineno);
				return -EINVAL;
			}
			if ((c < 0x20 && c != '\t' && !(c == '\r' && q + 1 == eol)) || c == 0x7f) {
				csms_errf(err, errlen,
					  "%s:%u: control character 0x%02x at column %u; only tab "
					  "is allowed (remove it)",
					  name, lineno, c, (unsigned)(q - p) + 1);
				return -EINVAL;
			}
		}
		if ((size_t)(eol - p) > CSMS_CONFIG_MAX_LINE) {
			csms_errf(err, errlen, "%s:%u: line longer than %d bytes", name, lineno,
				  CSMS_CONFIG_MAX_LINE);
			return -EINVAL;
		}
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s < e && *s != '[' && *s != ';' && *s != '#' &&
		    memchr(s, '=', (size_t)(e - s)) == NULL &&
		    memchr(s, ':', (size_t)(e - s)) == NULL) {
			csms_errf(err, errlen,
				  "%s:%u: syntax error (expected [section] or key = value)", name,
				  lineno);
			return -EINVAL;
		}
		if (s < e && *s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			size_t n;
			struct section_seen *sec;

			if (close == NULL || close + 1 != e) {
				csms_errf(err, errlen, "%s:%u: malformed section header", name,
					  lineno);
				return -EINVAL;
			}
			s++;
			n = (size_t)(close - s);
			if (!(n == 4 && memcmp(s, "csms", 4) == 0) &&
			    !(n > 8 && memcmp(s, "service ", 8) == 0 &&
			      service_name_valid(s + 8, n - 8))) {
				csms_errf(err, errlen,
					  "%s:%u: unknown section [%.*s]; only [csms] and [service "
					  "NAME] are allowed",
					  name, lineno, (int)(n > 64 ? 64 : n), s);
				return -EINVAL;
			}
			for (size_t i = 0; i < ctx->nsections; i++) {
				if (strlen(ctx->sections[i].name) == n &&
				    memcmp(ctx->sections[i].name, s, n) == 0) {
					csms_errf(
						err, errlen,
						"%s:%u: section [%.*s] repeated (first on line %u)",
						name, lineno, (int)n, s, ctx->sections[i].lineno);
					return -EINVAL;
				}
			}
			if (ctx->nsections == MAX_SECTIONS) {
				csms_errf(err, errlen, "%s:%u: more than %d sections", name, lineno,
					  MAX_SECTIONS);
				return -EINVAL;
			}
			sec = &ctx->sections[ctx->nsections];
			sec->name = strndup(s, n);
			if (sec->name == NULL) {
				csms_errf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			sec->lineno = lineno;
			ctx->nsections++;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static struct section_seen *section_find(struct parse_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nsections; i++)
		if (strcmp(ctx->sections[i].name, name) == 0)
			return &ctx->sections[i];
	return NULL;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	struct section_seen *sec = section_find(ctx, section);
	const struct key_def *k = key_find(name);
	bool is_service = strncmp(section, "service ", 8) == 0;
	char why[CSMS_ERRLEN];
	int rc;

	if (ctx->rc != 0)
		return 0;
	if (section[0] == '\0' || sec == NULL) {
		ctx_fail(ctx, -EINVAL, "key '%s' outside a section; put it under [csms]", name);
		return 0;
	}
	if (k == NULL) {
		ctx_fail(ctx, -EINVAL, "unknown key '%s' in [%s]", name, section);
		return 0;
	}
	if (sec->keyseen[k - keys]) {
		/* also catches an indented continuation line, which inih reports as a repeat */
		ctx_fail(ctx, -EINVAL,
			 "key '%s' repeated in [%s] (an indented line continues the key above it)",
			 name, section);
		return 0;
	}
	sec->keyseen[k - keys] = 1;

	if (!is_service) {
		rc = config_set(ctx->cfg, name, value, false, why, sizeof(why));
	} else {
		/* Check every service section, apply only ours, and only after [csms]. */
		struct csms_config scratch;

		rc = csms_config_init(&scratch);
		if (rc == 0)
			rc = config_set(&scratch, name, value, true, why, sizeof(why));
		else
			csms_strlcpy(why, "out of memory", sizeof(why));
		csms_config_free(&scratch);
		if (rc == 0 && ctx->service != NULL && strcmp(section + 8, ctx->service) == 0) {
			struct pending_kv *kv = &ctx->pending[ctx->npending];

			kv->key = strdup(name);
			kv->value = strdup(value);
			ctx->npending++;
			if (kv->key == NULL || kv->value == NULL) {
				rc = -ENOMEM;
				csms_strlcpy(why, "out of memory", sizeof(why));
			}
		}
	}
	if (rc != 0) {
		ctx_fail(ctx, rc, "%s", why);
		return 0;
	}
	return 1;
}

static int finish(struct csms_config *cfg, const char *name, char *err, size_t errlen)
{
	/* with auth=metadata the instance's meta_data.json names it */
	if (cfg->project_id == NULL && cfg->auth != CSMS_AUTH_METADATA) {
		csms_errf(err, errlen,
			  "%s: missing required key 'project_id' in [csms] (only auth = metadata "
			  "can do without)",
			  name);
		return -EINVAL;
	}
	if (cfg->endpoint == NULL) {
		char buf[128];

		if (cfg->region == NULL) {
			csms_errf(err, errlen, "%s: set 'region' or 'endpoint' in [csms]", name);
			return -EINVAL;
		}
		snprintf(buf, sizeof(buf), "https://kms.%s.myhuaweicloud.com", cfg->region);
		if (replace_str(&cfg->endpoint, buf, err, errlen) != 0)
			return -ENOMEM;
	}
	if (!cfg->connect_timeout_set) {
		if (cfg->connect_timeout_ms > cfg->timeout_ms)
			cfg->connect_timeout_ms = cfg->timeout_ms;
	} else if (cfg->connect_timeout_ms > cfg->timeout_ms) {
		csms_errf(err, errlen,
			  "%s: connect_timeout (%lldms) is longer than timeout (%lldms)", name,
			  (long long)cfg->connect_timeout_ms, (long long)cfg->timeout_ms);
		return -EINVAL;
	}
	return 0;
}

/* Module arguments and csms-check -o: key=value, or the bare word debug. conf= is done. */
static int apply_args(struct csms_config *cfg, int argc, const char *const *argv, char *err,
		      size_t errlen)
{
	unsigned char seen[NKEYS + 1] = { 0 };

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '=');
		char key[64], why[CSMS_ERRLEN];
		const struct key_def *k;
		size_t kl;
		int rc;

		if (strcmp(arg, "debug") == 0) {
			eq = "=yes";
			kl = 5;
		} else if (eq == NULL) {
			csms_errf(err, errlen, "module argument '%.64s': expected key=value", arg);
			return -EINVAL;
		} else {
			kl = (size_t)(eq - arg);
		}
		if (kl >= sizeof(key)) {
			csms_errf(err, errlen, "module argument '%.64s': unknown key", arg);
			return -EINVAL;
		}
		memcpy(key, arg, kl);
		key[kl] = '\0';
		if (strcmp(key, "conf") == 0) {
			if (seen[NKEYS]++) {
				csms_errf(err, errlen, "module argument 'conf' given twice");
				return -EINVAL;
			}
			continue;
		}
		k = key_find(key);
		if (k == NULL) {
			csms_errf(err, errlen, "module argument '%.64s': unknown key '%s'", arg,
				  key);
			return -EINVAL;
		}
		if (seen[k - keys]++) {
			csms_errf(err, errlen, "module argument '%s' given twice", key);
			return -EINVAL;
		}
		rc = config_set(cfg, key, eq + 1, false, why, sizeof(why));
		if (rc != 0) {
			csms_errf(err, errlen, "module argument: %s", why);
			return rc;
		}
	}
	return 0;
}

int csms_config_load_buffer(struct csms_config *cfg, const char *name, const char *buf, size_t len,
			    const char *service, int argc, const char *const *argv, char *err,
			    size_t errlen)
{
	struct parse_ctx ctx;
	char *text = NULL;
	int rc, line;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.service = service;

	/* a UTF-8 BOM is no part of line 1: not for the checks, not for inih (r55 would count
	 * its 3 bytes in line 1's buffer) */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	rc = prescan(&ctx, name, buf, len, err, errlen);
	if (rc != 0)
		goto out;
	text = strndup(buf, len);
	if (text == NULL) {
		rc = -ENOMEM;
		csms_errf(err, errlen, "out of memory");
		goto out;
	}
	line = ini_parse_string(text, on_ini_entry, &ctx);
	if (line == -2 || ctx.rc == -ENOMEM) {
		rc = -ENOMEM;
		csms_errf(err, errlen, "out of memory");
		goto out;
	}
	if (line != 0 || ctx.rc != 0) {
		/* inih keeps going after an error: any non-zero result rejects the whole file. */
		rc = ctx.rc != 0 ? ctx.rc : -EINVAL;
		csms_errf(err, errlen, "%s:%d: %s", name, line,
			  ctx.msg[0] ? ctx.msg
				     : "syntax error (expected [section] or key = value)");
		goto out;
	}
	for (size_t i = 0; i < ctx.npending; i++) {
		char why[CSMS_ERRLEN];

		rc = config_set(cfg, ctx.pending[i].key, ctx.pending[i].value, true, why,
				sizeof(why));
		if (rc != 0) {
			csms_errf(err, errlen, "%s: [service %s]: %s", name, service, why);
			goto out;
		}
	}
	rc = apply_args(cfg, argc, argv, err, errlen);
	if (rc != 0)
		goto out;
	rc = finish(cfg, name, err, errlen);
out:
	for (size_t i = 0; i < ctx.nsections; i++)
		free(ctx.sections[i].name);
	for (size_t i = 0; i < ctx.npending; i++) {
		free(ctx.pending[i].key);
		free(ctx.pending[i].value);
	}
	free(text);
	return rc;
}

int csms_config_load(struct csms_config *cfg, const char *service, int argc,
		     const char *const *argv, char *err, size_t errlen)
{
	const char *path = CSMS_DEFAULT_CONF;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	for (int i = 0, named = 0; i < argc; i++) {
		if (strncmp(argv[i], "conf=", 5) != 0)
			continue;
		/* refused before either file is read: which one was meant is anyone's guess */
		if (named++) {
			csms_errf(err, errlen,
				  "module argument 'conf' given twice (%.200s and %.200s)", path,
				  argv[i] + 5);
			return -EINVAL;
		}
		path = argv[i] + 5;
	}

	rc = replace_str(&cfg->conf_path, path, err, errlen);
	if (rc != 0)
		return rc;
	rc = csms_file_read(path, CSMS_CONFIG_MAX_SIZE, 0, &buf, &len, err, errlen);
	if (rc != 0)
		return rc;
	rc = csms_config_load_buffer(cfg, path, buf, len, service, argc, argv, err, errlen);
	free(buf);
	return rc;
}

bool csms_config_keeps_state(const struct csms_config *cfg)
{
	return cfg->cache_ttl_ms > 0 || cfg->offline_grace_ms > 0 || cfg->cache_dir != NULL;
}

bool csms_config_needs_group(const struct csms_config *cfg)
{
	for (size_t i = 0; i < cfg->secrets.n; i++)
		if (csms_secret_template_has_group(cfg->secrets.items[i]))
			return true;
	return false;
}

const char *csms_config_cache_dir(const struct csms_config *cfg)
{
	return cfg->cache_dir != NULL ? cfg->cache_dir : CSMS_DEFAULT_CACHE_DIR;
}

const char *csms_config_ca_file(const struct csms_config *cfg)
{
	if (cfg->ca_file != NULL)
		return cfg->ca_file;
	return cfg->ca_path != NULL ? NULL : CSMS_DEFAULT_CA_FILE;
}
