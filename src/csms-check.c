/* csms-check: run the module's decision for one user from the command line. */
#include "buildconf.h"

#include "config.h"
#include "decision.h"
#include "doctor.h"
#include "http.h"
#include "util.h"
#include "verdict.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	EXIT_PERMIT = 0,
	EXIT_DENY = 1,
	EXIT_IGNORE = 2,
	EXIT_UNAVAILABLE = 3,
	EXIT_ERROR = 4,
	EXIT_USAGE = 64,
};

#define MAX_OVERRIDES 64

static void usage(FILE *f)
{
	fprintf(f, "usage: csms-check [-c CONF] [-s SERVICE] [-o KEY=VALUE]... [--json] "
		   "[--no-cache] USER\n"
		   "       csms-check [-c CONF] --doctor\n");
}

/* Same answer as pam_modutil_user_in_group_nam_nam: primary group or listed member. */
static int user_in_group(void *ctx UNUSED, const char *user, const char *group)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char pwbuf[16384], *grbuf;
	size_t grlen = 1 << 20;
	int member = 0;

	if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || pwp == NULL)
		return 0;
	grbuf = malloc(grlen);
	if (grbuf == NULL)
		return -ENOMEM;
	if (getgrnam_r(group, &gr, grbuf, grlen, &grp) == 0 && grp != NULL) {
		if (gr.gr_gid == pw.pw_gid)
			member = 1;
		for (char **m = gr.gr_mem; !member && m != NULL && *m != NULL; m++)
			if (strcmp(*m, user) == 0)
				member = 1;
	}
	free(grbuf);
	return member;
}

static int exit_code(const struct csms_verdict *v)
{
	switch (v->decision) {
	case CSMS_DECISION_PERMIT:
		return EXIT_PERMIT;
	case CSMS_DECISION_DENY:
		return EXIT_DENY;
	case CSMS_DECISION_IGNORE:
	case CSMS_DECISION_BYPASS:
	case CSMS_DECISION_FAIL_OPEN:
		return EXIT_IGNORE;
	case CSMS_DECISION_UNAVAILABLE:
		return EXIT_UNAVAILABLE;
	case CSMS_DECISION_ERROR:
		break;
	}
	return EXIT_ERROR;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },    { "no-cache", no_argument, NULL, 'n' },
		{ "doctor", no_argument, NULL, 'd' },  { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 },
	};
	const char *args[MAX_OVERRIDES + 1];
	char confarg[4200] = "", host[256], line[4096], err[CSMS_ERRLEN];
	const char *service = "csms-check", *user;
	struct csms_config cfg;
	struct csms_verdict v;
	struct csms_request rq;
	bool json = false, doctor = false, no_cache = false, has_conf = false;
	int nargs = 0, opt, rc, code;

	/* an admin tool, not a login: find a broken libcurl set at load, whatever it costs */
	csms_http_bind_now();
	while ((opt = getopt_long(argc, argv, "c:s:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (has_conf) {
				fprintf(stderr, "csms-check: -c: the config file is named twice "
						"(-c or -o conf= once)\n");
				return EXIT_USAGE;
			}
			has_conf = true;
			if (snprintf(confarg, sizeof(confarg), "conf=%s", optarg) >=
			    (int)sizeof(confarg)) {
				fprintf(stderr, "csms-check: -c: path too long\n");
				return EXIT_USAGE;
			}
			args[nargs++] = confarg;
			break;
		case 's':
			service = optarg;
			break;
		case 'o':
			if (nargs >= MAX_OVERRIDES) {
				fprintf(stderr, "csms-check: too many -o options\n");
				return EXIT_USAGE;
			}
			if (strchr(optarg, '=') == NULL && strcmp(optarg, "debug") != 0) {
				fprintf(stderr, "csms-check: -o %s: expected KEY=VALUE\n", optarg);
				return EXIT_USAGE;
			}
			if (strncmp(optarg, "conf=", 5) == 0 && has_conf) {
				fprintf(stderr,
					"csms-check: -o conf=: the config file is named twice "
					"(-c or -o conf= once)\n");
				return EXIT_USAGE;
			}
			has_conf = has_conf || strncmp(optarg, "conf=", 5) == 0;
			args[nargs++] = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			no_cache = true;
			break;
		case 'd':
			doctor = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_PERMIT;
		case 'V':
			printf("csms-check %s\n", PACKAGE_VERSION);
			return EXIT_PERMIT;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (doctor) {
		if (optind != argc || json) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return csms_doctor(nargs, args, stdout) == 0 ? EXIT_PERMIT : EXIT_DENY;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	user = argv[optind];

	csms_verdict_init(&v);
	rc = csms_config_init(&cfg);
	if (rc == 0)
		rc = csms_config_load(&cfg, service, nargs, args, err, sizeof(err));
	if (rc != 0) {
		csms_verdict_set_error(&v, rc, rc == -ENOMEM ? "out of memory" : err);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;
		char pwbuf[16384], grbuf[16384];

		if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0)
			pwp = NULL;
		if (pwp == NULL || !csms_config_needs_group(&cfg) ||
		    getgrgid_r(pw.pw_gid, &gr, grbuf, sizeof(grbuf), &grp) != 0)
			grp = NULL;
		rq = (struct csms_request){
			.cfg = &cfg,
			.user = user,
			.account_name = pwp ? pwp->pw_name : NULL,
			.group = grp ? grp->gr_name : NULL,
			.service = service,
			.host = host,
			.in_group = user_in_group,
			.want_metadata = json,
			.no_cache = no_cache,
		};
		csms_decide(&rq, &v);
	}

	if (json) {
		char *out = csms_verdict_json(&v, user, service);

		if (out == NULL) {
			fprintf(stderr, "csms-check: out of memory\n");
			code = EXIT_ERROR;
			goto out;
		}
		puts(out);
		free(out);
	} else {
		/* several secrets: one line each, then the decision as the module logs it */
		for (size_t i = 0; v.ntemplates > 1 && i < v.nsecrets; i++) {
			csms_secret_result_format(&v.secrets[i], line, sizeof(line));
			printf("  %s\n", line);
		}
		csms_verdict_format(&v, user, service, line, sizeof(line));
		puts(line);
	}
	if (rc == 0 && cfg.debug && v.trace[0] != '\0')
		fprintf(stderr, "debug: endpoint=%s attempts: %s\n", cfg.endpoint, v.trace);
	code = exit_code(&v);
out:
	csms_verdict_free(&v);
	csms_config_free(&cfg);
	return code;
}
