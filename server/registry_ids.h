/* SPDX-License-Identifier: ISC */
/*
 * The registry's index of full container ids to the one connected host
 * that holds each (registry.h): a hash table, keyed with a random SipHash
 * key so that ids an agent chooses cannot be made to collide. The
 * registry keeps it under its own lock; nothing here locks.
 */
#ifndef SIGNET_REGISTRY_IDS_H
#define SIGNET_REGISTRY_IDS_H

#include <stddef.h>

#include "err.h"

#define REGISTRY_IDS_ID_LEN 64   /* lowercase hex digits */
#define REGISTRY_IDS_HOST_MAX 63 /* bytes of a host id */

struct registry_ids;

/* A new empty index, or NULL (out of memory, or libsodium unusable). */
struct registry_ids *registry_ids_new(void);

/* Frees it; NULL allowed. */
void registry_ids_free(struct registry_ids *m);

/*
 * Makes room for n more ids, so that the next n registry_ids_put calls
 * cannot fail. Returns 0 or SIGNET_ERR_ALLOC (nothing changed).
 */
int registry_ids_reserve(struct registry_ids *m, size_t n)
    __attribute__((warn_unused_result));

/* The host that holds id (a 64-hex-digit id), or NULL. */
const char *registry_ids_get(const struct registry_ids *m, const char *id);

/*
 * Records that host holds id. Returns 0, SIGNET_ERR_EXISTS (id is held
 * already, by any host: nothing changed), SIGNET_ERR_INVALID_ARG (id not
 * 64 characters, host too long) or SIGNET_ERR_ALLOC (no room: call
 * registry_ids_reserve first).
 */
int registry_ids_put(struct registry_ids *m, const char *id, const char *host)
    __attribute__((warn_unused_result));

/* Forgets id if host holds it; anything else is left alone. */
void registry_ids_del(struct registry_ids *m, const char *id, const char *host);

/* How many ids are held. */
size_t registry_ids_count(const struct registry_ids *m);

#endif
