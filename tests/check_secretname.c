/* Secret names: the template, the allow-list, the 64/65 boundary, no truncation. */
#include "buildconf.h"

#include "secretname.h"
#include "util.h"

#include "testlib.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *tmpl, *user, *service, *host;
	int rc;
	const char *out;
} rows[] = {
	{ "%u", "alice", "sshd", "web1", 0, "alice" },
	{ "login-%u", "alice", "sshd", "web1", 0, "login-alice" },
	{ "%s-%u@%h", "a", "s", "h", -EINVAL, NULL }, /* literal '@' never valid */
	{ "%s.%u.%h", "alice", "sudo", "web1", 0, "sudo.alice.web1" },
	{ "%%u", "alice", "sshd", "h", -EINVAL, "%u" }, /* a literal percent is not a name char */
	{ "%u", "", "sshd", "h", -EINVAL, "" },
	{ "%u", ".", "sshd", "h", -EINVAL, "." },
	{ "%u", "..", "sshd", "h", -EINVAL, ".." },
	{ "%u", "...", "sshd", "h", -EINVAL, "..." },
	{ "%u", ".a", "sshd", "h", 0, ".a" },
	{ "%u", "a.b_c-D9", "sshd", "h", 0, "a.b_c-D9" },
	{ "%u", "../x", "sshd", "h", -EINVAL, "../x" },
	{ "%u", "a/b", "sshd", "h", -EINVAL, "a/b" },
	{ "%u", "%2e%2e", "sshd", "h", -EINVAL, "%2e%2e" },
	{ "%u", "a b", "sshd", "h", -EINVAL, "a b" },
	{ "%u", " alice", "sshd", "h", -EINVAL, " alice" },
	{ "%u", "alice\n", "sshd", "h", -EINVAL, "alice\n" },
	{ "%u", "alice@EXAMPLE.COM", "sshd", "h", -EINVAL, "alice@EXAMPLE.COM" },
	{ "%u", "EXAMPLE\\alice", "sshd", "h", -EINVAL, "EXAMPLE\\alice" },
	{ "%u", "\xd0\xb0lice", "sshd", "h", -EINVAL, "\xd0\xb0lice" },
	{ "%u", "\xff", "sshd", "h", -EINVAL, "\xff" },
	{ "%u", "$(id)", "sshd", "h", -EINVAL, "$(id)" },
	{ "%u", "%s%n%x", "sshd", "h", -EINVAL, "%s%n%x" },
	{ "%u", "Alice", "sshd", "h", 0, "Alice" },
	{ "%u", "/etc/passwd", "sshd", "h", -EINVAL, "/etc/passwd" },
	{ "%u", "x/../../y", "sshd", "h", -EINVAL, "x/../../y" },
	{ "%u", "%2F", "sshd", "h", -EINVAL, "%2F" },
	{ "%u", "..%2f", "sshd", "h", -EINVAL, "..%2f" },
	{ "%u", "%00", "sshd", "h", -EINVAL, "%00" },
	{ "%u", "a%20b", "sshd", "h", -EINVAL, "a%20b" },
	{ "%u", "\xef\xbd\x81lice", "sshd", "h", -EINVAL, NULL },  /* fullwidth a */
	{ "%u", "alice\xe2\x80\x8b", "sshd", "h", -EINVAL, NULL }, /* zero-width space */
	{ "%u",
	  "ali\xcc\x81"
	  "ce",
	  "sshd", "h", -EINVAL, NULL }, /* combining acute */
	{ "%u", "alice:x", "sshd", "h", -EINVAL, NULL },
	{ "%u", "alice ", "sshd", "h", -EINVAL, NULL },
	{ "%u", "a;id", "sshd", "h", -EINVAL, NULL },
	{ "%u", "`id`", "sshd", "h", -EINVAL, NULL },
	{ "%u", "a|b", "sshd", "h", -EINVAL, NULL },
	{ "%u", "'", "sshd", "h", -EINVAL, NULL },
	{ "%u", "\"", "sshd", "h", -EINVAL, NULL },
	{ "%u", "a\rb", "sshd", "h", -EINVAL, NULL },
	{ "%u", "a\tb", "sshd", "h", -EINVAL, NULL },
	{ "%u", "a\x1b", "sshd", "h", -EINVAL, NULL },
	{ "%u", "a\x07", "sshd", "h", -EINVAL, NULL },
	{ "%u", "a\x7f", "sshd", "h", -EINVAL, NULL },
	{ "%u", "\xc3", "sshd", "h", -EINVAL, NULL },
};

/* The expansion with the user's primary group "staff". */
static int expand(const char *tmpl, const char *user, const char *service, const char *host,
		  char *out, size_t outlen)
{
	const struct csms_name_parts parts = { user, service, host, "staff" };

	return csms_secret_name_expand(tmpl, &parts, out, outlen);
}

START_TEST(t_expand)
{
	char out[CSMS_SECRET_SHOW_MAX + 1];
	int rc = expand(rows[_i].tmpl, rows[_i].user, rows[_i].service, rows[_i].host, out,
			sizeof(out));

	ck_assert_msg(rc == rows[_i].rc, "row %d: rc %d", _i, rc);
	if (rows[_i].out != NULL)
		ck_assert_str_eq(out, rows[_i].out);
}
END_TEST

/* 64 characters pass; 65 fail, also when a prefix makes them 65; never cut to fit. */
START_TEST(t_length_boundary)
{
	char user[2000], out[CSMS_SECRET_SHOW_MAX + 1];
	static const size_t lens[] = { 1, 63, 64, 65, 128, 129, 256, 1999 };
	char *huge = malloc((1 << 20) + 1);

	/* 1 MiB: rejected, and the copy kept for the log stays bounded */
	memset(huge, 'a', 1 << 20);
	huge[1 << 20] = '\0';
	ck_assert_int_eq(expand("%u", huge, "s", "h", out, sizeof(out)), -EINVAL);
	ck_assert_int_le(strlen(out), CSMS_SECRET_SHOW_MAX);
	free(huge);

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(user, 'a', lens[i]);
		user[lens[i]] = '\0';
		ck_assert_int_eq(expand("%u", user, "s", "h", out, sizeof(out)),
				 lens[i] <= 64 ? 0 : -EINVAL);
		if (lens[i] <= 64)
			ck_assert_int_eq(strlen(out), lens[i]);
		else
			ck_assert_int_le(strlen(out), CSMS_SECRET_SHOW_MAX);
	}
	memset(user, 'a', 58);
	user[58] = '\0';
	ck_assert_int_eq(expand("login-%u", user, "s", "h", out, sizeof(out)), 0);
	user[58] = 'a';
	user[59] = '\0';
	ck_assert_int_eq(expand("login-%u", user, "s", "h", out, sizeof(out)), -EINVAL);
}
END_TEST

static const struct {
	const char *tmpl;
	int rc;
} templates[] = {
	{ "%u", 0 },         { "login-%u", 0 },   { "%s_%u.%h", 0 },   { "%%%u", 0 },
	{ "", -EINVAL },     { "%", -EINVAL },    { "%x", -EINVAL },   { "%U", -EINVAL },
	{ "a/%u", -EINVAL }, { "a %u", -EINVAL }, { "%u:x", -EINVAL }, { "team-%g", 0 },
	{ "%G", -EINVAL },   { "a,b", -EINVAL },
};

/* %g: the user's primary group through the account database; none makes the name invalid
 * (a deny), never a name without it. */
START_TEST(t_group)
{
	static const struct {
		const char *tmpl, *group;
		int rc;
		const char *out;
	} groups[] = {
		{ "team-%g", "ops", 0, "team-ops" },
		{ "%g", "ops", 0, "ops" },
		{ "%u.%g", "wheel", 0, "bob.wheel" },
		{ "team-%g", NULL, -ENOENT, NULL },
		{ "%u", NULL, 0, "bob" }, /* no %g: no group needed */
		{ "team-%g", "domain users", -EINVAL, NULL },
		{ "team-%g", "a%b", -EINVAL, NULL },
		{ "%g", "..", -EINVAL, NULL },
		{ "team-%g", "a/b", -EINVAL, NULL },
	};
	char out[CSMS_SECRET_SHOW_MAX + 1];

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const struct csms_name_parts parts = { "bob", "sshd", "h", groups[i].group };
		int rc = csms_secret_name_expand(groups[i].tmpl, &parts, out, sizeof(out));

		ck_assert_msg(rc == groups[i].rc, "row %zu: rc %d", i, rc);
		if (groups[i].out != NULL)
			ck_assert_str_eq(out, groups[i].out);
	}
}
END_TEST

START_TEST(t_template)
{
	char err[CSMS_ERRLEN];

	ck_assert_msg(csms_secret_template_check(templates[_i].tmpl, err, sizeof(err)) ==
			      templates[_i].rc,
		      "'%s'", templates[_i].tmpl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secretname");
	TCase *tc = tcase_create("secretname");

	tcase_add_loop_test(tc, t_expand, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_loop_test(tc, t_template, 0, sizeof(templates) / sizeof(templates[0]));
	tcase_add_test(tc, t_length_boundary);
	tcase_add_test(tc, t_group);
	suite_add_tcase(s, tc);
	return t_run(s);
}
