/* SPDX-License-Identifier: ISC */
/*
 * The roster a daemon holds (docs/operators.md, "The roster on the
 * hosts"): the newest verified operator roster, under the pinned roster
 * keys and threshold. A new roster is taken only when its signatures
 * hold, it is not expired and its version is higher than the one held: a
 * lower version is a rollback, the same version with other payload bytes
 * an equivocation, and both are refused, so whoever relays rosters (the
 * server, for the agents) can neither bring back a removed operator nor
 * add one. The agent keeps what it takes on disk (written atomically
 * before it is used), so the floor survives a restart; the server reads
 * its roster from the admin's file. Readers take a counted reference, so
 * a roster replaced under them stays valid until they let it go.
 */
#ifndef SIGNET_ROSTER_STORE_H
#define SIGNET_ROSTER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"
#include "roster.h"

struct roster_store;

/* What roster_store_offer did with a roster that verified. */
enum roster_offer {
	ROSTER_OFFER_TAKEN = 1, /* newer: now held (and saved) */
	ROSTER_OFFER_HELD,      /* the very roster held already */
};

/*
 * A store pinning the roster keys (1..KEYS_PUBSET_MAX; copied) with
 * threshold 1..pinned->count. path is the file the roster is kept in:
 * with save, the store writes every roster it takes there (0644,
 * atomically, before it is used), and reads it at start. Returns 0,
 * SIGNET_ERR_INVALID_ARG (threshold out of range), SIGNET_ERR_ALLOC.
 */
int roster_store_new(const struct keys_pubset *pinned, unsigned threshold,
    const char *path, bool save, struct roster_store **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Reads path (a missing file is no roster: SIGNET_ERR_NOT_FOUND, nothing
 * changes) as a trusted file (fileio_read_trusted's rules) and offers it
 * as roster_store_offer does, except that an expired roster is still
 * taken when nothing newer is held (its version stays the floor; nothing
 * it lists can sign while it is expired). Same codes as roster_store_offer
 * plus SIGNET_ERR_NOT_FOUND, SIGNET_ERR_PERMISSIONS.
 */
int roster_store_load(struct roster_store *s, int64_t now_ms,
    enum roster_offer *what, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Offers the signed roster file buf[0..len): verified (roster_verify's
 * codes), not expired at now_ms (SIGNET_ERR_FORMAT "... expired ..."),
 * then compared with the held one: a lower version is refused
 * (SIGNET_ERR_EXISTS "roster version 3 is older than the held version 5:
 * a rollback"), the same version with other payload bytes too
 * (SIGNET_ERR_EXISTS "... differs from the held roster of that version");
 * the same payload bytes are ROSTER_OFFER_HELD, also in another file (more
 * signatures over them: the held file is kept). A newer roster is saved
 * first (SIGNET_ERR_IO when that fails: it is then not taken) and then
 * held: ROSTER_OFFER_TAKEN. On every refusal the held roster stays.
 */
int roster_store_offer(struct roster_store *s, const uint8_t *buf, size_t len,
    int64_t now_ms, enum roster_offer *what, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * A reference to the held roster (NULL when none): valid until
 * roster_store_release, whatever is offered meanwhile. Any thread.
 */
struct roster *roster_store_acquire(struct roster_store *s);
void roster_store_release(struct roster_store *s, struct roster *r);

/* The held version (0 when none) and the hex SHA-256 of its file ("" when
 * none), into sha256 (65 bytes). */
int64_t roster_store_version(struct roster_store *s, char sha256[static 65]);

/* The pinned keys and threshold, as given. */
const struct keys_pubset *roster_store_pinned(const struct roster_store *s);
unsigned roster_store_threshold(const struct roster_store *s);

/* Frees s; references still held must have been released. NULL allowed. */
void roster_store_free(struct roster_store *s);

#endif
