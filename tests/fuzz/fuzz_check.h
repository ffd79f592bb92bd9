/*
 * fuzz_check.h — FZ_CHECK, the fuzz targets' assertion (they link neither
 * Check nor the test harness): a property that must hold for every input.
 * On failure it names the place and aborts, so libFuzzer keeps the input.
 */
#ifndef MS_FUZZ_CHECK_H
#define MS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond)                                                     \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
			        #cond);                                    \
			abort();                                           \
		}                                                          \
	} while (0)

#endif
