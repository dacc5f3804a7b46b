/* The log line: field order, escaping, bounds; and the JSON form csms-check prints. */
#include "buildconf.h"

#include "verdict.h"

#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *in;
	const char *out;
} escapes[] = {
	{ "alice", "alice" },
	{ "a b", "a\\x20b" },
	{ "a\"b'c\\d", "a\\x22b\\x27c\\x5cd" },
	{ "\x1b[31m\x07", "\\x1b[31m\\x07" },
	{ "a\nb\r\t", "a\\x0ab\\x0d\\x09" },
	{ "\xd0\xb0\xff\x7f", "\\xd0\\xb0\\xff\\x7f" },
	{ "%s%n", "%s%n" },
	{ "decision=permit", "decision\\x3dpermit" },
	{ "", "" },
};

START_TEST(t_escape)
{
	char out[256];

	csms_log_escape(out, sizeof(out), escapes[_i].in, strlen(escapes[_i].in), 256);
	ck_assert_str_eq(out, escapes[_i].out);
}
END_TEST

START_TEST(t_escape_bounds)
{
	char big[5000], out[64], wide[2048];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	csms_log_escape(out, sizeof(out), big, strlen(big), 256);
	ck_assert_int_lt(strlen(out), sizeof(out));
	ck_assert_str_eq(out + strlen(out) - 3, "...");
	csms_log_escape(wide, sizeof(wide), big, strlen(big), 256);
	ck_assert_int_eq(strlen(wide), 259); /* 256 bytes, then the cut mark */
	memset(big, '\n', sizeof(big) - 1);
	csms_log_escape(out, sizeof(out), big, strlen(big), 256);
	ck_assert_int_lt(strlen(out), sizeof(out));
}
END_TEST

START_TEST(t_format_order)
{
	struct csms_verdict v;
	char line[1024];

	csms_verdict_init(&v);
	v.decision = CSMS_DECISION_DENY;
	v.reason = CSMS_REASON_STATE;
	v.source = CSMS_SOURCE_API;
	strcpy(v.secret, "login-bob");
	v.answer.kind = CSMS_STATE_STRING;
	v.answer.state_len = strlen(strcpy(v.answer.state, "FROZEN"));
	v.http = 200;
	strcpy(v.request_id, "0a1b");
	v.attempts = 1;
	v.ms = 84;
	csms_verdict_format(&v, "bob", "sshd", line, sizeof(line));
	ck_assert_str_eq(line, "decision=deny reason=state user=bob service=sshd secret=login-bob "
			       "state=FROZEN source=api http=200 request_id=0a1b attempts=1 ms=84");
}
END_TEST

START_TEST(t_format_hostile)
{
	struct csms_verdict v;
	char line[4096], user[3000];

	csms_verdict_init(&v);
	v.decision = CSMS_DECISION_DENY;
	v.reason = CSMS_REASON_INVALID_NAME;
	memset(user, '\n', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	strcpy(v.request_id, "abc\x1b[0mdef");
	strcpy(v.detail, "x=1 y=2");
	csms_verdict_format(&v, user, NULL, line, sizeof(line));
	ck_assert_ptr_null(strchr(line, '\n'));
	ck_assert_ptr_null(strchr(line, '\x1b'));
	ck_assert_ptr_nonnull(strstr(line, "service=- secret=- state=- source=none http=-"));
	ck_assert_ptr_nonnull(strstr(line, "request_id=abc\\x1b[0mdef"));
	ck_assert_ptr_nonnull(strstr(line, " detail=x\\x3d1\\x20y\\x3d2"));
	ck_assert_int_lt(strlen(line), 2000);
}
END_TEST

START_TEST(t_names)
{
	static const char *const reasons[] = {
		"state",        "not_found", "invalid_name", "bypass",    "network",
		"tls",          "timeout",   "http",         "throttled", "credentials_rejected",
		"bad_response", "config",    "credentials",  "memory",
	};
	static const char *const decisions[] = { "deny",        "permit",    "ignore", "bypass",
						 "unavailable", "fail_open", "error" };

	for (int i = 0; i <= CSMS_REASON_MEMORY; i++)
		ck_assert_str_eq(csms_reason_name((enum csms_reason)i), reasons[i]);
	for (int i = 0; i <= CSMS_DECISION_ERROR; i++)
		ck_assert_str_eq(csms_decision_name((enum csms_decision)i), decisions[i]);
	ck_assert_str_eq(csms_source_name(CSMS_SOURCE_STALE), "stale");
	ck_assert_str_eq(csms_source_name(CSMS_SOURCE_CACHE), "cache");
}
END_TEST

START_TEST(t_json)
{
	struct csms_verdict v;
	struct json_object *o, *f;
	char *s;

	csms_verdict_init(&v);
	v.decision = CSMS_DECISION_PERMIT;
	v.reason = CSMS_REASON_STATE;
	v.source = CSMS_SOURCE_API;
	strcpy(v.secret, "alice");
	v.answer.kind = CSMS_STATE_STRING;
	v.answer.state_len = strlen(strcpy(v.answer.state, "ENABLED"));
	v.http = 200;
	v.ntemplates = v.nsecrets = 1;
	v.decided_by = 0;
	strcpy(v.secrets[0].name, "alice");
	v.secrets[0].metadata_json = strdup("{\"id\":\"x\",\"state\":\"ENABLED\"}");
	s = csms_verdict_json(&v, "alice", "sshd");
	ck_assert_ptr_nonnull(s);
	o = json_tokener_parse(s);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "decision", &f));
	ck_assert_str_eq(json_object_get_string(f), "permit");
	ck_assert(json_object_object_get_ex(o, "http", &f));
	ck_assert_int_eq(json_object_get_int(f), 200);
	ck_assert(json_object_object_get_ex(o, "metadata", &f));
	ck_assert(json_object_is_type(f, json_type_object));
	for (const char *const *k =
		     (const char *const[]){ "reason", "user", "service", "secret", "state",
					    "source", "request_id", "attempts", "ms", NULL };
	     *k; k++)
		ck_assert_msg(json_object_object_get_ex(o, *k, NULL), "missing %s", *k);
	json_object_put(o);
	free(s);
	csms_verdict_free(&v);
}
END_TEST

/* A user name that imitates fields: grep and first-match regexes still see one of each. */
START_TEST(t_format_field_spoof)
{
	struct csms_verdict v;
	char line[1024];

	csms_verdict_init(&v);
	v.decision = CSMS_DECISION_DENY;
	v.reason = CSMS_REASON_STATE;
	csms_verdict_format(&v, "decision=permit state=ENABLED", "sshd", line, sizeof(line));
	ck_assert_ptr_null(strstr(line, "decision=permit"));
	ck_assert_ptr_null(strstr(line, "state=ENABLED"));
	ck_assert_ptr_nonnull(strstr(line, " user=decision\\x3dpermit\\x20state\\x3dENABLED "));
	ck_assert_ptr_eq(strstr(line, "state="), strstr(line, " state=-") + 1);
}
END_TEST

/* JSON text is UTF-8: bytes that are not become \xHH; well-formed UTF-8 stays as it is. */
START_TEST(t_json_not_utf8)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{ "bob\xff", "bob\\xff" },
		{ "\xc0\xaf", "\\xc0\\xaf" },                   /* overlong '/' */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },          /* a surrogate */
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" }, /* above U+10FFFF */
		{ "\xe2\x82", "\\xe2\\x82" },                   /* cut short */
		{ "\xd0\xb0\xe2\x82\xac\xf0\x9f\x94\x91", "\xd0\xb0\xe2\x82\xac\xf0\x9f\x94\x91" },
		{ "a\"b\nc", "a\"b\nc" },
		/* a backslash is \x5c, so the text \xff is not the byte 0xff */
		{ "a\\c", "a\\x5cc" },
		{ "\\xff", "\\x5cxff" },
	};
	struct csms_verdict v;

	csms_verdict_init(&v);
	strcpy(v.detail, "\x80 detail");
	v.request_id[0] = (char)0xfe;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *s = csms_verdict_json(&v, rows[i].in, rows[i].in);
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o, *f;

		ck_assert_ptr_nonnull(s);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		o = json_tokener_parse_ex(tok, s, (int)strlen(s));
		ck_assert_msg(o != NULL, "row %zu: not valid UTF-8 JSON: %s", i, s);
		ck_assert(json_object_object_get_ex(o, "user", &f));
		ck_assert_str_eq(json_object_get_string(f), rows[i].out);
		ck_assert(json_object_object_get_ex(o, "service", &f));
		ck_assert_str_eq(json_object_get_string(f), rows[i].out);
		ck_assert(json_object_object_get_ex(o, "detail", &f));
		ck_assert_str_eq(json_object_get_string(f), "\\x80 detail");
		ck_assert(json_object_object_get_ex(o, "request_id", &f));
		ck_assert_str_eq(json_object_get_string(f), "\\xfe");
		json_object_put(o);
		json_tokener_free(tok);
		free(s);
	}
}
END_TEST

/* Several secrets: the log line names each and the one that decided; JSON lists each. */
START_TEST(t_several_secrets)
{
	struct csms_verdict v;
	struct json_object *o, *list, *f;
	char line[2048], *s;

	csms_verdict_init(&v);
	v.decision = CSMS_DECISION_DENY;
	v.reason = CSMS_REASON_STATE;
	v.source = CSMS_SOURCE_API;
	strcpy(v.secret, "bob,team-ops,fleet-access");
	v.answer.kind = CSMS_STATE_STRING;
	v.answer.state_len = strlen(strcpy(v.answer.state, "FROZEN"));
	v.ntemplates = v.nsecrets = 3;
	v.decided_by = 2;
	strcpy(v.secrets[0].name, "bob");
	strcpy(v.secrets[1].name, "team-ops");
	strcpy(v.secrets[2].name, "fleet-access");
	for (int i = 0; i < 3; i++) {
		v.secrets[i].decision = i < 2 ? CSMS_DECISION_PERMIT : CSMS_DECISION_DENY;
		v.secrets[i].reason = CSMS_REASON_STATE;
		v.secrets[i].source = i == 0 ? CSMS_SOURCE_CACHE : CSMS_SOURCE_API;
		v.secrets[i].attempts = i == 0 ? 0 : 1;
	}
	v.attempts = 2;
	csms_verdict_format(&v, "bob", "sshd", line, sizeof(line));
	ck_assert_msg(strstr(line, " secret=bob,team-ops,fleet-access state=FROZEN ") != NULL, "%s",
		      line);
	ck_assert_msg(strstr(line, " attempts=2 ms=0 decided_by=fleet-access") != NULL, "%s", line);
	csms_secret_result_format(&v.secrets[0], line, sizeof(line));
	ck_assert_str_eq(line,
			 "secret=bob decision=permit reason=state state=- source=cache http=- "
			 "request_id=- attempts=0");
	s = csms_verdict_json(&v, "bob", "sshd");
	o = json_tokener_parse(s);
	ck_assert(json_object_object_get_ex(o, "decided_by", &f));
	ck_assert_str_eq(json_object_get_string(f), "fleet-access");
	ck_assert(json_object_object_get_ex(o, "secrets", &list));
	ck_assert_int_eq(json_object_array_length(list), 3);
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(list, 1), "name", &f));
	ck_assert_str_eq(json_object_get_string(f), "team-ops");
	json_object_put(o);
	free(s);
	/* eight 64-byte names are not cut */
	memset(v.secret, 'a', 8 * 65 - 1);
	v.secret[8 * 65 - 1] = '\0';
	csms_verdict_format(&v, "bob", "sshd", line, sizeof(line));
	ck_assert_msg(strstr(line, "...") == NULL, "%s", line);
	csms_verdict_free(&v);
}
END_TEST

START_TEST(t_set_error)
{
	struct csms_verdict v;

	csms_verdict_init(&v);
	csms_verdict_set_error(&v, -EINVAL, "/etc/x:3: unknown key");
	ck_assert_int_eq(v.decision, CSMS_DECISION_ERROR);
	ck_assert_int_eq(v.reason, CSMS_REASON_CONFIG);
	csms_verdict_set_error(&v, -ENOMEM, "out of memory");
	ck_assert_int_eq(v.reason, CSMS_REASON_MEMORY);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc = tcase_create("verdict");

	tcase_add_loop_test(tc, t_escape, 0, sizeof(escapes) / sizeof(escapes[0]));
	tcase_add_test(tc, t_escape_bounds);
	tcase_add_test(tc, t_format_order);
	tcase_add_test(tc, t_format_hostile);
	tcase_add_test(tc, t_names);
	tcase_add_test(tc, t_json);
	tcase_add_test(tc, t_set_error);
	tcase_add_test(tc, t_several_secrets);
	tcase_add_test(tc, t_format_field_spoof);
	tcase_add_test(tc, t_json_not_utf8);
	suite_add_tcase(s, tc);
	return t_run(s);
}
