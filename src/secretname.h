/* The secret-name template: %u user, %s service, %h short host name, %g the user's primary
 * group, %% a percent sign. */
#ifndef CSMS_SECRETNAME_H
#define CSMS_SECRETNAME_H

#include <stdbool.h>
#include <stddef.h>

#define CSMS_SECRET_NAME_MAX 64
/* Room for a rejected expansion to be shown (escaped) in the log, never sent. */
#define CSMS_SECRET_SHOW_MAX 128
/* secret = a, b, c: at most this many templates, every one must be ENABLED */
#define CSMS_SECRETS_MAX 8

/* 0 when the template only has known escapes and literal [A-Za-z0-9._-]; else -EINVAL. */
int csms_secret_template_check(const char *tmpl, char *err, size_t errlen);

/* Whether tmpl has %g (the account database is asked for the group only then). */
bool csms_secret_template_has_group(const char *tmpl);

/* [A-Za-z0-9._-]{1,64} and not only dots: the names the API accepts and we may put in a URL. */
bool csms_secret_name_valid(const char *name, size_t len);

/* What the escapes expand to; group is NULL for a user without a primary group name. */
struct csms_name_parts {
	const char *user, *service, *host, *group;
};

/*
 * Expand tmpl into out (outlen > CSMS_SECRET_SHOW_MAX) and validate the result.
 * Returns 0 for a valid name; -EINVAL for an invalid one (out then holds what the
 * expansion gave, cut at CSMS_SECRET_SHOW_MAX bytes, for the log), -ENOENT when the
 * template has %g and the user has no primary group name (out then has nothing for it).
 * Never truncates a name into validity.
 */
int csms_secret_name_expand(const char *tmpl, const struct csms_name_parts *parts, char *out,
			    size_t outlen);

#endif
