/* The secret-name template: %u user, %s service, %h short host name, %g the user's primary
 * group, %% a percent sign. */
#include "buildconf.h"

#include "secretname.h"
#include "util.h"

#include <errno.h>
#include <string.h>

static bool name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int csms_secret_template_check(const char *tmpl, char *err, size_t errlen)
{
	size_t n = strlen(tmpl);

	if (n == 0 || n > 256) {
		csms_errf(err, errlen, "template must be 1 to 256 characters");
		return -EINVAL;
	}
	for (const char *p = tmpl; *p; p++) {
		if (*p == '%') {
			if (p[1] == '\0' || strchr("ushg%", p[1]) == NULL) {
				csms_errf(err, errlen,
					  "unknown escape '%%%c' (use %%u, %%s, %%h, %%g or %%%%)",
					  p[1] ? p[1] : ' ');
				return -EINVAL;
			}
			p++;
		} else if (!name_char((unsigned char)*p)) {
			csms_errf(err, errlen, "character '%c' can never be part of a secret name",
				  *p >= 0x20 && *p < 0x7f ? *p : '?');
			return -EINVAL;
		}
	}
	return 0;
}

bool csms_secret_name_valid(const char *name, size_t len)
{
	bool only_dots = true;

	if (len == 0 || len > CSMS_SECRET_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!name_char((unsigned char)name[i]))
			return false;
		if (name[i] != '.')
			only_dots = false;
	}
	return !only_dots;
}

bool csms_secret_template_has_group(const char *tmpl)
{
	for (const char *p = tmpl; *p; p++) {
		if (*p == '%') {
			if (p[1] == 'g')
				return true;
			if (p[1] == '\0')
				break;
			p++;
		}
	}
	return false;
}

int csms_secret_name_expand(const char *tmpl, const struct csms_name_parts *parts, char *out,
			    size_t outlen)
{
	size_t len = 0, cap;
	bool cut = false;

	if (outlen <= CSMS_SECRET_SHOW_MAX)
		return -EINVAL;
	cap = CSMS_SECRET_SHOW_MAX;
	for (const char *p = tmpl; *p && !cut; p++) {
		const char *piece;
		char one[2] = { *p, '\0' };

		if (*p == '%' && p[1] != '\0') {
			p++;
			switch (*p) {
			case 'u':
				piece = parts->user;
				break;
			case 's':
				piece = parts->service;
				break;
			case 'h':
				piece = parts->host;
				break;
			case 'g':
				piece = parts->group;
				break;
			case '%':
				piece = "%";
				break;
			default:
				return -EINVAL;
			}
		} else {
			piece = one;
		}
		if (piece == NULL)
			piece = "";
		for (; *piece; piece++) {
			if (len == cap) {
				cut = true;
				break;
			}
			out[len++] = *piece;
		}
	}
	out[len] = '\0';
	/* no group name: no name at all (out shows it without one, for the log) */
	if (parts->group == NULL && csms_secret_template_has_group(tmpl))
		return -ENOENT;
	if (cut || !csms_secret_name_valid(out, len))
		return -EINVAL;
	return 0;
}
