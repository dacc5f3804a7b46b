/* JSON from the network: RFC 8259 exactly, checked before json-c sees it, then one object. */
#ifndef CSMS_JSON_H
#define CSMS_JSON_H

#include <stddef.h>

#define CSMS_JSON_DEPTH 16

struct json_object;

/*
 * 0 when text[0..len) is exactly one JSON value (RFC 8259) with optional whitespace around
 * it, nested at most CSMS_JSON_DEPTH deep, its strings well-formed UTF-8. json-c 0.16
 * accepts more even with JSON_TOKENER_STRICT: NaN, Infinity, single-quoted strings and raw
 * control characters in strings. Otherwise -EBADMSG with the first problem in err.
 */
int csms_json_check(const char *text, size_t len, char *err, size_t errlen);

/*
 * Parse text that must pass csms_json_check and be a JSON object. Returns the object (the
 * caller releases it with json_object_put) or NULL with the reason in err.
 */
struct json_object *csms_json_parse_object(const char *text, size_t len, char *err, size_t errlen);

#endif
