/*
 * pamtx CONFDIR SERVICE USER: one PAM account transaction, as a login runs it
 * (pam_start_confdir, pam_acct_mgmt, pam_end). Exit 0 on PAM_SUCCESS, else 1 (2: usage
 * or pam_start_confdir failed). Prompts are refused; messages are dropped.
 *
 * libpam reads CONFDIR/SERVICE only if root owns it and others cannot write it.
 */
#include <security/pam_appl.h>
#include <stdio.h>

static int conv_none(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)data;
	*resp = NULL;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			return PAM_CONV_ERR;
	return PAM_SUCCESS;
}

int main(int argc, char **argv)
{
	struct pam_conv conv = { conv_none, NULL };
	pam_handle_t *pamh = NULL;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: pamtx CONFDIR SERVICE USER\n");
		return 2;
	}
	rc = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pamtx: pam_start_confdir: %s\n", pam_strerror(NULL, rc));
		return 2;
	}
	rc = pam_acct_mgmt(pamh, 0);
	pam_end(pamh, rc);
	return rc == PAM_SUCCESS ? 0 : 1;
}
