/* SPDX-License-Identifier: ISC */
/*
 * The hub's internals, shared by its files and included only by
 * server/hub*.c: hub.c runs the lws/libev loop (callback, sweep, reload,
 * shutdown, the send queue, the public calls of hub.h); hub_tls.c checks
 * certificates (TLS setup, the verify callback, the verdict kept on the
 * SSL, the check at the upgrade); hub_session.c runs a session (hello,
 * frames, results and their result_acks, refusals, session ends);
 * hub_inventory.c takes inventories into the registry.
 * hub_outcome.c takes an agent's action_outcome frames; hub_checkpoint.c
 * its audit checkpoints; hub_settle.c makes the results taken durable
 * together and only then acts on them.
 * Everything here runs on the service thread unless said otherwise.
 */
#ifndef SIGNET_HUB_INT_H
#define SIGNET_HUB_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "actions.h"
#include "clock.h"
#include "cluster.h"
#include "hub.h"
#include "inventory.h"
#include "metrics.h"
#include "netaddr.h"
#include "audit_limit.h"
#include "wire.h"

#define HUB_VHOST_NAME "signet-agents"
#define HUB_REFUSE_PROTOCOL "signet-refuse-unnamed"
#define HUB_CONN_MAGIC 0x5349474eu /* "SIGN" */
#define HUB_BUCKETS 4096           /* host map; power of two */
#define HUB_PEER_MAX NETADDR_PEER_MAX
#define HUB_SUBJECT_MAX 192
#define HUB_RX_CHUNK 65536        /* one read, not one message */
#define HUB_TLS_TIMEOUT_SECS 10   /* TLS + upgrade must be done */
#define HUB_PING_PAYLOAD "signet" /* echoed in the pong */

/* An action frame, or a result_ack, on its way to an agent. */
struct hub_out {
	struct hub_out *next;
	bool is_ack; /* a result_ack: nothing to undeliver */
	char host_id[IDENTITY_NAME_MAX + 1];
	char action_id[ACTIONS_ID_LEN + 1];
	size_t len;
	unsigned char *buf; /* LWS_PRE bytes, then the frame */
};

/*
 * One agent connection: the lws per-session data of the signet.v1
 * protocol, zeroed by lws. Valid from the upgrade filter until
 * LWS_CALLBACK_WSI_DESTROY, which always comes.
 */
struct hub_conn {
	uint32_t magic; /* HUB_CONN_MAGIC once set up */
	struct lws *wsi;
	struct hub_conn *prev, *next; /* hub->conns: every identified one */
	struct hub_conn *hnext;       /* hub->buckets chain */
	bool listed, mapped;
	X509 *cert;              /* the peer's certificate (a ref) */
	struct identity id;      /* verified at the upgrade */
	char peer[HUB_PEER_MAX]; /* "ADDR:PORT" */

	/* Sent once the WebSocket opens; the hello must be signed over it. */
	uint8_t challenge[WIRE_CHALLENGE_LEN];
	bool want_challenge; /* not written yet */
	bool hello_done;     /* session open: registry knows it */
	bool hello_unsynced; /* its agent.connected not yet durable */
	bool ended;          /* session closed in registry + audit */
	bool closing;        /* close decided; input ignored */
	uint16_t close_code; /* for a close made from the timer */
	char close_text[64];
	bool peer_closed;
	int peer_code;
	uint64_t session;
	int64_t established_ms; /* the WebSocket opened */
	int64_t last_valid_ms;  /* established, last frame or pong */
	int64_t ping_sent_ms;   /* 0: no ping out */
	bool want_ping;         /* the sweep asked for one */
	bool hello_late;        /* the sweep fired the hello deadline */
	bool silent;            /* no pong in time: drop, no close */
	bool drain_sent;        /* asked to leave (hub_drain.c) */

	char *buf; /* the message being assembled */
	size_t len, cap;

	int64_t epoch; /* cluster mode: the claim's epoch; 0 none yet */

	struct hub_out *out_head, *out_tail; /* frames to write */
	size_t nout;                         /* action frames among them */
	size_t nack;                         /* result_acks among them */
	size_t nsettle; /* hub->settle entries naming this connection */
};

struct hub {
	struct server_ctx *ctx; /* borrowed */
	struct lws_context *lws;
	/*
	 * Ours, handed to lws as a foreign libev loop: epoll instead of
	 * poll() over every agent's socket (O(1) per event, which is what
	 * makes 10,000 agents affordable), and a loop we can step and stop
	 * ourselves, which lws_service() cannot do with an event library.
	 */
	struct ev_loop *loop;
	void *foreign_loops[1];
	struct lws_protocols protocols[3];
	lws_retry_bo_t retry;
	char *listen_host, *cert_path, *key_path, *ca_path;
	int port;
	int hello_timeout_secs;
	int ping_secs, hangup_secs; /* liveness (hub_config) */
	bool allow_tls12;

	atomic_bool want_reload, want_stop;
	bool stopping; /* service thread only, as below */
	bool grace_over;
	lws_sorted_usec_list_t sul_grace;
	/* hub_drain.c: asked to leave on stop; service thread only */
	int drain_ms;
	bool draining;
	int64_t drain_until_ms; /* monotonic */
	/*
	 * One timer for every connection's hello deadline and liveness, not
	 * one per connection: lws keeps timers in one sorted list and inserts
	 * by walking it, which costs O(connections) per insert and dominated
	 * the server's CPU at a few thousand agents.
	 */
	lws_sorted_usec_list_t sul_sweep;

	struct hub_conn *conns;
	size_t nconns;
	struct hub_conn *buckets[HUB_BUCKETS];
	size_t buffered; /* bytes in all conns' buffers */

	struct actions *actions; /* borrowed; NULL: no relay */
	pthread_mutex_t send_mu; /* guards the send queue */
	bool send_mu_ready;
	struct hub_out *send_head, *send_tail;
	size_t nsend;
	/* Cluster mode: the cluster thread's events, under send_mu. */
	struct cluster *cluster; /* borrowed; NULL: one server */
	struct hub_cluster_ev *cev_head, *cev_tail;
	size_t ncev;

	/* Results and sessions recorded, not yet durable (hub_settle.c). */
	struct hub_settle *settle_head, *settle_tail;
	struct hub_settle *settle_running; /* the rest of the list being run */
	size_t nsettle;                    /* entries in settle_head's list */
	unsigned settle_held; /* turns the sync was put off for more input */

	struct audit_limit reject_lim; /* auth.rejected records */
	struct audit_limit reload_lim; /* server.reloaded records */
	/* audit.checkpoint_refused records */
	struct audit_limit cp_refused_lim;
};

/* A cluster event on its way to the service thread. */
struct hub_cluster_ev {
	struct hub_cluster_ev *next;
	struct cluster_event ev;
};
/* Cluster events waiting at most (a lost claim is said again). */
#define HUB_CLUSTER_EVENTS_MAX 65536

/* Wall-clock milliseconds: registry times. */
static inline int64_t
hub_now_ms(void)
{
	return clock_wall_ms();
}

/* ---- hub.c ---- */

/* snprintf that may truncate on purpose (messages, never data). */
void hub_fmt(char *out, size_t outlen, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

/* The socket's peer as netaddr_format writes it, or "unknown". */
void hub_peer_of_fd(int fd, char *out, size_t outlen);

/* The host's current connection, or NULL. */
struct hub_conn *hub_map_get(struct hub *hub, const char *host);
/* Makes c the host's current connection (the old one, if any, unmapped). */
void hub_map_put(struct hub *hub, struct hub_conn *c);
/* Unmaps c if it is mapped. */
void hub_map_remove(struct hub *hub, struct hub_conn *c);
/* hub->conns: every identified connection. */
void hub_list_add(struct hub *hub, struct hub_conn *c);
void hub_list_remove(struct hub *hub, struct hub_conn *c);

/* Frees c's message buffer and gives its bytes back to hub->buffered. */
void hub_buffer_release(struct hub *hub, struct hub_conn *c);

/* Frees a frame; NULL allowed. */
void hub_out_free(struct hub_out *o);
/* Every action frame queued on c ends UNDELIVERED (why); acks go. */
void hub_out_flush(struct hub *hub, struct hub_conn *c, const char *why);
/* Queues o (owned from now on) on c and asks for a writeable callback. */
void hub_out_append(struct hub_conn *c, struct hub_out *o);

/* ---- hub_tls.c ---- */

/* Registers the SSL ex_data slot of the kept verdicts (once per process).
 * Returns 0 or SIGNET_ERR_ALLOC. */
int hub_tls_init(void) __attribute__((warn_unused_result));

/* LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: the vhost's TLS
 * settings lws has no option for, and the one check of an agent's
 * certificate (refusals counted, logged, audited). Returns 0, or -1 (do
 * not serve). */
int hub_tls_setup(struct hub *hub, SSL_CTX *sctx);
/* LWS_CALLBACK_SSL_INFO: a TLS alert we sent (no certificate: refused). */
void hub_ssl_info(struct hub *hub, struct lws *wsi,
    const struct lws_ssl_info *si);
/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: sets c up and checks the
 * peer's certificate. Returns 0 (c listed, c->id and c->cert set) or -1
 * (refused: lws closes the connection). */
int hub_conn_identify(struct hub *hub, struct lws *wsi, struct hub_conn *c);

/* ---- hub_outcome.c ---- */

/*
 * Whether a result or outcome of host for action_id that verified under
 * the retired key k may be taken (common/keyset.h, keyset_allows): yes
 * for an action this server does not hold (recorded as unknown), or one
 * sent to host before k was retired; no (msg says why) for one sent at
 * or after that time.
 */
struct keyset_key;
bool hub_retired_allows(struct hub *hub, const char *host,
    const struct keyset_key *k, const char *action_id, struct err_msg *msg);

/* An action_outcome frame f from c: verified, recorded, acknowledged.
 * Returns 0, or -1 when c is being closed. */
int hub_handle_outcome(struct hub *hub, struct hub_conn *c,
    struct wire_frame *f);

/* ---- hub_roster.c ---- */

/* Queues the roster the server holds, if any, on c (logged when it
 * cannot: the agent gets it at its next connection or reload). */
void hub_roster_send(struct hub *hub, struct hub_conn *c);
/* Sends the roster to every open session (after a reload took one). */
void hub_roster_send_all(struct hub *hub);
/* A policy frame from c: parsed, into the registry (an unreadable one
 * forgets the last), logged. */
void hub_policy(struct hub *hub, struct hub_conn *c, const char *policy_b64);
/* A roster_status from c: into the registry, logged. */
void hub_roster_status(struct hub *hub, struct hub_conn *c,
    const struct wire_roster_status *st);

/* ---- hub_checkpoint.c ---- */

/* Queues {"type":"checkpoint_ack","size":size} on c (logged when out of
 * memory: the agent sends its checkpoint again next connection). */
void hub_checkpoint_ack(struct hub *hub, struct hub_conn *c, uint64_t size);
/* After c's hello: the ack of the size held for the host (none when its
 * checkpoints cannot be taken: logged). */
void hub_checkpoint_hello(struct hub *hub, struct hub_conn *c);
/* A checkpoint frame from c: taken and acknowledged, or refused and
 * audited (audit.checkpoint_refused, bounded); the session stays. */
void hub_checkpoint(struct hub *hub, struct hub_conn *c,
    const struct wire_checkpoint *cp);

/* ---- hub_session.c ---- */

/* cJSON members; false when out of memory (put_str: v NULL adds none). */
bool hub_put_str(cJSON *o, const char *k, const char *v);
bool hub_put_num(cJSON *o, const char *k, double v);

/* Counts, logs and audits one refused peer. cert may be NULL; claimed is
 * the host id the peer's hello named (raw) or NULL. */
void hub_reject(struct hub *hub, const char *peer, const char *reason,
    enum metric which, const char *detail, X509 *cert, const char *claimed);
/* Ends c's session once (registry, agent.disconnected); detail may be
 * NULL, code 0 for none. */
void hub_end_session(struct hub *hub, struct hub_conn *c, const char *reason,
    const char *detail, int code);
/* Closes c from outside its own callback (its timer fires at once). */
void hub_schedule_close(struct hub_conn *c, uint16_t code, const char *text);
/* Closes c from within its own callback: stages the close frame and
 * returns -1, which the callback returns. */
int hub_close_now(struct hub_conn *c, uint16_t code, const char *text);
/* hub_end_session, then hub_close_now: returns -1. */
int hub_drop_session(struct hub *hub, struct hub_conn *c, uint16_t code,
    const char *text, const char *reason, const char *detail);

/* The result_ack (outcome false) or outcome_ack of (action_id,
 * request_sha256), queued on c once what it names is durable. Returns 0
 * (also when out of memory: the agent sends it again), or -1 when c is
 * dropped for not reading its acknowledgements. */
int hub_queue_ack(struct hub *hub, struct hub_conn *c, bool outcome,
    const char *action_id, const char *request_sha256);

/* hub_queue_ack's result_ack from outside c's callback: returns 0, or -1
 * when c has HUB_CONN_ACK_MAX unwritten (nothing queued; the caller
 * closes c). */
int hub_ack_result(struct hub_conn *c, const char *action_id,
    const char *request_sha256);

/* ---- hub_settle.c ---- */

enum hub_settle_kind {
	HUB_SETTLE_RESULT,  /* a claimed action's result */
	HUB_SETTLE_UNKNOWN, /* a result for an action_id not held */
	HUB_SETTLE_REPEAT,  /* a second result: its ack alone */
	HUB_SETTLE_HELLO,   /* agent.connected of a session just opened */
};
struct hub_settle;
struct keyset_key;
/*
 * What is to follow c's result res (frame f, verified under used; info
 * the claimed action, or NULL) once its record is durable. used may be
 * NULL for HUB_SETTLE_REPEAT; f, res and used are NULL for
 * HUB_SETTLE_HELLO (nothing waits for it: if its record is lost, the
 * session is closed). Returns NULL when out of memory. Make it before
 * writing the record: a record written cannot be taken back.
 */
struct hub_settle *hub_settle_new(struct hub_conn *c, enum hub_settle_kind kind,
    const struct wire_frame *f, const struct envelope_result_payload *res,
    const struct keyset_key *used, const struct action_info *info);
/* Frees s unused (its record could not be written); NULL allowed. */
void hub_settle_discard(struct hub_settle *s);
/* Queues s (owned from now on) for the next sync (hub_settle_run). */
void hub_settle_add(struct hub *hub, struct hub_settle *s);
/*
 * The sync is put off while a connection with an entry has more input
 * ready (more results to take first), for at most this many turns or
 * entries: it costs the entries already taken a turn each, never a wait.
 */
#define HUB_SETTLE_HOLD_TURNS 16
#define HUB_SETTLE_HOLD_ENTRIES 256
/* c is going: its entries settle without it (no acknowledgement). */
void hub_settle_detach(struct hub *hub, struct hub_conn *c);
/*
 * At the end of each turn of the loop, unless put off for more input
 * (above): one audit_sync for every record queued, then each result
 * applied, woken and acknowledged in order; if
 * the sync failed, each claim released and each connection closed
 * (agent.disconnected reason internal) with no acknowledgement, each
 * session whose agent.connected it was included.
 */
void hub_settle_run(struct hub *hub);

/* ---- hub_cluster.c ---- */

/* The cluster thread's callback (cluster_notify_fn): queues ev, wakes. */
void hub_cluster_notify(void *arg, const struct cluster_event *ev);
/* On the service thread: applies the queued cluster events. */
void hub_cluster_drain(struct hub *hub);
/* Frees the events still queued (hub_free). */
void hub_cluster_flush(struct hub *hub);
/* After c's hello: claims its host. Returns 0, or -1 when c is closed
 * (no claim could be posted). */
int hub_cluster_hello(struct hub *hub, struct hub_conn *c);

/* ---- hub_inventory.c ---- */

/* An inventory frame of c's session (inv owned from now on): into the
 * registry, less the rows whose ids another live host holds, each new
 * such conflict audited (inventory.conflict). Returns 0, or -1 when c is
 * being closed (the conflict could not be recorded). */
int hub_inventory(struct hub *hub, struct hub_conn *c, struct inventory *inv);

/* LWS_CALLBACK_RECEIVE: one chunk of a message. Returns 0, or -1 when c
 * is being closed. */
int hub_conn_receive(struct hub *hub, struct hub_conn *c, const void *in,
    size_t len);
/* LWS_CALLBACK_TIMER: a scheduled close, a silent peer, the hello
 * deadline. Returns 0, or -1 (close c). */
int hub_conn_timer(struct hub *hub, struct hub_conn *c);
/* LWS_CALLBACK_CLOSED: the session ends here unless it ended before. */
void hub_conn_closed(struct hub *hub, struct hub_conn *c);
/* LWS_CALLBACK_WSI_DESTROY: always comes; c is unlinked and emptied. */
void hub_conn_destroy(struct hub *hub, struct hub_conn *c);

/*
 * hub_drain.c, from hub_run once a stop was asked: with drain_ms 0,
 * true at once. Else the first call sends every agent in session a drain
 * frame ({"type":"drain","within_ms":drain_ms}), later calls send one to
 * agents that said hello since (with the time left); true once no agent
 * is in session, or drain_ms has passed: then the hub stops as before.
 * Service thread only.
 */
bool hub_drain_done(struct hub *hub);

#endif
