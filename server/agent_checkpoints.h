/* SPDX-License-Identifier: ISC */
/*
 * The agents' audit checkpoints the server holds (docs/transparency.md,
 * "Agents' checkpoints"): each agent sends the signed checkpoints of its
 * own audit log's Merkle tree over its channel, and the server takes one
 * only when it verifies under the host's registered result key, names the
 * origin "signet/agent/HOST-ID" of the session's host, and extends what
 * the server holds for that host (the same size and root, or a larger
 * size with a consistency proof from the held one). Every step taken is
 * kept durably, one JSON line per step in DIR/HOST-ID.jsonl
 * ({"old","new","new_root","hashes","note"}, appended and fsynced, 0600),
 * the latest in memory; at open each file is read back and every line
 * verified again, and a file that does not verify is refused loudly for
 * its host (nothing of it is taken, nothing new is added until an
 * operator moves it aside), never silently started over. A torn last
 * line (a crash during an append, never acknowledged) is cut off with a
 * warning.
 *
 * Thread-safe: the hub offers, the API reads; one lock guards the table
 * and is held during an append (fsync), never while a reader walks a
 * file (it reads only up to the length committed when it started).
 */
#ifndef SIGNET_AGENT_CHECKPOINTS_H
#define SIGNET_AGENT_CHECKPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"

#define AGENT_CP_DIRNAME "agent-checkpoints" /* next to the audit log */
#define AGENT_CP_SUFFIX ".jsonl"
#define AGENT_CP_ORIGIN_PREFIX "signet/agent/"
/* Bytes of one line of a host's file: an escaped note, hashes, sizes. */
#define AGENT_CP_LINE_MAX (2 * NOTE_SIZE_MAX + 8192)
/* Steps one consistency answer walks at most. */
#define AGENT_CP_STEPS_MAX 10000

/* Why an agent's checkpoint was refused (audit.checkpoint_refused). */
enum agent_cp_reason {
	AGENT_CP_SPLIT_VIEW = 1, /* the held size, another root */
	AGENT_CP_ROLLBACK,       /* smaller than the held size */
	AGENT_CP_INCONSISTENT,   /* larger, no valid proof from the held */
	AGENT_CP_BAD_SIGNATURE,  /* not signed by the host's result key */
	AGENT_CP_WRONG_ORIGIN,   /* not "signet/agent/<the session's host>" */
	AGENT_CP_MALFORMED,      /* not a checkpoint note */
};

/* "split_view", "rollback", ...; NULL for an unknown value. */
const char *agent_cp_reason_name(enum agent_cp_reason reason);

/* A refusal: what was offered against what is held, and why. */
struct agent_cp_refusal {
	enum agent_cp_reason reason;
	uint64_t size;      /* the offered checkpoint's (0: unreadable) */
	uint64_t held_size; /* the server's for the host (0: none) */
	char detail[ERR_MSG_MAX];
};

/* One step of a host's chain: the tree of old grows to new. */
struct agent_cp_step {
	uint64_t old, new;
	uint8_t new_root[MERKLE_HASH_LEN];
	size_t nhashes;
	uint8_t hashes[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
};

/*
 * Loads host_id's result keys into *out (common/keyset.h: the current
 * one and the retired ones). Returns 0, SIGNET_ERR_NOT_FOUND (none
 * registered) or another negative code, with msg.
 */
struct keyset;
typedef int (*agent_cp_key_fn)(void *arg, const char *host_id,
    struct keyset *out, struct err_msg *msg);

struct agent_cp;

/*
 * Opens the directory dir (created 0700 when missing; it must be a
 * directory of this program's user, not writable by group or others) and
 * reads back every HOST-ID.jsonl in it, verifying each line with the
 * host's keys from key (copied with key_arg; called again at every
 * offer): a line verifies under the current key or a retired one (the
 * checkpoints kept before a rotation were signed with the key it
 * retired), a new offer under the current key alone.
 * A host whose file does not verify (or whose key cannot be loaded) is
 * kept as damaged, logged at error level with the file and line:
 * agent_cp_held and agent_cp_offer then fail for it. Returns 0 with *out
 * (agent_cp_free), *damaged (NULL allowed) the number of such hosts; or
 * SIGNET_ERR_PERMISSIONS, SIGNET_ERR_IO or SIGNET_ERR_ALLOC with msg
 * naming the directory.
 */
int agent_cp_open(const char *dir, agent_cp_key_fn key, void *key_arg,
    struct agent_cp **out, size_t *damaged, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Frees cp; NULL allowed. */
void agent_cp_free(struct agent_cp *cp);

/*
 * Offers host_id's checkpoint: the signed note note[0..note_len), old
 * (the size the server last acknowledged on the session) and the
 * consistency proof proof[0..nproof) from old to the note's size.
 * Taken (kept durably) or held already (the same size and root): returns
 * 0 and *acked, the size now held. Refused: returns 1 and fills *ref
 * (nothing changes). Else a negative code with msg, nothing taken and
 * nothing to acknowledge: SIGNET_ERR_CHAIN (the host's file is damaged),
 * SIGNET_ERR_INVALID_ARG (host_id not a valid name), the key function's
 * code (no key), SIGNET_ERR_IO (not stored: the file is cut back),
 * SIGNET_ERR_ALLOC.
 */
int agent_cp_offer(struct agent_cp *cp, const char *host_id, const char *note,
    size_t note_len, uint64_t old, const uint8_t (*proof)[MERKLE_HASH_LEN],
    size_t nproof, uint64_t *acked, struct agent_cp_refusal *ref,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The size of host_id's latest checkpoint held (0: none). Returns 0,
 * SIGNET_ERR_CHAIN (damaged, msg says why) or SIGNET_ERR_INVALID_ARG.
 */
int agent_cp_held(struct agent_cp *cp, const char *host_id, uint64_t *size,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * A copy of host_id's latest checkpoint note (free()), its length and
 * size. Returns 0, SIGNET_ERR_NOT_FOUND (none held), SIGNET_ERR_CHAIN
 * (damaged), SIGNET_ERR_INVALID_ARG or SIGNET_ERR_ALLOC, with msg.
 */
int agent_cp_latest(struct agent_cp *cp, const char *host_id, char **note,
    size_t *len, uint64_t *size, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The steps host_id's chain took from size old to size new, read back
 * from its file: *steps (a new cJSON array, cJSON_Delete it) of
 * {"old","new","new_root","hashes"} (base64 hashes) in order, empty when
 * old == new. old must be 0 or a size the server accepted, new an
 * accepted size not below old. Returns 0; SIGNET_ERR_NOT_FOUND (none
 * held, or old or new not held: msg names the sizes held);
 * SIGNET_ERR_TOO_LARGE (more than AGENT_CP_STEPS_MAX steps);
 * SIGNET_ERR_CHAIN (damaged); SIGNET_ERR_IO; SIGNET_ERR_ALLOC.
 */
int agent_cp_steps(struct agent_cp *cp, const char *host_id, uint64_t old,
    uint64_t new, cJSON **steps, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Parses one line of a host's file (without its newline) strictly:
 * exactly old and new (0..2^53-1, old < new), new_root (base64 of 32
 * bytes), hashes (0..MERKLE_PROOF_MAX of them, none when old is 0) and
 * note (1..NOTE_SIZE_MAX bytes, a new string in *note, free()). Checks
 * no signature. Returns 0, SIGNET_ERR_FORMAT, SIGNET_ERR_TOO_LARGE or
 * SIGNET_ERR_ALLOC with msg; *note NULL on failure.
 */
int agent_cp_parse_line(const char *line, size_t len, struct agent_cp_step *st,
    char **note, struct err_msg *msg) __attribute__((warn_unused_result));

#endif
