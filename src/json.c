/* JSON from the network: RFC 8259 exactly, checked before json-c sees it, then one object.
 *
 * json-c 0.16 ignores most of its own allocation failures while parsing: a member whose key
 * it cannot copy, or an array element it cannot add, is silently dropped and a string it
 * cannot grow loses bytes. A tree that lost "state" would read as a bad reply, which
 * fail_mode=open permits, where running out of memory must deny. So the check sums the
 * document as json-c should hold it (structure, every decoded string) and the tree is
 * summed again after parsing: any difference is memory, never the reply. For the sums to
 * be exact, the check refuses what json-c would fold together: two members of one object
 * with the same name (json-c keeps the last), a \u0000 in a name (json-c cuts names at
 * NUL) and a lone UTF-16 surrogate (json-c substitutes U+FFFD).
 */
#include "buildconf.h"

#include "json.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

struct cursor {
	const char *start, *p, *end;
	const char *why;  /* the first problem found */
	uint64_t sum;     /* the document as json-c should hold it */
	uint64_t objects; /* objects opened so far: each member's name is hashed with one */
	uint64_t *names;  /* one hash per object member, of its object and its name */
	size_t nnames, maxnames;
};

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV_PRIME;
	return h;
}

static uint64_t tag(uint64_t h, char t)
{
	return fnv(h, &t, 1);
}

/* A string's decoded bytes are summed, then its length, so that no two strings sum alike
 * by where one ends. */
static uint64_t string_end(uint64_t h, uint64_t n)
{
	return fnv(h, &n, sizeof(n));
}

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

static bool hex4(const char *p, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];

		if (!is_hex(ch))
			return false;
		*out = *out << 4 | (unsigned)(is_digit(ch) ? ch - '0' : (ch | 0x20) - 'a' + 10);
	}
	return true;
}

/* One string's decoded bytes as they are summed: into the document, its length, and a
 * member's name (name != NULL) as well. */
struct text {
	struct cursor *c;
	uint64_t *name;
	uint64_t n;
	unsigned pending; /* json-c's held "high surrogate", see put_code */
};

static void put(struct text *t, const void *bytes, size_t len)
{
	t->c->sum = fnv(t->c->sum, bytes, len);
	if (t->name != NULL)
		*t->name = fnv(*t->name, bytes, len);
	t->n += len;
}

static void put_replacement(struct text *t)
{
	static const unsigned char fffd[3] = { 0xef, 0xbf, 0xbd };

	put(t, fffd, sizeof(fffd));
}

/*
 * What json-c 0.16 appends for a decoded \u code (json_tokener.c, escape_unicode), quirks
 * included: it tests for surrogates on the low 16 bits only, after it has decoded a pair
 * too. So a pair whose code point ends in DC00-DFFF (U+1DC00, say) becomes U+FFFD, and one
 * that ends in D800-DBFF (U+2D800, CJK extension F) is held as if it were a high surrogate:
 * U+FFFD when the next character is anything but a \u escape (put_held).
 */
static void put_code(struct text *t, unsigned u)
{
	unsigned char b[4];

	if (u < 0x80) {
		b[0] = (unsigned char)u;
		put(t, b, 1);
	} else if (u < 0x800) {
		b[0] = (unsigned char)(0xc0 | u >> 6);
		b[1] = (unsigned char)(0x80 | (u & 0x3f));
		put(t, b, 2);
	} else if ((u & 0xfc00) == 0xd800) {
		t->pending = u;
	} else if ((u & 0xfc00) == 0xdc00 || u >= 0x110000) {
		put_replacement(t);
	} else if (u < 0x10000) {
		b[0] = (unsigned char)(0xe0 | u >> 12);
		b[1] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (u & 0x3f));
		put(t, b, 3);
	} else {
		b[0] = (unsigned char)(0xf0 | u >> 18);
		b[1] = (unsigned char)(0x80 | (u >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (u & 0x3f));
		put(t, b, 4);
	}
}

/* The held code meets a character that is not a \u escape: json-c puts U+FFFD for it. */
static void put_held(struct text *t)
{
	if (t->pending != 0) {
		put_replacement(t);
		t->pending = 0;
	}
}

/* The \u escape at c->p: one, or a surrogate pair as two. Lone surrogates are refused
 * (json-c would put U+FFFD), and so is \u0000 in a member's name (json-c cuts names at
 * NUL). */
static bool unicode_escape(struct text *t)
{
	struct cursor *c = t->c;
	unsigned u, lo;

	if (c->end - c->p < 6 || !hex4(c->p + 2, &u))
		return fail(c, "malformed \\u escape");
	if ((u & 0xfc00) == 0xdc00)
		return fail(c, "lone UTF-16 surrogate in a \\u escape");
	if (t->pending != 0) {
		/* json-c would pair the held code with a low surrogate; anything else is U+FFFD
		 * for it, then this escape as it comes */
		put_held(t);
	}
	if ((u & 0xfc00) == 0xd800) {
		if (c->end - c->p < 12 || c->p[6] != '\\' || c->p[7] != 'u' ||
		    !hex4(c->p + 8, &lo) || (lo & 0xfc00) != 0xdc00)
			return fail(c, "lone UTF-16 surrogate in a \\u escape");
		u = ((u & 0x3ff) << 10) + (lo & 0x3ff) + 0x10000;
		c->p += 6;
	}
	if (u == 0 && t->name != NULL)
		return fail(c, "\\u0000 in an object key");
	c->p += 6;
	put_code(t, u);
	return true;
}

/* A string at c->p, summed as decoded; a member's name (name != NULL) is hashed into *name
 * as well. */
static bool string(struct cursor *c, uint64_t *name)
{
	static const char escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	struct text t = { .c = c, .name = name };

	c->p++; /* the opening quote */
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		size_t len;

		if (ch == '"') {
			put_held(&t);
			c->p++;
			c->sum = string_end(c->sum, t.n);
			return true;
		}
		if (ch < 0x20)
			return fail(c, "control character in a string");
		if (ch == '\\') {
			const char *e = NULL;

			if (c->end - c->p < 2)
				break;
			if (c->p[1] == 'u') {
				if (!unicode_escape(&t))
					return false;
				continue;
			}
			for (size_t i = 0; i < sizeof(escapes) - 1; i += 2)
				if (escapes[i] == c->p[1])
					e = &escapes[i + 1];
			if (e == NULL)
				return fail(c, "unknown escape in a string");
			put_held(&t);
			put(&t, e, 1);
			c->p += 2;
			continue;
		}
		len = csms_utf8_seq(c->p, (size_t)(c->end - c->p));
		if (len == 0)
			return fail(c, "invalid UTF-8 in a string");
		put_held(&t);
		put(&t, c->p, len);
		c->p += len;
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

/* A member's name, hashed with its object's number; false when there are more names than
 * the text can hold (which cannot happen) */
static bool add_name(struct cursor *c, uint64_t object)
{
	uint64_t h = fnv(FNV_BASIS, &object, sizeof(object));

	c->sum = tag(c->sum, 'k');
	if (!string(c, &h))
		return false;
	if (c->nnames == c->maxnames)
		return fail(c, "too many object keys");
	c->names[c->nnames++] = h;
	return true;
}

/* An object or array; `close` is '}' or ']'. */
static bool container(struct cursor *c, int depth, char close)
{
	uint64_t object = c->objects;

	if (depth >= CSMS_JSON_DEPTH)
		return fail(c, "nested too deep");
	if (close == '}')
		c->objects++;
	c->sum = tag(c->sum, *c->p);
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->sum = tag(c->sum, close);
		return true;
	}
	for (;;) {
		if (close == '}') {
			if (c->p >= c->end || *c->p != '"')
				return fail(c, c->p >= c->end ? "cut short"
							      : "object key is not a string");
			if (!add_name(c, object))
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
			c->sum = tag(c->sum, close);
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
		c->sum = tag(c->sum, 's');
		return string(c, NULL);
	case 't':
		c->sum = tag(c->sum, 't');
		return literal(c, "true");
	case 'f':
		c->sum = tag(c->sum, 'f');
		return literal(c, "false");
	case 'n':
		c->sum = tag(c->sum, 'n');
		return literal(c, "null");
	default:
		c->sum = tag(c->sum, '0'); /* json-c keeps a number in its own form */
		if (*c->p == '-' || is_digit(*c->p))
			return number(c);
		return fail(c, "not a JSON value (NaN, Infinity, a quote other than \")");
	}
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* csms_json_check, with the document's sum in *sum. */
static int check(const char *text, size_t len, uint64_t *sum, char *err, size_t errlen)
{
	/* the shortest member, "":0 and its comma, takes five bytes */
	struct cursor c = { .start = text,
			    .p = text,
			    .end = text + len,
			    .sum = FNV_BASIS,
			    .maxnames = len / 5 + 1 };
	int rc = -EBADMSG;

	c.names = calloc(c.maxnames, sizeof(*c.names));
	if (c.names == NULL) {
		csms_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (value(&c, 0)) {
		skip_ws(&c);
		if (c.p != c.end)
			c.why = "data after the JSON value";
	}
	if (c.why != NULL) {
		csms_errf(err, errlen, "not JSON: %s at byte %zu", c.why, (size_t)(c.p - c.start));
		goto out;
	}
	/* the same name twice in one object hashes alike (and a clash of two different names
	 * refuses a reply no CSMS sends) */
	qsort(c.names, c.nnames, sizeof(*c.names), by_value);
	for (size_t i = 1; i < c.nnames; i++)
		if (c.names[i] == c.names[i - 1]) {
			csms_errf(err, errlen, "ambiguous JSON: the same key twice in one object");
			goto out;
		}
	*sum = c.sum;
	rc = 0;
out:
	free(c.names);
	return rc;
}

int csms_json_check(const char *text, size_t len, char *err, size_t errlen)
{
	uint64_t sum;

	return check(text, len, &sum, err, errlen);
}

static uint64_t string_sum(uint64_t h, const char *s, size_t n)
{
	return string_end(fnv(h, s, n), n);
}

/* The tree summed as check() summed the text; json-c holds a JSON null as NULL. */
static uint64_t tree_sum(uint64_t h, struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return tag(h, 'n');
	case json_type_boolean:
		return tag(h, json_object_get_boolean(o) ? 't' : 'f');
	case json_type_int:
	case json_type_double:
		return tag(h, '0');
	case json_type_string:
		return string_sum(tag(h, 's'), json_object_get_string(o),
				  (size_t)json_object_get_string_len(o));
	case json_type_array:
		h = tag(h, '[');
		for (size_t i = 0; i < json_object_array_length(o); i++)
			h = tree_sum(h, json_object_array_get_idx(o, i));
		return tag(h, ']');
	case json_type_object:
		h = tag(h, '{');
		json_object_object_foreach(o, key, member)
		{
			h = string_sum(tag(h, 'k'), key, strlen(key));
			h = tree_sum(h, member);
		}
		return tag(h, '}');
	}
	return tag(h, '?');
}

int csms_json_parse_object(const char *text, size_t len, struct json_object **out, char *err,
			   size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error je;
	uint64_t sum;
	int rc;

	*out = NULL;
	if (len == 0) {
		csms_errf(err, errlen, "empty body");
		return -EBADMSG;
	}
	if ((rc = check(text, len, &sum, err, errlen)) != 0)
		return rc;
	if (text[strspn(text, " \t\r\n")] != '{') {
		csms_errf(err, errlen, "top level is not a JSON object");
		return -EBADMSG;
	}
	tok = json_tokener_new_ex(CSMS_JSON_TOKENER_DEPTH);
	if (tok == NULL) {
		csms_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (obj != NULL && json_object_is_type(obj, json_type_object) &&
	    tree_sum(FNV_BASIS, obj) == sum) {
		*out = obj;
		return 0;
	}
	json_object_put(obj);
	if (je == json_tokener_error_depth || je == json_tokener_error_size) {
		csms_errf(err, errlen, "json-c refused it: %s", json_tokener_error_desc(je));
		return -EBADMSG;
	}
	/* The text passed the check, so json-c 0.16 (which has no code for it) ran out of
	 * memory, or lost part of the tree to it: a fault of this host, which must not pass
	 * for a bad reply (fail_open). */
	csms_errf(err, errlen, "out of memory");
	return -ENOMEM;
}
