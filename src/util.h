/* Small helpers shared by the core: bounded strings, error buffers, the monotonic clock. */
#ifndef CSMS_UTIL_H
#define CSMS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CSMS_ERRLEN 256

/* A parameter a callback or hook must take but does not use (as Linux-PAM's modules do). */
#define UNUSED __attribute__((unused))

/* Copy at most dstlen-1 bytes and always terminate; returns strlen(src). */
size_t csms_strlcpy(char *dst, const char *src, size_t dstlen);

/* Format an explanation into err (if err is not NULL); never fails. */
void csms_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Milliseconds on CLOCK_MONOTONIC: immune to wall-clock jumps. */
int64_t csms_now_ms(void);

/* Milliseconds since the epoch: for times that other processes read back (cache_dir). */
int64_t csms_wall_ms(void);

/* A timespec (a clock reading, a file's st_mtim) in milliseconds. */
int64_t csms_timespec_ms(const struct timespec *ts);

/* Sleep until the monotonic time `until_ms`, restarting after signals. */
void csms_sleep_until_ms(int64_t until_ms);

/* A uniformly distributed value in [0, bound) for back-off jitter (not for secrets). */
uint32_t csms_jitter(uint32_t bound);

bool csms_streq_len(const char *a, size_t alen, const char *b);

/* s[0..n) starts with `lower` (lower case), ignoring ASCII case: header names, media types. */
bool csms_prefix_icase(const char *s, size_t n, const char *lower);

/* The length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF; n > 0), or 0 when s[0] does not start one. */
size_t csms_utf8_seq(const char *s, size_t n);

#endif
