/* SPDX-License-Identifier: ISC */
/*
 * agent_sim: a test-only simulated signet agent (libwebsockets client,
 * mutual TLS) for the hub's integration tests and load benchmarks. It
 * verifies the server certificate against --ca and the server name from
 * --url, says hello, sends an inventory and/or a raw frame, then stays
 * connected and reports what happens. One process can run many agents,
 * each with its own certificate (all in one SSL_CTX: each connection's
 * certificate is handed out by a client-certificate callback). With
 * several --url (a cluster's replicas) or --reconnect, an agent whose
 * connection ends dials the next URL after a full-jitter backoff, says
 * hello again and resends its inventory, and a drain frame from the
 * server makes it leave for the next URL, as the real agent does
 * (agent_sim/redial.c).
 *
 * usage: agent_sim --url wss://HOST:PORT[/PATH] [--url ...] --ca FILE
 *        [options]
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
 *   --hello-sig MODE          how the hello proves the result key: key
 *                             (default: signed with it, over the server's
 *                             challenge), wrong (with a key of its own),
 *                             none (no sig), stale (over another challenge)
 *   --hello-key FILE          the result secret key the hello is signed
 *                             with (default with --pki: DIR/keys/agents/
 *                             NAME.key; needed with --cert)
 *   --audit-head SEQ:HASH     the hello carries this audit head, as an
 *                             agent that anchors (docs/protocol.md)
 *  then:
 *   --containers N            an inventory of N synthetic containers,
 *                             their ids each agent's own (its number,
 *                             --first + index, in them)
 *   --inventory FILE          the inventory frame in FILE, sent as is
 *   --raw FILE                then the bytes of FILE as one message
 *                             (the first one with --no-hello)
 *   --binary                  send --raw as a binary message
 *   --fragment BYTES          send each message in frames of BYTES
 *  run:
 *   --url U                   a server; again for more (at most 8): agent
 *                             I starts at URL I mod their number
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
 *   --quiet                   report only errors, server closes,
 *                             reconnections, summary
 *  reconnection (on with a second --url, --reconnect or either bound):
 *   --reconnect               an agent whose connection ends (closed,
 *                             refused, failed) dials the next URL after a
 *                             delay in [0, ceiling): the ceiling is
 *                             --reconnect-min-ms for the first round of
 *                             URLs after a good connection, doubled for
 *                             each further round, at most
 *                             --reconnect-max-ms (defaults 500, 30000)
 *   --reconnect-min-ms N, --reconnect-max-ms N   (1..3600000)
 *   --status-file FILE        the status line (below), rewritten in FILE
 *                             every 100 ms (FILE.tmp, then renamed)
 *  SIGUSR1 prints the status line.
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
 *   connected I host=H              the WebSocket is open (the hello
 *                                   waits for the server's challenge)
 *   sent I hello|inventory|raw bytes=N
 *   received I bytes=N "TEXT"       a message from the server (escaped)
 *   action I action_id=ID action=A container=C requested_by=U
 *                                   an action frame (decoded)
 *   sent I result action_id=ID status=S [copy=2]
 *   checkpoint_ack I size=N         the server holds this checkpoint size
 *   closed I code=N reason="TEXT"   the server closed it (code 1006:
 *                                   the connection ended without a
 *                                   close frame)
 *   closed I code=1000 by=client    we closed it (--duration, signal)
 *   closed I code=1000 by=drain     we left it for a drain frame
 *   drain I within_ms=N leave_in_ms=D   a drain frame: leaving in D ms
 *   redial I from=U next=U in_ms=D ceiling_ms=C fails=K
 *                                   reconnection: dialling next in D ms
 *   reconnected I url=U after_ms=T attempts=K
 *                                   open again, T ms after the loss of the
 *                                   last open connection, at the K-th dial
 *                                   (also with --quiet)
 *   status ms=T agents=N open=N hello=N accepted=N connecting=N
 *          waiting=N done=N reconnects=N drains=N
 *                                   now: open (hello: its hello is out;
 *                                   accepted: the server sent
 *                                   checkpoint_ack, only with
 *                                   --audit-head), dialling, waiting to
 *                                   redial, done; totals of reconnections
 *                                   and drain frames heard
 *   error I "WHY"                   it failed before the WebSocket opened
 *                                   (TLS refused, upgrade refused, ...)
 *   summary agents=N connected=N closed=N errors=N [reconnects=N]
 *                                   connected: agents that opened at least
 *                                   once; closed, errors: connections
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
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sodium.h>

#include "agent_sim/sim.h"
#include "clock.h"
#include "envelope.h"
#include "fileio.h"
#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "text.h"

struct sim *the_sim; /* for the OpenSSL callback */
static volatile sig_atomic_t got_signal, got_usr1;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: agent_sim --url wss://HOST:PORT [--url ...] --ca FILE "
	    "(--pki DIR (--name N | --prefix P --count N [--first I]) |\n"
	    "       --cert F --key F | --no-cert) [--host-id H] "
	    "[--result-key-id K | --result-pub F]\n"
	    "       [--agent-version V] [--docker-version V] [--no-hello] "
	    "[--hello-sig key|wrong|none|stale] [--hello-key F] "
	    "[--containers N | --inventory F]\n"
	    "       [--raw F] [--binary] [--fragment BYTES] [--address A] "
	    "[--duration S] [--rate N] [--inflight N]\n"
	    "       [--freeze S] [--tls12] [--quiet]\n"
	    "       [--reconnect] [--reconnect-min-ms N] "
	    "[--reconnect-max-ms N] [--status-file F]\n"
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
		fprintf(stderr,
		    "agent_sim: %s: expected a number in "
		    "%ld..%ld\n",
		    opt, min, max);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static int
parse_hello_sig(const char *v, enum sim_hello_sig *out)
{
	static const struct {
		const char *name;
		enum sim_hello_sig sig;
	} modes[] = { { "key", SIG_KEY }, { "wrong", SIG_WRONG },
		{ "none", SIG_NONE }, { "stale", SIG_STALE } };
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(v, modes[i].name) == 0) {
			*out = modes[i].sig;
			return 0;
		}
	}
	fprintf(stderr,
	    "agent_sim: --hello-sig: \"%s\" is not key, wrong, none or "
	    "stale\n",
	    v);
	return -1;
}

static int
parse_args(int argc, char **argv, struct sim_opts *o)
{
	const char *hello_sig = NULL;
	int i;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	o->agent_version = "0.0.0-sim";
	o->reconnect_min_ms = SIM_RECONNECT_MIN_MS;
	o->reconnect_max_ms = SIM_RECONNECT_MAX_MS;
	o->docker_version = "20.10.24";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **sp = NULL;
		long *lp = NULL, lmin = 0, lmax = 0;

		if (strcmp(a, "--url") == 0) {
			if (o->nurls == SIM_URLS_MAX) {
				fprintf(stderr,
				    "agent_sim: --url: at most %d\n",
				    SIM_URLS_MAX);
				return -1;
			}
			sp = &o->urls[o->nurls++];
		} else if (strcmp(a, "--status-file") == 0)
			sp = &o->status_file;
		else if (strcmp(a, "--reconnect") == 0)
			o->reconnect = true;
		else if (strcmp(a, "--reconnect-min-ms") == 0 ||
		    strcmp(a, "--reconnect-max-ms") == 0) {
			lp = strcmp(a, "--reconnect-min-ms") == 0 ?
			    &o->reconnect_min_ms :
			    &o->reconnect_max_ms;
			lmin = 1;
			lmax = SIM_RECONNECT_LIMIT_MS;
			o->reconnect = true;
		} else if (strcmp(a, "--address") == 0)
			sp = &o->address;
		else if (strcmp(a, "--ca") == 0)
			sp = &o->ca;
		else if (strcmp(a, "--pki") == 0)
			sp = &o->pki;
		else if (strcmp(a, "--name") == 0)
			sp = &o->name;
		else if (strcmp(a, "--prefix") == 0)
			sp = &o->prefix;
		else if (strcmp(a, "--cert") == 0)
			sp = &o->cert;
		else if (strcmp(a, "--key") == 0)
			sp = &o->key;
		else if (strcmp(a, "--host-id") == 0)
			sp = &o->host_id;
		else if (strcmp(a, "--result-key-id") == 0)
			sp = &o->result_key_id;
		else if (strcmp(a, "--result-pub") == 0)
			sp = &o->result_pub;
		else if (strcmp(a, "--agent-version") == 0)
			sp = &o->agent_version;
		else if (strcmp(a, "--docker-version") == 0)
			sp = &o->docker_version;
		else if (strcmp(a, "--inventory") == 0)
			sp = &o->inventory_file;
		else if (strcmp(a, "--raw") == 0)
			sp = &o->raw_file;
		else if (strcmp(a, "--answer") == 0)
			sp = &o->answer;
		else if (strcmp(a, "--result-key") == 0)
			sp = &o->result_key;
		else if (strcmp(a, "--action-pub") == 0)
			sp = &o->action_pub;
		else if (strcmp(a, "--error") == 0)
			sp = &o->error_text;
		else if (strcmp(a, "--hello-key") == 0)
			sp = &o->hello_key;
		else if (strcmp(a, "--hello-sig") == 0)
			sp = &hello_sig;
		else if (strcmp(a, "--audit-head") == 0)
			sp = &o->audit_head;
		else if (strcmp(a, "--answer-delay") == 0) {
			lp = &o->answer_delay;
			lmin = 0;
			lmax = 3600;
		} else if (strcmp(a, "--docker-status") == 0) {
			lp = &o->docker_status;
			lmin = 0;
			lmax = 999;
			o->has_docker_status = true;
		} else if (strcmp(a, "--duplicate") == 0)
			o->duplicate = true;
		else if (strcmp(a, "--bad-sha") == 0)
			o->bad_sha = true;
		else if (strcmp(a, "--count") == 0) {
			lp = &o->count;
			lmin = 1;
			lmax = SIM_MAX_AGENTS;
		} else if (strcmp(a, "--first") == 0) {
			lp = &o->first;
			lmin = 0;
			lmax = 100000000;
		} else if (strcmp(a, "--containers") == 0) {
			lp = &o->containers;
			lmin = 0;
			lmax = SIM_MAX_CONTAINERS;
		} else if (strcmp(a, "--fragment") == 0) {
			lp = &o->fragment;
			lmin = 1;
			lmax = SIM_FILE_MAX;
		} else if (strcmp(a, "--duration") == 0) {
			lp = &o->duration;
			lmin = 0;
			lmax = 86400;
		} else if (strcmp(a, "--freeze") == 0) {
			lp = &o->freeze;
			lmin = 1;
			lmax = 3600;
		} else if (strcmp(a, "--rate") == 0) {
			lp = &o->rate;
			lmin = 1;
			lmax = 1000000;
		} else if (strcmp(a, "--inflight") == 0) {
			lp = &o->inflight;
			lmin = 1;
			lmax = 1000000;
		} else if (strcmp(a, "--no-cert") == 0)
			o->no_cert = true;
		else if (strcmp(a, "--no-hello") == 0)
			o->no_hello = true;
		else if (strcmp(a, "--binary") == 0)
			o->binary = true;
		else if (strcmp(a, "--tls12") == 0)
			o->tls12 = true;
		else if (strcmp(a, "--quiet") == 0)
			o->quiet = true;
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
	if (o->nurls == 0 || o->ca == NULL) {
		fprintf(stderr, "agent_sim: --url and --ca are required\n");
		return -1;
	}
	o->url = o->urls[0];
	if (o->nurls > 1)
		o->reconnect = true;
	if (o->reconnect_min_ms > o->reconnect_max_ms) {
		fprintf(stderr,
		    "agent_sim: --reconnect-min-ms (%ld) is over "
		    "--reconnect-max-ms (%ld)\n",
		    o->reconnect_min_ms, o->reconnect_max_ms);
		return -1;
	}
	if (hello_sig != NULL && parse_hello_sig(hello_sig, &o->hello_sig) != 0)
		return -1;
	if ((o->pki != NULL) + (o->cert != NULL) + o->no_cert != 1 ||
	    (o->pki != NULL && (o->name != NULL) == (o->prefix != NULL)) ||
	    (o->cert != NULL && o->key == NULL) ||
	    (o->prefix == NULL && o->count != 1)) {
		fprintf(stderr,
		    "agent_sim: give exactly one of --pki DIR "
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

static void
finish(struct sim *s, struct sim_agent *a)
{
	if (a->state == ST_DONE)
		return;
	sim_set_state(s, a, ST_DONE);
	a->wsi = NULL;
	s->done++;
}

/* Whether a callback for wsi is about a's current connection. */
static bool
live(const struct sim_agent *a, const struct lws *wsi)
{
	return (a->state == ST_CONNECTING || a->state == ST_OPEN) &&
	    (a->wsi == NULL || a->wsi == wsi);
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
		if (a == NULL || !live(a, wsi))
			return -1;
		a->wsi = wsi;
		sim_opened(s, a);
		if (!s->o.quiet && s->ntargets > 1)
			printf("connected %d host=%s url=%s\n", a->idx, a->name,
			    s->targets[a->cur].url);
		else if (!s->o.quiet)
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
		if (a->leaving) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL,
			    (unsigned char *)"agent leaving (drain)", 21);
			return -1;
		}
		return sim_send_next(s, a, wsi);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (a == NULL || !live(a, wsi))
			return 0;
		if (!s->o.quiet)
			printf("received %d bytes=%zu \"%s\"\n", a->idx, len,
			    text_escape(in, len < 200 ? len : 200, esc,
			        sizeof(esc)));
		if (in != NULL && lws_is_first_fragment(wsi) &&
		    lws_is_final_fragment(wsi))
			sim_on_message(s, a, in, len);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (a != NULL && live(a, wsi)) {
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
		if (a != NULL && live(a, wsi)) {
			a->failed = true;
			s->errors++;
			printf("error %d \"%s\"%s%s%s\n", a->idx,
			    in != NULL ? text_escape(in, strnlen(in, 200), esc,
			                     sizeof(esc)) :
			                 "connection failed",
			    a->alert[0] != '\0' ? " alert=\"" : "", a->alert,
			    a->alert[0] != '\0' ? "\"" : "");
			sim_lost(s, a, false);
		}
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		/*
		 * In TLS 1.3 the server judges our certificate after our
		 * side of the handshake is done: its refusal may then end
		 * the connection while the upgrade waits for an answer.
		 */
		if (a != NULL && live(a, wsi) && a->state == ST_CONNECTING) {
			a->failed = true;
			s->errors++;
			printf("error %d \"closed before the WebSocket opened\""
			       "%s%s%s\n",
			    a->idx, a->alert[0] != '\0' ? " alert=\"" : "",
			    a->alert, a->alert[0] != '\0' ? "\"" : "");
			sim_lost(s, a, false);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (a != NULL && live(a, wsi)) {
			bool was_open = a->state == ST_OPEN;

			s->closed++;
			if (a->peer_closed)
				printf("closed %d code=%d reason=\"%s\"\n",
				    a->idx, a->close_code, a->close_reason);
			else if (a->want_close && !s->o.quiet)
				printf("closed %d code=1000 by=client\n",
				    a->idx);
			else if (a->leaving && !s->o.quiet)
				printf("closed %d code=1000 by=drain\n",
				    a->idx);
			else if (!a->want_close && !a->leaving)
				printf("closed %d code=1006 reason=\"\"\n",
				    a->idx);
			sim_lost(s, a, was_open);
		}
		return 0;
	default: return 0;
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

		for (j = 0;
		     a->state == ST_OPEN && a->wsi != NULL && j < a->nresults;
		     j++) {
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
		fprintf(stderr,
		    "agent_sim: open files limited to %llu, fewer "
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
	size_t i, maxlen, cap;
	int64_t now, allowed;
	bool all_open_closed;
	char line[512];

	if (sim_parse_targets(s) != 0)
		return SIM_USAGE;
	s->nagents = (size_t)s->o.count;
	s->agents = calloc(s->nagents, sizeof(*s->agents));
	s->ready = calloc(s->nagents, sizeof(*s->ready));
	if (s->agents == NULL || s->ready == NULL)
		return SIM_SETUP;
	for (i = 0; i < s->nagents; i++)
		s->agents[i].cur = i % s->ntargets;
	s->hello_keys = sodium_allocarray(s->nagents, sizeof(*s->hello_keys));
	if (s->hello_keys == NULL)
		return SIM_SETUP;
	for (i = 0; i < s->nagents; i++)
		if (sim_setup_agent(s, i) != 0)
			return SIM_SETUP;
	if (s->o.containers > 0 && sim_build_inventory(s) != 0)
		return SIM_SETUP;
	if (sim_parse_answers(s) != 0 || sim_load_answer_keys(s) != 0)
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
	/* As signet-agent: its certificate alone, not the CA's. */
	(void)SSL_CTX_set_mode(s->ssl, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_client_cert_cb(s->ssl, sim_client_cert_cb);
	SSL_CTX_set_info_callback(s->ssl, sim_info_cb);

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
	/*
	 * No fd_limit_per_thread: with it lws finds a socket's connection by
	 * a linear search over every descriptor (a fifth of agent_sim's CPU
	 * at 10,000 agents); without it, by index, up to the open-files
	 * limit raised above.
	 */
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
	/* --inflight: dials between connect and open (or failure) at once,
	 * first dials and redials alike. */
	cap = s->o.inflight > 0 ? (size_t)s->o.inflight : SIZE_MAX;
	for (;;) {
		struct sim_agent *next;

		now = clock_mono_ms();
		allowed = (int64_t)s->nagents;
		if (s->o.rate > 0)
			allowed = 1 + (now - s->start_ms) * s->o.rate / 1000;
		while (!s->closing && s->n_connecting < cap) {
			if (s->launched < s->nagents &&
			    (int64_t)s->launched < allowed) {
				sim_dial(s, &s->agents[s->launched++]);
				continue;
			}
			next = sim_ready_pop(s);
			if (next == NULL)
				break;
			sim_dial(s, next);
		}
		if (got_usr1) {
			got_usr1 = 0;
			sim_status(s, line, sizeof(line));
			printf("%s\n", line);
		}
		if (s->o.status_file != NULL &&
		    now - s->status_at >= SIM_TICK_US / 1000) {
			s->status_at = now;
			if (sim_status_write(s) != 0)
				fprintf(stderr,
				    "agent_sim: cannot write the status "
				    "file %s\n",
				    s->o.status_file);
		}
		if (s->done == s->nagents)
			break;
		if (!s->closing &&
		    (got_signal != 0 ||
		        (s->o.duration > 0 &&
		            now - s->start_ms >= s->o.duration * 1000))) {
			s->closing = true;
			s->close_at_ms = now;
			for (i = 0; i < s->nagents; i++) {
				struct sim_agent *a = &s->agents[i];

				if (a->state == ST_IDLE ||
				    a->state == ST_WAIT) {
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
	lws_sul_cancel(&s->due);
	for (i = 0; i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];

		if (a->started && !a->opened && !a->failed) {
			a->failed = true;
			s->errors++;
			printf("error %d \"no answer\"\n", a->idx);
		}
	}
	if (s->o.reconnect)
		printf("summary agents=%zu connected=%zu closed=%zu errors=%zu "
		       "reconnects=%zu\n",
		    s->nagents, s->connected, s->closed, s->errors,
		    s->reconnects);
	else
		printf("summary agents=%zu connected=%zu closed=%zu "
		       "errors=%zu\n",
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
	(void)signal(SIGUSR1, on_signal);
	the_sim = &s;
	rc = run(&s);
	the_sim = NULL; /* nothing more is reported */
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
	if (s.hello_keys != NULL)
		sodium_free(s.hello_keys);
	free(s.apub);
	free(s.agents);
	free(s.ready);
	free(s.inventory);
	free(s.raw);
	free(s.scratch);
	(void)fflush(stdout);
	return rc;
}
