/* SPDX-License-Identifier: ISC */
/*
 * The daemon's internals, shared by agent/daemon*.c and nothing else: the
 * daemon's state and what one of its files lends another.
 *
 *   daemon.c           start, the service loop, signals, stop; the
 *                      daemon's own audit records
 *   daemon_snapshot.c  the snapshot worker and the docker event stream
 *   daemon_exec.c      the channel's callbacks and the executor's glue:
 *                      dockerd connections lent to its workers, results
 *                      flushed to the channel
 *   daemon_checkpoint.c  the audit log's checkpoints sent to the server
 */
#ifndef SIGNET_AGENT_DAEMON_INT_H
#define SIGNET_AGENT_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent_metrics.h"
#include "audit.h"
#include "cert_expiry.h"
#include "channel.h"
#include "config.h"
#include "daemon.h"
#include "docker.h"
#include "executor.h"
#include "identity.h"
#include "keys.h"
#include "policy_store.h"
#include "roster_store.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

#define DAEMON_ACTOR "agent"
/* How often the loop looks at the agent's own certificate's expiry. */
#define DAEMON_CERT_LOOK_SECS 3600

/*
 * Why a snapshot that equals the last one built is still sent: the 30 s
 * refresh always; a new connection unless those very bytes already went
 * to it (a snapshot started just before the connection opened).
 */
#define DAEMON_WANT_PERIODIC 1u
#define DAEMON_WANT_CONNECT 2u

struct daemon {
	struct config *cfg;
	const char *server;
	char host_id[IDENTITY_NAME_MAX + 1];
	struct keys_secret *result_key; /* sodium_malloc'd */
	struct keys_pubset action_keys;
	struct keys_pubset result_retired; /* [keys] result_retired; or none */
	struct policy_store *policy;
	struct roster_store *roster; /* NULL: no [roster] keys pinned */
	struct audit_limit roster_refused_lim; /* roster.refused; loop only */
	struct audit_writer *audit;
	struct channel *ch;
	struct docker_events *events;
	struct docker_client *dc; /* the snapshot worker's */
	/*
	 * The executor's: one per worker (a libcurl handle is one thread's at
	 * a time), lent out under exec_mu for one dockerd call.
	 */
	struct docker_client *exec_dc[EXECUTOR_WORKERS];
	bool exec_lent[EXECUTOR_WORKERS];
	pthread_mutex_t exec_mu;
	bool exec_mu_ok;
	struct executor *ex;
	int64_t started_ms;
	/* [audit] limit_*: frame.refused and the SIGHUP records' bound */
	struct audit_limit_bounds audit_limit;
	struct audit_limit reloaded_lim;       /* policy.reloaded; loop only */
	struct audit_limit reload_refused_lim; /* policy.reload_refused */
	/* The metrics listener ([agent] metrics_listen): off unless on. */
	struct agent_metrics *metrics;
	bool metrics_on;
	struct sockaddr_storage metrics_addr;
	/*
	 * Its own certificate's expiry ([tls] expiry_warn_days): said at
	 * start and looked at hourly (warned of daily); loop only.
	 */
	struct cert_expiry cert_watch;
	int64_t cert_not_after; /* unix seconds, 0 unknown */
	int cert_warn_days;
	int64_t cert_next_look; /* unix seconds */

	/* The snapshot worker and what it shares, under mu. */
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	atomic_bool stopping; /* cuts short a request to dockerd */
	bool dirty;           /* a snapshot is wanted */
	unsigned want;        /* DAEMON_WANT_*: send it unchanged */
	bool refresh_version;
	uint64_t epoch;          /* connections opened so far */
	uint64_t sent_epoch;     /* the one latest's bytes went out on */
	int64_t next_allowed_ms; /* last snapshot + the gap */
	int64_t next_periodic_ms;
	char docker_version[DOCKER_VERSION_MAX + 1];
	struct channel_frame *latest; /* the last snapshot built */

	/*
	 * The latest audit checkpoint, handed over by the audit writer's
	 * checkpoint thread, under cp_mu; cp_closed once the channel goes.
	 */
	pthread_mutex_t cp_mu;
	bool cp_mu_ok;
	bool cp_closed;
	char *cp_note;
	size_t cp_note_len;
	uint64_t cp_size;
	/* This connection's checkpoints (service thread only). */
	bool cp_acked;          /* the server's first checkpoint_ack came */
	uint64_t cp_acked_size; /* the size it last acknowledged */
	uint64_t cp_inflight;   /* sent, not acknowledged yet; 0: none */
	bool cp_sent_any;       /* the latest went after the first ack */
	bool cp_stall_said;
	uint64_t cp_unprovable; /* its proof failed: not tried again */

	/* Service thread only. */
	uint64_t frames_refused;
	char ready_status[IDENTITY_NAME_MAX + 600]; /* STATUS= with READY=1 */
};

/* ---- daemon_snapshot.c ---- */

/*
 * Asks for a snapshot soon (any thread): want holds DAEMON_WANT_* reasons
 * to send it even unchanged; refresh_version asks dockerd's version first.
 */
void daemon_snapshot_request(struct daemon *d, unsigned want,
    bool refresh_version);

/*
 * Starts the snapshot worker and the docker event stream (call with the
 * signals blocked). Returns 0, or 1 (logged) when one could not start:
 * daemon_snapshot_stop still stops what did.
 */
int daemon_snapshot_start(struct daemon *d) __attribute__((warn_unused_result));

/*
 * Cuts short a request to dockerd under way, stops the event stream and
 * joins the snapshot worker. Safe when they never started.
 */
void daemon_snapshot_stop(struct daemon *d);

/* ---- daemon_roster.c ---- */

/*
 * Pins the roster keys of [roster] and reads the roster kept in
 * [roster] file, if any (start, before the channel opens). Returns 0, or
 * 1 (logged) when the configuration or the kept roster is refused.
 */
int daemon_roster_open(struct daemon *d) __attribute__((warn_unused_result));

/*
 * A roster frame from the server (service thread): offered to the store,
 * audited (roster.accepted, or roster.refused within its bound), then
 * answered with a roster_status.
 */
void daemon_roster_offered(struct daemon *d, const char *roster_b64);

/*
 * Sends the policy in force (after the hello and each reload), so that
 * the server knows when a signed request needs approvals before it is
 * worth relaying. It is only ever a hint to the server: the agent judges
 * every action itself. A policy too large for a frame is not sent.
 */
void daemon_policy_send(struct daemon *d);

/* Sends the roster_status (after the hello; refused "" when none). */
void daemon_roster_status(struct daemon *d, const char *refused);

/* ---- daemon_checkpoint.c ---- */

/*
 * The audit writer's checkpoint callback (audit_checkpoint_fn; arg is the
 * daemon): keeps a copy as the latest and wakes the service thread. Any
 * thread; never blocks on the network.
 */
void daemon_checkpoint_published(void *arg, const char *note, size_t len,
    uint64_t size);

/* A new connection: no ack yet, nothing in flight (service thread). */
void daemon_checkpoint_reset(struct daemon *d);

/* The server's checkpoint_ack of size (service thread): sends what waits. */
void daemon_checkpoint_acked(struct daemon *d, uint64_t size);

/*
 * Sends the latest checkpoint with its proof from the acknowledged size
 * when the server acked on this connection, none is in flight, and it is
 * new (or the first since the ack). Service thread.
 */
void daemon_checkpoint_flush(struct daemon *d);

/* The channel goes: later callbacks are dropped; frees the copy. */
void daemon_checkpoint_close(struct daemon *d);

/* ---- daemon_exec.c ---- */

/* The channel's callbacks (service thread); arg is the daemon. */
extern const struct channel_ops daemon_channel_ops;

/*
 * The action pipeline: rebuilt from the audit log (seen ids, results not
 * yet acknowledged, actions cut short by a stop), after agent.started.
 * Returns 0, or 1 (logged).
 */
int daemon_exec_open(struct daemon *d) __attribute__((warn_unused_result));

/*
 * Queues the results the server has not acknowledged and that have not
 * gone out on this connection yet, as long as the channel takes them
 * (service thread).
 */
void daemon_exec_flush(struct daemon *d);

#endif
