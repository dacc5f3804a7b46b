/* Config: values, sections, arguments and the file rules, both sides of every boundary. */
#include "buildconf.h"

#include "config.h"
#include "util.h"
#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE "[csms]\nendpoint = https://kms.example.com\nproject_id = p1\n"

static int load(const char *text, const char *service, int argc, const char *const *argv,
		struct csms_config *cfg, char *err)
{
	ck_assert_int_eq(csms_config_init(cfg), 0);
	err[0] = '\0';
	return csms_config_load_buffer(cfg, "/etc/test.conf", text, strlen(text), service, argc,
				       argv, err, CSMS_ERRLEN);
}

/* ---- durations and booleans ---- */

static const struct {
	const char *in;
	int rc;
	long long ms;
} durations[] = {
	{ "5", 0, 5000 },
	{ "5s", 0, 5000 },
	{ "250ms", 0, 250 },
	{ "2m", 0, 120000 },
	{ "1h", 0, 3600000 },
	{ "0", 0, 0 },
	{ "", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "+1", -EINVAL, 0 },
	{ "1.5s", -EINVAL, 0 },
	{ "5 s", -EINVAL, 0 },
	{ "5S", -EINVAL, 0 },
	{ "5d", -EINVAL, 0 },
	{ "s", -EINVAL, 0 },
	{ "10sec", -EINVAL, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "9223372036854775807h", -ERANGE, 0 },
};

START_TEST(t_duration)
{
	int64_t ms = -7;
	int rc = csms_duration_parse(durations[_i].in, &ms);

	ck_assert_msg(rc == durations[_i].rc, "'%s': rc %d", durations[_i].in, rc);
	if (rc == 0)
		ck_assert_int_eq(ms, durations[_i].ms);
}
END_TEST

static const struct {
	const char *in;
	int rc;
	bool val;
} bools[] = {
	{ "yes", 0, true },    { "true", 0, true },   { "on", 0, true },   { "1", 0, true },
	{ "no", 0, false },    { "false", 0, false }, { "off", 0, false }, { "0", 0, false },
	{ "Yes", -EINVAL, 0 }, { "y", -EINVAL, 0 },   { "", -EINVAL, 0 },  { "2", -EINVAL, 0 },
};

START_TEST(t_bool)
{
	bool v = !bools[_i].val;

	ck_assert_int_eq(csms_bool_parse(bools[_i].in, &v), bools[_i].rc);
	if (bools[_i].rc == 0)
		ck_assert(v == bools[_i].val);
}
END_TEST

/* ---- single key = value lines on top of a valid [csms] ---- */

static const struct {
	const char *line;
	bool ok;
	const char *err; /* substring expected in the message */
} values[] = {
	{ "timeout = 100ms", true, NULL },
	{ "timeout = 99ms", false, "timeout" },
	{ "timeout = 60s", true, NULL },
	{ "timeout = 60001ms", false, "timeout" },
	{ "timeout = 0", false, "timeout" },
	{ "timeout = -1", false, "timeout" },
	{ "timeout = 99999999999", false, "timeout" },
	{ "timeout =", false, "timeout" },
	{ "connect_timeout = 100ms", true, NULL },
	{ "connect_timeout = 99ms", false, "connect_timeout" },
	{ "connect_timeout = 5s", true, NULL },
	{ "connect_timeout = 5001ms", false, "longer than timeout" },
	{ "retries = 0", true, NULL },
	{ "retries = 5", true, NULL },
	{ "retries = 6", false, "retries" },
	{ "retries = -1", false, "retries" },
	{ "retries = 01", false, "retries" },
	{ "fail_mode = open", true, NULL },
	{ "fail_mode = closed", true, NULL },
	{ "fail_mode = Open", false, "fail_mode" },
	{ "on_missing = ignore", true, NULL },
	{ "on_missing = allow", false, "on_missing" },
	{ "auth = token", true, NULL },
	{ "auth = aksk", true, NULL },
	{ "auth = metadata", true, NULL },
	{ "auth = password", false, "auth" },
	{ "auth = AKSK", false, "auth" },
	{ "credentials_file = /etc/security/pam_csms.credentials", true, NULL },
	{ "credentials_file = etc/x", false, "credentials_file" },
	/* plain http only to link-local or loopback; https anywhere; never a path */
	{ "metadata_url = http://169.254.169.254", true, NULL },
	{ "metadata_url = http://169.254.0.1:8080", true, NULL },
	{ "metadata_url = http://127.0.0.1:18080", true, NULL },
	{ "metadata_url = http://127.255.255.254", true, NULL },
	{ "metadata_url = http://[::1]:80", true, NULL },
	{ "metadata_url = http://[fe80::a9fe:a9fe]", true, NULL },
	{ "metadata_url = http://[febf::1]", true, NULL },
	{ "metadata_url = https://metadata.example.com", true, NULL },
	{ "metadata_url = https://metadata.example.com:8443", true, NULL },
	{ "metadata_url = http://10.0.0.1", false, "link-local or loopback" },
	{ "metadata_url = http://169.253.169.254", false, "metadata_url" },
	{ "metadata_url = http://170.254.169.254", false, "metadata_url" },
	{ "metadata_url = http://metadata.example.com", false, "metadata_url" },
	{ "metadata_url = http://169.254.169.254.nip.io", false, "metadata_url" },
	{ "metadata_url = http://169.254.169.254/", false, "metadata_url" },
	{ "metadata_url = http://169.254.169.254/openstack", false, "metadata_url" },
	{ "metadata_url = http://169.254.169.254:0", false, "metadata_url" },
	{ "metadata_url = http://169.254.169.254:65536", false, "metadata_url" },
	{ "metadata_url = http://169.254.169.254:", false, "metadata_url" },
	{ "metadata_url = http://user@169.254.169.254", false, "metadata_url" },
	{ "metadata_url = http://0169.254.169.254", false, "metadata_url" },
	{ "metadata_url = http://169.254.169.2544", false, "metadata_url" },
	{ "metadata_url = http://169.254.169", false, "metadata_url" },
	{ "metadata_url = http://[fe7f::1]", false, "metadata_url" },
	{ "metadata_url = http://[fec0::1]", false, "metadata_url" },
	{ "metadata_url = http://[2001:db8::1]", false, "metadata_url" },
	{ "metadata_url = http://[::1", false, "metadata_url" },
	{ "metadata_url = https://h/path", false, "metadata_url" },
	{ "metadata_url = ftp://169.254.169.254", false, "metadata_url" },
	{ "metadata_url =", false, "metadata_url" },
	{ "cache_dir = /var/cache/pam_csms", true, NULL },
	{ "cache_dir = var/cache", false, "cache_dir" },
	{ "cache_dir =", false, "cache_dir" },
	{ "cache_ttl = 0", true, NULL },
	{ "cache_ttl = 5m", true, NULL },
	{ "cache_ttl = 24h", true, NULL },
	{ "cache_ttl = 86400001ms", false,
	  "cache_ttl: '86400001ms' is not a duration from 0 to 24h" },
	{ "cache_ttl = 25h", false, "cache_ttl" },
	{ "cache_ttl = -1s", false, "cache_ttl" },
	{ "cache_ttl = 1d", false, "cache_ttl" },
	{ "offline_grace = 0", true, NULL },
	{ "offline_grace = 1h", true, NULL },
	{ "offline_grace = 168h", true, NULL },
	{ "offline_grace = 10080m", true, NULL },
	{ "offline_grace = 169h", false, "offline_grace: '169h' is not a duration from 0 to 168h" },
	{ "offline_grace = 604800001ms", false, "offline_grace" },
	{ "secret = login-%u", true, NULL },
	{ "secret = %u.%s.%h%%", true, NULL },
	{ "secret = %x", false, "unknown escape" },
	{ "secret = %u, team-%g, fleet-access", true, NULL },
	{ "secret = %u,%g", true, NULL },
	{ "secret = a,b,c,d,e,f,g,h", true, NULL },
	{ "secret = a,b,c,d,e,f,g,h,i", false, "more than 8 templates" },
	{ "secret = a,,b", false, "empty entry" },
	{ "secret = a,", false, "empty entry" },
	{ "secret = a, a", false, "'a' given twice" },
	{ "secret = %u, x/y", false, "can never be part of a secret name" },
	{ "secret = %u team", false, "space" },
	{ "secret = %", false, "unknown escape" },
	{ "secret = a/%u", false, "secret" },
	{ "secret = a b", false, "secret" },
	{ "bypass_users = root, breakglass", true, NULL },
	{ "bypass_users = root,,x", false, "empty entry" },
	{ "bypass_users = root,", false, "empty entry" },
	{ "bypass_users =", true, NULL },
	{ "bypass_groups = wheel", true, NULL },
	{ "deny_message = Access to this host is switched off in CSMS.", true, NULL },
	{ "debug = yes", true, NULL },
	{ "debug = maybe", false, "debug" },
	{ "ca_file = /etc/ssl/ca.pem", true, NULL },
	{ "ca_file = relative.pem", false, "absolute" },
	{ "ca_path = /etc/ssl/certs", true, NULL },
	{ "token_file = token", false, "absolute" },
	{ "proxy = http://proxy.example:3128", true, NULL },
	{ "proxy = https://proxy.example", true, NULL },
	{ "proxy = socks5://proxy.example", false, "proxy" },
	{ "proxy = http://", false, "proxy" },
	{ "tmeout = 5s", false, "unknown key 'tmeout'" },
	{ "verify = no", false, "unknown key" },
	{ "timeout = 5s\ntimeout = 6s", false, "repeated" },
	{ "deny_message = a\n  continued", false, "syntax error" },
	{ "timeout = 5s\n  retries = 1", false, "indented line" },
	{ "project_id = p2", false, "repeated" },
	{ "this line has no equals sign", false, "syntax error" },
	{ "endpoint = https://h ;c", true, NULL }, /* inline comment after a space */
	{ "deny_message = bye ; a comment", true, NULL },
	{ "deny_message = semi;colon", true, NULL },
};

START_TEST(t_value)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN], *text;
	int rc;

	/* endpoint and project_id lines come from BASE; 'repeated' rows rely on that */
	if (asprintf(&text, "[csms]\nproject_id = p1\n%s\n%s", values[_i].line,
		     strstr(values[_i].line, "endpoint")
			     ? ""
			     : "endpoint = https://kms.example.com\n") < 0)
		abort();
	rc = load(text, NULL, 0, NULL, &cfg, err);
	if (values[_i].ok)
		ck_assert_msg(rc == 0, "'%s' rejected: %s", values[_i].line, err);
	else {
		ck_assert_msg(rc != 0, "'%s' accepted", values[_i].line);
		ck_assert_msg(strstr(err, values[_i].err) != NULL, "'%s': message '%s'",
			      values[_i].line, err);
		ck_assert_msg(strncmp(err, "/etc/test.conf:", 15) == 0, "no file:line in '%s'",
			      err);
	}
	csms_config_free(&cfg);
	free(text);
}
END_TEST

static const struct {
	const char *endpoint;
	bool ok;
} endpoints[] = {
	{ "https://kms.cn-north-4.myhuaweicloud.com", true },
	{ "https://127.0.0.1:8443", true },
	{ "https://[::1]:8443", true },
	{ "https://h:1", true },
	{ "https://h:65535", true },
	{ "https://h:65536", false },
	{ "https://h:0", false },
	{ "https://h:", false },
	{ "http://kms.example.com", false },
	{ "file:///etc/passwd", false },
	{ "https://u:p@kms.example.com", false },
	{ "https://kms.example.com/", false },
	{ "https://kms.example.com/v1", false },
	{ "https://kms.example.com?x=1", false },
	{ "https://kms.example.com#y", false },
	{ "https://", false },
	{ "https://-bad.example", false },
	{ "HTTPS://kms.example.com", false },
	{ "https://kms.example.com%2f", false },
};

START_TEST(t_endpoint_value)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN], *text;
	int rc;

	if (asprintf(&text, "[csms]\nproject_id = p\nendpoint = %s\n", endpoints[_i].endpoint) < 0)
		abort();
	rc = load(text, NULL, 0, NULL, &cfg, err);
	ck_assert_msg((rc == 0) == endpoints[_i].ok, "%s: rc %d %s", endpoints[_i].endpoint, rc,
		      err);
	if (rc == 0)
		ck_assert_str_eq(cfg.endpoint, endpoints[_i].endpoint);
	csms_config_free(&cfg);
	free(text);
}
END_TEST

static const struct {
	const char *id;
	bool ok;
} project_ids[] = {
	{ "0123456789abcdef0123456789abcdef", true },
	{ "a", true },
	{ "A_b-9", true },
	{ "0123456789012345678901234567890123456789012345678901234567890123", true },   /* 64 */
	{ "01234567890123456789012345678901234567890123456789012345678901234", false }, /* 65 */
	{ "a/b", false },
	{ "a.b", false },
	{ "a b", false },
};

START_TEST(t_project_id)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN], *text;
	int rc;

	if (asprintf(&text, "[csms]\nendpoint = https://h\nproject_id = %s\n", project_ids[_i].id) <
	    0)
		abort();
	rc = load(text, NULL, 0, NULL, &cfg, err);
	ck_assert_msg((rc == 0) == project_ids[_i].ok, "%s: %s", project_ids[_i].id, err);
	csms_config_free(&cfg);
	free(text);
}
END_TEST

/* ---- whole files ---- */

static const struct {
	const char *text;
	bool ok;
	const char *err;
} files[] = {
	{ "", false, "project_id" },
	{ "# only a comment\n; another\n", false, "project_id" },
	{ "[csms]\nproject_id = p\n", false, "'region' or 'endpoint'" },
	{ "[csms]\nendpoint = https://h\n", false, "project_id" },
	{ "[csms]\nendpoint = https://h\nauth = aksk\n", false, "project_id" },
	/* the instance's meta_data.json names the project */
	{ "[csms]\nregion = cn-north-4\nauth = metadata\n", true, NULL },
	{ "[csms]\nregion = cn-north-4\nproject_id = p\n", true, NULL },
	{ "[csms]\nregion = cn_north\nproject_id = p\n", false, "region" },
	{ "endpoint = https://h\n[csms]\nproject_id = p\n", false, "outside a section" },
	{ BASE "[other]\nx = 1\n", false, "unknown section [other]" },
	{ BASE "[other]\n", false, "unknown section" },
	{ BASE "[csms]\n", false, "repeated" },
	{ BASE "[service sudo]\nfail_mode = open\n[service sudo]\n", false, "repeated" },
	{ BASE "[service sudo]\ntimeout = 1s\n", false, "cannot be set per service" },
	{ BASE "[service sudo]\nfail_mode = sideways\n", false, "fail_mode" },
	{ BASE "[service]\n", false, "unknown section" },
	{ BASE "[service a/b]\n", false, "unknown section" },
	{ BASE "[service sudo\n", false, "malformed section" },
	{ BASE "[service sshd]\nfail_mode = open\nsecret = ssh-%u\n", true, NULL },
	{ BASE "junk\ntmeout = 1\n", false, "/etc/test.conf:4: syntax error" },
	{ BASE "timeout = 1s\ntmeout = 1\n", false, "/etc/test.conf:5: unknown key 'tmeout'" },
	{ BASE "key: value\n", false, "/etc/test.conf:4: unknown key 'key'" },
	{ "\xef\xbb\xbf" BASE, true, NULL },
	{ "[csms]\r\nendpoint = https://h\r\nproject_id = p\r\n", true, NULL },
	/* inih strips \v and \f as space: "\v[csms]:" would reopen [csms] below a [service]
	 * section, so every control byte but tab (and a CRLF's CR) rejects the file */
	{ BASE "[service sudo]\n\v[csms]:\nbypass_users = alice\n", false,
	  "/etc/test.conf:5: control character 0x0b at column 1" },
	{ BASE "[service sudo]\n\f[csms]:\nbypass_users = alice\n", false,
	  "/etc/test.conf:5: control character 0x0c at column 1" },
	{ BASE "deny_message = a\bb\n", false,
	  "/etc/test.conf:4: control character 0x08 at column 17" },
	{ BASE "deny_message = \x1b[2J\n", false, "/etc/test.conf:4: control character 0x1b" },
	{ BASE "deny_message = bye\x7f\n", false, "/etc/test.conf:4: control character 0x7f" },
	{ BASE "; a comment with \x1b[31m\n", false, "/etc/test.conf:4: control character 0x1b" },
	{ BASE "timeout = 5s\r\x0b\n", false, "/etc/test.conf:4: control character 0x0d" },
	{ BASE "timeout\r= 5s\n", false, "/etc/test.conf:4: control character 0x0d at column 8" },
	{ BASE "timeout = 5s\r", true, NULL },
	{ BASE "timeout =\t5s\t\n", true, NULL },
	{ BASE "deny_message = Zugang gesperrt \xe2\x80\x94 CSMS\n", true, NULL },
};

START_TEST(t_file_text)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN];
	int rc = load(files[_i].text, "sudo", 0, NULL, &cfg, err);

	if (files[_i].ok)
		ck_assert_msg(rc == 0, "row %d rejected: %s", _i, err);
	else {
		ck_assert_msg(rc != 0, "row %d accepted", _i);
		ck_assert_msg(strstr(err, files[_i].err) != NULL, "row %d: '%s'", _i, err);
	}
	csms_config_free(&cfg);
}
END_TEST

START_TEST(t_region_endpoint)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN];

	ck_assert_int_eq(
		load("[csms]\nregion = cn-north-4\nproject_id = p\n", NULL, 0, NULL, &cfg, err), 0);
	ck_assert_str_eq(cfg.endpoint, "https://kms.cn-north-4.myhuaweicloud.com");
	csms_config_free(&cfg);
	/* an explicit endpoint wins over the region */
	ck_assert_int_eq(
		load("[csms]\nregion = cn-north-4\nendpoint = https://h:1\nproject_id = p\n", NULL,
		     0, NULL, &cfg, err),
		0);
	ck_assert_str_eq(cfg.endpoint, "https://h:1");
	csms_config_free(&cfg);
}
END_TEST

START_TEST(t_defaults)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN];

	ck_assert_int_eq(load(BASE, NULL, 0, NULL, &cfg, err), 0);
	ck_assert_int_eq(cfg.auth, CSMS_AUTH_TOKEN);
	ck_assert_str_eq(cfg.token_file, "/etc/security/pam_csms.token");
	ck_assert_int_eq(cfg.secrets.n, 1);
	ck_assert_str_eq(cfg.secrets.items[0], "%u");
	ck_assert_int_eq(cfg.fail_mode, CSMS_FAIL_CLOSED);
	ck_assert_int_eq(cfg.on_missing, CSMS_MISSING_DENY);
	ck_assert_int_eq(cfg.timeout_ms, 5000);
	ck_assert_int_eq(cfg.connect_timeout_ms, 2000);
	ck_assert_int_eq(cfg.retries, 2);
	ck_assert_int_eq(cfg.bypass_users.n, 0);
	ck_assert_ptr_null(cfg.ca_file);
	ck_assert_ptr_null(cfg.proxy);
	ck_assert(!cfg.debug);
	ck_assert_str_eq(csms_config_cache_dir(&cfg), "/var/cache/pam_csms");
	ck_assert_int_eq(cfg.cache_ttl_ms, 0);
	ck_assert_int_eq(cfg.offline_grace_ms, 0);
	/* no state unless asked for */
	ck_assert(!csms_config_keeps_state(&cfg));
	csms_config_free(&cfg);
	/* the default connect_timeout shrinks to a shorter timeout instead of failing */
	ck_assert_int_eq(load(BASE "timeout = 1s\n", NULL, 0, NULL, &cfg, err), 0);
	ck_assert_int_eq(cfg.connect_timeout_ms, 1000);
	csms_config_free(&cfg);
}
END_TEST

/* [service NAME] applies to that service only, wherever it sits; arguments win over both. */
START_TEST(t_layers)
{
	static const char text[] = "[service sudo]\nfail_mode = open\nsecret = sudo-%u\n" BASE
				   "fail_mode = closed\nsecret = login-%u\n";
	const char *args[] = { "secret=arg-%u", "debug" };
	struct csms_config cfg;
	char err[CSMS_ERRLEN];

	ck_assert_int_eq(load(text, "sshd", 0, NULL, &cfg, err), 0);
	ck_assert_int_eq(cfg.fail_mode, CSMS_FAIL_CLOSED);
	ck_assert_int_eq(cfg.secrets.n, 1);
	ck_assert_str_eq(cfg.secrets.items[0], "login-%u");
	csms_config_free(&cfg);

	ck_assert_int_eq(load(text, "sudo", 0, NULL, &cfg, err), 0);
	ck_assert_int_eq(cfg.fail_mode, CSMS_FAIL_OPEN);
	ck_assert_int_eq(cfg.secrets.n, 1);
	ck_assert_str_eq(cfg.secrets.items[0], "sudo-%u");
	csms_config_free(&cfg);

	ck_assert_int_eq(load(text, "sudo", 2, args, &cfg, err), 0);
	ck_assert_int_eq(cfg.secrets.n, 1);
	ck_assert_str_eq(cfg.secrets.items[0], "arg-%u");
	ck_assert(cfg.debug);
	ck_assert_int_eq(cfg.fail_mode, CSMS_FAIL_OPEN);
	csms_config_free(&cfg);
}
END_TEST

/* Any of the three keys turns on the state in cache_dir; per service for the policy two. */
START_TEST(t_keeps_state)
{
	static const char text[] = BASE "[service sudo]\ncache_ttl = 5m\noffline_grace = 2h\n";
	const char *dir_arg[] = { "cache_dir=/run/csms" };
	struct csms_config cfg;
	char err[CSMS_ERRLEN];

	ck_assert_int_eq(load(text, "sshd", 0, NULL, &cfg, err), 0);
	ck_assert(!csms_config_keeps_state(&cfg));
	csms_config_free(&cfg);
	ck_assert_int_eq(load(text, "sudo", 0, NULL, &cfg, err), 0);
	ck_assert(csms_config_keeps_state(&cfg));
	ck_assert_int_eq(cfg.cache_ttl_ms, 300000);
	ck_assert_int_eq(cfg.offline_grace_ms, 7200000);
	csms_config_free(&cfg);
	ck_assert_int_eq(load(text, "sshd", 1, dir_arg, &cfg, err), 0);
	ck_assert(csms_config_keeps_state(&cfg));
	ck_assert_str_eq(csms_config_cache_dir(&cfg), "/run/csms");
	csms_config_free(&cfg);
	/* cache_dir is not a policy key */
	ck_assert_int_ne(load(BASE "[service sudo]\ncache_dir = /x\n", "sudo", 0, NULL, &cfg, err),
			 0);
	csms_config_free(&cfg);
}
END_TEST

static const struct {
	const char *args[3];
	int argc;
	bool ok;
	const char *err;
} argrows[] = {
	{ { "timeout=1s" }, 1, true, NULL },
	{ { "debug" }, 1, true, NULL },
	{ { "debug=no" }, 1, true, NULL },
	{ { "conf=/x" }, 1, true, NULL },
	{ { "conf=/x", "conf=/y" }, 2, false, "twice" },
	{ { "timeout=1s", "timeout=2s" }, 2, false, "twice" },
	{ { "debg" }, 1, false, "expected key=value" },
	{ { "failmode=open" }, 1, false, "unknown key" },
	{ { "fail_mode=maybe" }, 1, false, "fail_mode" },
	{ { "=x" }, 1, false, "unknown key" },
	{ { "timeout=50ms" }, 1, false, "timeout" },
	{ { "endpoint=http://h" }, 1, false, "endpoint" },
};

START_TEST(t_args)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN];
	int rc = load(BASE, NULL, argrows[_i].argc, argrows[_i].args, &cfg, err);

	if (argrows[_i].ok)
		ck_assert_msg(rc == 0, "row %d: %s", _i, err);
	else {
		ck_assert_msg(rc != 0, "row %d accepted", _i);
		ck_assert_msg(strstr(err, argrows[_i].err) != NULL, "row %d: %s", _i, err);
	}
	csms_config_free(&cfg);
}
END_TEST

/* Lines: 198 bytes is parsed whole by inih r55; 199 would be split, so it is refused. */
START_TEST(t_line_length)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN], line[512], *text;
	size_t prefix = strlen("deny_message = ");
	int len = _i == 0 ? 198 : 199;

	memcpy(line, "deny_message = ", prefix);
	memset(line + prefix, 'x', (size_t)len - prefix - 3);
	memcpy(line + len - 3, "END", 4);
	if (asprintf(&text, BASE "%s\n", line) < 0)
		abort();
	if (len == 198) {
		ck_assert_int_eq(load(text, NULL, 0, NULL, &cfg, err), 0);
		ck_assert_int_eq(strlen(cfg.deny_message), (size_t)len - prefix);
		ck_assert_str_eq(cfg.deny_message + strlen(cfg.deny_message) - 3, "END");
	} else {
		ck_assert_int_ne(load(text, NULL, 0, NULL, &cfg, err), 0);
		ck_assert_msg(strstr(err, "/etc/test.conf:4: line longer") != NULL, "%s", err);
	}
	csms_config_free(&cfg);
	free(text);
}
END_TEST

/* A BOM does not eat into line 1's 198 bytes (inih never sees it). */
START_TEST(t_bom_long_line)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN], text[512];
	int n = snprintf(text, sizeof(text), "\xef\xbb\xbf#%0197d\n%s", 0, BASE);

	ck_assert_int_gt(n, 0);
	ck_assert_msg(load(text, NULL, 0, NULL, &cfg, err) == 0, "%s", err);
	csms_config_free(&cfg);
}
END_TEST

/* The classic r55 trick: the tail of a long comment line is parsed as a new key. */
START_TEST(t_long_comment_smuggling)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN], text[1024];
	int n = snprintf(text, sizeof(text), "%s# %0250d fail_mode = open\n", BASE, 0);

	ck_assert_int_gt(n, 0);
	ck_assert_int_ne(load(text, NULL, 0, NULL, &cfg, err), 0);
	csms_config_free(&cfg);
}
END_TEST

START_TEST(t_nul_byte)
{
	static const char text[] = BASE "deny_message = a\0b\n";
	struct csms_config cfg;
	char err[CSMS_ERRLEN];

	ck_assert_int_eq(csms_config_init(&cfg), 0);
	ck_assert_int_ne(csms_config_load_buffer(&cfg, "/c", text, sizeof(text) - 1, NULL, 0, NULL,
						 err, sizeof(err)),
			 0);
	ck_assert_msg(strstr(err, "NUL") != NULL, "%s", err);
	csms_config_free(&cfg);
}
END_TEST

START_TEST(t_size_cap)
{
	struct csms_config cfg;
	char err[CSMS_ERRLEN];
	size_t n = CSMS_CONFIG_MAX_SIZE + 1;
	char *text = malloc(n + 1);

	memset(text, '\n', n);
	memcpy(text, BASE, strlen(BASE));
	text[n] = '\0';
	ck_assert_int_ne(load(text, NULL, 0, NULL, &cfg, err), 0);
	ck_assert_msg(strstr(err, "larger than") != NULL, "%s", err);
	csms_config_free(&cfg);
	text[n - 1] = '\0'; /* exactly at the cap */
	ck_assert_int_eq(load(text, NULL, 0, NULL, &cfg, err), 0);
	csms_config_free(&cfg);
	free(text);
}
END_TEST

/* ---- the file on disk ---- */

static int load_file(const char *path, char *err)
{
	struct csms_config cfg;
	const char *args[] = { NULL };
	char *arg;
	int rc;

	if (asprintf(&arg, "conf=%s", path) < 0)
		abort();
	args[0] = arg;
	ck_assert_int_eq(csms_config_init(&cfg), 0);
	rc = csms_config_load(&cfg, NULL, 1, args, err, CSMS_ERRLEN);
	csms_config_free(&cfg);
	free(arg);
	return rc;
}

START_TEST(t_file_rules)
{
	char *dir = t_scratch(), err[CSMS_ERRLEN];
	char *good = t_path(dir, "good.conf"), *gw = t_path(dir, "gw.conf");
	char *ow = t_path(dir, "ow.conf"), *link = t_path(dir, "link.conf");
	char *fifo = t_path(dir, "fifo.conf"), *missing = t_path(dir, "missing.conf");
	char *big = t_path(dir, "big.conf");
	char *bigtext = malloc(CSMS_CONFIG_MAX_SIZE + 2);

	t_write_str(good, BASE, 0644);
	ck_assert_int_eq(load_file(good, err), 0);
	t_write_str(gw, BASE, 0664);
	ck_assert_int_eq(load_file(gw, err), -EPERM);
	ck_assert_msg(strstr(err, gw) && strstr(err, "writable"), "%s", err);
	t_write_str(ow, BASE, 0646);
	ck_assert_int_eq(load_file(ow, err), -EPERM);
	ck_assert_int_eq(symlink(good, link), 0);
	ck_assert_int_eq(load_file(link, err), -ELOOP);
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	ck_assert_int_eq(load_file(fifo, err), -EINVAL); /* and it returned: no hang */
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	ck_assert_int_eq(load_file(dir, err), -EINVAL);
	ck_assert_int_eq(load_file("/dev/null", err), -EINVAL);
	ck_assert_int_eq(load_file(missing, err), -ENOENT);
	ck_assert_msg(strstr(err, missing) && strstr(err, "not found"), "%s", err);
	ck_assert_int_eq(load_file("relative.conf", err), -EINVAL);
	memset(bigtext, '#', CSMS_CONFIG_MAX_SIZE + 1);
	t_write(big, bigtext, CSMS_CONFIG_MAX_SIZE + 1, 0644);
	ck_assert_int_eq(load_file(big, err), -EFBIG);
	/* the directories on the way count too */
	{
		char *sub = t_path(dir, "sub"), *inner = t_path(sub, "c.conf");

		ck_assert_int_eq(mkdir(sub, 0755), 0);
		t_write_str(inner, BASE, 0644);
		ck_assert_int_eq(load_file(inner, err), 0);
		ck_assert_int_eq(chmod(sub, 0777), 0);
		ck_assert_int_eq(load_file(inner, err), -EPERM);
		ck_assert_msg(strstr(err, "directory") && strstr(err, "writable"), "%s", err);
		ck_assert_int_eq(chmod(sub, 01777), 0); /* sticky, like /tmp: entries are safe */
		ck_assert_int_eq(load_file(inner, err), 0);
		ck_assert_int_eq(chmod(sub, 0775), 0);
		ck_assert_int_eq(load_file(inner, err), -EPERM);
		ck_assert_int_eq(chmod(sub, 0755), 0);
		free(inner);
		free(sub);
	}
	free(bigtext);
	free(good);
	free(gw);
	free(ow);
	free(link);
	free(fifo);
	free(missing);
	free(big);
	free(dir);
}
END_TEST

/* Owned by someone else (neither root nor us), the file or a directory on the way. */
START_TEST(t_foreign_owner)
{
	char *dir = t_scratch(), *good = t_path(dir, "good.conf"), *sub = t_path(dir, "sub");
	char *inner = t_path(sub, "c.conf"), err[CSMS_ERRLEN];

	t_write_str(good, BASE, 0644);
	ck_assert_int_eq(load_file(good, err), 0);
	ck_assert_int_eq(chown(good, 65534, 65534), 0);
	ck_assert_int_eq(load_file(good, err), -EPERM);
	ck_assert_msg(strstr(err, "owned by uid 65534") != NULL, "%s", err);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	t_write_str(inner, BASE, 0644);
	ck_assert_int_eq(load_file(inner, err), 0);
	ck_assert_int_eq(chown(sub, 65534, 0), 0);
	ck_assert_int_eq(load_file(inner, err), -EPERM);
	ck_assert_msg(strstr(err, "owned by uid 65534") != NULL, "%s", err);
	free(inner);
	free(sub);
	free(good);
	free(dir);
}
END_TEST

START_TEST(t_keys_listed)
{
	/* every key the setter table knows is in the exported list, and the reverse */
	struct csms_config cfg;
	char err[CSMS_ERRLEN], *text;
	int n = 0;

	for (const char *k; (k = csms_config_key_name((size_t)n)) != NULL; n++) {
		if (asprintf(&text, BASE "%s = \x01\n", k) < 0)
			abort();
		ck_assert_int_ne(load(text, NULL, 0, NULL, &cfg, err), 0);
		ck_assert_msg(strstr(err, "unknown key") == NULL, "%s: %s", k, err);
		csms_config_free(&cfg);
		free(text);
	}
	ck_assert_int_eq(n, 23);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_loop_test(tc, t_duration, 0, sizeof(durations) / sizeof(durations[0]));
	tcase_add_loop_test(tc, t_bool, 0, sizeof(bools) / sizeof(bools[0]));
	tcase_add_loop_test(tc, t_value, 0, sizeof(values) / sizeof(values[0]));
	tcase_add_loop_test(tc, t_endpoint_value, 0, sizeof(endpoints) / sizeof(endpoints[0]));
	tcase_add_loop_test(tc, t_project_id, 0, sizeof(project_ids) / sizeof(project_ids[0]));
	tcase_add_loop_test(tc, t_file_text, 0, sizeof(files) / sizeof(files[0]));
	tcase_add_loop_test(tc, t_args, 0, sizeof(argrows) / sizeof(argrows[0]));
	tcase_add_loop_test(tc, t_line_length, 0, 2);
	tcase_add_test(tc, t_region_endpoint);
	tcase_add_test(tc, t_defaults);
	tcase_add_test(tc, t_layers);
	tcase_add_test(tc, t_keeps_state);
	tcase_add_test(tc, t_long_comment_smuggling);
	tcase_add_test(tc, t_bom_long_line);
	tcase_add_test(tc, t_nul_byte);
	tcase_add_test(tc, t_size_cap);
	tcase_add_test(tc, t_file_rules);
	t_add_root_test(tc, t_foreign_owner, "t_foreign_owner");
	tcase_add_test(tc, t_keys_listed);
	suite_add_tcase(s, tc);
	return t_run(s);
}
