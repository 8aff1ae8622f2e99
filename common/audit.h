/* SPDX-License-Identifier: ISC */
/*
 * The signed, hash-chained audit log (SPEC §7). One JSON object per line:
 *   {"seq":N,"ts":MS,"prev":HEX,"event":E,"actor":A,"data":{..},"sig":B64}
 * prev is the hex SHA-256 of the previous line's bytes (without its
 * newline; 64 zeros for seq 0); sig is the last member and signs, with
 * context "signet/audit/v1\n", the line's bytes up to ,"sig": followed by
 * "}". The writer makes each record durable before returning; the verifier
 * checks chain, sequence, signatures and embedded action/result envelopes.
 *
 * Embedded envelopes, by convention of every writer: data.action =
 * {"payload","sig","key_id"} is a server-signed action; data.result =
 * {"payload","sig"} is an agent-signed result (the host is the payload's
 * host_id).
 */
#ifndef SIGNET_AUDIT_H
#define SIGNET_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "keys.h"

#define AUDIT_CTX "signet/audit/v1\n"
#define AUDIT_LINE_MAX 65536          /* bytes in one record, newline incl. */
#define AUDIT_HASH_HEX 64
#define AUDIT_EVENT_MAX 64
#define AUDIT_ACTOR_MAX 128
#define AUDIT_EVENT_TORN "audit.torn_tail"

/* What the last record of a log is: its seq and the hash of its line. */
struct audit_head {
	bool empty;                    /* no record yet */
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];
};

/* One parsed record. Free with audit_record_free(). */
struct audit_record {
	uint64_t seq;
	int64_t ts;
	char prev[AUDIT_HASH_HEX + 1];
	char event[AUDIT_EVENT_MAX + 1];
	char actor[AUDIT_ACTOR_MAX + 1];
	cJSON *root;                   /* whole line; data points into it */
	const cJSON *data;
	uint8_t sig[KEYS_SIG_LEN];
	size_t signed_len;             /* line bytes before ,"sig": */
};

/*
 * Parses one line (without its newline) strictly: exactly the seven
 * members with their types, sig last. Does not check the signature.
 * Returns 0 or SIGNET_ERR_FORMAT / SIGNET_ERR_TOO_LARGE with why.
 */
int audit_parse_line(const char *line, size_t len, struct audit_record *rec,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Checks rec's signature over line (as parsed) under pub. */
int audit_check_sig(const struct audit_record *rec, const char *line,
    const struct keys_public *pub) __attribute__((warn_unused_result));

/* Hex SHA-256 of a line's bytes (what the next record's prev must be). */
void audit_line_hash(const char *line, size_t len,
    char hex[static AUDIT_HASH_HEX + 1]);

void audit_record_free(struct audit_record *rec);

/* ---- reading lines ---- */

/*
 * Streams the lines of a log with bounded memory: a line longer than
 * AUDIT_LINE_MAX is an error, not an allocation.
 */
struct audit_reader;

/* Opens path. SIGNET_ERR_NOT_FOUND when it does not exist. */
int audit_reader_open(const char *path, struct audit_reader **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Next line: returns 1 with *line (NUL-terminated, valid until the next
 * call), *len and *had_newline (false only for a torn last line); 0 at
 * the end; SIGNET_ERR_TOO_LARGE or SIGNET_ERR_IO.
 */
int audit_reader_next(struct audit_reader *rd, char **line, size_t *len,
    bool *had_newline) __attribute__((warn_unused_result));

void audit_reader_close(struct audit_reader *rd);

/* ---- writer ---- */

struct audit_writer;

/*
 * Opens (creating, mode 0600) the log at path for appending with key, and
 * continues its chain. Refuses a log that another process has open for
 * writing (flock), that group or others may write, whose last record does
 * not parse or is not signed by key. A torn last line (a crash mid-write)
 * is copied to "PATH.torn-SEQ-MS", cut from the log, and recorded by an
 * audit.torn_tail record naming its length, SHA-256 and the copy.
 * The key is copied; the caller may wipe its own.
 */
int audit_open(const char *path, const struct keys_secret *key,
    struct audit_writer **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Appends one record and returns only once it is durable (fdatasync;
 * concurrent callers share one sync). data must be a JSON object or NULL
 * (written as {}). Thread-safe. On success *seq_out (if not NULL) holds
 * the record's seq. SIGNET_ERR_IO if the record could not be written (it
 * is then not in the log), SIGNET_ERR_UNAVAILABLE once the writer is
 * broken (a failed sync, or a failed write that could not be undone):
 * callers must refuse the action they wanted to record.
 */
int audit_append(struct audit_writer *w, const char *event, const char *actor,
    const cJSON *data, uint64_t *seq_out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* The current head. */
void audit_get_head(struct audit_writer *w, struct audit_head *head);

/* Counters for monitoring and benchmarks. */
struct audit_stats {
	uint64_t appends;              /* records made durable */
	uint64_t syncs;                /* fdatasync calls that succeeded */
};

void audit_get_stats(struct audit_writer *w, struct audit_stats *stats);

/* Closes, wiping the key; NULL allowed. */
void audit_close(struct audit_writer *w);

/* ---- verifier ---- */

struct audit_verify_opts {
	const struct keys_public *audit_key;   /* required */
	const struct keys_pubset *action_keys; /* NULL: actions unchecked */
	const char *agent_keys_dir;            /* NULL: results unchecked */
	bool has_expect_head;
	struct audit_head expect_head;
};

struct audit_verify_report {
	uint64_t records;
	struct audit_head head;
	uint64_t actions_checked, actions_unchecked;
	uint64_t results_checked, results_unchecked;
	uint64_t torn_tails;                   /* audit.torn_tail records */
	uint64_t bad_line;                     /* 1-based; 0 when all good */
};

/* Parses "SEQ:HASH" into head. 0 or SIGNET_ERR_FORMAT. */
int audit_head_parse(const char *s, struct audit_head *head)
    __attribute__((warn_unused_result));

/*
 * Verifies the whole log at path. Returns 0 when every line holds;
 * SIGNET_ERR_CHAIN (or the specific code) with msg = "line N: why" and
 * report->bad_line = N at the first bad line; SIGNET_ERR_IO etc. if the
 * file cannot be read.
 */
int audit_verify_file(const char *path, const struct audit_verify_opts *opts,
    struct audit_verify_report *report, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
