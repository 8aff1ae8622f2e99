/* SPDX-License-Identifier: ISC */
/* The token bucket behind the audit rate limits of refusals. */
#include "ratelimit.h"
#include "testlib.h"

int
main(void)
{
	struct ratelimit rl = { 0, 0 };
	int i, n;

	/* Full at first: a burst of 50, then none until time passes. */
	for (i = 0, n = 0; i < 80; i++)
		n += ratelimit_take(&rl, 50, 1000);
	CHECK(n == 50);
	/* Refilled at 50 a second: 100 ms give 5, 2 s no more than 50. */
	for (i = 0, n = 0; i < 80; i++)
		n += ratelimit_take(&rl, 50, 1100);
	CHECK(n == 5);
	for (i = 0, n = 0; i < 80; i++)
		n += ratelimit_take(&rl, 50, 3100);
	CHECK(n == 50);
	/* A clock that goes back starts afresh rather than owing tokens. */
	for (i = 0, n = 0; i < 80; i++)
		n += ratelimit_take(&rl, 50, 500);
	CHECK(n == 50);
	return test_finish("test_ratelimit");
}
