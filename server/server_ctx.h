/* SPDX-License-Identifier: ISC */
/*
 * What the server's parts share: the registry, the audit writer, the
 * counters, the keys, and the identity store (CA + CRL), which SIGHUP
 * replaces while both listeners keep checking certificates with it. Made
 * by main(); the hub and the API hold a pointer and never free it.
 */
#ifndef SIGNET_SERVER_CTX_H
#define SIGNET_SERVER_CTX_H

#include <pthread.h>

#include "audit.h"
#include "audit_limit.h"
#include "identity.h"
#include "keys.h"
#include "metrics.h"
#include "registry.h"
#include "roster_store.h"

#define SERVER_ACTOR "server"

struct agent_cp;
struct keyset_cache;

struct server_ctx {
	struct registry *registry;
	struct audit_writer *audit;
	struct metrics *metrics;
	struct keys_secret *action_key; /* sodium_malloc'd */
	char agents_dir[4096];          /* HOST-ID.pub files */
	/*
	 * The agents' result keys, kept while stat() shows their files
	 * unchanged (keyset_cache.h); NULL: read at every use.
	 */
	struct keyset_cache *agent_keys;
	char ca_path[4096];
	char crl_path[4096];
	char audit_path[4096]; /* the server's own audit log */
	pthread_mutex_t identity_mu;
	struct identity_store *identity; /* current; swap under the lock */
	/*
	 * The operator roster ([roster]), NULL when no roster keys are
	 * pinned: then operator-signed requests are refused.
	 */
	struct roster_store *roster;
	/* The witnesses and the cosignatures they sent (witnesses.h). */
	struct witnesses *witnesses;
	/*
	 * The agents' checkpoints (server/agent_checkpoints.h), kept in
	 * AUDIT-DIR/agent-checkpoints/; NULL when they cannot be kept (said
	 * at start): then no agent is asked for any.
	 */
	struct agent_cp *agent_cp;
	/* The API's bounded refusal records; zero: the defaults */
	struct audit_limit_bounds audit_limit;
	/* [tls] expiry_warn_days: warn of certificates expiring that soon */
	int expiry_warn_days;
	/* Cluster mode ([cluster], cluster.h); NULL: one server. */
	struct cluster *cluster;
	/* Actions across replicas (cluster_relay.h); NULL: one server. */
	struct cluster_relay *relay;
};

/* Initialises the lock; the caller fills in the rest. 0 or error. */
int server_ctx_init(struct server_ctx *ctx);

/*
 * A reference to the current identity store (identity_store_free it when
 * done). Never NULL once main() has loaded the first store.
 */
struct identity_store *server_ctx_identity(struct server_ctx *ctx);

/*
 * Loads CA and CRL again and swaps them in. On failure the old store stays
 * and msg says why (a bad new CRL never locks everyone out by accident,
 * but an expired one already in use still refuses everyone: fail closed).
 */
int server_ctx_reload_identity(struct server_ctx *ctx, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Loads host_id's result keys from agents_dir: HOST-ID.pub and its
 * retired keys, retired/HOST-ID.STAMP.pub (common/keyset.h; every file a
 * trust file), through agent_keys when there is one: checked by stat at
 * every call and read again when anything changed, so a rotation or a
 * loosened mode is seen at the next call as before. Any thread may call
 * it. Returns keyset_load's codes.
 */
struct keyset;
int server_ctx_agent_keys(struct server_ctx *ctx, const char *host_id,
    struct keyset *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The current key of host_id (HOST-ID.pub in agents_dir; host_id must be
 * a valid name), loaded with its retired keys so that a bad retired key
 * file is refused here too. SIGNET_ERR_NOT_FOUND when the host has no
 * current key; else server_ctx_agent_keys's codes.
 */
int server_ctx_agent_key(struct server_ctx *ctx, const char *host_id,
    struct keys_public *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Reads the [roster] file again (SIGHUP): a newer roster that holds is
 * taken (returns 1), the same one changes nothing (0); an older,
 * different or invalid one is refused and the held one stays (the
 * negative code, msg says why). 0 when no roster is configured.
 */
int server_ctx_reload_roster(struct server_ctx *ctx, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Frees the store and agent_keys and destroys the lock (not the other
 * members).
 */
void server_ctx_destroy(struct server_ctx *ctx);

#endif
