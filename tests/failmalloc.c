/*
 * Test-only LD_PRELOAD: from the FAILMALLOC_AT-th allocation on, malloc, calloc and
 * realloc fail. With FAILMALLOC_COUNT set, the number of allocations made is written to
 * stderr at exit. Used by tests/test_failmalloc.sh on csms-check; never linked anywhere.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t a, size_t b);
void *__libc_realloc(void *p, size_t n);

static long fail_at = -1, calls;

static int should_fail(void)
{
	if (fail_at == -1) {
		const char *v = getenv("FAILMALLOC_AT");

		fail_at = v ? strtol(v, NULL, 10) : 0;
	}
	calls++;
	if (fail_at > 0 && calls >= fail_at) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

EXPORT void *malloc(size_t n)
{
	return should_fail() ? NULL : __libc_malloc(n);
}

EXPORT void *calloc(size_t a, size_t b)
{
	return should_fail() ? NULL : __libc_calloc(a, b);
}

EXPORT void *realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __libc_realloc(p, n);
}

__attribute__((destructor)) static void report(void)
{
	char line[64];
	int n;

	if (getenv("FAILMALLOC_COUNT") == NULL)
		return;
	n = snprintf(line, sizeof(line), "failmalloc: %ld allocations\n", calls);
	if (n > 0 && write(2, line, (size_t)n) < 0)
		return;
}
