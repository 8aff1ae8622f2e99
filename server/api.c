/* SPDX-License-Identifier: ISC */
/*
 * The operator HTTPS API: the libmicrohttpd daemon (GnuTLS), the client
 * certificate check of every request, per-connection deadlines, and
 * turning a route's answer into an HTTP response. Routes are in
 * api_routes.c.
 *
 * GnuTLS only *requests* a client certificate (MHD_OPTION_HTTPS_MEM_TRUST
 * has no "require" mode and MHD does not check CRLs), so every request
 * takes the peer's DER certificate from the TLS session and checks it
 * with identity_verify_der against the current CA + CRL: the same code
 * the agent listener runs. A missing certificate gets 401, a refused one
 * 403 with the reason.
 */
#include "api_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <sodium.h>

#include "actions.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "text.h"

#define OOM_BODY "{\"error\":\"out of memory\"}"

/* Per request: the raw target as received, before MHD decodes it. */
struct api_request {
	char *uri;                     /* NULL when over API_URL_MAX */
	size_t uri_len;
	bool headers_seen;             /* the first call is over */
	bool answered;
	size_t discarded;              /* body bytes dropped after answering */

	/* POST .../actions: the body being read */
	bool collecting, too_big;
	struct api_post post;
	struct identity peer;
	char *body;                    /* API_BODY_MAX + 1 bytes */
	size_t body_len;
	/* suspended until the action ends */
	bool waiting, counted;
	uint64_t token;
	char action_id[33];
};

/* ---- connection deadlines ---- */

static struct api_slot *
conn_slot(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static void
slot_deadline(struct api *api, struct MHD_Connection *conn, int64_t ms)
{
	struct api_slot *slot = conn_slot(conn);

	if (slot == NULL)
		return;
	(void)pthread_mutex_lock(&api->mu);
	slot->deadline_ms = clock_mono_ms() + ms;
	(void)pthread_mutex_unlock(&api->mu);
}

/* The client's "ADDR:PORT" (netaddr.h), or "unknown". */
static void
conn_peer_addr(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	(void)netaddr_format(ci != NULL ? ci->client_addr : NULL, buf, len);
}

/*
 * Tracks each connection so the watchdog can cut one whose headers (or
 * answer) do not complete in time; slots are freed before MHD closes the
 * socket, so the watchdog never touches a reused descriptor.
 */
static void
api_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct api *api = cls;
	struct api_slot *slot = *socket_ctx;
	const union MHD_ConnectionInfo *ci;
	size_t i;

	(void)pthread_mutex_lock(&api->mu);
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (slot != NULL) {
			slot->used = false;
			identity_store_free(slot->auth_store);
			slot->auth_store = NULL;
		}
		*socket_ctx = NULL;
		goto out;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (i = 0; ci != NULL && i < sizeof(api->slots) /
	    sizeof(api->slots[0]); i++) {
		if (api->slots[i].used)
			continue;
		api->slots[i].used = true;
		api->slots[i].cut = false;
		api->slots[i].fd = ci->connect_fd;
		api->slots[i].deadline_ms = clock_mono_ms() +
		    API_HEADER_DEADLINE_MS;
		identity_store_free(api->slots[i].auth_store);
		api->slots[i].auth_store = NULL;
		*socket_ctx = &api->slots[i];
		break;
	}
out:
	(void)pthread_mutex_unlock(&api->mu);
}

static void *
api_watchdog(void *arg)
{
	struct api *api = arg;
	struct timespec ts;
	size_t i;

	(void)pthread_mutex_lock(&api->mu);
	while (!api->stopping) {
		int64_t now = clock_mono_ms();

		for (i = 0; i < sizeof(api->slots) / sizeof(api->slots[0]);
		    i++) {
			struct api_slot *s = &api->slots[i];

			if (!s->used || s->cut || s->deadline_ms == 0 ||
			    now < s->deadline_ms)
				continue;
			/* MHD sees the shut socket and closes it itself. */
			(void)shutdown(s->fd, SHUT_RDWR);
			s->cut = true;
			log_info("api: cut a connection that did not complete "
			    "its request in time fd=%d", s->fd);
		}
		if (api->actions != NULL) {
			size_t n;

			/* Recording takes an fdatasync: not under mu. */
			(void)pthread_mutex_unlock(&api->mu);
			n = actions_expire_and_record(api->actions,
			    api->ctx->audit, clock_wall_ms());
			while (n-- > 0)
				metrics_inc(api->ctx->metrics,
				    M_ACTIONS_TIMEOUT);
			(void)pthread_mutex_lock(&api->mu);
			if (api->stopping)
				break;
		}
		if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
			break;
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&api->cv, &api->mu, &ts);
	}
	(void)pthread_mutex_unlock(&api->mu);
	return NULL;
}

/* ---- per request ---- */

static void *
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
		return rq;                     /* uri stays NULL: 414 */
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

static void
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
	slot_deadline(api, conn, API_HEADER_DEADLINE_MS);
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
		api_answer_error(ans, 401, "a client certificate issued by the "
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
		api_answer_error(ans, 500, "cannot hash the client certificate");
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
	    IDENTITY_ACCEPT_AUDITOR, now, peer, &msg);
	if (slot != NULL) {
		identity_store_free(slot->auth_store);
		slot->auth_store = NULL;
		if (r == 0) {
			slot->auth_store = store;    /* the reference moves */
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
		api_answer_error(ans, 500, "cannot check the client "
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
		ans->body = NULL;              /* owned by resp now */
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
	    (ans->allow != NULL && MHD_add_response_header(resp,
	    MHD_HTTP_HEADER_ALLOW, ans->allow) != MHD_YES) ||
	    (ans->location[0] != '\0' && MHD_add_response_header(resp,
	    MHD_HTTP_HEADER_LOCATION, ans->location) != MHD_YES)) {
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
	struct api_slot *slot = conn_slot(conn);
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
	if (r != 0)                            /* ended already, or gone */
		api_wake(api, rq->token);
	return 0;
}

/* Content-Type is application/json (any parameters, any case). */
static bool
is_json_type(const char *v)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

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
    const struct api_pending *pend, bool authed,
    const struct api_refusal *seen, const struct api_answer *ans)
{
	struct api_refusal r = *seen;

	if (ans->status < 400 || rq->action_id[0] != '\0' || pend->recorded)
		return;
	if (!authed) {
		if (ans->status != 401 && ans->status != 403)
			return;        /* our own trouble, not a refusal */
		r.event = "auth.rejected";
		r.reason = ans->status == 401 ? "no_cert" : "cert_refused";
	} else if (rq->post.is_action) {
		r.event = "action.refused";
		r.name_key = "requested_by";
		r.container = rq->post.target;
		r.action = pend->action[0] != '\0' ? pend->action : NULL;
		r.action_reason = pend->reason[0] != '\0' ? pend->reason :
		    NULL;
	} else if (ans->status == 403) {
		r.event = "auth.rejected";
		r.reason = "forbidden";
		r.name_key = "name";
	} else {
		return;
	}
	if (r.name_key == NULL)
		r.name = r.role = NULL;        /* not authenticated */
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

static enum MHD_Result
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
	bool authed = true;            /* the later calls: it was */

	(void)url;
	(void)version;
	if (rq == NULL)
		return MHD_NO;                 /* out of memory: close */
	memset(&ans, 0, sizeof(ans));
	memset(&pend, 0, sizeof(pend));
	if (rq->waiting) {
		/* Resumed: the action ended (or the API is stopping). */
		rq->waiting = false;
		actions_clear_waiter(api->actions, rq->action_id, rq->token);
		slot_deadline(api, conn, API_ANSWER_DEADLINE_MS);
		api_action_answer(api, rq->action_id, &ans);
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
			api_answer_error(&ans, 413, "request body over %d "
			    "bytes", API_BODY_MAX);
			goto answer;
		}
		api_action_post(api, &rq->post, &rq->peer, rq->body,
		    rq->body_len, &ans, &pend);
		if (pend.suspend) {
			memcpy(rq->action_id, pend.action_id,
			    sizeof(rq->action_id));
			if (suspend_for_action(api, conn, rq) == 0)
				return MHD_YES;
			api_action_answer(api, rq->action_id, &ans);
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
	slot_deadline(api, conn, API_ANSWER_DEADLINE_MS);
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
		if (!is_json_type(info.content_type)) {
			api_answer_error(&ans, 415, "Content-Type must be "
			    "application/json");
		} else {
			rq->body = malloc(API_BODY_MAX + 1);
			if (rq->body == NULL) {
				api_answer_error(&ans, 500, "out of memory");
			} else {
				rq->peer = peer;
				rq->collecting = true;
				return MHD_YES;        /* read the body */
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
	seen.target = rq->uri != NULL ? text_escape(rq->uri, rq->uri_len,
	    esc_u, sizeof(esc_u)) : "(too long)";
	log_info("api: request addr=%s peer=%s role=%s method=\"%s\" "
	    "target=\"%s\" status=%u%s%s", addr, who, role, seen.method,
	    seen.target, ans.status,
	    rq->action_id[0] != '\0' ? " action_id=" : "", rq->action_id);
	audit_if_refused(api, rq, &pend, authed, &seen, &ans);
	ret = send_answer(api, conn, &ans);
	free(ans.body);
	return ret;
}

/* libmicrohttpd's own messages, to our log (escaped, one line each). */
__attribute__((format(printf, 2, 0)))
static void
api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api *api = cls;
	char raw[512], esc[600];
	size_t n;

	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	n = strlen(raw);
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		raw[--n] = '\0';
	(void)text_escape(raw, n, esc, sizeof(esc));
	log_info("api: libmicrohttpd: %s", esc);
	(void)pthread_mutex_lock(&api->mu);
	if (api->starting) {
		/* Every message of a failed start goes into its error. */
		size_t used = strlen(api->start_error);
		size_t room = sizeof(api->start_error) - 1 - used;
		size_t elen = strlen(esc);

		if (used > 0 && room >= 2) {
			memcpy(api->start_error + used, "; ", 2);
			used += 2;
			room -= 2;
		}
		elen = elen < room ? elen : room;
		memcpy(api->start_error + used, esc, elen);
		api->start_error[used + elen] = '\0';
	}
	(void)pthread_mutex_unlock(&api->mu);
}

/* ---- start and stop ---- */

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss,
    struct err_msg *msg)
{
	struct addrinfo hints, *res = NULL;
	char host[256], esc[128];
	const char *port, *colon;
	size_t hlen;
	int64_t pnum;
	int e;

	(void)text_escape_str(listen, esc, sizeof(esc));
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		hlen = (size_t)(close - listen - 1);
		memcpy(host, listen + 1, hlen < sizeof(host) ? hlen : 0);
		port = close + 2;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || memchr(listen, ':',
		    (size_t)(colon - listen)) != NULL)
			goto bad;
		hlen = (size_t)(colon - listen);
		memcpy(host, listen, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host) ||
	    text_to_int64(port, 0, 65535, &pnum) != 0)
		goto bad;
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &res);
	if (e != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
		if (res != NULL)
			freeaddrinfo(res);
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "api listen "
		    "address \"%s\": %s", esc, e != 0 ? gai_strerror(e) :
		    "no address");
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
bad:
	return err_set(msg, SIGNET_ERR_INVALID_ARG, "api listen address "
	    "\"%s\" is not HOST:PORT or [IPV6]:PORT", esc);
}

static uint16_t
listen_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)ss)->
		    sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->
		    sin6_port);
	return 0;
}

int
api_start(struct server_ctx *ctx, const char *listen, const char *cert_path,
    const char *key_path, const char *ca_path, struct api **out,
    struct err_msg *msg)
{
	return api_start_relay(ctx, listen, cert_path, key_path, ca_path,
	    NULL, out, msg);
}

int
api_start_relay(struct server_ctx *ctx, const char *listen,
    const char *cert_path, const char *key_path, const char *ca_path,
    const struct api_relay *relay, struct api **out, struct err_msg *msg)
{
	struct api *api = NULL;
	struct sockaddr_storage ss;
	pthread_condattr_t ca_attr;
	char *cert = NULL, *ca = NULL, *key = NULL;
	size_t cert_len, ca_len, key_len;
	unsigned flags;
	int r;

	if (out != NULL)
		*out = NULL;
	if (ctx == NULL || listen == NULL || cert_path == NULL ||
	    key_path == NULL || ca_path == NULL || out == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "api_start: NULL "
		    "argument");
	if (relay != NULL && (relay->actions == NULL || relay->hub == NULL))
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "api_start: "
		    "incomplete action relay");
	if (sodium_init() < 0)
		return err_set(msg, SIGNET_ERR_CRYPTO, "cannot initialise "
		    "libsodium");
	r = parse_listen(listen, &ss, msg);
	if (r != 0)
		goto out;
	r = fileio_read_alloc(cert_path, API_PEM_MAX, &cert, &cert_len, msg);
	if (r != 0)
		goto out;
	r = fileio_read_alloc(ca_path, API_PEM_MAX, &ca, &ca_len, msg);
	if (r != 0)
		goto out;
	key = sodium_malloc(API_PEM_MAX + 1);
	api = calloc(1, sizeof(*api));
	if (key == NULL || api == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = fileio_read_small(key_path, key, API_PEM_MAX, &key_len,
	    FILEIO_SECRET, msg);
	if (r != 0)
		goto out;
	api->ctx = ctx;
	if (relay != NULL) {
		api->actions = relay->actions;
		api->hub = relay->hub;
	}
	if (pthread_mutex_init(&api->mu, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a mutex");
		goto out;
	}
	api->mu_ready = true;
	if (pthread_condattr_init(&ca_attr) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a condvar");
		goto out;
	}
	r = pthread_condattr_setclock(&ca_attr, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&api->cv, &ca_attr) == 0 ? 0 :
	    SIGNET_ERR_INTERNAL;
	(void)pthread_condattr_destroy(&ca_attr);
	if (r != 0) {
		r = err_set(msg, r, "cannot make a condvar");
		goto out;
	}
	api->cv_ready = true;
	if (pthread_create(&api->watchdog, NULL, api_watchdog, api) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "cannot start the API "
		    "watchdog thread");
		goto out;
	}
	api->watchdog_running = true;

	(void)pthread_mutex_lock(&api->mu);
	api->starting = true;
	(void)pthread_mutex_unlock(&api->mu);
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_TLS |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	api->daemon = MHD_start_daemon(flags, listen_port(&ss), NULL, NULL,
	    api_access, api,
	    MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, api,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_CERT, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_HTTPS_MEM_TRUST, ca,
	    MHD_OPTION_HTTPS_PRIORITIES, API_TLS_PRIORITIES_DEFAULT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONNECTION_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)API_PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONNECTION_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_URI_LOG_CALLBACK, api_uri_log, api,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, api,
	    MHD_OPTION_NOTIFY_CONNECTION, api_conn_notify, api,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)API_THREADS,
	    MHD_OPTION_END);
	/* The key is loaded into GnuTLS at start and not read again. */
	sodium_free(key);
	key = NULL;
	(void)pthread_mutex_lock(&api->mu);
	api->starting = false;
	(void)pthread_mutex_unlock(&api->mu);
	if (api->daemon == NULL) {
		const char *why = api->start_error[0] != '\0' ?
		    api->start_error : "address in use, or a bad certificate "
		    "or key?";

		r = err_set(msg, SIGNET_ERR_IO, "cannot start the operator API "
		    "on %s: %s", listen, why);
		goto out;
	}
	log_info("api: listening on %s port=%u", listen, api_port(api));
	*out = api;
	api = NULL;
	r = 0;
out:
	api_stop(api);
	sodium_free(key);
	free(cert);
	free(ca);
	return r;
}

unsigned
api_port(struct api *api)
{
	const union MHD_DaemonInfo *di;

	if (api == NULL || api->daemon == NULL)
		return 0;
	di = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return di != NULL ? di->port : 0;
}

/*
 * Resumes every waiting request (they answer 503) and gives them
 * API_STOP_GRACE_MS to finish: MHD must not stop with a connection
 * suspended. The watchdog is gone by now; the hub's thread too (main
 * stops the hub first), so no other thread wakes requests.
 */
static void
resume_all(struct api *api)
{
	struct MHD_Connection *conns[API_WAITS_MAX];
	struct timespec ts;
	size_t i, n = 0;

	actions_clear_waiters(api->actions);
	(void)pthread_mutex_lock(&api->mu);
	api->relay_stopping = true;
	for (i = 0; i < API_WAITS_MAX; i++) {
		if (api->waits[i].used) {
			conns[n++] = api->waits[i].conn;
			api->waits[i].used = false;
		}
	}
	(void)pthread_mutex_unlock(&api->mu);
	if (n > 0)
		log_info("api: stopping: answering %zu waiting request(s)", n);
	for (i = 0; i < n; i++)
		MHD_resume_connection(conns[i]);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return;
	ts.tv_sec += API_STOP_GRACE_MS / 1000;
	(void)pthread_mutex_lock(&api->mu);
	while (api->outstanding > 0) {
		if (pthread_cond_timedwait(&api->cv, &api->mu, &ts) != 0)
			break;
	}
	(void)pthread_mutex_unlock(&api->mu);
}

void
api_stop(struct api *api)
{
	size_t i;

	if (api == NULL)
		return;
	if (api->watchdog_running) {
		(void)pthread_mutex_lock(&api->mu);
		api->stopping = true;
		(void)pthread_cond_signal(&api->cv);
		(void)pthread_mutex_unlock(&api->mu);
		(void)pthread_join(api->watchdog, NULL);
	}
	if (api->daemon != NULL && api->mu_ready && api->cv_ready)
		resume_all(api);
	if (api->daemon != NULL)
		MHD_stop_daemon(api->daemon);
	/* MHD reports every close; this is for one it did not. */
	for (i = 0; i < sizeof(api->slots) / sizeof(api->slots[0]); i++) {
		identity_store_free(api->slots[i].auth_store);
		api->slots[i].auth_store = NULL;
	}
	if (api->cv_ready)
		(void)pthread_cond_destroy(&api->cv);
	if (api->mu_ready)
		(void)pthread_mutex_destroy(&api->mu);
	free(api);
}
