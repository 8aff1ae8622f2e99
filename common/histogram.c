/* SPDX-License-Identifier: ISC */
/* Fixed-bucket duration histograms in Prometheus text format. */
#include "histogram.h"

#include <math.h>
#include <string.h>

#include "err.h"

int
histogram_init(struct histogram *h, const double *bounds, size_t nbounds)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	if (nbounds > HISTOGRAM_BUCKETS_MAX || (nbounds > 0 && bounds == NULL))
		return SIGNET_ERR_INVALID_ARG;
	for (i = 1; i < nbounds; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return SIGNET_ERR_INVALID_ARG;
	h->bounds = bounds;
	h->nbounds = nbounds;
	for (i = 0; i <= HISTOGRAM_BUCKETS_MAX; i++)
		atomic_init(&h->counts[i], 0);
	atomic_init(&h->sum_us, 0);
	return 0;
}

void
histogram_observe(struct histogram *h, double seconds)
{
	size_t i;

	if (h == NULL)
		return;
	if (!isfinite(seconds) || seconds < 0)
		seconds = 0;
	/* Over ~584,000 years in microseconds: a bug, kept in range. */
	if (seconds > 1e12)
		seconds = 1e12;
	for (i = 0; i < h->nbounds && seconds > h->bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5),
	    memory_order_relaxed);
}

uint64_t
histogram_count(const struct histogram *h)
{
	uint64_t n = 0;
	size_t i;

	if (h == NULL)
		return 0;
	for (i = 0; i <= h->nbounds; i++)
		n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
	return n;
}

int
histogram_render(const struct histogram *h, struct dynbuf *b, const char *name,
    const char *help)
{
	uint64_t cum = 0, sum_us;
	size_t i;
	int r;

	r = dynbuf_addf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
	    name);
	for (i = 0; r == 0 && i <= h->nbounds; i++) {
		cum += atomic_load_explicit(&h->counts[i],
		    memory_order_relaxed);
		if (i < h->nbounds)
			r = dynbuf_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
			    h->bounds[i], (unsigned long long)cum);
		else
			r = dynbuf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n",
			    name, (unsigned long long)cum);
	}
	sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	if (r == 0)
		r = dynbuf_addf(b, "%s_sum %llu.%06llu\n%s_count %llu\n", name,
		    (unsigned long long)(sum_us / 1000000),
		    (unsigned long long)(sum_us % 1000000), name,
		    (unsigned long long)cum);
	return r;
}
