/* SPDX-License-Identifier: ISC */
/* A token bucket for rate limits (see ratelimit.h). */
#include "ratelimit.h"

bool
ratelimit_take(struct ratelimit *rl, double burst, int64_t now_ms)
{
	if (rl->last_ms == 0 || now_ms < rl->last_ms) {
		rl->tokens = burst; /* first use, or the clock went back */
	} else {
		rl->tokens += (double)(now_ms - rl->last_ms) * burst / 1000.0;
		if (rl->tokens > burst)
			rl->tokens = burst;
	}
	rl->last_ms = now_ms;
	if (rl->tokens < 1.0)
		return false;
	rl->tokens -= 1.0;
	return true;
}
