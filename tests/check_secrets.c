/*
 * Several secrets per login (secret = a, b, ...) through real libpam against the stand-in:
 * every combination of two secrets' answers with each on_missing, the PAM code, the log's
 * secret= and decided_by=, and the requests and TLS connections the stand-in counted.
 */
#include "buildconf.h"

#include "testlib.h"

#include <check.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one secret answers: ENABLED, DISABLED, no such secret, no answer (503), or no answer
 * with a young cached ENABLED (offline_grace). */
enum kind { E, D, M, U, G, NKINDS };

static const char *const kind_state[] = { "ENABLED", "DISABLED", "nf404", "err503", "err503" };
static const char *const kind_name[] = { "E", "D", "M", "U", "G" };

struct outcome {
	int rc;
	const char *decision, *reason;
	int decider; /* 0 or 1: which secret decided */
	int checked; /* how many secrets were looked at (a deny stops the rest) */
	bool stale;  /* a grace permit is among them */
};

/* A secret alone: permit, deny, ignore, or "cannot answer" (still open to grace). */
enum alone { PERMIT, DENY, IGNORE, CANNOT };

static enum alone alone(enum kind k, bool ignore_missing)
{
	switch (k) {
	case E:
	case G:
		return k == E ? PERMIT : CANNOT; /* G turns into a stale permit */
	case D:
		return DENY;
	case M:
		return ignore_missing ? IGNORE : DENY;
	default:
		return CANNOT;
	}
}

/* The specification, written out: the first deny decides; else the first secret that could
 * not be answered and has no young ENABLED; else ignore if all are ignored; else permit. */
static struct outcome expected(enum kind a, enum kind b, bool ignore_missing)
{
	const enum kind k[2] = { a, b };
	struct outcome o = { PAM_SUCCESS, "permit", "state", 1, 2, false };

	if (alone(a, ignore_missing) == DENY)
		return (struct outcome){
			PAM_PERM_DENIED, "deny", a == M ? "not_found" : "state", 0, 1, false
		};
	if (alone(b, ignore_missing) == DENY)
		return (struct outcome){
			PAM_PERM_DENIED, "deny", b == M ? "not_found" : "state", 1, 2, false
		};
	for (int i = 0; i < 2; i++)
		if (k[i] == U)
			return (struct outcome){
				PAM_AUTHINFO_UNAVAIL, "unavailable", "http", i, 2, false
			};
	o.stale = a == G || b == G;
	if (alone(a, ignore_missing) == IGNORE && alone(b, ignore_missing) == IGNORE)
		return (struct outcome){ PAM_IGNORE, "ignore", "not_found", 1, 2, false };
	/* permit: the last secret that permits decides */
	o.decider = alone(b, ignore_missing) == IGNORE ? 0 : 1;
	return o;
}

/* The names: sa-<row>-<kinds> and sb-<row>-<kinds>. */
static void names(int row, enum kind a, enum kind b, char *na, char *nb, size_t len)
{
	snprintf(na, len, "sa-%d-%s%s", row, kind_name[a], kind_name[b]);
	snprintf(nb, len, "sb-%d-%s%s", row, kind_name[a], kind_name[b]);
}

START_TEST(t_pair)
{
	int row = _i;
	enum kind a = (enum kind)(row / (2 * NKINDS) % NKINDS), b = (enum kind)(row / 2 % NKINDS);
	bool ignore_missing = row % 2 == 1;
	struct outcome want = expected(a, b, ignore_missing);
	char na[64], nb[64], states[256], *dir = t_scratch(), *args, *one, *extra;
	const enum kind k[2] = { a, b };
	char user[16];

	names(row, a, b, na, nb, sizeof(na));
	snprintf(user, sizeof(user), "u%d", row);
	if (asprintf(&extra,
		     "cache_dir = %s/cache\noffline_grace = 1h\nretries = 0\non_missing = %s\n"
		     "secret = %s, %s",
		     dir, ignore_missing ? "ignore" : "deny", na, nb) < 0)
		abort();
	args = t_conf_args(dir, extra, "");
	/* a young cached ENABLED for each G: asked alone, while it was ENABLED */
	for (int i = 0; i < 2; i++) {
		if (k[i] != G)
			continue;
		if (asprintf(&one, "%s secret=%s", args, i == 0 ? na : nb) < 0)
			abort();
		snprintf(states, sizeof(states), "%s=ENABLED\n", i == 0 ? na : nb);
		t_states(states);
		ck_assert_int_eq(t_pam("sshd", user, one, T_ACCOUNT, 0).rc, PAM_SUCCESS);
		free(one);
	}
	snprintf(states, sizeof(states), "%s=%s\n%s=%s\n", na, kind_state[a], nb, kind_state[b]);
	t_states(states);
	{
		int before_a = t_requests_for(na), before_b = t_requests_for(nb);
		struct t_pam_result r;
		char *field;

		t_log_reset();
		r = t_pam("sshd", user, args, T_ACCOUNT, 0);
		ck_assert_msg(r.rc == want.rc, "%s+%s (%s): rc %d, want %d\n%s", kind_name[a],
			      kind_name[b], ignore_missing ? "ignore" : "deny", r.rc, want.rc,
			      t_log());
		t_assert_log_field("decision", want.decision);
		t_assert_log_field("reason", want.reason);
		t_assert_log_field("decided_by", want.decider == 0 ? na : nb);
		field = t_log_field("secret");
		if (want.checked == 1)
			ck_assert_str_eq(field, na);
		else
			ck_assert_msg(strncmp(field, na, strlen(na)) == 0 &&
					      field[strlen(na)] == ',' &&
					      strcmp(field + strlen(na) + 1, nb) == 0,
				      "secret=%s", field);
		free(field);
		if (want.stale)
			t_assert_log_field("source", "stale");
		/* a deny on the first secret asks nothing about the second */
		ck_assert_int_eq(t_requests_for(na) - before_a, 1);
		ck_assert_int_eq(t_requests_for(nb) - before_b, want.checked == 2 ? 1 : 0);
	}
	if (want.checked == 2 && a != G && b != G) {
		const char *checked[3] = { na, nb, NULL };

		/* both asked on one TLS connection (kept alive) */
		ck_assert_int_eq(t_connections_for(checked), 1);
	}
	t_states("");
	free(args);
	free(extra);
	free(dir);
}
END_TEST

/* fail_mode=open: a secret CSMS could not answer opens; a deny elsewhere still denies. */
START_TEST(t_fail_open)
{
	char *dir = t_scratch(), *args;

	args = t_conf_args(dir, "fail_mode = open\nretries = 0\nsecret = fo-a-%u, fo-b-%u", "");
	t_states("fo-a-x=err503\nfo-b-x=ENABLED\nfo-a-y=err503\nfo-b-y=DISABLED\n");
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "x", args, T_ACCOUNT, 0).rc, PAM_IGNORE);
	t_assert_log_field("decision", "fail_open");
	t_assert_log_field("decided_by", "fo-a-x");
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "y", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	t_assert_log_field("decided_by", "fo-b-y");
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* A 403 may be one secret's alone (IAM allows some secrets, not others): the next secret is
 * still asked, and its DISABLED denies under fail_mode=open; a 401 answers for all. */
START_TEST(t_forbidden_one)
{
	char *dir = t_scratch(), *args;

	args = t_conf_args(dir, "fail_mode = open\nsecret = fb-a-%u, fb-b-%u", "");
	t_states("fb-a-x=forbidden\nfb-b-x=DISABLED\nfb-a-y=unauth\nfb-b-y=DISABLED\n");
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "x", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	t_assert_log_field("decided_by", "fb-b-x");
	ck_assert_int_eq(t_requests_for("fb-b-x"), 1);
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "y", args, T_ACCOUNT, 0).rc, PAM_IGNORE);
	t_assert_log_field("decision", "fail_open");
	t_assert_log_field("reason", "credentials_rejected");
	ck_assert_int_eq(t_requests_for("fb-b-y"), 0);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* The fleet kill switch: one shared secret FROZEN keeps everyone out but bypass_users; with
 * cache_ttl it is one entry for every user of the host. */
START_TEST(t_kill_switch)
{
	char *dir = t_scratch(), *extra, *args;
	int before;

	if (asprintf(&extra,
		     "secret = ks-%%u, fleet-access-ks\nbypass_users = breakglass\ncache_dir = "
		     "%s/cache\ncache_ttl = 1h",
		     dir) < 0)
		abort();
	args = t_conf_args(dir, extra, "");
	t_states("ks-alice=ENABLED\nks-bob=ENABLED\nfleet-access-ks=ENABLED\n");
	ck_assert_int_eq(t_pam("sshd", "alice", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	before = t_requests_for("fleet-access-ks");
	ck_assert_int_eq(t_pam("sshd", "bob", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	/* bob's own secret is asked; the shared one comes from the cache alice's check filled */
	ck_assert_int_eq(t_requests_for("fleet-access-ks"), before);
	ck_assert_int_eq(t_requests_for("ks-bob"), 1);
	t_assert_log_field("secret", "ks-bob,fleet-access-ks");
	free(args);
	free(extra);
	/* frozen, with the cache off: everyone is out at once, the break-glass account is not */
	args = t_conf_args(dir, "secret = ks-%u, fleet-access-ks\nbypass_users = breakglass", "");
	t_states("ks-alice=ENABLED\nks-bob=ENABLED\nfleet-access-ks=FROZEN\n");
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "alice", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	t_assert_log_field("state", "FROZEN");
	t_assert_log_field("decided_by", "fleet-access-ks");
	ck_assert_int_eq(t_pam("sshd", "bob", args, T_AUTH, 0).rc, PAM_AUTH_ERR);
	ck_assert_int_eq(t_pam("sshd", "breakglass", args, T_ACCOUNT, 0).rc, PAM_IGNORE);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* %g is the primary group the account database gives; a name that does not expand denies
 * before any request is made, for any of the secrets. */
START_TEST(t_group_and_invalid)
{
	char *dir = t_scratch(), *args = t_conf_args(dir, "secret = %u, team-%g", "");

	t_states("root=ENABLED\nteam-root=ENABLED\n");
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "root", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	t_assert_log_field("secret", "root,team-root");
	ck_assert_int_eq(t_requests_for("team-root"), 1);
	/* no such account: no primary group, so team-%g has no name */
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "enabled-nogroup", args, T_ACCOUNT, 0).rc, PAM_PERM_DENIED);
	t_assert_log_field("reason", "invalid_name");
	t_assert_log_field("decided_by", "team-");
	ck_assert_int_eq(t_requests_for("enabled-nogroup"), 0);
	free(args);
	/* the second template invalid for this user: the first is not asked either */
	args = t_conf_args(dir, "secret = enabled-%u, xxxxxxxxxx%u", "");
	t_log_reset();
	/* 56 bytes: enabled-%u is 64 and valid, xxxxxxxxxx%u is 66 */
	ck_assert_int_eq(t_pam("sshd", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			       args, T_ACCOUNT, 0)
				 .rc,
			 PAM_PERM_DENIED);
	t_assert_log_field("reason", "invalid_name");
	ck_assert_int_eq(
		t_requests_for("enabled-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		0);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

/* Eight secrets, all ENABLED: eight requests, one connection, within one budget. */
START_TEST(t_eight)
{
	char *dir = t_scratch(), *args;
	const char *all[] = {
		"e8-1", "e8-2", "e8-3", "e8-4", "e8-5", "e8-6", "e8-7", "e8-8", NULL
	};

	args = t_conf_args(dir, "secret = e8-1,e8-2,e8-3,e8-4,e8-5,e8-6,e8-7,e8-8", "");
	t_states("e8-1=ENABLED\ne8-2=ENABLED\ne8-3=ENABLED\ne8-4=ENABLED\ne8-5=ENABLED\n"
		 "e8-6=ENABLED\ne8-7=ENABLED\ne8-8=ENABLED\n");
	t_log_reset();
	ck_assert_int_eq(t_pam("sshd", "someone", args, T_ACCOUNT, 0).rc, PAM_SUCCESS);
	t_assert_log_field("attempts", "8");
	t_assert_log_field("decided_by", "e8-8");
	ck_assert_int_eq(t_connections_for(all), 1);
	t_states("");
	free(args);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secrets");
	TCase *pairs = tcase_create("pairs"), *tc = tcase_create("secrets");

	tcase_set_timeout(pairs, 30);
	tcase_add_loop_test(pairs, t_pair, 0, NKINDS * NKINDS * 2);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_fail_open);
	tcase_add_test(tc, t_forbidden_one);
	tcase_add_test(tc, t_kill_switch);
	tcase_add_test(tc, t_group_and_invalid);
	tcase_add_test(tc, t_eight);
	suite_add_tcase(s, pairs);
	suite_add_tcase(s, tc);
	return t_run(s);
}
