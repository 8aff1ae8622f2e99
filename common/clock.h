/* SPDX-License-Identifier: ISC */
/*
 * Milliseconds from the system clocks: wall time (Unix ms) for what is
 * stamped and compared across hosts (actions, results, audit records),
 * monotonic time for deadlines and intervals on this host. 0 if the clock
 * cannot be read.
 */
#ifndef SIGNET_CLOCK_H
#define SIGNET_CLOCK_H

#include <stdint.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);

#endif
