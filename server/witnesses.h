/* SPDX-License-Identifier: ISC */
/*
 * The witnesses the server knows ([audit] witness_keys: C2SP verifier
 * keys of type 0x04, tlog-cosignature/v1) and the cosignatures they send
 * of the server's checkpoints (docs/transparency.md#witnesses). A
 * cosignature is kept only when its checkpoint is one of this log's —
 * origin ours, signed by our audit key, and its root the root of our
 * tree at that size — and its signature verifies under a known witness's
 * key; it is then recorded in the audit log (audit.cosigned), appended
 * durably to PATH.cosignatures, and the newest cosigned checkpoint, with
 * every cosignature it has, is served.
 */
#ifndef SIGNET_WITNESSES_H
#define SIGNET_WITNESSES_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "err.h"
#include "keys.h"

#define WITNESSES_MAX 32
#define WITNESSES_SUFFIX ".cosignatures"

struct witnesses;

/*
 * Loads the witness keys file at keys_path (NULL: none known; every
 * cosignature is then refused), one verifier key text per line, '#'
 * comments and blank lines allowed; a trust file (refused when group or
 * others may write it). Reads back PATH.cosignatures of the audit log at
 * audit_path (the newest cosigned checkpoint). The log's own verifier is
 * origin with audit_pub. Returns 0 and *out, SIGNET_ERR_CONFIG (a bad
 * line: "FILE:LINE: why"), SIGNET_ERR_PERMISSIONS, SIGNET_ERR_IO,
 * SIGNET_ERR_FORMAT (a damaged PATH.cosignatures, naming the line) or
 * SIGNET_ERR_ALLOC with msg.
 */
int witnesses_open(const char *keys_path, const char *audit_path,
    const char *origin, const struct keys_public *audit_pub,
    struct witnesses **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* How many witness keys are known. */
size_t witnesses_count(const struct witnesses *ws);

/* What witnesses_accept did. */
struct witnesses_result {
	size_t taken;   /* new cosignatures kept */
	size_t already; /* cosignatures kept before */
	uint64_t size;  /* the checkpoint's size */
};

/*
 * Takes the cosignatures of a checkpoint note (the server's signed
 * checkpoint with the witnesses' lines added) for the log of writer w.
 * Returns 0 (res says what was new), or, with msg: SIGNET_ERR_FORMAT
 * (not a note or not a checkpoint), SIGNET_ERR_BAD_SIGNATURE (a known
 * key's signature does not verify), SIGNET_ERR_UNKNOWN_KEY (no known
 * witness cosigned it, or not signed by this log's key),
 * SIGNET_ERR_CHAIN (not a checkpoint of this log: another origin, or a
 * root that is not the tree's at that size), SIGNET_ERR_UNAVAILABLE (the
 * log keeps no tree), SIGNET_ERR_IO (not kept: it could not be written
 * or recorded). Thread-safe.
 */
int witnesses_accept(struct witnesses *ws, struct audit_writer *w,
    const char *note, size_t len, struct witnesses_result *res,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * A copy (free()) of the newest cosigned checkpoint with all the
 * cosignatures kept for it, and its size. Returns 0, SIGNET_ERR_NOT_FOUND or
 * SIGNET_ERR_ALLOC.
 */
int witnesses_latest(struct witnesses *ws, char **note, size_t *len,
    uint64_t *size) __attribute__((warn_unused_result));

void witnesses_free(struct witnesses *ws);

#endif
