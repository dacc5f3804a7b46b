/* csms-check --doctor: each thing a check needs, tested in turn, with the fix when it fails. */
#ifndef CSMS_DOCTOR_H
#define CSMS_DOCTOR_H

#include <stdio.h>

/* Token files older than this are reported as stale (IAM tokens live 24 h). */
#define CSMS_DOCTOR_TOKEN_MAX_AGE ((long)23 * 3600)
/* Clock skew that breaks signatures and makes certificates look invalid. */
#define CSMS_DOCTOR_MAX_SKEW 300

/*
 * Check the config `argv` selects (as for the module), file owners and modes, the
 * credentials, DNS, TCP, the TLS chain and host name, clock skew and one ShowSecret call.
 * Prints one line per check to out: "NAME: ok ..." or "NAME: FAIL: what; fix". Returns
 * 0 when every check passed, else the number of failed checks.
 */
int csms_doctor(int argc, const char *const *argv, FILE *out);

#endif
