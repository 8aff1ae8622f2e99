/* SPDX-License-Identifier: ISC */
/*
 * The operator HTTPS API, one request at a time: the client certificate
 * check of every request, reading a POST body within its bounds, waiting
 * for an action to end (the connection suspended), the audit of a refusal,
 * and turning a route's answer into an HTTP response. Routes are in
 * api_routes.c; the libmicrohttpd daemon, its connections' deadlines and
 * api_start/api_stop in api_daemon.c.
 *
 * GnuTLS only *requests* a client certificate (MHD_OPTION_HTTPS_MEM_TRUST
 * has no "require" mode and MHD does not check CRLs), so every request
 * takes the peer's DER certificate from the TLS session and checks it
 * with identity_verify_der against the current CA + CRL: the same code
 * the agent listener runs. A missing certificate gets 401, a refused one
 * 403 with the reason.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <sodium.h>

#include "actions.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "text.h"

#define OOM_BODY "{\"error\":\"out of memory\"}"

/* Per request: the raw target as received, before MHD decodes it. */
struct api_request {
	char *uri; /* NULL when over API_URL_MAX */
	size_t uri_len;
	bool headers_seen; /* the first call is over */
	bool answered;
	size_t discarded; /* body bytes dropped after answering */

	/* POST .../actions: the body being read */
	bool collecting, too_big;
	struct api_post post;
	struct identity peer;
	char *body; /* API_BODY_MAX + 1 bytes */
	size_t body_len;
	/* suspended until the action ends */
	bool waiting, counted;
	uint64_t token;
	char action_id[33];
};

/* The client's "ADDR:PORT" (netaddr.h), or "unknown". */
static void
conn_peer_addr(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	(void)netaddr_format(ci != NULL ? ci->client_addr : NULL, buf, len);
}

void *
api_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct api_request *rq = calloc(1, sizeof(*rq));
	size_t len;

	(void)cls;
	(void)conn;
	if (rq == NULL || uri == NULL)
		return rq;
	len = strnlen(uri, API_URL_MAX + 1);
	if (len > API_URL_MAX)
		return rq; /* uri stays NULL: 414 */
	rq->uri = malloc(len + 1);
	if (rq->uri == NULL) {
		free(rq);
		return NULL;
	}
	memcpy(rq->uri, uri, len);
	rq->uri[len] = '\0';
	rq->uri_len = len;
	return rq;
}

void
api_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api *api = cls;
	struct api_request *rq = *req_cls;

	(void)toe;
	if (rq != NULL) {
		if (rq->waiting)
			actions_clear_waiter(api->actions, rq->action_id,
			    rq->token);
		(void)pthread_mutex_lock(&api->mu);
		if (rq->waiting) {
			size_t i;

			for (i = 0; i < API_WAITS_MAX; i++)
				if (api->waits[i].used &&
				    api->waits[i].token == rq->token)
					api->waits[i].used = false;
		}
		if (rq->counted && api->outstanding > 0)
			api->outstanding--;
		(void)pthread_cond_broadcast(&api->cv);
		(void)pthread_mutex_unlock(&api->mu);
		free(rq->body);
		free(rq->uri);
		free(rq);
	}
	*req_cls = NULL;
	/* The next request on a kept-alive connection gets a fresh term. */
	api_slot_deadline(api, conn, API_HEADER_DEADLINE_MS);
}

static bool
request_has_body(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING);

	return te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
}

/*
 * Verifies the client certificate of conn's TLS session. Returns 0 with
 * *peer filled, or -1 with ans holding the refusal.
 */
static int
authenticate(struct api *api, struct MHD_Connection *conn, const char *addr,
    struct identity *peer, struct api_answer *ans)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *certs = NULL;
	unsigned int ncerts = 0;
	struct identity_store *store;
	struct api_slot *slot;
	gnutls_session_t session;
	struct err_msg msg;
	unsigned char sha[32];
	int64_t now;
	int r;

	err_clear(&msg);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL) {
		api_answer_error(ans, 500, "no TLS session");
		return -1;
	}
	session = ci->tls_session;
	if (gnutls_certificate_type_get2(session, GNUTLS_CTYPE_PEERS) ==
	    GNUTLS_CRT_X509)
		certs = gnutls_certificate_get_peers(session, &ncerts);
	if (certs == NULL || ncerts == 0) {
		metrics_inc(api->ctx->metrics, M_API_TLS_FAIL_NO_CERT);
		log_warn("api: refused addr=%s reason=no_client_certificate",
		    addr);
		api_answer_error(ans, 401,
		    "a client certificate issued by the "
		    "signet CA is required");
		return -1;
	}
	store = server_ctx_identity(api->ctx);
	if (store == NULL) {
		api_answer_error(ans, 503, "certificate checks are not ready");
		return -1;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	slot = ci != NULL ? ci->socket_context : NULL;
	now = (int64_t)time(NULL);
	if (crypto_hash_sha256(sha, certs[0].data, certs[0].size) != 0) {
		identity_store_free(store);
		api_answer_error(ans, 500,
		    "cannot hash the client "
		    "certificate");
		return -1;
	}
	if (slot != NULL && slot->auth_store == store &&
	    sodium_memcmp(slot->auth_sha, sha, sizeof(sha)) == 0 &&
	    now >= slot->auth_id.not_before && now <= slot->auth_id.not_after) {
		*peer = slot->auth_id;
		identity_store_free(store);
		return 0;
	}
	r = identity_verify_der(store, certs[0].data, certs[0].size,
	    IDENTITY_ACCEPT_AGENT | IDENTITY_ACCEPT_OPERATOR |
	        IDENTITY_ACCEPT_AUDITOR,
	    now, peer, &msg);
	if (slot != NULL) {
		identity_store_free(slot->auth_store);
		slot->auth_store = NULL;
		if (r == 0) {
			slot->auth_store = store; /* the reference moves */
			store = NULL;
			memcpy(slot->auth_sha, sha, sizeof(sha));
			slot->auth_id = *peer;
		}
	}
	identity_store_free(store);
	if (r == SIGNET_ERR_CERT || r == SIGNET_ERR_FORMAT ||
	    r == SIGNET_ERR_TOO_LARGE) {
		metrics_inc(api->ctx->metrics, M_API_TLS_FAIL_CERT);
		log_warn("api: refused addr=%s reason=certificate: %s", addr,
		    msg.text);
		api_answer_error(ans, 403, "client certificate refused: %s",
		    msg.text);
		return -1;
	}
	if (r != 0) {
		log_error("api: cannot check a client certificate addr=%s: %s",
		    addr, msg.text);
		api_answer_error(ans, 500,
		    "cannot check the client "
		    "certificate");
		return -1;
	}
	return 0;
}

static enum MHD_Result
send_answer(struct api *api, struct MHD_Connection *conn,
    struct api_answer *ans)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (ans->body == NULL) {
		ans->status = 500;
		ans->ctype = "application/json";
		resp = MHD_create_response_from_buffer(sizeof(OOM_BODY) - 1,
		    (void *)OOM_BODY, MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(ans->len, ans->body,
		    MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(ans->body);
		ans->body = NULL; /* owned by resp now */
	}
	if (resp == NULL)
		return MHD_NO;
	if (ans->ctype == NULL)
		ans->ctype = "application/json";
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	        ans->ctype) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	        "no-store") != MHD_YES ||
	    MHD_add_response_header(resp, "X-Content-Type-Options",
	        "nosniff") != MHD_YES ||
	    (ans->allow != NULL &&
	        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
	            ans->allow) != MHD_YES) ||
	    (ans->location[0] != '\0' &&
	        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
	            ans->location) != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	if (ans->status >= 500)
		metrics_inc(api->ctx->metrics, M_API_ERRORS_5XX);
	else if (ans->status >= 400)
		metrics_inc(api->ctx->metrics, M_API_ERRORS_4XX);
	ret = MHD_queue_response(conn, ans->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * Wakes a suspended request (actions_wake, from the hub's thread, the
 * watchdog or the API's own): resumes its connection unless it is gone.
 */
static void
api_wake(void *ctx, uint64_t token)
{
	struct api *api = ctx;
	struct MHD_Connection *conn = NULL;
	size_t i;

	(void)pthread_mutex_lock(&api->mu);
	for (i = 0; i < API_WAITS_MAX; i++) {
		if (api->waits[i].used && api->waits[i].token == token) {
			conn = api->waits[i].conn;
			api->waits[i].used = false;
			break;
		}
	}
	(void)pthread_mutex_unlock(&api->mu);
	/*
	 * The entry was ours alone: a suspended connection is not closed by
	 * MHD until MHD_stop_daemon, and api_stop resumes only entries it
	 * finds in waits[].
	 */
	if (conn != NULL)
		MHD_resume_connection(conn);
}

/*
 * Suspends conn until rq->action_id ends. Returns 0 (suspended, or
 * resumed already: the handler runs again), or -1 when no wait is
 * possible (stopping, too many waits): answer now.
 */
static int
suspend_for_action(struct api *api, struct MHD_Connection *conn,
    struct api_request *rq)
{
	struct api_slot *slot = api_conn_slot(conn);
	size_t i;
	int r;

	(void)pthread_mutex_lock(&api->mu);
	for (i = 0; i < API_WAITS_MAX && api->waits[i].used; i++)
		continue;
	if (api->relay_stopping || i == API_WAITS_MAX) {
		(void)pthread_mutex_unlock(&api->mu);
		return -1;
	}
	rq->token = ++api->next_token;
	api->waits[i].used = true;
	api->waits[i].token = rq->token;
	api->waits[i].conn = conn;
	rq->waiting = true;
	if (!rq->counted) {
		rq->counted = true;
		api->outstanding++;
	}
	/* A waiting request is exempt from the watchdog. */
	if (slot != NULL)
		slot->deadline_ms = 0;
	(void)pthread_mutex_unlock(&api->mu);
	MHD_suspend_connection(conn);
	r = actions_set_waiter(api->actions, rq->action_id, api_wake, api,
	    rq->token);
	if (r != 0) /* ended already, or gone */
		api_wake(api, rq->token);
	return 0;
}

/* Content-Type is want (any parameters, any case). */
static bool
is_type(const char *v, const char *want)
{
	size_t n = strlen(want);

	if (v == NULL)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, want, n) != 0)
		return false;
	v += n;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0' || *v == ';';
}

/*
 * Audits ans when it refuses the request (api_refusal.c): a client not
 * served (auth.rejected), or an action request refused before its action
 * was recorded (action.refused). Answers about an action that exists are
 * in the log already, as that action's records. seen: the client, its
 * address, method and target as logged.
 */
static void
audit_if_refused(struct api *api, const struct api_request *rq,
    const struct api_pending *pend, bool authed, const struct api_refusal *seen,
    const struct api_answer *ans)
{
	struct api_refusal r = *seen;

	if (ans->status < 400 || rq->action_id[0] != '\0' || pend->recorded)
		return;
	if (!authed) {
		if (ans->status != 401 && ans->status != 403)
			return; /* our own trouble, not a refusal */
		r.event = "auth.rejected";
		r.reason = ans->status == 401 ? "no_cert" : "cert_refused";
	} else if (rq->post.is_action) {
		r.event = "action.refused";
		r.name_key = "requested_by";
		r.container = rq->post.target;
		r.action = pend->action[0] != '\0' ? pend->action : NULL;
		r.action_reason = pend->reason[0] != '\0' ? pend->reason : NULL;
	} else if (ans->status == 403 &&
	    !(rq->post.kind == API_POST_COSIGN && rq->post.want_body)) {
		/* A witness the server does not know is no auth failure. */
		r.event = "auth.rejected";
		r.reason = "forbidden";
		r.name_key = "name";
	} else {
		return;
	}
	if (r.name_key == NULL)
		r.name = r.role = NULL; /* not authenticated */
	api_refusal_audit(api, &r, ans);
}

/* Body bytes of a POST being read; MHD_NO cuts the connection. */
static enum MHD_Result
collect_body(struct api_request *rq, const char *data, size_t *size)
{
	size_t n = *size;

	if (!rq->too_big && n <= API_BODY_MAX - rq->body_len) {
		memcpy(rq->body + rq->body_len, data, n);
		rq->body_len += n;
	} else {
		rq->too_big = true;
		if (n > API_BODY_DISCARD_MAX - rq->discarded)
			return MHD_NO;
		rq->discarded += n;
	}
	*size = 0;
	return MHD_YES;
}

enum MHD_Result
api_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct api *api = cls;
	struct api_request *rq = *req_cls;
	struct api_request_info info;
	struct api_answer ans;
	struct api_pending pend;
	struct api_refusal seen;
	struct identity peer;
	char addr[NETADDR_PEER_MAX] = "", esc_m[32], esc_u[160];
	const char *who = "-", *role = "-";
	enum MHD_Result ret;
	bool authed = true; /* the later calls: it was */

	(void)url;
	(void)version;
	if (rq == NULL)
		return MHD_NO; /* out of memory: close */
	memset(&ans, 0, sizeof(ans));
	memset(&pend, 0, sizeof(pend));
	if (rq->waiting) {
		/* Resumed: the action ended (or the API is stopping). */
		rq->waiting = false;
		actions_clear_waiter(api->actions, rq->action_id, rq->token);
		api_slot_deadline(api, conn, API_ANSWER_DEADLINE_MS);
		api_action_answer(api, rq->action_id, API_PENDING_STOPPING,
		    &ans);
		who = rq->peer.name;
		role = identity_role_name(rq->peer.role);
		goto answer;
	}
	if (rq->collecting) {
		if (*upload_data_size > 0)
			return collect_body(rq, upload_data, upload_data_size);
		rq->collecting = false;
		who = rq->peer.name;
		role = identity_role_name(rq->peer.role);
		if (rq->too_big) {
			api_answer_error(&ans, 413,
			    "request body over %d "
			    "bytes",
			    API_BODY_MAX);
			goto answer;
		}
		if (rq->post.kind == API_POST_ACTION)
			api_action_post(api, &rq->post, &rq->peer, rq->body,
			    rq->body_len, &ans, &pend);
		else if (rq->post.kind == API_POST_COSIGN)
			api_checkpoint_cosign(api, rq->body, rq->body_len,
			    &ans);
		else
			api_approvals_post(api, &rq->post, &rq->peer, rq->body,
			    rq->body_len, &ans, &pend);
		if (pend.suspend) {
			memcpy(rq->action_id, pend.action_id,
			    sizeof(rq->action_id));
			if (suspend_for_action(api, conn, rq) == 0)
				return MHD_YES;
			api_action_answer(api, rq->action_id,
			    API_PENDING_STOPPING, &ans);
		}
		goto answer;
	}
	if (rq->answered) {
		/* Body of a request already refused: drop it, bounded. */
		if (*upload_data_size > API_DISCARD_MAX - rq->discarded)
			return MHD_NO;
		rq->discarded += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!rq->headers_seen) {
		/*
		 * An answer queued in the first call makes MHD (0.9.7x) close
		 * the connection after it: every keep-alive client would pay a
		 * new TLS handshake per request. Without a body, answer from
		 * the next call; with one, the first call still decides (read
		 * it, or refuse early and drop the connection).
		 */
		rq->headers_seen = true;
		if (!request_has_body(conn))
			return MHD_YES;
	}
	rq->answered = true;
	api_slot_deadline(api, conn, API_ANSWER_DEADLINE_MS);
	metrics_inc(api->ctx->metrics, M_API_REQUESTS);
	memset(&peer, 0, sizeof(peer));
	conn_peer_addr(conn, addr, sizeof(addr));
	authed = authenticate(api, conn, addr, &peer, &ans) == 0;
	if (authed) {
		info.method = method;
		info.raw_uri = rq->uri;
		info.raw_len = rq->uri_len;
		info.has_body = request_has_body(conn);
		info.content_type = MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		info.content_length = MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		info.peer = &peer;
		api_route(api, &info, &ans, &rq->post);
		who = peer.name;
		role = identity_role_name(peer.role);
	}
	if (authed && rq->post.want_body) {
		if (!is_type(info.content_type,
		        rq->post.kind == API_POST_COSIGN ?
		            "text/plain" :
		            "application/json")) {
			api_answer_error(&ans, 415, "Content-Type must be %s",
			    rq->post.kind == API_POST_COSIGN ?
			        "text/plain" :
			        "application/json");
		} else {
			rq->body = malloc(API_BODY_MAX + 1);
			if (rq->body == NULL) {
				api_answer_error(&ans, 500, "out of memory");
			} else {
				rq->peer = peer;
				rq->collecting = true;
				return MHD_YES; /* read the body */
			}
		}
	}
answer:
	if (addr[0] == '\0')
		conn_peer_addr(conn, addr, sizeof(addr));
	memset(&seen, 0, sizeof(seen));
	seen.addr = addr;
	seen.name = who;
	seen.role = role;
	seen.method = text_escape_str(method, esc_m, sizeof(esc_m));
	seen.target = rq->uri != NULL ?
	    text_escape(rq->uri, rq->uri_len, esc_u, sizeof(esc_u)) :
	    "(too long)";
	log_info("api: request addr=%s peer=%s role=%s method=\"%s\" "
	         "target=\"%s\" status=%u%s%s",
	    addr, who, role, seen.method, seen.target, ans.status,
	    rq->action_id[0] != '\0' ? " action_id=" : "", rq->action_id);
	audit_if_refused(api, rq, &pend, authed, &seen, &ans);
	ret = send_answer(api, conn, &ans);
	free(ans.body);
	return ret;
}
