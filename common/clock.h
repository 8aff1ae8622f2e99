/* SPDX-License-Identifier: ISC */
/*
 * Milliseconds from the system clocks: wall time (Unix ms) for what is
 * stamped and compared across hosts (actions, results, audit records),
 * monotonic time for deadlines and intervals on this host. 0 if the clock
 * cannot be read.
 */
#ifndef SIGNET_CLOCK_H
#define SIGNET_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);

/*
 * The one time format of signet's logs, records and answers: RFC 3339 UTC
 * of unix_ms into buf, "2026-12-04T22:34:17Z", or "2026-12-04T22:34:17.123Z"
 * when with_ms. Returns buf; "" when the time cannot be rendered (outside
 * what gmtime_r takes) or buf holds less than 25 bytes.
 */
const char *clock_format(int64_t unix_ms, bool with_ms, char *buf, size_t len);

/*
 * A date in a message: clock_format of t (unix seconds) without ms, or
 * "(unknown)" when t is not positive or cannot be rendered. Returns buf.
 */
const char *clock_format_date(int64_t t, char *buf, size_t len);

#endif
