/* SPDX-License-Identifier: ISC */
/*
 * A bound on the audit records of one kind of event that a peer (or a
 * signal storm) can cause without proving anything: refusals of
 * unauthenticated peers, unverified frames, SIGHUP reloads. Time is cut
 * into windows of window_ms, the first opening at the first event; in a
 * window the first burst events of each reason are written in full and
 * the rest only counted. When a window that held back records closes (at
 * the next event after its end, at audit_limit_close on a timer, or at
 * audit_limit_close with force when the daemon stops), one summary is due:
 * the data of an audit.suppressed record, {"event",["listener"],
 * "window_start","window_end","limit","counts":{REASON:N}}, so nothing
 * goes unrecorded
 * and the log grows by at most (reasons x burst + 1) records a window.
 * docs/audit.md states the bounds; [audit] limit_burst and limit_window
 * set them (audit_limit_config). Not thread safe: the caller holds its
 * own lock; the caller writes the summary (audit_limit_write) outside it.
 */
#ifndef SIGNET_AUDIT_LIMIT_H
#define SIGNET_AUDIT_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "config.h"
#include "err.h"

#define AUDIT_LIMIT_EVENT "audit.suppressed"
#define AUDIT_LIMIT_REASONS 16    /* distinct reasons counted a window */
#define AUDIT_LIMIT_REASON_MAX 32 /* bytes of a reason, NUL included */
#define AUDIT_LIMIT_OTHER "other" /* reasons past the table, or invalid */
#define AUDIT_LIMIT_BURST_DEFAULT 10
#define AUDIT_LIMIT_BURST_MAX 100000
#define AUDIT_LIMIT_WINDOW_DEFAULT 60 /* seconds */
#define AUDIT_LIMIT_WINDOW_MAX 86400

#define AUDIT_LIMIT_STR_(x) #x
#define AUDIT_LIMIT_XSTR_(x) AUDIT_LIMIT_STR_(x)
/*
 * The [audit] section of both daemons' config schemas (struct config_key
 * rows): the log's path, its rotation size (bytes, K, M or G; 0 never;
 * audit_config_rotate_size), its mirror (none, journal or syslog;
 * audit_config_mirror) and this module's bounds (in full per reason and
 * window; the window in seconds).
 */
/* clang-format off */
#define AUDIT_CONFIG_SCHEMA_ROWS                                              \
	{ "audit", "path", CONFIG_PATH, true, NULL, 0, 0 },                   \
	{ "audit", "rotate_size", CONFIG_STRING, false, "256M", 0, 0 },       \
	{ "audit", "checkpoint_interval", CONFIG_INT, false, "10", 0, 3600 }, \
	{ "audit", "mirror", CONFIG_STRING, false, "none", 0, 0 },            \
	{ "audit", "limit_burst", CONFIG_INT, false,                          \
	    AUDIT_LIMIT_XSTR_(AUDIT_LIMIT_BURST_DEFAULT), 1,                  \
	    AUDIT_LIMIT_BURST_MAX },                                          \
	{ "audit", "limit_window", CONFIG_INT, false,                         \
	    AUDIT_LIMIT_XSTR_(AUDIT_LIMIT_WINDOW_DEFAULT), 1,                 \
	    AUDIT_LIMIT_WINDOW_MAX }
/* clang-format on */

struct audit_limit_slot {
	char reason[AUDIT_LIMIT_REASON_MAX];
	uint64_t written;
	uint64_t suppressed;
};

struct audit_limit {
	char event[AUDIT_EVENT_MAX + 1]; /* the event it bounds */
	char listener[16];               /* "" or the summary's "listener" */
	uint64_t burst;
	int64_t window_ms;
	int64_t start_ms; /* the open window's start; 0: none open */
	size_t n;
	struct audit_limit_slot slots[AUDIT_LIMIT_REASONS];
};

/* The bounds of a daemon's configuration. */
struct audit_limit_bounds {
	uint64_t burst;
	int64_t window_ms;
};

/*
 * [audit] limit_burst (records a reason may write in full each window,
 * 1 to AUDIT_LIMIT_BURST_MAX) and limit_window (seconds, 1 to
 * AUDIT_LIMIT_WINDOW_MAX) of cfg, defaults where absent. Returns 0 or
 * SIGNET_ERR_CONFIG with msg.
 */
int audit_limit_config(const struct config *cfg, struct audit_limit_bounds *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Starts al for event (1 to AUDIT_EVENT_MAX bytes) with bounds b (a burst
 * or window of 0, or under: the default). No window is open.
 */
void audit_limit_init(struct audit_limit *al, const char *event,
    const struct audit_limit_bounds *b);

/*
 * Names the listener (e.g. "api") in al's summaries, when two limits
 * bound the same event; at most 15 bytes of [a-z].
 */
void audit_limit_set_listener(struct audit_limit *al, const char *listener);

/*
 * One event of reason (a constant of [a-z0-9_.-], 1 to 31 bytes; another
 * is counted as AUDIT_LIMIT_OTHER) at now_ms (Unix ms). A window that has
 * ended (or that starts after now_ms: the clock went back) is closed
 * first: *summary is then the data of its audit.suppressed record if it
 * held any back (cJSON_Delete it, or audit_limit_write), else NULL; out
 * of memory loses that summary only (logged). Returns true when this
 * event's record is to be written in full, false when it is counted.
 */
bool audit_limit_take(struct audit_limit *al, const char *reason,
    int64_t now_ms, cJSON **summary);

/*
 * Closes the open window if it has ended at now_ms, or in any case with
 * force (the daemon stops: the window ends at now_ms). *summary as in
 * audit_limit_take.
 */
void audit_limit_close(struct audit_limit *al, int64_t now_ms, bool force,
    cJSON **summary);

/*
 * Writes summary (taken, may be NULL: nothing to do) as an
 * audit.suppressed record by actor. Returns 0 or audit_event's code.
 */
int audit_limit_write(struct audit_writer *w, const char *actor,
    cJSON *summary);

#endif
