/* Reading ShowSecret replies strictly: exactly one JSON object, types checked, lengths compared. */
#include "buildconf.h"

#include "response.h"
#include "http.h"
#include "json.h"
#include "sign.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A body within the cap that is exactly one JSON object (src/json.c): 0, -EBADMSG, -ENOMEM. */
static int parse_one_object(const char *body, size_t len, struct json_object **root, char *err,
			    size_t errlen)
{
	*root = NULL;
	if (len > CSMS_BODY_MAX) {
		csms_errf(err, errlen, "body over the size cap");
		return -EBADMSG;
	}
	return csms_json_parse_object(body, len, root, err, errlen);
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
	int rc;

	memset(out, 0, sizeof(*out));
	out->kind = CSMS_STATE_ABSENT;
	if (metadata_json != NULL)
		*metadata_json = NULL;
	rc = parse_one_object(body, len, &root, err, errlen);
	if (rc != 0)
		return rc;
	rc = -EBADMSG;
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
		if (*metadata_json == NULL) {
			csms_errf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

/* A string member as a C string that fits (no NUL inside), or false. */
static bool copy_string(struct json_object *o, char *out, size_t outlen, bool cut)
{
	size_t n;

	if (o == NULL || !json_object_is_type(o, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(o);
	if (n == 0 || memchr(json_object_get_string(o), '\0', n) != NULL || (n >= outlen && !cut))
		return false;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, json_object_get_string(o), n);
	out[n] = '\0';
	return true;
}

int csms_response_error(const char *body, size_t len, char *code, size_t codelen, char *msg,
			size_t msglen)
{
	struct json_object *root, *o, *inner, *m = NULL;
	int rc = -ENOENT;

	if (msglen > 0)
		msg[0] = '\0';
	if (parse_one_object(body, len, &root, NULL, 0) == -ENOMEM)
		return -ENOMEM;
	if (root == NULL)
		return -ENOENT;
	if (json_object_object_get_ex(root, "error_code", &o) &&
	    copy_string(o, code, codelen, false)) {
		(void)json_object_object_get_ex(root, "error_msg", &m);
		rc = 0;
	} else if (json_object_object_get_ex(root, "error", &inner) &&
		   json_object_is_type(inner, json_type_object) &&
		   json_object_object_get_ex(inner, "code", &o) &&
		   copy_string(o, code, codelen, false)) {
		(void)json_object_object_get_ex(inner, "message", &m);
		rc = 0;
	}
	if (rc == 0 && msglen > 0 && !copy_string(m, msg, msglen, true))
		msg[0] = '\0';
	json_object_put(root);
	return rc;
}

int csms_response_error_code(const char *body, size_t len, char *code, size_t codelen)
{
	return csms_response_error(body, len, code, codelen, NULL, 0);
}

/* The words of the gateway's 401s, and what they mean to an admin; the first match wins. */
static const struct {
	const char *says, *means;
} rejections[] = {
	{ "not exist", "unknown access key: check access_key" },
	{ "signature expired",
	  "the request expired: its X-Sdk-Date is too far from the server's time" },
	{ "securitytoken", "the security token is missing, wrong or expired" },
	{ "security token", "the security token is missing, wrong or expired" },
	{ "signature", "the signature does not verify: check secret_key" },
	{ "token", "the token is expired, wrong or for another region: refresh it" },
};

void csms_response_rejection(long status, const char *body, size_t len, const char *date,
			     int64_t now, char *out, size_t outlen)
{
	char code[32] = "", msg[512] = "";
	const char *means = "credentials rejected";
	int64_t server = date != NULL ? csms_http_date_parse(date) : -1, skew;
	size_t n;

	if (body != NULL)
		(void)csms_response_error(body, len, code, sizeof(code), msg, sizeof(msg));
	for (size_t i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
		if (strstr(msg, rejections[i].says) != NULL) {
			means = rejections[i].means;
			break;
		}
	}
	if (status == 403)
		means = "not allowed: the credentials lack csms:secret:get for this project";
	n = (size_t)snprintf(out, outlen, "HTTP %ld %s: %s", status, code[0] ? code : "-", means);
	if (server < 0 || n >= outlen)
		return;
	skew = now - server;
	if (skew > CSMS_SIGN_SKEW_MAX_S || skew < -CSMS_SIGN_SKEW_MAX_S)
		snprintf(out + n, outlen - n,
			 "; the host clock is %llds %s the server's: set it (timedatectl set-ntp "
			 "true)",
			 (long long)(skew < 0 ? -skew : skew), skew < 0 ? "behind" : "ahead of");
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
