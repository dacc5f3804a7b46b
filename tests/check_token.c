/* The token file: real files with real modes, and the bytes a header may carry. */
#include "buildconf.h"

#include "testlib.h"
#include "token.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOK16 "0123456789abcdef"

static const struct {
	const char *content;
	size_t len; /* 0: strlen */
	mode_t mode;
	int rc;
	const char *want;
} rows[] = {
	{ TOK16, 0, 0600, 0, TOK16 },
	{ TOK16 "\n", 0, 0600, 0, TOK16 },
	{ TOK16 "\r\n", 0, 0400, -EINVAL, NULL }, /* the contract: one trailing newline only */
	{ TOK16 "\n", 0, 0400, 0, TOK16 },
	{ TOK16 "\n\n", 0, 0600, -EINVAL, NULL },
	{ TOK16 " ", 0, 0600, -EINVAL, NULL },
	{ " " TOK16, 0, 0600, -EINVAL, NULL },
	{ "0123456789abcde", 0, 0600, -EINVAL, NULL }, /* 15 bytes */
	{ "0123456789abcde\n", 0, 0600, -EINVAL, NULL },
	{ "", 0, 0600, -EINVAL, NULL },
	{ "01234567\r\n89abcdef", 0, 0600, -EINVAL, NULL },
	{ "01234567\tx89abcdef", 0, 0600, -EINVAL, NULL },
	{ "01234567\x7f"
	  "89abcdef",
	  0, 0600, -EINVAL, NULL },
	{ "01234567\xc3\xa9"
	  "89abcdef",
	  0, 0600, -EINVAL, NULL },
	{ "01234567\0"
	  "89abcdef",
	  17, 0600, -EINVAL, NULL },
	{ TOK16, 0, 0640, -EPERM, NULL },
	{ TOK16, 0, 0644, -EPERM, NULL },
	{ TOK16, 0, 0604, -EPERM, NULL },
	{ TOK16, 0, 0610, -EPERM, NULL },
	{ TOK16, 0, 0601, -EPERM, NULL },
	{ TOK16, 0, 0700, 0, TOK16 },
};

START_TEST(t_token_file)
{
	char *dir = t_scratch(), *path = t_path(dir, "token"), *tok = NULL, err[CSMS_ERRLEN];
	size_t len = rows[_i].len ? rows[_i].len : strlen(rows[_i].content), tl = 0;
	int rc;

	t_write(path, rows[_i].content, len, rows[_i].mode);
	rc = csms_token_read(path, &tok, &tl, err, sizeof(err));
	ck_assert_msg(rc == rows[_i].rc, "row %d: rc %d (%s)", _i, rc, err);
	if (rc == 0) {
		ck_assert_str_eq(tok, rows[_i].want);
		ck_assert_int_eq(tl, strlen(rows[_i].want));
	} else {
		ck_assert_ptr_null(tok);
		ck_assert_msg(strstr(err, path) != NULL, "message does not name the file: %s", err);
		ck_assert_msg(strstr(err, TOK16) == NULL, "message shows the token: %s", err);
	}
	csms_token_free(tok, tl);
	unlink(path);
	free(path);
	free(dir);
}
END_TEST

START_TEST(t_token_size_cap)
{
	char *dir = t_scratch(), *path = t_path(dir, "token"), *tok, err[CSMS_ERRLEN];
	char *big = malloc(CSMS_TOKEN_MAX + 2);
	size_t tl;

	memset(big, 'a', CSMS_TOKEN_MAX + 1);
	t_write(path, big, CSMS_TOKEN_MAX, 0600);
	ck_assert_int_eq(csms_token_read(path, &tok, &tl, err, sizeof(err)), 0);
	ck_assert_int_eq(tl, CSMS_TOKEN_MAX);
	csms_token_free(tok, tl);
	t_write(path, big, CSMS_TOKEN_MAX + 1, 0600);
	ck_assert_int_ne(csms_token_read(path, &tok, &tl, err, sizeof(err)), 0);
	free(big);
	free(path);
	free(dir);
}
END_TEST

START_TEST(t_token_file_kinds)
{
	char *dir = t_scratch(), *real = t_path(dir, "real"), *lnk = t_path(dir, "link");
	char *hard = t_path(dir, "hard"), *fifo = t_path(dir, "fifo"), *tok, err[CSMS_ERRLEN];
	size_t tl;

	t_write_str(real, TOK16, 0600);
	ck_assert_int_eq(symlink(real, lnk), 0);
	ck_assert_int_eq(csms_token_read(lnk, &tok, &tl, err, sizeof(err)), -ELOOP);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(csms_token_read(fifo, &tok, &tl, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(csms_token_read(dir, &tok, &tl, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(link(real, hard), 0);
	ck_assert_int_eq(csms_token_read(real, &tok, &tl, err, sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, "hard links") != NULL, "%s", err);
	unlink(hard);
	ck_assert_int_eq(csms_token_read(real, &tok, &tl, err, sizeof(err)), 0);
	csms_token_free(tok, tl);
	free(real);
	free(lnk);
	free(hard);
	free(fifo);
	free(dir);
}
END_TEST

/* Owned by someone else: neither root nor us. */
START_TEST(t_token_foreign_owner)
{
	char *dir = t_scratch(), *real = t_path(dir, "real"), *tok, err[CSMS_ERRLEN];
	size_t tl;

	t_write_str(real, TOK16, 0600);
	ck_assert_int_eq(csms_token_read(real, &tok, &tl, err, sizeof(err)), 0);
	csms_token_free(tok, tl);
	ck_assert_int_eq(chown(real, 65534, 0), 0);
	ck_assert_int_eq(csms_token_read(real, &tok, &tl, err, sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, "owned by uid 65534") != NULL, "%s", err);
	free(real);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("token");

	tcase_add_loop_test(tc, t_token_file, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, t_token_size_cap);
	tcase_add_test(tc, t_token_file_kinds);
	t_add_root_test(tc, t_token_foreign_owner, "t_token_foreign_owner");
	suite_add_tcase(s, tc);
	return t_run(s);
}
