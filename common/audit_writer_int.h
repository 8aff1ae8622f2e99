/* SPDX-License-Identifier: ISC */
/*
 * The audit writer's internals, shared by common/audit_writer.c,
 * audit_rotate.c and audit_resume.c and nothing else: the writer itself
 * and the functions one of those files lends another.
 *
 *   audit_writer.c   open, append (signing, group commit), close
 *   audit_rotate.c   rotation under the lock, the audit.rotated record,
 *                    finishing at start a rotation cut short
 *   audit_resume.c   at start: the last record of an existing log, a
 *                    torn tail, what the current file holds
 *
 * Everything in struct audit_writer is under its mu once the writer is
 * open; audit_open alone touches it before.
 */
#ifndef SIGNET_AUDIT_WRITER_INT_H
#define SIGNET_AUDIT_WRITER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "err.h"
#include "keys.h"

#define QUOTED_ROTATED "\"" AUDIT_EVENT_ROTATED "\""

struct audit_writer {
	pthread_mutex_t mu;
	pthread_cond_t synced_cv;
	int fd;
	char *path;
	struct keys_secret *key; /* sodium_malloc'd, wiped on close */
	/*
	 * The keys this writer's key replaced (a rotated agent result
	 * key): the log may end with a record one of them signed.
	 */
	struct keys_pubset prev_keys;
	bool empty; /* no record written yet */
	uint64_t next_seq;
	char prev[AUDIT_HASH_HEX + 1];
	off_t size;       /* bytes of whole records */
	uint64_t written; /* records written (tickets) */
	uint64_t synced;  /* records known durable */
	uint64_t syncs;   /* successful fdatasync calls */
	bool syncing;
	bool broken;
	int fail_errno; /* the last append's failure, 0 once one succeeds */
	/* The current file: first seq, records, whether it starts with
	 * audit.rotated; and when to rotate it. */
	uint64_t first_seq;
	uint64_t file_records;
	bool file_rotated_start;
	uint64_t rotate_size;    /* 0: never */
	int64_t rotate_retry_ms; /* no size rotation before this */
	uint64_t rotations;
	uint64_t durable;            /* records known durable: seqs below it */
	struct audit_tree *tree;     /* NULL: no Merkle tree (audit_tree.c) */
	struct audit_mirror *mirror; /* NULL: none; set at open only */
	/* audit_write's records, mirrored at the next audit_sync. */
	struct audit_unsent *unsent_head, *unsent_tail;
};

/* ---- audit_writer.c ---- */

/*
 * Builds the signed line for the next record (seq and prev from w; qevent,
 * qactor, qdata already JSON text) into *line (malloc'd, with its newline)
 * and *linelen. Called with w->mu held. Returns 0, SIGNET_ERR_TOO_LARGE,
 * SIGNET_ERR_ALLOC, SIGNET_ERR_CRYPTO or SIGNET_ERR_INTERNAL with msg.
 */
int audit_build_line(struct audit_writer *w, const char *qevent,
    const char *qactor, const char *qdata, char **line, size_t *linelen,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Notes a record (seq, qevent) written to the current file (w->mu held). */
void audit_count_record(struct audit_writer *w, uint64_t seq,
    const char *qevent);

/* ---- audit_rotate.c ---- */

/*
 * Rotates with w->mu held (audit_rotate's contract; reason checked by the
 * caller). Returns 0 (also when the file holds no record), SIGNET_ERR_IO
 * when the rotation was undone and the old file goes on, or
 * SIGNET_ERR_UNAVAILABLE when the writer is broken from now on.
 */
int audit_rotate_locked(struct audit_writer *w, const char *reason,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * At open, when the current file holds no record: if a rotated file
 * exists, a rotation was cut short; the chain continues from its last
 * record (w's seq and prev set) and *link_json (owned by the caller) is
 * the audit.rotated record's data to write first; NULL when there is
 * nothing to continue. Returns 0 or a code with msg.
 */
int audit_recover_rotation(struct audit_writer *w, cJSON **link_json,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* ---- audit_tree.c ---- */

/*
 * Adds record seq's line (len bytes, no newline) to the tree, if w keeps
 * one (w->mu held). A failure stops the tree, never the log.
 */
void audit_tree_note(struct audit_writer *w, uint64_t seq, const char *line,
    size_t len);

/* Stops the checkpoints (a last one made) and closes the tree; w->mu not
 * held. */
void audit_tree_close(struct audit_writer *w);

/* ---- audit_resume.c ---- */

/*
 * Finds the last whole record of the file open at fd (size bytes, named
 * path) and checks that pub signed it, or one of prev (NULL allowed: the
 * keys pub replaced): *head (empty when there is no whole line),
 * *whole_end the end of that line, *torn (malloc'd) and *tornlen any
 * bytes after it (NULL, 0 when none). Returns 0 or a code with msg.
 */
int audit_last_record(int fd, const char *path, off_t size,
    const struct keys_public *pub, const struct keys_pubset *prev,
    struct audit_head *head, off_t *whole_end, char **torn, size_t *tornlen,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * At open, for a log of size bytes: sets w's seq, prev and size from its
 * last record; a torn tail is saved in a side file and cut, and then
 * *torn_data (owned by the caller) is the audit.torn_tail record's data,
 * else NULL. Returns 0 or a code with msg.
 */
int audit_continue_chain(struct audit_writer *w, off_t size, cJSON **torn_data,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * At open, after audit_continue_chain: what the current file holds, for
 * naming it when it is rotated (first seq, whether that record is
 * audit.rotated, how many). Returns 0 or a code with msg.
 */
int audit_scan_first(struct audit_writer *w, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
