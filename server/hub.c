/* SPDX-License-Identifier: ISC */
/*
 * The agent hub's loop (hub.h): the libwebsockets context on our libev
 * loop, its callback, the once-a-second sweep (hello deadlines, pings,
 * silent peers), the SIGHUP re-check, shutdown, the queue of action frames
 * from other threads and their writing, and the calls of hub.h. The
 * certificate checks are in hub_tls.c, a session's frames in
 * hub_session.c. Everything here runs on the lws service thread except
 * hub_request_reload, hub_request_stop and hub_send_action.
 */
#include "hub_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ev.h>
#include <sodium.h>

#include "cluster_relay.h"
#include "identity.h"
#include "log.h"
#include "sdnotify.h"
#include "netaddr.h"
#include "text.h"

/* snprintf that may truncate on purpose (messages, never data). */
void
hub_fmt(char *out, size_t outlen, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(out, outlen, f, ap);
	va_end(ap);
}

void
hub_peer_of_fd(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		ss.ss_family = AF_UNSPEC;
	(void)netaddr_format((struct sockaddr *)&ss, out, outlen);
}

static size_t
bucket_of(const char *host)
{
	uint32_t h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (uint8_t)*host) * 16777619u;
	return h & (HUB_BUCKETS - 1);
}

struct hub_conn *
hub_map_get(struct hub *hub, const char *host)
{
	struct hub_conn *c;

	for (c = hub->buckets[bucket_of(host)]; c != NULL; c = c->hnext)
		if (strcmp(c->id.name, host) == 0)
			return c;
	return NULL;
}

void
hub_map_remove(struct hub *hub, struct hub_conn *c)
{
	struct hub_conn **pp;

	if (!c->mapped)
		return;
	for (pp = &hub->buckets[bucket_of(c->id.name)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	c->hnext = NULL;
	c->mapped = false;
}

/* Makes c the host's current connection (the old one, if any, unmapped). */
void
hub_map_put(struct hub *hub, struct hub_conn *c)
{
	struct hub_conn *old = hub_map_get(hub, c->id.name);
	size_t b = bucket_of(c->id.name);

	if (old != NULL)
		hub_map_remove(hub, old);
	c->hnext = hub->buckets[b];
	hub->buckets[b] = c;
	c->mapped = true;
}

void
hub_list_add(struct hub *hub, struct hub_conn *c)
{
	c->prev = NULL;
	c->next = hub->conns;
	if (hub->conns != NULL)
		hub->conns->prev = c;
	hub->conns = c;
	c->listed = true;
	hub->nconns++;
}

void
hub_list_remove(struct hub *hub, struct hub_conn *c)
{
	if (!c->listed)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		hub->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->listed = false;
	hub->nconns--;
}

void
hub_buffer_release(struct hub *hub, struct hub_conn *c)
{
	free(c->buf);
	hub->buffered -= c->cap;
	c->buf = NULL;
	c->cap = c->len = 0;
}

void
hub_out_free(struct hub_out *o)
{
	if (o == NULL)
		return;
	free(o->buf);
	free(o);
}

/* Ends the action of a frame that will not be written; frees it. */
static void
out_undeliver(struct hub *hub, struct hub_out *o, const char *why)
{
	char text[160];
	int r;

	hub_fmt(text, sizeof(text), "%s: the action was not sent to host %s",
	    why, o->host_id);
	r = actions_undeliver(hub->actions, hub->ctx->audit, o->action_id,
	    text);
	if (r == 0 || r != SIGNET_ERR_NOT_FOUND)
		metrics_inc(hub->ctx->metrics, M_ACTIONS_UNDELIVERED);
	else
		log_debug("action %s already ended; frame dropped (%s)",
		    o->action_id, why);
	hub_out_free(o);
}

/*
 * Every action frame still queued on c ends UNDELIVERED; result_acks go
 * (the agent sends those results again on its next connection).
 */
void
hub_out_flush(struct hub *hub, struct hub_conn *c, const char *why)
{
	struct hub_out *o;

	while ((o = c->out_head) != NULL) {
		c->out_head = o->next;
		if (o->is_ack)
			hub_out_free(o);
		else
			out_undeliver(hub, o, why);
	}
	c->out_tail = NULL;
	c->nout = 0;
	c->nack = 0;
}

void
hub_out_append(struct hub_conn *c, struct hub_out *o)
{
	o->next = NULL;
	if (c->out_tail != NULL)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	if (o->is_ack)
		c->nack++;
	else
		c->nout++;
	lws_callback_on_writable(c->wsi);
}

static void
drop_for_cert(struct hub *hub, struct hub_conn *c, const char *reason,
    const char *detail)
{
	bool revoked = strcmp(reason, "revoked") == 0;

	if (c->hello_done) {
		if (revoked)
			metrics_inc(hub->ctx->metrics, M_AGENT_REVOKED_DROPPED);
		hub_end_session(hub, c, reason, detail, 0);
	} else {
		hub_reject(hub, c->peer, reason,
		    revoked ? M_AGENT_REVOKED_DROPPED : M_AGENT_TLS_FAIL_CERT,
		    detail, c->cert, NULL);
	}
	hub_schedule_close(c, HUB_CLOSE_POLICY,
	    revoked ? "certificate revoked" : "certificate no longer valid");
}

static void
hub_reload(struct hub *hub)
{
	struct identity_store *store = NULL;
	struct identity id;
	struct err_msg msg, m2;
	struct hub_conn *c;
	char det[ERR_MSG_MAX], err[ERR_MSG_MAX];
	size_t dropped = 0, checked = 0;
	cJSON *d, *summary = NULL;
	char roster_sha[65], roster_err[ERR_MSG_MAX];
	bool ok, loaded, full;
	int r, rr;

	err_clear(&msg);
	err_clear(&m2);
	rr = server_ctx_reload_roster(hub->ctx, &m2);
	if (rr == 1) {
		log_info("SIGHUP: roster version %" PRId64 " taken; sending "
		         "it to the agents",
		    roster_store_version(hub->ctx->roster, roster_sha));
		hub_roster_send_all(hub);
	} else if (rr < 0) {
		log_error("SIGHUP: roster not reloaded, keeping version "
		          "%" PRId64 ": %s",
		    roster_store_version(hub->ctx->roster, roster_sha),
		    m2.text);
		text_vis_str(m2.text, roster_err, sizeof(roster_err));
	}
	r = server_ctx_reload_identity(hub->ctx, &msg);
	loaded = r == 0;
	if (!loaded)
		log_error("SIGHUP: CA/CRL not reloaded, keeping the ones in "
		          "use: %s",
		    msg.text);
	store = server_ctx_identity(hub->ctx);
	for (c = hub->conns; store != NULL && c != NULL; c = c->next) {
		if (c->closing || c->ended || c->cert == NULL)
			continue;
		checked++;
		err_clear(&m2);
		if (identity_store_serial_revoked(store, c->id.serial, &m2) ==
		    1) {
			hub_fmt(det, sizeof(det),
			    "certificate serial "
			    "%s revoked (CRL reloaded)",
			    c->id.serial);
			drop_for_cert(hub, c, "revoked", det);
			dropped++;
			continue;
		}
		if (identity_verify_x509(store, c->cert, NULL,
		        IDENTITY_ACCEPT_AGENT, 0, &id, &m2) != 0) {
			drop_for_cert(hub, c, "certificate", m2.text);
			dropped++;
		}
	}
	log_info("SIGHUP: CA/CRL %s; checked=%zu dropped=%zu crl_next_update="
	         "%lld",
	    loaded ? "reloaded" : "kept", checked, dropped,
	    store != NULL ? (long long)identity_store_crl_next_update(store) :
	                    0LL);
	d = cJSON_CreateObject();
	ok = d != NULL && cJSON_AddBoolToObject(d, "ok", loaded) != NULL &&
	    hub_put_str(d, "error",
	        loaded ? NULL : text_vis_str(msg.text, err, sizeof(err))) &&
	    (store == NULL ||
	        (hub_put_num(d, "crl_last_update",
	             (double)identity_store_crl_last_update(store)) &&
	            hub_put_num(d, "crl_next_update",
	                (double)identity_store_crl_next_update(store)))) &&
	    hub_put_num(d, "checked", (double)checked) &&
	    hub_put_num(d, "dropped", (double)dropped) &&
	    (hub->ctx->roster == NULL ||
	        hub_put_num(d, "roster_version",
	            (double)roster_store_version(hub->ctx->roster,
	                roster_sha))) &&
	    hub_put_str(d, "roster_error", rr < 0 ? roster_err : NULL);
	/* A SIGHUP storm: bounded like refusals (hub.h). */
	full = audit_limit_take(&hub->reload_lim, loaded ? "ok" : "failed",
	    hub_now_ms(), &summary);
	(void)audit_limit_write(hub->ctx->audit, SERVER_ACTOR, summary);
	if (full)
		(void)audit_event(hub->ctx->audit, "server.reloaded",
		    SERVER_ACTOR, d, ok);
	else
		cJSON_Delete(d);
	identity_store_free(store);
	/* Ends the RELOADING=1 the signal thread sent (a kept CA too). */
	sdnotify_ready(loaded ? "listening; CA and CRL reloaded" :
	                        "listening; CA/CRL reload refused, old kept");
}

/*
 * Closes the bounded records' windows that have ended (force: all, the
 * hub is going) and writes their audit.suppressed summaries.
 */
static void
audit_limits_close(struct hub *hub, bool force)
{
	cJSON *summary = NULL;

	audit_limit_close(&hub->reject_lim, hub_now_ms(), force, &summary);
	(void)audit_limit_write(hub->ctx->audit, SERVER_ACTOR, summary);
	audit_limit_close(&hub->reload_lim, hub_now_ms(), force, &summary);
	(void)audit_limit_write(hub->ctx->audit, SERVER_ACTOR, summary);
	audit_limit_close(&hub->cp_refused_lim, hub_now_ms(), force, &summary);
	(void)audit_limit_write(hub->ctx->audit, SERVER_ACTOR, summary);
}

/*
 * Once a second over every connection: the hello deadline, a ping after
 * ping_secs of silence, and a drop after hangup_secs. Closing is
 * left to each connection's own timer callback, where lws allows it.
 */
static void
sweep(lws_sorted_usec_list_t *sul)
{
	struct hub *hub = lws_container_of(sul, struct hub, sul_sweep);
	int64_t now = clock_mono_ms();
	int64_t hello_ms = (int64_t)hub->hello_timeout_secs * 1000;
	struct hub_conn *c;

	if (hub->stopping)
		return;
	audit_limits_close(hub, false);
	for (c = hub->conns; c != NULL; c = c->next) {
		if (c->closing || c->silent || c->hello_late ||
		    c->established_ms == 0)
			continue;
		if (!c->hello_done) {
			if (now - c->established_ms >= hello_ms) {
				c->hello_late = true;
				lws_set_timer_usecs(c->wsi, 1);
			}
		} else if (now - c->last_valid_ms >=
		    (int64_t)hub->hangup_secs * 1000) {
			c->silent = true;
			lws_set_timer_usecs(c->wsi, 1);
		} else if (now - c->last_valid_ms >=
		        (int64_t)hub->ping_secs * 1000 &&
		    c->ping_sent_ms <= c->last_valid_ms) {
			c->ping_sent_ms = now;
			c->want_ping = true;
			lws_callback_on_writable(c->wsi);
		}
	}
	lws_sul_schedule(hub->lws, 0, &hub->sul_sweep, sweep, LWS_USEC_PER_SEC);
}

static void
grace_over(lws_sorted_usec_list_t *sul)
{
	struct hub *hub = lws_container_of(sul, struct hub, sul_grace);

	hub->grace_over = true;
}

static void
begin_shutdown(struct hub *hub)
{
	struct hub_conn *c;

	if (hub->stopping)
		return;
	hub->stopping = true;
	lws_sul_cancel(&hub->sul_sweep);
	log_info("stopping the agent listener: closing %zu connection(s)",
	    hub->nconns);
	for (c = hub->conns; c != NULL; c = c->next) {
		hub_end_session(hub, c, "shutdown", NULL, 0);
		hub_schedule_close(c, HUB_CLOSE_GOING_AWAY,
		    "server shutting down");
	}
	lws_sul_schedule(hub->lws, 0, &hub->sul_grace, grace_over,
	    (lws_usec_t)HUB_SHUTDOWN_GRACE_MS * 1000);
}

/* Moves queued action frames to their hosts' connections. */
static void
send_drain(struct hub *hub)
{
	struct hub_out *list, *o;
	struct hub_conn *c;

	(void)pthread_mutex_lock(&hub->send_mu);
	list = hub->send_head;
	hub->send_head = hub->send_tail = NULL;
	hub->nsend = 0;
	(void)pthread_mutex_unlock(&hub->send_mu);
	while ((o = list) != NULL) {
		list = o->next;
		o->next = NULL;
		if (hub->stopping) {
			out_undeliver(hub, o, "the server is shutting down");
			continue;
		}
		c = hub_map_get(hub, o->host_id);
		if (c == NULL || !c->hello_done || c->ended || c->closing) {
			out_undeliver(hub, o, "the host is not connected");
			continue;
		}
		if (c->nout >= HUB_CONN_OUT_MAX) {
			out_undeliver(hub, o,
			    "too many action frames waiting "
			    "for this agent");
			continue;
		}
		hub_out_append(c, o);
	}
}

/* The challenge, the first frame on a connection (docs/protocol.md). */
static int
write_challenge(struct hub *hub, struct hub_conn *c)
{
	unsigned char buf[LWS_PRE + 128];
	char *text = NULL;
	size_t len = 0;
	int n = -1;

	c->want_challenge = false;
	if (wire_build_challenge(c->challenge, &text, &len) == 0 &&
	    len <= sizeof(buf) - LWS_PRE) {
		memcpy(buf + LWS_PRE, text, len);
		n = lws_write(c->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
	}
	free(text);
	if (n < 0 || (size_t)n < len) {
		log_warn("agent connection peer=%s: the challenge could not be "
		         "sent; closing",
		    c->peer);
		return hub_close_now(c, HUB_CLOSE_INTERNAL, "internal error");
	}
	metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_OUT);
	if (c->out_head != NULL || c->want_ping)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* LWS_CALLBACK_SERVER_WRITEABLE: a pending close, or the next frame. */
static int
conn_writeable(struct hub *hub, struct hub_conn *c)
{
	struct hub_out *o;
	int n;

	if (c->closing)
		return hub_close_now(c, c->close_code, c->close_text);
	if (c->want_challenge)
		return write_challenge(hub, c);
	if (c->want_ping) {
		unsigned char ping[LWS_PRE + sizeof(HUB_PING_PAYLOAD)];
		size_t plen = sizeof(HUB_PING_PAYLOAD) - 1;

		c->want_ping = false;
		/*
		 * Not an empty ping: libwebsockets (4.1) reports no
		 * LWS_CALLBACK_RECEIVE_PONG for an empty pong, and an agent
		 * that answered every ping would still be dropped.
		 */
		memcpy(ping + LWS_PRE, HUB_PING_PAYLOAD, plen);
		n = lws_write(c->wsi, ping + LWS_PRE, plen, LWS_WRITE_PING);
		if (n < 0)
			return hub_drop_session(hub, c, HUB_CLOSE_INTERNAL,
			    "write failed", "connection_lost", "ping failed");
		if (c->out_head != NULL)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	o = c->out_head;
	/* Nothing goes to a session whose agent.connected is not durable. */
	if (o == NULL || c->hello_unsynced)
		return 0;
	c->out_head = o->next;
	if (c->out_head == NULL)
		c->out_tail = NULL;
	if (o->is_ack)
		c->nack--;
	else
		c->nout--;
	n = lws_write(c->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
	if (n < 0 || (size_t)n < o->len) {
		log_warn("agent %s: writing %s %s failed; closing", c->id.name,
		    o->is_ack ? "the result_ack of" : "action", o->action_id);
		if (o->is_ack)
			hub_out_free(o);
		else
			out_undeliver(hub, o, "writing to the agent failed");
		return hub_drop_session(hub, c, HUB_CLOSE_INTERNAL,
		    "write failed", "connection_lost", "write failed");
	}
	metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_OUT);
	if (o->is_ack) {
		log_debug("result_ack sent: action_id=%s host=%s", o->action_id,
		    c->id.name);
	} else {
		metrics_inc(hub->ctx->metrics, M_ACTIONS_SENT);
		/* A relayed action leaves the cluster's queue now. */
		cluster_relay_sent(hub->ctx->relay, o->action_id);
		log_info("action sent: action_id=%s host=%s session=%llu "
		         "bytes=%zu",
		    o->action_id, c->id.name, (unsigned long long)c->session,
		    o->len);
	}
	hub_out_free(o);
	if (c->out_head != NULL)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* LWS_CALLBACK_EVENT_WAIT_CANCELLED: requests from other threads. */
static void
hub_wakeup(struct hub *hub)
{
	if (atomic_exchange(&hub->want_reload, false) && !hub->stopping)
		hub_reload(hub);
	if (atomic_load(&hub->want_stop) && hub_drain_done(hub))
		begin_shutdown(hub);
	hub_cluster_drain(hub);
	send_drain(hub);
}

static bool
is_signet(struct lws *wsi)
{
	const struct lws_protocols *p = lws_get_protocol(wsi);

	return p != NULL && p->name != NULL &&
	    strcmp(p->name, HUB_SUBPROTOCOL) == 0;
}

static struct hub_conn *
conn_of(void *user)
{
	struct hub_conn *c = user;

	return c != NULL && c->magic == HUB_CONN_MAGIC ? c : NULL;
}

static int
hub_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct hub *hub = lws_context_user(lws_get_context(wsi));
	struct hub_conn *c = conn_of(user);
	char peer[HUB_PEER_MAX];

	if (hub == NULL)
		return -1;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		return hub_tls_setup(hub, user);
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		/*
		 * Called only from OpenSSL's own chain check, which
		 * hub_tls_setup's verify callback replaces: reaching it
		 * means the identity check (CRL, role) did not run, so it
		 * refuses (fail closed).
		 */
		log_error("OpenSSL's own certificate check ran instead of "
		          "the identity check: refusing the peer");
		return 1;
	case LWS_CALLBACK_SSL_INFO: hub_ssl_info(hub, wsi, in); return 0;
	case LWS_CALLBACK_HTTP:
		/* The agent port speaks WebSocket only. */
		hub_peer_of_fd(lws_get_socket_fd(wsi), peer, sizeof(peer));
		log_info("plain HTTP request on the agent port refused: "
		         "peer=%s",
		    peer);
		return -1;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (!is_signet(wsi) || user == NULL) {
			hub_peer_of_fd(lws_get_socket_fd(wsi), peer,
			    sizeof(peer));
			log_info(
			    "WebSocket upgrade without subprotocol " HUB_SUBPROTOCOL
			    " refused: peer=%s",
			    peer);
			return -1;
		}
		return hub_conn_identify(hub, wsi, user);
	case LWS_CALLBACK_ESTABLISHED:
		if (c == NULL || c->cert == NULL)
			return -1;
		c->established_ms = clock_mono_ms();
		c->last_valid_ms = c->established_ms;
		/* Fresh for each connection: a hello cannot be replayed. */
		randombytes_buf(c->challenge, sizeof(c->challenge));
		c->want_challenge = true;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL)
			return -1;
		c->last_valid_ms = clock_mono_ms();
		return hub_conn_receive(hub, c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c != NULL) {
			c->last_valid_ms = clock_mono_ms();
			if (c->hello_done && !c->ended)
				registry_touch(hub->ctx->registry, c->id.name,
				    c->session, hub_now_ms());
		}
		return 0;
	case LWS_CALLBACK_TIMER:
		if (c == NULL)
			return -1;
		return hub_conn_timer(hub, c);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c == NULL)
			return 0;
		return conn_writeable(hub, c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c != NULL) {
			const uint8_t *p = in;

			c->peer_closed = true;
			if (p != NULL && len >= 2)
				c->peer_code = (p[0] << 8) | p[1];
		}
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c != NULL)
			hub_conn_closed(hub, c);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c != NULL)
			hub_conn_destroy(hub, c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (is_signet(wsi))
			hub_wakeup(hub);
		return 0;
	default: return 0;
	}
}

/* libwebsockets' own log lines, escaped, into ours. */
static void
lws_log_line(int level, const char *line)
{
	char esc[512];
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	(void)text_escape(line, n, esc, sizeof(esc));
	log_emit(level == LLL_ERR ? LOG_LVL_WARN : LOG_LVL_DEBUG, "lws", "%s",
	    esc);
}

/* public API */

int
hub_start(struct server_ctx *ctx, const struct hub_config *cfg,
    struct hub **out, struct err_msg *msg)
{
	struct lws_context_creation_info info;
	struct hub *hub = NULL;
	struct lws_vhost *vh;
	struct in_addr a4;
	struct in6_addr a6;
	const char *host, *iface = NULL;
	bool v4 = true;
	int r = SIGNET_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (ctx == NULL || cfg == NULL || out == NULL ||
	    cfg->cert_path == NULL || cfg->key_path == NULL ||
	    cfg->ca_path == NULL || ctx->registry == NULL ||
	    ctx->audit == NULL || ctx->metrics == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "hub: missing configuration");
	if (cfg->listen_port < 0 || cfg->listen_port > 65535 ||
	    cfg->hello_timeout_secs < 1 || cfg->hello_timeout_secs > 120)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "hub: port or hello timeout out of range");
	if (cfg->ping_secs < HUB_PING_SECS_MIN ||
	    cfg->ping_secs > HUB_PING_SECS_MAX ||
	    cfg->hangup_secs < HUB_HANGUP_SECS_MIN ||
	    cfg->hangup_secs > HUB_HANGUP_SECS_MAX ||
	    cfg->hangup_secs <= cfg->ping_secs)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "hub: ping "
		    "interval %d s or timeout %d s out of range (the timeout "
		    "must be longer than the interval)",
		    cfg->ping_secs, cfg->hangup_secs);
	host = cfg->listen_host != NULL ? cfg->listen_host : "";
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
		iface = NULL;
	} else if (strcmp(host, "::") == 0) {
		iface = NULL;
		v4 = false;
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		iface = host;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		iface = host;
		v4 = false;
	} else {
		char esc[96];
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "agent_listen host "
		    "\"%s\" is not an IP address (or localhost, 0.0.0.0, ::)",
		    text_escape_str(host, esc, sizeof(esc)));
	}

	hub = calloc(1, sizeof(*hub));
	if (hub == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	hub->ctx = ctx;
	hub->actions = cfg->actions;
	if (pthread_mutex_init(&hub->send_mu, NULL) != 0) {
		free(hub);
		return err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a mutex");
	}
	hub->send_mu_ready = true;
	hub->hello_timeout_secs = cfg->hello_timeout_secs;
	hub->ping_secs = cfg->ping_secs;
	hub->hangup_secs = cfg->hangup_secs;
	hub->drain_ms = cfg->drain_ms;
	hub->allow_tls12 = cfg->allow_tls12;
	audit_limit_init(&hub->reject_lim, "auth.rejected", &cfg->audit_limit);
	audit_limit_init(&hub->reload_lim, "server.reloaded",
	    &cfg->audit_limit);
	audit_limit_init(&hub->cp_refused_lim, "audit.checkpoint_refused",
	    &cfg->audit_limit);
	atomic_init(&hub->want_reload, false);
	atomic_init(&hub->want_stop, false);
	hub->listen_host = iface != NULL ? strdup(iface) : NULL;
	hub->cert_path = strdup(cfg->cert_path);
	hub->key_path = strdup(cfg->key_path);
	hub->ca_path = strdup(cfg->ca_path);
	if ((iface != NULL && hub->listen_host == NULL) ||
	    hub->cert_path == NULL || hub->key_path == NULL ||
	    hub->ca_path == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	hub->protocols[0].name = HUB_REFUSE_PROTOCOL;
	hub->protocols[0].callback = hub_callback;
	hub->protocols[1].name = HUB_SUBPROTOCOL;
	hub->protocols[1].callback = hub_callback;
	hub->protocols[1].per_session_data_size = sizeof(struct hub_conn);
	hub->protocols[1].rx_buffer_size = HUB_RX_CHUNK;
	/* No per-connection validity timers: sweep() does liveness. */
	memset(&hub->retry, 0, sizeof(hub->retry));

	if (hub_tls_init() != 0) {
		r = err_set(msg, SIGNET_ERR_ALLOC,
		    "cannot register TLS "
		    "connection data");
		goto out;
	}
	hub->loop = ev_loop_new(EVBACKEND_EPOLL);
	if (hub->loop == NULL) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "cannot make an epoll event "
		    "loop for the agent listener");
		goto out;
	}
	hub->foreign_loops[0] = hub->loop;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
	memset(&info, 0, sizeof(info));
	info.foreign_loops = hub->foreign_loops;
	info.options = LWS_SERVER_OPTION_LIBEV |
	    LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
	    LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
	    LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	if (v4)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = cfg->listen_port;
	info.iface = hub->listen_host;
	info.protocols = hub->protocols;
	info.vhost_name = HUB_VHOST_NAME;
	info.ssl_cert_filepath = hub->cert_path;
	info.ssl_private_key_filepath = hub->key_path;
	info.ssl_ca_filepath = hub->ca_path;
	info.ssl_info_event_mask = SSL_CB_ALERT;
	info.alpn = "http/1.1";
	info.retry_and_idle_policy = &hub->retry;
	info.timeout_secs = HUB_TLS_TIMEOUT_SECS;
	info.user = hub;
	hub->lws = lws_create_context(&info);
	if (hub->lws == NULL) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "cannot listen for agents on "
		    "%s port %d with certificate %s, key %s and CA %s (port in "
		    "use, address not local, unusable certificate/key, or the "
		    "libev plugin of libwebsockets (Debian package "
		    "libwebsockets-evlib-ev) missing: see the lines above)",
		    iface != NULL ? iface : "*", cfg->listen_port,
		    cfg->cert_path, cfg->key_path, cfg->ca_path);
		goto out;
	}
	vh = lws_get_vhost_by_name(hub->lws, HUB_VHOST_NAME);
	hub->port = vh != NULL ? lws_get_vhost_listen_port(vh) : -1;
	if (hub->port <= 0) {
		r = err_set(msg, SIGNET_ERR_IO, "agent listener has no port");
		goto out;
	}
	lws_sul_schedule(hub->lws, 0, &hub->sul_sweep, sweep, LWS_USEC_PER_SEC);
	hub->cluster = cfg->cluster;
	if (hub->cluster != NULL)
		cluster_set_notify(hub->cluster, hub_cluster_notify, hub);
	log_info("listening for agents on %s%s%s:%d (TLS %s+, client "
	         "certificates required, hello within %d s, ping after %d s, "
	         "drop after %d s of silence)",
	    v4 ? "" : "[", iface != NULL ? iface : (v4 ? "0.0.0.0" : "::"),
	    v4 ? "" : "]", hub->port, hub->allow_tls12 ? "1.2" : "1.3",
	    hub->hello_timeout_secs, hub->ping_secs, hub->hangup_secs);
	*out = hub;
	hub = NULL;
	r = 0;
out:
	hub_free(hub);
	return r;
}

int
hub_port(const struct hub *hub)
{
	return hub != NULL ? hub->port : -1;
}

int
hub_run(struct hub *hub)
{
	int r = 0;

	if (hub == NULL || hub->lws == NULL)
		return SIGNET_ERR_INVALID_ARG;
	for (;;) {
		if (atomic_load(&hub->want_stop) && !hub->stopping &&
		    hub_drain_done(hub))
			begin_shutdown(hub);
		if (hub->stopping && (hub->conns == NULL || hub->grace_over))
			break;
		/*
		 * One turn: lws's watchers (sockets, its timers, the cancel
		 * pipe that hub_request_stop() writes) wake it, so the checks
		 * above run after every batch of events.
		 */
		if (!ev_run(hub->loop, EVRUN_ONCE)) {
			log_error("the agent listener's event loop has nothing "
			          "left to watch");
			r = SIGNET_ERR_IO;
			break;
		}
		/* Before the loop waits again: nothing answered is held. */
		hub_settle_run(hub);
	}
	return r;
}

void
hub_request_reload(struct hub *hub)
{
	if (hub == NULL)
		return;
	atomic_store(&hub->want_reload, true);
	if (hub->lws != NULL)
		lws_cancel_service(hub->lws);
}

void
hub_request_stop(struct hub *hub)
{
	if (hub == NULL)
		return;
	atomic_store(&hub->want_stop, true);
	if (hub->lws != NULL)
		lws_cancel_service(hub->lws);
}

int
hub_send_action(struct hub *hub, const char *host_id, const char *action_id,
    const char *frame, size_t len)
{
	struct hub_out *o = NULL;
	int r;

	if (hub == NULL || host_id == NULL || action_id == NULL ||
	    frame == NULL || len == 0 || len > HUB_MESSAGE_MAX ||
	    strlen(host_id) > IDENTITY_NAME_MAX ||
	    strlen(action_id) != ACTIONS_ID_LEN)
		return SIGNET_ERR_INVALID_ARG;
	o = calloc(1, sizeof(*o));
	if (o != NULL)
		o->buf = malloc(LWS_PRE + len);
	if (o == NULL || o->buf == NULL) {
		hub_out_free(o);
		return SIGNET_ERR_ALLOC;
	}
	memcpy(o->host_id, host_id, strlen(host_id) + 1);
	memcpy(o->action_id, action_id, ACTIONS_ID_LEN + 1);
	memcpy(o->buf + LWS_PRE, frame, len);
	o->len = len;
	(void)pthread_mutex_lock(&hub->send_mu);
	if (atomic_load(&hub->want_stop) || hub->lws == NULL ||
	    hub->nsend >= HUB_SEND_QUEUE_MAX) {
		r = SIGNET_ERR_UNAVAILABLE;
	} else {
		if (hub->send_tail != NULL)
			hub->send_tail->next = o;
		else
			hub->send_head = o;
		hub->send_tail = o;
		hub->nsend++;
		o = NULL;
		r = 0;
	}
	(void)pthread_mutex_unlock(&hub->send_mu);
	hub_out_free(o);
	if (r == 0)
		lws_cancel_service(hub->lws);
	return r;
}

void
hub_free(struct hub *hub)
{
	struct hub_out *o;

	if (hub == NULL)
		return;
	/* Whatever is still open is closed now: sessions end as shutdown. */
	hub->stopping = true;
	/* No more cluster events: the callback touches hub->lws. */
	if (hub->cluster != NULL)
		cluster_set_notify(hub->cluster, NULL, NULL);
	if (hub->lws != NULL) {
		lws_sul_cancel(&hub->sul_grace);
		lws_sul_cancel(&hub->sul_sweep);
		lws_context_destroy(hub->lws);
		hub->lws = NULL;
	}
	/* Results recorded in the last turn, with no connection left. */
	hub_settle_run(hub);
	if (hub->loop != NULL) {
		ev_loop_destroy(hub->loop);
		hub->loop = NULL;
	}
	/* Nothing held back is lost: the open windows' counts, now. */
	audit_limits_close(hub, true);
	if (hub->send_mu_ready) {
		(void)pthread_mutex_lock(&hub->send_mu);
		o = hub->send_head;
		hub->send_head = hub->send_tail = NULL;
		hub->nsend = 0;
		(void)pthread_mutex_unlock(&hub->send_mu);
		while (o != NULL) {
			struct hub_out *next = o->next;

			out_undeliver(hub, o, "the server is shutting down");
			o = next;
		}
		hub_cluster_flush(hub);
		(void)pthread_mutex_destroy(&hub->send_mu);
	}
	free(hub->listen_host);
	free(hub->cert_path);
	free(hub->key_path);
	free(hub->ca_path);
	free(hub);
}
