/* SPDX-License-Identifier: ISC */
/*
 * A minimal table-driven test harness: CHECK records a failure with its
 * location and carries on, so one run reports every broken row; main()
 * returns test_finish(), non-zero when anything failed. Tests print
 * "N passed, N failed" so CI can read the outcome.
 */
#ifndef SIGNET_TESTLIB_H
#define SIGNET_TESTLIB_H

#include <stdio.h>
#include <string.h>

static int test_passed;
static int test_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
			    __LINE__, #cond);                                  \
		}                                                              \
	} while (0)

#define CHECKF(cond, ...)                                                      \
	do {                                                                   \
		if (cond) {                                                    \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, \
			    __LINE__, #cond);                                  \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

/* Asserts that the text contains the substring. */
#define CHECK_CONTAINS(text, sub)                                              \
	CHECKF(strstr((text), (sub)) != NULL,                                  \
	    "\"%s\" does not contain \"%s\"", (text), (sub))

static inline int
test_finish(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
	return test_failed == 0 ? 0 : 1;
}

#endif
