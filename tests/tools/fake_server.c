/* SPDX-License-Identifier: ISC */
/*
 * fake_server: a test-only peer that plays the signet server for the
 * agent's action tests. A libwebsockets WSS listener on loopback (TLS 1.3
 * only, a client certificate chaining to --ca required, subprotocol
 * signet.v1) that accepts the real signet-agent, sends it a challenge,
 * checks its hello against --agent-pub, prints every frame it
 * receives (action results verified under the agent's result key) and sends
 * the frames it is told to: actions it signs with --action-key through the
 * project's own envelope code (or with another key, for the hostile
 * cases), raw bytes from files, or the last action again.
 *
 * usage: fake_server --port N --ca FILE --cert FILE --key FILE
 *            --action-key FILE.key --agent-pub FILE.pub
 *            [--commands FILE] [--max-seconds N] [--no-ack] [COMMAND...]
 *
 * Commands run in order once an agent has said hello (and from then on as
 * they come): those on the command line first, each starting with --send-*
 * (e.g. --send-action ID RESTART --reason "x"), then the lines of --commands
 * (a FIFO, or "-" for stdin), one command a line, words split on blanks,
 * "double quotes" group:
 *   action ID START|STOP|RESTART|NAME [--reason R] [--operator U]
 *          [--expired] [--future] [--lifetime SECONDS] [--host H]
 *          [--key FILE.key] [--key-id K] [--bad-sig] [--save FILE]
 *          [--id ACTION_ID]
 *              a signed action for container ID (defaults: reason
 *              "signet test", operator alice, valid for 120 s from now);
 *              --expired: issued 400 s ago, expired 100 s ago; --future:
 *              issued 120 s ahead; --key signs with another key (its id
 *              unless --key-id); --save writes the frame to FILE;
 *              --id: this action_id (32 hex) instead of a random one
 *   signed FILE [--key FILE.key] [--key-id K]
 *              the bytes of FILE as a payload, signed, in an action frame
 *   raw FILE   the bytes of FILE as one text message
 *   roster FILE  a roster frame carrying FILE's bytes (a signed roster
 *              file, or anything) in base64
 *   replay-last  the last action frame again, byte for byte
 *   close      close the agent's connection (it redials)
 *   acks on|off  answer verified results with a result_ack (the default,
 *              unless --no-ack) or not
 *   quit       exit 0
 *
 * stdout, one line per event:
 *   listening port=N
 *   connected peer=CN
 *   hello host_id=H result_key_id=K agent_version=V docker_version=D
 *          proof=ok                 (signed with --agent-pub's key over the
 *                                    challenge sent when it connected)
 *   hello refused why="..."         (a first message that is not that)
 *   inventory containers=N bytes=N
 *   result action_id=I status=S error="E" docker_status=N container=C
 *          action=A sig=ok request=match|mismatch|unknown
 *          result_sha256=H          (of the signed result's payload bytes)
 *   result sig=BAD why="..."        (a result that does not verify)
 *   sent ack action_id=I            (the result_ack of a verified result)
 *   outcome action_id=I observed=O sig=ok   (an action_outcome)
 *   outcome sig=BAD why="..."
 *   sent outcome_ack action_id=I
 *   refused frame_sha256=H request_sha256=H|- reason="..."
 *                                   (a frame_refused: an action frame the
 *                                    agent could not verify)
 *   roster_status version=N sha256=H|- refused="..."
 *   policy b64_bytes=N              (the policy the agent shares)
 *                                   (which roster the agent holds, and
 *                                    why it refused the last one sent)
 *   frame bytes=N "TEXT"            (anything else, escaped)
 *   sent action action_id=I action=A container=C bytes=N
 *   sent signed|raw|replay|roster bytes=N
 *   closed
 *   error "WHY"
 * exit: 0 on quit, SIGTERM or --max-seconds; 2 usage; 3 setup failed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "envelope.h"
#include "fileio.h"
#include "jsonx.h"
#include "keys.h"
#include "outcome.h"
#include "text.h"
#include "wire.h"

#define FS_RX_MAX (1024 * 1024)
#define FS_TX_MAX 64
#define FS_FRAGMENT 16384
#define FS_CMDS_MAX 256
#define FS_WORDS_MAX 32
#define FS_LINE_MAX 4096
#define FS_FILE_MAX (1024 * 1024)
#define FS_SENT_MAX 512

struct conn {
	struct lws *wsi;
	uint8_t challenge[WIRE_CHALLENGE_LEN]; /* sent when it opened */
	bool hello;
	char *rx;
	size_t rx_len;
	bool rx_over;
	char *tx[FS_TX_MAX];
	size_t tx_len[FS_TX_MAX];
	size_t tx_head, tx_count, tx_off;
	struct conn *next;
};

struct sent {
	char action_id[33];
	char sha[65];
};

static struct {
	struct lws_context *ctx;
	struct keys_secret action_key;
	struct keys_public agent_pub;
	struct conn *conns;
	struct conn *cur; /* the one that said hello last */
	pthread_mutex_t mu;
	bool ctx_alive;          /* under mu: ctx may be woken */
	char *cmds[FS_CMDS_MAX]; /* under mu */
	size_t cmd_head, cmd_count;
	bool cmds_eof;
	char *last_action; /* the last action frame */
	size_t last_len;
	struct sent sent[FS_SENT_MAX];
	size_t nsent;
	volatile sig_atomic_t stop;
	bool quit;
	bool no_ack; /* --no-ack, or "acks off" */
} fs;

static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)putchar('\n');
	(void)fflush(stdout);
}

static void
error_line(const char *why)
{
	char esc[600];

	say("error \"%s\"", text_escape_str(why, esc, sizeof(esc)));
}

/* ---- commands ---- */

static bool
push_cmd(char *line)
{
	bool ok = false;

	if (pthread_mutex_lock(&fs.mu) != 0)
		return false;
	if (fs.cmd_count < FS_CMDS_MAX) {
		fs.cmds[(fs.cmd_head + fs.cmd_count) % FS_CMDS_MAX] = line;
		fs.cmd_count++;
		ok = true;
	}
	if (fs.ctx_alive)
		lws_cancel_service(fs.ctx);
	(void)pthread_mutex_unlock(&fs.mu);
	return ok;
}

static char *
pop_cmd(void)
{
	char *line = NULL;

	if (pthread_mutex_lock(&fs.mu) != 0)
		return NULL;
	if (fs.cmd_count > 0) {
		line = fs.cmds[fs.cmd_head];
		fs.cmd_head = (fs.cmd_head + 1) % FS_CMDS_MAX;
		fs.cmd_count--;
	}
	(void)pthread_mutex_unlock(&fs.mu);
	return line;
}

static void *
reader_main(void *arg)
{
	const char *path = arg;
	char buf[FS_LINE_MAX];
	FILE *f;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL) {
		error_line("cannot open the commands file");
		return NULL;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *line;
		size_t n = strcspn(buf, "\r\n");

		buf[n] = '\0';
		if (n == 0)
			continue;
		line = strdup(buf);
		if (line == NULL || !push_cmd(line)) {
			free(line);
			error_line("command queue full");
		}
	}
	if (f != stdin)
		(void)fclose(f);
	return NULL;
}

/* Splits line in place into words ("..." groups). Returns the count. */
static int
split_words(char *line, char *words[], int max)
{
	int n = 0;
	char *p = line, *w;

	while (*p != '\0' && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p == '"') {
			w = ++p;
			while (*p != '\0' && *p != '"')
				p++;
		} else {
			w = p;
			while (*p != '\0' && *p != ' ' && *p != '\t')
				p++;
		}
		if (*p != '\0')
			*p++ = '\0';
		words[n++] = w;
	}
	return n;
}

/* ---- sending ---- */

static void
queue_frame(struct conn *c, char *data, size_t len)
{
	if (c == NULL || c->tx_count == FS_TX_MAX) {
		error_line("no agent connected, or its queue is full");
		free(data);
		return;
	}
	c->tx[(c->tx_head + c->tx_count) % FS_TX_MAX] = data;
	c->tx_len[(c->tx_head + c->tx_count) % FS_TX_MAX] = len;
	c->tx_count++;
	lws_callback_on_writable(c->wsi);
}

static char *
dup_bytes(const char *p, size_t len)
{
	char *d = malloc(len + 1);

	if (d != NULL) {
		memcpy(d, p, len);
		d[len] = '\0';
	}
	return d;
}

static void
remember(const char *action_id, const void *payload, size_t len)
{
	struct sent *s = &fs.sent[fs.nsent % FS_SENT_MAX];

	memcpy(s->action_id, action_id, 33);
	envelope_sha256_hex(payload, len, s->sha);
	fs.nsent++;
}

static const char *
request_match(const char *action_id, const char *sha)
{
	size_t i, n = fs.nsent < FS_SENT_MAX ? fs.nsent : FS_SENT_MAX;

	for (i = 0; i < n; i++) {
		if (strcmp(fs.sent[i].action_id, action_id) == 0)
			return strcmp(fs.sent[i].sha, sha) == 0 ? "match" :
			                                          "mismatch";
	}
	return "unknown";
}

static char *
action_frame(const char *payload_b64, const char *sig_b64, const char *kid)
{
	char *s = NULL;
	size_t len;

	if (wire_build_action(payload_b64, sig_b64, kid, &s, &len) != 0)
		return NULL;
	return s;
}

static void
keep_last(const char *frame, size_t len)
{
	free(fs.last_action);
	fs.last_action = dup_bytes(frame, len);
	fs.last_len = fs.last_action != NULL ? len : 0;
}

static int
load_key(const char *path, struct keys_secret *key)
{
	struct err_msg m;

	if (keys_load_secret(path, key, &m) != 0) {
		error_line(m.text);
		return -1;
	}
	return 0;
}

static void
cmd_action(int argc, char **argv)
{
	struct envelope_action_payload a;
	struct envelope env = { NULL, NULL, "" };
	struct keys_secret other;
	const struct keys_secret *key = &fs.action_key;
	const char *kid = NULL, *save = NULL;
	uint8_t rnd[16];
	char *frame = NULL, *json = NULL;
	bool bad_sig = false;
	int64_t now = now_ms(), life;
	int i;

	memset(&other, 0, sizeof(other));
	if (argc < 3 || !text_is_hex(argv[1], 64)) {
		error_line("action ID(64 hex) ACTION [options]");
		return;
	}
	memset(&a, 0, sizeof(a));
	randombytes_buf(rnd, sizeof(rnd));
	(void)text_hex(rnd, sizeof(rnd), a.action_id);
	memcpy(a.container_id, argv[1], 65);
	a.action = envelope_action_parse(argv[2]);
	(void)snprintf(a.host_id, sizeof(a.host_id), "web-01");
	(void)snprintf(a.reason, sizeof(a.reason), "signet test");
	(void)snprintf(a.requested_by, sizeof(a.requested_by), "alice");
	a.issued_at = now;
	a.expires_at = now + 120000;
	for (i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--expired") == 0) {
			a.issued_at = now - 400000;
			a.expires_at = now - 100000;
		} else if (strcmp(argv[i], "--future") == 0) {
			a.issued_at = now + 120000;
			a.expires_at = now + 240000;
		} else if (strcmp(argv[i], "--bad-sig") == 0) {
			bad_sig = true;
		} else if (v == NULL) {
			error_line("option without a value");
			goto out;
		} else if (strcmp(argv[i], "--reason") == 0) {
			(void)snprintf(a.reason, sizeof(a.reason), "%s", v);
			i++;
		} else if (strcmp(argv[i], "--operator") == 0) {
			(void)snprintf(a.requested_by, sizeof(a.requested_by),
			    "%s", v);
			i++;
		} else if (strcmp(argv[i], "--host") == 0) {
			(void)snprintf(a.host_id, sizeof(a.host_id), "%s", v);
			i++;
		} else if (strcmp(argv[i], "--id") == 0) {
			if (!text_is_hex(v, 32)) {
				error_line(
				    "--id takes 32 lowercase hex digits");
				goto out;
			}
			memcpy(a.action_id, v, 33);
			i++;
		} else if (strcmp(argv[i], "--lifetime") == 0) {
			if (text_to_int64(v, 0, 86400, &life) != 0) {
				error_line("--lifetime takes seconds");
				goto out;
			}
			a.issued_at = now;
			a.expires_at = now + life * 1000;
			i++;
		} else if (strcmp(argv[i], "--key") == 0) {
			if (load_key(v, &other) != 0)
				goto out;
			key = &other;
			i++;
		} else if (strcmp(argv[i], "--key-id") == 0) {
			kid = v;
			i++;
		} else if (strcmp(argv[i], "--save") == 0) {
			save = v;
			i++;
		} else {
			error_line("unknown action option");
			goto out;
		}
	}
	if (a.action == ENVELOPE_ACTION_NONE) {
		/* An unknown action name: built by hand, then signed. */
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "v", 1);
		cJSON_AddStringToObject(o, "action_id", a.action_id);
		cJSON_AddStringToObject(o, "host_id", a.host_id);
		cJSON_AddStringToObject(o, "container_id", a.container_id);
		cJSON_AddStringToObject(o, "action", argv[2]);
		cJSON_AddStringToObject(o, "reason", a.reason);
		cJSON_AddStringToObject(o, "requested_by", a.requested_by);
		cJSON_AddNumberToObject(o, "issued_at", (double)a.issued_at);
		cJSON_AddNumberToObject(o, "expires_at", (double)a.expires_at);
		json = jsonx_print(o);
		cJSON_Delete(o);
		if (json == NULL ||
		    envelope_sign(ENVELOPE_CTX_ACTION, json, strlen(json), key,
		        &env) != 0) {
			error_line("cannot sign");
			goto out;
		}
	} else if (envelope_action_sign(&a, key, &env) != 0) {
		error_line("cannot sign");
		goto out;
	} else if (envelope_action_encode(&a, &json) != 0) {
		error_line("cannot encode");
		goto out;
	}
	remember(a.action_id, json, strlen(json));
	if (bad_sig)
		env.sig_b64[5] = env.sig_b64[5] == 'A' ? 'B' : 'A';
	frame = action_frame(env.payload_b64, env.sig_b64,
	    kid != NULL ? kid : env.key_id);
	if (frame == NULL) {
		error_line("out of memory");
		goto out;
	}
	if (save != NULL) {
		FILE *f = fopen(save, "w");

		if (f == NULL || fputs(frame, f) < 0 || fclose(f) != 0)
			error_line("cannot save the frame");
	}
	keep_last(frame, strlen(frame));
	say("sent action action_id=%s action=%s container=%s bytes=%zu",
	    a.action_id, argv[2], a.container_id, strlen(frame));
	queue_frame(fs.cur, frame, strlen(frame));
	frame = NULL;
out:
	keys_secret_wipe(&other);
	envelope_free(&env);
	free(json);
	free(frame);
}

static char *
read_file(const char *path, size_t *len)
{
	struct err_msg m;
	char *buf = NULL;

	if (fileio_read_alloc(path, FS_FILE_MAX, &buf, len, &m) != 0) {
		error_line(m.text);
		return NULL;
	}
	return buf;
}

static void
cmd_signed(int argc, char **argv)
{
	struct envelope env = { NULL, NULL, "" };
	struct keys_secret other;
	const struct keys_secret *key = &fs.action_key;
	const char *kid = NULL;
	char *payload = NULL, *frame = NULL;
	size_t len = 0;
	int i;

	memset(&other, 0, sizeof(other));
	if (argc < 2) {
		error_line("signed FILE [--key FILE] [--key-id K]");
		return;
	}
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--key") == 0) {
			if (load_key(argv[i + 1], &other) != 0)
				goto out;
			key = &other;
		} else if (strcmp(argv[i], "--key-id") == 0) {
			kid = argv[i + 1];
		}
	}
	payload = read_file(argv[1], &len);
	if (payload == NULL)
		goto out;
	while (
	    len > 0 && (payload[len - 1] == '\n' || payload[len - 1] == '\r'))
		len--;
	if (envelope_sign(ENVELOPE_CTX_ACTION, payload, len, key, &env) != 0) {
		error_line("cannot sign (empty, or over 16 KiB)");
		goto out;
	}
	frame = action_frame(env.payload_b64, env.sig_b64,
	    kid != NULL ? kid : env.key_id);
	if (frame == NULL)
		goto out;
	keep_last(frame, strlen(frame));
	say("sent signed bytes=%zu", strlen(frame));
	queue_frame(fs.cur, frame, strlen(frame));
	frame = NULL;
out:
	keys_secret_wipe(&other);
	envelope_free(&env);
	free(payload);
	free(frame);
}

/* A roster frame carrying the bytes of path, base64. */
static void
cmd_roster(const char *path)
{
	char *buf = NULL, *b64 = NULL, *frame = NULL;
	size_t len = 0, b64_len, flen = 0;

	buf = read_file(path, &len);
	if (buf == NULL)
		return;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	b64_len = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL);
	b64 = malloc(b64_len);
	if (b64 == NULL || len == 0) {
		error_line("out of memory, or an empty file");
		goto out;
	}
	sodium_bin2base64(b64, b64_len, (const unsigned char *)buf, len,
	    sodium_base64_VARIANT_ORIGINAL);
	if (wire_build_roster(b64, &frame, &flen) != 0) {
		error_line("cannot build a roster frame");
		goto out;
	}
	say("sent roster bytes=%zu", flen);
	queue_frame(fs.cur, frame, flen);
	frame = NULL;
out:
	free(frame);
	free(b64);
	free(buf);
}

static void
run_command(char *line)
{
	char *words[FS_WORDS_MAX];
	const char *cmd;
	char *buf;
	size_t len = 0;
	int n;

	n = split_words(line, words, FS_WORDS_MAX);
	if (n == 0)
		return;
	cmd = words[0];
	/* Command-line forms: --send-action, --send-raw, ... */
	if (strncmp(cmd, "--send-", 7) == 0)
		cmd += 7;
	else if (strncmp(cmd, "--", 2) == 0)
		cmd += 2;
	if (strcmp(cmd, "action") == 0) {
		cmd_action(n, words);
	} else if (strcmp(cmd, "signed") == 0) {
		cmd_signed(n, words);
	} else if (strcmp(cmd, "raw") == 0 && n == 2) {
		buf = read_file(words[1], &len);
		if (buf == NULL)
			return;
		say("sent raw bytes=%zu", len);
		queue_frame(fs.cur, buf, len);
	} else if (strcmp(cmd, "roster") == 0 && n == 2) {
		cmd_roster(words[1]);
	} else if (strcmp(cmd, "replay-last") == 0) {
		if (fs.last_action == NULL) {
			error_line("no action sent yet");
			return;
		}
		buf = dup_bytes(fs.last_action, fs.last_len);
		if (buf == NULL)
			return;
		say("sent replay bytes=%zu", fs.last_len);
		queue_frame(fs.cur, buf, fs.last_len);
	} else if (strcmp(cmd, "close") == 0) {
		if (fs.cur != NULL) {
			lws_set_timeout(fs.cur->wsi, PENDING_TIMEOUT_CLOSE_SEND,
			    LWS_TO_KILL_ASYNC);
			fs.cur = NULL;
		}
	} else if (strcmp(cmd, "quit") == 0) {
		fs.quit = true;
	} else if (strcmp(cmd, "acks") == 0 && n == 2 &&
	    (strcmp(words[1], "on") == 0 || strcmp(words[1], "off") == 0)) {
		fs.no_ack = strcmp(words[1], "off") == 0;
	} else {
		error_line("unknown command");
	}
}

/* Runs the queued commands while an agent is there to take them. */
static void
run_commands(void)
{
	char *line;

	while (fs.cur != NULL && fs.cur->hello && !fs.quit) {
		line = pop_cmd();
		if (line == NULL)
			break;
		run_command(line);
		free(line);
	}
}

/* ---- receiving ---- */

/* A verified result: acknowledged unless --no-ack or "acks off". */
static void
on_result(struct conn *c, const struct wire_frame *f)
{
	struct envelope_result_payload res;
	struct wire_result_ack ack;
	struct err_msg m;
	char esc[ENVELOPE_ERROR_BYTES * 4 + 1], why[600], rsha[65],
	    *text = NULL;
	uint8_t *raw = NULL;
	size_t raw_len = 0, len = 0;

	if (envelope_result_verify(&fs.agent_pub, f->payload_b64, f->sig_b64,
	        &res, &raw, &raw_len, &m) != 0) {
		say("result sig=BAD why=\"%s\"",
		    text_escape_str(m.text, why, sizeof(why)));
		return;
	}
	envelope_sha256_hex(raw, raw_len, rsha);
	free(raw);
	say("result action_id=%s status=%s error=\"%s\" docker_status=%lld "
	    "container=%s action=%s host_id=%s sig=ok request=%s "
	    "result_sha256=%s",
	    res.action_id, envelope_status_name(res.status),
	    res.has_error ? text_escape_str(res.error, esc, sizeof(esc)) : "",
	    (long long)res.docker_status, res.container_id,
	    envelope_action_name(res.action), res.host_id,
	    request_match(res.action_id, res.request_sha256), rsha);
	if (fs.no_ack)
		return;
	memcpy(ack.action_id, res.action_id, sizeof(ack.action_id));
	memcpy(ack.request_sha256, res.request_sha256,
	    sizeof(ack.request_sha256));
	if (wire_build_result_ack(&ack, &text, &len) != 0) {
		error_line("cannot build a result_ack");
		return;
	}
	queue_frame(c, text, len);
	say("sent ack action_id=%s", res.action_id);
}

/* A verified outcome: acknowledged unless --no-ack or "acks off". */
static void
on_outcome(struct conn *c, const struct wire_frame *f)
{
	struct outcome_payload p;
	struct wire_result_ack ack;
	struct err_msg m;
	char why[600], *text = NULL;
	size_t len = 0;

	if (outcome_verify(&fs.agent_pub, f->payload_b64, f->sig_b64, &p, NULL,
	        NULL, &m) != 0) {
		say("outcome sig=BAD why=\"%s\"",
		    text_escape_str(m.text, why, sizeof(why)));
		return;
	}
	say("outcome action_id=%s observed=%s sig=ok", p.action_id,
	    outcome_observed_name(p.observed));
	if (fs.no_ack)
		return;
	memcpy(ack.action_id, p.action_id, sizeof(ack.action_id));
	memcpy(ack.request_sha256, p.request_sha256,
	    sizeof(ack.request_sha256));
	if (wire_build_outcome_ack(&ack, &text, &len) != 0) {
		error_line("cannot build an outcome_ack");
		return;
	}
	queue_frame(c, text, len);
	say("sent outcome_ack action_id=%s", p.action_id);
}

/* What the agent sent, through the protocol's own parsers. */
static void
on_message(struct conn *c)
{
	struct wire_hello h;
	struct wire_frame f;
	struct err_msg m;
	char esc[400];

	if (!c->hello) {
		/* The first message: a hello proving --agent-pub's key. */
		err_clear(&m);
		if (wire_parse_hello(c->rx, c->rx_len, &fs.agent_pub,
		        c->challenge, &h, &m) != 0) {
			say("hello refused why=\"%s\"",
			    text_escape_str(m.text, esc, sizeof(esc)));
			return;
		}
		say("hello host_id=%s result_key_id=%s agent_version=%s "
		    "docker_version=%s proof=ok",
		    h.host_id, h.result_key_id, h.agent_version,
		    h.docker_version);
		c->hello = true;
		fs.cur = c;
		return;
	}
	if (wire_parse_agent_frame(c->rx, c->rx_len, &f, NULL) != 0) {
		say("frame bytes=%zu \"%s\"", c->rx_len,
		    text_escape(c->rx, c->rx_len, esc, sizeof(esc)));
		return;
	}
	if (f.type == WIRE_INVENTORY)
		say("inventory containers=%zu bytes=%zu", f.inv->count,
		    c->rx_len);
	else if (f.type == WIRE_ACTION_OUTCOME)
		on_outcome(c, &f);
	else if (f.type == WIRE_FRAME_REFUSED)
		say("refused frame_sha256=%s request_sha256=%s reason=\"%s\"",
		    f.refusal.frame_sha256,
		    f.refusal.request_sha256[0] != '\0' ?
		        f.refusal.request_sha256 :
		        "-",
		    text_escape_str(f.refusal.reason, esc, sizeof(esc)));
	else if (f.type == WIRE_ROSTER_STATUS)
		say("roster_status version=%lld sha256=%s refused=\"%s\"",
		    (long long)f.roster.version,
		    f.roster.sha256[0] != '\0' ? f.roster.sha256 : "-",
		    text_escape_str(f.roster.refused, esc, sizeof(esc)));
	else if (f.type == WIRE_POLICY)
		say("policy b64_bytes=%zu", strlen(f.payload_b64));
	else if (f.type == WIRE_ACTION_RESULT)
		on_result(c, &f);
	else
		say("frame type=%s bytes=%zu", wire_type_name(f.type),
		    c->rx_len);
	wire_frame_free(&f);
}

static int
on_writeable(struct conn *c)
{
	unsigned char *buf;
	size_t len, chunk;
	int flags, n;

	if (c->tx_count == 0)
		return 0;
	len = c->tx_len[c->tx_head];
	chunk = len - c->tx_off;
	if (chunk > FS_FRAGMENT)
		chunk = FS_FRAGMENT;
	buf = malloc(LWS_PRE + chunk);
	if (buf == NULL)
		return -1;
	memcpy(buf + LWS_PRE, c->tx[c->tx_head] + c->tx_off, chunk);
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, c->tx_off == 0,
	    c->tx_off + chunk == len);
	n = lws_write(c->wsi, buf + LWS_PRE, chunk,
	    (enum lws_write_protocol)flags);
	free(buf);
	if (n < 0 || (size_t)n < chunk)
		return -1;
	c->tx_off += chunk;
	if (c->tx_off == len) {
		free(c->tx[c->tx_head]);
		c->tx[c->tx_head] = NULL;
		c->tx_head = (c->tx_head + 1) % FS_TX_MAX;
		c->tx_count--;
		c->tx_off = 0;
	}
	if (c->tx_count > 0)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static void
conn_free(struct conn *c)
{
	struct conn **pp;

	for (pp = &fs.conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (fs.cur == c)
		fs.cur = NULL;
	while (c->tx_count > 0) {
		free(c->tx[c->tx_head]);
		c->tx_head = (c->tx_head + 1) % FS_TX_MAX;
		c->tx_count--;
	}
	free(c->rx);
	free(c);
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct conn **pc = user, *c = pc != NULL ? *pc : NULL;
	char cn[128];
	union lws_tls_cert_info_results ci;

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		/* len is OpenSSL's preverify_ok: refuse what it refused. */
		return len ? 0 : 1;
	case LWS_CALLBACK_ESTABLISHED:
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return -1;
		c->wsi = wsi;
		c->rx = malloc(FS_RX_MAX);
		if (c->rx == NULL) {
			free(c);
			return -1;
		}
		c->next = fs.conns;
		fs.conns = c;
		*pc = c;
		cn[0] = '\0';
		memset(&ci, 0, sizeof(ci));
		if (lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME,
		        &ci, sizeof(ci.ns.name)) == 0 &&
		    ci.ns.len > 0 && ci.ns.len < (int)sizeof(ci.ns.name))
			(void)snprintf(cn, sizeof(cn), "%.*s", ci.ns.len,
			    ci.ns.name);
		/* lws may hand the rest of the subject after the CN. */
		cn[strcspn(cn, "/,")] = '\0';
		say("connected peer=%s tls=%s", cn[0] != '\0' ? cn : "-",
		    SSL_get_version(lws_get_ssl(wsi)));
		/* The challenge first: the agent's hello is signed over it. */
		randombytes_buf(c->challenge, sizeof(c->challenge));
		{
			char *text = NULL;
			size_t tlen = 0;

			if (wire_build_challenge(c->challenge, &text, &tlen) !=
			    0)
				return -1;
			queue_frame(c, text, tlen);
		}
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL)
			return -1;
		if (lws_is_first_fragment(wsi)) {
			c->rx_len = 0;
			c->rx_over = false;
		}
		if (len > FS_RX_MAX - c->rx_len)
			c->rx_over = true;
		else {
			memcpy(c->rx + c->rx_len, in, len);
			c->rx_len += len;
		}
		if (!lws_is_final_fragment(wsi))
			return 0;
		if (c->rx_over)
			say("frame bytes=%zu \"over 1 MiB: dropped\"",
			    c->rx_len);
		else
			on_message(c);
		run_commands();
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c == NULL)
			return 0;
		return on_writeable(c);
	case LWS_CALLBACK_CLOSED:
		if (c != NULL) {
			say("closed");
			conn_free(c);
			*pc = NULL;
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED: run_commands(); return 0;
	default: break;
	}
	return 0;
}

static lws_sorted_usec_list_t tick_sul;

/* Wakes lws_service up now and then: signals, the deadline. */
static void
tick(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(fs.ctx, 0, sul, tick, 200 * LWS_US_PER_MS);
}

static void
on_signal(int sig)
{
	(void)sig;
	fs.stop = 1;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: fake_server --port N --ca FILE --cert FILE "
	    "--key FILE --action-key FILE --agent-pub FILE [--commands FILE] "
	    "[--max-seconds N] [--no-ack] [--send-action ID ACTION [opts] | "
	    "--send-signed FILE | --send-raw FILE | --send-roster FILE | "
	    "--send-replay-last]...\n");
	return 2;
}

/* Joins argv[i..] up to the next --send-* into one command line. */
static char *
join_command(int argc, char **argv, int *i)
{
	size_t cap = 1, n = 0;
	char *line;
	int j;

	for (j = *i;
	     j < argc && (j == *i || strncmp(argv[j], "--send-", 7) != 0); j++)
		cap += strlen(argv[j]) + 3;
	line = malloc(cap);
	if (line == NULL)
		return NULL;
	for (j = *i;
	     j < argc && (j == *i || strncmp(argv[j], "--send-", 7) != 0);
	     j++) {
		bool q = strchr(argv[j], ' ') != NULL;

		n += (size_t)snprintf(line + n, cap - n, "%s%s%s%s",
		    n > 0 ? " " : "", q ? "\"" : "", argv[j], q ? "\"" : "");
	}
	*i = j;
	return line;
}

int
main(int argc, char **argv)
{
	static struct lws_protocols protocols[] = { { "signet.v1", callback,
		                                        sizeof(struct conn *),
		                                        65536, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 } };
	struct lws_context_creation_info info;
	const char *ca = NULL, *cert = NULL, *key = NULL, *akey = NULL;
	const char *apub = NULL, *cmds = NULL;
	struct err_msg m;
	struct sigaction sa;
	pthread_t reader;
	bool reader_ok = false;
	int64_t port = 0, max_s = 600, deadline;
	int i, rc = 3;

	if (sodium_init() < 0 || pthread_mutex_init(&fs.mu, NULL) != 0)
		return 3;
	for (i = 1; i < argc;) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strncmp(argv[i], "--send-", 7) == 0) {
			char *line = join_command(argc, argv, &i);

			if (line == NULL || !push_cmd(line)) {
				free(line);
				return usage();
			}
			continue;
		}
		if (strcmp(argv[i], "--no-ack") == 0) {
			fs.no_ack = true;
			i++;
			continue;
		}
		if (v == NULL)
			return usage();
		if (strcmp(argv[i], "--port") == 0) {
			if (text_to_int64(v, 1, 65535, &port) != 0)
				return usage();
		} else if (strcmp(argv[i], "--ca") == 0) {
			ca = v;
		} else if (strcmp(argv[i], "--cert") == 0) {
			cert = v;
		} else if (strcmp(argv[i], "--key") == 0) {
			key = v;
		} else if (strcmp(argv[i], "--action-key") == 0) {
			akey = v;
		} else if (strcmp(argv[i], "--agent-pub") == 0) {
			apub = v;
		} else if (strcmp(argv[i], "--commands") == 0) {
			cmds = v;
		} else if (strcmp(argv[i], "--max-seconds") == 0) {
			if (text_to_int64(v, 1, 86400, &max_s) != 0)
				return usage();
		} else {
			return usage();
		}
		i += 2;
	}
	if (port == 0 || ca == NULL || cert == NULL || key == NULL ||
	    akey == NULL || apub == NULL)
		return usage();
	if (keys_load_secret(akey, &fs.action_key, &m) != 0 ||
	    keys_load_public(apub, &fs.agent_pub, &m) != 0) {
		fprintf(stderr, "fake_server: %s\n", m.text);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		goto out;
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);

	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = (int)port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
	    LWS_SERVER_OPTION_DISABLE_IPV6 |
	    LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.ssl_ca_filepath = ca;
	info.ssl_options_set = (long)(SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
	    SSL_OP_NO_TLSv1_2);
	info.alpn = "http/1.1";
	fs.ctx = lws_create_context(&info);
	if (fs.ctx == NULL) {
		fprintf(stderr, "fake_server: cannot listen on port %lld\n",
		    (long long)port);
		goto out;
	}
	if (pthread_mutex_lock(&fs.mu) != 0)
		goto out;
	fs.ctx_alive = true;
	(void)pthread_mutex_unlock(&fs.mu);
	lws_sul_schedule(fs.ctx, 0, &tick_sul, tick, 200 * LWS_US_PER_MS);
	if (cmds != NULL) {
		if (pthread_create(&reader, NULL, reader_main,
		        (void *)(uintptr_t)cmds) != 0)
			goto out;
		reader_ok = true;
		(void)pthread_detach(reader);
	}
	say("listening port=%lld", (long long)port);
	deadline = now_ms() + max_s * 1000;
	while (!fs.stop && !fs.quit && now_ms() < deadline) {
		if (lws_service(fs.ctx, 0) < 0)
			break;
	}
	rc = 0;
out:
	(void)reader_ok;
	if (pthread_mutex_lock(&fs.mu) == 0) {
		fs.ctx_alive = false;
		(void)pthread_mutex_unlock(&fs.mu);
	}
	if (fs.ctx != NULL) {
		lws_sul_cancel(&tick_sul);
		lws_context_destroy(fs.ctx);
	}
	while (fs.conns != NULL)
		conn_free(fs.conns);
	while (fs.cmd_count > 0)
		free(pop_cmd());
	free(fs.last_action);
	keys_secret_wipe(&fs.action_key);
	return rc;
}
