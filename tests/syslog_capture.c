/*
 * Test-only: the test programs define syslog() themselves, so the lines libpam's
 * pam_syslog() writes for the real module land in memory where the tests can read them.
 * The executable's symbols come first in the lookup scope of libpam and the module.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CAP ((size_t)256 * 1024)
#define EXPORT __attribute__((visibility("default")))

static char captured[CAP];
static size_t used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void t_log_reset(void);
const char *t_log(void);
void syslog(int pri, const char *fmt, ...);
void vsyslog(int pri, const char *fmt, va_list ap);
void __syslog_chk(int pri, int flag, const char *fmt, ...);
void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);

EXPORT void t_log_reset(void)
{
	used = 0;
	captured[0] = '\0';
}

EXPORT const char *t_log(void)
{
	return captured;
}

EXPORT void vsyslog(int pri, const char *fmt, va_list ap)
{
	int n;

	(void)pri;
	pthread_mutex_lock(&lock);
	if (used + 2 >= CAP) {
		pthread_mutex_unlock(&lock);
		return;
	}
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): the caller's va_list, started
	n = vsnprintf(captured + used, CAP - used - 1, fmt, ap);
	if (n >= 0) {
		used += (size_t)n < CAP - used - 1 ? (size_t)n : CAP - used - 2;
		captured[used++] = '\n';
		captured[used] = '\0';
	}
	pthread_mutex_unlock(&lock);
}

EXPORT void syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

EXPORT void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(pri, fmt, ap);
}

EXPORT void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}
