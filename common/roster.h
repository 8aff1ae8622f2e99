/* SPDX-License-Identifier: ISC */
/*
 * The signed operator roster (docs/operators.md): who may sign requests
 * and approvals, with which Ed25519 key, in which groups, until when. The
 * roster file is {"roster": base64 of the payload's exact bytes,
 * "signatures": [{key_id, sig}]}; each signature is Ed25519 over
 * ROSTER_CONTEXT || payload bytes by one of the admins' roster keys. A
 * reader pins the roster keys and a threshold k: the roster holds only
 * when k distinct pinned keys signed those very bytes, and only the
 * verified bytes are ever parsed. The payload is parsed strictly; a key
 * that appears under two names, or a name twice, refuses the whole roster.
 */
#ifndef SIGNET_ROSTER_H
#define SIGNET_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "identity.h"
#include "keys.h"

#define ROSTER_CONTEXT "signet/roster/v1\n"
#define ROSTER_FILE_MAX (256 * 1024)    /* bytes of a signed roster file */
#define ROSTER_PAYLOAD_MAX (180 * 1024) /* decoded payload bytes */
#define ROSTER_OPERATORS_MAX 1024
#define ROSTER_GROUPS_MAX 32   /* per operator */
#define ROSTER_SIGS_MAX 8      /* signatures on one roster */
#define ROSTER_THRESHOLD_MAX 8 /* = KEYS_PUBSET_MAX */
/* expires_at - issued_at at most this: a roster is re-signed yearly. */
#define ROSTER_LIFETIME_MAX_MS (400LL * 24 * 3600 * 1000)
#define ROSTER_VERSION_MAX 9007199254740991LL /* 2^53 - 1 */

struct roster_operator {
	char name[IDENTITY_NAME_MAX + 1];
	struct keys_public key;
	size_t ngroups;
	char groups[ROSTER_GROUPS_MAX][IDENTITY_NAME_MAX + 1];
	int64_t not_after; /* unix ms: the key signs nothing after this */
};

/* A verified, parsed roster. Immutable once made. */
struct roster {
	int64_t version; /* 1 .. ROSTER_VERSION_MAX */
	int64_t issued_at;
	int64_t expires_at;
	size_t nops;
	struct roster_operator *ops; /* nops entries, in file order */
	char sha256[65];             /* hex SHA-256 of the whole signed file */
	char payload_sha256[65];     /* hex SHA-256 of the payload bytes */
	size_t nsigners;             /* pinned keys whose signatures held */
	char signers[ROSTER_SIGS_MAX][KEYS_ID_LEN + 1];
	uint8_t *file; /* the exact signed file bytes */
	size_t file_len;
};

/*
 * Verifies the signed roster file buf[0..len) against the pinned keys:
 * at least threshold (1..ROSTER_THRESHOLD_MAX) distinct pinned keys must
 * have valid signatures over the exact payload bytes (signatures by keys
 * that are not pinned, or that fail, are not counted; a key_id twice in
 * "signatures" refuses the file), then parses the payload strictly. It
 * does not judge the time: see roster_check_time. On success *out is a
 * new roster (roster_free). Returns 0, SIGNET_ERR_TOO_LARGE,
 * SIGNET_ERR_FORMAT (the file or the payload; msg names the member),
 * SIGNET_ERR_BAD_SIGNATURE (fewer than threshold valid signatures; msg
 * says how many of how many), SIGNET_ERR_INVALID_ARG, SIGNET_ERR_ALLOC.
 */
int roster_verify(const uint8_t *buf, size_t len,
    const struct keys_pubset *pinned, unsigned threshold, struct roster **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * 0 when issued_at - ROSTER_SKEW_MS <= now_ms < expires_at; else
 * SIGNET_ERR_FORMAT with msg "roster version N expired at ..." or "...
 * issued in the future".
 */
#define ROSTER_SKEW_MS 30000LL
int roster_check_time(const struct roster *r, int64_t now_ms,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* The operator holding this key id, or NULL. */
const struct roster_operator *roster_find_key(const struct roster *r,
    const char *key_id);
/* The operator of this name, or NULL. */
const struct roster_operator *roster_find_name(const struct roster *r,
    const char *name);
/* Whether op is in group. */
bool roster_in_group(const struct roster_operator *op, const char *group);

/* Frees r and its buffers; NULL allowed. */
void roster_free(struct roster *r);

/*
 * Building rosters (the admin's tools and tests). roster_encode_payload
 * serialises r's version, times and operators as the compact payload
 * JSON ({"v":1,"version","issued_at","expires_at","operators":[{"name",
 * "key","groups","not_after"}]}; a new string, free()). Nothing is
 * validated beyond what serialising needs: SIGNET_ERR_ALLOC,
 * SIGNET_ERR_INVALID_ARG.
 */
int roster_encode_payload(const struct roster *r, char **json)
    __attribute__((warn_unused_result));

/*
 * Parses payload bytes strictly without any signature (for the admin's
 * draft, never for trust). Same codes as roster_verify's parse part.
 */
int roster_parse_payload(const uint8_t *buf, size_t len, struct roster **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Signs payload[0..len) with key and writes the signed file text
 * (a new NUL-terminated string, free()) into *file. existing, when not
 * NULL, is a signed file over the very same payload bytes whose
 * signatures are kept (k-of-n: each admin adds theirs); a signature by
 * the same key replaces its old one. Returns 0, SIGNET_ERR_FORMAT
 * (existing malformed, or over other bytes), SIGNET_ERR_TOO_LARGE,
 * SIGNET_ERR_ALLOC.
 */
int roster_sign(const uint8_t *payload, size_t len,
    const struct keys_secret *key, const uint8_t *existing, size_t existing_len,
    char **file, struct err_msg *msg) __attribute__((warn_unused_result));

#endif
