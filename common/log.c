/* SPDX-License-Identifier: ISC */
/* One-line-per-event logging to stderr with levels. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"

static const char *log_prog = "signet";
static enum log_level log_threshold = LOG_LVL_INFO;

void
log_init(const char *progname, enum log_level level)
{
	if (progname != NULL)
		log_prog = progname;
	log_threshold = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (s != NULL && strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return SIGNET_ERR_FORMAT;
}

void
log_emit(enum log_level level, const char *func, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > log_threshold)
		return;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		stamp[0] = '\0';
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: %s: ", stamp,
	    ts.tv_nsec / 1000000L, names[level], log_prog, func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* A single fprintf keeps concurrent lines from interleaving mid-line. */
	(void)fprintf(stderr, "%s\n", line);
}
