/* SPDX-License-Identifier: ISC */
/*
 * An agent's result keys across rotations (docs/protocol.md, "Result
 * keys"): DIR/HOST-ID.pub is the host's current key, and every key it
 * replaced is kept as DIR/retired/HOST-ID.STAMP.pub, STAMP the UTC time it
 * was retired (YYYYMMDDTHHMMSSZ). The server, `signetctl audit verify
 * --agent-keys DIR` and `audit reconcile` read a host's keys through this
 * module, find one by key id, and (the server) decide whether a result
 * signed with a retired key may be taken: only for an action sent before
 * the key was retired, or one the server does not know.
 */
#ifndef SIGNET_KEYSET_H
#define SIGNET_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

#define KEYSET_RETIRED_DIR "retired"
#define KEYSET_RETIRED_MAX 16 /* retired keys of one host */
#define KEYSET_STAMP_LEN 16   /* YYYYMMDDTHHMMSSZ */
#define KEYSET_HOST_MAX 63    /* bytes of a host id (text_valid_name) */

struct keyset_key {
	struct keys_public pub;
	bool retired;
	int64_t retired_at; /* unix seconds; 0 for the current key */
	char stamp[KEYSET_STAMP_LEN + 1]; /* "" for the current key */
};

/*
 * A host's keys: keys[0] is the current one when has_current, then the
 * retired ones, newest first (the order a signature is tried in).
 */
struct keyset {
	char host[KEYSET_HOST_MAX + 1];
	bool has_current;
	size_t count;
	struct keyset_key keys[1 + KEYSET_RETIRED_MAX];
};

/*
 * Parses a file name of retired/: HOST-ID.STAMP.pub, the host id being
 * everything before the last ".STAMP.pub" (host ids may hold dots). On
 * success host (hostlen bytes, at least KEYSET_HOST_MAX + 1) holds the
 * host id and *retired_at the stamp in unix seconds. Returns 0 or
 * SIGNET_ERR_FORMAT (not of that form, a host id text_valid_name refuses,
 * or a STAMP that is no real time).
 */
int keyset_parse_retired_name(const char *name, char *host, size_t hostlen,
    int64_t *retired_at) __attribute__((warn_unused_result));

/*
 * Loads host's keys from dir: DIR/HOST.pub (current; may be missing) and
 * every DIR/retired/HOST.STAMP.pub. With trusted, each file is read with
 * keys_load_public_trusted (refused when group or others may write it or
 * a directory above it) and retired/ itself must be a directory not
 * writable by group or others; without, with keys_load_public (an
 * auditor's copy). Files of retired/ whose names are not of that form
 * but begin with "HOST." are ignored with a warning naming them.
 * Returns 0 with *out; SIGNET_ERR_INVALID_ARG (host not a valid name),
 * SIGNET_ERR_NOT_FOUND (no key at all for host), SIGNET_ERR_TOO_LARGE
 * (more than KEYSET_RETIRED_MAX retired keys: an error, never a silent
 * cut), SIGNET_ERR_FORMAT (a key in two files), SIGNET_ERR_PERMISSIONS,
 * SIGNET_ERR_IO, or a key file's error, msg naming the file.
 */
int keyset_load(const char *dir, const char *host, bool trusted,
    struct keyset *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* The key of this id in ks, or NULL. */
const struct keyset_key *keyset_find(const struct keyset *ks,
    const char *key_id);

/*
 * Whether a result (or outcome) signed with k may be taken for the action
 * it answers: always with the current key; with a retired key only when
 * the action is not known to the server (known false), or when it was
 * sent (sent_ms, unix ms) before k was retired. A known action sent at
 * or after that time with a retired key's signature is a bad result.
 */
bool keyset_allows(const struct keyset_key *k, bool known, int64_t sent_ms);

#endif
