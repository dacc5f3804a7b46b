/*
 * libFuzzer harness for the ShowSecret reply parser and the error-code reader.
 *
 * The input is one HTTP body. Invariants (each traps when broken):
 *  - csms_answer_enabled only with rc == 0, and only for the 7 bytes ENABLED in a STRING
 *    state;
 *  - a deliberately loose oracle (json-c defaults, JSON pointer look-ups, whitespace-only
 *    tail) agrees on every "enabled";
 *  - a strict oracle (same json-c limits as production, but JSON pointer look-ups and our own
 *    tail check, on text src/json.c passes) agrees on rc, on "enabled" and on the state
 *    kind, in both directions;
 *  - src/json.c is never looser than json-c's strict mode: what it passes, json-c parses;
 *  - asking for metadata changes nothing else, and the metadata re-parses to the same secret;
 *  - an error code, when found, is a non-empty NUL-free string that fits, equal to the
 *    "error_code" or "error"."code" member, and the error buffers stay terminated.
 */
#include "buildconf.h"

#include "fuzz.h"
#include "json.h"
#include "response.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <json-c/json_pointer.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WANT "alice"
#define WANT_LEN 5
#define CODE_LEN 32 /* what decision.c passes */
#define GUARD 16
#define FILL 0xa5

static bool json_ws_only(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return false;
	return true;
}

static bool bytes_are(const uint8_t *p, size_t n, int c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)c)
			return false;
	return true;
}

/* One JSON value over the whole input, nothing but JSON whitespace after it. */
static struct json_object *oracle_parse(const uint8_t *d, size_t n, int depth, int flags)
{
	struct json_tokener *t;
	struct json_object *o;
	size_t end;

	if (n == 0 || n > INT_MAX)
		return NULL;
	/* json-c's strict mode takes NaN, Infinity, 'quotes' and raw control characters */
	if ((flags & JSON_TOKENER_STRICT) && csms_json_check((const char *)d, n, NULL, 0) != 0)
		return NULL;
	t = json_tokener_new_ex(depth);
	if (t == NULL)
		return NULL;
	json_tokener_set_flags(t, flags);
	o = json_tokener_parse_ex(t, (const char *)d, (int)n);
	end = json_tokener_get_parse_end(t);
	if (o != NULL && (end > n || !json_ws_only(d + end, n - end))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(t);
	return o;
}

/* The member at `path` when it exists (*found), possibly as JSON null (NULL). */
static struct json_object *oracle_get(struct json_object *root, const char *path, bool *found)
{
	struct json_object *o = NULL;

	*found = root != NULL && json_pointer_get(root, path, &o) == 0;
	return *found ? o : NULL;
}

static bool is_string_eq(struct json_object *o, const char *want, size_t want_len)
{
	return o != NULL && json_object_is_type(o, json_type_string) &&
	       (size_t)json_object_get_string_len(o) == want_len &&
	       memcmp(json_object_get_string(o), want, want_len) == 0;
}

/* The looser reading: json-c's default depth and flags. */
static bool loose_oracle_enabled(const uint8_t *d, size_t n)
{
	struct json_object *root = oracle_parse(d, n, JSON_TOKENER_DEFAULT_DEPTH, 0);
	bool found, ok;

	ok = is_string_eq(oracle_get(root, "/secret/state", &found), "ENABLED", 7) &&
	     is_string_eq(oracle_get(root, "/secret/name", &found), WANT, WANT_LEN);
	json_object_put(root);
	return ok;
}

struct strict_view {
	bool accepted; /* what rc == 0 must mean */
	enum csms_state_kind kind;
	bool enabled;
	const char *state;
	size_t state_len;
};

/* The same json-c limits as production, read through JSON pointers. Keeps root alive. */
static struct json_object *strict_oracle(const uint8_t *d, size_t n, struct strict_view *v)
{
	struct json_object *root = NULL, *secret, *state;
	bool found;

	memset(v, 0, sizeof(*v));
	v->kind = CSMS_STATE_ABSENT;
	if (n <= CSMS_BODY_MAX)
		root = oracle_parse(d, n, CSMS_JSON_TOKENER_DEPTH,
				    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	if (root == NULL || !json_object_is_type(root, json_type_object))
		return root;
	secret = oracle_get(root, "/secret", &found);
	if (secret == NULL || !json_object_is_type(secret, json_type_object))
		return root;
	if (!is_string_eq(oracle_get(root, "/secret/name", &found), WANT, WANT_LEN))
		return root;
	v->accepted = true;
	state = oracle_get(root, "/secret/state", &found);
	if (state == NULL) {
		v->kind = CSMS_STATE_ABSENT;
	} else if (json_object_is_type(state, json_type_string)) {
		v->kind = CSMS_STATE_STRING;
		v->state = json_object_get_string(state);
		v->state_len = (size_t)json_object_get_string_len(state);
		v->enabled = is_string_eq(state, "ENABLED", 7);
	} else {
		v->kind = CSMS_STATE_NOT_STRING;
	}
	return root;
}

static void check_info(int rc, const struct csms_answer *info, const char *metadata_json,
		       const struct strict_view *sv)
{
	bool enabled = csms_answer_enabled(info);

	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	FUZZ_CHECK(!enabled || rc == 0);
	FUZZ_CHECK((rc == 0) == sv->accepted);
	FUZZ_CHECK(!info->missing);
	FUZZ_CHECK(info->state_len <= CSMS_STATE_MAX);
	FUZZ_CHECK(info->state[info->state_len] == '\0');
	if (enabled)
		FUZZ_CHECK(info->kind == CSMS_STATE_STRING && info->state_len == 7 &&
			   memcmp(info->state, "ENABLED", 7) == 0);
	if (rc != 0) {
		FUZZ_CHECK(!enabled && metadata_json == NULL);
		return;
	}
	FUZZ_CHECK(enabled == sv->enabled);
	FUZZ_CHECK(info->kind == sv->kind);
	if (info->kind == CSMS_STATE_STRING) {
		size_t want = sv->state_len < CSMS_STATE_MAX ? sv->state_len : CSMS_STATE_MAX;

		FUZZ_CHECK(info->state_len == want);
		FUZZ_CHECK(memcmp(info->state, sv->state, want) == 0);
	} else {
		FUZZ_CHECK(info->state_len == 0);
	}
}

/* csms-check --json re-parses the metadata with json_tokener_parse (verdict.c). */
static void check_metadata(const struct csms_answer *info, const char *metadata_json)
{
	struct json_object *m, *name, *state;
	bool found;

	FUZZ_CHECK(metadata_json != NULL);
	m = json_tokener_parse(metadata_json);
	FUZZ_CHECK(m != NULL && json_object_is_type(m, json_type_object));
	name = oracle_get(m, "/name", &found);
	FUZZ_CHECK(is_string_eq(name, WANT, WANT_LEN));
	state = oracle_get(m, "/state", &found);
	if (csms_answer_enabled(info))
		FUZZ_CHECK(is_string_eq(state, "ENABLED", 7));
	else if (info->kind == CSMS_STATE_STRING)
		FUZZ_CHECK(state != NULL && json_object_is_type(state, json_type_string) &&
			   !is_string_eq(state, "ENABLED", 7));
	json_object_put(m);
}

static bool code_usable(struct json_object *o)
{
	size_t n;

	if (o == NULL || !json_object_is_type(o, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(o);
	return n > 0 && n < CODE_LEN && memchr(json_object_get_string(o), '\0', n) == NULL;
}

static void check_error_code(const uint8_t *data, size_t size)
{
	char code[CODE_LEN + GUARD];
	struct json_object *root, *expect = NULL;
	bool found;
	int rc;

	memset(code, FILL, sizeof(code));
	rc = csms_response_error_code((const char *)data, size, code, CODE_LEN);
	FUZZ_CHECK(rc == 0 || rc == -ENOENT);
	FUZZ_CHECK(bytes_are((const uint8_t *)code + CODE_LEN, GUARD, FILL));

	root = size <= CSMS_BODY_MAX
		       ? oracle_parse(data, size, CSMS_JSON_TOKENER_DEPTH,
				      JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
		       : NULL;
	if (root != NULL && json_object_is_type(root, json_type_object)) {
		struct json_object *top = oracle_get(root, "/error_code", &found);
		struct json_object *inner = oracle_get(root, "/error", &found);

		if (code_usable(top))
			expect = top;
		else if (inner != NULL && json_object_is_type(inner, json_type_object) &&
			 code_usable(oracle_get(root, "/error/code", &found)))
			expect = oracle_get(root, "/error/code", &found);
	}
	FUZZ_CHECK((rc == 0) == (expect != NULL));
	if (rc == 0) {
		size_t n;

		FUZZ_CHECK(memchr(code, '\0', CODE_LEN) != NULL);
		n = strlen(code);
		FUZZ_CHECK(n > 0 && n < CODE_LEN);
		FUZZ_CHECK(is_string_eq(expect, code, n));
	}
	json_object_put(root);
}

/* What src/json.c passes, json-c parses too, as one value with only whitespace after it. */
static void check_validator(const uint8_t *data, size_t size)
{
	struct json_tokener *t;
	struct json_object *o;
	size_t end;

	size_t first = 0;

	if (size == 0 || size > INT_MAX || csms_json_check((const char *)data, size, NULL, 0) != 0)
		return;
	/* a bare number at the end of the input is "continue" to json-c, which cannot know it
	 * ended: only objects and arrays (all the module takes) say where they end */
	while (first < size && json_ws_only(data + first, 1))
		first++;
	if (first == size || (data[first] != '{' && data[first] != '['))
		return;
	t = json_tokener_new_ex(CSMS_JSON_TOKENER_DEPTH);
	if (t == NULL)
		return;
	json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(t, (const char *)data, (int)size);
	end = json_tokener_get_parse_end(t);
	/* "null" parses to NULL: success is json-c's own word */
	FUZZ_CHECK(json_tokener_get_error(t) == json_tokener_success && end <= size &&
		   json_ws_only(data + end, size - end));
	json_object_put(o);
	json_tokener_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csms_answer plain, meta;
	char *meta_json = NULL;
	struct strict_view sv;
	struct json_object *strict_root;
	char err[CSMS_ERRLEN + GUARD];
	int rc, rc_meta;

	if (size > CSMS_BODY_MAX + 1) /* one past the cap still exercises the size check */
		return -1;

	check_validator(data, size);

	strict_root = strict_oracle(data, size, &sv);

	memset(err, FILL, sizeof(err));
	rc = csms_response_parse_secret((const char *)data, size, WANT, &plain, NULL, err,
					CSMS_ERRLEN);
	FUZZ_CHECK(bytes_are((const uint8_t *)err + CSMS_ERRLEN, GUARD, FILL));
	if (rc != 0)
		FUZZ_CHECK(memchr(err, '\0', CSMS_ERRLEN) != NULL && err[0] != '\0');
	check_info(rc, &plain, NULL, &sv);
	if (csms_answer_enabled(&plain))
		FUZZ_CHECK(loose_oracle_enabled(data, size));

	/* With metadata: the same verdict, plus a secret object that survives a round trip. */
	rc_meta = csms_response_parse_secret((const char *)data, size, WANT, &meta, &meta_json,
					     NULL, 0);
	FUZZ_CHECK(rc_meta == rc);
	FUZZ_CHECK(meta.kind == plain.kind && meta.state_len == plain.state_len &&
		   memcmp(meta.state, plain.state, plain.state_len + 1) == 0);
	check_info(rc_meta, &meta, meta_json, &sv);
	if (rc_meta == 0)
		check_metadata(&meta, meta_json);
	free(meta_json);
	json_object_put(strict_root);

	check_error_code(data, size);
	return 0;
}
