/* Reading ShowSecret replies strictly: exactly one JSON object, types checked, lengths compared. */
#include "buildconf.h"

#include "response.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* A body within the cap that is exactly one JSON object (src/json.c), or NULL. */
static struct json_object *parse_one_object(const char *body, size_t len, char *err, size_t errlen)
{
	if (len > CSMS_BODY_MAX) {
		csms_errf(err, errlen, "body over the size cap");
		return NULL;
	}
	return csms_json_parse_object(body, len, err, errlen);
}

bool csms_answer_enabled(const struct csms_answer *a)
{
	return !a->missing && a->kind == CSMS_STATE_STRING &&
	       csms_streq_len(a->state, a->state_len, "ENABLED");
}

int csms_response_parse_secret(const char *body, size_t len, const char *want,
			       struct csms_answer *out, char **metadata_json, char *err,
			       size_t errlen)
{
	struct json_object *root, *secret, *name, *state;
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	out->kind = CSMS_STATE_ABSENT;
	if (metadata_json != NULL)
		*metadata_json = NULL;
	root = parse_one_object(body, len, err, errlen);
	if (root == NULL)
		return -EBADMSG;
	if (!json_object_object_get_ex(root, "secret", &secret) ||
	    !json_object_is_type(secret, json_type_object)) {
		csms_errf(err, errlen, "no \"secret\" object in the reply");
		goto out;
	}
	if (!json_object_object_get_ex(secret, "name", &name) ||
	    !json_object_is_type(name, json_type_string) ||
	    !csms_streq_len(json_object_get_string(name), (size_t)json_object_get_string_len(name),
			    want)) {
		csms_errf(err, errlen, "reply is for a different secret");
		goto out;
	}
	if (json_object_object_get_ex(secret, "state", &state) && state != NULL) {
		if (json_object_is_type(state, json_type_string)) {
			size_t sl = (size_t)json_object_get_string_len(state);

			/* a longer state is never ENABLED, so the cut changes no decision */
			out->kind = CSMS_STATE_STRING;
			out->state_len = sl < CSMS_STATE_MAX ? sl : CSMS_STATE_MAX;
			memcpy(out->state, json_object_get_string(state), out->state_len);
			out->state[out->state_len] = '\0';
		} else {
			out->kind = CSMS_STATE_NOT_STRING;
		}
	}
	if (metadata_json != NULL) {
		const char *js = json_object_to_json_string_ext(secret, JSON_C_TO_STRING_PLAIN);

		*metadata_json = js ? strdup(js) : NULL;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

static bool copy_code(struct json_object *o, char *code, size_t codelen)
{
	size_t n;

	if (o == NULL || !json_object_is_type(o, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(o);
	if (n == 0 || n >= codelen || memchr(json_object_get_string(o), '\0', n) != NULL)
		return false;
	memcpy(code, json_object_get_string(o), n);
	code[n] = '\0';
	return true;
}

int csms_response_error_code(const char *body, size_t len, char *code, size_t codelen)
{
	struct json_object *root, *o, *inner;
	int rc = -ENOENT;

	root = parse_one_object(body, len, NULL, 0);
	if (root == NULL)
		return -ENOENT;
	if ((json_object_object_get_ex(root, "error_code", &o) && copy_code(o, code, codelen)) ||
	    (json_object_object_get_ex(root, "error", &inner) &&
	     json_object_is_type(inner, json_type_object) &&
	     json_object_object_get_ex(inner, "code", &o) && copy_code(o, code, codelen)))
		rc = 0;
	json_object_put(root);
	return rc;
}

bool csms_content_type_is_json(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL)
		return false;
	while (*ct == ' ')
		ct++;
	if (!csms_prefix_icase(ct, strlen(ct), want))
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}
