/*
 * pamrun: run one real PAM transaction (pam_start_confdir) and print what came of it,
 * with the module's log line. Used by ./quickstart.sh demo.
 *   pamrun CONFDIR SERVICE USER account|auth
 */
#include "buildconf.h"

#include <security/pam_appl.h>
#include <stdio.h>
#include <string.h>

const char *t_log(void);

static char shown[1024];

static int conv_record(int n, const struct pam_message **msg, struct pam_response **resp,
		       void *data)
{
	(void)data;
	*resp = NULL;
	for (int i = 0; i < n; i++) {
		size_t used = strlen(shown);

		if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			return PAM_CONV_ERR;
		snprintf(shown + used, sizeof(shown) - used, "    the user sees: %s\n",
			 msg[i]->msg);
	}
	return PAM_SUCCESS;
}

/* Only the module's own lines; libpam's notes about the test confdir are noise here. */
static void print_module_log(void)
{
	const char *p = t_log();

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (strncmp(p, "pam_csms(", 9) == 0)
			printf("    log: %.*s\n", (int)n, p);
		p += n + (nl != NULL);
	}
}

static const char *code_name(int rc)
{
	switch (rc) {
	case PAM_SUCCESS:
		return "PAM_SUCCESS";
	case PAM_PERM_DENIED:
		return "PAM_PERM_DENIED";
	case PAM_AUTH_ERR:
		return "PAM_AUTH_ERR";
	case PAM_AUTHINFO_UNAVAIL:
		return "PAM_AUTHINFO_UNAVAIL";
	case PAM_SERVICE_ERR:
		return "PAM_SERVICE_ERR";
	case PAM_IGNORE:
		return "PAM_IGNORE";
	default:
		return "other";
	}
}

int main(int argc, char **argv)
{
	struct pam_conv conv = { conv_record, NULL };
	pam_handle_t *pamh = NULL;
	int rc;

	if (argc != 5 || (strcmp(argv[4], "account") != 0 && strcmp(argv[4], "auth") != 0)) {
		fprintf(stderr, "usage: pamrun CONFDIR SERVICE USER account|auth\n");
		return 64;
	}
	rc = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start_confdir: %s\n", pam_strerror(NULL, rc));
		return 70;
	}
	rc = strcmp(argv[4], "account") == 0 ? pam_acct_mgmt(pamh, 0) : pam_authenticate(pamh, 0);
	printf("  %-6s %-8s -> %s (%s)\n", argv[3], argv[4], code_name(rc), pam_strerror(pamh, rc));
	pam_end(pamh, rc);
	print_module_log();
	fputs(shown, stdout);
	return rc == PAM_SUCCESS ? 0 : 1;
}
