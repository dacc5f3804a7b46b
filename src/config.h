/* The one configuration struct: defaults, then the file, then [service NAME], then arguments. */
#ifndef CSMS_CONFIG_H
#define CSMS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CSMS_DEFAULT_CONF "/etc/security/pam_csms.conf"
#define CSMS_DEFAULT_TOKEN_FILE "/etc/security/pam_csms.token"
#define CSMS_DEFAULT_CREDENTIALS_FILE "/etc/security/pam_csms.credentials"
#define CSMS_DEFAULT_METADATA_URL "http://169.254.169.254"
#define CSMS_DEFAULT_CACHE_DIR "/var/cache/pam_csms"
#define CSMS_CACHE_TTL_MAX_MS ((int64_t)24 * 3600 * 1000)
#define CSMS_OFFLINE_GRACE_MAX_MS ((int64_t)7 * 24 * 3600 * 1000)
#define CSMS_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define CSMS_CONFIG_MAX_SIZE ((size_t)64 * 1024)
/* inih r55 splits longer lines in two (its buffer is 200 bytes with newline and NUL). */
#define CSMS_CONFIG_MAX_LINE 198

enum csms_auth { CSMS_AUTH_TOKEN, CSMS_AUTH_AKSK, CSMS_AUTH_METADATA };
enum csms_fail_mode { CSMS_FAIL_CLOSED, CSMS_FAIL_OPEN };
enum csms_on_missing { CSMS_MISSING_DENY, CSMS_MISSING_IGNORE };

struct csms_list {
	char **items;
	size_t n;
};

struct csms_config {
	char *conf_path;
	char *region;
	char *endpoint; /* https://host[:port], derived from region when not given */
	char *project_id;
	enum csms_auth auth;
	char *token_file;
	char *credentials_file;
	char *metadata_url;       /* http://link-local-or-loopback[:port] or https://host[:port] */
	struct csms_list secrets; /* secret-name templates: every secret must be ENABLED */
	enum csms_fail_mode fail_mode;
	enum csms_on_missing on_missing;
	struct csms_list bypass_users;
	struct csms_list bypass_groups;
	char *deny_message;
	int64_t timeout_ms;
	int64_t connect_timeout_ms;
	bool connect_timeout_set;
	int retries;
	char *ca_file;
	char *ca_path;
	char *proxy;
	char *cache_dir; /* NULL unless named: see csms_config_cache_dir */
	int64_t cache_ttl_ms;
	int64_t offline_grace_ms;
	bool debug;
};

/* Fill in the defaults; the struct may then be freed at any point. Returns 0 or -ENOMEM. */
int csms_config_init(struct csms_config *cfg);
void csms_config_free(struct csms_config *cfg);

/*
 * Build the configuration for PAM service `service` (may be NULL) from the module
 * arguments: conf=PATH picks the file (default CSMS_DEFAULT_CONF), the file's [csms]
 * and [service NAME] sections follow, and the other arguments override both.
 * `overrides` (csms-check -o) are treated like module arguments.
 * Returns 0, or a negative errno with one line in err naming the file, line and problem.
 */
int csms_config_load(struct csms_config *cfg, const char *service, int argc,
		     const char *const *argv, char *err, size_t errlen);

/* Parse config text (`name` is used in messages); then apply `argv` and finish checks. */
int csms_config_load_buffer(struct csms_config *cfg, const char *name, const char *buf, size_t len,
			    const char *service, int argc, const char *const *argv, char *err,
			    size_t errlen);

/* Parse "5s", "250ms", "2m", "1h", "30" (seconds) into milliseconds. 0 or -EINVAL/-ERANGE. */
int csms_duration_parse(const char *s, int64_t *ms);
/* yes/no/true/false/on/off/1/0. Returns 0 or -EINVAL. */
int csms_bool_parse(const char *s, bool *out);

/* Whether checks keep state in cache_dir: the verdict cache and outage damping. Only when
 * asked for (cache_ttl, offline_grace or cache_dir set); otherwise every check asks CSMS. */
bool csms_config_keeps_state(const struct csms_config *cfg);

/* Whether a secret template has %g: only then is the user's primary group looked up. */
bool csms_config_needs_group(const struct csms_config *cfg);

/* The CA bundle to read: ca_file, else the system's unless ca_path is given (then NULL). */
const char *csms_config_ca_file(const struct csms_config *cfg);

/* cache_dir as named in the file or the arguments, or CSMS_DEFAULT_CACHE_DIR. */
const char *csms_config_cache_dir(const struct csms_config *cfg);

bool csms_list_contains(const struct csms_list *l, const char *s);

/* The i-th key the parser knows, or NULL past the last (the docs tests walk them). */
const char *csms_config_key_name(size_t i);

#endif
