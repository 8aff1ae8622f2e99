/* SPDX-License-Identifier: ISC */
/*
 * The signed, hash-chained audit log (docs/audit.md). One JSON object per line:
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
 *
 * Rotation: the writer renames its file PATH to PATH.FIRST-LAST (the seqs
 * of the file's first and last records, AUDIT_SEQ_DIGITS digits each, so
 * that names sort in chain order and never collide within one chain),
 * makes it read-only, and starts a new PATH whose first record is
 * audit.rotated: its seq and prev continue the chain and its data names
 * the previous file and that file's head:
 *   {"previous":"audit.log.0000000000000000-0000000000000041",
 *    "previous_head":"41:HEX","reason":"size"|"signal"|"request"|
 *    "recovered"}
 * A log is then the files PATH.*-* in name order followed by PATH.
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
#define AUDIT_LINE_MAX 65536 /* bytes in one record, newline incl. */
#define AUDIT_HASH_HEX 64
#define AUDIT_EVENT_MAX 64
#define AUDIT_ACTOR_MAX 128
#define AUDIT_EVENT_TORN "audit.torn_tail"
#define AUDIT_EVENT_ROTATED "audit.rotated"
#define AUDIT_SEQ_DIGITS 16 /* seqs are below 2^53: 16 digits */
#define AUDIT_NAME_MAX 255  /* bytes in a file's base name */
#define AUDIT_ROTATE_SIZE_DEFAULT "256M"
#define AUDIT_ROTATE_SIZE_MIN 4096 /* bytes; 0 means never */

/* What the last record of a log is: its seq and the hash of its line. */
struct audit_head {
	bool empty; /* no record yet */
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
	cJSON *root; /* whole line; data points into it */
	const cJSON *data;
	uint8_t sig[KEYS_SIG_LEN];
	size_t signed_len; /* line bytes before ,"sig": */
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

/* What an audit.rotated record says about the file before it. */
struct audit_link {
	char previous[AUDIT_NAME_MAX + 1]; /* base name */
	struct audit_head head;            /* that file's last record */
	char reason[16];
};

/*
 * Reads the link of an audit.rotated record and checks that it agrees
 * with the record itself (head.seq + 1 == seq, head.hash == prev).
 * 0, SIGNET_ERR_INVALID_ARG if rec is not an audit.rotated record, or
 * SIGNET_ERR_FORMAT / SIGNET_ERR_CHAIN with why.
 */
int audit_link_parse(const struct audit_record *rec, struct audit_link *link,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The name a file of path gets when rotated holding seqs first..last:
 * "PATH.%016llu-%016llu". 0 or SIGNET_ERR_TOO_LARGE.
 */
int audit_rotated_name(const char *path, uint64_t first, uint64_t last,
    char *out, size_t outlen) __attribute__((warn_unused_result));

/* True when name is exactly BASE.FIRST-LAST for the base name base. */
bool audit_rotated_name_match(const char *base, const char *name,
    uint64_t *first, uint64_t *last);

/*
 * Parses a size: decimal bytes with an optional K, M or G suffix (powers
 * of 1024), e.g. "0", "65536", "256M". 0 or SIGNET_ERR_FORMAT (not a
 * size, or over 1 TiB).
 */
int audit_parse_size(const char *s, uint64_t *bytes)
    __attribute__((warn_unused_result));

/*
 * [audit] rotate_size of a loaded configuration, checked: 0 (never) or
 * AUDIT_ROTATE_SIZE_MIN bytes or more. 0 or SIGNET_ERR_CONFIG with
 * "FILE:LINE: rotate_size: why".
 */
struct config;
int audit_config_rotate_size(const struct config *cfg, uint64_t *bytes,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Reads and parses the first record of the file at path (signature not
 * checked). SIGNET_ERR_NOT_FOUND if the file does not exist or holds no
 * whole line; else 0 or an error with why.
 */
int audit_read_first(const char *path, struct audit_record *rec,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The files that hold a log's records from a point on, oldest first,
 * ending with path itself: from path, follows the audit.rotated record
 * that starts each file back to the file it names (in path's directory)
 * while that record is at or after since_ts (unix ms; INT64_MIN: no
 * limit) and its seq is above from_seq (0: no limit) — i.e. while the
 * earlier file may hold records the caller wants. Follows at most
 * AUDIT_CHAIN_FILES_MAX files.
 * A file it needs that does not exist ends the walk: *missing (if not
 * NULL) then holds its base name, else "". path missing: SIGNET_ERR_
 * NOT_FOUND. Free the list with audit_chain_free(files, n).
 */
#define AUDIT_CHAIN_FILES_MAX 100000
int audit_chain_files(const char *path, int64_t since_ts, uint64_t from_seq,
    char ***files, size_t *n, char missing[static AUDIT_NAME_MAX + 1],
    struct err_msg *msg) __attribute__((warn_unused_result));

void audit_chain_free(char **files, size_t n);

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

/*
 * Opens a rotated log for reading every record written at or after
 * since_ms: the earlier files that may hold such records (see
 * audit_chain_files), then path. Lines come in chain order across the
 * files; only path's last line may be torn (a torn line in an earlier
 * file is SIGNET_ERR_FORMAT). SIGNET_ERR_NOT_FOUND when path does not
 * exist; SIGNET_ERR_CHAIN, naming the file, when an earlier file that may
 * hold such records is missing (archived too early).
 */
int audit_reader_open_since(const char *path, int64_t since_ms,
    struct audit_reader **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* The file and 1-based line number of the line last returned. */
const char *audit_reader_path(const struct audit_reader *rd);
uint64_t audit_reader_lineno(const struct audit_reader *rd);

/*
 * The next whole record, parsed (audit_record_free it): 1; 0 at the end
 * or at a torn last line (that one is the writer's to record, and nothing
 * follows it); an error naming the file and line for a line that cannot
 * be read or parsed. For the readers that rebuild state at start.
 */
int audit_reader_next_record(struct audit_reader *rd, struct audit_record *rec,
    struct err_msg *msg) __attribute__((warn_unused_result));

void audit_reader_close(struct audit_reader *rd);

/* ---- writer ---- */

struct audit_writer;

/*
 * Opens (creating, mode 0600) the log at path for appending with key, and
 * continues its chain — from the newest rotated file PATH.FIRST-LAST when
 * path is missing or holds no record (a crash during rotation). Refuses a
 * log that another process has open for writing (flock), that group or
 * others may write, whose first or last record does not parse, or whose
 * last record is not signed by key. A torn last line (a crash mid-write)
 * is copied to "PATH.torn-SEQ-MS", cut from the log, and recorded by an
 * audit.torn_tail record naming its length, SHA-256 and the copy.
 * The key is copied; the caller may wipe its own.
 */
int audit_open(const char *path, const struct keys_secret *key,
    struct audit_writer **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * audit_open, and once each record is durable (those audit_open itself
 * writes included) a copy goes to the mirror conf names
 * (common/audit_mirror.h); conf NULL or of mode none: no copy. Also
 * SIGNET_ERR_INVALID_ARG for a conf audit_mirror_new refuses.
 */
struct audit_mirror_conf;
int audit_open_mirrored(const char *path, const struct keys_secret *key,
    const struct audit_mirror_conf *mirror, struct audit_writer **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * audit_open_mirrored for a writer whose key replaced the keys in prev
 * (NULL or empty: none; copied): an agent whose result key was rotated
 * (docs/protocol.md, "Result keys"). The log may then end with a record
 * one of them signed, and the chain goes on under key; the verifier
 * follows the change at the agent.started record that names the new key.
 */
int audit_open_keys(const char *path, const struct keys_secret *key,
    const struct keys_pubset *prev, const struct audit_mirror_conf *mirror,
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

/*
 * Appends two records of one actor, event1 then event2, and returns once
 * both are durable, with one fdatasync for the two: for two steps with
 * nothing between them that the first record must precede. *nwritten is
 * how many of them are durable in the log (0, 1 or 2): when the second
 * cannot be written, the first is still made durable, as two calls to
 * audit_append would have left it. Returns as audit_append.
 */
int audit_append_pair(struct audit_writer *w, const char *actor,
    const char *event1, const cJSON *data1, const char *event2,
    const cJSON *data2, size_t *nwritten, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Writes a record as audit_append does but returns once it is written,
 * before it is durable: for a single thread that takes several records
 * in a row (the hub's event loop) and makes them durable together with
 * audit_sync before it acts on any of them. Nothing may act on the
 * record, answer for it or acknowledge it before audit_sync returns 0.
 * Its mirror copy goes out at that audit_sync. Returns audit_append's
 * codes; on success *seq_out (may be NULL) is the record's seq.
 */
int audit_write(struct audit_writer *w, const char *event, const char *actor,
    const cJSON *data, uint64_t *seq_out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Makes every record written so far durable, with one fdatasync shared
 * with concurrent appends (none when they are already), then sends the
 * mirror copies of records audit_write wrote. Returns 0, or
 * SIGNET_ERR_UNAVAILABLE: the sync failed (now or earlier) and the writer
 * is broken; no record written since the last successful audit_sync may
 * be taken as durable. Thread-safe.
 */
int audit_sync(struct audit_writer *w, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The one way a module records an event: appends event with data, which
 * it takes over and frees on every path. built false (a member could not
 * be added) or data NULL means the data could not be made: nothing is
 * written and SIGNET_ERR_ALLOC is returned. A failure is logged ("audit
 * EVENT not recorded: why"), so a caller whose step goes on either way
 * may ignore the result. Otherwise returns as audit_append.
 */
int audit_event(struct audit_writer *w, const char *event, const char *actor,
    cJSON *data, bool built);

/*
 * audit_event with audit_write: the record is written, durable only at
 * the next audit_sync (audit_write's rule holds). Returns as audit_event.
 */
int audit_event_write(struct audit_writer *w, const char *event,
    const char *actor, cJSON *data, bool built);

/* The current head. */
void audit_get_head(struct audit_writer *w, struct audit_head *head);

/*
 * Rotates the log once its file would grow past bytes (checked before
 * each append; 0, the default, never). Thread-safe.
 */
void audit_set_rotate_size(struct audit_writer *w, uint64_t bytes);

/*
 * Rotates now (reason: "signal", "request", ...; at most 15 bytes, [a-z]):
 * waits for syncs under way, renames PATH to PATH.FIRST-LAST (never over
 * an existing file), makes it read-only, syncs the directory, creates a
 * new PATH and makes its first record, audit.rotated, durable. Appends
 * wait meanwhile. Returns 0 (also when the log is empty: nothing to
 * rotate), SIGNET_ERR_IO if the rotation could not be made and the
 * writer goes on in the same file (everything undone), or
 * SIGNET_ERR_UNAVAILABLE if it could not be undone either: the writer is
 * broken, as after a failed append. Thread-safe.
 *
 * Crash safety: a writer killed at any point leaves either the old file
 * at PATH, or the rotated file and no or an empty or torn PATH; the next
 * audit_open then continues the chain from the newest PATH.*-* file and
 * writes the audit.rotated record (reason "recovered") itself.
 */
int audit_rotate(struct audit_writer *w, const char *reason,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Counters for monitoring and benchmarks. */
struct audit_stats {
	uint64_t appends;         /* records made durable */
	uint64_t syncs;           /* fdatasync calls that succeeded */
	uint64_t rotations;       /* files rotated */
	uint64_t mirror_failures; /* records the mirror could not send */
};

void audit_get_stats(struct audit_writer *w, struct audit_stats *stats);

/* Closes, wiping the key; NULL allowed. */
void audit_close(struct audit_writer *w);

/* ---- verifier ---- */

struct audit_request_rosters;
struct audit_request_finding;

struct audit_verify_opts {
	const struct keys_public *audit_key;   /* required */
	const struct keys_pubset *action_keys; /* NULL: actions unchecked */
	/*
	 * NULL: results unchecked. Else each embedded result and outcome is
	 * checked under its host's keys there (common/keyset.h: HOST.pub
	 * and retired/HOST.STAMP.pub): the key of the record's
	 * "result_key_id" when it has one (an id not there is an error
	 * naming it), else the current key, then the retired ones.
	 */
	const char *agent_keys_dir;
	/*
	 * More keys the log's own records may be signed with besides
	 * audit_key (an agent's log across a rotation of its result key).
	 * The log's key is the one its first record verifies under; from
	 * an agent.started record whose data.result_key_id is K on, it is
	 * K, which must be audit_key or one of these. A record signed with
	 * another key than the log's key at that point is an error.
	 */
	const struct keys_public *more_keys;
	size_t n_more_keys;
	bool has_expect_head;
	struct audit_head expect_head;
	/*
	 * The verified roster files (audit_request.h); NULL: operator
	 * requests are not checked (counted requests_unchecked).
	 */
	const struct audit_request_rosters *rosters;
	/*
	 * Called, when not NULL, with what was found for each action that
	 * verified under the action keys (the finding lives for the call).
	 */
	void (*on_request)(const struct audit_request_finding *f, void *arg);
	void *on_request_arg;
	/*
	 * Called, when not NULL, with each record once every check of its
	 * line held, in chain order: the parsed record, its line (without
	 * newline) and the line's hex SHA-256 (all live for the call). A
	 * non-zero return stops the verification with that code and the
	 * callback's msg, at that line.
	 */
	int (*on_record)(const struct audit_record *rec, const char *line,
	    const char hash[static AUDIT_HASH_HEX + 1], void *arg,
	    struct err_msg *msg);
	void *on_record_arg;
	/*
	 * Threads that check signatures and envelopes: 0 or 1 verifies on
	 * the caller's thread alone; N > 1 (at most AUDIT_VERIFY_JOBS_MAX)
	 * runs N workers beside a reader thread while the caller's thread
	 * checks order, chain, links, ties and heads. The report, the
	 * error and the on_request calls (on the caller's thread, in log
	 * order) are the same either way; memory does not grow with the
	 * log (a fixed number of batches of lines in flight).
	 */
	unsigned jobs;
};

#define AUDIT_VERIFY_JOBS_MAX 64

struct audit_verify_report {
	uint64_t records;
	struct audit_head head;
	uint64_t actions_checked, actions_unchecked;
	uint64_t results_checked, results_unchecked;
	/*
	 * Of the checked action.result records: tied to their
	 * action.requested in the files given, or not (their action is in an
	 * earlier file not given, or the server recorded it as unknown).
	 */
	uint64_t results_tied, results_untied;
	/*
	 * Embedded outcomes (action.outcome): verified under the host's key,
	 * the record's members equal to the signed ones; or not checked
	 * (no agent keys given).
	 */
	uint64_t outcomes_checked, outcomes_unchecked;
	/*
	 * The operator requests of the actions that verified
	 * (audit_request.h): verified, server-asserted (no request),
	 * recorded unverified by the host, failed (a check failed or the
	 * record claims what does not hold: the log is bad), not checked
	 * (no rosters given).
	 */
	uint64_t requests_verified, requests_server_asserted;
	uint64_t requests_unverified, requests_failed, requests_unchecked;
	uint64_t torn_tails; /* audit.torn_tail records */
	uint64_t rotations;  /* audit.rotated records */
	uint64_t bad_line;   /* 1-based; 0 when all good */
	size_t bad_file;     /* index of the bad file */
	/*
	 * Set when the first file does not start the chain (seq 0) but
	 * continues a rotated file: the file and head its first record
	 * names, which were not checked.
	 */
	bool continues;
	struct audit_link continues_from;
};

/* What one file of several held, for the report. */
struct audit_verify_file_info {
	uint64_t records;
	uint64_t first_seq, last_seq; /* valid when records > 0 */
	bool linked;                  /* link to the previous file
						* checked */
};

/* "SEQ:HASH" of a head: at most 20 digits, a colon, 64 hex, a NUL. */
#define AUDIT_HEAD_TEXT_MAX (20 + 1 + AUDIT_HASH_HEX + 1)
void audit_head_format(const struct audit_head *head,
    char text[static AUDIT_HEAD_TEXT_MAX]);

/*
 * Parses "SEQ:HASH" into head (seq below 2^53, 64 lowercase hex). 0 or
 * SIGNET_ERR_FORMAT.
 */
int audit_head_parse(const char *s, struct audit_head *head)
    __attribute__((warn_unused_result));

/*
 * Verifies the whole log at path. Returns 0 when every line holds;
 * SIGNET_ERR_CHAIN (or the specific code) with msg = "line N: why" and
 * report->bad_line = N at the first bad line; SIGNET_ERR_IO etc. if the
 * file cannot be read. A file that starts with an audit.rotated record
 * (a later file of a rotated log) verifies from there: report->continues
 * says what it continues, unchecked.
 */
int audit_verify_file(const char *path, const struct audit_verify_opts *opts,
    struct audit_verify_report *report, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Verifies the files of a rotated log given in chain order (oldest
 * first) as one log: each file as above, and each link — the first
 * record of file k+1 must be audit.rotated, name file k's base name and
 * head, and continue its seq and hash. A missing file (gap), files out
 * of order, or a file replaced are reported naming the file and line.
 * info, if not NULL, has n entries and receives what each file held.
 * --expect-head applies to the whole: the head must be in one of them.
 */
int audit_verify_files(const char *const *paths, size_t n,
    const struct audit_verify_opts *opts, struct audit_verify_file_info *info,
    struct audit_verify_report *report, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
