/* SPDX-License-Identifier: ISC */
/*
 * A Prometheus histogram of durations in seconds (the naming guide's base
 * unit), lock-free: any thread observes, any thread renders. Buckets are
 * fixed upper bounds chosen by the owner; the +Inf bucket is implicit.
 * Rendered as NAME_bucket{le=...} (cumulative), NAME_sum and NAME_count,
 * where count is the +Inf bucket so that the two always agree.
 */
#ifndef SIGNET_HISTOGRAM_H
#define SIGNET_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

#define HISTOGRAM_BUCKETS_MAX 16

struct histogram {
	const double *bounds; /* ascending, borrowed; nbounds of them */
	size_t nbounds;
	_Atomic uint64_t counts[HISTOGRAM_BUCKETS_MAX + 1]; /* last: +Inf */
	_Atomic uint64_t sum_us; /* microseconds, so the sum is an integer */
};

/*
 * Sets up h with bounds (kept by pointer; at most HISTOGRAM_BUCKETS_MAX,
 * ascending). Returns 0, or SIGNET_ERR_INVALID_ARG for too many or
 * unordered bounds.
 */
int histogram_init(struct histogram *h, const double *bounds, size_t nbounds)
    __attribute__((warn_unused_result));

/*
 * Counts one duration; a negative or non-finite one (a clock stepped
 * back) counts as 0 s. h NULL does nothing.
 */
void histogram_observe(struct histogram *h, double seconds);

/* Observations so far (the +Inf bucket). */
uint64_t histogram_count(const struct histogram *h);

/*
 * Appends the HELP and TYPE lines and every row of h under name to b.
 * Returns 0, or what dynbuf_addf returned (b is then cut short).
 */
int histogram_render(const struct histogram *h, struct dynbuf *b,
    const char *name, const char *help) __attribute__((warn_unused_result));

#endif
