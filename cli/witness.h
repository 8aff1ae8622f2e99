/* SPDX-License-Identifier: ISC */
/*
 * The witness of signetctl audit witness (docs/transparency.md,
 * "Witnesses"): its state directory (one JSON file per log origin, kept
 * durably and atomically, locked against a second witness), the decision
 * whether a log's new signed checkpoint may be cosigned (first contact,
 * the same tree, or a consistent extension proven by a chain of RFC 6962
 * consistency proofs; never a rollback or a split view), the cosignature
 * itself (C2SP tlog-cosignature, note.h), and, for audit verify, the
 * roots of a log's first records, to check checkpoints against the log.
 * Nothing here talks to the network: the caller fetches the checkpoint and
 * hands a function that fetches a proof.
 *
 * Every byte of a checkpoint, a proof or a state file is hostile: parsed
 * strictly and bounded. Errors are the negative SIGNET_ERR_* codes each
 * function names, with msg saying what and where.
 */
#ifndef SIGNETCTL_WITNESS_H
#define SIGNETCTL_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"

/* Bytes of a state file: a note of NOTE_SIZE_MAX escaped, and the rest. */
#define WITNESS_STATE_MAX (3 * NOTE_SIZE_MAX)
/* Bytes of a consistency proof document, and its steps. */
#define WITNESS_PROOF_MAX (16 * 1024 * 1024)
#define WITNESS_PROOF_STEPS_MAX 4096
/* State files a state directory may hold (a scan reads them all). */
#define WITNESS_FILES_MAX 10000
/* The log names of the API: "server" or "agent/HOST". */
#define WITNESS_LOG_MAX 80
/* Bytes of a path in the state directory. */
#define WITNESS_PATH_MAX 4096

/* A locked state directory. */
struct witness;

/*
 * Opens the state directory dir, creating it (mode 0700) when missing:
 * it must be a directory owned by root or this user that group and
 * others cannot write, and every directory above it as fileio_check_dir
 * says (else SIGNET_ERR_PERMISSIONS). Takes an exclusive lock (flock on
 * DIR/lock, without waiting): SIGNET_ERR_UNAVAILABLE when another witness
 * holds it. Also SIGNET_ERR_IO, SIGNET_ERR_TOO_LARGE (path too long),
 * SIGNET_ERR_ALLOC. Returns 0 and *out (free with witness_close).
 */
int witness_open(const char *dir, struct witness **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Releases the lock and frees w; NULL allowed. */
void witness_close(struct witness *w);

/* What a witness keeps for one log (one state file). */
struct witness_state {
	char origin[NOTE_ORIGIN_MAX + 1];
	struct keys_public log_key; /* the key the log signs with */
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	char *checkpoint; /* the note last cosigned (with the cosignature) */
	size_t checkpoint_len;
	int64_t cosigned_at; /* seconds since the epoch */
};

/* Frees st's checkpoint and clears st; NULL allowed. */
void witness_state_free(struct witness_state *st);

/*
 * The state file's name in the directory for origin: the origin with
 * every byte but [A-Za-z0-9._-] as %HH, then ".json"; for a long origin
 * "origin-" and the hex SHA-256 of the origin, then ".json". Returns 0 or
 * SIGNET_ERR_INVALID_ARG (empty origin, or size below 256).
 */
int witness_state_name(const char *origin, char *buf, size_t size)
    __attribute__((warn_unused_result));

/*
 * Parses a state file's bytes (named what in messages): one JSON object
 * {"origin","log_key","size","root","checkpoint","cosigned_at"} and no
 * other member; the checkpoint must be a note, signed under the origin
 * by log_key, whose checkpoint says size and root. Returns 0 and *st
 * (witness_state_free it), SIGNET_ERR_FORMAT or SIGNET_ERR_TOO_LARGE
 * (over WITNESS_STATE_MAX), SIGNET_ERR_ALLOC; *st is cleared on failure.
 */
int witness_state_parse(const char *what, const char *data, size_t len,
    struct witness_state *st, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The state file's text for st (JSON, one line, a newline at the end) in
 * *out (free()), *len bytes. Returns 0 or SIGNET_ERR_ALLOC.
 */
int witness_state_format(const struct witness_state *st, char **out,
    size_t *len) __attribute__((warn_unused_result));

/*
 * Reads the state kept for origin: 0 and *st, *found true; 0 and *found
 * false when there is none; SIGNET_ERR_FORMAT (a damaged file: never
 * treated as no state; msg names the file), SIGNET_ERR_IO,
 * SIGNET_ERR_PERMISSIONS (not a regular file, a link),
 * SIGNET_ERR_TOO_LARGE, SIGNET_ERR_ALLOC.
 */
int witness_state_load(struct witness *w, const char *origin,
    struct witness_state *st, bool *found, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Writes st as the state of its origin, durably and atomically
 * (fileio_replace, mode 0600). Returns 0, SIGNET_ERR_IO, SIGNET_ERR_ALLOC.
 */
int witness_state_store(struct witness *w, const struct witness_state *st,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The origin the state directory recorded for the log key pk: reads every
 * state file (*.json) and copies the origin of the one kept with pk into
 * origin[NOTE_ORIGIN_MAX + 1]. Returns 0 and *found; errors as
 * witness_state_load (any damaged file refuses), and SIGNET_ERR_EXISTS
 * when two files name pk, SIGNET_ERR_TOO_LARGE over WITNESS_FILES_MAX
 * files.
 */
int witness_find_origin(struct witness *w, const struct keys_public *pk,
    char origin[static NOTE_ORIGIN_MAX + 1], bool *found, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* One step of a consistency proof chain: tree old is a prefix of new. */
struct witness_proof_step {
	uint64_t old_size, new_size;
	uint8_t new_root[MERKLE_HASH_LEN];
	size_t nhashes;
	uint8_t hashes[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
};

/* A consistency proof chain, as GET /api/audit/proof/consistency says. */
struct witness_proof {
	char log[WITNESS_LOG_MAX + 1];
	uint64_t old_size, new_size;
	size_t nsteps;
	struct witness_proof_step *steps;
};

/*
 * Parses a proof document {"log","old","new","steps":[{"old","new",
 * "new_root","hashes":[...]}]} strictly (no other member, canonical
 * base64 of 32 bytes, at most MERKLE_PROOF_MAX hashes a step and
 * WITNESS_PROOF_STEPS_MAX steps) and checks its shape: sizes below
 * MERKLE_SIZE_MAX, old <= new, the first step from old, each next from
 * the previous new, each 1 <= old < new, the last to new; zero steps only
 * when old == new or old == 0. Does not check hashes (witness_proof_check
 * does). Returns 0 and *p (witness_proof_free it), SIGNET_ERR_FORMAT,
 * SIGNET_ERR_TOO_LARGE, SIGNET_ERR_ALLOC; *p cleared on failure.
 */
int witness_proof_parse(const char *data, size_t len, struct witness_proof *p,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Frees p's steps and clears p; NULL allowed. */
void witness_proof_free(struct witness_proof *p);

/*
 * Checks that p proves that the tree (old_size, old_root) is a prefix of
 * (new_size, new_root): p's sizes are those, every step verifies
 * (merkle_check_tree, from old_root, then each step's new_root), and the
 * last step's new_root is new_root. Returns 0 or SIGNET_ERR_CHAIN (msg
 * says which step and why).
 */
int witness_proof_check(const struct witness_proof *p, uint64_t old_size,
    const uint8_t old_root[static MERKLE_HASH_LEN], uint64_t new_size,
    const uint8_t new_root[static MERKLE_HASH_LEN], struct err_msg *msg)
    __attribute__((warn_unused_result));

/* What a witness decided about a checkpoint. */
enum witness_verdict {
	WITNESS_COSIGNED_FIRST = 0,   /* first contact: origin recorded */
	WITNESS_COSIGNED_SAME,        /* the tree cosigned last time */
	WITNESS_COSIGNED_EXTENSION,   /* a proven consistent extension */
	WITNESS_REFUSED_SIGNATURE,    /* not signed by the log's key */
	WITNESS_REFUSED_ORIGIN,       /* another origin, or another key */
	WITNESS_REFUSED_ROLLBACK,     /* smaller than the tree cosigned */
	WITNESS_REFUSED_SPLIT_VIEW,   /* same size, another root */
	WITNESS_REFUSED_INCONSISTENT, /* the extension's proof fails */
};

/* Whether v is one of the WITNESS_COSIGNED_ verdicts. */
bool witness_verdict_cosigned(enum witness_verdict v);

/* A short name for v: "first contact", "split view", ... */
const char *witness_verdict_name(enum witness_verdict v);

/*
 * Fetches the consistency proof chain from old to new (old >= 1): 0 and
 * *json (free()), *len bytes; or a SIGNET_ERR_* code with msg.
 */
typedef int (*witness_get_proof_fn)(void *arg, uint64_t old, uint64_t new_size,
    char **json, size_t *len, struct err_msg *msg);

struct witness_params {
	const char *name;              /* the witness's key name */
	const struct keys_secret *key; /* the witness's key */
	const struct keys_public *log_key;
	const char *origin; /* the origin expected; NULL: the one recorded */
	const char *log;    /* the log's API name: checked in proofs */
	uint64_t now;       /* the cosignature's time, seconds */
	witness_get_proof_fn get_proof;
	void *get_proof_arg;
};

#define WITNESS_EVIDENCE_MAX 3

struct witness_result {
	enum witness_verdict verdict;
	char origin[NOTE_ORIGIN_MAX + 1]; /* the checkpoint's (escaped: no) */
	uint64_t old_size, new_size;      /* old: the state's, if any */
	uint8_t old_root[MERKLE_HASH_LEN], new_root[MERKLE_HASH_LEN];
	bool had_state;
	char *cosigned; /* the note with the cosignature; free() */
	size_t cosigned_len;
	size_t nevidence; /* files written into the state directory */
	char evidence[WITNESS_EVIDENCE_MAX][WITNESS_PATH_MAX];
};

/* Frees r's cosigned note and clears r; NULL allowed. */
void witness_result_free(struct witness_result *r);

/*
 * Witnesses the checkpoint note[0..len) of the log p->log_key signs:
 * finds the origin (p->origin, else the one recorded for the key, else,
 * on first contact, the checkpoint's own), opens the note with the
 * verifier (origin, Ed25519, log key), compares it with the state kept
 * for the origin and, for a larger tree, fetches (p->get_proof) and
 * checks the proof chain from the state's size. When it may, cosigns
 * (note_cosign at p->now under p->name), stores the new state (durably,
 * before returning) and gives the cosigned note in res->cosigned. A
 * rollback, split view or inconsistent extension writes the conflicting
 * notes (and the proof) as evidence files into the state directory.
 *
 * Returns 0 with res->verdict (cosigned, or refused with msg saying
 * why), or an error: SIGNET_ERR_FORMAT (the note or the proof document
 * is malformed, a damaged state file), SIGNET_ERR_EXISTS (two state
 * files for the key), the errors of the state functions and of
 * p->get_proof, SIGNET_ERR_CRYPTO, SIGNET_ERR_ALLOC.
 */
int witness_run(struct witness *w, const struct witness_params *p,
    const char *note, size_t len, struct witness_result *res,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The leaf of a log's Merkle tree: the hash of one record's line, its
 * bytes without the newline (the bytes the hash chain hashes).
 */
void witness_leaf_hash(const char *line, size_t len,
    uint8_t out[static MERKLE_HASH_LEN]);

/*
 * The roots of the trees of a log's first sizes[i] records, for
 * i < nsizes (any order, duplicates allowed), reading the log's files
 * paths[0..npaths) in order (one pass, memory bounded). *records gets the
 * number of whole lines read; a size above it gets no root: have[i]
 * false. Returns 0, or the errors of audit_reader_open/next
 * (SIGNET_ERR_NOT_FOUND, SIGNET_ERR_IO, SIGNET_ERR_TOO_LARGE) naming the
 * file, and SIGNET_ERR_FORMAT for a torn line before the end of the last
 * file.
 */
int witness_log_roots(const char *const *paths, size_t npaths,
    const uint64_t *sizes, size_t nsizes, uint8_t (*roots)[MERKLE_HASH_LEN],
    bool *have, uint64_t *records, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Witness keys audit verify takes (--witness-key). */
#define WITNESS_KEYS_MAX 32

/*
 * Reads a witness's verifier key file: one C2SP verifier key text line
 * (a final newline allowed, nothing else) of type 0x04, a
 * tlog-cosignature/v1 key, as signetctl audit witness-key prints it.
 * Returns 0 and *v, or SIGNET_ERR_NOT_FOUND, SIGNET_ERR_IO,
 * SIGNET_ERR_TOO_LARGE, SIGNET_ERR_FORMAT (not a key text, or another
 * type), SIGNET_ERR_UNKNOWN_KEY (its id does not match), with msg naming
 * the file.
 */
int witness_vkey_load(const char *path, struct note_verifier *v,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* What audit verify found about one checkpoint file. */
struct witness_cp_report {
	const char *file;          /* borrowed */
	struct note_checkpoint cp; /* origin, size, root */
	/*
	 * failed: the log's signature or a known witness's cosignature does
	 * not verify, or the log does not hold the tree (why says which).
	 * Else holds: the log's first cp.size records have cp.root.
	 */
	bool failed, holds;
	char why[ERR_MSG_MAX];
	size_t nwitnessed; /* known witnesses whose cosignature verified */
	struct {
		char name[NOTE_NAME_MAX + 1];
		uint32_t key_id;
		uint64_t time;
	} witnessed[WITNESS_KEYS_MAX];
};

/*
 * Checks the checkpoint files cps[0..ncps) against a log that verified
 * (its files logs[0..nlogs), from its first record, in order): each must
 * be a checkpoint note signed, under its own origin, by log_key, whose
 * cosignatures by the known witnesses wit[0..nwit) (type 0x04) verify,
 * and whose root is the root of the log's first SIZE records (one
 * streaming pass over the log for all of them). Fills out[0..ncps).
 * Returns 0 when every checkpoint was examined (its verdict in out[i]),
 * or, for input that cannot be used: SIGNET_ERR_FORMAT (a file that is
 * not a checkpoint note), SIGNET_ERR_INVALID_ARG (nwit over
 * WITNESS_KEYS_MAX, two witnesses with one name and id), the errors of
 * reading the files and of witness_log_roots; msg names the file.
 */
int witness_check_checkpoints(const char *const *cps, size_t ncps,
    const struct keys_public *log_key, const struct note_verifier *wit,
    size_t nwit, const char *const *logs, size_t nlogs,
    struct witness_cp_report *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
