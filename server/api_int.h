/* SPDX-License-Identifier: ISC */
/*
 * Internals of the operator API shared by its files: api_daemon.c (the
 * libmicrohttpd daemon, per-connection deadlines, start and stop), api.c
 * (each request: TLS identity, bodies, waits, replies), api_url.c (strict
 * parsing of the raw request target), api_routes.c (routing, roles,
 * handlers), api_audit.c (paging through the server's audit log) and
 * api_refusal.c (audit records of refused requests). Not for other
 * modules: they use api.h.
 */
#ifndef SIGNET_API_INT_H
#define SIGNET_API_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "api.h"
#include "approvals.h"
#include "envelope.h"
#include "request.h"
#include "err.h"
#include "identity.h"
#include "audit_limit.h"
#include "server_ctx.h"

/* Headers must be complete this long after a connection opens or after
 * the previous answer on it went out: stops clients that trickle bytes,
 * which libmicrohttpd's idle timeout alone does not. */
#define API_HEADER_DEADLINE_MS (API_CONNECTION_TIMEOUT * 1000)
/* A GET answer must have been sent this long after its headers arrived. */
#define API_ANSWER_DEADLINE_MS (60 * 1000)
/* Body bytes a refused request may send before the connection is cut. */
#define API_DISCARD_MAX (16 * 1024)
/* Largest /api/audit answer body; more records wait for the next page. */
#define API_AUDIT_BYTES_MAX (8 * 1024 * 1024)
/* Largest server key, certificate and CA file read at start. */
#define API_PEM_MAX (64 * 1024)

/* POST bodies: at most this much is kept; more answers 413. */
#define API_BODY_MAX (16 * 1024)
/* Body bytes of an over-long chunked POST read (and dropped) before the
 * 413; past this the connection is cut. */
#define API_BODY_DISCARD_MAX (1024 * 1024)
/* ?wait=S for POST .../actions: default and maximum, seconds. */
#define API_ACTION_WAIT_DEFAULT 30
#define API_ACTION_WAIT_MAX 120
/* expires_at = issued_at + wait (or the default for wait=0) + this. */
#define API_ACTION_MARGIN_MS 10000
/* Suspended requests waiting for results at once. */
#define API_WAITS_MAX (API_CONNECTION_LIMIT + 8)
/* How long api_stop lets resumed requests answer before stopping MHD. */
#define API_STOP_GRACE_MS 3000

#define API_SEGMENTS_MAX 8
#define API_PARAMS_MAX 8

struct actions;
struct hub;

/* A request suspended until its action ends (api.c). */
struct api_wait {
	bool used;
	uint64_t token;
	struct MHD_Connection *conn;
};

/* One tracked connection, for the deadline watchdog. */
struct api_slot {
	bool used;
	bool cut; /* shut down by the watchdog */
	int fd;
	int64_t deadline_ms; /* monotonic; 0: none */
	/*
	 * The last verdict on this connection's client certificate (MHD's
	 * thread only): reused while the certificate (by SHA-256), the
	 * identity store (CA + CRL in force) and the certificate's dates
	 * still hold, so a keep-alive client is not re-verified (a DER parse
	 * and two signature checks) on every request. A SIGHUP swaps the
	 * store, and the next request is verified afresh.
	 */
	struct identity_store *auth_store; /* a reference, or NULL */
	unsigned char auth_sha[32];
	struct identity auth_id;
};

struct api {
	struct server_ctx *ctx; /* borrowed */
	struct MHD_Daemon *daemon;
	pthread_mutex_t mu; /* guards slots, stopping */
	pthread_cond_t cv;
	bool mu_ready, cv_ready, watchdog_running, stopping;
	bool starting; /* MHD_start_daemon running */
	pthread_t watchdog;
	struct api_slot slots[API_CONNECTION_LIMIT + 8];
	char start_error[600]; /* libmicrohttpd's messages at start */

	/* The action relay (NULL: POST .../actions answers 503). */
	struct actions *actions; /* borrowed */
	struct hub *hub;         /* borrowed */
	/* Signed requests waiting for approvals (with the relay). */
	struct approvals *approvals; /* borrowed */
	/* Under mu: suspended requests, and those resumed but not done. */
	struct api_wait waits[API_WAITS_MAX];
	uint64_t next_token;
	size_t outstanding;
	bool relay_stopping; /* api_stop began: no new waits */
	/*
	 * Under mu: the refusal records' bounds (api_refusal.c):
	 * auth.rejected, action.refused.
	 */
	struct audit_limit refusal_lim[2];
};

/* What a route answers: status, a malloc'd body and its media type. */
struct api_answer {
	unsigned status;
	char *body;
	size_t len;
	const char *ctype; /* static string */
	const char *allow; /* "Allow:" value (405), or NULL */
	char location[64]; /* "Location:" value, or "" */
};

/* What api_route decided about a POST that needs its body read. */
enum api_post_kind {
	API_POST_ACTION = 0, /* POST /api/containers/{id}/actions */
	API_POST_APPROVE,    /* POST /api/actions/{id}/approve */
	API_POST_REFUSE,     /* POST /api/actions/{id}/refuse */
	API_POST_COSIGN,     /* POST /api/audit/cosignatures */
};

struct api_post {
	bool is_action; /* the route is POST .../actions */
	enum api_post_kind kind;
	bool want_body;
	char container[72]; /* the {id} of the path, checked (an action's
	                       id for approve and refuse) */
	char target[72];    /* the {id} as given, escaped */
	int wait_s;         /* 0..API_ACTION_WAIT_MAX */
};

/* What api_action_post wants done once it answered nothing yet. */
struct api_pending {
	bool suspend;  /* wait for action_id to end */
	bool recorded; /* action.requested is in the log */
	char action_id[33];
	/* The body's action and reason, once they passed their checks. */
	char action[16];
	char reason[ENVELOPE_REASON_BYTES + 1];
};

/* ---- api_daemon.c ---- */

/* The slot of conn (its deadline), or NULL when it has none. */
struct api_slot *api_conn_slot(struct MHD_Connection *conn);
/* conn's request (or answer) must be done ms from now, or it is cut. */
void api_slot_deadline(struct api *api, struct MHD_Connection *conn,
    int64_t ms);

/* ---- api.c: libmicrohttpd's callbacks for each request ---- */

/* MHD_OPTION_URI_LOG_CALLBACK: the request's state, with the raw target;
 * NULL when out of memory. */
void *api_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
/* MHD_OPTION_NOTIFY_COMPLETED: frees the request's state. */
void api_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe);
/* The access handler: authenticates, routes and answers a request. */
enum MHD_Result api_access(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **req_cls);

/* A refused request, for its audit record (api_refusal.c). */
struct api_refusal {
	const char *event;           /* auth.rejected or action.refused */
	const char *reason;          /* auth.rejected: no_cert, ... */
	const char *name_key;        /* "requested_by", "name" */
	const char *name, *role;     /* the client, once known; or NULL */
	const char *addr;            /* "ADDR:PORT" (netaddr.h) */
	const char *method, *target; /* escaped */
	const char *container;       /* action.refused: as given, escaped */
	const char *action, *action_reason; /* when the body had them */
};

/* A request target split and percent-decoded (api_url.c). */
struct api_url {
	char *seg[API_SEGMENTS_MAX]; /* path segments, decoded */
	size_t nseg;
	char *key[API_PARAMS_MAX]; /* query parameters, decoded */
	char *val[API_PARAMS_MAX];
	size_t nparam;
	char buf[API_URL_MAX + API_SEGMENTS_MAX + 2 * API_PARAMS_MAX + 2];
};

/* What the access handler learnt about a request before routing. */
struct api_request_info {
	const char *method;
	const char *raw_uri; /* NULL when over API_URL_MAX */
	size_t raw_len;
	bool has_body;
	const char *content_type;    /* header value, or NULL */
	const char *content_length;  /* header value, or NULL */
	const struct identity *peer; /* verified */
};

/*
 * Parses an origin-form request target ("/a/b?k=v&k2=v2") strictly:
 * every "%" must start two hex digits; path segments must be non-empty,
 * not "." or "..", and decode to unreserved characters only
 * ([A-Za-z0-9._~-]); each query item is "key=value" with a unique key and
 * no control bytes once decoded ('+' is a space); no fragment. Returns 0,
 * SIGNET_ERR_TOO_LARGE (over API_URL_MAX bytes, or too many segments or
 * parameters) or SIGNET_ERR_FORMAT, with msg saying why.
 */
int api_url_parse(const char *raw, size_t len, struct api_url *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* The decoded value of parameter key, or NULL when absent. */
const char *api_url_param(const struct api_url *u, const char *key);

/*
 * SIGNET_ERR_FORMAT naming the first parameter not in allowed
 * (NULL-terminated; NULL means none allowed); 0 when all are known.
 */
int api_url_only_params(const struct api_url *u, const char *const allowed[],
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Routes one authenticated request and fills ans (on failure a JSON
 * error), except for a POST .../actions that passed every check possible
 * before its body (role, content type, length, target): then post->
 * want_body is set and ans is left empty. Counts M_API_FORBIDDEN for
 * role refusals.
 */
void api_route(struct api *api, const struct api_request_info *rq,
    struct api_answer *ans, struct api_post *post);

/*
 * POST /api/containers/{id}/actions with its whole body (api_actions.c):
 * checks the body, resolves the container, signs, records
 * action.requested durably, hands the frame to the hub. Fills ans (an
 * answer to send now) or sets pend->suspend (wait for pend->action_id,
 * then answer with api_action_answer). pend->recorded says whether
 * action.requested was written; pend->action and pend->reason hold the
 * body's, once they passed their checks.
 */
void api_action_post(struct api *api, const struct api_post *post,
    const struct identity *peer, const char *body, size_t len,
    struct api_answer *ans, struct api_pending *pend);

/*
 * Signs p (its action_id, host, container, action, reason, requested_by
 * and, for an operator's request, the request and its approvals set; its
 * expires_at the request's or unset), records it as action.requested and
 * hands it to the hub, as POST .../actions does from there on: the
 * relay's window is wait_s + 10 s (30 s + 10 s for 0), never past the
 * request's expiry; answers ans, or sets pend->suspend to wait.
 */
void api_action_relay(struct api *api, struct envelope_action_payload *p,
    int wait_s, struct api_answer *ans, struct api_pending *pend);

/*
 * Cluster mode: true (ans is 503 "the cluster database is unreachable:
 * WHY") while cluster_up is false; false (ans untouched) otherwise and
 * for one server.
 */
bool api_cluster_refuses(struct api *api, struct api_answer *ans);

/*
 * The answer for action id as it stands: 200 SUCCESS, 403 DENIED, 502
 * FAILURE/REJECTED, 503 UNDELIVERED (or still PENDING), 504 TIMEOUT; the
 * body is the action (GET /api/actions/{id}). pending_why, when not NULL,
 * is the body's error for an action still PENDING (why the request is
 * answered before its end: the server is stopping); NULL leaves it null.
 */
void api_action_answer(struct api *api, const char *id, const char *pending_why,
    struct api_answer *ans);

/* pending_why of an answer given early because the server stops. */
#define API_PENDING_STOPPING                                                   \
	"the server is stopping; the action may still finish (see GET "        \
	"/api/actions/ID later)"

/* GET /api/actions/{id} (api_actions.c). */
void api_action_get(struct api *api, const char *id, struct api_answer *ans);

/* ---- api_checkpoint.c: GET /api/audit/checkpoint, .../proof/... ---- */

void api_checkpoint_get(struct api *api, const struct api_url *u,
    struct api_answer *ans);
void api_checkpoint_consistency(struct api *api, const struct api_url *u,
    struct api_answer *ans);
void api_checkpoint_inclusion(struct api *api, const struct api_url *u,
    struct api_answer *ans);
/* POST /api/audit/cosignatures, with its body (a cosigned checkpoint). */
void api_checkpoint_cosign(struct api *api, const char *body, size_t len,
    struct api_answer *ans);

/*
 * Audits refusal r, answered with ans (its "error" goes in the record),
 * unless its event's bound is spent for r's reason (auth.rejected) or
 * status (action.refused, "status_NNN") in this window: then it is
 * counted into the window's audit.suppressed summary. A record that
 * cannot be written is logged; the refusal stands anyway.
 */
void api_refusal_audit(struct api *api, const struct api_refusal *r,
    const struct api_answer *ans);

/* Starts the refusal records' bounds (ctx's audit_limit); at start. */
void api_refusal_init(struct api *api);

/*
 * Closes the refusal records' windows that have ended (force: all, the
 * API stops) and audits their summaries. Takes mu: call without it.
 */
void api_refusal_close(struct api *api, bool force);

/* Fills ans with {"error":TEXT} (TEXT from fmt) and status. */
void api_answer_error(struct api_answer *ans, unsigned status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Fills ans with doc serialised (and deletes doc); 500 on failure. */
void api_answer_json(struct api_answer *ans, unsigned status, cJSON *doc);

/*
 * Reads the records of the audit log at path with seq > after (all when
 * !has_after), at most limit of them and about max_bytes of line text
 * (at least one record when there is one), into {"records":[...]} (*out,
 * cJSON_Delete it). Memory stays bounded by one line buffer plus the
 * answer, whatever the log's size: a binary search over byte offsets
 * finds where to start (seq grows by one per line), then lines are read
 * one by one. An unterminated last line (being written) is not returned.
 * Returns 0, SIGNET_ERR_IO / NOT_FOUND (cannot read), SIGNET_ERR_FORMAT
 * (a record in range does not parse), SIGNET_ERR_TOO_LARGE (a line over
 * AUDIT_LINE_MAX) or SIGNET_ERR_ALLOC.
 */
int api_audit_page(const char *path, bool has_after, uint64_t after,
    size_t limit, size_t max_bytes, cJSON **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* ---- api_request.c ---- */

/*
 * The parsed body of a POST .../actions when it carries an operator-signed
 * request (a "request" member; cJSON_Delete it), else NULL: parsed once,
 * then read by api_request_parse.
 */
cJSON *api_request_body_signed(const char *body, size_t len);

/*
 * Reads that body, {"request":{"payload","sig","key_id"}}, strictly into
 * out (request_signed_free). Returns 0, SIGNET_ERR_FORMAT,
 * SIGNET_ERR_ALLOC.
 */
int api_request_parse(const cJSON *root, struct request_signed *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Checks the signed request s sent by peer for the container of the path
 * (its id as given, a prefix of the request's) against the server's
 * roster: 0 with p's members set from the verified request (action_id,
 * host, container, action, reason, requested_by, its issued_at and
 * expires_at, and the request itself), or the HTTP status to refuse
 * with and msg: 503 no roster held, 403 (key not in the roster, bad
 * signature, operator's key expired, roster expired, another operator's
 * request), 409 (signed under a roster version this server does not
 * hold), 400 (malformed, expired, issued in the future, another
 * container), 500.
 */
unsigned api_request_check(struct api *api, const struct request_signed *s,
    const struct identity *peer, const char *path_container,
    struct envelope_action_payload *p, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* ---- api_approvals.c ---- */

/*
 * A verified signed request p (api_request_check, resolved): asks the
 * host's shared policy whether it needs approvals it does not have. 0:
 * relay it now; 1: it waits (action.awaiting_approval recorded, ans is
 * 202 with the waiting request); -1: refused, ans says why.
 */
int api_approvals_hold(struct api *api, const struct envelope_action_payload *p,
    struct api_answer *ans, struct api_pending *pend)
    __attribute__((warn_unused_result));

/* POST /api/actions/{id}/approve and .../refuse (post->kind). */
void api_approvals_post(struct api *api, const struct api_post *post,
    const struct identity *peer, const char *body, size_t len,
    struct api_answer *ans, struct api_pending *pend);

/* GET /api/approvals. */
void api_approvals_list(struct api *api, struct api_answer *ans);

/* GET /api/actions/{id} for a request that waits or waited for
 * approvals: 0 answered, SIGNET_ERR_NOT_FOUND when it never did. */
int api_approvals_get(struct api *api, const char *id, struct api_answer *ans);

/* Ends (EXPIRED, recorded) the waiting requests that expired. */
void api_approvals_expire(struct api *api);

/*
 * GET /api/roster (api_roster.c): the roster this server holds (null when
 * none) and the version each host said it holds. Returns a new document,
 * or NULL when out of memory.
 */
cJSON *api_roster_json(struct api *api);

#endif
