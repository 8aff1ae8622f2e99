/* SPDX-License-Identifier: ISC */
/*
 * The agent's memory of action ids it has seen (docs/protocol.md: "action_id
 * never seen before — the seen set survives an agent restart"). An id is kept
 * until its action has expired beyond the clock skew, after which the expiry
 * check refuses a replay anyway. On start the set is rebuilt from the agent's
 * own audit log, which records every action it was handed before anything else
 * is done with it.
 *
 * With each id the set keeps, when known, the SHA-256 of the payload first
 * delivered under it (request_sha256): a second delivery of the same bytes
 * (a relay delivering at least once) is then told from a different payload
 * reusing the id. The log format is unchanged: the hash is read from a
 * record's "request_sha256", else computed from its embedded "action"
 * envelope's payload; a record with neither leaves it unknown, and an
 * unknown hash matches nothing (the redelivery is refused as a replay).
 */
#ifndef SIGNET_REPLAY_H
#define SIGNET_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "err.h"

/* More live ids than this means someone floods us: refuse, fail closed. */
#define REPLAY_MAX_IDS 1000000

struct replay;

struct replay *replay_new(void);
void replay_free(struct replay *r);

/* True when action_id (32 hex) was seen and is still remembered. */
bool replay_seen(struct replay *r, const char *action_id);

/*
 * Whether action_id was seen with request_sha256 (64 lowercase hex): true
 * only when the id is remembered with that very hash; false when unseen,
 * seen with another hash, or seen with none known.
 */
bool replay_seen_same(struct replay *r, const char *action_id,
    const char *request_sha256);

/*
 * Remembers action_id until expires_at_ms (+ skew). Returns 0,
 * SIGNET_ERR_EXISTS if already seen, SIGNET_ERR_TOO_LARGE when full,
 * SIGNET_ERR_INVALID_ARG for a malformed id.
 */
int replay_add(struct replay *r, const char *action_id, int64_t expires_at_ms,
    int64_t now_ms) __attribute__((warn_unused_result));

/*
 * As replay_add, remembering request_sha256 (64 lowercase hex, or NULL:
 * unknown) with the id; an id seen already keeps its first hash. Also
 * SIGNET_ERR_INVALID_ARG for a malformed hash.
 */
int replay_add_sha(struct replay *r, const char *action_id,
    const char *request_sha256, int64_t expires_at_ms, int64_t now_ms)
    __attribute__((warn_unused_result));

/* Forgets ids whose actions expired more than the skew before now_ms. */
void replay_prune(struct replay *r, int64_t now_ms);

size_t replay_count(struct replay *r);

/*
 * How far back the log is read: an action recorded at time T was issued
 * at most a skew after T and lives at most ENVELOPE_MAX_LIFETIME_MS, and
 * is refused as expired a skew after that; plus a minute of margin.
 */
#define REPLAY_LOOKBACK_MS                                                     \
	(ENVELOPE_MAX_LIFETIME_MS + 2 * ENVELOPE_SKEW_MS + 60000LL)

/*
 * Adds every action id recorded in the audit log at path (records whose
 * data holds "action_id" and "expires_at") that has not expired at now_ms.
 * A rotated log is read from the earlier files that hold records of the
 * last REPLAY_LOOKBACK_MS (audit_reader_open_since): if one of them is
 * missing, that is an error (SIGNET_ERR_CHAIN), since the replay set would
 * be incomplete. A missing log is an empty one. A line that does not
 * parse stops the load with an error: the caller must not start with a
 * partial set.
 */
int replay_load_audit(struct replay *r, const char *path, int64_t now_ms,
    size_t *loaded, struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * As replay_load_audit, reading extra_ms further back: an operator's
 * request may wait for approvals that much longer than an action lives
 * (policy_store_max_wait_ms). A record's id is kept until the later of
 * its "expires_at" and its "replay_until" (the request's expiry).
 */
int replay_load_audit_longer(struct replay *r, const char *path, int64_t now_ms,
    int64_t extra_ms, size_t *loaded, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
