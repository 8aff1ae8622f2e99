/* SPDX-License-Identifier: ISC */
/*
 * The cluster's shared state in PostgreSQL (docs/cluster.md): one libpq
 * connection and every statement the replicas run on it, synchronous and
 * bounded by timeouts. Nothing here is thread-safe: a connection belongs
 * to one thread (server/cluster.c owns them). Every byte read from the
 * database is treated as hostile: lengths are bounded, names and ids are
 * checked, JSON is left to the caller's strict parser, and nothing read
 * here is trusted to make an agent act (the agent checks signatures).
 *
 * The database is reached over TLS with sslmode=verify-full and a client
 * certificate (signet-pki role "replica"); cluster_db_open refuses a
 * conninfo that asks for less. Statements are bounded by
 * statement_timeout and the connection by connect_timeout; a broken
 * connection is reported as SIGNET_ERR_UNAVAILABLE and the caller opens
 * a new one (cluster_db_reset).
 *
 * Fencing. A host is held by at most one replica: the claim with the
 * highest epoch (one sequence for all hosts). A claim always wins over an
 * older one; every write a holder makes for a host (inventory, queue
 * takes) names its epoch and changes nothing when the epoch is no longer
 * the host's (SIGNET_ERR_STALE). A claim lapses at its expires_at unless
 * renewed; a lapsed claim holds nothing.
 *
 * Return codes used throughout: 0; SIGNET_ERR_INVALID_ARG (a bad
 * argument: name, id or length); SIGNET_ERR_UNAVAILABLE (the database
 * cannot be reached or the connection broke: msg says what libpq said);
 * SIGNET_ERR_FORMAT (an answer of the wrong shape: msg names the
 * column); SIGNET_ERR_ALLOC; and per function as stated.
 * A statement the database refuses for a reason a retry may cure
 * (SQLSTATE class 08 connection, 40 rollback, 53 resources, 57 operator
 * intervention, which holds statement_timeout) is UNAVAILABLE too; any
 * other refusal (a missing table, a constraint) is FORMAT, with libpq's
 * message and the SQLSTATE. Messages are one line, escaped.
 */
#ifndef SIGNET_CLUSTER_DB_H
#define SIGNET_CLUSTER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CLUSTER_DB_SCHEMA_VERSION 1
#define CLUSTER_NAME_MAX 63      /* a replica or host name (text_valid_name) */
#define CLUSTER_ACTION_ID_LEN 32 /* lowercase hex */
/* The largest text stored or read: an inventory, a frame. */
#define CLUSTER_DB_TEXT_MAX (4u * 1024 * 1024)

/* NOTIFY channels (payload: the host_id or action_id, nothing else). */
#define CLUSTER_CHANNEL_QUEUE "signet_queue" /* an action queued: host_id */
#define CLUSTER_CHANNEL_DONE "signet_done"   /* an action ended: action_id */
#define CLUSTER_CHANNEL_HOSTS "signet_hosts" /* a host changed: host_id */

struct cluster_db;

/*
 * Connects with conninfo (libpq key=value or URI). Refused with
 * SIGNET_ERR_INVALID_ARG before any connection: a conninfo libpq cannot
 * parse, sslmode other than verify-full, no sslrootcert, or no
 * sslcert/sslkey. connect_timeout_s and statement_timeout_ms (> 0) bound
 * every wait. Creates the schema when absent (in one transaction, under
 * an advisory lock so that replicas starting together do not race) and
 * refuses a schema of another version (SIGNET_ERR_FORMAT). *out is NULL
 * on error. Also refused before connecting: a password, passfile or
 * service key, connect_timeout_s outside [1, 3600] or
 * statement_timeout_ms outside [1, 3600000]; and after: a connection
 * without TLS or that used a password (pg_hba must say "cert").
 * gssencmode=disable, application_name, client_encoding UTF8, TCP
 * keepalives and tcp_user_timeout are forced over the conninfo's own.
 */
int cluster_db_open(const char *conninfo, int connect_timeout_s,
    int statement_timeout_ms, struct cluster_db **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Closes; NULL allowed. */
void cluster_db_close(struct cluster_db *db);

/* Reconnects a broken connection (and LISTENs again). 0 or UNAVAILABLE. */
int cluster_db_reset(struct cluster_db *db, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* The socket to poll for notifications; -1 when not connected. */
int cluster_db_socket(struct cluster_db *db);

/* LISTENs on channel (one of CLUSTER_CHANNEL_*). */
int cluster_db_listen(struct cluster_db *db, const char *channel,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Reads what arrived on the socket and returns the next notification:
 * 1 with channel and payload copied (payloads longer than payload_len-1
 * or not a valid name/id are dropped, not returned), 0 when none is
 * waiting, or a negative code.
 */
int cluster_db_notification(struct cluster_db *db, char *channel,
    size_t channel_len, char *payload, size_t payload_len, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* --- replicas ---------------------------------------------------------- */

/* Records replica as alive now (upsert of signet_replicas.seen_at). */
int cluster_db_replica_seen(struct cluster_db *db, const char *replica,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* --- claims ------------------------------------------------------------ */

/*
 * Claims host_id for replica for ttl_ms with a new epoch, whoever held it
 * (a newer claim always wins). *epoch is the new epoch.
 */
int cluster_db_claim(struct cluster_db *db, const char *host_id,
    const char *replica, int64_t ttl_ms, int64_t *epoch, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* One claim a replica still holds, as renewed. */
struct cluster_db_held {
	char host_id[CLUSTER_NAME_MAX + 1];
	int64_t epoch;
};

/*
 * Renews for ttl_ms every unlapsed claim replica holds and returns them
 * (at most max; *n how many). A host the replica thinks it holds that is
 * not returned, or returned with another epoch, is no longer its own:
 * close that socket. SIGNET_ERR_TOO_LARGE when replica holds more than
 * max (all were renewed; *n is how many, held is not to be used).
 * ttl_ms in [1, 86400000].
 */
int cluster_db_renew(struct cluster_db *db, const char *replica, int64_t ttl_ms,
    struct cluster_db_held *held, size_t max, size_t *n, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Gives up host_id's claim if it is still (replica, epoch): the agent
 * left. 0 either way (a newer claim is not touched).
 */
int cluster_db_release(struct cluster_db *db, const char *host_id,
    const char *replica, int64_t epoch, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Who holds host_id now: 1 (replica and epoch filled), 0 (nobody: no
 * claim or lapsed), or a negative code. */
int cluster_db_holder(struct cluster_db *db, const char *host_id, char *replica,
    size_t replica_len, int64_t *epoch, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* --- hosts and inventories --------------------------------------------- */

/*
 * Stores host_id's state as its holder at epoch: info (a JSON object
 * text: versions, serial, certificate dates, connected_at) and inventory
 * (the JSON array of rows as the registry keeps them). Either may be NULL
 * to keep the stored one. SIGNET_ERR_STALE when epoch is not the host's
 * current claim (nothing written). NOTIFYs CLUSTER_CHANNEL_HOSTS.
 */
int cluster_db_put_host(struct cluster_db *db, const char *host_id,
    const char *replica, int64_t epoch, const char *info, const char *inventory,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* One host as stored, with who holds it now. */
struct cluster_db_host {
	char host_id[CLUSTER_NAME_MAX + 1];
	char replica[CLUSTER_NAME_MAX + 1]; /* the holder; "" when none */
	int64_t epoch;                      /* the holder's; 0 when none */
	bool held;                          /* a live (unlapsed) claim */
	int64_t updated_at_ms;
	char *info;      /* JSON text as stored (hostile); free() */
	char *inventory; /* JSON text as stored (hostile); free() */
};

/*
 * Every stored host (at most max; *n how many), or the one host_id when
 * it is not NULL. Free each with cluster_db_host_free. max in [1,
 * 1000000]; SIGNET_ERR_TOO_LARGE when more than max are stored (none
 * returned). A row that fails a check fails the whole call (FORMAT,
 * naming the host and column).
 */
int cluster_db_hosts(struct cluster_db *db, const char *host_id,
    struct cluster_db_host *out, size_t max, size_t *n, struct err_msg *msg)
    __attribute__((warn_unused_result));
void cluster_db_host_free(struct cluster_db_host *h);

/* --- actions ----------------------------------------------------------- */

/* An action as the cluster knows it (signet_actions). */
struct cluster_db_action {
	char action_id[CLUSTER_ACTION_ID_LEN + 1];
	char host_id[CLUSTER_NAME_MAX + 1];
	char origin[CLUSTER_NAME_MAX + 1];    /* the replica that signed it */
	char status[16];                      /* action_status_name() */
	char result_by[CLUSTER_NAME_MAX + 1]; /* "" until a result */
	int64_t requested_at_ms;
	int64_t expires_at_ms; /* the signed payload's expires_at */
	int64_t deadline_ms;   /* TIMEOUT after this */
	int64_t finished_at_ms;
	char *info;   /* the action's API JSON (actions_info_json); free() */
	char *frame;  /* the signed action frame as sent; free() */
	char *result; /* the agent's signed result frame or NULL; free() */
};
void cluster_db_action_free(struct cluster_db_action *a);

/*
 * Records a new PENDING action and, when queue is true, queues its frame
 * for the host's holder in the same transaction (NOTIFY
 * CLUSTER_CHANNEL_QUEUE). SIGNET_ERR_EXISTS when action_id is known
 * (nothing written or queued). a->status, result_by, finished_at_ms and
 * result are not read: a new action is PENDING, without a result.
 */
int cluster_db_action_add(struct cluster_db *db,
    const struct cluster_db_action *a, bool queue, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Takes up to max queued frames for hosts replica holds (claim live, its
 * epoch), FOR UPDATE SKIP LOCKED: rows never taken, or taken more than
 * lease_ms ago by a claim that is no longer the host's, of an action
 * still PENDING whose expires_at is after now_ms. Marks them taken by
 * (replica, epoch). One statement (the fast path of every relayed
 * action); the rows it leaves for having expired or ended are dropped
 * by cluster_db_queue_expire. max in [1, 10000]; out[0..*n) are to be
 * freed with cluster_db_action_free. 0 or a negative code (nothing
 * taken).
 */
int cluster_db_queue_take(struct cluster_db *db, const char *replica,
    int64_t lease_ms, int64_t now_ms, struct cluster_db_action *out, size_t max,
    size_t *n, struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Drops the queue rows replica could take (as cluster_db_queue_take
 * picks them) whose action expired by now_ms or has ended, at most
 * 64 per call; an action still PENDING ends UNDELIVERED (info rewritten
 * with status, error "the action expired in the queue" and finished_at =
 * now_ms when it is a JSON object; NOTIFY CLUSTER_CHANNEL_DONE). One
 * transaction. 0 or a negative code (nothing changed).
 */
int cluster_db_queue_expire(struct cluster_db *db, const char *replica,
    int64_t lease_ms, int64_t now_ms, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Removes action_id from the queue (its frame was written to the agent). */
int cluster_db_queue_done(struct cluster_db *db, const char *action_id,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Ends action_id: status (not PENDING), info (the new API JSON), result
 * (the signed result frame, or NULL), by replica. Applied only while the
 * stored status is PENDING, or TIMEOUT and result is not NULL (a late
 * result replaces TIMEOUT); SIGNET_ERR_EXISTS otherwise (it had ended),
 * SIGNET_ERR_NOT_FOUND when unknown. NOTIFYs CLUSTER_CHANNEL_DONE.
 * result_by is set to replica only with a result. The action's queue
 * row, if any, is deleted with it. status PENDING or unknown:
 * SIGNET_ERR_INVALID_ARG.
 */
int cluster_db_action_end(struct cluster_db *db, const char *action_id,
    const char *status, const char *info, const char *result,
    const char *replica, int64_t now_ms, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Reads action_id: 0, SIGNET_ERR_NOT_FOUND or a negative code. */
int cluster_db_action_get(struct cluster_db *db, const char *action_id,
    struct cluster_db_action *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* --- for the tests and the fuzz harness ------------------------------ */

/*
 * Whether payload is what channel carries: a host_id (text_valid_name) on
 * CLUSTER_CHANNEL_QUEUE and _HOSTS, an action_id (32 lowercase hex) on
 * CLUSTER_CHANNEL_DONE; false for any other channel. The check
 * cluster_db_notification makes before it returns one.
 */
bool cluster_db_notification_valid(const char *channel, const char *payload);

struct pg_result; /* libpq's PGresult */

/*
 * Reads row of an answer to the host list (7 columns: host_id, holder,
 * epoch, held, updated_at ms, info, inventory) or to an action read (12
 * columns, the fields of struct cluster_db_action in order) with every
 * check the queries make: 0, or SIGNET_ERR_FORMAT naming the row and
 * column (nothing allocated), or SIGNET_ERR_ALLOC. Free *out as usual.
 */
int cluster_db_host_row(const struct pg_result *res, int row,
    struct cluster_db_host *out, struct err_msg *msg)
    __attribute__((warn_unused_result));
int cluster_db_action_row(const struct pg_result *res, int row,
    struct cluster_db_action *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Forgets at most limit (1..100000) actions the cluster no longer needs:
 * ended before before_ms, or with a deadline before before_ms (among
 * them the PENDING ones of an origin that died before it could end
 * them), with their queue rows. The audit logs keep them for good. *n (may be NULL) is how
 * many were removed.
 */
int cluster_db_prune(struct cluster_db *db, int64_t before_ms, int limit,
    size_t *n, struct err_msg *msg) __attribute__((warn_unused_result));

/* Statements run on this connection since it was opened (the bench). */
uint64_t cluster_db_statements(const struct cluster_db *db);

#endif
