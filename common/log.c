/* SPDX-License-Identifier: ISC */
/* One-line-per-event logging to stderr with levels. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "text.h"

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
	char msg[2048], vis[4096], line[4096 + 128], stamp[32];
	va_list ap;

	if (level > log_threshold)
		return;
	(void)clock_format(clock_wall_ms(), true, stamp, sizeof(stamp));
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/*
	 * The sink makes every line one line: a control or non-ASCII byte
	 * that reached the message (a peer's string a caller did not escape)
	 * is shown as \xNN, so nothing can forge or split a log line.
	 */
	(void)snprintf(line, sizeof(line), "%s %s %s: %s: %s", stamp,
	    names[level], log_prog, func,
	    text_vis(msg, strlen(msg), vis, sizeof(vis)));
	/* A single fprintf keeps concurrent lines from interleaving mid-line. */
	(void)fprintf(stderr, "%s\n", line);
}
