/* JSON from the network: RFC 8259 exactly, checked before json-c sees it, then one object. */
#include "buildconf.h"

#include "json.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

struct cursor {
	const char *start, *p, *end;
	const char *why; /* the first problem found */
};

static bool fail(struct cursor *c, const char *why)
{
	if (c->why == NULL)
		c->why = why;
	return false;
}

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool take_digits(struct cursor *c)
{
	const char *s = c->p;

	while (c->p < c->end && is_digit(*c->p))
		c->p++;
	return c->p > s;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(struct cursor *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (!take_digits(c))
		return fail(c, "malformed number");
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!take_digits(c))
			return fail(c, "malformed number");
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!take_digits(c))
			return fail(c, "malformed number");
	}
	return true;
}

static bool string(struct cursor *c)
{
	c->p++; /* the opening quote */
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		size_t n;

		if (ch == '"') {
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return fail(c, "control character in a string");
		if (ch == '\\') {
			if (c->end - c->p < 2)
				break;
			if (c->p[1] == 'u') {
				if (c->end - c->p < 6 || !is_hex(c->p[2]) || !is_hex(c->p[3]) ||
				    !is_hex(c->p[4]) || !is_hex(c->p[5]))
					return fail(c, "malformed \\u escape");
				c->p += 6;
			} else if (strchr("\"\\/bfnrt", c->p[1]) != NULL && c->p[1] != '\0') {
				c->p += 2;
			} else {
				return fail(c, "unknown escape in a string");
			}
			continue;
		}
		n = csms_utf8_seq(c->p, (size_t)(c->end - c->p));
		if (n == 0)
			return fail(c, "invalid UTF-8 in a string");
		c->p += n;
	}
	return fail(c, "cut short");
}

static bool literal(struct cursor *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return fail(c, "not a JSON value (a misspelt true, false or null)");
	c->p += n;
	return true;
}

static bool value(struct cursor *c, int depth);

/* An object or array; `close` is '}' or ']'. */
static bool container(struct cursor *c, int depth, char close)
{
	if (depth >= CSMS_JSON_DEPTH)
		return fail(c, "nested too deep");
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return true;
	}
	for (;;) {
		if (close == '}') {
			if (c->p >= c->end || *c->p != '"')
				return fail(c, c->p >= c->end ? "cut short"
							      : "object key is not a string");
			if (!string(c))
				return false;
			skip_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return fail(c, c->p >= c->end ? "cut short" : "expected ':'");
			c->p++;
		}
		if (!value(c, depth + 1))
			return false;
		skip_ws(c);
		if (c->p >= c->end)
			return fail(c, "cut short");
		if (*c->p == close) {
			c->p++;
			return true;
		}
		if (*c->p != ',')
			return fail(c, "expected ',' or the end of the object or array");
		c->p++;
		skip_ws(c);
	}
}

static bool value(struct cursor *c, int depth)
{
	skip_ws(c);
	if (c->p >= c->end)
		return fail(c, "cut short");
	switch (*c->p) {
	case '{':
		return container(c, depth, '}');
	case '[':
		return container(c, depth, ']');
	case '"':
		return string(c);
	case 't':
		return literal(c, "true");
	case 'f':
		return literal(c, "false");
	case 'n':
		return literal(c, "null");
	default:
		if (*c->p == '-' || is_digit(*c->p))
			return number(c);
		return fail(c, "not a JSON value (NaN, Infinity, a quote other than \")");
	}
}

int csms_json_check(const char *text, size_t len, char *err, size_t errlen)
{
	struct cursor c = { text, text, text + len, NULL };

	if (value(&c, 0)) {
		skip_ws(&c);
		if (c.p == c.end)
			return 0;
		c.why = "data after the JSON value";
	}
	csms_errf(err, errlen, "not JSON: %s at byte %zu", c.why, (size_t)(c.p - c.start));
	return -EBADMSG;
}

struct json_object *csms_json_parse_object(const char *text, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj;

	if (len == 0) {
		csms_errf(err, errlen, "empty body");
		return NULL;
	}
	if (csms_json_check(text, len, err, errlen) != 0)
		return NULL;
	if (text[strspn(text, " \t\r\n")] != '{') {
		csms_errf(err, errlen, "top level is not a JSON object");
		return NULL;
	}
	tok = json_tokener_new_ex(CSMS_JSON_DEPTH);
	if (tok == NULL) {
		csms_errf(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	/* the text is known good: only memory (or json-c disagreeing) can stop it now */
	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		csms_errf(err, errlen, "%s",
			  obj == NULL ? "json-c could not parse it"
				      : "top level is not a JSON object");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}
