/* The module loads the way libpam loads it, and shows the world only pam_sm_*. */
#include "buildconf.h"

#include "testlib.h"

#include <check.h>
#include <dlfcn.h>

static const char *const exported[] = {
	"pam_sm_acct_mgmt",    "pam_sm_authenticate",  "pam_sm_setcred",
	"pam_sm_open_session", "pam_sm_close_session", "pam_sm_chauthtok",
};

static const char *const hidden[] = {
	"csms_decide",
	"csms_config_load",
	"csms_http_get",
	"csms_file_read",
	"csms_token_read",
	"csms_verdict_format",
	"csms_secret_name_expand",
	"csms_response_parse_secret",
	"csms_strlcpy",
	"run_check",
};

START_TEST(t_dlopen)
{
	void *h = dlopen(t_env("CSMS_MODULE"), RTLD_NOW | RTLD_LOCAL);

	ck_assert_msg(h != NULL, "dlopen: %s", dlerror());
	for (size_t i = 0; i < sizeof(exported) / sizeof(exported[0]); i++)
		ck_assert_msg(dlsym(h, exported[i]) != NULL, "%s not exported", exported[i]);
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		ck_assert_msg(dlsym(h, hidden[i]) == NULL, "%s is exported", hidden[i]);
	ck_assert_int_eq(dlclose(h), 0);
	/* -z nodelete: the code stays mapped after dlclose (resolver threads may run on) */
	h = dlopen(t_env("CSMS_MODULE"), RTLD_NOW | RTLD_NOLOAD);
	ck_assert_msg(h != NULL, "module was unloaded by dlclose");
	dlclose(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dlopen");
	TCase *tc = tcase_create("dlopen");

	tcase_add_test(tc, t_dlopen);
	suite_add_tcase(s, tc);
	return t_run(s);
}
