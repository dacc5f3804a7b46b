/*
 * libFuzzer harness for the configuration file parser (prescan, inih, setters, finish).
 *
 * The input is the text of pam_csms.conf, loaded for PAM service "sudo". Invariants (each traps):
 *  - an accepted file gives a usable configuration: endpoint https:// with only host[:port]
 *    characters, project_id 1..64 of [A-Za-z0-9_-], timeout 100ms..60s, connect_timeout
 *    100ms..timeout, retries 0..5, a template that passes its own check, absolute paths,
 *    list entries without spaces or control characters, a deny_message without controls;
 *  - a rejected file has a one-line, NUL-terminated explanation starting "/fuzz.conf";
 *  - the error buffer is always NUL-terminated and nothing is written past errlen;
 *  - every [service NAME] section is checked whatever the service: loading the same text for
 *    no service and for "sshd" gives the same accept/reject and the same non-policy keys.
 * csms_config_free() runs on every path (LeakSanitizer checks the rest).
 */
#include "buildconf.h"

#include "config.h"
#include "fuzz.h"
#include "secretname.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * A UTF-8 BOM must not change the verdict: src/config.c strips it before both the pre-scan
 * and inih, which would otherwise count it in line 1's 200-byte buffer and split a legal
 * 197- or 198-byte first line (fuzz/corpus/config/bom-long-first-line.conf, the reproducer).
 * -DFUZZ_CHECK_BOM=0 turns the check off.
 */
#ifndef FUZZ_CHECK_BOM
#define FUZZ_CHECK_BOM 1
#endif

#define NAME "/fuzz.conf"
#define GUARD 16
#define FILL 0xa5

static bool only_chars(const char *s, const char *extra)
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

static bool has_control(const char *s, bool space_too)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || (space_too && c == ' '))
			return true;
	}
	return false;
}

static void check_list(const struct csms_list *l)
{
	FUZZ_CHECK(l->n <= 256);
	FUZZ_CHECK(l->n == 0 || l->items != NULL);
	for (size_t i = 0; i < l->n; i++) {
		FUZZ_CHECK(l->items[i] != NULL && l->items[i][0] != '\0');
		FUZZ_CHECK(!has_control(l->items[i], true));
	}
}

static void check_path(const char *p, bool required)
{
	if (p == NULL) {
		FUZZ_CHECK(!required);
		return;
	}
	FUZZ_CHECK(p[0] == '/' && strlen(p) <= 4096 && !has_control(p, true));
}

static void check_accepted(const struct csms_config *cfg)
{
	char why[CSMS_ERRLEN];

	FUZZ_CHECK(cfg->endpoint != NULL);
	FUZZ_CHECK(strncmp(cfg->endpoint, "https://", 8) == 0);
	/* no user info, path, query, fragment, space or percent: only host[:port] and [v6] */
	FUZZ_CHECK(cfg->endpoint[8] != '\0' && only_chars(cfg->endpoint + 8, ".-:[]"));

	/* only auth=metadata may leave it to the instance's meta_data.json */
	FUZZ_CHECK(cfg->project_id != NULL || cfg->auth == CSMS_AUTH_METADATA);
	if (cfg->project_id != NULL) {
		size_t n = strlen(cfg->project_id);
		FUZZ_CHECK(n >= 1 && n <= 64 && only_chars(cfg->project_id, "_-"));
	}

	FUZZ_CHECK(cfg->timeout_ms >= 100 && cfg->timeout_ms <= 60000);
	FUZZ_CHECK(cfg->connect_timeout_ms >= 100 && cfg->connect_timeout_ms <= cfg->timeout_ms);
	FUZZ_CHECK(cfg->retries >= 0 && cfg->retries <= 5);
	FUZZ_CHECK(cfg->auth == CSMS_AUTH_TOKEN || cfg->auth == CSMS_AUTH_AKSK ||
		   cfg->auth == CSMS_AUTH_METADATA);
	check_path(cfg->credentials_file, true);
	/* plain http only to a link-local or loopback literal, never with a path */
	FUZZ_CHECK(cfg->metadata_url != NULL);
	if (strncmp(cfg->metadata_url, "http://", 7) == 0)
		FUZZ_CHECK(strncmp(cfg->metadata_url + 7, "127.", 4) == 0 ||
			   strncmp(cfg->metadata_url + 7, "169.254.", 8) == 0 ||
			   strncmp(cfg->metadata_url + 7, "[::1]", 5) == 0 ||
			   strncasecmp(cfg->metadata_url + 7, "[fe", 3) == 0);
	else
		FUZZ_CHECK(strncmp(cfg->metadata_url, "https://", 8) == 0);
	FUZZ_CHECK(strchr(cfg->metadata_url + 8, '/') == NULL &&
		   !has_control(cfg->metadata_url, true));
	FUZZ_CHECK(cfg->fail_mode == CSMS_FAIL_CLOSED || cfg->fail_mode == CSMS_FAIL_OPEN);
	FUZZ_CHECK(cfg->on_missing == CSMS_MISSING_DENY || cfg->on_missing == CSMS_MISSING_IGNORE);

	FUZZ_CHECK(cfg->secrets.n >= 1 && cfg->secrets.n <= CSMS_SECRETS_MAX);
	for (size_t i = 0; i < cfg->secrets.n; i++)
		FUZZ_CHECK(csms_secret_template_check(cfg->secrets.items[i], why, sizeof(why)) ==
			   0);
	check_path(cfg->token_file, true);
	check_path(cfg->ca_file, false);
	check_path(cfg->ca_path, false);
	if (cfg->proxy != NULL)
		FUZZ_CHECK((strncmp(cfg->proxy, "http://", 7) == 0 ||
			    strncmp(cfg->proxy, "https://", 8) == 0) &&
			   !has_control(cfg->proxy, true));
	if (cfg->region != NULL)
		FUZZ_CHECK(cfg->region[0] != '\0' && cfg->region[0] != '-' &&
			   only_chars(cfg->region, "-"));
	if (cfg->deny_message != NULL)
		FUZZ_CHECK(!has_control(cfg->deny_message, false));
	check_list(&cfg->bypass_users);
	check_list(&cfg->bypass_groups);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Keys that [service NAME] cannot set come out the same whichever service is loaded. */
static void check_same_globals(const struct csms_config *a, const struct csms_config *b)
{
	FUZZ_CHECK(same_str(a->endpoint, b->endpoint));
	FUZZ_CHECK(same_str(a->project_id, b->project_id));
	FUZZ_CHECK(same_str(a->region, b->region));
	FUZZ_CHECK(same_str(a->token_file, b->token_file));
	FUZZ_CHECK(same_str(a->ca_file, b->ca_file));
	FUZZ_CHECK(same_str(a->ca_path, b->ca_path));
	FUZZ_CHECK(same_str(a->proxy, b->proxy));
	FUZZ_CHECK(a->timeout_ms == b->timeout_ms);
	FUZZ_CHECK(a->connect_timeout_ms == b->connect_timeout_ms);
	FUZZ_CHECK(a->retries == b->retries);
}

static int load(struct csms_config *cfg, const uint8_t *data, size_t size, const char *service,
		char *err)
{
	int rc;

	if (csms_config_init(cfg) != 0)
		return -ENOMEM;
	memset(err, FILL, CSMS_ERRLEN + GUARD);
	err[0] = '\0';
	rc = csms_config_load_buffer(cfg, NAME, (const char *)data, size, service, 0, NULL, err,
				     CSMS_ERRLEN);
	for (size_t i = CSMS_ERRLEN; i < CSMS_ERRLEN + GUARD; i++)
		FUZZ_CHECK((unsigned char)err[i] == FILL);
	FUZZ_CHECK(memchr(err, '\0', CSMS_ERRLEN) != NULL);
	if (rc == 0) {
		check_accepted(cfg);
	} else {
		FUZZ_CHECK(rc < 0);
		/* "out of memory" is the one message without the file name */
		FUZZ_CHECK(rc == -ENOMEM || strncmp(err, NAME, strlen(NAME)) == 0);
		FUZZ_CHECK(strchr(err, '\n') == NULL);
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csms_config sudo, none, sshd;
	char err[CSMS_ERRLEN + GUARD];
	int rc_sudo, rc_none, rc_sshd;

	if (size > CSMS_CONFIG_MAX_SIZE + 1) /* one past the cap still exercises the size check */
		return -1;

	rc_sudo = load(&sudo, data, size, "sudo", err);
	rc_none = load(&none, data, size, NULL, err);
	rc_sshd = load(&sshd, data, size, "sshd", err);

	/* [service NAME] sections are validated for every service, applied only for NAME */
	FUZZ_CHECK((rc_sudo == 0) == (rc_none == 0));
	FUZZ_CHECK((rc_sshd == 0) == (rc_none == 0));
	if (rc_none == 0) {
		check_same_globals(&sudo, &none);
		check_same_globals(&sshd, &none);
	}

	csms_config_free(&sudo);
	csms_config_free(&none);
	csms_config_free(&sshd);

	if (FUZZ_CHECK_BOM && size + 3 <= CSMS_CONFIG_MAX_SIZE &&
	    (size < 3 || memcmp(data, "\xef\xbb\xbf", 3) != 0)) {
		uint8_t *bom = malloc(size + 3);
		struct csms_config with_bom;
		int rc_bom;

		if (bom == NULL)
			abort();
		bom[0] = 0xef; /* the UTF-8 byte order mark */
		bom[1] = 0xbb;
		bom[2] = 0xbf;
		if (size > 0)
			memcpy(bom + 3, data, size);
		rc_bom = load(&with_bom, bom, size + 3, NULL, err);
		FUZZ_CHECK((rc_bom == 0) == (rc_none == 0));
		csms_config_free(&with_bom);
		free(bom);
	}
	return 0;
}
