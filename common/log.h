/* SPDX-License-Identifier: ISC */
/*
 * Process log: one line per event on stderr, "ts level prog: func: msg",
 * with key=value fields an operator can grep. Peer-supplied strings must go
 * through text_escape() first; the level is checked before formatting.
 * When stderr is journald's stream (systemd sets JOURNAL_STREAM to its
 * dev:ino), each line is "<N>level prog: func: msg" instead: the syslog
 * priority the journal files it under (error 3, warn 4, info 6, debug 7,
 * as sd-daemon(3)'s SD_ERR ...) and no time, which the journal adds.
 */
#ifndef SIGNET_LOG_H
#define SIGNET_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/*
 * Sets the program name shown on each line (kept by pointer) and level,
 * and looks whether stderr is the journal's stream (log_stderr_is_journal).
 */
void log_init(const char *progname, enum log_level level);

/*
 * true when JOURNAL_STREAM is "DEV:INO" (decimal) and stderr is that very
 * file; false when unset, malformed or stderr is something else.
 */
bool log_stderr_is_journal(void);

/* Parses "error|warn|info|debug"; returns 0 or SIGNET_ERR_FORMAT. */
int log_level_parse(const char *s, enum log_level *out);

void log_emit(enum log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_emit(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_LVL_DEBUG, __func__, __VA_ARGS__)

#endif
