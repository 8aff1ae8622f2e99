/* SPDX-License-Identifier: ISC */
/* The token bucket behind the audit rate limits of refusals. */
#include "ratelimit.h"
#include "testlib.h"

/* How many of 80 takes at now_ms a bucket of 50 a second grants. */
static int
takes(struct ratelimit *rl, int64_t now_ms)
{
	int i, n = 0;

	for (i = 0; i < 80; i++)
		n += ratelimit_take(rl, 50, now_ms);
	return n;
}

int
main(void)
{
	struct ratelimit rl = { 0, 0 };

	/* Full at first: a burst of 50, then none until time passes. */
	CHECK(takes(&rl, 1000) == 50);
	CHECK(takes(&rl, 1000) == 0);
	/* Refilled at 50 a second: 100 ms give 5, 2 s no more than 50. */
	CHECK(takes(&rl, 1100) == 5);
	CHECK(takes(&rl, 3100) == 50);
	/* A clock that goes back starts afresh rather than owing tokens. */
	CHECK(takes(&rl, 500) == 50);
	return test_finish("test_ratelimit");
}
