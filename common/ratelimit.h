/* SPDX-License-Identifier: ISC */
/*
 * A token bucket: at most burst events at once, refilled at burst a
 * second. The listeners use one each for the audit records of refusals,
 * so that a flood of bad peers cannot become a flood of disk syncs. Not
 * thread safe: the caller holds its own lock.
 */
#ifndef SIGNET_RATELIMIT_H
#define SIGNET_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	double tokens;
	int64_t last_ms; /* 0: full at the first take */
};

/* Takes a token at now_ms (monotonic); false when there is none left. */
bool ratelimit_take(struct ratelimit *rl, double burst, int64_t now_ms);

#endif
