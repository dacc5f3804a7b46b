/* JSON from the network: RFC 8259 exactly, checked before json-c sees it, then one object. */
#ifndef CSMS_JSON_H
#define CSMS_JSON_H

#include <stddef.h>

#define CSMS_JSON_DEPTH 16
/* json-c's depth for the same limit: it counts a scalar inside the deepest container */
#define CSMS_JSON_TOKENER_DEPTH (CSMS_JSON_DEPTH + 1)

struct json_object;

/*
 * 0 when text[0..len) is exactly one JSON value (RFC 8259) with optional whitespace around
 * it, at most CSMS_JSON_DEPTH objects and arrays deep, its strings well-formed UTF-8. json-c 0.16
 * accepts more even with JSON_TOKENER_STRICT: NaN, Infinity, single-quoted strings and raw
 * control characters in strings. Refused as well, being what json-c would fold together:
 * the same key twice in one object, \u0000 in a key and a lone UTF-16 surrogate. Otherwise
 * -EBADMSG with the first problem in err, or -ENOMEM.
 */
int csms_json_check(const char *text, size_t len, char *err, size_t errlen);

/*
 * Parse text that must pass csms_json_check and be a JSON object into *out (the caller
 * releases it with json_object_put). Returns 0, -EBADMSG with the reason in err, or -ENOMEM:
 * running out of memory here, or a tree that does not hold what the text says (json-c lost
 * part of it to memory), is a fault of this host, never a bad reply.
 */
int csms_json_parse_object(const char *text, size_t len, struct json_object **out, char *err,
			   size_t errlen);

#endif
