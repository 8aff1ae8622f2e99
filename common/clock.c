/* SPDX-License-Identifier: ISC */
/* Milliseconds from the system clocks (see clock.h). */
#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t
read_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_wall_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}

int64_t
clock_mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

const char *
clock_format(int64_t unix_ms, bool with_ms, char *buf, size_t len)
{
	int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
	time_t t;
	struct tm tm;
	char base[24];
	int n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	t = (time_t)secs;
	if ((int64_t)t != secs || gmtime_r(&t, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return buf;
	n = with_ms ? snprintf(buf, len, "%s.%03dZ", base, (int)ms) :
	              snprintf(buf, len, "%sZ", base);
	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
	return buf;
}

const char *
clock_format_date(int64_t t, char *buf, size_t len)
{
	if (t <= 0 || t > INT64_MAX / 1000 ||
	    clock_format(t * 1000, false, buf, len)[0] == '\0')
		(void)snprintf(buf, len, "(unknown)");
	return buf;
}
