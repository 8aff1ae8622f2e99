/* SPDX-License-Identifier: ISC */
/*
 * The agent hub: libwebsockets server plumbing, certificate checks, the
 * hello handshake, sessions, replacement, SIGHUP re-checks and shutdown.
 * Frames are parsed and built by common/wire. Everything here runs on the lws
 * service thread except hub_request_reload/hub_request_stop.
 */
#include "hub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ev.h>
#include <libwebsockets.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "actions.h"
#include "audit.h"
#include "clock.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "text.h"
#include "wire.h"

#define HUB_VHOST_NAME "signet-agents"
#define HUB_REFUSE_PROTOCOL "signet-refuse-unnamed"
#define HUB_CONN_MAGIC 0x5349474eu           /* "SIGN" */
#define HUB_BUCKETS 4096                      /* host map; power of two */
#define HUB_PEER_MAX 64
#define HUB_SUBJECT_MAX 192
#define HUB_RX_CHUNK 65536                    /* one read, not one message */
#define HUB_KEEP_BUFFER 65536                 /* kept between messages */
#define HUB_TLS_TIMEOUT_SECS 10               /* TLS + upgrade must be done */

/* An action frame, or a result_ack, on its way to an agent. */
struct hub_out {
	struct hub_out *next;
	bool is_ack;                   /* a result_ack: nothing to undeliver */
	char host_id[IDENTITY_NAME_MAX + 1];
	char action_id[ACTIONS_ID_LEN + 1];
	size_t len;
	unsigned char *buf;            /* LWS_PRE bytes, then the frame */
};

/*
 * One agent connection: the lws per-session data of the signet.v1
 * protocol, zeroed by lws. Valid from the upgrade filter until
 * LWS_CALLBACK_WSI_DESTROY, which always comes.
 */
struct hub_conn {
	uint32_t magic;                /* HUB_CONN_MAGIC once set up */
	struct lws *wsi;
	struct hub_conn *prev, *next;  /* hub->conns: every identified one */
	struct hub_conn *hnext;        /* hub->buckets chain */
	bool listed, mapped;
	X509 *cert;                    /* the peer's certificate (a ref) */
	struct identity id;            /* verified at the upgrade */
	char peer[HUB_PEER_MAX];       /* "ADDR:PORT" */

	bool hello_done;               /* session open: registry knows it */
	bool ended;                    /* session closed in registry + audit */
	bool closing;                  /* close decided; input ignored */
	uint16_t close_code;           /* for a close made from the timer */
	char close_text[64];
	bool peer_closed;
	int peer_code;
	uint64_t session;
	int64_t established_ms;        /* the WebSocket opened */
	int64_t last_valid_ms;         /* established, last frame or pong */
	int64_t ping_sent_ms;          /* 0: no ping out */
	bool want_ping;                /* the sweep asked for one */
	bool hello_late;               /* the sweep fired the hello deadline */
	bool silent;                   /* no pong in time: drop, no close */

	char *buf;                     /* the message being assembled */
	size_t len, cap;

	struct hub_out *out_head, *out_tail;   /* frames to write */
	size_t nout;                   /* action frames among them */
	size_t nack;                   /* result_acks among them */
};

struct hub {
	struct server_ctx *ctx;        /* borrowed */
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
	bool allow_tls12;

	atomic_bool want_reload, want_stop;
	bool stopping;                 /* service thread only, as below */
	bool grace_over;
	lws_sorted_usec_list_t sul_grace;
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
	size_t buffered;               /* bytes in all conns' buffers */

	struct actions *actions;       /* borrowed; NULL: no relay */
	pthread_mutex_t send_mu;       /* guards the send queue */
	bool send_mu_ready;
	struct hub_out *send_head, *send_tail;
	size_t nsend;

	struct ratelimit reject_rl;    /* auth.rejected records */
	uint64_t suppressed;
};

/*
 * What verify_peer() concluded for one TLS connection, kept on its SSL
 * until the WebSocket upgrade. The upgrade takes it instead of verifying
 * the same certificate against the same CA and CRL a second time (one
 * chain and one CRL signature check each: a fifth of the server's CPU per
 * connecting agent). Taken only when the store is still the one that
 * judged it, so a SIGHUP in between means a full check again.
 */
struct hub_verified {
	X509 *leaf;                      /* a reference */
	struct identity_store *store;    /* a reference: compared, not used */
	struct identity id;
};

static int hub_ssl_index = -1;
static pthread_once_t hub_ssl_index_once = PTHREAD_ONCE_INIT;

static void
verified_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct hub_verified *v = ptr;

	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	if (v == NULL)
		return;
	X509_free(v->leaf);
	identity_store_free(v->store);
	free(v);
}

static void
ssl_index_init(void)
{
	hub_ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    verified_free);
}

/* Keeps a verdict on the connection's SSL; on any failure keeps none. */
static void
verified_keep(X509_STORE_CTX *xs, X509 *leaf, struct identity_store *store,
    const struct identity *id)
{
	struct hub_verified *v, *old;
	SSL *ssl;

	if (hub_ssl_index < 0)
		return;
	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL)
		return;
	old = SSL_get_ex_data(ssl, hub_ssl_index);
	if (old != NULL) {
		(void)SSL_set_ex_data(ssl, hub_ssl_index, NULL);
		verified_free(NULL, old, NULL, 0, 0, NULL);
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return;
	if (X509_up_ref(leaf) != 1) {
		free(v);
		return;
	}
	v->leaf = leaf;
	v->store = identity_store_ref(store);
	v->id = *id;
	if (SSL_set_ex_data(ssl, hub_ssl_index, v) != 1)
		verified_free(NULL, v, NULL, 0, 0, NULL);
}

/* The kept verdict for cert under store, if there is one. */
static const struct identity *
verified_take(SSL *ssl, X509 *cert, const struct identity_store *store)
{
	struct hub_verified *v;

	if (hub_ssl_index < 0 || ssl == NULL)
		return NULL;
	v = SSL_get_ex_data(ssl, hub_ssl_index);
	if (v == NULL || v->store != store || X509_cmp(v->leaf, cert) != 0)
		return NULL;
	return &v->id;
}

/* Forgets the kept verdict: the store and certificate references go. */
static void
verified_drop(SSL *ssl)
{
	struct hub_verified *v;

	if (hub_ssl_index < 0 || ssl == NULL)
		return;
	v = SSL_get_ex_data(ssl, hub_ssl_index);
	if (v == NULL)
		return;
	(void)SSL_set_ex_data(ssl, hub_ssl_index, NULL);
	verified_free(NULL, v, NULL, 0, 0, NULL);
}

/* ------------------------------------------------------------------ */
/* small helpers */

static int64_t
now_ms(void)
{
	return clock_wall_ms();
}

/* snprintf that may truncate on purpose (messages, never data). */
static void fmt(char *out, size_t outlen, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt(char *out, size_t outlen, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(out, outlen, f, ap);
	va_end(ap);
}

/* Printable ASCII copy of one of our own messages for the audit log. */
static const char *
clean(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	if (outlen == 0)
		return "";
	for (; in != NULL && *in != '\0' && i + 1 < outlen; in++)
		out[i++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[i] = '\0';
	return out;
}

static void
peer_of_fd(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	(void)snprintf(out, outlen, "unknown");
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)))
			(void)snprintf(out, outlen, "%s:%u", host,
			    (unsigned)ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)))
			(void)snprintf(out, outlen, "[%s]:%u", host,
			    (unsigned)ntohs(s6->sin6_port));
	}
}

/* RFC 2253 subject, escaped for logs and the audit log. */
static void
cert_subject(X509 *cert, char *out, size_t outlen)
{
	BIO *b = NULL;
	char raw[HUB_SUBJECT_MAX];
	int n;

	(void)snprintf(out, outlen, "unknown");
	if (cert == NULL)
		return;
	b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return;
	/* RFC 2253 escaping, in the certificate's order (CN=..,OU=..). */
	if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV) >= 0) {
		n = BIO_read(b, raw, (int)sizeof(raw) - 1);
		if (n >= 0) {
			raw[n] = '\0';
			(void)text_escape(raw, (size_t)n, out, outlen);
		}
	}
	BIO_free(b);
}

/* Uppercase hex serial (as openssl(1) and struct identity print it). */
static void
cert_serial(X509 *cert, char *out, size_t outlen)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;

	(void)snprintf(out, outlen, "unknown");
	if (cert == NULL)
		return;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (bn != NULL)
		hex = BN_bn2hex(bn);
	if (hex != NULL && strlen(hex) <= IDENTITY_SERIAL_MAX)
		(void)snprintf(out, outlen, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
}

static bool
put_str(cJSON *o, const char *k, const char *v)
{
	return v == NULL || cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool
put_num(cJSON *o, const char *k, double v)
{
	return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* Appends event with data (consumed); logs a failure. */
static int
audit_event(struct hub *hub, const char *event, cJSON *data, bool ok)
{
	struct err_msg msg;
	int r;

	if (data == NULL || !ok) {
		cJSON_Delete(data);
		log_error("audit %s not written: out of memory", event);
		return SIGNET_ERR_ALLOC;
	}
	err_clear(&msg);
	r = audit_append(hub->ctx->audit, event, SERVER_ACTOR, data, NULL,
	    &msg);
	cJSON_Delete(data);
	if (r != 0)
		log_error("audit %s not written: %s (%s)", event, msg.text,
		    err_str(r));
	return r;
}

/* ------------------------------------------------------------------ */
/* connection bookkeeping */

static size_t
bucket_of(const char *host)
{
	uint32_t h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (uint8_t)*host) * 16777619u;
	return h & (HUB_BUCKETS - 1);
}

static struct hub_conn *
map_get(struct hub *hub, const char *host)
{
	struct hub_conn *c;

	for (c = hub->buckets[bucket_of(host)]; c != NULL; c = c->hnext)
		if (strcmp(c->id.name, host) == 0)
			return c;
	return NULL;
}

static void
map_remove(struct hub *hub, struct hub_conn *c)
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
static void
map_put(struct hub *hub, struct hub_conn *c)
{
	struct hub_conn *old = map_get(hub, c->id.name);
	size_t b = bucket_of(c->id.name);

	if (old != NULL)
		map_remove(hub, old);
	c->hnext = hub->buckets[b];
	hub->buckets[b] = c;
	c->mapped = true;
}

static void
list_add(struct hub *hub, struct hub_conn *c)
{
	c->prev = NULL;
	c->next = hub->conns;
	if (hub->conns != NULL)
		hub->conns->prev = c;
	hub->conns = c;
	c->listed = true;
	hub->nconns++;
}

static void
list_remove(struct hub *hub, struct hub_conn *c)
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

static void
buffer_release(struct hub *hub, struct hub_conn *c)
{
	free(c->buf);
	hub->buffered -= c->cap;
	c->buf = NULL;
	c->cap = c->len = 0;
}

static void
out_free(struct hub_out *o)
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

	fmt(text, sizeof(text), "%s: the action was not sent to host %s",
	    why, o->host_id);
	r = actions_undeliver(hub->actions, hub->ctx->audit, o->action_id,
	    text);
	if (r == 0 || r != SIGNET_ERR_NOT_FOUND)
		metrics_inc(hub->ctx->metrics, M_ACTIONS_UNDELIVERED);
	else
		log_debug("action %s already ended; frame dropped (%s)",
		    o->action_id, why);
	out_free(o);
}

/*
 * Every action frame still queued on c ends UNDELIVERED; result_acks go
 * (the agent sends those results again on its next connection).
 */
static void
out_flush(struct hub *hub, struct hub_conn *c, const char *why)
{
	struct hub_out *o;

	while ((o = c->out_head) != NULL) {
		c->out_head = o->next;
		if (o->is_ack)
			out_free(o);
		else
			out_undeliver(hub, o, why);
	}
	c->out_tail = NULL;
	c->nout = 0;
	c->nack = 0;
}

static void
out_append(struct hub_conn *c, struct hub_out *o)
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

static int drop_session(struct hub *hub, struct hub_conn *c, uint16_t code,
    const char *text, const char *reason, const char *detail);

/*
 * Queues a result_ack for the result of (action_id, request_sha256) on c:
 * called only once that result is durable in the audit log (or was
 * before). An agent that does not read its acknowledgements is dropped
 * rather than let them pile up.
 */
static int
ack_result(struct hub *hub, struct hub_conn *c, const char *action_id,
    const char *request_sha256)
{
	struct wire_result_ack ack;
	struct hub_out *o = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (c->nack >= HUB_CONN_ACK_MAX)
		return drop_session(hub, c, HUB_CLOSE_BUSY, "server busy",
		    "busy", "the agent does not read its result_acks");
	memset(&ack, 0, sizeof(ack));
	memcpy(ack.action_id, action_id, sizeof(ack.action_id));
	memcpy(ack.request_sha256, request_sha256,
	    sizeof(ack.request_sha256));
	r = wire_build_result_ack(&ack, &text, &len);
	if (r == 0) {
		o = calloc(1, sizeof(*o));
		if (o != NULL)
			o->buf = malloc(LWS_PRE + len);
	}
	if (r != 0 || o == NULL || o->buf == NULL) {
		free(text);
		out_free(o);
		log_error("agent %s: out of memory acknowledging action %s; "
		    "it will send the result again", c->id.name, action_id);
		return 0;
	}
	o->is_ack = true;
	memcpy(o->host_id, c->id.name, strlen(c->id.name) + 1);
	memcpy(o->action_id, action_id, sizeof(o->action_id));
	memcpy(o->buf + LWS_PRE, text, len);
	o->len = len;
	free(text);
	out_append(c, o);
	return 0;
}

/* ------------------------------------------------------------------ */
/* refusals and session ends */

/* Token bucket for auth.rejected records (see HUB_REJECT_BURST). */
static bool
reject_token(struct hub *hub)
{
	return ratelimit_take(&hub->reject_rl, HUB_REJECT_BURST,
	    clock_mono_ms());
}

/*
 * Counts, logs and audits one refused peer. cert may be NULL; claimed is
 * the host id the peer's hello named (raw, escaped here) or NULL.
 */
static void
reject(struct hub *hub, const char *peer, const char *reason,
    enum metric which, const char *detail, X509 *cert, const char *claimed)
{
	char subject[HUB_SUBJECT_MAX], serial[IDENTITY_SERIAL_MAX + 1];
	char det[ERR_MSG_MAX], host[96];
	cJSON *d = NULL;
	bool ok;

	metrics_inc(hub->ctx->metrics, which);
	subject[0] = serial[0] = host[0] = '\0';
	if (cert != NULL) {
		cert_subject(cert, subject, sizeof(subject));
		cert_serial(cert, serial, sizeof(serial));
	}
	if (claimed != NULL)
		(void)text_escape_str(claimed, host, sizeof(host));
	(void)clean(detail, det, sizeof(det));
	log_warn("agent refused: reason=%s peer=%s subject=\"%s\" "
	    "serial=%s: %s", reason, peer, subject, serial, det);
	if (!reject_token(hub)) {
		hub->suppressed++;
		return;
	}
	d = cJSON_CreateObject();
	ok = d != NULL && put_str(d, "reason", reason) &&
	    put_str(d, "detail", det) && put_str(d, "peer", peer) &&
	    put_str(d, "subject", cert != NULL ? subject : NULL) &&
	    put_str(d, "serial", cert != NULL ? serial : NULL) &&
	    put_str(d, "host_id", claimed != NULL ? host : NULL) &&
	    (hub->suppressed == 0 ||
	    put_num(d, "suppressed", (double)hub->suppressed));
	if (audit_event(hub, "auth.rejected", d, ok) == 0)
		hub->suppressed = 0;
}

/*
 * Ends c's session (once): the registry marks the host offline if this is
 * still its session, and agent.disconnected is audited.
 */
static void
end_session(struct hub *hub, struct hub_conn *c, const char *reason,
    const char *detail, int code)
{
	char det[ERR_MSG_MAX];
	cJSON *d;
	bool ok;

	if (!c->hello_done || c->ended)
		return;
	c->ended = true;
	out_flush(hub, c, "the agent connection closed");
	registry_disconnect(hub->ctx->registry, c->id.name, c->session,
	    now_ms());
	map_remove(hub, c);
	(void)clean(detail, det, sizeof(det));
	log_info("agent disconnected: host=%s session=%llu reason=%s peer=%s"
	    "%s%s", c->id.name, (unsigned long long)c->session, reason,
	    c->peer, detail != NULL ? ": " : "", detail != NULL ? det : "");
	d = cJSON_CreateObject();
	ok = d != NULL && put_str(d, "host_id", c->id.name) &&
	    put_num(d, "session", (double)c->session) &&
	    put_str(d, "serial", c->id.serial) &&
	    put_str(d, "reason", reason) && put_str(d, "peer", c->peer) &&
	    put_str(d, "detail", detail != NULL ? det : NULL) &&
	    (code == 0 || put_num(d, "code", code));
	(void)audit_event(hub, "agent.disconnected", d, ok);
}

/*
 * Closes c from outside its own callback (another connection's hello, the
 * reload, shutdown): the wsi's timer fires at once and its callback
 * returns -1 after staging the close frame.
 */
static void
schedule_close(struct hub_conn *c, uint16_t code, const char *text)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_code = code;
	fmt(c->close_text, sizeof(c->close_text), "%s", text);
	lws_set_timer_usecs(c->wsi, 1);
}

/* Closes c from within its own callback: stage the frame, return -1. */
static int
close_now(struct hub_conn *c, uint16_t code, const char *text)
{
	c->closing = true;
	lws_close_reason(c->wsi, (enum lws_close_status)code,
	    (unsigned char *)text, strlen(text));
	return -1;
}

/* Drops an agent after its hello (bad frame, too big...). */
static int
drop_session(struct hub *hub, struct hub_conn *c, uint16_t code,
    const char *text, const char *reason, const char *detail)
{
	end_session(hub, c, reason, detail, 0);
	return close_now(c, code, text);
}

/* ------------------------------------------------------------------ */
/* certificates */

/*
 * Why a certificate was refused, from OpenSSL's verdict (x509_err, or
 * X509_V_OK when OpenSSL accepted it) and, for what OpenSSL does not
 * check (CRL, role), from the identity module.
 */
static const char *
classify(struct identity_store *store, X509 *leaf, int x509_err,
    enum metric *which)
{
	char serial[IDENTITY_SERIAL_MAX + 1];
	struct identity other;
	int r;

	*which = M_AGENT_TLS_FAIL_CERT;
	switch (x509_err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "not_yet_valid";
	case X509_V_ERR_CERT_REVOKED:
		return "revoked";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		return "untrusted";
	default:
		break;
	}
	if (store == NULL || leaf == NULL)
		return "certificate";
	cert_serial(leaf, serial, sizeof(serial));
	if (identity_store_serial_revoked(store, serial, NULL) == 1)
		return "revoked";
	r = identity_verify_x509(store, leaf, NULL,
	    IDENTITY_ACCEPT_SERVER | IDENTITY_ACCEPT_OPERATOR |
	    IDENTITY_ACCEPT_AUDITOR, 0, &other, NULL);
	if (r == 0) {
		*which = M_AGENT_TLS_FAIL_ROLE;
		return "role";
	}
	return "certificate";
}

/*
 * The TLS verify callback (lws: 0 accepts, non-zero refuses). OpenSSL has
 * checked the chain against the CA; the identity module adds dates, CRL,
 * EKU, role and name rules. A refusal here ends the handshake, so a bad
 * peer never reaches the HTTP parser. With resumption off, this runs for
 * every connection.
 */
static int
verify_peer(struct hub *hub, struct lws *wsi, X509_STORE_CTX *xs,
    int preverify_ok)
{
	struct identity_store *store = NULL;
	struct identity id;
	struct err_msg msg;
	enum metric which;
	const char *reason;
	char peer[HUB_PEER_MAX], det[ERR_MSG_MAX];
	X509 *leaf;
	int err, r;

	if (xs == NULL)
		return 1;
	leaf = X509_STORE_CTX_get0_cert(xs);
	err = X509_STORE_CTX_get_error(xs);
	if (preverify_ok && X509_STORE_CTX_get_error_depth(xs) > 0)
		return 0;                      /* the CA: judge at the leaf */
	if (leaf == NULL)
		return 1;
	err_clear(&msg);
	store = server_ctx_identity(hub->ctx);
	if (store == NULL) {
		log_error("no identity store: refusing every peer");
		return 1;
	}
	r = identity_verify_x509(store, leaf, X509_STORE_CTX_get0_untrusted(xs),
	    IDENTITY_ACCEPT_AGENT, 0, &id, &msg);
	if (r == 0 && preverify_ok) {
		verified_keep(xs, leaf, store, &id);
		identity_store_free(store);
		return 0;
	}
	reason = classify(store, leaf, preverify_ok ? X509_V_OK : err,
	    &which);
	if (r == 0)
		fmt(det, sizeof(det), "TLS verification: %s",
		    X509_verify_cert_error_string(err));
	else
		fmt(det, sizeof(det), "%s", msg.text);
	peer_of_fd(lws_get_socket_fd(wsi), peer, sizeof(peer));
	reject(hub, peer, reason, which, det, leaf, NULL);
	identity_store_free(store);
	/* Name the failure, so that the alert is not "internal error". */
	if (preverify_ok)
		X509_STORE_CTX_set_error(xs, strcmp(reason, "revoked") == 0 ?
		    X509_V_ERR_CERT_REVOKED : X509_V_ERR_CERT_REJECTED);
	return 1;
}

/*
 * TLS alerts: the only place a peer that sent no certificate at all shows
 * (OpenSSL ends the handshake with certificate_required before any verify
 * callback). Other alerts are logged for the operator.
 */
static void
ssl_info(struct hub *hub, struct lws *wsi, const struct lws_ssl_info *si)
{
	char peer[HUB_PEER_MAX];
	int desc;

	if (si == NULL || (si->where & SSL_CB_ALERT) == 0 ||
	    (si->where & SSL_CB_WRITE) == 0)
		return;
	desc = si->ret & 0xff;
	peer_of_fd(lws_get_socket_fd(wsi), peer, sizeof(peer));
	if (desc == SSL_AD_CERTIFICATE_REQUIRED) {
		reject(hub, peer, "no_client_cert", M_AGENT_TLS_FAIL_NO_CERT,
		    "the client sent no certificate", NULL, NULL);
		return;
	}
	if (desc != SSL_AD_CLOSE_NOTIFY)
		log_info("TLS handshake with peer=%s ended: sent alert %s",
		    peer, SSL_alert_desc_string_long(si->ret));
}

/* Vhost TLS settings lws has no option for. */
static int
tls_setup(struct hub *hub, SSL_CTX *sctx)
{
	STACK_OF(X509_NAME) *names = NULL;
	X509_STORE *st;

	if (sctx == NULL)
		return -1;
	if (SSL_CTX_set_min_proto_version(sctx, hub->allow_tls12 ?
	    TLS1_2_VERSION : TLS1_3_VERSION) != 1) {
		log_error("cannot set the minimum TLS version");
		return -1;
	}
	/*
	 * No resumption: a resumed session would skip the verify callback,
	 * and a certificate revoked since must not get in that way.
	 */
	(void)SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_options(sctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_num_tickets(sctx, 0) != 1) {
		log_error("cannot turn TLS session tickets off");
		return -1;
	}
	/* Leaf and CA: nothing sits between them (identity.h). */
	SSL_CTX_set_verify_depth(sctx, 1);
	if ((SSL_CTX_get_verify_mode(sctx) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT)
	    == 0) {
		log_error("client certificates are not required: refusing "
		    "to serve");
		return -1;
	}
	st = SSL_CTX_get_cert_store(sctx);
	if (st == NULL ||
	    sk_X509_OBJECT_num(X509_STORE_get0_objects(st)) < 1) {
		log_error("the CA %s was not loaded for client certificates",
		    hub->ca_path);
		return -1;
	}
	/* Name the CA in the CertificateRequest so clients pick its cert. */
	names = SSL_load_client_CA_file(hub->ca_path);
	if (names == NULL) {
		log_error("cannot read the CA name from %s", hub->ca_path);
		return -1;
	}
	SSL_CTX_set_client_CA_list(sctx, names);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the session */

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: who is this, really. */
static int
conn_identify(struct hub *hub, struct lws *wsi, struct hub_conn *c)
{
	struct identity_store *store = NULL;
	struct err_msg msg;
	enum metric which;
	const char *reason;
	const struct identity *kept;
	bool had_verdict;
	SSL *ssl;
	X509 *cert = NULL;
	int r;

	c->magic = HUB_CONN_MAGIC;
	c->wsi = wsi;
	peer_of_fd(lws_get_socket_fd(wsi), c->peer, sizeof(c->peer));
	if (hub->stopping)
		return -1;
	ssl = lws_get_ssl(wsi);
	if (ssl != NULL)
		cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL) {
		reject(hub, c->peer, "no_client_cert",
		    M_AGENT_TLS_FAIL_NO_CERT,
		    "no client certificate at the WebSocket upgrade", NULL,
		    NULL);
		return -1;
	}
	err_clear(&msg);
	store = server_ctx_identity(hub->ctx);
	if (store == NULL) {
		X509_free(cert);
		return -1;
	}
	kept = verified_take(ssl, cert, store);
	had_verdict = kept != NULL;
	if (had_verdict)
		c->id = *kept;
	/*
	 * Used once: holding it (and the old store after a SIGHUP) for the
	 * life of the connection would only cost memory.
	 */
	verified_drop(ssl);
	r = had_verdict ? 0 : identity_verify_x509(store, cert,
	    SSL_get_peer_cert_chain(ssl), IDENTITY_ACCEPT_AGENT, 0, &c->id,
	    &msg);
	if (r != 0) {
		reason = classify(store, cert, X509_V_OK, &which);
		reject(hub, c->peer, reason, which, msg.text, cert, NULL);
		identity_store_free(store);
		X509_free(cert);
		return -1;
	}
	identity_store_free(store);
	c->cert = cert;
	list_add(hub, c);
	log_debug("agent certificate accepted: cn=%s serial=%s peer=%s",
	    c->id.name, c->id.serial, c->peer);
	return 0;
}

/* The hello arrived (c->buf): check it, open the session. */
static int
handle_hello(struct hub *hub, struct hub_conn *c)
{
	struct wire_hello h;
	struct keys_public pub;
	struct err_msg msg;
	struct hub_conn *old;
	char det[ERR_MSG_MAX], nab[32];
	uint64_t replaced = 0, session;
	cJSON *d;
	bool ok;
	int r;

	err_clear(&msg);
	r = wire_parse_hello(c->buf, c->len, &h, &msg);
	if (r != 0) {
		reject(hub, c->peer, "bad_hello", M_AGENT_AUTH_BAD_HELLO,
		    msg.text, c->cert, NULL);
		return close_now(c, HUB_CLOSE_POLICY, "bad hello");
	}
	if (strcmp(h.host_id, c->id.name) != 0) {
		fmt(det, sizeof(det), "hello host_id \"%s\" but "
		    "the certificate's CN is \"%s\"", h.host_id, c->id.name);
		reject(hub, c->peer, "host_mismatch",
		    M_AGENT_AUTH_HOST_MISMATCH, det, c->cert, h.host_id);
		return close_now(c, HUB_CLOSE_POLICY,
		    "host_id does not match the certificate");
	}
	r = server_ctx_agent_key(hub->ctx, h.host_id, &pub, &msg);
	if (r != 0) {
		if (r == SIGNET_ERR_NOT_FOUND)
			fmt(det, sizeof(det), "no result key "
			    "registered for %s (%s/%s.pub)", h.host_id,
			    hub->ctx->agents_dir, h.host_id);
		else
			fmt(det, sizeof(det), "the result key of "
			    "%s cannot be loaded: %s", h.host_id, msg.text);
		reject(hub, c->peer, "no_key", M_AGENT_AUTH_NO_KEY, det,
		    c->cert, h.host_id);
		return close_now(c, HUB_CLOSE_POLICY,
		    "no result key registered");
	}
	if (strcmp(pub.id, h.result_key_id) != 0) {
		fmt(det, sizeof(det), "hello result_key_id %s but "
		    "the key registered for %s is %s", h.result_key_id,
		    h.host_id, pub.id);
		reject(hub, c->peer, "key_mismatch", M_AGENT_AUTH_KEY_MISMATCH,
		    det, c->cert, h.host_id);
		return close_now(c, HUB_CLOSE_POLICY,
		    "result_key_id is not the registered key");
	}

	session = registry_connect(hub->ctx->registry, h.host_id,
	    h.agent_version, h.docker_version, c->id.not_after, now_ms(),
	    &replaced);
	if (session == 0) {
		log_error("agent %s: out of memory registering it", h.host_id);
		return close_now(c, HUB_CLOSE_INTERNAL, "internal error");
	}
	c->session = session;
	c->hello_done = true;
	/* The hello timer may still fire: conn_timer ignores it now. */
	registry_format_time(c->id.not_after * 1000, nab, sizeof(nab));
	d = cJSON_CreateObject();
	ok = d != NULL && put_str(d, "host_id", h.host_id) &&
	    put_num(d, "session", (double)session) &&
	    put_str(d, "serial", c->id.serial) &&
	    put_str(d, "agent_version", h.agent_version) &&
	    put_str(d, "docker_version", h.docker_version) &&
	    put_str(d, "result_key_id", h.result_key_id) &&
	    put_str(d, "cert_not_after", nab) && put_str(d, "peer", c->peer);
	old = map_get(hub, h.host_id);
	if (old == c || (old != NULL && old->session != replaced))
		old = NULL;
	if (audit_event(hub, "agent.connected", d, ok) != 0) {
		/*
		 * Nothing happens unrecorded: refuse the agent. The registry
		 * already dropped the old session, so that one goes too.
		 */
		registry_disconnect(hub->ctx->registry, h.host_id, session,
		    now_ms());
		c->ended = true;
		if (old != NULL) {
			end_session(hub, old, "replaced", "audit unavailable",
			    0);
			schedule_close(old, HUB_CLOSE_INTERNAL,
			    "audit unavailable");
		}
		return close_now(c, HUB_CLOSE_INTERNAL, "audit unavailable");
	}
	log_info("agent connected: host=%s session=%llu serial=%s "
	    "agent_version=%s docker_version=%s peer=%s", h.host_id,
	    (unsigned long long)session, c->id.serial, h.agent_version,
	    h.docker_version, c->peer);

	map_put(hub, c);
	if (replaced != 0) {
		metrics_inc(hub->ctx->metrics, M_AGENT_REPLACED);
		d = cJSON_CreateObject();
		ok = d != NULL && put_str(d, "host_id", h.host_id) &&
		    put_num(d, "old_session", (double)replaced) &&
		    put_num(d, "new_session", (double)session) &&
		    put_str(d, "old_peer", old != NULL ? old->peer : NULL) &&
		    put_str(d, "peer", c->peer);
		(void)audit_event(hub, "agent.replaced", d, ok);
		if (old != NULL) {
			fmt(det, sizeof(det), "replaced by session "
			    "%llu from %s", (unsigned long long)session,
			    c->peer);
			end_session(hub, old, "replaced", det, 0);
			schedule_close(old, HUB_CLOSE_REPLACED,
			    "replaced by a newer connection");
		}
	}
	return 0;
}

/*
 * An action_result frame: verify on the exact bytes, match with the action
 * sent, record, then answer whoever waits (see hub.h).
 */
static int
handle_result(struct hub *hub, struct hub_conn *c, struct wire_frame *f)
{
	struct envelope_result_payload res;
	struct keys_public pub;
	struct action_info info;
	struct err_msg msg;
	enum actions_verdict v;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	char det[ERR_MSG_MAX];
	const char *st;
	cJSON *d = NULL, *env;
	bool ok;
	int r;

	err_clear(&msg);
	memset(&res, 0, sizeof(res));
	r = server_ctx_agent_key(hub->ctx, c->id.name, &pub, &msg);
	if (r != 0) {
		log_error("agent %s: cannot load its result key to check a "
		    "result: %s", c->id.name, msg.text);
		r = drop_session(hub, c, HUB_CLOSE_INTERNAL, "internal error",
		    "internal", "result key unavailable");
		goto out;
	}
	r = envelope_result_verify(&pub, f->payload_b64, f->sig_b64, &res,
	    &raw, &raw_len, &msg);
	if (r != 0 && r != SIGNET_ERR_BAD_SIGNATURE) {
		/* Not even a well-formed envelope: a malformed frame. */
		metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_BAD);
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_BAD);
		log_warn("agent %s sent a malformed action result: %s; "
		    "dropping it", c->id.name, msg.text);
		r = drop_session(hub, c, HUB_CLOSE_POLICY, "bad frame",
		    "bad_frame", msg.text);
		goto out;
	}
	if (r != 0) {
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_BAD);
		fmt(det, sizeof(det), "result refused: %s", msg.text);
		log_warn("agent %s sent a bad action result: %s; dropping it",
		    c->id.name, msg.text);
		r = drop_session(hub, c, HUB_CLOSE_POLICY, "bad result",
		    "bad_result", det);
		goto out;
	}
	v = strcmp(res.host_id, c->id.name) != 0 ? ACTIONS_RESULT_MISMATCH :
	    actions_claim_result(hub->actions, c->id.name, &res, &info);
	switch (v) {
	case ACTIONS_RESULT_UNKNOWN:
		/* Acknowledged so that it is not sent for ever. */
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_UNKNOWN);
		log_warn("agent %s sent a result for unknown action_id=%s "
		    "(forgotten, or sent by an earlier server): ignored",
		    c->id.name, res.action_id);
		r = ack_result(hub, c, res.action_id, res.request_sha256);
		goto out;
	case ACTIONS_RESULT_DUPLICATE:
		/* The first one is durable: this copy is acknowledged too. */
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_DUPLICATE);
		log_info("agent %s sent another result for action_id=%s: "
		    "ignored (accepted once)", c->id.name, res.action_id);
		r = ack_result(hub, c, res.action_id, res.request_sha256);
		goto out;
	case ACTIONS_RESULT_MISMATCH:
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_BAD);
		fmt(det, sizeof(det), "result for action_id=%s does not "
		    "match the action sent to host %s (host_id, "
		    "container_id, action or request_sha256)", res.action_id,
		    c->id.name);
		log_warn("agent %s: %s; dropping it", c->id.name, det);
		r = drop_session(hub, c, HUB_CLOSE_POLICY, "bad result",
		    "bad_result", det);
		goto out;
	case ACTIONS_RESULT_OK:
	default:
		break;
	}
	st = envelope_status_name(res.status);
	d = cJSON_CreateObject();
	ok = d != NULL && put_str(d, "action_id", res.action_id) &&
	    put_str(d, "host_id", res.host_id) &&
	    put_str(d, "status", st != NULL ? st : "FAILURE") &&
	    put_num(d, "docker_status", (double)res.docker_status) &&
	    (res.has_error ? put_str(d, "error", res.error) :
	    cJSON_AddNullToObject(d, "error") != NULL) &&
	    (env = cJSON_AddObjectToObject(d, "result")) != NULL &&
	    put_str(env, "payload", f->payload_b64) &&
	    put_str(env, "sig", f->sig_b64);
	r = audit_event(hub, "action.result", d, ok);
	d = NULL;
	if (r != 0) {
		actions_unclaim(hub->actions, res.action_id);
		r = drop_session(hub, c, HUB_CLOSE_INTERNAL,
		    "audit unavailable", "internal",
		    "action.result could not be recorded");
		goto out;
	}
	if (actions_complete(hub->actions, &res, now_ms()) != 0)
		log_error("action %s vanished while its result was recorded",
		    res.action_id);
	metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS);
	log_info("action result: action_id=%s host=%s status=%s "
	    "docker_status=%lld%s", res.action_id, c->id.name,
	    st != NULL ? st : "?", (long long)res.docker_status,
	    info.status == ACTION_TIMEOUT ? " (after its deadline)" : "");
	actions_wake(hub->actions, res.action_id);
	r = ack_result(hub, c, res.action_id, res.request_sha256);
out:
	free(raw);
	cJSON_Delete(d);
	return r;
}

/* A frame after the hello (c->buf). */
static int
handle_frame(struct hub *hub, struct hub_conn *c)
{
	struct wire_frame f;
	struct err_msg msg;
	size_t count;
	int r;

	err_clear(&msg);
	r = wire_parse_agent_frame(c->buf, c->len, &f, &msg);
	if (r == 0 && f.type == WIRE_ACTION_RESULT &&
	    hub->actions == NULL) {
		wire_frame_free(&f);
		r = err_set(&msg, SIGNET_ERR_FORMAT, "frame type "
		    "\"action_result\" is not accepted here (no action "
		    "relay)");
	}
	if (r != 0) {
		metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_BAD);
		log_warn("agent %s sent a bad frame (%zu bytes): %s",
		    c->id.name, c->len, msg.text);
		return drop_session(hub, c, HUB_CLOSE_POLICY, "bad frame",
		    "bad_frame", msg.text);
	}
	if (f.type == WIRE_ACTION_RESULT) {
		r = handle_result(hub, c, &f);
		wire_frame_free(&f);
		return r;
	}
	count = f.inv->count;
	r = registry_set_inventory(hub->ctx->registry, c->id.name, c->session,
	    f.inv, now_ms());
	f.inv = NULL;
	wire_frame_free(&f);
	if (r != 0) {
		log_warn("agent %s: inventory of a stale session %llu ignored",
		    c->id.name, (unsigned long long)c->session);
		return 0;
	}
	metrics_inc(hub->ctx->metrics, M_AGENT_INVENTORIES);
	log_debug("inventory: host=%s containers=%zu bytes=%zu", c->id.name,
	    count, c->len);
	return 0;
}

/* Makes room for len more bytes of the current message. */
static int
buffer_grow(struct hub *hub, struct hub_conn *c, size_t len, size_t limit)
{
	size_t need, ncap;
	char *nb;

	need = c->len + len;               /* <= limit, checked by caller */
	if (need <= c->cap)
		return 0;
	ncap = c->cap < 4096 ? 4096 : c->cap;
	while (ncap < need)
		ncap = ncap > limit / 2 ? limit : ncap * 2;
	if (ncap - c->cap > HUB_BUFFERED_MAX - hub->buffered)
		return SIGNET_ERR_TOO_LARGE;
	nb = realloc(c->buf, ncap);
	if (nb == NULL)
		return SIGNET_ERR_ALLOC;
	hub->buffered += ncap - c->cap;
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

/* LWS_CALLBACK_RECEIVE: one chunk of a frame of a message. */
static int
conn_receive(struct hub *hub, struct hub_conn *c, const void *in, size_t len)
{
	size_t limit = c->hello_done ? HUB_MESSAGE_MAX : HUB_HELLO_MAX;
	char det[128];
	int r;

	if (c->closing)
		return 0;
	if (lws_is_first_fragment(c->wsi)) {
		c->len = 0;
		if (lws_frame_is_binary(c->wsi)) {
			metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_BAD);
			if (!c->hello_done) {
				reject(hub, c->peer, "bad_hello",
				    M_AGENT_AUTH_BAD_HELLO,
				    "binary frame instead of a hello", c->cert,
				    NULL);
				return close_now(c, HUB_CLOSE_BINARY,
				    "JSON text frames only");
			}
			return drop_session(hub, c, HUB_CLOSE_BINARY,
			    "JSON text frames only", "binary_frame", NULL);
		}
	}
	if (c->len > limit || len > limit - c->len) {
		fmt(det, sizeof(det), "message over %zu bytes",
		    limit);
		metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_OVERSIZE);
		if (!c->hello_done) {
			reject(hub, c->peer, "bad_hello",
			    M_AGENT_AUTH_BAD_HELLO, det, c->cert, NULL);
			r = close_now(c, HUB_CLOSE_TOO_BIG, "message too big");
		} else {
			log_warn("agent %s sent a %s", c->id.name, det);
			r = drop_session(hub, c, HUB_CLOSE_TOO_BIG,
			    "message too big", "too_big", det);
		}
		buffer_release(hub, c);
		return r;
	}
	r = buffer_grow(hub, c, len, limit);
	if (r != 0) {
		log_warn("agent connection peer=%s: %s; closing it", c->peer,
		    r == SIGNET_ERR_ALLOC ? "out of memory" :
		    "server message buffers full");
		if (c->hello_done)
			r = drop_session(hub, c, HUB_CLOSE_BUSY, "server busy",
			    "busy", NULL);
		else
			r = close_now(c, HUB_CLOSE_BUSY, "server busy");
		buffer_release(hub, c);
		return r;
	}
	if (len > 0)
		memcpy(c->buf + c->len, in, len);
	c->len += len;
	if (!lws_is_final_fragment(c->wsi))
		return 0;

	metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_IN);
	if (c->hello_done)
		registry_touch(hub->ctx->registry, c->id.name, c->session,
		    now_ms());
	r = c->hello_done ? handle_frame(hub, c) : handle_hello(hub, c);
	c->len = 0;
	if (c->cap > HUB_KEEP_BUFFER || r != 0)
		buffer_release(hub, c);
	return r;
}

/* LWS_CALLBACK_TIMER: a scheduled close, or the hello deadline. */
static int
conn_timer(struct hub *hub, struct hub_conn *c)
{
	char det[64];

	if (c->silent) {
		/* Not reading: a close frame would never be taken. */
		log_info("agent %s: no pong within %d s; dropping", c->id.name,
		    HUB_HANGUP_SECS);
		c->closing = true;
		return -1;
	}
	if (c->closing)
		return close_now(c, c->close_code, c->close_text);
	if (c->hello_done || !c->hello_late)
		return 0;
	fmt(det, sizeof(det), "no hello within %d s",
	    hub->hello_timeout_secs);
	reject(hub, c->peer, "hello_timeout", M_AGENT_AUTH_HELLO_TIMEOUT, det,
	    c->cert, NULL);
	return close_now(c, HUB_CLOSE_POLICY, "hello timeout");
}

/* LWS_CALLBACK_CLOSED: the session ends here unless it ended before. */
static void
conn_closed(struct hub *hub, struct hub_conn *c)
{
	const char *reason;

	if (!c->hello_done || c->ended)
		return;
	if (hub->stopping)
		reason = "shutdown";
	else if (c->peer_closed)
		reason = "peer_closed";
	else if (clock_mono_ms() - c->last_valid_ms >=
	    (int64_t)(HUB_HANGUP_SECS - 1) * 1000)
		reason = "ping_timeout";
	else
		reason = "connection_lost";
	end_session(hub, c, reason, NULL, c->peer_closed ? c->peer_code : 0);
}

/* LWS_CALLBACK_WSI_DESTROY: always comes, user data still there. */
static void
conn_destroy(struct hub *hub, struct hub_conn *c)
{
	end_session(hub, c, hub->stopping ? "shutdown" : "connection_lost",
	    NULL, 0);
	out_flush(hub, c, "the agent connection closed");
	map_remove(hub, c);
	list_remove(hub, c);
	buffer_release(hub, c);
	X509_free(c->cert);
	c->cert = NULL;
	c->magic = 0;
}

/* ------------------------------------------------------------------ */
/* reload and shutdown, on the service thread */

static void
drop_for_cert(struct hub *hub, struct hub_conn *c, const char *reason,
    const char *detail)
{
	bool revoked = strcmp(reason, "revoked") == 0;

	if (c->hello_done) {
		if (revoked)
			metrics_inc(hub->ctx->metrics,
			    M_AGENT_REVOKED_DROPPED);
		end_session(hub, c, reason, detail, 0);
	} else {
		reject(hub, c->peer, reason, revoked ?
		    M_AGENT_REVOKED_DROPPED : M_AGENT_TLS_FAIL_CERT, detail,
		    c->cert, NULL);
	}
	schedule_close(c, HUB_CLOSE_POLICY, revoked ? "certificate revoked" :
	    "certificate no longer valid");
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
	cJSON *d;
	bool ok, loaded;
	int r;

	err_clear(&msg);
	r = server_ctx_reload_identity(hub->ctx, &msg);
	loaded = r == 0;
	if (!loaded)
		log_error("SIGHUP: CA/CRL not reloaded, keeping the ones in "
		    "use: %s", msg.text);
	store = server_ctx_identity(hub->ctx);
	for (c = hub->conns; store != NULL && c != NULL; c = c->next) {
		if (c->closing || c->ended || c->cert == NULL)
			continue;
		checked++;
		err_clear(&m2);
		if (identity_store_serial_revoked(store, c->id.serial, &m2) ==
		    1) {
			fmt(det, sizeof(det), "certificate serial "
			    "%s revoked (CRL reloaded)", c->id.serial);
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
	    "%lld", loaded ? "reloaded" : "kept", checked, dropped,
	    store != NULL ? (long long)identity_store_crl_next_update(store) :
	    0LL);
	d = cJSON_CreateObject();
	ok = d != NULL && cJSON_AddBoolToObject(d, "ok", loaded) != NULL &&
	    put_str(d, "error", loaded ? NULL : clean(msg.text, err,
	    sizeof(err))) &&
	    (store == NULL || (put_num(d, "crl_last_update",
	    (double)identity_store_crl_last_update(store)) &&
	    put_num(d, "crl_next_update",
	    (double)identity_store_crl_next_update(store)))) &&
	    put_num(d, "checked", (double)checked) &&
	    put_num(d, "dropped", (double)dropped);
	(void)audit_event(hub, "server.reloaded", d, ok);
	identity_store_free(store);
}

/*
 * Once a second over every connection: the hello deadline, a ping after
 * HUB_PING_SECS of silence, and a drop after HUB_HANGUP_SECS. Closing is
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
		    (int64_t)HUB_HANGUP_SECS * 1000) {
			c->silent = true;
			lws_set_timer_usecs(c->wsi, 1);
		} else if (now - c->last_valid_ms >=
		    (int64_t)HUB_PING_SECS * 1000 &&
		    c->ping_sent_ms <= c->last_valid_ms) {
			c->ping_sent_ms = now;
			c->want_ping = true;
			lws_callback_on_writable(c->wsi);
		}
	}
	lws_sul_schedule(hub->lws, 0, &hub->sul_sweep, sweep,
	    LWS_USEC_PER_SEC);
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
		end_session(hub, c, "shutdown", NULL, 0);
		schedule_close(c, HUB_CLOSE_GOING_AWAY,
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
		c = map_get(hub, o->host_id);
		if (c == NULL || !c->hello_done || c->ended || c->closing) {
			out_undeliver(hub, o, "the host is not connected");
			continue;
		}
		if (c->nout >= HUB_CONN_OUT_MAX) {
			out_undeliver(hub, o, "too many action frames waiting "
			    "for this agent");
			continue;
		}
		out_append(c, o);
	}
}

/* LWS_CALLBACK_SERVER_WRITEABLE: a pending close, or the next frame. */
static int
conn_writeable(struct hub *hub, struct hub_conn *c)
{
	struct hub_out *o;
	int n;

	if (c->closing)
		return close_now(c, c->close_code, c->close_text);
	if (c->want_ping) {
		unsigned char ping[LWS_PRE + 1];

		c->want_ping = false;
		if (lws_write(c->wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return drop_session(hub, c, HUB_CLOSE_INTERNAL,
			    "write failed", "connection_lost", "ping failed");
		if (c->out_head != NULL)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	o = c->out_head;
	if (o == NULL)
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
		log_warn("agent %s: writing %s %s failed; closing",
		    c->id.name, o->is_ack ? "the result_ack of" : "action",
		    o->action_id);
		if (o->is_ack)
			out_free(o);
		else
			out_undeliver(hub, o, "writing to the agent failed");
		return drop_session(hub, c, HUB_CLOSE_INTERNAL,
		    "write failed", "connection_lost", "write failed");
	}
	metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_OUT);
	if (o->is_ack) {
		log_debug("result_ack sent: action_id=%s host=%s",
		    o->action_id, c->id.name);
	} else {
		metrics_inc(hub->ctx->metrics, M_ACTIONS_SENT);
		log_info("action sent: action_id=%s host=%s session=%llu "
		    "bytes=%zu", o->action_id, c->id.name,
		    (unsigned long long)c->session, o->len);
	}
	out_free(o);
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
	if (atomic_load(&hub->want_stop))
		begin_shutdown(hub);
	send_drain(hub);
}

/* ------------------------------------------------------------------ */
/* the lws callback */

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
		return tls_setup(hub, user);
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		return verify_peer(hub, wsi, user, (int)len);
	case LWS_CALLBACK_SSL_INFO:
		ssl_info(hub, wsi, in);
		return 0;
	case LWS_CALLBACK_HTTP:
		/* The agent port speaks WebSocket only. */
		peer_of_fd(lws_get_socket_fd(wsi), peer, sizeof(peer));
		log_info("plain HTTP request on the agent port refused: "
		    "peer=%s", peer);
		return -1;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (!is_signet(wsi) || user == NULL) {
			peer_of_fd(lws_get_socket_fd(wsi), peer, sizeof(peer));
			log_info("WebSocket upgrade without subprotocol "
			    HUB_SUBPROTOCOL " refused: peer=%s", peer);
			return -1;
		}
		return conn_identify(hub, wsi, user);
	case LWS_CALLBACK_ESTABLISHED:
		if (c == NULL || c->cert == NULL)
			return -1;
		c->established_ms = clock_mono_ms();
		c->last_valid_ms = c->established_ms;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL)
			return -1;
		c->last_valid_ms = clock_mono_ms();
		return conn_receive(hub, c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c != NULL) {
			c->last_valid_ms = clock_mono_ms();
			if (c->hello_done && !c->ended)
				registry_touch(hub->ctx->registry, c->id.name,
				    c->session, now_ms());
		}
		return 0;
	case LWS_CALLBACK_TIMER:
		if (c == NULL)
			return -1;
		return conn_timer(hub, c);
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
			conn_closed(hub, c);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c != NULL)
			conn_destroy(hub, c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (is_signet(wsi))
			hub_wakeup(hub);
		return 0;
	default:
		return 0;
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

/* ------------------------------------------------------------------ */
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
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "agent_listen host "
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
	hub->allow_tls12 = cfg->allow_tls12;
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

	if (pthread_once(&hub_ssl_index_once, ssl_index_init) != 0 ||
	    hub_ssl_index < 0) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "cannot register TLS "
		    "connection data");
		goto out;
	}
	hub->loop = ev_loop_new(EVBACKEND_EPOLL);
	if (hub->loop == NULL) {
		r = err_set(msg, SIGNET_ERR_IO, "cannot make an epoll event "
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
		r = err_set(msg, SIGNET_ERR_IO, "cannot listen for agents on "
		    "%s port %d with certificate %s, key %s and CA %s (port in "
		    "use, address not local, unusable certificate/key, or the "
		    "libev plugin of libwebsockets (Debian package "
		    "libwebsockets-evlib-ev) missing: see the lines above)", iface != NULL ? iface : "*",
		    cfg->listen_port, cfg->cert_path, cfg->key_path,
		    cfg->ca_path);
		goto out;
	}
	vh = lws_get_vhost_by_name(hub->lws, HUB_VHOST_NAME);
	hub->port = vh != NULL ? lws_get_vhost_listen_port(vh) : -1;
	if (hub->port <= 0) {
		r = err_set(msg, SIGNET_ERR_IO, "agent listener has no port");
		goto out;
	}
	lws_sul_schedule(hub->lws, 0, &hub->sul_sweep, sweep,
	    LWS_USEC_PER_SEC);
	log_info("listening for agents on %s%s%s:%d (TLS %s+, client "
	    "certificates required, hello within %d s)",
	    v4 ? "" : "[", iface != NULL ? iface : (v4 ? "0.0.0.0" : "::"),
	    v4 ? "" : "]", hub->port, hub->allow_tls12 ? "1.2" : "1.3",
	    hub->hello_timeout_secs);
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
		if (atomic_load(&hub->want_stop) && !hub->stopping)
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
		out_free(o);
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
	out_free(o);
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
	if (hub->lws != NULL) {
		lws_sul_cancel(&hub->sul_grace);
		lws_sul_cancel(&hub->sul_sweep);
		lws_context_destroy(hub->lws);
		hub->lws = NULL;
	}
	if (hub->loop != NULL) {
		ev_loop_destroy(hub->loop);
		hub->loop = NULL;
	}
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
		(void)pthread_mutex_destroy(&hub->send_mu);
	}
	free(hub->listen_host);
	free(hub->cert_path);
	free(hub->key_path);
	free(hub->ca_path);
	free(hub);
}
