/* ShowSecret replies: every JSON shape we must refuse, and the few we accept. */
#include "buildconf.h"

#include "json.h"
#include "response.h"
#include "util.h"

#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK(state) "{\"secret\":{\"name\":\"alice\",\"state\":" state "}}"

enum want { BAD, ENABLED, OTHER, ABSENT, NOT_STRING };

static const struct {
	const char *body;
	size_t len; /* 0: strlen */
	enum want want;
} rows[] = {
	{ OK("\"ENABLED\""), 0, ENABLED },
	{ " \n" OK("\"ENABLED\"") "\r\n\t ", 0, ENABLED },
	{ OK("\"DISABLED\""), 0, OTHER },
	{ OK("\"FROZEN\""), 0, OTHER },
	{ OK("\"PENDING_DELETE\""), 0, OTHER },
	{ OK("\"SOMETHING_NEW\""), 0, OTHER },
	{ OK("\"enabled\""), 0, OTHER },
	{ OK("\" ENABLED\""), 0, OTHER },
	{ OK("\"ENABLED \""), 0, OTHER },
	{ OK("\"ENABLED\\n\""), 0, OTHER },
	{ OK("\"ENABLED\\u0000X\""), 0, OTHER },
	{ OK("\"\\u0045NABLED\""), 0, ENABLED }, /* a legal escape of the same string */
	{ OK("\"\xef\xbc\xa5NABLED\""), 0, OTHER },
	{ OK("null"), 0, ABSENT },
	{ OK("true"), 0, NOT_STRING },
	{ OK("1"), 0, NOT_STRING },
	{ OK("{}"), 0, NOT_STRING },
	{ OK("[]"), 0, NOT_STRING },
	{ OK("[\"ENABLED\"]"), 0, NOT_STRING },
	{ "{\"secret\":{\"name\":\"alice\"}}", 0, ABSENT },
	/* json-c would keep the last of two same keys: refused (src/json.c) */
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"DISABLED\",\"state\":\"ENABLED\"}}", 0,
	  BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"state\":\"DISABLED\"}}", 0,
	  BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"DISABLED\",\"\\u0073tate\":\"ENABLED\"}}", 0,
	  BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\"},\"secret\":{}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":{\"state\":1}},"
	  "\"state\":2}",
	  0, ENABLED }, /* the same key in different objects */
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"a\\u0000b\":1}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"bob\",\"state\":\"ENABLED\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"Alice\",\"state\":\"ENABLED\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice \",\"state\":\"ENABLED\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\\u0000\",\"state\":\"ENABLED\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":1,\"state\":\"ENABLED\"}}", 0, BAD },
	{ "{\"secret\":{\"state\":\"ENABLED\"}}", 0, BAD },
	{ "{\"secret\":null}", 0, BAD },
	{ "{\"secret\":[]}", 0, BAD },
	{ "{\"secret\":\"alice\"}", 0, BAD },
	{ "{}", 0, BAD },
	{ "[" OK("\"ENABLED\"") "]", 0, BAD },
	{ "\"ENABLED\"", 0, BAD },
	{ "42", 0, BAD },
	{ "null", 0, BAD },
	{ "", 0, BAD },
	{ "   ", 0, BAD },
	{ "OK", 0, BAD },
	{ "<html>500</html>", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\"}", 0, BAD },
	{ OK("\"DISABLED\"") OK("\"ENABLED\""), 0, BAD },
	{ OK("\"ENABLED\"") " x", 0, BAD },
	{ OK("\"ENABLED\"") "\0garbage", sizeof(OK("\"ENABLED\"")) + 7, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",}}", 0, BAD },
	{ "{'secret':{'name':'alice','state':'ENABLED'}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"EN\xff\"}}", 0, BAD },
	/* a lone surrogate, which json-c would turn into U+FFFD */
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"\\uD800\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"\\uDC00x\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"\\uD800\\u0041\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"\\uD83D\\uDE00\"}}", 0, OTHER },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"create_time\":1e999}}", 0,
	  ENABLED },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"create_time\":"
	  "1234567890123456789012345678901234567890,\"x\":-0}}",
	  0, ENABLED },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"scheduled_delete_time\":null,"
	  "\"event_subscriptions\":[],\"auto_rotation\":false,\"future\":{\"a\":[1,2]}}}",
	  0, ENABLED },
	{ "{\"error_code\":\"CSMS.0001\",\"error_msg\":\"x\"}", 0, BAD },
	/* not JSON, though json-c 0.16 takes each even in strict mode (src/json.c) */
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":NaN}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":Infinity}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":-Infinity}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\"a\x01b\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\"a\tb\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\"a\nb\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\x1f\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":'y'}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":01}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":1.}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":+1}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":.5}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":0x10}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\"\\x41\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\"\\u12\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\"\xc0\xaf\"}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\"\xed\xa0\x80\"}}", 0,
	  BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\"},/*c*/\"y\":1}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":True}}", 0, BAD },
	/* a control byte where a value belongs (the fuzzer's find) */
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\x01}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":\t\x01\t}}", 0, BAD },
	{ "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":-0.5e-3,"
	  "\"y\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\\u00e9\xc3\xa9\xf0\x9f\x94\x91\"}}",
	  0, ENABLED },
};

START_TEST(t_parse)
{
	struct csms_answer info;
	char err[CSMS_ERRLEN];
	size_t len = rows[_i].len ? rows[_i].len : strlen(rows[_i].body);
	int rc = csms_response_parse_secret(rows[_i].body, len, "alice", &info, NULL, err,
					    sizeof(err));

	if (rows[_i].want == BAD) {
		ck_assert_msg(rc != 0, "row %d accepted", _i);
		ck_assert_msg(!csms_answer_enabled(&info), "row %d: enabled on failure", _i);
		return;
	}
	ck_assert_msg(rc == 0, "row %d: %s", _i, err);
	ck_assert(!info.missing);
	ck_assert_msg(csms_answer_enabled(&info) == (rows[_i].want == ENABLED),
		      "row %d: enabled=%d", _i, csms_answer_enabled(&info));
	if (rows[_i].want == ABSENT)
		ck_assert_int_eq(info.kind, CSMS_STATE_ABSENT);
	if (rows[_i].want == NOT_STRING)
		ck_assert_int_eq(info.kind, CSMS_STATE_NOT_STRING);
	if (rows[_i].want == OTHER || rows[_i].want == ENABLED)
		ck_assert_int_eq(info.kind, CSMS_STATE_STRING);
}
END_TEST

static char *padded(size_t total)
{
	static const char head[] = "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\","
				   "\"description\":\"";
	static const char tail[] = "\"}}";
	char *b = malloc(total + 1);

	memcpy(b, head, sizeof(head) - 1);
	memset(b + sizeof(head) - 1, 'x', total - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(b + total - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	b[total] = '\0';
	return b;
}

START_TEST(t_size_cap)
{
	struct csms_answer info;
	char *at = padded(CSMS_BODY_MAX), *over = padded(CSMS_BODY_MAX + 1);

	ck_assert_int_eq(
		csms_response_parse_secret(at, CSMS_BODY_MAX, "alice", &info, NULL, NULL, 0), 0);
	ck_assert(csms_answer_enabled(&info));
	ck_assert_int_ne(
		csms_response_parse_secret(over, CSMS_BODY_MAX + 1, "alice", &info, NULL, NULL, 0),
		0);
	free(at);
	free(over);
}
END_TEST

START_TEST(t_depth)
{
	size_t n = 10000;
	char *deep = malloc(2 * n + 1);
	struct csms_answer info;
	char nested[512];

	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	ck_assert_int_ne(csms_response_parse_secret(deep, 2 * n, "alice", &info, NULL, NULL, 0), 0);
	/* within the depth limit, extra nesting in unknown fields is fine */
	snprintf(nested, sizeof(nested),
		 "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":[[[[[[[[1]]]]]]]]}}");
	ck_assert_int_eq(
		csms_response_parse_secret(nested, strlen(nested), "alice", &info, NULL, NULL, 0),
		0);
	/* the limit itself, objects and arrays alike, a scalar in the deepest: json-c counts
	 * it as one more level (CSMS_JSON_TOKENER_DEPTH) */
	for (int levels = 15; levels <= 17; levels++) {
		size_t at = (size_t)snprintf(
			nested, sizeof(nested),
			"{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\",\"x\":");
		for (int i = 2; i < levels; i++)
			at += (size_t)snprintf(nested + at, sizeof(nested) - at,
					       i % 2 ? "[" : "{\"a\":");
		at += (size_t)snprintf(nested + at, sizeof(nested) - at, "1");
		for (int i = levels - 1; i >= 2; i--)
			at += (size_t)snprintf(nested + at, sizeof(nested) - at, i % 2 ? "]" : "}");
		snprintf(nested + at, sizeof(nested) - at, "}}");
		ck_assert_int_eq(csms_response_parse_secret(nested, strlen(nested), "alice", &info,
							    NULL, NULL, 0),
				 levels <= CSMS_JSON_DEPTH ? 0 : -EBADMSG);
	}
	free(deep);
}
END_TEST

START_TEST(t_metadata)
{
	static const char body[] = "{\"secret\":{\"name\":\"alice\",\"state\":\"ENABLED\","
				   "\"id\":\"b2c1\"}}";
	struct csms_answer info;
	char *meta;

	ck_assert_int_eq(
		csms_response_parse_secret(body, strlen(body), "alice", &info, &meta, NULL, 0), 0);
	ck_assert_ptr_nonnull(meta);
	ck_assert_ptr_nonnull(strstr(meta, "\"id\":\"b2c1\""));
	free(meta);
}
END_TEST

static const struct {
	const char *body;
	const char *code; /* NULL: none found */
} errors[] = {
	{ "{\"error_code\":\"CSMS.0106\",\"error_msg\":\"not found\"}", "CSMS.0106" },
	{ "{\"error\":{\"code\":\"CSMS.0005\",\"message\":\"x\"}}", "CSMS.0005" },
	{ "{\"error\":{\"code\":401,\"message\":\"x\"}}", NULL },
	{ "{\"error_code\":106}", NULL },
	{ "{\"error_code\":\"CSMS.0106\"} trailing", NULL },
	{ "not json", NULL },
	{ "", NULL },
	{ "{\"error_code\":\"\"}", NULL },
};

START_TEST(t_error_code)
{
	char code[32];
	int rc = csms_response_error_code(errors[_i].body, strlen(errors[_i].body), code,
					  sizeof(code));

	if (errors[_i].code == NULL)
		ck_assert_int_ne(rc, 0);
	else {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(code, errors[_i].code);
	}
}
END_TEST

static const struct {
	const char *ct;
	bool json;
} types[] = {
	{ "application/json", true },
	{ "application/json;charset=UTF-8", true },
	{ "APPLICATION/JSON; Charset=UTF-8", true },
	{ "application/json ; charset=utf-8", true },
	{ "application/jsonx", false },
	{ "application/json-seq", false },
	{ "text/html", false },
	{ "text/json", false },
	{ "", false },
	{ NULL, false },
};

/* The one test that lets anyone in, for each way an answer can hold "ENABLED" or not. */
START_TEST(t_answer_enabled)
{
	static const struct {
		struct csms_answer a;
		bool enabled;
	} answers[] = {
		{ { .kind = CSMS_STATE_STRING, .state = "ENABLED", .state_len = 7 }, true },
		{ { .missing = true,
		    .kind = CSMS_STATE_STRING,
		    .state = "ENABLED",
		    .state_len = 7 },
		  false },
		{ { .kind = CSMS_STATE_ABSENT, .state = "ENABLED", .state_len = 7 }, false },
		{ { .kind = CSMS_STATE_NOT_STRING, .state = "ENABLED", .state_len = 7 }, false },
		{ { .kind = CSMS_STATE_STRING, .state = "ENABLED\0X", .state_len = 9 }, false },
		{ { .kind = CSMS_STATE_STRING, .state = "ENABLE", .state_len = 6 }, false },
		{ { .kind = CSMS_STATE_STRING, .state = "enabled", .state_len = 7 }, false },
		{ { 0 }, false },
	};

	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		ck_assert_msg(csms_answer_enabled(&answers[i].a) == answers[i].enabled, "row %zu",
			      i);
}
END_TEST

/* src/json.c on its own: RFC 8259 values in, everything else out, whatever json-c takes. */
/* Every surrogate pair, escaped, with what may follow it: json-c 0.16 tests the pair's code
 * point for surrogates again on its low 16 bits (U+1D800, U+2D800, ... are held as a "high
 * surrogate", U+1DC00 ... become U+FFFD), and src/json.c must sum what json-c keeps, or a
 * valid reply reads as memory running out. As a key too, one per object. */
START_TEST(t_surrogate_pairs)
{
	static const char *const after[] = {
		"", "x", "\\n", "\\u0041", "\\ud800\\udc00", "\\u00e9"
	};
	char text[128], err[CSMS_ERRLEN];
	struct json_object *o;

	for (unsigned hi = 0xd800; hi <= 0xdbff; hi++)
		for (unsigned lo = 0xdc00; lo <= 0xdfff; lo += 0x3ff)
			for (size_t k = 0; k < sizeof(after) / sizeof(after[0]); k++) {
				snprintf(text, sizeof(text),
					 "{\"\\u%04x\\u%04x%s\":\"\\u%04x\\u%04x%s\"}", hi, lo,
					 after[k], hi, lo, after[k]);
				ck_assert_msg(csms_json_parse_object(text, strlen(text), &o, err,
								     sizeof(err)) == 0,
					      "%s: %s", text, err);
				json_object_put(o);
			}
}
END_TEST

START_TEST(t_json_check)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		bool ok;
	} texts[] = {
		{ "{}", 0, true },
		{ " [ 1 , -0 , 2.5e-3 , 1E+2 , true , false , null , \"\\u00e9\\n\" ] ", 0, true },
		{ "\"x\"", 0, true },
		{ "0", 0, true },
		{ "{\"a\":\x01}", 0, false },
		{ "{\"a\":\t\x01\t}", 0, false },
		{ "\x01", 0, false },
		{ "{\"a\":NaN}", 0, false },
		{ "{\"a\":nul}", 0, false },
		{ "{\"a\":truee}", 0, false },
		{ "[1,]", 0, false },
		{ "{\"a\" 1}", 0, false },
		{ "{1:2}", 0, false },
		{ "[1 2]", 0, false },
		{ "\"a\\u00\"", 0, false },
		{ "{} {}", 0, false },
		{ "", 0, false },
		{ "{\"a\":1}\0", 8, false },
		{ "{\"a\":1,\"a\":1}", 0, false },       /* the same key twice */
		{ "{\"a\":1,\"\\u0061\":1}", 0, false }, /* ... spelt differently */
		{ "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":1}]}", 0, true },
		{ "{\"a\\u0000\":1}", 0, false },
		{ "{\"a\":\"\\u0000\"}", 0, true },
		{ "\"\\ud800\"", 0, false },
		{ "\"\\udfff\"", 0, false },
		{ "\"\\ud800\\ud800\"", 0, false },
		{ "\"\\ud800\\n\"", 0, false },
		{ "\"\\udbff\\udfff\"", 0, true },
		{ "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", 0, true },    /* 16 deep */
		{ "[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", 0, false }, /* 17 */
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t len = texts[i].len ? texts[i].len : strlen(texts[i].text);
		char err[CSMS_ERRLEN] = "";

		ck_assert_msg((csms_json_check(texts[i].text, len, err, sizeof(err)) == 0) ==
				      texts[i].ok,
			      "row %zu (%s): %s", i, texts[i].text, err);
	}
}
END_TEST

START_TEST(t_content_type)
{
	ck_assert_msg(csms_content_type_is_json(types[_i].ct) == types[_i].json, "%s",
		      types[_i].ct ? types[_i].ct : "(null)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("response");
	TCase *tc = tcase_create("response");

	tcase_add_loop_test(tc, t_parse, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_loop_test(tc, t_error_code, 0, sizeof(errors) / sizeof(errors[0]));
	tcase_add_loop_test(tc, t_content_type, 0, sizeof(types) / sizeof(types[0]));
	tcase_add_test(tc, t_size_cap);
	tcase_add_test(tc, t_depth);
	tcase_add_test(tc, t_surrogate_pairs);
	tcase_add_test(tc, t_metadata);
	tcase_add_test(tc, t_answer_enabled);
	tcase_add_test(tc, t_json_check);
	suite_add_tcase(s, tc);
	return t_run(s);
}
