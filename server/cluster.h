/* SPDX-License-Identifier: ISC */
/*
 * Cluster mode (docs/cluster.md): the replica side. One thread owns the
 * cluster database connection (cluster_db.h) and does everything that
 * waits on it; other threads post work and never wait on the database
 * (the hub's service thread must not block). The thread connects,
 * retrying with backoff while the database is down (the server still
 * serves its agents), LISTENs on signet_hosts (and the channels asked
 * for with cluster_listen_post), renews this replica's claims every
 * claim_ttl/3, and mirrors the hosts other replicas hold into the
 * registry (registry_mirror) on every renew and on each signet_hosts
 * NOTIFY.
 *
 * Claims. The hub posts a claim at an agent's hello (cluster_claim_post),
 * names the session whose state changed (cluster_put_host_post: the
 * thread then writes the registry's view of it, fenced by the claim's
 * epoch) and posts a release when the session ends. Posts are coalesced
 * per host: one entry per host, the newest session wins, so the queue is
 * bounded by the hosts connected here. The thread delivers to the
 * notify callback (cluster_set_notify): CLUSTER_EV_CLAIMED with the epoch
 * granted, CLUSTER_EV_LOST when a renew no longer returns the claim (or
 * returns another epoch) or a write was fenced (SIGNET_ERR_STALE): the
 * hub closes that connection (agent.disconnected reason claim_lost). A
 * LOST is said again at every renew until the session's release comes.
 *
 * The database down. cluster_up() turns false once no statement has
 * succeeded for claim_ttl_ms (or before the first connection); the API
 * then refuses new actions (503). The agents stay connected and their
 * inventory stays in memory; once claim_ttl_ms has passed since the last
 * renew was sent, every claim is taken as lapsed (cluster_holds says no:
 * another replica may hold it now). When the database is back, a claim
 * the renew no longer returns is claimed again when nobody holds the
 * host, and is lost (connection closed) when another replica does.
 *
 * Hooks for the action relay (docs/cluster.md): cluster_call_post runs a
 * function with the connection on the thread; cluster_listen_post adds
 * a channel, whose notifications come to the callback as
 * CLUSTER_EV_NOTIFY; CLUSTER_EV_CONNECTED comes after each (re)connection
 * once every channel is listened to again (a NOTIFY sent while this
 * replica was away is lost: read again what it may have said).
 *
 * Thread-safety: every function may be called from any thread, except
 * cluster_start and cluster_free (the owner's, once each).
 */
#ifndef SIGNET_CLUSTER_H
#define SIGNET_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_db.h"
#include "err.h"
#include "registry.h"

/* [cluster] defaults and bounds (signet.conf(5)). */
#define CLUSTER_TTL_MS_DEFAULT 10000
#define CLUSTER_TTL_MS_MIN 500
#define CLUSTER_TTL_MS_MAX 300000
#define CLUSTER_DB_TIMEOUT_MS_DEFAULT 2000
#define CLUSTER_DB_TIMEOUT_MS_MIN 100
#define CLUSTER_DB_TIMEOUT_MS_MAX 60000
#define CLUSTER_LEASE_MS_DEFAULT 5000
#define CLUSTER_LEASE_MS_MIN 100
#define CLUSTER_LEASE_MS_MAX 600000
/* How long the database keeps an ended action (the logs keep it). */
#define CLUSTER_KEEP_MS_DEFAULT (3600LL * 1000)
#define CLUSTER_KEEP_MS_MIN 1000
#define CLUSTER_KEEP_MS_MAX (30LL * 24 * 3600 * 1000)
/* Old actions removed at most per renew (cluster_db_prune). */
#define CLUSTER_PRUNE_BATCH 1000
/* Hosts one renew returns and one mirror refresh reads at most. */
#define CLUSTER_HOSTS_MAX 20000
/* Queued cluster_call_post jobs and listened channels at most. */
#define CLUSTER_CALLS_MAX 4096
#define CLUSTER_CHANNELS_MAX 8
#define CLUSTER_WHY_MAX 256

struct cluster;

struct cluster_config {
	const char *conninfo; /* libpq conninfo (cluster_db_open checks) */
	const char *replica;  /* this replica's name (text_valid_name) */
	int64_t claim_ttl_ms;
	int db_timeout_ms;
	int64_t queue_lease_ms;
	int64_t actions_keep_ms; /* 0: CLUSTER_KEEP_MS_DEFAULT */
};

enum cluster_event_type {
	CLUSTER_EV_CLAIMED,   /* host, session, epoch: the claim granted */
	CLUSTER_EV_LOST,      /* host, session, epoch, why: close it */
	CLUSTER_EV_NOTIFY,    /* channel, payload: a NOTIFY heard */
	CLUSTER_EV_CONNECTED, /* (re)connected and listening: whatever was
	                         notified while away was not heard */
};

struct cluster_event {
	enum cluster_event_type type;
	char host_id[CLUSTER_NAME_MAX + 1];
	uint64_t session;
	int64_t epoch;
	char channel[32];
	char payload[CLUSTER_NAME_MAX + 1];
	char why[CLUSTER_WHY_MAX];
};

/*
 * Called on the cluster thread for each event; must not block (queue it
 * and wake your own loop). ev is valid during the call only.
 */
typedef void (*cluster_notify_fn)(void *arg, const struct cluster_event *ev);

/* A job for the cluster thread: runs with the open connection (db) or
 * with db NULL when the database is down or the cluster stops (then it
 * must only clean up). Its return value is not looked at. */
typedef void (*cluster_call_fn)(void *arg, struct cluster_db *db);

/*
 * Checks cfg (replica a valid name; ttl, timeout and lease within their
 * bounds) and makes the cluster; reg is borrowed and must outlive it.
 * Connects once to check the conninfo: SIGNET_ERR_INVALID_ARG for a bad
 * configuration or a conninfo cluster_db_open refuses (msg says why; do
 * not start), SIGNET_ERR_FORMAT for a database of another schema. A
 * database that cannot be reached is not an error: it is logged and the
 * thread keeps trying. Returns 0 (*out set), or those codes,
 * SIGNET_ERR_ALLOC, SIGNET_ERR_INTERNAL (a lock).
 */
int cluster_new(const struct cluster_config *cfg, struct registry *reg,
    struct cluster **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Sets (fn NULL: clears) where events go; waits for a call in progress. */
void cluster_set_notify(struct cluster *c, cluster_notify_fn fn, void *arg);

/* Starts the thread. 0 or SIGNET_ERR_INTERNAL. */
int cluster_start(struct cluster *c, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Stops the thread (the claims it holds are released if the database
 * answers), then frees; NULL allowed. */
void cluster_free(struct cluster *c);

/* This replica's name. */
const char *cluster_replica(const struct cluster *c);

/*
 * Whether the database answered within claim_ttl_ms; when not, why (an
 * escaped one-line message) into why[0..why_len) if why is not NULL.
 */
bool cluster_up(struct cluster *c, char *why, size_t why_len);

/*
 * Whether this replica holds host_id now: its claim granted, not lost,
 * and renewed less than claim_ttl_ms ago; *epoch (may be NULL) is its
 * epoch.
 */
bool cluster_holds(struct cluster *c, const char *host_id, int64_t *epoch);

/*
 * host_id said hello in session (> 0): claim it. Replaces whatever was
 * posted for an older session. 0, SIGNET_ERR_INVALID_ARG or
 * SIGNET_ERR_ALLOC.
 */
int cluster_claim_post(struct cluster *c, const char *host_id, uint64_t session)
    __attribute__((warn_unused_result));

/*
 * session's state of host_id changed (hello info, an inventory): the
 * thread writes registry_host_texts of it once the claim is granted,
 * fenced by its epoch. Ignored for a session not posted by
 * cluster_claim_post. 0 or SIGNET_ERR_INVALID_ARG.
 */
int cluster_put_host_post(struct cluster *c, const char *host_id,
    uint64_t session) __attribute__((warn_unused_result));

/*
 * session of host_id ended: its claim is given up (cluster_db_release,
 * which leaves a newer claim alone). Ignored for an older session.
 */
void cluster_release_post(struct cluster *c, const char *host_id,
    uint64_t session);

/*
 * Runs fn(arg, db) on the cluster thread, in order. 0,
 * SIGNET_ERR_UNAVAILABLE (the queue is full or the cluster stops:
 * nothing queued, fn not called) or SIGNET_ERR_ALLOC.
 */
int cluster_call_post(struct cluster *c, cluster_call_fn fn, void *arg)
    __attribute__((warn_unused_result));

/*
 * LISTENs on channel (CLUSTER_CHANNEL_*) from now on, again after each
 * reconnection; its notifications come as CLUSTER_EV_NOTIFY. 0,
 * SIGNET_ERR_INVALID_ARG or SIGNET_ERR_TOO_LARGE (CLUSTER_CHANNELS_MAX).
 */
int cluster_listen_post(struct cluster *c, const char *channel)
    __attribute__((warn_unused_result));

/*
 * The gauges and counters for GET /metrics, in Prometheus text:
 * signet_cluster_up, signet_cluster_claims_held,
 * signet_cluster_claims_lost_total, signet_cluster_db_errors_total,
 * signet_cluster_actions_pruned_total.
 * A new string (free()), or NULL when out of memory.
 */
char *cluster_metrics_text(struct cluster *c);

#endif
