/* SPDX-License-Identifier: ISC */
/*
 * Mirroring of audit records to journald or syslog, after each record is
 * durable in the signed log and never instead of it ([audit] mirror =
 * none|journal|syslog, docs/audit.md "Mirroring"), and the one table of
 * each event's syslog priority, which the mirror and `signetctl audit
 * export` share. A mirror that fails never fails the append: the failure
 * is counted and logged at most once a minute.
 */
#ifndef SIGNET_AUDIT_MIRROR_H
#define SIGNET_AUDIT_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum audit_mirror_mode {
	AUDIT_MIRROR_NONE = 0,
	AUDIT_MIRROR_JOURNAL,
	AUDIT_MIRROR_SYSLOG,
};

/*
 * Bytes of one syslog message (the record, cut with a marker when longer).
 * journald gets every record whole (at most AUDIT_LINE_MAX bytes).
 */
#define AUDIT_MIRROR_SYSLOG_MAX 4096
#define AUDIT_MIRROR_IDENT_MAX 32
#define AUDIT_MIRROR_HOST_MAX 64
/* How often a failing mirror is logged, at most. */
#define AUDIT_MIRROR_LOG_EVERY_MS 60000

/*
 * The syslog priority (LOG_CRIT .. LOG_INFO of <syslog.h>) of event: the
 * table in audit_mirror.c, documented in docs/audit.md. *known (if not
 * NULL) says whether the event is in the table; an event that is not
 * gets LOG_INFO.
 */
int audit_mirror_priority(const char *event, bool *known);

/*
 * The syslog name of a priority ("emerg", "alert", "crit", "err",
 * "warning", "notice", "info", "debug"); "info" for anything else.
 */
const char *audit_mirror_priority_name(int prio);

/*
 * Parses "none", "journal" or "syslog". 0 or SIGNET_ERR_FORMAT.
 */
int audit_mirror_parse_mode(const char *s, enum audit_mirror_mode *mode)
    __attribute__((warn_unused_result));

/*
 * [audit] mirror of a loaded configuration (default none). 0 or
 * SIGNET_ERR_CONFIG with "FILE:LINE: mirror: why".
 */
struct config;
int audit_config_mirror(const struct config *cfg, enum audit_mirror_mode *mode,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* What a writer mirrors to, and as whom. */
struct audit_mirror_conf {
	enum audit_mirror_mode mode;
	char ident[AUDIT_MIRROR_IDENT_MAX];  /* SYSLOG_IDENTIFIER, e.g.
					      * "signet-server" */
	char host_id[AUDIT_MIRROR_HOST_MAX]; /* "" or the agent's host id */
};

struct audit_mirror;

/*
 * A mirror for conf (copied). For syslog, opens the process's syslog
 * connection (openlog, LOG_AUTHPRIV) now. 0, SIGNET_ERR_INVALID_ARG (an
 * ident or host id that is empty, too long or not printable) or
 * SIGNET_ERR_ALLOC. A conf of mode none gives a mirror that sends nothing.
 */
int audit_mirror_new(const struct audit_mirror_conf *conf,
    struct audit_mirror **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Sends one durable record: line (len bytes, no newline) with its seq,
 * event and actor. Thread-safe. Returns 0, or the error (SIGNET_ERR_IO)
 * after counting and (rate-limited) logging it: callers ignore it. m NULL
 * sends nothing. syslog(3) reports no failure, so only journald's are
 * counted.
 */
int audit_mirror_send(struct audit_mirror *m, const char *line, size_t len,
    uint64_t seq, const char *event, const char *actor);

/* Records that could not be mirrored so far. */
uint64_t audit_mirror_failures(const struct audit_mirror *m);

/*
 * The syslog message for line (len bytes) of record seq into out
 * (outlen bytes, at least 128): the line itself when it fits in
 * AUDIT_MIRROR_SYSLOG_MAX - 1 bytes (and in out), else its start, cut on
 * a UTF-8 character boundary, and the marker
 * " [truncated: N of M bytes; the whole record is seq S in the signed
 * log]". Returns the message's length.
 */
size_t audit_mirror_syslog_text(const char *line, size_t len, uint64_t seq,
    char *out, size_t outlen);

void audit_mirror_free(struct audit_mirror *m);

#endif
