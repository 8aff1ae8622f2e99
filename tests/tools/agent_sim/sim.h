/* SPDX-License-Identifier: ISC */
/*
 * The insides of agent_sim (tests/tools/agent_sim.c, whose top comment
 * says what it does), shared by its sources: the simulator's state, one
 * struct sim_agent per simulated agent, and the functions of
 * agent_sim/tls.c (each agent's certificate and key, the OpenSSL
 * callbacks), agent_sim/frames.c (what an agent sends: hello, signed
 * over the server's challenge, inventory, raw bytes, results of the
 * actions it answers) and agent_sim/redial.c (each agent's connections:
 * the server URLs, the dial, the loss and the redial after a full-jitter
 * backoff, the server's drain, the status line).
 */
#ifndef SIGNET_AGENT_SIM_H
#define SIGNET_AGENT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "envelope.h"
#include "keys.h"
#include "wire.h"

#define SIM_OK 0
#define SIM_FAILED 1
#define SIM_USAGE 2
#define SIM_SETUP 3

#define SIM_FILE_MAX (64u * 1024 * 1024)
#define SIM_MAX_AGENTS 100000
#define SIM_MAX_CONTAINERS 5000
#define SIM_NAME_MAX 256
#define SIM_TICK_US 100000
#define SIM_CLOSE_GRACE_MS 3000
#define SIM_ANSWERS_MAX 16
#define SIM_RESULTS_MAX 64
#define SIM_URLS_MAX 8 /* --url given at most this many times */
/* --reconnect-min-ms / --reconnect-max-ms: defaults as the agent's */
#define SIM_RECONNECT_MIN_MS 500
#define SIM_RECONNECT_MAX_MS 30000
#define SIM_RECONNECT_LIMIT_MS 3600000
/* Up this long, a connection's loss starts the backoff afresh (agent). */
#define SIM_BACKOFF_RESET_MS 30000
/* Redials and drain departures are looked at no more often than this. */
#define SIM_DUE_MIN_MS 5
/* The end of each synthetic container id (--containers); before it, 16
 * hex digits of the agent's number (--first + index). */
#define SIM_ID_MARK "5151aaaa"

/* A result waiting for its time to be sent. */
struct sim_result {
	char *frame;
	size_t len;
	int64_t due_ms;
	char action_id[33];
	const char *status;
	int copy;
};

/* ST_WAIT: lost, waiting for its redial (only with reconnection). */
enum sim_state { ST_IDLE, ST_CONNECTING, ST_OPEN, ST_WAIT, ST_DONE };

/* One --url: wss://HOST:PORT[/PATH]. */
struct sim_target {
	const char *url;
	char host[256], path[512];
	int port;
};

struct sim_agent {
	int idx;
	char name[SIM_NAME_MAX]; /* host id claimed in the hello */
	char key_id[KEYS_ID_LEN + 1];
	X509 *cert;
	EVP_PKEY *pkey;
	struct lws *wsi;
	enum sim_state state;
	int step;   /* 0 hello, 1 inventory, 2 raw, 3 done */
	size_t off; /* bytes of the current message sent */
	bool started, want_close, peer_closed, opened, failed;
	char alert[64]; /* last TLS alert the server sent */
	int close_code;
	char close_reason[128];
	struct sim_result results[SIM_RESULTS_MAX];
	size_t nresults;
	size_t actions_seen;
	/* The server's challenge; the hello waits for it. */
	uint8_t challenge[WIRE_CHALLENGE_LEN];
	bool have_challenge;
	struct keys_secret *hello_key; /* in sim.hello_keys; NULL: none */
	/* Connections (redial.c). */
	size_t cur;        /* the target it dials or is connected to */
	unsigned fails;    /* losses since the last good connection */
	unsigned attempts; /* dials since the last loss of an open one */
	int64_t lost_ms;   /* when the last open connection ended; 0 */
	int64_t opened_ms; /* when this connection opened */
	int64_t due_ms;    /* ST_WAIT: when to dial again */
	int64_t leave_ms;  /* a drain's moment to leave; 0 none */
	bool queued;       /* in sim.ready, waiting for an inflight slot */
	bool healthy;      /* an action or result_ack came on it */
	bool leaving;      /* closing it for a drain */
	bool hello_sent;   /* this connection's hello is out */
	bool accepted;     /* ... and the server acked it (checkpoint_ack) */
};

/* --hello-sig: how the hello proves the result key. */
enum sim_hello_sig {
	SIG_KEY,   /* signed with the agent's result key (default) */
	SIG_WRONG, /* signed with a key of its own, not the registered one */
	SIG_NONE,  /* no sig at all */
	SIG_STALE, /* signed, over another challenge than the server's */
};

struct sim_opts {
	const char *url, *address, *ca, *pki, *name, *prefix, *cert, *key;
	const char *host_id, *result_key_id, *result_pub;
	const char *agent_version, *docker_version;
	const char *inventory_file, *raw_file;
	long count, first, containers, fragment, duration, rate, freeze;
	long inflight;
	const char *urls[SIM_URLS_MAX]; /* every --url; url is urls[0] */
	size_t nurls;
	long reconnect_min_ms, reconnect_max_ms;
	bool reconnect; /* --reconnect, or a second --url */
	const char *status_file;
	bool no_cert, no_hello, binary, tls12, quiet;
	const char *answer, *result_key, *action_pub, *error_text;
	const char *hello_key;
	const char *audit_head; /* the hello's audit_head, or NULL */
	enum sim_hello_sig hello_sig;
	long answer_delay, docker_status;
	bool has_docker_status, duplicate, bad_sha;
};

struct sim {
	struct sim_opts o;
	struct sim_target targets[SIM_URLS_MAX];
	size_t ntargets;
	struct sim_agent *agents;
	size_t nagents, launched, done, connected, closed, errors;
	/* Now: agents in ST_CONNECTING, ST_OPEN, ST_WAIT; open ones whose
	 * hello is out, and acked. Totals: reconnections, drains heard. */
	size_t n_connecting, n_open, n_waiting, n_hello, n_accepted;
	size_t reconnects, drains;
	/* Agents whose redial is due, waiting for an inflight slot: a ring
	 * of nagents indices. */
	uint32_t *ready;
	size_t ready_head, ready_len;
	lws_sorted_usec_list_t due; /* the next redial or departure */
	int64_t due_at;             /* when it fires; 0: not armed */
	int64_t status_at;          /* --status-file last written */
	char *inventory;            /* frame bytes, or NULL */
	size_t inventory_len;
	char *raw;
	size_t raw_len;
	unsigned char *scratch; /* LWS_PRE + largest message */
	size_t scratch_len;
	struct lws_context *lws;
	struct ev_loop *loop; /* ours, given to lws (foreign) */
	void *foreign_loops[1];
	SSL_CTX *ssl;
	lws_sorted_usec_list_t tick;
	int64_t start_ms, close_at_ms;
	bool closing, frozen;
	enum envelope_status answers[SIM_ANSWERS_MAX];
	size_t nanswers;
	struct keys_secret *rkey; /* sodium_malloc'd */
	/* Each agent's hello key (sodium_malloc'd, nagents of them). */
	struct keys_secret *hello_keys;
	struct keys_pubset *apub;
};

/* The simulator main() runs, for the OpenSSL callbacks (agent_sim.c). */
extern struct sim *the_sim;

/* agent_sim/tls.c */

/* Loads agent i's identity and what it will claim; 0 or -1 (said). */
int sim_setup_agent(struct sim *, size_t);
/* SSL_CTX_set_client_cert_cb: the certificate of the connection's agent. */
int sim_client_cert_cb(SSL *, X509 **, EVP_PKEY **);
/* SSL_CTX_set_info_callback: keeps the alert the server ended with. */
void sim_info_cb(const SSL *, int, int);

/* agent_sim/redial.c */

/* Parses each --url into s->targets; 0 or -1 (said). */
int sim_parse_targets(struct sim *);
/* Moves agent a to state st, keeping the counts. */
void sim_set_state(struct sim *, struct sim_agent *, enum sim_state);
/* Dials agent a's current target (first time or again). */
void sim_dial(struct sim *, struct sim_agent *);
/*
 * a's connection (wsi) ended: open (was_open) or before it opened. With
 * reconnection, a waits for its redial to the next target after a
 * full-jitter backoff; without it (or while closing), a is done.
 */
void sim_lost(struct sim *, struct sim_agent *, bool was_open);
/* a's WebSocket opened: counts, and the "reconnected" line after a loss. */
void sim_opened(struct sim *, struct sim_agent *);
/* A drain frame: a leaves within a random delay in [0, within_ms). */
void sim_drain(struct sim *, struct sim_agent *, uint32_t within_ms);
/* a's hello went out / the server acked it (checkpoint_ack). */
void sim_hello_sent(struct sim *, struct sim_agent *);
void sim_accepted(struct sim *, struct sim_agent *);
/* The next agent whose redial is due, or NULL. */
struct sim_agent *sim_ready_pop(struct sim *);
/* The status line (no newline) into buf. */
void sim_status(const struct sim *, char *buf, size_t len);
/* --status-file: the status line, written anew (tmp + rename); 0 or -1. */
int sim_status_write(struct sim *);

/* agent_sim/frames.c */

/* --containers: N synthetic containers as s->inventory; 0 or -1 (said). */
int sim_build_inventory(struct sim *);
/* Agent a's copy of that inventory, its number in every container id: a
 * new buffer (free()) of the template's length in *out; 0 or -1. */
int sim_inventory_of(const struct sim *, const struct sim_agent *, char **out,
    size_t *len);
/* --answer: the statuses, in order; 0 or -1. */
int sim_parse_answers(struct sim *);
/* The result key (and the action key) for --answer; 0 or -1 (said). */
int sim_load_answer_keys(struct sim *);
/* A frame from the server: reports an action and maybe answers it. */
void sim_on_action(struct sim *, struct sim_agent *, const void *, size_t);
/* A frame from the server: a challenge (the hello may go) or an action. */
void sim_on_message(struct sim *, struct sim_agent *, const void *, size_t);
/* Sends the next piece of what agent a has to say; 0, or -1 to close. */
int sim_send_next(struct sim *, struct sim_agent *, struct lws *);

#endif
