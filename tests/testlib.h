/* Shared test helpers: scratch files with real permissions, the stand-in, real libpam runs. */
#ifndef CSMS_TESTLIB_H
#define CSMS_TESTLIB_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define T_TOKEN_DEFAULT "csms-test-token-0123456789abcdef"

/* A required environment variable set by tests/with-standin.sh (aborts if missing). */
const char *t_env(const char *name);

/* A fresh 0700 directory under $CSMS_TEST_DIR (or $TMPDIR); caller frees. */
char *t_scratch(void);

void t_write(const char *path, const char *content, size_t len, mode_t mode);
void t_write_str(const char *path, const char *content, mode_t mode);

/* Build "<dir>/<name>" into a new string. */
char *t_path(const char *dir, const char *name);

/*
 * Write a working config for the stand-in into dir/pam_csms.conf (token file, CA and
 * endpoint filled in), with `extra` appended to [csms] and `tail` after it (sections).
 * Returns the config path.
 */
char *t_config(const char *dir, const char *extra, const char *tail);

/* t_config() for dir, as module arguments: "conf=PATH" (caller frees). */
char *t_conf_args(const char *dir, const char *extra, const char *tail);

/*
 * Add a test that needs root (chown to another user): when not root it is not added but
 * counted, and t_run reports the suite as skipped (exit 77) if everything else passed.
 */
void t_add_root_test(TCase *tc, const TTest *test, const char *what);

/* Run every test of the suite (each in its own process): 0 when all passed, 77 when all
 * that ran passed but a root-only test could not run, 1 otherwise. */
int t_run(Suite *s);

/* Open file descriptors of this process. */
int t_count_fds(void);
/* Entries in directory path, "." and ".." not counted. */
int t_dir_entries(const char *path);
/* The whole of a file as a new string ("" if it cannot be opened); caller frees. */
char *t_slurp(const char *path);

/* The stand-in's https://127.0.0.1:PORT, and a port that refuses connections. */
const char *t_endpoint(void);
const char *t_dead_endpoint(void);

/* Replace the stand-in's NAME=STATE overrides ("*=err503": every name); "" clears them. */
void t_states(const char *text);
/* How many requests the stand-in has seen in all. */
int t_requests_total(void);
/* How many requests the stand-in's metadata service has seen for path (e.g.
 * "/openstack/latest/securitykey"). */
int t_metadata_calls(const char *path);
/* How many TLS connections carried the requests for the secrets named (NULL-terminated). */
int t_connections_for(const char *const *names);
/* How many requests the stand-in has seen for secret `name`. */
int t_requests_for(const char *name);
/* The value of header `lname` (lower case) in the last request for `name`; caller frees. */
char *t_last_header(const char *name, const char *lname);
/* The same in the n-th (0-based) request for `name`, NULL if none. */
char *t_nth_header(const char *name, int n, const char *lname);

/* Captured syslog lines (tests/syslog_capture.c). */
void t_log_reset(void);
const char *t_log(void);
/* The value of key in the last captured decision line; caller frees; NULL if absent. */
char *t_log_field(const char *key);
/* Assert that the last decision line has key=want. */
void t_assert_log_field(const char *key, const char *want);

enum t_op { T_ACCOUNT, T_AUTH, T_SETCRED, T_OPEN_SESSION, T_CLOSE_SESSION, T_CHAUTHTOK };

struct t_pam_result {
	int rc;          /* what pam_csms returned (PAM_IGNORE recovered through a sentinel) */
	char conv[1024]; /* messages the conversation received */
	long ms;
};

/*
 * Run `op` through real libpam (pam_start_confdir) with a service file that stacks
 * pam_csms.so with `args` and recovers the module's own return code.
 */
struct t_pam_result t_pam(const char *service, const char *user, const char *args, enum t_op op,
			  int flags);

#endif
