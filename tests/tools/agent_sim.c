/* SPDX-License-Identifier: ISC */
/*
 * agent_sim: a test-only simulated signet agent (libwebsockets client,
 * mutual TLS) for the hub's integration tests and load benchmarks. It
 * verifies the server certificate against --ca and the server name from
 * --url, says hello, sends an inventory and/or a raw frame, then stays
 * connected and reports what happens. One process can run many agents,
 * each with its own certificate (all in one SSL_CTX: each connection's
 * certificate is handed out by a client-certificate callback).
 *
 * usage: agent_sim --url wss://HOST:PORT[/PATH] --ca FILE [options]
 *  who (one of):
 *   --pki DIR --name NAME     DIR/issued/NAME.pem, DIR/private/NAME.key;
 *                             result key id from DIR/keys/agents/NAME.pub
 *   --pki DIR --prefix P --count N [--first I]
 *                             N agents P<I> .. P<I+N-1>, as above
 *   --cert FILE --key FILE    one agent with this certificate and key
 *   --no-cert                 one connection without a client certificate
 *  hello:
 *   --host-id H               claim H (default: the certificate's CN)
 *   --result-key-id K         claim K (default: the id of the .pub above)
 *   --result-pub FILE         take the key id from this public key file
 *   --agent-version V, --docker-version V   (default 0.0.0-sim, 20.10.24)
 *   --no-hello                never say hello
 *  then:
 *   --containers N            an inventory of N synthetic containers
 *   --inventory FILE          the inventory frame in FILE, sent as is
 *   --raw FILE                then the bytes of FILE as one message
 *                             (the first one with --no-hello)
 *   --binary                  send --raw as a binary message
 *   --fragment BYTES          send each message in frames of BYTES
 *  run:
 *   --address A               connect to A (default: HOST of --url)
 *   --duration SECS           close and exit after SECS (default: run
 *                             until SIGTERM/SIGINT or every agent closed)
 *   --rate N                  open at most N connections a second
 *   --inflight N              at most N connections between connect and
 *                             open (or failure) at once: as fast as the
 *                             server takes them, without swamping it
 *   --freeze SECS             once everything is sent, stop serving the
 *                             connections (no reads, no pongs) for SECS:
 *                             a silent peer, for the liveness test
 *   --tls12                   offer only TLS 1.2
 *   --quiet                   report only errors, server closes, summary
 *  actions (docs/protocol.md; without --answer, only reported):
 *   --answer S[,S...]         answer each action frame with a result
 *                             signed by the result key, status S (SUCCESS,
 *                             FAILURE, DENIED, REJECTED) for the 1st, 2nd..
 *                             action; the last one repeats
 *   --result-key FILE         the result secret key (default with --pki:
 *                             DIR/keys/agents/NAME.key)
 *   --action-pub FILE         verify actions with this key first (a bad
 *                             one is reported verified=no, not answered)
 *   --answer-delay SECS       answer SECS after the action came (late)
 *   --error TEXT              the result's error (default: one per status;
 *                             SUCCESS has none)
 *   --docker-status N         (default 204 SUCCESS, 500 FAILURE, else 0)
 *   --duplicate               send every result twice
 *   --bad-sha                 claim a wrong request_sha256 (a mismatch)
 *
 * stdout, one line per event (I = agent index, from 0):
 *   ready agents=N                  certificates loaded, connecting now
 *                                   (also with --quiet: benchmarks start
 *                                   their clock here)
 *   connected I host=H              the WebSocket is open
 *   sent I hello|inventory|raw bytes=N
 *   received I bytes=N "TEXT"       a message from the server (escaped)
 *   action I action_id=ID action=A container=C requested_by=U
 *                                   an action frame (decoded)
 *   sent I result action_id=ID status=S [copy=2]
 *   closed I code=N reason="TEXT"   the server closed it (code 1006:
 *                                   the connection ended without a
 *                                   close frame)
 *   closed I code=1000 by=client    we closed it (--duration, signal)
 *   error I "WHY"                   it failed before the WebSocket opened
 *                                   (TLS refused, upgrade refused, ...)
 *   summary agents=N connected=N closed=N errors=N
 *
 * exit codes: 0 every agent's WebSocket opened (whatever happened after);
 * 1 at least one failed before opening; 2 usage; 3 setup failed (files,
 * TLS context, libwebsockets).
 */
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sodium.h>

#include "clock.h"
#include "envelope.h"
#include "fileio.h"
#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "text.h"
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

/* A result waiting for its time to be sent. */
struct sim_result {
	char *frame;
	size_t len;
	int64_t due_ms;
	char action_id[33];
	const char *status;
	int copy;
};

enum sim_state { ST_IDLE, ST_CONNECTING, ST_OPEN, ST_DONE };

struct sim_agent {
	int idx;
	char name[SIM_NAME_MAX];       /* host id claimed in the hello */
	char key_id[KEYS_ID_LEN + 1];
	X509 *cert;
	EVP_PKEY *pkey;
	struct lws *wsi;
	enum sim_state state;
	int step;                      /* 0 hello, 1 inventory, 2 raw, 3 done */
	size_t off;                    /* bytes of the current message sent */
	bool started, want_close, peer_closed, opened, failed;
	char alert[64];                /* last TLS alert the server sent */
	int close_code;
	char close_reason[128];
	struct sim_result results[SIM_RESULTS_MAX];
	size_t nresults;
	size_t actions_seen;
};

struct sim_opts {
	const char *url, *address, *ca, *pki, *name, *prefix, *cert, *key;
	const char *host_id, *result_key_id, *result_pub;
	const char *agent_version, *docker_version;
	const char *inventory_file, *raw_file;
	long count, first, containers, fragment, duration, rate, freeze;
	long inflight;
	bool no_cert, no_hello, binary, tls12, quiet;
	const char *answer, *result_key, *action_pub, *error_text;
	long answer_delay, docker_status;
	bool has_docker_status, duplicate, bad_sha;
};

struct sim {
	struct sim_opts o;
	char host[256], path[512];
	int port;
	struct sim_agent *agents;
	size_t nagents, launched, done, connected, closed, errors;
	char *inventory;               /* frame bytes, or NULL */
	size_t inventory_len;
	char *raw;
	size_t raw_len;
	unsigned char *scratch;        /* LWS_PRE + largest message */
	size_t scratch_len;
	struct lws_context *lws;
	struct ev_loop *loop;          /* ours, given to lws (foreign) */
	void *foreign_loops[1];
	SSL_CTX *ssl;
	lws_sorted_usec_list_t tick;
	int64_t start_ms, close_at_ms;
	bool closing, frozen;
	enum envelope_status answers[SIM_ANSWERS_MAX];
	size_t nanswers;
	struct keys_secret *rkey;      /* sodium_malloc'd */
	struct keys_pubset *apub;
};

static struct sim *the_sim;            /* for the OpenSSL callback */
static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: agent_sim --url wss://HOST:PORT --ca FILE "
	    "(--pki DIR (--name N | --prefix P --count N [--first I]) |\n"
	    "       --cert F --key F | --no-cert) [--host-id H] "
	    "[--result-key-id K | --result-pub F]\n"
	    "       [--agent-version V] [--docker-version V] [--no-hello] "
	    "[--containers N | --inventory F]\n"
	    "       [--raw F] [--binary] [--fragment BYTES] [--address A] "
	    "[--duration S] [--rate N] [--inflight N]\n"
	    "       [--freeze S] [--tls12] [--quiet]\n"
	    "       [--answer S[,S..] [--result-key F] [--action-pub F] "
	    "[--answer-delay S] [--error T] [--docker-status N] "
	    "[--duplicate] [--bad-sha]]\n"
	    "see the comment at the top of tests/tools/agent_sim.c\n");
}

static int
parse_long(const char *opt, const char *s, long min, long max, long *out)
{
	int64_t v;

	if (text_to_int64(s, min, max, &v) != 0) {
		fprintf(stderr, "agent_sim: %s: expected a number in "
		    "%ld..%ld\n", opt, min, max);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct sim_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	o->agent_version = "0.0.0-sim";
	o->docker_version = "20.10.24";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **sp = NULL;
		long *lp = NULL, lmin = 0, lmax = 0;

		if (strcmp(a, "--url") == 0) sp = &o->url;
		else if (strcmp(a, "--address") == 0) sp = &o->address;
		else if (strcmp(a, "--ca") == 0) sp = &o->ca;
		else if (strcmp(a, "--pki") == 0) sp = &o->pki;
		else if (strcmp(a, "--name") == 0) sp = &o->name;
		else if (strcmp(a, "--prefix") == 0) sp = &o->prefix;
		else if (strcmp(a, "--cert") == 0) sp = &o->cert;
		else if (strcmp(a, "--key") == 0) sp = &o->key;
		else if (strcmp(a, "--host-id") == 0) sp = &o->host_id;
		else if (strcmp(a, "--result-key-id") == 0)
			sp = &o->result_key_id;
		else if (strcmp(a, "--result-pub") == 0) sp = &o->result_pub;
		else if (strcmp(a, "--agent-version") == 0)
			sp = &o->agent_version;
		else if (strcmp(a, "--docker-version") == 0)
			sp = &o->docker_version;
		else if (strcmp(a, "--inventory") == 0)
			sp = &o->inventory_file;
		else if (strcmp(a, "--raw") == 0) sp = &o->raw_file;
		else if (strcmp(a, "--answer") == 0) sp = &o->answer;
		else if (strcmp(a, "--result-key") == 0) sp = &o->result_key;
		else if (strcmp(a, "--action-pub") == 0) sp = &o->action_pub;
		else if (strcmp(a, "--error") == 0) sp = &o->error_text;
		else if (strcmp(a, "--answer-delay") == 0) {
			lp = &o->answer_delay; lmin = 0; lmax = 3600;
		} else if (strcmp(a, "--docker-status") == 0) {
			lp = &o->docker_status; lmin = 0; lmax = 999;
			o->has_docker_status = true;
		} else if (strcmp(a, "--duplicate") == 0) o->duplicate = true;
		else if (strcmp(a, "--bad-sha") == 0) o->bad_sha = true;
		else if (strcmp(a, "--count") == 0) {
			lp = &o->count; lmin = 1; lmax = SIM_MAX_AGENTS;
		} else if (strcmp(a, "--first") == 0) {
			lp = &o->first; lmin = 0; lmax = 100000000;
		} else if (strcmp(a, "--containers") == 0) {
			lp = &o->containers; lmin = 0;
			lmax = SIM_MAX_CONTAINERS;
		} else if (strcmp(a, "--fragment") == 0) {
			lp = &o->fragment; lmin = 1; lmax = SIM_FILE_MAX;
		} else if (strcmp(a, "--duration") == 0) {
			lp = &o->duration; lmin = 0; lmax = 86400;
		} else if (strcmp(a, "--freeze") == 0) {
			lp = &o->freeze; lmin = 1; lmax = 3600;
		} else if (strcmp(a, "--rate") == 0) {
			lp = &o->rate; lmin = 1; lmax = 1000000;
		} else if (strcmp(a, "--inflight") == 0) {
			lp = &o->inflight; lmin = 1; lmax = 1000000;
		} else if (strcmp(a, "--no-cert") == 0) o->no_cert = true;
		else if (strcmp(a, "--no-hello") == 0) o->no_hello = true;
		else if (strcmp(a, "--binary") == 0) o->binary = true;
		else if (strcmp(a, "--tls12") == 0) o->tls12 = true;
		else if (strcmp(a, "--quiet") == 0) o->quiet = true;
		else if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(SIM_OK);
		} else {
			fprintf(stderr, "agent_sim: unknown option %s\n", a);
			return -1;
		}
		if (sp != NULL || lp != NULL) {
			if (v == NULL) {
				fprintf(stderr, "agent_sim: %s needs a value\n",
				    a);
				return -1;
			}
			i++;
			if (sp != NULL)
				*sp = v;
			else if (parse_long(a, v, lmin, lmax, lp) != 0)
				return -1;
		}
	}
	if (o->url == NULL || o->ca == NULL) {
		fprintf(stderr, "agent_sim: --url and --ca are required\n");
		return -1;
	}
	if ((o->pki != NULL) + (o->cert != NULL) + o->no_cert != 1 ||
	    (o->pki != NULL && (o->name != NULL) == (o->prefix != NULL)) ||
	    (o->cert != NULL && o->key == NULL) ||
	    (o->prefix == NULL && o->count != 1)) {
		fprintf(stderr, "agent_sim: give exactly one of --pki DIR "
		    "--name N, --pki DIR --prefix P --count N, --cert F --key "
		    "F, --no-cert\n");
		return -1;
	}
	if (o->inventory_file != NULL && o->containers > 0) {
		fprintf(stderr, "agent_sim: --containers or --inventory\n");
		return -1;
	}
	return 0;
}

/* wss://HOST:PORT[/PATH] */
static int
parse_url(struct sim *s)
{
	const char *u = s->o.url, *h, *colon, *slash;
	int64_t port;
	char portbuf[8];
	size_t n;

	if (strncmp(u, "wss://", 6) != 0)
		return -1;
	h = u + 6;
	slash = strchr(h, '/');
	colon = strrchr(h, ':');
	if (colon == NULL || (slash != NULL && colon > slash))
		return -1;
	n = (size_t)(colon - h);
	if (n == 0 || n >= sizeof(s->host))
		return -1;
	memcpy(s->host, h, n);
	s->host[n] = '\0';
	n = slash != NULL ? (size_t)(slash - colon - 1) : strlen(colon + 1);
	if (n == 0 || n >= sizeof(portbuf))
		return -1;
	memcpy(portbuf, colon + 1, n);
	portbuf[n] = '\0';
	if (text_to_int64(portbuf, 1, 65535, &port) != 0)
		return -1;
	s->port = (int)port;
	(void)snprintf(s->path, sizeof(s->path), "%s",
	    slash != NULL ? slash : "/");
	return 0;
}

static int
read_file(const char *path, char **out, size_t *len)
{
	struct err_msg msg;

	if (fileio_read_alloc(path, SIM_FILE_MAX, out, len, &msg) != 0) {
		fprintf(stderr, "agent_sim: %s\n", msg.text);
		return -1;
	}
	return 0;
}

static int
load_pem(struct sim_agent *a, const char *cert, const char *key)
{
	FILE *f;

	f = fopen(cert, "r");
	if (f != NULL) {
		a->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	f = fopen(key, "r");
	if (f != NULL) {
		a->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (a->cert == NULL || a->pkey == NULL) {
		fprintf(stderr, "agent_sim: cannot read certificate %s or key "
		    "%s\n", cert, key);
		return -1;
	}
	return 0;
}

static int
key_id_of(const char *pub, char id[static KEYS_ID_LEN + 1])
{
	struct keys_public k;
	struct err_msg msg;

	if (keys_load_public(pub, &k, &msg) != 0) {
		fprintf(stderr, "agent_sim: result key: %s (give "
		    "--result-key-id)\n", msg.text);
		return -1;
	}
	memcpy(id, k.id, KEYS_ID_LEN + 1);
	return 0;
}

/* Loads agent i's identity and what it will claim. */
static int
setup_agent(struct sim *s, size_t i)
{
	struct sim_agent *a = &s->agents[i];
	char name[SIM_NAME_MAX], cert[4200], key[4200], pub[4200];

	a->idx = (int)i;
	name[0] = '\0';
	if (s->o.pki != NULL) {
		if (s->o.name != NULL)
			(void)snprintf(name, sizeof(name), "%s", s->o.name);
		else
			(void)snprintf(name, sizeof(name), "%s%ld",
			    s->o.prefix, s->o.first + (long)i);
		(void)snprintf(cert, sizeof(cert), "%s/issued/%s.pem",
		    s->o.pki, name);
		(void)snprintf(key, sizeof(key), "%s/private/%s.key",
		    s->o.pki, name);
		(void)snprintf(pub, sizeof(pub), "%s/keys/agents/%s.pub",
		    s->o.pki, name);
		if (load_pem(a, cert, key) != 0)
			return -1;
	} else if (s->o.cert != NULL) {
		if (load_pem(a, s->o.cert, s->o.key) != 0)
			return -1;
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(a->cert),
		    NID_commonName, name, (int)sizeof(name)) < 0)
			(void)snprintf(name, sizeof(name), "unknown");
		pub[0] = '\0';
	} else {
		(void)snprintf(name, sizeof(name), "no-cert");
		pub[0] = '\0';
	}
	(void)snprintf(a->name, sizeof(a->name), "%s",
	    s->o.host_id != NULL ? s->o.host_id : name);
	if (s->o.result_key_id != NULL)
		(void)snprintf(a->key_id, sizeof(a->key_id), "%s",
		    s->o.result_key_id);
	else if (s->o.result_pub != NULL)
		return key_id_of(s->o.result_pub, a->key_id);
	else if (pub[0] != '\0')
		return key_id_of(pub, a->key_id);
	else if (!s->o.no_hello)
		(void)snprintf(a->key_id, sizeof(a->key_id),
		    "0000000000000000");
	return 0;
}

/* N synthetic containers as an inventory frame. */
static int
build_inventory(struct sim *s)
{
	struct inventory inv;
	char lkey[] = "signet.sim", lval[] = "1";
	struct inventory_label label = { lkey, lval };
	char *names = NULL, **name_ptrs = NULL;
	char image[] = "busybox:1", status[] = "Up 5 minutes";
	size_t n = (size_t)s->o.containers, i;
	int r = SIGNET_ERR_ALLOC;

	memset(&inv, 0, sizeof(inv));
	inv.items = calloc(n > 0 ? n : 1, sizeof(*inv.items));
	names = calloc(n > 0 ? n : 1, 32);
	name_ptrs = calloc(n > 0 ? n : 1, sizeof(*name_ptrs));
	if (inv.items == NULL || names == NULL || name_ptrs == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		struct inventory_container *c = &inv.items[i];
		char **np = &name_ptrs[i];

		(void)snprintf(c->id, sizeof(c->id), "%056lx%08x",
		    (unsigned long)(i + 1), 0x5151aaaau);
		*np = names + i * 32;
		(void)snprintf(*np, 32, "/sim-%zu", i);
		c->names = np;
		c->nnames = 1;
		c->image = image;
		(void)snprintf(c->state, sizeof(c->state), "running");
		c->status = status;
		c->labels = &label;
		c->nlabels = 1;
		c->created = 1700000000;
	}
	inv.count = n;
	r = wire_build_inventory(&inv, &s->inventory, &s->inventory_len);
out:
	free(inv.items);
	free(names);
	free(name_ptrs);
	if (r != 0) {
		fprintf(stderr, "agent_sim: out of memory\n");
		return -1;
	}
	return 0;
}

static char *
hello_of(struct sim *s, struct sim_agent *a)
{
	char *out = NULL;
	size_t len;

	if (wire_build_hello(a->name, s->o.agent_version,
	    s->o.docker_version, a->key_id, &out, &len) != 0)
		return NULL;
	return out;
}

/* The client certificate for the connection on this SSL's socket. */
static int
client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	struct sim *s = the_sim;
	int fd = SSL_get_fd(ssl);
	size_t i;

	for (i = 0; s != NULL && fd >= 0 && i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];

		if (a->state != ST_CONNECTING || a->wsi == NULL ||
		    lws_get_socket_fd(a->wsi) != fd)
			continue;
		if (a->cert == NULL || a->pkey == NULL)
			return 0;
		if (X509_up_ref(a->cert) != 1 || EVP_PKEY_up_ref(a->pkey) != 1)
			return 0;
		*x509 = a->cert;
		*pkey = a->pkey;
		return 1;
	}
	return 0;
}

static struct sim_agent *
agent_of_ssl(const SSL *ssl)
{
	struct sim *s = the_sim;
	int fd = SSL_get_fd(ssl);
	size_t i;

	for (i = 0; s != NULL && fd >= 0 && i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];

		if (a->state != ST_DONE && a->wsi != NULL &&
		    lws_get_socket_fd(a->wsi) == fd)
			return a;
	}
	return NULL;
}

/* Keeps the alert the server ended a handshake with, for the report. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct sim_agent *a;

	if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT)
		return;
	a = agent_of_ssl(ssl);
	/* OpenSSL 3.0 has no name for TLS 1.3's certificate_required. */
	if (a != NULL)
		(void)snprintf(a->alert, sizeof(a->alert), "%s",
		    (ret & 0xff) == 116 ? "certificate required" :
		    SSL_alert_desc_string_long(ret));
}

static void
finish(struct sim *s, struct sim_agent *a)
{
	if (a->state == ST_DONE)
		return;
	a->state = ST_DONE;
	a->wsi = NULL;
	s->done++;
}

/* --answer: the statuses, in order. */
static int
parse_answers(struct sim *s)
{
	char buf[256], *p, *comma;

	if (s->o.answer == NULL)
		return 0;
	if (strlen(s->o.answer) >= sizeof(buf))
		return -1;
	memcpy(buf, s->o.answer, strlen(s->o.answer) + 1);
	for (p = buf; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (s->nanswers == SIM_ANSWERS_MAX)
			return -1;
		s->answers[s->nanswers] = envelope_status_parse(p);
		if (s->answers[s->nanswers] == ENVELOPE_STATUS_NONE) {
			fprintf(stderr, "agent_sim: --answer: \"%s\" is not "
			    "SUCCESS, FAILURE, DENIED or REJECTED\n", p);
			return -1;
		}
		s->nanswers++;
	}
	return 0;
}

/* Loads the result key (and the action key) for --answer. */
static int
load_answer_keys(struct sim *s)
{
	struct err_msg msg;
	char path[4200];
	const char *kp = s->o.result_key;

	if (s->o.answer == NULL)
		return 0;
	if (kp == NULL && s->o.pki != NULL && s->o.name != NULL) {
		(void)snprintf(path, sizeof(path), "%s/keys/agents/%s.key",
		    s->o.pki, s->o.name);
		kp = path;
	}
	if (kp == NULL) {
		fprintf(stderr, "agent_sim: --answer needs --result-key\n");
		return -1;
	}
	s->rkey = sodium_malloc(sizeof(*s->rkey));
	if (s->rkey == NULL || keys_load_secret(kp, s->rkey, &msg) != 0) {
		fprintf(stderr, "agent_sim: result key %s: %s\n", kp,
		    s->rkey != NULL ? msg.text : "out of memory");
		return -1;
	}
	if (s->o.action_pub != NULL) {
		s->apub = calloc(1, sizeof(*s->apub));
		if (s->apub == NULL ||
		    keys_load_pubset(s->o.action_pub, s->apub, &msg) != 0) {
			fprintf(stderr, "agent_sim: action key %s: %s\n",
			    s->o.action_pub, s->apub != NULL ? msg.text :
			    "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Default error text of a status. */
static const char *
error_of(enum envelope_status st)
{
	switch (st) {
	case ENVELOPE_STATUS_FAILURE: return "simulated dockerd failure";
	case ENVELOPE_STATUS_DENIED: return "simulated policy: no rule allows "
	    "this";
	case ENVELOPE_STATUS_REJECTED: return "simulated rejection";
	default: return NULL;
	}
}

/* Queues a result frame for agent a (copy 1 or 2). */
static void
queue_result(struct sim *s, struct sim_agent *a, const char *frame,
    const char *id, const char *status, int copy)
{
	struct sim_result *r;

	if (a->nresults == SIM_RESULTS_MAX) {
		printf("error %d \"too many results queued\"\n", a->idx);
		return;
	}
	r = &a->results[a->nresults];
	r->frame = strdup(frame);
	if (r->frame == NULL)
		return;
	r->len = strlen(frame);
	r->due_ms = clock_mono_ms() + s->o.answer_delay * 1000;
	(void)snprintf(r->action_id, sizeof(r->action_id), "%s", id);
	r->status = status;
	r->copy = copy;
	a->nresults++;
}

/* An action frame from the server: report it and maybe answer it. */
static void
on_action(struct sim *s, struct sim_agent *a, const void *in, size_t len)
{
	struct envelope_action_payload ap;
	struct envelope_result_payload res;
	struct envelope env;
	struct err_msg msg;
	struct wire_frame wf;
	const char *pl = NULL, *sig = NULL, *kid = NULL;
	uint8_t *raw = NULL;
	size_t raw_len = 0, frame_len = 0;
	char *frame = NULL;
	enum envelope_status st;
	bool verified = true;
	int r;

	memset(&env, 0, sizeof(env));
	memset(&res, 0, sizeof(res));
	memset(&ap, 0, sizeof(ap));
	err_clear(&msg);
	if (wire_parse_server_frame(in, len, &wf, &msg) != 0) {
		if (wf.type == WIRE_ACTION)
			printf("error %d \"bad action frame: %s\"\n", a->idx,
			    msg.text);
		goto out;
	}
	if (wf.type == WIRE_RESULT_ACK) {
		printf("acked %d action_id=%s\n", a->idx, wf.ack.action_id);
		goto out;
	}
	pl = wf.payload_b64;
	sig = wf.sig_b64;
	kid = wf.key_id;
	if (s->apub != NULL) {
		r = envelope_action_verify(s->apub, kid, pl, sig, &ap, &raw,
		    &raw_len, &msg);
		verified = r == 0;
	} else {
		raw = malloc(strlen(pl) + 1);
		r = raw == NULL || sodium_base642bin(raw, strlen(pl) + 1, pl,
		    strlen(pl), NULL, &raw_len, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ? -1 :
		    envelope_action_decode(raw, raw_len, &ap, &msg);
	}
	if (r != 0 && (raw == NULL || s->apub == NULL)) {
		printf("error %d \"action not decoded: %s\"\n", a->idx,
		    msg.text);
		goto out;
	}
	printf("action %d action_id=%s action=%s container=%s "
	    "requested_by=%s%s\n", a->idx, ap.action_id,
	    envelope_action_name(ap.action) != NULL ?
	    envelope_action_name(ap.action) : "?", ap.container_id,
	    ap.requested_by, verified ? "" : " verified=no");
	if (s->nanswers == 0 || s->rkey == NULL || !verified)
		goto out;
	st = s->answers[a->actions_seen < s->nanswers ? a->actions_seen :
	    s->nanswers - 1];
	a->actions_seen++;
	(void)snprintf(res.action_id, sizeof(res.action_id), "%s",
	    ap.action_id);
	(void)snprintf(res.host_id, sizeof(res.host_id), "%s", ap.host_id);
	(void)snprintf(res.container_id, sizeof(res.container_id), "%s",
	    ap.container_id);
	res.action = ap.action;
	res.status = st;
	if (s->o.error_text != NULL && st != ENVELOPE_STATUS_SUCCESS) {
		res.has_error = true;
		(void)snprintf(res.error, sizeof(res.error), "%s",
		    s->o.error_text);
	} else if (error_of(st) != NULL) {
		res.has_error = true;
		(void)snprintf(res.error, sizeof(res.error), "%s",
		    error_of(st));
	}
	res.docker_status = s->o.has_docker_status ? s->o.docker_status :
	    st == ENVELOPE_STATUS_SUCCESS ? 204 :
	    st == ENVELOPE_STATUS_FAILURE ? 500 : 0;
	res.started_at = clock_wall_ms();
	res.finished_at = res.started_at;
	envelope_sha256_hex(raw, raw_len, res.request_sha256);
	if (s->o.bad_sha)
		res.request_sha256[0] = res.request_sha256[0] == '0' ? '1' :
		    '0';
	if (envelope_result_sign(&res, s->rkey, &env) != 0 ||
	    wire_build_result(env.payload_b64, env.sig_b64, &frame,
	    &frame_len) != 0) {
		printf("error %d \"cannot build a result\"\n", a->idx);
		goto out;
	}
	queue_result(s, a, frame, res.action_id, envelope_status_name(st), 1);
	if (s->o.duplicate)
		queue_result(s, a, frame, res.action_id,
		    envelope_status_name(st), 2);
	if (a->wsi != NULL && s->o.answer_delay == 0)
		lws_callback_on_writable(a->wsi);
out:
	free(frame);
	wire_frame_free(&wf);
	envelope_free(&env);
	free(raw);
	sodium_memzero(&ap, sizeof(ap));
}

/* Writes the first result that is due, if any. */
static int
send_result(struct sim *s, struct sim_agent *a, struct lws *wsi)
{
	struct sim_result r;
	int64_t now = clock_mono_ms();
	size_t i;
	int n;

	for (i = 0; i < a->nresults; i++)
		if (a->results[i].due_ms <= now)
			break;
	if (i == a->nresults)
		return 0;
	r = a->results[i];
	memmove(&a->results[i], &a->results[i + 1],
	    (a->nresults - i - 1) * sizeof(r));
	a->nresults--;
	if (r.len > s->scratch_len - LWS_PRE) {
		free(r.frame);
		return -1;
	}
	memcpy(s->scratch + LWS_PRE, r.frame, r.len);
	n = lws_write(wsi, s->scratch + LWS_PRE, r.len, LWS_WRITE_TEXT);
	free(r.frame);
	if (n < 0 || (size_t)n < r.len) {
		printf("error %d \"write failed\"\n", a->idx);
		return -1;
	}
	printf("sent %d result action_id=%s status=%s%s\n", a->idx,
	    r.action_id, r.status, r.copy > 1 ? " copy=2" : "");
	if (a->nresults > 0)
		lws_callback_on_writable(wsi);
	return 0;
}

/* Sends the next piece of what agent a has to say. */
static int
send_next(struct sim *s, struct sim_agent *a, struct lws *wsi)
{
	const char *what = NULL, *data = NULL;
	char *hello = NULL;
	size_t len = 0, chunk;
	int proto = LWS_WRITE_TEXT, flags, n;
	bool first, last;

	while (a->step < 3) {
		if (a->step == 0 && !s->o.no_hello) {
			hello = hello_of(s, a);
			if (hello == NULL)
				return -1;
			what = "hello";
			data = hello;
			len = strlen(hello);
			break;
		}
		if (a->step == 1 && s->inventory != NULL) {
			what = "inventory";
			data = s->inventory;
			len = s->inventory_len;
			break;
		}
		if (a->step == 2 && s->raw != NULL) {
			what = "raw";
			data = s->raw;
			len = s->raw_len;
			if (s->o.binary)
				proto = LWS_WRITE_BINARY;
			break;
		}
		a->step++;
	}
	if (a->step >= 3)
		return send_result(s, a, wsi);
	chunk = len - a->off;
	if (s->o.fragment > 0 && chunk > (size_t)s->o.fragment)
		chunk = (size_t)s->o.fragment;
	first = a->off == 0;
	last = a->off + chunk == len;
	/* lws masks client frames in place: never hand it shared bytes. */
	memcpy(s->scratch + LWS_PRE, data + a->off, chunk);
	flags = lws_write_ws_flags(proto, first, last);
	n = lws_write(wsi, s->scratch + LWS_PRE, chunk,
	    (enum lws_write_protocol)flags);
	free(hello);
	if (n < 0 || (size_t)n < chunk) {
		printf("error %d \"write failed\"\n", a->idx);
		return -1;
	}
	a->off += chunk;
	if (last) {
		if (!s->o.quiet)
			printf("sent %d %s bytes=%zu\n", a->idx, what, len);
		a->off = 0;
		a->step++;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int
sim_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct sim *s = the_sim;
	struct sim_agent *a = lws_get_opaque_user_data(wsi);
	char esc[256];

	(void)user;
	if (s == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (a == NULL)
			return -1;
		a->state = ST_OPEN;
		a->opened = true;
		s->connected++;
		if (!s->o.quiet)
			printf("connected %d host=%s\n", a->idx, a->name);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (a == NULL)
			return -1;
		if (a->want_close) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL,
			    (unsigned char *)"bye", 3);
			return -1;
		}
		return send_next(s, a, wsi);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (a != NULL && !s->o.quiet)
			printf("received %d bytes=%zu \"%s\"\n", a->idx, len,
			    text_escape(in, len < 200 ? len : 200, esc,
			    sizeof(esc)));
		if (a != NULL && in != NULL && lws_is_first_fragment(wsi) &&
		    lws_is_final_fragment(wsi))
			on_action(s, a, in, len);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (a != NULL) {
			const unsigned char *p = in;

			a->peer_closed = true;
			a->close_code = 1005;
			if (p != NULL && len >= 2) {
				a->close_code = (p[0] << 8) | p[1];
				(void)text_escape(p + 2, len - 2,
				    a->close_reason, sizeof(a->close_reason));
			}
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (a != NULL && a->state != ST_DONE) {
			a->failed = true;
			s->errors++;
			printf("error %d \"%s\"%s%s%s\n", a->idx,
			    in != NULL ? text_escape(in, strnlen(in, 200),
			    esc, sizeof(esc)) : "connection failed",
			    a->alert[0] != '\0' ? " alert=\"" : "", a->alert,
			    a->alert[0] != '\0' ? "\"" : "");
			finish(s, a);
		}
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		/*
		 * In TLS 1.3 the server judges our certificate after our
		 * side of the handshake is done: its refusal may then end
		 * the connection while the upgrade waits for an answer.
		 */
		if (a != NULL && a->state != ST_DONE && !a->opened) {
			a->failed = true;
			s->errors++;
			printf("error %d \"closed before the WebSocket opened\""
			    "%s%s%s\n", a->idx,
			    a->alert[0] != '\0' ? " alert=\"" : "", a->alert,
			    a->alert[0] != '\0' ? "\"" : "");
			finish(s, a);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (a != NULL && a->state != ST_DONE) {
			s->closed++;
			if (a->peer_closed)
				printf("closed %d code=%d reason=\"%s\"\n",
				    a->idx, a->close_code, a->close_reason);
			else if (a->want_close && !s->o.quiet)
				printf("closed %d code=1000 by=client\n",
				    a->idx);
			else if (!a->want_close)
				printf("closed %d code=1006 reason=\"\"\n",
				    a->idx);
			finish(s, a);
		}
		return 0;
	default:
		return 0;
	}
}

static void
launch(struct sim *s, struct sim_agent *a)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = s->lws;
	ci.address = s->o.address != NULL ? s->o.address : s->host;
	ci.port = s->port;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.path = s->path;
	ci.host = s->host;
	ci.origin = s->host;
	ci.protocol = "signet.v1";
	ci.alpn = "http/1.1";
	ci.opaque_user_data = a;
	ci.pwsi = &a->wsi;
	a->state = ST_CONNECTING;
	a->started = true;
	s->launched++;
	if (lws_client_connect_via_info(&ci) == NULL && a->state != ST_DONE) {
		a->failed = true;
		s->errors++;
		printf("error %d \"cannot start the connection\"\n", a->idx);
		finish(s, a);
	}
}

/* Every agent has sent all it had to, or is done. */
static bool
all_sent(const struct sim *s)
{
	size_t i;

	if (s->launched < s->nagents)
		return false;
	for (i = 0; i < s->nagents; i++)
		if (s->agents[i].state != ST_DONE &&
		    (s->agents[i].state != ST_OPEN || s->agents[i].step < 3))
			return false;
	return true;
}

static void
tick(lws_sorted_usec_list_t *sul)
{
	struct sim *s = lws_container_of(sul, struct sim, tick);
	int64_t now = clock_mono_ms();
	size_t i, j;

	for (i = 0; i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];

		for (j = 0; a->state == ST_OPEN && a->wsi != NULL &&
		    j < a->nresults; j++) {
			if (a->results[j].due_ms <= now) {
				lws_callback_on_writable(a->wsi);
				break;
			}
		}
	}
	lws_sul_schedule(s->lws, 0, &s->tick, tick, SIM_TICK_US);
}

static void
raise_nofile(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want + 64)
		fprintf(stderr, "agent_sim: open files limited to %llu, fewer "
		    "than %zu agents may fit\n",
		    (unsigned long long)rl.rlim_cur, want);
}

static void
lws_quiet(int level, const char *line)
{
	(void)level;
	(void)line;
}

static int
run(struct sim *s)
{
	struct lws_context_creation_info info;
	struct lws_protocols protocols[2];
	size_t i, maxlen;
	int64_t now, allowed;
	bool all_open_closed;

	if (parse_url(s) != 0) {
		fprintf(stderr, "agent_sim: --url: expected wss://HOST:PORT\n");
		return SIM_USAGE;
	}
	s->nagents = (size_t)s->o.count;
	s->agents = calloc(s->nagents, sizeof(*s->agents));
	if (s->agents == NULL)
		return SIM_SETUP;
	for (i = 0; i < s->nagents; i++)
		if (setup_agent(s, i) != 0)
			return SIM_SETUP;
	if (s->o.containers > 0 && build_inventory(s) != 0)
		return SIM_SETUP;
	if (parse_answers(s) != 0 || load_answer_keys(s) != 0)
		return SIM_SETUP;
	if (s->o.inventory_file != NULL &&
	    read_file(s->o.inventory_file, &s->inventory, &s->inventory_len) !=
	    0)
		return SIM_SETUP;
	if (s->o.raw_file != NULL &&
	    read_file(s->o.raw_file, &s->raw, &s->raw_len) != 0)
		return SIM_SETUP;
	maxlen = 4096;
	if (s->inventory_len > maxlen)
		maxlen = s->inventory_len;
	if (s->raw_len > maxlen)
		maxlen = s->raw_len;
	s->scratch_len = LWS_PRE + maxlen;
	s->scratch = malloc(s->scratch_len);
	if (s->scratch == NULL)
		return SIM_SETUP;
	raise_nofile(s->nagents);

	s->ssl = SSL_CTX_new(TLS_client_method());
	if (s->ssl == NULL ||
	    SSL_CTX_set_min_proto_version(s->ssl, TLS1_2_VERSION) != 1 ||
	    (s->o.tls12 &&
	    SSL_CTX_set_max_proto_version(s->ssl, TLS1_2_VERSION) != 1) ||
	    SSL_CTX_load_verify_locations(s->ssl, s->o.ca, NULL) != 1) {
		fprintf(stderr, "agent_sim: TLS context (CA %s) failed\n",
		    s->o.ca);
		return SIM_SETUP;
	}
	SSL_CTX_set_verify(s->ssl, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_client_cert_cb(s->ssl, client_cert_cb);
	SSL_CTX_set_info_callback(s->ssl, info_cb);

	memset(protocols, 0, sizeof(protocols));
	protocols[0].name = "signet.v1";
	protocols[0].callback = sim_callback;
	protocols[0].rx_buffer_size = 65536;
	/* epoll through libev, as the hub: poll() over N sockets is O(N). */
	s->loop = ev_loop_new(EVBACKEND_EPOLL);
	if (s->loop == NULL) {
		fprintf(stderr, "agent_sim: cannot make an epoll loop\n");
		return SIM_SETUP;
	}
	s->foreign_loops[0] = s->loop;
	memset(&info, 0, sizeof(info));
	info.foreign_loops = s->foreign_loops;
	info.options = LWS_SERVER_OPTION_LIBEV |
	    LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.provided_client_ssl_ctx = s->ssl;
	info.alpn = "http/1.1";
	info.timeout_secs = 20;
	info.connect_timeout_secs = 20;
	info.fd_limit_per_thread = (unsigned)(s->nagents + 64);
	lws_set_log_level(0, lws_quiet);
	s->lws = lws_create_context(&info);
	if (s->lws == NULL) {
		fprintf(stderr, "agent_sim: cannot create the lws context\n");
		return SIM_SETUP;
	}
	lws_sul_schedule(s->lws, 0, &s->tick, tick, SIM_TICK_US);

	printf("ready agents=%zu\n", s->nagents);
	(void)fflush(stdout);
	s->start_ms = clock_mono_ms();
	for (;;) {
		now = clock_mono_ms();
		allowed = (int64_t)s->nagents;
		if (s->o.rate > 0)
			allowed = 1 + (now - s->start_ms) * s->o.rate / 1000;
		if (s->o.inflight > 0 && allowed > (int64_t)(s->connected +
		    s->errors) + s->o.inflight)
			allowed = (int64_t)(s->connected + s->errors) +
			    s->o.inflight;
		while (!s->closing && s->launched < s->nagents &&
		    (int64_t)s->launched < allowed)
			launch(s, &s->agents[s->launched]);
		if (s->done == s->nagents)
			break;
		if (!s->closing && (got_signal != 0 || (s->o.duration > 0 &&
		    now - s->start_ms >= s->o.duration * 1000))) {
			s->closing = true;
			s->close_at_ms = now;
			for (i = 0; i < s->nagents; i++) {
				struct sim_agent *a = &s->agents[i];

				if (a->state == ST_IDLE) {
					finish(s, a);
				} else if (a->wsi != NULL) {
					a->want_close = true;
					if (a->state == ST_OPEN)
						lws_callback_on_writable(
						    a->wsi);
				}
			}
		}
		if (s->o.freeze > 0 && !s->frozen && !s->closing &&
		    all_sent(s)) {
			struct timespec ts = { .tv_sec = s->o.freeze };

			s->frozen = true;
			if (!s->o.quiet)
				printf("frozen for %ld s\n", s->o.freeze);
			(void)fflush(stdout);
			while (nanosleep(&ts, &ts) != 0 && got_signal == 0)
				continue;
		}
		all_open_closed = s->closing &&
		    now - s->close_at_ms > SIM_CLOSE_GRACE_MS;
		if (all_open_closed)
			break;
		if (!ev_run(s->loop, EVRUN_ONCE))
			break;
		(void)fflush(stdout);
	}
	lws_sul_cancel(&s->tick);
	for (i = 0; i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];

		if (a->started && !a->opened && !a->failed) {
			a->failed = true;
			s->errors++;
			printf("error %d \"no answer\"\n", a->idx);
		}
	}
	printf("summary agents=%zu connected=%zu closed=%zu errors=%zu\n",
	    s->nagents, s->connected, s->closed, s->errors);
	for (i = 0; i < s->nagents; i++)
		if (!s->agents[i].opened)
			return SIM_FAILED;
	return SIM_OK;
}

int
main(int argc, char **argv)
{
	struct sim s;
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	log_init("agent_sim", LOG_LVL_WARN);
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "agent_sim: cannot initialise libsodium\n");
		return SIM_SETUP;
	}
	if (parse_args(argc, argv, &s.o) != 0) {
		usage(stderr);
		return SIM_USAGE;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGTERM, on_signal);
	(void)signal(SIGINT, on_signal);
	the_sim = &s;
	rc = run(&s);
	the_sim = NULL;                /* nothing more is reported */
	if (s.lws != NULL)
		lws_context_destroy(s.lws);
	if (s.loop != NULL)
		ev_loop_destroy(s.loop);
	SSL_CTX_free(s.ssl);
	for (i = 0; s.agents != NULL && i < s.nagents; i++) {
		X509_free(s.agents[i].cert);
		EVP_PKEY_free(s.agents[i].pkey);
	}
	for (i = 0; s.agents != NULL && i < s.nagents; i++) {
		size_t j;

		for (j = 0; j < s.agents[i].nresults; j++)
			free(s.agents[i].results[j].frame);
	}
	if (s.rkey != NULL)
		sodium_free(s.rkey);
	free(s.apub);
	free(s.agents);
	free(s.inventory);
	free(s.raw);
	free(s.scratch);
	(void)fflush(stdout);
	return rc;
}
