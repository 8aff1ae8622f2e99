/* SPDX-License-Identifier: ISC */
/*
 * The operator HTTPS API (docs/http-api.md): libmicrohttpd over GnuTLS, TLS
 * 1.3, mutual TLS. GnuTLS only requests a client certificate; every request's
 * certificate is then checked with identity_verify_der against the server's
 * current CA + CRL (the agent listener's check), and its role decides what it
 * may do. Answers are JSON ({"error":"why"} on failure) except /metrics
 * (Prometheus text):
 *
 *   no client certificate                      401
 *   certificate refused (chain, dates, CRL,
 *   EKU, OU, name): the reason in the error    403
 *   valid, role may not use the path (agents:
 *   anything but /healthz and /metrics)        403
 *   request target over API_URL_MAX bytes      414
 *   malformed target: bad %-escape, "." or ".."
 *   or empty segment, bad or unknown or
 *   repeated query parameter                   400
 *   unknown path                               404
 *   method other than GET (HEAD too)           405, Allow: GET
 *   (POST on the actions route only)           405, Allow: POST
 *   GET with a body                            400 (body not read)
 *
 * Routes (GET): /api/hosts, /api/containers[?host=&state=],
 * /api/containers/{id} (404 unknown, 409 ambiguous prefix, 400 malformed),
 * /api/audit[?after=SEQ&limit=N] (default 100, max 1000; 503 when the
 * log cannot be read), /api/actions/{action_id} (32 lowercase hex: 400
 * otherwise; 404 unknown or forgotten), /healthz, /metrics.
 *
 * POST /api/containers/{id}/actions[?wait=S] (operators only: 403), body
 * {"action":"START"|"STOP"|"RESTART","reason":"1..512 characters, no
 * control characters"} and nothing else (400), Content-Type
 * application/json (415), at most API_BODY_MAX bytes (413: refused from
 * Content-Length before reading; a chunked body is counted and dropped).
 * wait 0..120 s, default 30. Answers, each a JSON action object (as GET
 * /api/actions/{id}) once the action exists, else {"error"}:
 *   200 SUCCESS, 403 DENIED (error: the agent's reason), 502 FAILURE or
 *   REJECTED, 504 TIMEOUT (it may still end: GET shows the late result),
 *   503 UNDELIVERED, host offline, table full, audit log unwritable
 *   ({"error","action_id"}: nothing was sent), 202 + Location
 *   /api/actions/{id} for wait=0; 404/409/400 for the container id.
 * The request is suspended while it waits (MHD_suspend_connection; no
 * thread held, exempt from the watchdog) and resumed by whoever ends the
 * action: the hub (result, undelivered) or the watchdog (deadline).
 *
 * Audit records written here (actor "server"):
 *   action.requested  before the frame goes to the hub: action_id,
 *                     host_id, container_id, action_name, reason,
 *                     requested_by (the client certificate's CN),
 *                     expires_at, action {payload, sig, key_id}
 *   action.timeout    action_id, host_id, container_id, deadline (ms)
 *   action.undelivered (with the hub, see hub.h)
 *
 * Slow clients: a connection must deliver each request's headers within
 * API_CONNECTION_TIMEOUT seconds of opening (or of its previous answer),
 * whether it is silent or trickles bytes; it is cut otherwise.
 */
#ifndef SIGNET_API_H
#define SIGNET_API_H

#include "err.h"
#include "server_ctx.h"

/* Limits, shared with the tests. */
#define API_URL_MAX 1024 /* path + query, bytes */
#define API_CONNECTION_LIMIT 256
#define API_PER_IP_LIMIT 64
#define API_CONNECTION_TIMEOUT 10 /* seconds of silence before a drop */
#define API_CONNECTION_MEMORY (64 * 1024)
/*
 * MHD threads. More than one lets requests that write the audit log at the
 * same time share its syncs (group commit) instead of queueing behind one
 * fdatasync each; MHD spreads connections over them.
 */
#define API_THREADS 4
#define API_AUDIT_LIMIT_DEFAULT 100
#define API_AUDIT_LIMIT_MAX 1000
#define API_TLS_PRIORITIES_DEFAULT "NORMAL:-VERS-ALL:+VERS-TLS1.3"

struct api;

/*
 * Starts the HTTPS operator API on listen ("HOST:PORT", HOST an IPv4 or
 * IPv6 literal, "[v6]:PORT" or "localhost"), serving from its own thread
 * until api_stop. cert_path holds the server certificate (PEM), key_path
 * its private key (a secret file: refused when group/others may read it),
 * ca_path the signet CA that client certificates are requested against.
 * ctx is borrowed and must outlive the api. On success *out owns the
 * running API; on failure *out is NULL and msg says why.
 * Returns 0, SIGNET_ERR_INVALID_ARG (NULL argument, bad listen address),
 * file errors from fileio_read_small, SIGNET_ERR_ALLOC, or
 * SIGNET_ERR_IO (the daemon could not start: port in use, bad key...).
 */
int api_start(struct server_ctx *ctx, const char *listen, const char *cert_path,
    const char *key_path, const char *ca_path, struct api **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

struct actions;
struct hub;

/* The action relay the API drives (both borrowed, outliving the API). */
struct approvals;

struct api_relay {
	struct actions *actions;
	struct hub *hub;
	struct approvals *approvals; /* signed requests waiting (approvals.h) */
};

/*
 * api_start with the action relay: POST /api/containers/{id}/actions and
 * GET /api/actions/{id} work (without it POST answers 503 and GET 404).
 * The watchdog also ends actions past their deadline (TIMEOUT). relay
 * may be NULL; otherwise every member must be set (all borrowed: they
 * must outlive the API).
 */
int api_start_relay(struct server_ctx *ctx, const char *listen,
    const char *cert_path, const char *key_path, const char *ca_path,
    const struct api_relay *relay, struct api **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The TCP port the API listens on (useful after listening on port 0), or
 * 0 when unknown. api must not be NULL.
 */
unsigned api_port(struct api *api);

/*
 * Stops the daemon and frees api. Requests waiting for an action are
 * resumed first and answered 503 (the action goes on; its result, if it
 * comes, is audited by the hub), for up to API_STOP_GRACE_MS; then the
 * daemon stops (waits for its threads, closes every connection). Call it
 * before freeing the hub and the action table. NULL allowed.
 */
void api_stop(struct api *api); /* NULL allowed */

#endif
