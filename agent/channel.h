/* SPDX-License-Identifier: ISC */
/*
 * The agent's channel to the server (docs/protocol.md): one libwebsockets
 * client connection, WSS with the agent's certificate, subprotocol signet.v1,
 * kept up for ever: it redials with exponential backoff and full jitter and
 * hangs up on a server that stops answering pings. It moves whole text
 * messages; the daemon decides what they say.
 *
 * Several servers (replicas, docs/cluster.md) may be given: each loss or
 * failed dial moves on to the next URL, in order, round after round; the
 * delay before a dial is drawn at random in [0, ceiling), the ceiling
 * doubling from reconnect_min_ms with each full round of failures up to
 * reconnect_max_ms, so that agents cut off together (a replica stopped, a
 * cluster restarted) do not come back in the same second. A server may
 * ask its agents to leave (a drain frame, channel_drain): the agent then
 * closes at a random moment within the time given and dials the next URL,
 * the one it left coming last.
 *
 * The server must prove its name and role: its certificate must chain to
 * [tls] ca, be of the server role (OU=server and the serverAuth extended
 * key usage, identity_check_role) and name the URL's host in its
 * subjectAltName (DNS, or IP for an address); TLS 1.3 only. lws
 * checks the chain and the name, and the channel checks the name and the
 * version again itself, so neither rests on one library version's code.
 *
 * Threads: channel_new, channel_service, channel_shutdown, channel_free and
 * every callback run on one thread, the service thread. channel_send,
 * channel_set_snapshot, channel_connected and channel_get_stats may be
 * called from any thread: they take the channel's lock and wake the service
 * thread with lws_cancel_service(), the only lws call made off it. Frames
 * are written only from LWS_CALLBACK_CLIENT_WRITEABLE, one lws_write each.

 *
 * Delivery of results is acknowledged by the protocol itself (a result_ack
 * frame, docs/protocol.md), which the daemon handles: the channel only
 * moves messages.
 */
#ifndef SIGNET_AGENT_CHANNEL_H
#define SIGNET_AGENT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CHANNEL_SUBPROTOCOL "signet.v1"
#define CHANNEL_RX_MAX (384 * 1024)     /* server messages over: dropped */
#define CHANNEL_TX_MAX (1024 * 1024)    /* the server's limit */
#define CHANNEL_TX_FRAGMENT (32 * 1024) /* bytes per WRITEABLE */
#define CHANNEL_QUEUE_MAX 64            /* queued messages */
#define CHANNEL_PING_SECS 20            /* silent this long: PING */
#define CHANNEL_HANGUP_SECS 50          /* no PONG by then: hang up */
#define CHANNEL_BACKOFF_FIRST_MS 1000   /* lws's own retry table only */
#define CHANNEL_RECONNECT_MIN_MS 500    /* [agent] reconnect_min_ms default */
#define CHANNEL_RECONNECT_MAX_MS 30000  /* [agent] reconnect_max_ms default */
#define CHANNEL_RECONNECT_LIMIT_MS 3600000 /* either: at most an hour */
#define CHANNEL_URLS_MAX 16                /* server URLs in [agent] server */
#define CHANNEL_BACKOFF_RESET_SECS 30      /* up this long: backoff resets */
#define CHANNEL_CONNECT_TIMEOUT_SECS 10
#define CHANNEL_TICK_MS 200 /* channel_service returns by then */
#define CHANNEL_URL_MAX 512

/*
 * An immutable text message, shared by reference between threads (the
 * count is atomic). The daemon may keep one (say, the latest snapshot)
 * while the channel sends it.
 */
struct channel_frame;

/*
 * Makes a frame that owns data[0..len) (a malloc'd buffer; freed with the
 * frame, or at once when this fails). Returns 0, SIGNET_ERR_TOO_LARGE
 * (len over CHANNEL_TX_MAX, or 0) or SIGNET_ERR_ALLOC.
 */
int channel_frame_take(char *data, size_t len, struct channel_frame **out)
    __attribute__((warn_unused_result));

/* Takes one more reference; returns f. */
struct channel_frame *channel_frame_ref(struct channel_frame *f);

/* Drops one reference; frees on the last. NULL allowed. */
void channel_frame_unref(struct channel_frame *f);

const char *channel_frame_data(const struct channel_frame *f);
size_t channel_frame_len(const struct channel_frame *f);

struct channel_config {
	/* wss://HOST:PORT[/PATH], or several separated by spaces (at most
	 * CHANNEL_URLS_MAX), tried in this order */
	const char *url;
	/* the redial ceiling's first step and its cap (ms); 0: the defaults
	 * CHANNEL_RECONNECT_MIN_MS and CHANNEL_RECONNECT_MAX_MS */
	unsigned reconnect_min_ms, reconnect_max_ms;
	const char *ca_path;   /* CA the server's certificate must chain to */
	const char *cert_path; /* the agent's certificate (PEM) */
	const char *key_path;  /* its key: a secret file (0600, no symlink) */
};

/*
 * What the channel reports, on the service thread, with the arg given to
 * channel_new. Any may be NULL.
 *   on_established  the WebSocket is open, not yet greeted: nothing can
 *                   be sent until channel_greet (the server's challenge
 *                   comes first, then the agent's hello)
 *   on_closed       an open WebSocket closed (why: a sentence); the
 *                   channel redials by itself
 *   on_message      a whole text message of at most CHANNEL_RX_MAX bytes
 *                   (not NUL-terminated; valid only during the call)
 *   on_dropped      a message was dropped unread (why: "message over 64
 *                   KiB", "binary message"); bytes is its length
 */
struct channel_ops {
	void (*on_established)(void *arg);
	void (*on_closed)(void *arg, const char *why);
	void (*on_message)(void *arg, const char *data, size_t len);
	void (*on_dropped)(void *arg, const char *why, size_t bytes);
};

struct channel;

/*
 * Checks cfg (each URL's shape, their number, reconnect_min_ms at most
 * reconnect_max_ms, both at most CHANNEL_RECONNECT_LIMIT_MS; the key file
 * against the secret-file rules: a regular file, not a symlink, no group
 * or other access), makes the lws context with the client certificate and
 * schedules the first dial (to the first URL, at once). Copies what it
 * needs from cfg and ops. *out is NULL on failure. Returns 0,
 * SIGNET_ERR_CONFIG (a URL, named; the delays), SIGNET_ERR_PERMISSIONS /
 * NOT_FOUND / IO (key
 * file), SIGNET_ERR_CERT (lws refused the certificate, key or CA; its log
 * says which), SIGNET_ERR_ALLOC.
 */
int channel_new(const struct channel_config *cfg, const struct channel_ops *ops,
    void *arg, struct channel **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Runs one pass of the event loop: waits for network activity, a timer or
 * a wake-up, at most about CHANNEL_TICK_MS, and handles it. Returns 0, or
 * SIGNET_ERR_INTERNAL when lws fails.
 */
int channel_service(struct channel *ch) __attribute__((warn_unused_result));

/*
 * Queues f (takes a reference of its own) to go out on the open
 * connection after the messages queued before it. Messages still queued
 * when the connection closes are dropped: whoever needs delivery queues
 * again from on_established. Returns 0, SIGNET_ERR_UNAVAILABLE (no open
 * connection, or CHANNEL_QUEUE_MAX messages waiting).
 */
int channel_send(struct channel *ch, struct channel_frame *f)
    __attribute__((warn_unused_result));

/*
 * Queues f, the session's first message (the hello), on an open WebSocket
 * not yet greeted, and from then on lets channel_send and
 * channel_set_snapshot queue (they refuse before it, and
 * channel_connected is false). Service thread. Returns 0,
 * SIGNET_ERR_UNAVAILABLE (no open WebSocket, or greeted already) or
 * SIGNET_ERR_INVALID_ARG.
 */
int channel_greet(struct channel *ch, struct channel_frame *f)
    __attribute__((warn_unused_result));

/*
 * Wakes the service thread (lws_cancel_service): channel_service returns
 * soon. Any thread.
 */
void channel_wake(struct channel *ch);

/*
 * Makes f (a reference is taken) the inventory snapshot to send next: it
 * goes after the queued messages, and replaces a snapshot not yet started
 * (only the newest matters; one being sent is finished first). Ignored
 * (false) when no connection is open; dropped when it closes.
 */
bool channel_set_snapshot(struct channel *ch, struct channel_frame *f);

/* Whether the WebSocket is open now and greeted (channel_greet). */
bool channel_connected(struct channel *ch);

/*
 * The server asked this agent to leave (a drain frame: it is stopping):
 * at a moment drawn at random in [0, within_ms) the connection is closed
 * (status 1001, going away) and the next URL dialled after a first,
 * jittered delay, the URL left coming last in the round. A second drain
 * on the same connection keeps the first one's moment. Ignored when no
 * connection is open. Service thread only (the on_message callback).
 */
void channel_drain(struct channel *ch, unsigned within_ms);

/*
 * The server proved on the open connection that it works (proof says
 * how, e.g. "result_ack": it made a record durable): the redial backoff
 * starts again from reconnect_min_ms, as after a connection that
 * stayed up CHANNEL_BACKOFF_RESET_SECS. A server that closes before any
 * proof (crash-looping, or refusing agents for want of disk) leaves the
 * backoff growing. Logged once per connection. Service thread only (the
 * on_message callback).
 */
void channel_server_healthy(struct channel *ch, const char *proof);

struct channel_stats {
	uint64_t connects;      /* WebSockets opened */
	uint64_t closes;        /* ... and closed */
	uint64_t dial_failures; /* dials that failed before opening */
	uint64_t frames_sent, bytes_sent;
	uint64_t frames_received;
	uint64_t frames_dropped; /* received over CHANNEL_RX_MAX or binary */
	uint64_t snapshots_sent, snapshots_replaced;
	uint64_t drains; /* drain frames that made the agent leave */
	size_t server;   /* index of the URL dialled or connected to */
	size_t nservers; /* URLs given */
};

void channel_get_stats(struct channel *ch, struct channel_stats *st);

/*
 * The i-th server URL as given (i < nservers of channel_get_stats), or
 * NULL. Immutable for ch's life: any thread.
 */
const char *channel_url(const struct channel *ch, size_t i);

/*
 * Splits list (URLs separated by spaces or tabs) into at most max
 * entries of out (each at most CHANNEL_URL_MAX bytes, checked by
 * channel_parse_url), *n of them. Returns 0 or SIGNET_ERR_CONFIG with
 * why (no URL, too many, one too long or malformed: named, escaped).
 */
int channel_split_urls(const char *list, char (*out)[CHANNEL_URL_MAX + 1],
    size_t max, size_t *n, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Closes the connection (status 1001, going away), waiting up to
 * timeout_ms for it to go, and stops redialling. Service thread only.
 */
void channel_shutdown(struct channel *ch, int timeout_ms);

/* Destroys the lws context and ch. Service thread; NULL allowed. */
void channel_free(struct channel *ch);

/*
 * Splits url (wss://HOST:PORT[/PATH]) into host (brackets of an IPv6
 * address removed), port and path ("/" when none; only [A-Za-z0-9/._~%-]
 * allowed). Returns 0 or SIGNET_ERR_CONFIG with why.
 */
int channel_parse_url(const char *url, char *host, size_t hostlen, int *port,
    char *path, size_t pathlen, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
