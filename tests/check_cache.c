/*
 * The verdict cache, offline_grace and outage damping, through real libpam against the
 * stand-in, with the requests it saw counted. Every test has its own cache_dir.
 */
#include "buildconf.h"

#include "cache.h"
#include "sha256.h"
#include "testlib.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <security/pam_appl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* A config (in a directory of its own) for the stand-in with cache_dir = <dir>/cache. */
static char *cache_args(const char *dir, const char *extra, const char *tail)
{
	char *more, *args, *confdir = t_scratch();

	if (asprintf(&more, "cache_dir = %s/cache\nretries = 0\n%s", dir, extra) < 0)
		abort();
	args = t_conf_args(confdir, more, tail);
	free(more);
	free(confdir);
	return args;
}

/* The one file in dir/cache whose name starts with `prefix` ("v-", "o-"); caller frees. */
static char *only_file(const char *dir, const char *prefix)
{
	char *cache = t_path(dir, "cache"), *found = NULL;
	DIR *d = opendir(cache);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		n++;
		free(found);
		found = t_path(cache, e->d_name);
	}
	closedir(d);
	free(cache);
	ck_assert_msg(n == 1, "%d files %s* in the cache, expected 1", n, prefix);
	return found;
}

/* Entries in dir/cache. */
static int count_files(const char *dir)
{
	char *cache = t_path(dir, "cache");
	int n = t_dir_entries(cache);

	free(cache);
	return n;
}

/* Run the account hook; assert the PAM code, source and how many requests it made. */
static void expect(const char *args, const char *user, int rc, const char *source, int requests)
{
	int before = t_requests_for(user);

	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", user, args, T_ACCOUNT, 0).rc, rc);
	t_assert_log_field("source", source);
	ck_assert_msg(t_requests_for(user) - before == requests, "%s: %d requests, expected %d",
		      user, t_requests_for(user) - before, requests);
}

/* FIPS 180-4 examples, block boundaries, and a million 'a' fed in odd pieces. */
START_TEST(t_sha256)
{
	static const struct {
		const char *in;
		size_t len;
		const char *hex;
	} v[] = {
		{ "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
		  "klmnopqrlmnopqrsmnopqrstnopqrstu",
		  112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	char hex[2 * CSMS_SHA256_LEN + 1];
	static char chunk[1000];
	struct csms_sha256 c;
	unsigned char md[CSMS_SHA256_LEN];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		csms_sha256_hex(v[i].in, v[i].len, hex);
		ck_assert_str_eq(hex, v[i].hex);
	}
	memset(chunk, 'a', sizeof(chunk));
	csms_sha256_init(&c);
	for (size_t done = 0, step = 1; done < 1000000; done += step, step = step % 997 + 1) {
		if (step > 1000000 - done)
			step = 1000000 - done;
		csms_sha256_update(&c, chunk, step);
	}
	csms_sha256_final(&c, md);
	for (size_t i = 0; i < CSMS_SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(t_ttl_reuses_permit_and_deny)
{
	char *dir = t_scratch(), *args = cache_args(dir, "cache_ttl = 1h", "");
	struct stat st;
	char *cache = t_path(dir, "cache");

	/* "no such secret" is kept for an account (nobody: every Debian system has it) */
	t_states("nobody=nf404\n");
	/* the directory is created 0700 on first use */
	ck_assert_int_ne(stat(cache, &st), 0);
	expect(args, "enabled-ttl", PAM_SUCCESS, "api", 1);
	ck_assert_int_eq(stat(cache, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	expect(args, "enabled-ttl", PAM_SUCCESS, "cache", 0);
	t_assert_log_field("decision", "permit");
	t_assert_log_field("state", "ENABLED");
	t_assert_log_field("attempts", "0");
	expect(args, "disabled-ttl", PAM_PERM_DENIED, "api", 1);
	expect(args, "disabled-ttl", PAM_PERM_DENIED, "cache", 0);
	t_assert_log_field("state", "DISABLED");
	expect(args, "nobody", PAM_PERM_DENIED, "api", 1);
	expect(args, "nobody", PAM_PERM_DENIED, "cache", 0);
	t_assert_log_field("reason", "not_found");
	expect(args, "sched0103-ttl", PAM_PERM_DENIED, "api", 1);
	expect(args, "sched0103-ttl", PAM_PERM_DENIED, "cache", 0);
	t_assert_log_field("state", "PENDING_DELETE");
	/* the auth hook reads the same entry */
	ck_assert_int_eq(t_pam("sshd", "disabled-ttl", args, T_AUTH, 0).rc, PAM_AUTH_ERR);
	ck_assert_int_eq(t_requests_for("disabled-ttl"), 1);
	t_states("");
	free(cache);
	free(args);
	free(dir);
}
END_TEST

/* Whatever the caller's umask: the directory 0700, entries and outage records 0600. */
START_TEST(t_modes_under_umask)
{
	char *dir = t_scratch(), *args = cache_args(dir, "cache_ttl = 1h", "");
	char *cache = t_path(dir, "cache"), *entry, *outage;
	struct stat st;

	umask(0);
	t_states("*=err503\n");
	expect(args, "mode-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_states("");
	ck_assert_int_eq(stat(cache, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	outage = only_file(dir, "o-");
	ck_assert_int_eq(stat(outage, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	pause_ms(1100);
	expect(args, "enabled-mode", PAM_SUCCESS, "api", 1);
	entry = only_file(dir, "v-");
	ck_assert_int_eq(stat(entry, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());
	free(outage);
	free(entry);
	free(cache);
	free(args);
	free(dir);
}
END_TEST

/* What is cached is CSMS's answer; each service's policy still applies to it. */
START_TEST(t_ttl_policy_applies_at_read)
{
	char *dir = t_scratch();
	char *args = cache_args(dir, "cache_ttl = 1h", "[service sudo]\non_missing = ignore\n");
	int before = t_requests_for("nobody");

	t_states("nobody=nf404\n");
	expect(args, "nobody", PAM_PERM_DENIED, "api", 1);
	ck_assert_int_eq(t_pam("sudo", "nobody", args, T_ACCOUNT, 0).rc, PAM_IGNORE);
	t_assert_log_field("source", "cache");
	ck_assert_int_eq(t_requests_for("nobody") - before, 1);
	free(args);
	free(dir);
}
END_TEST

/* cache_ttl in a [service] section: that service reuses answers, the others still ask. */
START_TEST(t_ttl_per_service)
{
	char *dir = t_scratch(), *args = cache_args(dir, "", "[service sudo]\ncache_ttl = 1h\n");
	int before = t_requests_for("enabled-svc");

	t_states("");
	ck_assert_int_eq(t_pam("sudo", "enabled-svc", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	t_assert_log_field("source", "api");
	ck_assert_int_eq(t_pam("sudo", "enabled-svc", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	t_assert_log_field("source", "cache");
	expect(args, "enabled-svc", PAM_SUCCESS, "api", 1);
	expect(args, "enabled-svc", PAM_SUCCESS, "api", 1);
	ck_assert_int_eq(t_requests_for("enabled-svc") - before, 3);
	free(args);
	free(dir);
}
END_TEST

/*
 * SSLKEYLOGFILE refuses libcurl: unavailable whatever fail_mode says, and no young cached
 * ENABLED lets anyone in either (the caller's environment is never a way in).
 */
START_TEST(t_keylog_gets_no_stale_permit)
{
	char *dir = t_scratch(), *kl = t_path(dir, "keys");
	char *args = cache_args(dir, "offline_grace = 1h\nfail_mode = open", "");
	struct stat st;

	t_states("");
	expect(args, "enabled-keylog", PAM_SUCCESS, "api", 1);
	setenv("SSLKEYLOGFILE", kl, 1);
	expect(args, "enabled-keylog", PAM_AUTHINFO_UNAVAIL, "none", 0);
	unsetenv("SSLKEYLOGFILE");
	t_assert_log_field("decision", "unavailable");
	t_assert_log_field("reason", "tls");
	ck_assert_int_ne(stat(kl, &st), 0);
	/* nor does it open an outage window: the next check asks */
	expect(args, "enabled-keylog", PAM_SUCCESS, "api", 1);
	free(kl);
	free(args);
	free(dir);
}
END_TEST

/* Without cache_ttl nothing is reused; an expired entry is asked again. */
START_TEST(t_ttl_expires)
{
	char *dir = t_scratch(), *args = cache_args(dir, "cache_ttl = 1s", "");
	char *off = cache_args(dir, "", "");

	t_states("");
	expect(off, "enabled-exp", PAM_SUCCESS, "api", 1);
	expect(off, "enabled-exp", PAM_SUCCESS, "api", 1);
	expect(args, "enabled-exp", PAM_SUCCESS, "cache", 0);
	pause_ms(1100);
	expect(args, "enabled-exp", PAM_SUCCESS, "api", 1);
	free(off);
	free(args);
	free(dir);
}
END_TEST

/* Switched to DISABLED in the console: denied within cache_ttl, and from then on. */
START_TEST(t_fresh_answer_replaces)
{
	char *dir = t_scratch(), *args = cache_args(dir, "cache_ttl = 1s", "");

	t_states("flip-a=ENABLED\n");
	expect(args, "flip-a", PAM_SUCCESS, "api", 1);
	t_states("flip-a=DISABLED\n");
	expect(args, "flip-a", PAM_SUCCESS, "cache", 0);
	pause_ms(1100);
	expect(args, "flip-a", PAM_PERM_DENIED, "api", 1);
	expect(args, "flip-a", PAM_PERM_DENIED, "cache", 0);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

START_TEST(t_grace_permits_only_enabled_when_unanswered)
{
	char *dir = t_scratch(), *args = cache_args(dir, "offline_grace = 1h", "");
	char *open_args = cache_args(dir, "offline_grace = 1h\nfail_mode = open", "");

	t_states("grace-on=ENABLED\ngrace-off=DISABLED\ngrace-one=ENABLED\n");
	expect(args, "grace-on", PAM_SUCCESS, "api", 1);
	expect(args, "grace-off", PAM_PERM_DENIED, "api", 1);
	expect(args, "grace-one", PAM_SUCCESS, "api", 1);
	/* grace is not a cache: while CSMS answers, it is asked */
	expect(args, "grace-on", PAM_SUCCESS, "api", 1);

	/* one secret CSMS cannot answer for (HTTP 400): a young ENABLED still lets in */
	t_states("grace-one=bad400\n");
	expect(args, "grace-one", PAM_SUCCESS, "stale", 1);
	t_assert_log_field("decision", "permit");
	t_assert_log_field("reason", "state");
	t_assert_log_field("state", "ENABLED");

	/* CSMS down */
	t_states("*=err503\n");
	expect(args, "grace-on", PAM_SUCCESS, "stale", 1);
	t_assert_log_field("decision", "permit");
	/* a young ENABLED permits under fail_mode=open as well (the window is open now) */
	expect(open_args, "grace-on", PAM_SUCCESS, "stale", 0);
	t_assert_log_field("decision", "permit");
	/* a cached deny gives nothing: fail_mode decides (the outage window is open now) */
	expect(args, "grace-off", PAM_AUTHINFO_UNAVAIL, "none", 0);
	t_assert_log_field("decision", "unavailable");
	t_assert_log_field("reason", "http");
	/* fail_mode=open is for not knowing: a deny within offline_grace is not overridden */
	expect(open_args, "grace-off", PAM_AUTHINFO_UNAVAIL, "none", 0);
	t_assert_log_field("decision", "unavailable");
	expect(open_args, "grace-new", PAM_IGNORE, "none", 0);
	t_assert_log_field("decision", "fail_open");
	expect(args, "grace-new", PAM_AUTHINFO_UNAVAIL, "none", 0);
	t_states("");
	free(open_args);
	free(args);
	free(dir);
}
END_TEST

START_TEST(t_grace_expires)
{
	char *dir = t_scratch(), *args = cache_args(dir, "offline_grace = 1s", "");

	t_states("graceexp=ENABLED\n");
	expect(args, "graceexp", PAM_SUCCESS, "api", 1);
	t_states("graceexp=err500\n");
	pause_ms(1100);
	expect(args, "graceexp", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* A way to spoil the entry for `user` in the cache under dir. */
typedef void (*spoil_fn)(const char *entry, const char *dir);

static void rewrite(const char *entry, const char *text, mode_t mode)
{
	ck_assert_int_eq(unlink(entry), 0);
	t_write_str(entry, text, mode);
}

static char *with_time(const char *entry, int64_t when_ms)
{
	char *old = t_slurp(entry), *p = strstr(old, "\ntime "), *end, *text;

	ck_assert_ptr_nonnull(p);
	end = strchr(p + 6, '\n');
	if (asprintf(&text, "%.*s\ntime %" PRId64 "%s", (int)(p - old), old, when_ms, end) < 0)
		abort();
	free(old);
	return text;
}

static void spoil_garbage(const char *entry, const char *dir)
{
	(void)dir;
	rewrite(entry, "pam_csms verdict 1\n\x01\xff garbage\n", 0600);
}

static void spoil_empty(const char *entry, const char *dir)
{
	(void)dir;
	rewrite(entry, "", 0600);
}

static void spoil_truncated(const char *entry, const char *dir)
{
	char *text = t_slurp(entry);

	(void)dir;
	text[strlen(text) - 3] = '\0';
	rewrite(entry, text, 0600);
	free(text);
}

static void spoil_future(const char *entry, const char *dir)
{
	char *text = with_time(entry, csms_wall_ms() + (int64_t)3600 * 1000);

	(void)dir;
	rewrite(entry, text, 0600);
	free(text);
}

static void spoil_mode(const char *entry, const char *dir)
{
	(void)dir;
	ck_assert_int_eq(chmod(entry, 0644), 0);
}

static void spoil_owner(const char *entry, const char *dir)
{
	(void)dir;
	ck_assert_int_eq(chown(entry, 65534, 65534), 0);
}

static void spoil_big(const char *entry, const char *dir)
{
	char *old = t_slurp(entry), text[4000];

	(void)dir;
	memset(text, '\n', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, old, strlen(old));
	rewrite(entry, text, 0600);
	free(old);
}

static void spoil_symlink(const char *entry, const char *dir)
{
	char *other = t_path(dir, "elsewhere");
	char *text = t_slurp(entry);

	t_write_str(other, text, 0600);
	ck_assert_int_eq(unlink(entry), 0);
	ck_assert_int_eq(symlink(other, entry), 0);
	free(text);
	free(other);
}

static void spoil_fifo(const char *entry, const char *dir)
{
	(void)dir;
	ck_assert_int_eq(unlink(entry), 0);
	ck_assert_int_eq(mkfifo(entry, 0600), 0);
}

static void spoil_hardlink(const char *entry, const char *dir)
{
	char *other = t_path(dir, "link");

	ck_assert_int_eq(link(entry, other), 0);
	free(other);
}

/* Another secret's entry copied over this one (as if the hashes collided). */
static void spoil_other_key(const char *entry, const char *dir)
{
	char *text = t_slurp(entry), *p = strstr(text, "\nsecret ");

	(void)dir;
	ck_assert_ptr_nonnull(p);
	p[8] = p[8] == 'x' ? 'y' : 'x';
	rewrite(entry, text, 0600);
	free(text);
}

static const struct {
	const char *name;
	spoil_fn spoil;
} spoilers[] = {
	{ "garbage", spoil_garbage },     { "empty", spoil_empty },
	{ "truncated", spoil_truncated }, { "future", spoil_future },
	{ "mode0644", spoil_mode },       { "owner", spoil_owner },
	{ "oversized", spoil_big },       { "symlink", spoil_symlink },
	{ "fifo", spoil_fifo },           { "hardlink", spoil_hardlink },
	{ "otherkey", spoil_other_key },
};

/*
 * A spoiled entry is absent: CSMS is asked and its answer stands, both ways round (an
 * entry that would permit, and one that would deny), and the entry is written afresh.
 */
START_TEST(t_spoiled_entry_is_absent)
{
	const char *how = spoilers[_i].name;
	char *dir = t_scratch(), *args = cache_args(dir, "cache_ttl = 1h", ""), states[256];
	char user[64];

	snprintf(user, sizeof(user), "spoil-%s", how);
	for (int flip = 0; flip < 2; flip++) {
		const char *was = flip ? "DISABLED" : "ENABLED",
			   *now = flip ? "ENABLED" : "DISABLED";

		char *entry;

		snprintf(states, sizeof(states), "%s=%s\n", user, was);
		t_states(states);
		expect(args, user, flip ? PAM_PERM_DENIED : PAM_SUCCESS, "api", 1);
		entry = only_file(dir, "v-");
		spoilers[_i].spoil(entry, dir);
		snprintf(states, sizeof(states), "%s=%s\n", user, now);
		t_states(states);
		expect(args, user, flip ? PAM_SUCCESS : PAM_PERM_DENIED, "api", 1);
		/* written afresh, and believed again */
		expect(args, user, flip ? PAM_SUCCESS : PAM_PERM_DENIED, "cache", 0);
		(void)unlink(entry);
		free(entry);
		if (spoilers[_i].spoil == spoil_symlink || spoilers[_i].spoil == spoil_hardlink) {
			char *other = t_path(dir, spoilers[_i].spoil == spoil_symlink ? "elsewhere"
										      : "link");

			(void)unlink(other);
			free(other);
		}
	}
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/*
 * Anyone can make sshd's auth stack ask for any name: "no such secret" for a name the
 * account database does not know leaves no entry (each would be a file) and is asked every
 * time; any entry there is removed, even one that cannot be read now (dated ahead: it
 * would be believed once the clock caught up), so no ENABLED outlives its secret.
 */
START_TEST(t_missing_unknown_name_not_kept)
{
	char *dir = t_scratch();
	char *args = cache_args(dir, "cache_ttl = 1s\noffline_grace = 1h", ""), *entry;

	t_states("");
	expect(args, "nf404-ghost", PAM_PERM_DENIED, "api", 1);
	expect(args, "nf404-ghost", PAM_PERM_DENIED, "api", 1);
	t_assert_log_field("reason", "not_found");
	ck_assert_int_eq(count_files(dir), 0);
	/* an existing secret's answer is kept for any name */
	expect(args, "enabled-ghost", PAM_SUCCESS, "api", 1);
	expect(args, "enabled-ghost", PAM_SUCCESS, "cache", 0);
	ck_assert_int_eq(count_files(dir), 1);
	/* the secret goes: once the TTL is over its entry goes too... */
	pause_ms(1100);
	t_states("enabled-ghost=nf404\n");
	expect(args, "enabled-ghost", PAM_PERM_DENIED, "api", 1);
	ck_assert_int_eq(count_files(dir), 0);
	/* ...so an outage finds no ENABLED to permit on */
	t_states("*=err503\n");
	expect(args, "enabled-ghost", PAM_AUTHINFO_UNAVAIL, "api", 1);
	/* and an entry dated ahead is removed as well */
	pause_ms(1100);
	t_states("");
	expect(args, "enabled-ghost", PAM_SUCCESS, "api", 1);
	entry = only_file(dir, "v-");
	spoil_future(entry, dir);
	t_states("enabled-ghost=nf404\n");
	expect(args, "enabled-ghost", PAM_PERM_DENIED, "api", 1);
	ck_assert_int_eq(count_files(dir), 0);
	t_states("");
	free(entry);
	free(args);
	free(dir);
}
END_TEST

/* A cache_dir anyone else could write is not used at all: nothing read, nothing written. */
START_TEST(t_unsafe_dir_refused)
{
	char *dir = t_scratch(), *args = cache_args(dir, "cache_ttl = 1h", "");
	char *cache = t_path(dir, "cache");
	char *detail;

	t_states("");
	ck_assert_int_eq(mkdir(cache, 0700), 0);
	ck_assert_int_eq(chmod(cache, 0770), 0);
	expect(args, "enabled-unsafe", PAM_SUCCESS, "api", 1);
	expect(args, "enabled-unsafe", PAM_SUCCESS, "api", 1);
	detail = t_log_field("detail");
	ck_assert_ptr_nonnull(detail);
	ck_assert_msg(strstr(detail, "cache_dir") != NULL && strstr(detail, "chmod") != NULL,
		      "detail: %s", detail);
	free(detail);
	ck_assert_int_eq(count_files(dir), 0);

	/* owned by someone else */
	ck_assert_int_eq(chmod(cache, 0700), 0);
	ck_assert_int_eq(chown(cache, 65534, 65534), 0);
	expect(args, "enabled-unsafe", PAM_SUCCESS, "api", 1);
	expect(args, "enabled-unsafe", PAM_SUCCESS, "api", 1);
	ck_assert_int_eq(count_files(dir), 0);

	/* a symbolic link to a good directory */
	ck_assert_int_eq(rmdir(cache), 0);
	{
		char *real = t_path(dir, "real");

		ck_assert_int_eq(mkdir(real, 0700), 0);
		ck_assert_int_eq(symlink(real, cache), 0);
		expect(args, "enabled-unsafe", PAM_SUCCESS, "api", 1);
		expect(args, "enabled-unsafe", PAM_SUCCESS, "api", 1);
		free(real);
	}
	free(cache);
	free(args);
	free(dir);
}
END_TEST

/* csms-check -c CONF -o OPT [-o OPT2] [--no-cache] enabled-nocache, output discarded: its
 * status. */
static int csms_check(char *conf, char *opt, char *opt2, bool no_cache)
{
	char name[] = "csms-check", c[] = "-c", o[] = "-o", nc[] = "--no-cache";
	char user[] = "enabled-nocache";
	char *argv[10] = { name, c, conf, o, opt };
	int n = 5;

	if (opt2 != NULL) {
		argv[n++] = o;
		argv[n++] = opt2;
	}
	if (no_cache)
		argv[n++] = nc;
	argv[n++] = user;
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	ck_assert_int_eq(posix_spawn(&pid, t_env("CSMS_CHECK"), &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* csms-check --no-cache asks CSMS and leaves cache_dir alone. */
START_TEST(t_csms_check_no_cache)
{
	char *dir = t_scratch(), *conf = t_config(dir, "cache_ttl = 1h\nretries = 0", "");
	char *cache = t_path(dir, "cache"), *opt, *entry, *outage, *text, *after;
	char ttl0[] = "cache_ttl=0";
	struct stat st;
	int before = t_requests_for("enabled-nocache");

	t_states("");
	if (asprintf(&opt, "cache_dir=%s", cache) < 0)
		abort();
	ck_assert_int_eq(csms_check(conf, opt, NULL, true), 0);
	ck_assert_int_eq(csms_check(conf, opt, NULL, true), 0);
	ck_assert_int_eq(t_requests_for("enabled-nocache") - before, 2);
	ck_assert_int_ne(stat(cache, &st), 0);
	/* without it, csms-check decides exactly as the module: the answer is cached */
	ck_assert_int_eq(csms_check(conf, opt, NULL, false), 0);
	ck_assert_int_eq(csms_check(conf, opt, NULL, false), 0);
	ck_assert_int_eq(t_requests_for("enabled-nocache") - before, 3);
	/* whatever the cache says, --no-cache asks, and leaves the entry as it was */
	entry = only_file(dir, "v-");
	text = t_slurp(entry);
	t_states("enabled-nocache=DISABLED\n");
	ck_assert_int_eq(csms_check(conf, opt, NULL, true), 1);
	ck_assert_int_eq(t_requests_for("enabled-nocache") - before, 4);
	after = t_slurp(entry);
	ck_assert_str_eq(after, text);
	free(after);
	free(text);
	/* and whatever an outage window says: it asks, and leaves the window as it was */
	t_states("*=err503\n");
	ck_assert_int_eq(csms_check(conf, opt, ttl0, false), 3);
	outage = only_file(dir, "o-");
	text = t_slurp(outage);
	ck_assert_int_eq(csms_check(conf, opt, ttl0, true), 3);
	ck_assert_int_eq(t_requests_for("enabled-nocache") - before, 6);
	after = t_slurp(outage);
	ck_assert_str_eq(after, text);
	t_states("");
	free(after);
	free(text);
	free(outage);
	free(entry);
	free(opt);
	free(cache);
	free(conf);
	free(dir);
}
END_TEST

/* ---- outage damping ----------------------------------------------------------------- */

/* The window recorded in the outage file. */
static long window_of(const char *dir)
{
	char *path = only_file(dir, "o-"), *text = t_slurp(path), *w = strstr(text, "\nwindow ");
	long v;

	ck_assert_ptr_nonnull(w);
	v = strtol(w + 8, NULL, 10);
	free(text);
	free(path);
	return v;
}

START_TEST(t_damping_skips_network_then_probes)
{
	char *dir = t_scratch(), *args = cache_args(dir, "", "");

	t_states("*=err503\n");
	expect(args, "damp-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_assert_log_field("reason", "http");
	ck_assert_int_eq(window_of(dir), 1000);
	/* within the window: no request, same reason, source=none, for any secret */
	expect(args, "damp-a", PAM_AUTHINFO_UNAVAIL, "none", 0);
	t_assert_log_field("reason", "http");
	t_assert_log_field("attempts", "0");
	expect(args, "damp-b", PAM_AUTHINFO_UNAVAIL, "none", 0);
	t_assert_log_field("reason", "http");
	ck_assert_int_eq(t_pam("sshd", "damp-b", args, T_AUTH, 0).rc, PAM_AUTHINFO_UNAVAIL);

	/* the window runs out: one check probes, fails, and the window doubles */
	pause_ms(1100);
	expect(args, "damp-b", PAM_AUTHINFO_UNAVAIL, "api", 1);
	ck_assert_int_eq(window_of(dir), 2000);
	pause_ms(1100);
	expect(args, "damp-a", PAM_AUTHINFO_UNAVAIL, "none", 0);
	pause_ms(1000);
	expect(args, "damp-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	ck_assert_int_eq(window_of(dir), 4000);

	/* CSMS is back: the next probe succeeds and the window is gone */
	t_states("damp-a=ENABLED\n");
	pause_ms(4100);
	expect(args, "damp-a", PAM_SUCCESS, "api", 1);
	expect(args, "damp-b", PAM_PERM_DENIED, "api", 1);
	ck_assert_int_eq(count_files(dir), 2); /* the two verdicts, no outage, no probe */
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* Connection refused: the same, with reason=network. */
START_TEST(t_damping_network)
{
	char *dir = t_scratch(), *text, *conf, *args;

	if (asprintf(&text,
		     "[csms]\nendpoint = %s\nproject_id = p1\ntoken_file = %s/token\n"
		     "ca_file = %s\ncache_dir = %s/cache\nretries = 0\n",
		     t_dead_endpoint(), dir, t_env("CSMS_TEST_CA"), dir) < 0)
		abort();
	conf = t_path(dir, "dead.conf");
	t_write_str(conf, text, 0644);
	free(text);
	text = t_path(dir, "token");
	t_write_str(text, T_TOKEN_DEFAULT "\n", 0600);
	free(text);
	if (asprintf(&args, "conf=%s", conf) < 0)
		abort();
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "dg-a", args, T_ACCOUNT, 0).rc, PAM_AUTHINFO_UNAVAIL);
	t_assert_log_field("reason", "network");
	t_assert_log_field("source", "api");
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "dg-b", args, T_ACCOUNT, 0).rc, PAM_AUTHINFO_UNAVAIL);
	t_assert_log_field("reason", "network");
	t_assert_log_field("source", "none");
	t_assert_log_field("attempts", "0");
	free(args);
	free(conf);
	free(dir);
}
END_TEST

/* A damped check still lets a young cached ENABLED in, without a request. */
START_TEST(t_damped_check_uses_grace)
{
	char *dir = t_scratch(), *args = cache_args(dir, "offline_grace = 1h", "");

	t_states("dgrace=ENABLED\n");
	expect(args, "dgrace", PAM_SUCCESS, "api", 1);
	t_states("*=err502\n");
	expect(args, "other-dgrace", PAM_AUTHINFO_UNAVAIL, "api", 1);
	expect(args, "dgrace", PAM_SUCCESS, "stale", 0);
	t_assert_log_field("decision", "permit");
	/* the same for the auth hook, as the decision table says */
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "dgrace", args, T_AUTH, 0).rc, PAM_SUCCESS);
	t_assert_log_field("source", "stale");
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* The window grows to 60 s and no further. */
START_TEST(t_damping_window_cap)
{
	char *dir = t_scratch(), *args = cache_args(dir, "", ""), *path, *text, *p;
	char *fixed;

	t_states("*=err504\n");
	expect(args, "cap-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	path = only_file(dir, "o-");
	text = t_slurp(path);
	p = strstr(text, "\nwindow ");
	ck_assert_ptr_nonnull(p);
	/* as if the last 60 s window had just run out */
	if (asprintf(&fixed, "%.*s\nwindow 60000\nuntil %" PRId64 "\n", (int)(p - text), text,
		     csms_wall_ms() - 10) < 0)
		abort();
	rewrite(path, fixed, 0600);
	expect(args, "cap-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	ck_assert_int_eq(window_of(dir), 60000);
	expect(args, "cap-a", PAM_AUTHINFO_UNAVAIL, "none", 0);
	t_states("");
	free(fixed);
	free(text);
	free(path);
	free(args);
	free(dir);
}
END_TEST

/* A failure one secret can cause (400, a bad body) is not an outage. */
START_TEST(t_per_secret_failures_do_not_damp)
{
	char *dir = t_scratch(), *args = cache_args(dir, "", "");

	t_states("");
	expect(args, "bad400-nd", PAM_AUTHINFO_UNAVAIL, "api", 1);
	expect(args, "garbage-nd", PAM_AUTHINFO_UNAVAIL, "api", 1);
	expect(args, "wrongname-nd", PAM_AUTHINFO_UNAVAIL, "api", 1);
	/* IAM may refuse one secret (403), or one config's token (401) */
	expect(args, "forbidden-nd", PAM_AUTHINFO_UNAVAIL, "api", 1);
	expect(args, "unauth-nd", PAM_AUTHINFO_UNAVAIL, "api", 1);
	expect(args, "enabled-nd", PAM_SUCCESS, "api", 1);
	free(args);
	free(dir);
}
END_TEST

/* A probe token left by a check that died is taken over once it is older than timeout + 5 s;
 * a live one keeps everyone else off the network. */
START_TEST(t_probe_token_stale)
{
	char *dir = t_scratch(), *args = cache_args(dir, "timeout = 1s", ""), *outage, *token;
	struct timespec old[2];
	int fd;

	t_states("*=err503\n");
	expect(args, "tok-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	outage = only_file(dir, "o-");
	token = strdup(outage);
	ck_assert_ptr_nonnull(token);
	token[strlen(token) - 66] = 'p';
	fd = open(token, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	pause_ms(1100);
	/* the window is over, but a live check holds the token */
	expect(args, "tok-a", PAM_AUTHINFO_UNAVAIL, "none", 0);
	/* that check died 10 s ago */
	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 10;
	old[1] = old[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, token, old, 0), 0);
	expect(args, "tok-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	ck_assert_int_eq(window_of(dir), 2000);
	ck_assert_int_ne(access(token, F_OK), 0);
	t_states("");
	free(token);
	free(outage);
	free(args);
	free(dir);
}
END_TEST

/* Disabled in the console, then CSMS goes down: the fresh DISABLED stands, no stale permit. */
START_TEST(t_disabled_then_outage)
{
	char *dir = t_scratch(), *args = cache_args(dir, "offline_grace = 1h", "");

	t_states("dto=ENABLED\n");
	expect(args, "dto", PAM_SUCCESS, "api", 1);
	t_states("dto=DISABLED\n");
	expect(args, "dto", PAM_PERM_DENIED, "api", 1);
	t_states("*=err503\n");
	expect(args, "dto", PAM_AUTHINFO_UNAVAIL, "api", 1);
	expect(args, "dto", PAM_AUTHINFO_UNAVAIL, "none", 0);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* A damping record that cannot be believed is ignored, not obeyed. */
START_TEST(t_outage_record_spoiled)
{
	char *dir = t_scratch(), *args = cache_args(dir, "", ""), *path, *text, *p, *fixed;

	t_states("*=err503\n");
	expect(args, "ospoil", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_states("");
	path = only_file(dir, "o-");
	text = t_slurp(path);
	p = strstr(text, "\nwindow ");
	ck_assert_ptr_nonnull(p);
	/* dated an hour ahead: a clock that jumped, not an outage */
	if (asprintf(&fixed, "%.*s\nwindow 60000\nuntil %" PRId64 "\n", (int)(p - text), text,
		     csms_wall_ms() + (int64_t)3600 * 1000) < 0)
		abort();
	rewrite(path, fixed, 0600);
	expect(args, "enabled-ospoil", PAM_SUCCESS, "api", 1);
	free(fixed);
	free(text);
	free(path);

	/* world-readable, and garbage */
	t_states("*=err503\n");
	expect(args, "ospoil", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_states("");
	path = only_file(dir, "o-");
	ck_assert_int_eq(chmod(path, 0644), 0);
	expect(args, "enabled-ospoil", PAM_SUCCESS, "api", 1);
	t_states("*=err503\n");
	expect(args, "ospoil", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_states("");
	free(path);
	path = only_file(dir, "o-");
	rewrite(path, "pam_csms outage 1\nreason network\n", 0600);
	expect(args, "enabled-ospoil", PAM_SUCCESS, "api", 1);
	free(path);
	free(args);
	free(dir);
}
END_TEST

/* Once a window runs out, many checks at once still send one probe. */
START_TEST(t_one_probe_per_window)
{
	char *dir = t_scratch(), *args = cache_args(dir, "timeout = 2s", "");
	int before, status, damped = 0;
	pid_t kids[8];

	t_states("*=stall\n");
	expect(args, "probe-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_assert_log_field("reason", "timeout");
	pause_ms(1100);
	before = t_requests_total();
	for (int i = 0; i < 8; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			char user[32];

			snprintf(user, sizeof(user), "probe-k%d", i);
			_exit(t_pam("sshd", user, args, T_ACCOUNT, 0).rc == PAM_AUTHINFO_UNAVAIL
				      ? 0
				      : 1);
		}
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		ck_assert(WIFEXITED(status));
		damped += WEXITSTATUS(status) == 0;
	}
	ck_assert_int_eq(damped, 8);
	ck_assert_int_eq(t_requests_total() - before, 1);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* Without cache_dir, cache_ttl or offline_grace the module keeps no state: every check asks. */
START_TEST(t_stateless_by_default)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "retries = 0", "");

	t_states("*=err503\n");
	expect(args, "sl-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	expect(args, "sl-a", PAM_AUTHINFO_UNAVAIL, "api", 1);
	t_states("");
	expect(args, "enabled-sl", PAM_SUCCESS, "api", 1);
	expect(args, "enabled-sl", PAM_SUCCESS, "api", 1);
	free(args);
	free(dir);
}
END_TEST

/* ---- concurrency -------------------------------------------------------------------- */

#define LOGINS 200
#define USERS 20
#define PROCS 32

static void user_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "%s-conc%02d", i % 2 ? "disabled" : "enabled", i);
}

/*
 * 200 logins for 20 users from 32 processes at once: every decision right, and with the
 * cache, every entry whole and true, with no temporary file left behind.
 */
static void run_concurrent(bool cached)
{
	char *dir = t_scratch();
	char *args = cached ? cache_args(dir, "cache_ttl = 1h", "") : t_conf_args(dir, "", "");
	int wrong = 0, status, before;
	pid_t kids[PROCS];

	t_states("");
	before = t_requests_total();
	for (int p = 0; p < PROCS; p++) {
		kids[p] = fork();
		ck_assert_int_ge(kids[p], 0);
		if (kids[p] == 0) {
			int bad = 0;

			for (int n = p; n < LOGINS; n += PROCS) {
				char user[32];
				int u = (n * 7) % USERS, rc;

				user_name(user, sizeof(user), u);
				rc = t_pam("sshd", user, args, T_ACCOUNT, 0).rc;
				bad += rc != (u % 2 ? PAM_PERM_DENIED : PAM_SUCCESS);
			}
			_exit(bad);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		ck_assert_int_eq(waitpid(kids[p], &status, 0), kids[p]);
		ck_assert(WIFEXITED(status));
		wrong += WEXITSTATUS(status);
	}
	ck_assert_int_eq(wrong, 0);
	if (!cached) {
		ck_assert_int_eq(t_requests_total() - before, LOGINS);
	} else {
		struct csms_cache c;
		char *cache = t_path(dir, "cache");
		int files = count_files(dir);

		ck_assert_int_lt(t_requests_total() - before, LOGINS);
		ck_assert_int_ge(t_requests_total() - before, USERS);
		ck_assert_msg(files == USERS, "%d files in the cache, expected %d", files, USERS);
		ck_assert_int_eq(csms_cache_open(&c, cache, t_endpoint(),
						 t_env("CSMS_STANDIN_PROJECT"), false),
				 0);
		for (int u = 0; u < USERS; u++) {
			struct csms_cache_entry e;
			char user[32];

			user_name(user, sizeof(user), u);
			ck_assert_msg(csms_cache_get(&c, user, &e) == 0, "entry for %s unreadable",
				      user);
			ck_assert(e.answer.kind == CSMS_STATE_STRING && !e.answer.missing);
			ck_assert_str_eq(e.answer.state, u % 2 ? "DISABLED" : "ENABLED");
		}
		csms_cache_close(&c);
		free(cache);
	}
	free(args);
	free(dir);
}

START_TEST(t_concurrent_logins)
{
	run_concurrent(false);
}
END_TEST

START_TEST(t_concurrent_logins_cached)
{
	run_concurrent(true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache");
	TCase *cache = tcase_create("cache"), *damp = tcase_create("damping");
	TCase *conc = tcase_create("concurrency");

	tcase_add_test(cache, t_sha256);
	tcase_add_test(cache, t_ttl_reuses_permit_and_deny);
	tcase_add_test(cache, t_modes_under_umask);
	tcase_add_test(cache, t_ttl_policy_applies_at_read);
	tcase_add_test(cache, t_ttl_per_service);
	tcase_add_test(cache, t_keylog_gets_no_stale_permit);
	tcase_add_test(cache, t_missing_unknown_name_not_kept);
	tcase_add_test(cache, t_ttl_expires);
	tcase_add_test(cache, t_fresh_answer_replaces);
	tcase_add_test(cache, t_grace_permits_only_enabled_when_unanswered);
	tcase_add_test(cache, t_grace_expires);
	tcase_add_loop_test(cache, t_spoiled_entry_is_absent, 0,
			    (int)(sizeof(spoilers) / sizeof(spoilers[0])));
	tcase_add_test(cache, t_unsafe_dir_refused);
	tcase_add_test(cache, t_csms_check_no_cache);
	tcase_add_test(damp, t_damping_skips_network_then_probes);
	tcase_add_test(damp, t_damping_network);
	tcase_add_test(damp, t_damped_check_uses_grace);
	tcase_add_test(damp, t_damping_window_cap);
	tcase_add_test(damp, t_per_secret_failures_do_not_damp);
	tcase_add_test(damp, t_outage_record_spoiled);
	tcase_add_test(damp, t_one_probe_per_window);
	tcase_add_test(damp, t_probe_token_stale);
	tcase_add_test(damp, t_disabled_then_outage);
	tcase_add_test(damp, t_stateless_by_default);
	tcase_add_test(conc, t_concurrent_logins);
	tcase_add_test(conc, t_concurrent_logins_cached);
	suite_add_tcase(s, cache);
	suite_add_tcase(s, damp);
	suite_add_tcase(s, conc);
	return t_run(s);
}
