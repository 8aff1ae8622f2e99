/* SPDX-License-Identifier: ISC */
/*
 * Actions across replicas (docs/cluster.md, "Actions across replicas"):
 * an action requested on this replica for a host another replica holds
 * goes through the cluster database's queue, and the results of actions
 * come back through it. Every database statement runs on the cluster
 * thread (cluster_call_post); the API waits for one at most db_timeout_ms
 * (a wait=0 POST, a GET from the database), else not at all.
 *
 * Origin (this replica signed the action). After action.requested is
 * durable, the action is recorded in signet_actions: queued for the
 * holder (cluster_relay_queue) when this replica does not hold the host,
 * not queued (cluster_relay_local) when its own hub sends it. An action
 * that cannot be queued ends UNDELIVERED. When it ends here without a
 * result (TIMEOUT, UNDELIVERED, REJECTED unverified) the end is written
 * to the database; a TIMEOUT stays followed for a late result. On NOTIFY
 * signet_done (and, for an action still PENDING, every poll; for every
 * action still waiting, after each reconnection to the database, when a
 * NOTIFY may have been lost) the row is read and its result frame VERIFIED:
 * the agent's signature under the host's registered result key (the
 * database is not trusted), the result answering the action sent
 * (actions_claim_result); only then is action.result recorded here and
 * the waiter woken. A row that does not verify changes nothing: logged
 * and counted (signet_cluster_results_refused_total).
 *
 * Holder (this replica holds the host). On NOTIFY signet_queue and every
 * poll the frames queued for its hosts are taken; each must be an action
 * frame that verifies under the action key (shared by the replicas), for
 * the row's action_id and host, a host held here, not expired; then it is
 * added to the local table (with the origin's deadline), recorded as
 * action.relayed and handed to the hub. Its queue row is removed once the
 * frame was written to the agent's connection (cluster_relay_sent); until
 * then, once its lease passed, the host's next claim (a new epoch) takes
 * it again (at-least-once; the agent runs an action at most once).
 *
 * Results. Any replica that records a verified result (its own action,
 * a relayed one, or one it does not know) stores the signed result frame
 * with the action's end (cluster_relay_result).
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef SIGNET_CLUSTER_RELAY_H
#define SIGNET_CLUSTER_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "actions.h"
#include "cluster.h"
#include "envelope.h"
#include "err.h"

struct server_ctx;
struct hub;
struct cluster_relay;

/* Queued frames one take reads at most. */
#define CLUSTER_RELAY_TAKE_MAX 32
/* Actions this replica follows at most (origin and relayed). */
#define CLUSTER_RELAY_TRACK_MAX (2 * ACTIONS_MAX_DEFAULT)

struct cluster_relay_config {
	struct server_ctx *ctx;  /* borrowed: keys, audit, metrics */
	struct cluster *cluster; /* borrowed */
	struct actions *actions; /* borrowed */
	int db_timeout_ms;       /* the longest the API waits */
	int64_t poll_ms;         /* take and re-check this often */
	int64_t lease_ms;        /* a taken frame's lease */
};

/*
 * Makes the relay (cfg's pointers must outlive it) and starts its
 * polling thread; LISTENs on signet_queue and signet_done. Returns 0,
 * SIGNET_ERR_INVALID_ARG, SIGNET_ERR_ALLOC or SIGNET_ERR_INTERNAL (a
 * thread or a lock), msg saying why.
 */
int cluster_relay_new(const struct cluster_relay_config *cfg,
    struct cluster_relay **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Sets the hub frames are handed to (NULL: none; call with NULL before
 * the hub is freed). Waits for a hand-over in progress.
 */
void cluster_relay_set_hub(struct cluster_relay *r, struct hub *hub);

/* Stops the polling thread (before cluster_free); NULL allowed. */
void cluster_relay_stop(struct cluster_relay *r);

/*
 * Stops the thread and frees; NULL allowed. Call after cluster_free
 * (jobs still queued hold the relay).
 */
void cluster_relay_free(struct cluster_relay *r);

/*
 * Origin, host held elsewhere: records action p (in the local table,
 * action.requested durable) with its signed frame in the database and
 * queues it for the holder; with wait, waits for that at most
 * db_timeout_ms (the answer of a wait=0 request says whether it was
 * queued); without, does not wait (the request waits for the action's
 * end, which a refusal brings). Returns 0 (queued, or on its way: a
 * later refusal ends it UNDELIVERED, audited, waiter woken), or
 * SIGNET_ERR_UNAVAILABLE (not queued: why says so; end it UNDELIVERED),
 * SIGNET_ERR_ALLOC.
 */
int cluster_relay_queue(struct cluster_relay *r,
    const struct envelope_action_payload *p, const char *frame, bool wait,
    char *why, size_t why_len) __attribute__((warn_unused_result));

/*
 * Origin, host held here: records action p in the database, not queued,
 * without waiting (a failure is logged: the hub sends it all the same).
 * Post it before handing the frame to the hub.
 */
void cluster_relay_local(struct cluster_relay *r,
    const struct envelope_action_payload *p, const char *frame);

/*
 * A verified result was recorded in this replica's log (known: the
 * action is in the local table and was completed with it): stores the
 * signed result frame (payload_b64, sig_b64) as the action's end.
 */
void cluster_relay_result(struct cluster_relay *r,
    const struct envelope_result_payload *res, const char *payload_b64,
    const char *sig_b64, bool known);

/* The hub wrote action_id's frame to its agent's connection. */
void cluster_relay_sent(struct cluster_relay *r, const char *action_id);

/* A cluster event (on the cluster thread; does not block): a NOTIFY on
 * signet_queue or signet_done, or a claim granted (its host's queued
 * frames are taken at once). */
void cluster_relay_notify(struct cluster_relay *r,
    const struct cluster_event *ev);

/*
 * GET /api/actions/{id} for an id the local table does not hold: the
 * database's row, as JSON (*doc, cJSON_Delete it): actions_info_json's
 * members built from the row's frame (which must verify under the action
 * key) plus "replica" (the origin) and "verified": true when the status
 * comes from an agent-signed result that verifies and answers that
 * action, false when it is only the database's word. Returns 0,
 * SIGNET_ERR_NOT_FOUND, SIGNET_ERR_UNAVAILABLE (the database did not
 * answer within db_timeout_ms), SIGNET_ERR_BAD_SIGNATURE (the stored
 * action does not verify: nothing shown) or SIGNET_ERR_ALLOC; msg says
 * why.
 */
int cluster_relay_get(struct cluster_relay *r, const char *action_id,
    cJSON **doc, struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Appends the relay's counters (signet_cluster_actions_queued_total,
 * signet_cluster_actions_relayed_total,
 * signet_cluster_results_refused_total,
 * signet_cluster_frames_refused_total) to text (taken over; NULL stays
 * NULL). r NULL returns text. NULL when out of memory.
 */
char *cluster_relay_metrics_append(struct cluster_relay *r, char *text);

#endif
