/* SPDX-License-Identifier: ISC */
/*
 * The audit log as an RFC 6962 Merkle tree, and the signed checkpoints a
 * writer publishes over it (docs/transparency.md). Leaf n is the line of
 * seq n, its bytes without the newline, across rotated files; the hash
 * chain stays. The tree's hashes live in PATH.merkle (common/merkle.h's
 * store), derived from the log and rebuilt from it when behind, torn or
 * not the log's; the latest checkpoint, a C2SP signed note
 * "ORIGIN\nSIZE\nbase64(ROOT)\n" signed with the writer's audit key under
 * the name ORIGIN, in PATH.checkpoint. A checkpoint covers only records
 * already durable, and is made at a fixed interval while records arrive
 * (never one per record). The tree is an addition: when it cannot be
 * kept, the log goes on and checkpoints stop, said in the log and by
 * these functions, never faked.
 */
#ifndef SIGNET_AUDIT_TREE_H
#define SIGNET_AUDIT_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "err.h"
#include "merkle.h"

#define AUDIT_CHECKPOINT_INTERVAL_DEFAULT 10 /* seconds */
#define AUDIT_CHECKPOINT_INTERVAL_MAX 3600
#define AUDIT_ORIGIN_MAX 255
#define AUDIT_TREE_SUFFIX ".merkle"
#define AUDIT_CHECKPOINT_SUFFIX ".checkpoint"

/*
 * Keeps w's Merkle tree from now on: opens PATH.merkle and brings it up
 * to the log (reading the log's files from where the store stops; from
 * the start when the store's last leaf is not the log's line). Returns 0;
 * SIGNET_ERR_CHAIN when a rotated file it needs is missing (archived) or
 * the log's lines do not follow on; SIGNET_ERR_IO, SIGNET_ERR_PERMISSIONS
 * or SIGNET_ERR_ALLOC with msg. On failure w has no tree and the log
 * goes on as before.
 */
int audit_tree_open(struct audit_writer *w, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Called with each new checkpoint's note (valid for the call only). */
typedef void (*audit_checkpoint_fn)(void *arg, const char *note, size_t len,
    uint64_t size);

/*
 * Publishes checkpoints of w's tree under origin (1..AUDIT_ORIGIN_MAX
 * bytes, a valid note key name: e.g. "signet/server/relay-1") every
 * interval_s seconds (1..AUDIT_CHECKPOINT_INTERVAL_MAX) when records
 * became durable since the last one, from a thread of its own that
 * audit_close stops; fn (NULL allowed) hears of each. Makes the first one
 * at once. Returns 0, SIGNET_ERR_INVALID_ARG (bad origin or interval, or
 * started already), SIGNET_ERR_UNAVAILABLE (w keeps no tree), or the
 * first checkpoint's failure with msg.
 */
int audit_checkpoint_start(struct audit_writer *w, const char *origin,
    int interval_s, audit_checkpoint_fn fn, void *arg, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Makes a checkpoint now if records became durable since the last one:
 * signs it, writes PATH.checkpoint (atomically), keeps it as the latest
 * and calls fn. Returns 0 when one was made, 1 when nothing was new,
 * SIGNET_ERR_UNAVAILABLE (no tree, or not started), or SIGNET_ERR_IO /
 * SIGNET_ERR_CRYPTO / SIGNET_ERR_ALLOC with msg (the latest stays).
 */
int audit_checkpoint_now(struct audit_writer *w, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * A copy of the latest checkpoint's note (free()) and its size. Returns
 * 0, SIGNET_ERR_NOT_FOUND (none yet) or SIGNET_ERR_ALLOC.
 */
int audit_checkpoint_latest(struct audit_writer *w, char **note, size_t *len,
    uint64_t *size) __attribute__((warn_unused_result));

/*
 * The consistency proof from the tree of old records to the tree of size
 * records (0 < old <= size <= the records durable), into
 * proof[MERKLE_PROOF_MAX] (*len hashes), with the root of size in root.
 * Returns 0, SIGNET_ERR_INVALID_ARG (sizes out of range, msg says the
 * range), SIGNET_ERR_UNAVAILABLE (no tree) or SIGNET_ERR_IO.
 */
int audit_tree_prove(struct audit_writer *w, uint64_t old, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len,
    uint8_t root[static MERKLE_HASH_LEN], struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The inclusion proof of the record of seq in the tree of size records
 * (seq < size <= the records durable), with that record's leaf hash.
 * Returns as audit_tree_prove.
 */
int audit_tree_prove_record(struct audit_writer *w, uint64_t seq, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len,
    uint8_t leaf[static MERKLE_HASH_LEN], struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
