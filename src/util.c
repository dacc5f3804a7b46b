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

bool csms_prefix_icase(const char *s, size_t n, const char *lower)
{
	size_t nl = strlen(lower);

	if (n < nl)
		return false;
	for (size_t i = 0; i < nl; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return false;
	}
	return true;
}

size_t csms_utf8_seq(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* the second byte's range is what rules out overlong forms, surrogates and > U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}
