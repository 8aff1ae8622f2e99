/* SPDX-License-Identifier: ISC */
/* The agent's WSS channel to the server, on libwebsockets. */
#include "channel.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>
#include <sodium.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "config.h"
#include "fileio.h"
#include "identity.h"
#include "log.h"
#include "text.h"

#define CHANNEL_KEY_FILE_MAX 16384
#define CHANNEL_CA_FILE_MAX 65536
#define CHANNEL_RX_CHUNK 16384

struct channel_frame {
	atomic_uint refs;
	size_t len;
	char *data;
};

enum channel_state {
	CH_IDLE,       /* waiting to dial */
	CH_CONNECTING, /* dial in progress */
	CH_OPEN,       /* WebSocket open */
	CH_STOPPED,    /* shut down: no more dials */
};

/* One server URL, parsed. */
struct channel_target {
	char url[CHANNEL_URL_MAX + 1];
	char host[256];
	char path[CHANNEL_URL_MAX + 1];
	int port;
	bool host_is_ip;
};

struct channel {
	struct channel_target tg[CHANNEL_URLS_MAX];
	size_t ntg;
	unsigned min_ms, max_ms; /* the redial ceiling's first step, cap */
	struct channel_ops ops;
	void *arg;
	char *ca_pem; /* the CA as read and checked; lws may keep a pointer */

	struct lws_context *ctx;
	struct lws_protocols protocols[2];
	lws_retry_bo_t idle_policy;
	uint32_t idle_table[1];

	/* Service thread only. */
	enum channel_state state;
	struct lws *wsi;
	lws_sorted_usec_list_t sul_dial;
	lws_sorted_usec_list_t sul_tick;
	lws_sorted_usec_list_t sul_leave; /* a drain's moment */
	size_t cur;                       /* the URL dialled or connected to */
	uint64_t conn_gen;                /* WebSockets opened so far */
	uint64_t leave_gen; /* the connection a drain was for; 0 none */
	bool leaving;       /* closing it now for a drain */
	bool in_dial;       /* inside lws_client_connect_via_info */
	unsigned fails;     /* dials since the last good one */
	bool healthy;       /* the server proved it works on this connection */
	int64_t opened_ms;
	struct channel_frame *tx; /* being sent */
	size_t tx_off;
	bool tx_is_snapshot;
	unsigned char *txbuf; /* LWS_PRE + CHANNEL_TX_FRAGMENT */
	char *rx;             /* CHANNEL_RX_MAX */
	size_t rx_len;
	size_t rx_total;     /* bytes of the message, kept or not */
	bool rx_active;      /* inside a message */
	const char *rx_drop; /* why the message is dropped */
	bool closing;

	/* Shared with other threads, under mu. */
	pthread_mutex_t mu;
	bool open;
	struct channel_frame *queue[CHANNEL_QUEUE_MAX];
	size_t qhead, qlen;
	struct channel_frame *snapshot;
	struct channel_stats stats;
};

/* ---- frames ---- */

int
channel_frame_take(char *data, size_t len, struct channel_frame **out)
{
	struct channel_frame *f;

	*out = NULL;
	if (len == 0 || len > CHANNEL_TX_MAX) {
		free(data);
		return SIGNET_ERR_TOO_LARGE;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		free(data);
		return SIGNET_ERR_ALLOC;
	}
	atomic_init(&f->refs, 1);
	f->len = len;
	f->data = data;
	*out = f;
	return 0;
}

struct channel_frame *
channel_frame_ref(struct channel_frame *f)
{
	if (f != NULL)
		atomic_fetch_add(&f->refs, 1);
	return f;
}

void
channel_frame_unref(struct channel_frame *f)
{
	if (f == NULL)
		return;
	if (atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	free(f->data);
	free(f);
}

const char *
channel_frame_data(const struct channel_frame *f)
{
	return f->data;
}

size_t
channel_frame_len(const struct channel_frame *f)
{
	return f->len;
}

/* ---- URL and names ---- */

static bool
path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' ||
	    c == '~' || c == '%' || c == '-';
}

int
channel_parse_url(const char *url, char *host, size_t hostlen, int *port,
    char *path, size_t pathlen, struct err_msg *msg)
{
	char hp[300], esc[128];
	const char *rest, *slash;
	size_t n, i;

	host[0] = '\0';
	path[0] = '\0';
	*port = 0;
	if (strncmp(url, "wss://", 6) != 0)
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "server URL \"%s\" must start with wss://",
		    text_escape_str(url, esc, sizeof(esc)));
	rest = url + 6;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n >= sizeof(hp))
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "server URL \"%s\" has no HOST:PORT",
		    text_escape_str(url, esc, sizeof(esc)));
	memcpy(hp, rest, n);
	hp[n] = '\0';
	if (config_split_listen(hp, host, hostlen, port) != 0 ||
	    host[0] == '\0')
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "server URL \"%s\" must be wss://HOST:PORT[/PATH]",
		    text_escape_str(url, esc, sizeof(esc)));
	if (slash == NULL)
		slash = "/";
	n = strlen(slash);
	for (i = 0; i < n && path_char_ok(slash[i]); i++)
		;
	if (i != n || n >= pathlen)
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "server URL \"%s\": the path may hold only letters, "
		    "digits and /._~%%-",
		    text_escape_str(url, esc, sizeof(esc)));
	memcpy(path, slash, n + 1);
	return 0;
}

static bool
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/* Whether leaf names the host we dialled, in its subjectAltName. */
static bool
server_name_ok(const struct channel *ch, X509 *leaf)
{
	const struct channel_target *t = &ch->tg[ch->cur];

	if (leaf == NULL)
		return false;
	if (t->host_is_ip)
		return X509_check_ip_asc(leaf, t->host, 0) == 1;
	return X509_check_host(leaf, t->host, strlen(t->host),
	           X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
	               X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
	           NULL) == 1;
}

/* ---- lws log lines into ours ---- */

static void
lws_log_line(int level, const char *line)
{
	char esc[600];
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	(void)text_escape(line, n, esc, sizeof(esc));
	if (level & LLL_ERR)
		log_warn("lws: %s", esc);
	else if (level & LLL_WARN)
		log_info("lws: %s", esc);
	else
		log_debug("lws: %s", esc);
}

/* ---- dialling ---- */

static void dial(lws_sorted_usec_list_t *sul);

static unsigned
random_below(struct channel *ch, unsigned bound)
{
	uint32_t v = 0;

	if (bound == 0)
		return 0;
	if (lws_get_random(ch->ctx, &v, sizeof(v)) != sizeof(v))
		v = (uint32_t)clock_mono_ms();
	return v % bound;
}

/*
 * The ceiling of the delay before the next dial: min_ms for the first
 * round of URLs since the last good connection, doubling with each
 * further full round of failures, up to max_ms. ch->fails is at least 1.
 */
static unsigned
backoff_ceiling_ms(const struct channel *ch)
{
	unsigned rounds = (ch->fails - 1) / (unsigned)ch->ntg, i;
	uint64_t cap = ch->min_ms;

	for (i = 0; i < rounds && cap < ch->max_ms; i++)
		cap *= 2;
	if (cap > ch->max_ms)
		cap = ch->max_ms;
	return (unsigned)cap;
}

static void
drop_pending(struct channel *ch)
{
	size_t i;

	if (ch->tx != NULL) {
		channel_frame_unref(ch->tx);
		ch->tx = NULL;
	}
	ch->tx_off = 0;
	ch->rx_len = 0;
	ch->rx_total = 0;
	ch->rx_active = false;
	ch->rx_drop = NULL;
	if (pthread_mutex_lock(&ch->mu) != 0)
		return;
	ch->open = false;
	for (i = 0; i < ch->qlen; i++) {
		size_t k = (ch->qhead + i) % CHANNEL_QUEUE_MAX;
		channel_frame_unref(ch->queue[k]);
		ch->queue[k] = NULL;
	}
	ch->qhead = 0;
	ch->qlen = 0;
	channel_frame_unref(ch->snapshot);
	ch->snapshot = NULL;
	(void)pthread_mutex_unlock(&ch->mu);
}

/*
 * The connection attempt or the open connection is gone: note it and
 * schedule the next dial. Safe to call more than once per attempt (lws may
 * report one failure twice): only the first call in a live state counts.
 */
static void
went_down(struct channel *ch, const char *why)
{
	char esc[300];
	bool was_open = ch->state == CH_OPEN, left = ch->leaving;
	const char *from;
	unsigned delay, ceiling;

	if (ch->state != CH_CONNECTING && ch->state != CH_OPEN)
		return;
	ch->wsi = NULL;
	ch->leaving = false;
	ch->leave_gen = 0;
	lws_sul_cancel(&ch->sul_leave);
	drop_pending(ch);
	(void)text_escape_str(why != NULL ? why : "(no reason given)", esc,
	    sizeof(esc));
	if (pthread_mutex_lock(&ch->mu) == 0) {
		if (was_open)
			ch->stats.closes++;
		else
			ch->stats.dial_failures++;
		(void)pthread_mutex_unlock(&ch->mu);
	}
	/* A drain is the server's plan, not its failure. */
	if (was_open &&
	    (ch->healthy || left ||
	        clock_mono_ms() - ch->opened_ms >=
	            CHANNEL_BACKOFF_RESET_SECS * 1000LL))
		ch->fails = 0;
	ch->healthy = false;
	ch->fails++;
	if (ch->closing) {
		ch->state = CH_STOPPED;
		if (was_open && ch->ops.on_closed != NULL)
			ch->ops.on_closed(ch->arg, esc);
		return;
	}
	ch->state = CH_IDLE;
	/*
	 * Full jitter: anywhere in [0, ceiling), the first redial after a
	 * loss included, so that agents cut off at once spread out.
	 */
	ceiling = backoff_ceiling_ms(ch);
	delay = random_below(ch, ceiling);
	from = ch->tg[ch->cur].url;
	if (pthread_mutex_lock(&ch->mu) == 0) {
		ch->cur = (ch->cur + 1) % ch->ntg;
		ch->stats.server = ch->cur;
		(void)pthread_mutex_unlock(&ch->mu);
	}
	if (was_open) {
		log_warn("channel closed: server=%s why=\"%s\" attempt=%u "
		         "redial_ms=%u ceiling_ms=%u next=%s",
		    from, esc, ch->fails, delay, ceiling, ch->tg[ch->cur].url);
		if (ch->ops.on_closed != NULL)
			ch->ops.on_closed(ch->arg, esc);
	} else {
		log_warn("channel dial failed: server=%s why=\"%s\" "
		         "attempt=%u redial_ms=%u ceiling_ms=%u next=%s",
		    from, esc, ch->fails, delay, ceiling, ch->tg[ch->cur].url);
	}
	lws_sul_schedule(ch->ctx, 0, &ch->sul_dial, dial,
	    (lws_usec_t)delay * LWS_US_PER_MS);
}

static void
dial(lws_sorted_usec_list_t *sul)
{
	struct channel *ch = lws_container_of(sul, struct channel, sul_dial);
	const struct channel_target *t = &ch->tg[ch->cur];
	struct lws_client_connect_info i;
	struct lws *wsi;

	if (ch->state != CH_IDLE || ch->closing)
		return;
	memset(&i, 0, sizeof(i));
	i.context = ch->ctx;
	i.address = t->host;
	i.port = t->port;
	i.ssl_connection = LCCSCF_USE_SSL; /* and nothing that loosens it */
	i.path = t->path;
	i.host = t->host;
	i.origin = t->host;
	i.protocol = CHANNEL_SUBPROTOCOL;
	i.alpn = "http/1.1";
	i.retry_and_idle_policy = &ch->idle_policy;
	ch->state = CH_CONNECTING;
	ch->wsi = NULL;
	log_debug("channel dialling: server=%s", t->url);
	ch->in_dial = true;
	wsi = lws_client_connect_via_info(&i);
	ch->in_dial = false;
	if (wsi == NULL) {
		went_down(ch, "cannot start the connection");
		return;
	}
	if (ch->state == CH_CONNECTING)
		ch->wsi = wsi;
}

static void
tick(lws_sorted_usec_list_t *sul)
{
	struct channel *ch = lws_container_of(sul, struct channel, sul_tick);

	/* Waking lws_service up is the point. */
	lws_sul_schedule(ch->ctx, 0, &ch->sul_tick, tick,
	    (lws_usec_t)CHANNEL_TICK_MS * LWS_US_PER_MS);
}

/* ---- TLS checks ---- */

/*
 * Called for each certificate of the server's chain, after OpenSSL's own
 * verdict (len = preverify_ok). Returning non-zero refuses the handshake.
 */
static int
verify_server_cert(struct channel *ch, X509_STORE_CTX *xctx, SSL *ssl,
    size_t preverify_ok)
{
	struct identity id;
	struct err_msg m;
	X509 *cert;

	if (!preverify_ok)
		return 1;
	if (X509_STORE_CTX_get_error_depth(xctx) != 0)
		return 0;
	cert = X509_STORE_CTX_get_current_cert(xctx);
	/* Any certificate of the CA will not do: it must be the server's. */
	if (identity_check_role(cert, IDENTITY_ACCEPT_SERVER, &id, &m) != 0) {
		log_warn("channel: %s; refusing it", m.text);
		return 1;
	}
	if (!server_name_ok(ch, cert)) {
		log_warn("channel: server certificate does not name %s; "
		         "refusing it",
		    ch->tg[ch->cur].host);
		return 1;
	}
	if (ssl != NULL && SSL_version(ssl) < TLS1_3_VERSION) {
		log_warn("channel: server negotiated %s, not TLS 1.3; "
		         "refusing it",
		    SSL_get_version(ssl));
		return 1;
	}
	return 0;
}

/*
 * Before the WebSocket opens: the TLS session is TLS 1.3, its chain
 * verified, its certificate names our host, and the server agreed to
 * signet.v1. Returns NULL when all hold, else why not.
 */
static const char *
check_session(struct channel *ch, struct lws *wsi)
{
	char proto[64];
	SSL *ssl = lws_get_ssl(wsi);
	X509 *peer;
	bool name_ok;

	if (ssl == NULL)
		return "no TLS session";
	if (SSL_version(ssl) < TLS1_3_VERSION)
		return "TLS below 1.3";
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return "server certificate not verified";
	peer = SSL_get1_peer_certificate(ssl);
	name_ok = server_name_ok(ch, peer);
	X509_free(peer);
	if (!name_ok)
		return "server certificate does not name the host dialled";
	if (lws_hdr_copy(wsi, proto, (int)sizeof(proto), WSI_TOKEN_PROTOCOL) <=
	        0 ||
	    strcmp(proto, CHANNEL_SUBPROTOCOL) != 0)
		return "server did not accept subprotocol " CHANNEL_SUBPROTOCOL;
	return NULL;
}

/* ---- traffic ---- */

static void
on_receive(struct channel *ch, struct lws *wsi, const void *in, size_t len)
{
	if (!ch->rx_active) {
		ch->rx_active = true;
		ch->rx_len = 0;
		ch->rx_total = 0;
		ch->rx_drop = NULL;
	}
	ch->rx_total += len;
	if (lws_frame_is_binary(wsi))
		ch->rx_drop = "binary message";
	if (ch->rx_drop == NULL) {
		if (len > CHANNEL_RX_MAX - ch->rx_len) {
			ch->rx_drop = "message over 384 KiB";
		} else if (len > 0) {
			memcpy(ch->rx + ch->rx_len, in, len);
			ch->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(wsi))
		return;
	ch->rx_active = false;
	if (pthread_mutex_lock(&ch->mu) == 0) {
		if (ch->rx_drop != NULL)
			ch->stats.frames_dropped++;
		else
			ch->stats.frames_received++;
		(void)pthread_mutex_unlock(&ch->mu);
	}
	if (ch->rx_drop != NULL) {
		log_warn("channel: dropped a %s from the server (%zu bytes)",
		    ch->rx_drop, ch->rx_total);
		if (ch->ops.on_dropped != NULL)
			ch->ops.on_dropped(ch->arg, ch->rx_drop, ch->rx_total);
		return;
	}
	if (ch->ops.on_message != NULL)
		ch->ops.on_message(ch->arg, ch->rx, ch->rx_len);
}

/* Whether something waits to be written (takes mu). */
static bool
have_pending(struct channel *ch)
{
	bool r;

	if (ch->tx != NULL)
		return true;
	if (pthread_mutex_lock(&ch->mu) != 0)
		return false;
	r = ch->qlen > 0 || ch->snapshot != NULL;
	(void)pthread_mutex_unlock(&ch->mu);
	return r;
}

/* One lws_write of the next fragment. Returns -1 to close. */
static int
on_writeable(struct channel *ch, struct lws *wsi)
{
	size_t chunk, len;
	int flags, n;

	if (ch->closing) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY,
		    (unsigned char *)"agent stopping", 14);
		return -1;
	}
	if (ch->leaving) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY,
		    (unsigned char *)"agent leaving (drain)", 21);
		return -1;
	}
	if (ch->tx == NULL) {
		if (pthread_mutex_lock(&ch->mu) != 0)
			return -1;
		if (ch->qlen > 0) {
			ch->tx = ch->queue[ch->qhead];
			ch->queue[ch->qhead] = NULL;
			ch->qhead = (ch->qhead + 1) % CHANNEL_QUEUE_MAX;
			ch->qlen--;
			ch->tx_is_snapshot = false;
		} else if (ch->snapshot != NULL) {
			ch->tx = ch->snapshot;
			ch->snapshot = NULL;
			ch->tx_is_snapshot = true;
		}
		(void)pthread_mutex_unlock(&ch->mu);
		ch->tx_off = 0;
		if (ch->tx == NULL)
			return 0;
	}
	len = ch->tx->len;
	chunk = len - ch->tx_off;
	if (chunk > CHANNEL_TX_FRAGMENT)
		chunk = CHANNEL_TX_FRAGMENT;
	/* lws writes the frame header into the LWS_PRE bytes before it. */
	memcpy(ch->txbuf + LWS_PRE, ch->tx->data + ch->tx_off, chunk);
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, ch->tx_off == 0,
	    ch->tx_off + chunk == len);
	n = lws_write(wsi, ch->txbuf + LWS_PRE, chunk,
	    (enum lws_write_protocol)flags);
	if (n < 0 || (size_t)n < chunk) {
		log_warn("channel: write to the server failed; closing");
		return -1;
	}
	ch->tx_off += chunk;
	if (ch->tx_off == len) {
		if (pthread_mutex_lock(&ch->mu) == 0) {
			ch->stats.frames_sent++;
			ch->stats.bytes_sent += len;
			if (ch->tx_is_snapshot)
				ch->stats.snapshots_sent++;
			(void)pthread_mutex_unlock(&ch->mu);
		}
		log_debug("channel: sent %s of %zu bytes",
		    ch->tx_is_snapshot ? "snapshot" : "message", len);
		channel_frame_unref(ch->tx);
		ch->tx = NULL;
		ch->tx_off = 0;
	}
	if (have_pending(ch))
		lws_callback_on_writable(wsi);
	return 0;
}

static int
channel_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct lws_context *cx;
	struct channel *ch;
	const char *why;

	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
		/* user is the client SSL_CTX: TLS 1.3 and nothing older. */
		if (user == NULL ||
		    SSL_CTX_set_min_proto_version((SSL_CTX *)user,
		        TLS1_3_VERSION) != 1) {
			log_error("channel: cannot require TLS 1.3");
			return 1;
		}
		/*
		 * The certificate alone, not the CA the server holds: the
		 * server decodes every certificate sent (docs/protocol.md).
		 */
		(void)SSL_CTX_set_mode((SSL_CTX *)user, SSL_MODE_NO_AUTO_CHAIN);
		log_debug("channel: client TLS context requires TLS 1.3");
		return 0;
	}
	cx = wsi != NULL ? lws_get_context(wsi) : NULL;
	ch = cx != NULL ? lws_context_user(cx) : NULL;
	if (ch == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		return verify_server_cert(ch, (X509_STORE_CTX *)user, (SSL *)in,
		    len);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		/* Ours: the current dial, or one failing inside dial(). */
		if (wsi != ch->wsi && !ch->in_dial)
			return 0;
		went_down(ch,
		    in != NULL ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
		why = check_session(ch, wsi);
		if (why != NULL) {
			log_warn("channel: refusing the server: %s", why);
			return 1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (ch->state != CH_CONNECTING) {
			log_warn("channel: unexpected open; closing it");
			return -1;
		}
		ch->state = CH_OPEN;
		ch->wsi = wsi;
		ch->opened_ms = clock_mono_ms();
		ch->healthy = false;
		ch->conn_gen++;
		/* open stays false until channel_greet: the hello goes first. */
		if (pthread_mutex_lock(&ch->mu) == 0) {
			ch->stats.connects++;
			(void)pthread_mutex_unlock(&ch->mu);
		}
		log_info("channel open: server=%s tls=%s cipher=%s",
		    ch->tg[ch->cur].url, SSL_get_version(lws_get_ssl(wsi)),
		    SSL_get_cipher_name(lws_get_ssl(wsi)));
		if (ch->ops.on_established != NULL)
			ch->ops.on_established(ch->arg);
		if (have_pending(ch) || ch->closing)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (wsi != ch->wsi || ch->state != CH_OPEN)
			return 0;
		on_receive(ch, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (wsi != ch->wsi || ch->state != CH_OPEN)
			return 0;
		return on_writeable(ch, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (wsi == ch->wsi)
			log_info("channel: server closes the connection");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (wsi == ch->wsi)
			went_down(ch, "connection closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* A catch-all: a dial lws dropped without saying so. */
		if (wsi == ch->wsi && ch->wsi != NULL)
			went_down(ch, "connection dropped");
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (ch->state == CH_OPEN && ch->wsi != NULL &&
		    (ch->closing || ch->leaving || have_pending(ch)))
			lws_callback_on_writable(ch->wsi);
		return 0;
	default: break;
	}
	return 0;
}

/* ---- public ---- */

/* The key must be a secret file; lws would read anything it is given. */
static int
check_key_file(const char *path, struct err_msg *msg)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	buf = malloc(CHANNEL_KEY_FILE_MAX + 1);
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = fileio_read_small(path, buf, CHANNEL_KEY_FILE_MAX, &len,
	    FILEIO_SECRET, msg);
	OPENSSL_cleanse(buf, CHANNEL_KEY_FILE_MAX + 1);
	free(buf);
	return r;
}

int
channel_new(const struct channel_config *cfg, const struct channel_ops *ops,
    void *arg, struct channel **out, struct err_msg *msg)
{
	struct lws_context_creation_info info;
	char(*urls)[CHANNEL_URL_MAX + 1] = NULL;
	struct channel *ch = NULL;
	size_t ca_len = 0, n = 0, k;
	bool mu_ok = false;
	int r, level;

	*out = NULL;
	if (cfg == NULL || cfg->url == NULL || cfg->ca_path == NULL ||
	    cfg->cert_path == NULL || cfg->key_path == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "channel: incomplete configuration");
	ch = calloc(1, sizeof(*ch));
	urls = calloc(CHANNEL_URLS_MAX, sizeof(*urls));
	if (ch == NULL || urls == NULL) {
		free(urls);
		free(ch);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	ch->min_ms = cfg->reconnect_min_ms != 0 ? cfg->reconnect_min_ms :
	                                          CHANNEL_RECONNECT_MIN_MS;
	ch->max_ms = cfg->reconnect_max_ms != 0 ? cfg->reconnect_max_ms :
	                                          CHANNEL_RECONNECT_MAX_MS;
	if (ch->min_ms > ch->max_ms ||
	    ch->max_ms > CHANNEL_RECONNECT_LIMIT_MS) {
		r = err_set(msg, SIGNET_ERR_CONFIG,
		    "reconnect_min_ms (%u) must be at most reconnect_max_ms "
		    "(%u), and both at most %d",
		    ch->min_ms, ch->max_ms, CHANNEL_RECONNECT_LIMIT_MS);
		goto fail;
	}
	r = channel_split_urls(cfg->url, urls, CHANNEL_URLS_MAX, &n, msg);
	if (r != 0)
		goto fail;
	for (k = 0; k < n; k++) {
		struct channel_target *t = &ch->tg[k];

		memcpy(t->url, urls[k], sizeof(t->url));
		r = channel_parse_url(t->url, t->host, sizeof(t->host),
		    &t->port, t->path, sizeof(t->path), msg);
		if (r != 0)
			goto fail;
		t->host_is_ip = is_ip_literal(t->host);
	}
	ch->ntg = n;
	ch->stats.nservers = n;
	/*
	 * Agents with the same list start at a random one of its servers,
	 * so that a fleet spreads over the replicas instead of all landing
	 * on the first (and all moving to the second when it goes).
	 */
	ch->cur = n > 1 ? (size_t)randombytes_uniform((uint32_t)n) : 0;
	ch->stats.server = ch->cur;
	free(urls);
	urls = NULL;
	r = check_key_file(cfg->key_path, msg);
	if (r != 0)
		goto fail;
	/*
	 * The CA decides which server is believed: read once, checked on the
	 * descriptor read, and those very bytes handed to lws.
	 */
	r = fileio_read_trusted(cfg->ca_path, CHANNEL_CA_FILE_MAX, "the CA",
	    &ch->ca_pem, &ca_len, msg);
	if (r != 0)
		goto fail;
	if (ops != NULL)
		ch->ops = *ops;
	ch->arg = arg;
	ch->state = CH_IDLE;
	ch->txbuf = malloc(LWS_PRE + CHANNEL_TX_FRAGMENT);
	ch->rx = malloc(CHANNEL_RX_MAX);
	if (ch->txbuf == NULL || ch->rx == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto fail;
	}
	if (pthread_mutex_init(&ch->mu, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_mutex_init");
		goto fail;
	}
	mu_ok = true;

	/* lws's ping/hangup timers; redials are ours (dial, backoff_ms). */
	ch->idle_table[0] = CHANNEL_BACKOFF_FIRST_MS;
	ch->idle_policy.retry_ms_table = ch->idle_table;
	ch->idle_policy.retry_ms_table_count = 1;
	ch->idle_policy.conceal_count = 1;
	ch->idle_policy.secs_since_valid_ping = CHANNEL_PING_SECS;
	ch->idle_policy.secs_since_valid_hangup = CHANNEL_HANGUP_SECS;
	ch->idle_policy.jitter_percent = 0;

	ch->protocols[0].name = CHANNEL_SUBPROTOCOL;
	ch->protocols[0].callback = channel_callback;
	ch->protocols[0].rx_buffer_size = CHANNEL_RX_CHUNK;

	level = LLL_ERR | LLL_WARN;
	lws_set_log_level(level, lws_log_line);

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ch->protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.client_ssl_ca_mem = ch->ca_pem;
	info.client_ssl_ca_mem_len = (unsigned int)ca_len;
	info.client_ssl_cert_filepath = cfg->cert_path;
	info.client_ssl_private_key_filepath = cfg->key_path;
	info.ssl_client_options_set = (long)(SSL_OP_NO_TLSv1 |
	    SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2);
	info.connect_timeout_secs = CHANNEL_CONNECT_TIMEOUT_SECS;
	info.timeout_secs = CHANNEL_CONNECT_TIMEOUT_SECS;
	info.fd_limit_per_thread = 16;
	info.user = ch;
	ch->ctx = lws_create_context(&info);
	if (ch->ctx == NULL) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "cannot set up TLS with cert %s, key %s and CA %s (see "
		    "the lws lines above)",
		    cfg->cert_path, cfg->key_path, cfg->ca_path);
		goto fail;
	}
	lws_sul_schedule(ch->ctx, 0, &ch->sul_dial, dial, 1);
	lws_sul_schedule(ch->ctx, 0, &ch->sul_tick, tick,
	    (lws_usec_t)CHANNEL_TICK_MS * LWS_US_PER_MS);
	*out = ch;
	return 0;
fail:
	free(urls);
	if (mu_ok)
		(void)pthread_mutex_destroy(&ch->mu);
	free(ch->txbuf);
	free(ch->rx);
	free(ch->ca_pem);
	free(ch);
	return r;
}

int
channel_service(struct channel *ch)
{
	if (lws_service(ch->ctx, 0) < 0)
		return SIGNET_ERR_INTERNAL;
	return 0;
}

int
channel_send(struct channel *ch, struct channel_frame *f)
{
	size_t k;
	int r;

	if (f == NULL)
		return SIGNET_ERR_INVALID_ARG;
	if (pthread_mutex_lock(&ch->mu) != 0)
		return SIGNET_ERR_INTERNAL;
	if (!ch->open || ch->qlen == CHANNEL_QUEUE_MAX) {
		r = SIGNET_ERR_UNAVAILABLE;
	} else {
		k = (ch->qhead + ch->qlen) % CHANNEL_QUEUE_MAX;
		ch->queue[k] = channel_frame_ref(f);
		ch->qlen++;
		r = 0;
	}
	(void)pthread_mutex_unlock(&ch->mu);
	if (r == 0)
		lws_cancel_service(ch->ctx);
	return r;
}

int
channel_greet(struct channel *ch, struct channel_frame *f)
{
	int r = SIGNET_ERR_UNAVAILABLE;

	if (f == NULL)
		return SIGNET_ERR_INVALID_ARG;
	if (ch->state != CH_OPEN || ch->wsi == NULL ||
	    pthread_mutex_lock(&ch->mu) != 0)
		return SIGNET_ERR_UNAVAILABLE;
	if (!ch->open && ch->qlen == 0) {
		ch->queue[ch->qhead] = channel_frame_ref(f);
		ch->qlen = 1;
		ch->open = true;
		r = 0;
	}
	(void)pthread_mutex_unlock(&ch->mu);
	if (r == 0)
		lws_callback_on_writable(ch->wsi);
	return r;
}

void
channel_wake(struct channel *ch)
{
	if (ch != NULL && ch->ctx != NULL)
		lws_cancel_service(ch->ctx);
}

bool
channel_set_snapshot(struct channel *ch, struct channel_frame *f)
{
	struct channel_frame *old = NULL;
	bool taken = false;

	if (f == NULL || pthread_mutex_lock(&ch->mu) != 0)
		return false;
	if (ch->open) {
		old = ch->snapshot;
		ch->snapshot = channel_frame_ref(f);
		if (old != NULL)
			ch->stats.snapshots_replaced++;
		taken = true;
	}
	(void)pthread_mutex_unlock(&ch->mu);
	channel_frame_unref(old);
	if (taken)
		lws_cancel_service(ch->ctx);
	return taken;
}

bool
channel_connected(struct channel *ch)
{
	bool r = false;

	if (pthread_mutex_lock(&ch->mu) != 0)
		return false;
	r = ch->open;
	(void)pthread_mutex_unlock(&ch->mu);
	return r;
}

void
channel_server_healthy(struct channel *ch, const char *proof)
{
	if (ch == NULL || ch->state != CH_OPEN || ch->healthy)
		return;
	ch->healthy = true;
	if (ch->fails > 0)
		log_info("channel: the server works (%s); redial backoff reset "
		         "after %u attempt(s)",
		    proof, ch->fails);
	ch->fails = 0;
}

/* The drain's moment: close this connection if it is still the one. */
static void
leave(lws_sorted_usec_list_t *sul)
{
	struct channel *ch = lws_container_of(sul, struct channel, sul_leave);

	if (ch->state != CH_OPEN || ch->wsi == NULL || ch->closing ||
	    ch->leave_gen != ch->conn_gen)
		return;
	log_info("channel: leaving server=%s as it asked (drain)",
	    ch->tg[ch->cur].url);
	ch->leaving = true;
	lws_callback_on_writable(ch->wsi);
}

void
channel_drain(struct channel *ch, unsigned within_ms)
{
	unsigned delay;

	if (ch == NULL || ch->state != CH_OPEN || ch->wsi == NULL ||
	    ch->closing || ch->leave_gen == ch->conn_gen)
		return;
	delay = random_below(ch, within_ms);
	ch->leave_gen = ch->conn_gen;
	if (pthread_mutex_lock(&ch->mu) == 0) {
		ch->stats.drains++;
		(void)pthread_mutex_unlock(&ch->mu);
	}
	log_info("channel: server=%s drains its agents: leaving in %u ms "
	         "(of %u), then next=%s",
	    ch->tg[ch->cur].url, delay, within_ms,
	    ch->tg[(ch->cur + 1) % ch->ntg].url);
	lws_sul_schedule(ch->ctx, 0, &ch->sul_leave, leave,
	    (lws_usec_t)delay * LWS_US_PER_MS);
}

const char *
channel_url(const struct channel *ch, size_t i)
{
	if (ch == NULL || i >= ch->ntg)
		return NULL;
	return ch->tg[i].url;
}

int
channel_split_urls(const char *list, char (*out)[CHANNEL_URL_MAX + 1],
    size_t max, size_t *n, struct err_msg *msg)
{
	char host[256], path[CHANNEL_URL_MAX + 1], esc[128];
	const char *p = list, *end;
	size_t len;
	int port, r;

	*n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (end = p; *end != '\0' && *end != ' ' && *end != '\t';
		     end++)
			;
		len = (size_t)(end - p);
		if (*n == max)
			return err_set(msg, SIGNET_ERR_CONFIG,
			    "more than %zu server URLs", max);
		if (len > CHANNEL_URL_MAX)
			return err_set(msg, SIGNET_ERR_CONFIG,
			    "server URL %zu (\"%s...\") is longer than %d "
			    "bytes",
			    *n + 1, text_escape(p, 40, esc, sizeof(esc)),
			    CHANNEL_URL_MAX);
		memcpy(out[*n], p, len);
		out[*n][len] = '\0';
		r = channel_parse_url(out[*n], host, sizeof(host), &port, path,
		    sizeof(path), msg);
		if (r != 0)
			return r;
		(*n)++;
		p = end;
	}
	if (*n == 0)
		return err_set(msg, SIGNET_ERR_CONFIG, "no server URL given");
	return 0;
}

void
channel_get_stats(struct channel *ch, struct channel_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (pthread_mutex_lock(&ch->mu) != 0)
		return;
	*st = ch->stats;
	(void)pthread_mutex_unlock(&ch->mu);
}

void
channel_shutdown(struct channel *ch, int timeout_ms)
{
	int64_t deadline;

	if (ch == NULL)
		return;
	ch->closing = true;
	lws_sul_cancel(&ch->sul_dial);
	lws_sul_cancel(&ch->sul_leave);
	if (ch->state == CH_OPEN && ch->wsi != NULL) {
		lws_callback_on_writable(ch->wsi);
		deadline = clock_mono_ms() + timeout_ms;
		while (ch->state == CH_OPEN && clock_mono_ms() < deadline) {
			if (lws_service(ch->ctx, 0) < 0)
				break;
		}
	}
	ch->state = CH_STOPPED;
}

void
channel_free(struct channel *ch)
{
	if (ch == NULL)
		return;
	ch->closing = true;
	ch->state = CH_STOPPED;
	lws_sul_cancel(&ch->sul_dial);
	lws_sul_cancel(&ch->sul_tick);
	lws_sul_cancel(&ch->sul_leave);
	/* Destroying closes what is still open; no callback redials now. */
	lws_context_destroy(ch->ctx);
	ch->wsi = NULL;
	drop_pending(ch);
	(void)pthread_mutex_destroy(&ch->mu);
	free(ch->txbuf);
	free(ch->rx);
	free(ch->ca_pem);
	free(ch);
}
