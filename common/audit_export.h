/* SPDX-License-Identifier: ISC */
/*
 * The export of audit records as JSON lines for SIEMs (`signetctl audit
 * export`, docs/audit.md "Export", docs/schema/export-record.schema.json):
 * one object per record, in chain order,
 *   {"schema":"signet.audit.export/v1","log":{"writer","host_id"?},
 *    "seq","ts","time","event","actor","severity","data","hash","prev",
 *    "verified"}
 * and the filters the command takes (a time window and event patterns).
 * The exporter is a sink: the caller reads (and, with a key, verifies)
 * the records and hands each one over in chain order; the exporter
 * names the log's writer from the records themselves, holding back at
 * most AUDIT_EXPORT_HOLD records until it knows it.
 */
#ifndef SIGNET_AUDIT_EXPORT_H
#define SIGNET_AUDIT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "err.h"

#define AUDIT_EXPORT_SCHEMA "signet.audit.export/v1"
#define AUDIT_EXPORT_HOLD 16         /* records held back, at most */
#define AUDIT_EXPORT_PATTERNS_MAX 32 /* --event patterns */
#define AUDIT_EXPORT_PATTERN_MAX 64  /* bytes of one pattern */
/* 9999-12-31T23:59:59.999Z: the last time RFC 3339 can write. */
#define AUDIT_EXPORT_TIME_MAX 253402300799999LL

struct audit_export_filter {
	bool has_since, has_until;
	int64_t since_ms;                                /* ts >= since_ms */
	int64_t until_ms;                                /* ts < until_ms */
	size_t npatterns;                                /* 0: every event */
	const char *patterns[AUDIT_EXPORT_PATTERNS_MAX]; /* borrowed */
};

/*
 * Parses an RFC 3339 time, "2026-12-05T07:00:00Z", with an optional
 * fraction (milliseconds kept, further digits dropped) and "Z" or an
 * offset "+HH:MM"/"-HH:MM", or a date "2026-12-05" (00:00 UTC), into
 * unix ms. 0 or SIGNET_ERR_FORMAT (also for a time before 1970 or after
 * 9999).
 */
int audit_export_parse_time(const char *s, int64_t *ms)
    __attribute__((warn_unused_result));

/*
 * Checks an --event pattern: 1 to AUDIT_EXPORT_PATTERN_MAX bytes of
 * a-z . _ and the fnmatch(3) characters * ? [ ] !. 0 or
 * SIGNET_ERR_FORMAT.
 */
int audit_export_check_pattern(const char *p)
    __attribute__((warn_unused_result));

/* Whether rec passes the filter (window and any pattern). */
bool audit_export_match(const struct audit_export_filter *f,
    const struct audit_record *rec);

struct audit_export;

/*
 * An exporter writing to out (borrowed; the caller closes it) the records
 * that pass filter (copied; its patterns borrowed). 0 or SIGNET_ERR_ALLOC.
 */
int audit_export_new(FILE *out, const struct audit_export_filter *filter,
    struct audit_export **x, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The next record of the log in chain order (rec as parsed from line, the
 * line's bytes without newline, and hash the hex SHA-256 of the line):
 * every record is handed over, also those the filter drops, for they may
 * name the writer. verified says whether the caller checked its
 * signature and chain. Returns 0, SIGNET_ERR_FORMAT (the line's data is
 * not its member before sig, where every writer puts it: it could not be
 * exported as recorded), SIGNET_ERR_IO (cannot write out) or
 * SIGNET_ERR_ALLOC, with msg.
 */
int audit_export_record(struct audit_export *x, const struct audit_record *rec,
    const char *line, const char hash[static AUDIT_HASH_HEX + 1], bool verified,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Writes what is held back (the writer then "unknown" if no record named
 * it) and flushes out. Call at the end, also after a bad line: what was
 * handed over before it goes out. Returns 0 or SIGNET_ERR_IO with msg.
 */
int audit_export_finish(struct audit_export *x, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Records written so far. */
uint64_t audit_export_count(const struct audit_export *x);

void audit_export_free(struct audit_export *x);

#endif
