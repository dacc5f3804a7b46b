/* The libFuzzer entry point, shared by the harnesses and fuzz/standalone_main.c. */
#ifndef CSMS_FUZZ_H
#define CSMS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Returns 0 (or -1 to keep the input out of the corpus); an invariant violation traps. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Name the broken invariant, then trap: libFuzzer and the replay runner both see a crash. */
#define FUZZ_CHECK(cond)                                                                       \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, \
				#cond);                                                        \
			fflush(stderr);                                                        \
			__builtin_trap();                                                      \
		}                                                                              \
	} while (0)

#endif
