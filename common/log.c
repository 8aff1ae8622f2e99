/* SPDX-License-Identifier: ISC */
/* One-line-per-event logging to stderr with levels. */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "text.h"

static const char *log_prog = "signet";
static enum log_level log_threshold = LOG_LVL_INFO;
static bool log_journal; /* stderr is journald's stream: "<N>" prefixes */

/* syslog priorities of sd-daemon(3): SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG. */
static const char *const log_prefix[] = { "<3>", "<4>", "<6>", "<7>" };

bool
log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char *end = NULL;

	/*
	 * systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it connects
	 * stderr (or stdout) to; stderr may since have been redirected
	 * elsewhere (a shell, a test), so only a match counts.
	 */
	if (v == NULL || v[0] < '0' || v[0] > '9')
		return false;
	errno = 0;
	dev = strtoumax(v, &end, 10);
	if (errno != 0 || end == NULL || *end != ':' || end[1] < '0' ||
	    end[1] > '9')
		return false;
	ino = strtoumax(end + 1, &end, 10);
	if (errno != 0 || end == NULL || *end != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void
log_init(const char *progname, enum log_level level)
{
	if (progname != NULL)
		log_prog = progname;
	log_threshold = level;
	log_journal = log_stderr_is_journal();
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
	/*
	 * The journal stamps each line itself and reads its priority from a
	 * leading "<N>" (sd-daemon(3)); anywhere else the line has its time.
	 */
	if (log_journal)
		(void)snprintf(line, sizeof(line), "%s%s %s: %s: %s",
		    log_prefix[level], names[level], log_prog, func,
		    text_vis(msg, strlen(msg), vis, sizeof(vis)));
	else
		(void)snprintf(line, sizeof(line), "%s %s %s: %s: %s", stamp,
		    names[level], log_prog, func,
		    text_vis(msg, strlen(msg), vis, sizeof(vis)));
	/* A single fprintf keeps concurrent lines from interleaving mid-line. */
	(void)fprintf(stderr, "%s\n", line);
}
