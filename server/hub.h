/* SPDX-License-Identifier: ISC */
/*
 * The agent hub (docs/protocol.md): the WSS listener agents dial into, with
 * libwebsockets on the OpenSSL backend, subprotocol "signet.v1".
 *
 * Who may connect. TLS 1.3 only by default; a client certificate is
 * required (lws REQUIRE_VALID_OPENSSL_CLIENT_CERT + the signet CA); TLS
 * session resumption is off, so every connection runs the full check. The
 * peer certificate is checked with identity_verify_x509 (chain, dates,
 * EKU, role agent only, CRL) twice: in the TLS verify callback, so that a
 * refused peer never reaches the HTTP parser, and again on the WebSocket
 * upgrade (LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION), which also keeps the
 * certificate for the SIGHUP re-check. Every refusal is counted, logged
 * (peer strings escaped) and audited as auth.rejected.
 *
 * The session. The first frame must be a hello within hello_timeout
 * seconds: host_id equal to the certificate CN, result_key_id equal to the
 * key id of agents_dir/HOST-ID.pub. Then inventory frames replace the
 * host's containers in the registry. Frames are JSON text; a message over
 * HUB_MESSAGE_MAX (fragments counted together) or any malformed frame
 * closes that one connection. A second connection of a host replaces the
 * first. A ping after ping_secs of silence (hub_config; server.conf
 * [server] agent_ping_interval); nothing heard by hangup_secs ([server]
 * agent_timeout) and the peer is dropped without a close frame, which it
 * would not read (agent.disconnected reason ping_timeout).
 *
 * Threads. Everything runs on the thread that calls hub_run(); the only
 * calls other threads may make are hub_request_reload(),
 * hub_request_stop() and hub_send_action(), which set a flag or queue a
 * frame under a lock and wake the service loop (lws_cancel_service); the
 * work happens on the service thread. So do the cluster thread's events
 * (cluster.h), queued the same way.
 *
 * Cluster mode (hub_config's cluster). After an agent's hello the hub
 * posts a claim on its host and, after each inventory, its state
 * (cluster_claim_post, cluster_put_host_post; the cluster thread does
 * the database work); a session's end posts its release. A claim the
 * cluster says is lost closes that connection (agent.disconnected reason
 * claim_lost, close code 4001): another replica holds the host now.
 *
 * Actions (docs/protocol.md). hub_send_action() queues a signed action frame
 * for a host; the service thread moves it to the host's current connection and
 * writes it from LWS_CALLBACK_SERVER_WRITEABLE (one lws_write each). A frame
 * that cannot reach an agent (host not connected by then, queue full, the
 * connection closed before the frame was written, shutdown) ends its action as
 * UNDELIVERED (actions_undeliver: audited, waiter woken). An action_result
 * frame is verified with the host's registered result key
 * (agents_dir/HOST-ID.pub) on the exact payload bytes, parsed strictly, and
 * matched with the action table (actions_claim_result):
 *   not a well-formed envelope (bad base64, signature length, payload
 *   not a result): a malformed frame (agent.disconnected bad_frame);
 *   bad signature, host_id not this connection's host, or fields not
 *   those of the action sent to this host: refused, counted, logged,
 *   connection dropped (agent.disconnected reason bad_result);
 *   an action_id the table does not know (forgotten after an hour,
 *   requested before the reload window, or sent by an earlier server
 *   process): counted, logged, audited (action.result with
 *   "action_known": false) and acknowledged only once that is durable (if
 *   it cannot be written: the connection is closed as below);
 *   a second result for an action_id: counted, acknowledged once the
 *   first is durable, otherwise ignored;
 *   otherwise audited (action.result), and only once that record is
 *   durable applied, the waiting request woken and the result
 *   acknowledged with a result_ack frame naming its action_id and
 *   request_sha256. The records are written without waiting and made
 *   durable together at the end of a turn of the loop (hub_settle.c; a
 *   failed sync is handled as a record that cannot be written). The
 *   agent keeps a result until that acknowledgement.
 *   If action.result cannot be written the claim is released and the
 *   connection closed (1011) without an acknowledgement: the agent sends
 *   the result again after reconnecting. An agent with HUB_CONN_ACK_MAX
 *   acknowledgements unwritten (it does not read) is dropped (busy).
 *
 * Audit records written (actor "server"; every string from a peer is
 * escaped before it is recorded):
 *   auth.rejected      reason, detail, peer; subject and serial when a
 *                      certificate was seen; host_id (escaped, as the
 *                      peer claimed it) for hello refusals; bounded per
 *                      reason (see hub_config's audit_limit).
 *                      reason: no_client_cert untrusted expired
 *                      not_yet_valid revoked role certificate hello_timeout
 *                      bad_hello bad_proof host_mismatch key_mismatch
 *                      no_key
 *   agent.connected    host_id, session, serial, agent_version,
 *                      docker_version, result_key_id, cert_not_after, peer
 *   agent.replaced     host_id, old_session, new_session, peer, and
 *                      old_peer when the old connection is still open
 *   inventory.conflict host_id, container_id, held_by, session, peer: a
 *                      row naming an id another live host holds, dropped
 *                      (once per host, id and session; registry.h)
 *   agent.disconnected host_id, session, serial, reason, peer, [detail],
 *                      [code]; reason: peer_closed (code = the agent's
 *                      close code) connection_lost ping_timeout replaced
 *                      revoked certificate bad_frame too_big binary_frame
 *                      bad_result busy internal shutdown claim_lost
 *                      (cluster mode: another replica claimed the host;
 *                      detail says which, close code 4001)
 *   action.undelivered action_id, host_id, reason (see actions.h)
 *   action.result      action_id, host_id, status, docker_status, error
 *                      (string or null), [action_known: false], result
 *                      {payload, sig}: the agent's signed result exactly
 *                      as received
 *   server.reloaded    ok, [error], crl_last_update, crl_next_update (unix
 *                      s), dropped (connections closed by the re-check);
 *                      bounded per reason ("ok", "failed")
 *   audit.suppressed   event, window_start, window_end, limit, counts:
 *                      the auth.rejected or server.reloaded records a
 *                      window held back, per reason
 */
#ifndef SIGNET_HUB_H
#define SIGNET_HUB_H

#include <stdbool.h>
#include <stddef.h>

#include "audit_limit.h"
#include "err.h"
#include "identity.h"
#include "inventory.h"
#include "keys.h"
#include "registry.h"
#include "server_ctx.h"

struct actions;

#define HUB_SUBPROTOCOL "signet.v1"

/* Largest message from an agent once it said hello (1 MiB). */
#define HUB_MESSAGE_MAX (1024 * 1024)
/* Largest first message (the hello) from a peer not yet identified. */
#define HUB_HELLO_MAX 4096
/* Bytes held in partial messages over all connections at once. */
#define HUB_BUFFERED_MAX ((size_t)256 * 1024 * 1024)
/*
 * Liveness: ping after this much silence, hang up after this much (the
 * defaults of hub_config's ping_secs and hangup_secs), and their ranges.
 */
#define HUB_PING_SECS 25
#define HUB_HANGUP_SECS 50
#define HUB_PING_SECS_MIN 1
#define HUB_PING_SECS_MAX 3600
#define HUB_HANGUP_SECS_MIN 2
#define HUB_HANGUP_SECS_MAX 7200
/* How long shutdown waits for agents to take their close frames. */
#define HUB_SHUTDOWN_GRACE_MS 2000
/* Action frames waiting for the service thread, and per connection. */
#define HUB_SEND_QUEUE_MAX 1024
#define HUB_CONN_OUT_MAX 256
/* result_ack frames waiting on one connection. */
#define HUB_CONN_ACK_MAX 1024
/*
 * auth.rejected and server.reloaded records are bounded (audit_limit.h,
 * hub_config's audit_limit: [audit] limit_burst, limit_window) so that a
 * flood of refused handshakes or a SIGHUP storm cannot turn into a flood
 * of fdatasyncs on the service thread, nor fill the disk: per reason the
 * first limit_burst records of a window are written in full, the rest
 * counted into one audit.suppressed record when the window closes (the
 * once-a-second sweep notices) or the hub is freed. Every refusal is
 * still counted in the metrics and logged.
 */

/* WebSocket close codes the hub sends (RFC 6455 and one of its own). */
#define HUB_CLOSE_GOING_AWAY 1001 /* server shutting down */
#define HUB_CLOSE_BINARY 1003     /* binary frame: JSON text only */
#define HUB_CLOSE_POLICY 1008     /* refused: auth, bad frame, revoked */
#define HUB_CLOSE_TOO_BIG 1009    /* message over the limit */
#define HUB_CLOSE_INTERNAL 1011   /* server fault (audit, memory) */
#define HUB_CLOSE_BUSY 1013       /* server buffer budget exhausted */
#define HUB_CLOSE_REPLACED 4000   /* a newer connection of this host */
#define HUB_CLOSE_CLAIM_LOST 4001 /* another replica holds the host */

struct hub;

struct hub_config {
	const char *listen_host; /* address to bind; NULL or "" = all */
	int listen_port;         /* 0: any free port (see hub_port) */
	const char *cert_path;   /* server certificate (PEM) */
	const char *key_path;    /* its private key */
	const char *ca_path;     /* the signet CA (client certs) */
	int hello_timeout_secs;  /* 1..120 */
	int ping_secs;           /* HUB_PING_SECS_MIN..MAX */
	int hangup_secs;         /* over ping_secs, up to
	                                  HUB_HANGUP_SECS_MAX */
	bool allow_tls12;        /* false: TLS 1.3 only */
	/* [cluster] drain_ms: on stop, agents are asked to leave and given
	 * this long (hub_drain.c); 0: closed at once */
	int drain_ms;
	struct actions *actions; /* borrowed; NULL: no action relay
	                                  (action_result frames refused) */
	struct cluster *cluster; /* borrowed; NULL: one server (cluster.h) */
	/* auth.rejected and server.reloaded records; zero: the defaults */
	struct audit_limit_bounds audit_limit;
};

/*
 * Creates the listener (binds the port) without serving yet. ctx is
 * borrowed, must outlive the hub, and must hold a loaded identity store,
 * registry, audit writer and metrics. On success *out owns the hub; on
 * failure *out is NULL and msg says why. Returns 0, SIGNET_ERR_INVALID_ARG
 * (NULL or out-of-range argument, hangup_secs not over ping_secs),
 * SIGNET_ERR_ALLOC, or SIGNET_ERR_IO
 * (libwebsockets could not create the listener: port in use, bad
 * certificate or key, CA not loadable).
 */
int hub_start(struct server_ctx *ctx, const struct hub_config *cfg,
    struct hub **out, struct err_msg *msg) __attribute__((warn_unused_result));

/* The TCP port the hub listens on. */
int hub_port(const struct hub *hub);

/*
 * Serves on the calling thread until hub_request_stop(); then closes
 * every agent (close code 1001, audited agent.disconnected reason
 * shutdown), waiting up to HUB_SHUTDOWN_GRACE_MS, and returns 0; or
 * SIGNET_ERR_IO if the service loop failed. Call once.
 */
int hub_run(struct hub *hub) __attribute__((warn_unused_result));

/*
 * From any thread (not from a signal handler): asks the service thread to
 * reload the CA and CRL and re-check every connected certificate
 * (SIGHUP), or to stop. Both only set a flag and wake the loop.
 */
void hub_request_reload(struct hub *hub);
void hub_request_stop(struct hub *hub);

/*
 * From any thread: queues frame[0..len) (an action frame, JSON text) for
 * host_id's current connection, for action action_id. The frame is
 * copied. Returns 0 (queued: the hub writes it or ends the action as
 * UNDELIVERED), SIGNET_ERR_UNAVAILABLE (the hub is stopping or its queue
 * is full: nothing queued), SIGNET_ERR_INVALID_ARG or SIGNET_ERR_ALLOC.
 */
int hub_send_action(struct hub *hub, const char *host_id, const char *action_id,
    const char *frame, size_t len) __attribute__((warn_unused_result));

/* Closes what is left and frees the hub; NULL allowed. Action frames
 * still queued end as UNDELIVERED. */
void hub_free(struct hub *hub);

#endif
