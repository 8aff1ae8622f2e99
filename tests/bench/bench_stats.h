/* SPDX-License-Identifier: ISC */
/*
 * What the C benchmarks share: a monotonic clock in seconds and the
 * median of a run of figures (each benchmark prints medians of rounds).
 */
#ifndef SIGNET_BENCH_STATS_H
#define SIGNET_BENCH_STATS_H

#include <stdlib.h>
#include <time.h>

static inline double
bench_now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qsort's comparison of two doubles, ascending. */
static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n) (n > 0), which it sorts. */
static inline double
bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return v[n / 2];
}

#endif
