/* Small helpers shared by the core: bounded strings, error buffers, the monotonic clock. */
#include "buildconf.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

size_t csms_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);

	if (dstlen > 0) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void csms_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* clang 14's analyzer misreads va_start here (valist.Uninitialized false positive) */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	if (err != NULL && errlen > 0 && vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

int64_t csms_timespec_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	return clock_gettime(clock, &ts) == 0 ? csms_timespec_ms(&ts) : 0;
}

int64_t csms_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t csms_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

void csms_sleep_until_ms(int64_t until_ms)
{
	struct timespec ts = {
		.tv_sec = until_ms / 1000,
		.tv_nsec = (long)(until_ms % 1000) * 1000000L,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

uint32_t csms_jitter(uint32_t bound)
{
	uint32_t r = 0;

	if (bound == 0)
		return 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint32_t)ts.tv_nsec;
	}
	return r % bound;
}

bool csms_streq_len(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && memcmp(a, b, alen) == 0;
}
