/* SPDX-License-Identifier: ISC */
/*
 * Test-only driver of the audit writer, for the tamper and crash tests:
 *   audit_tool append LOG KEY N [ACTION_KEY RESULT_KEY HOST]
 *       N records; with the three extra arguments every 10th record embeds
 *       a signed action and the next a signed result, as the server does.
 *   audit_tool loop LOG KEY          append until killed
 *   audit_tool threads LOG KEY T N   T threads appending N records each
 *   audit_tool resign LOG LINE KEY   re-sign line LINE (1-based) with KEY,
 *                                    keeping seq and prev (a forgery)
 *   audit_tool rotate LOG KEY        rotate LOG once (as SIGUSR1 does)
 *   audit_tool mirror LOG KEY MODE HOST BYTES
 *                                    open LOG mirrored (MODE journal or
 *                                    syslog, identifier audit_tool, host
 *                                    id HOST) and append one agent.started
 *                                    record whose data.pad holds BYTES
 *                                    bytes (as an agent's, for the mirror
 *                                    tests: long records, host id fields)
 *   audit_tool checkpoint LOG KEY ORIGIN SIZE|all OUT
 *                                    a signed checkpoint of LOG's first
 *                                    SIZE records (audit_tool/checkpoint.c)
 *   audit_tool proof LOG OLD,...,NEW OUT [LOG-NAME]
 *                                    a consistency proof chain, as the API
 *                                    serves it (LOG-NAME: server)
 * and of checkpoints (docs/transparency.md), which shell cannot check:
 *   audit_tool checkpoint-verify NOTE ORIGIN PUB
 *       opens the checkpoint note in file NOTE signed under ORIGIN by the
 *       Ed25519 key in PUB; prints "SIZE ROOT" (base64)
 *   audit_tool consistency-verify OLD NEW STEPS ORIGIN PUB
 *       opens the notes OLD and NEW (files) as above and checks that the
 *       steps of STEPS (a consistency answer of the API) lead from OLD's
 *       tree to NEW's, each proof against the root before it
 *   audit_tool log-root LOG N        the RFC 6962 root of LOG's first N
 *                                    lines (one file): prints "N ROOT"
 *   audit_tool forge-checkpoint KEY ORIGIN SIZE OLD
 *       prints a checkpoint frame whose note claims SIZE records and a
 *       random root, signed under ORIGIN with the secret key KEY (a
 *       stolen agent's split view), with old OLD and no proof
 *   audit_tool rechain LOG KEY LINE  from line LINE (1-based) on, give each
 *                                    line the next seq and the previous
 *                                    line's hash and sign it with KEY: a
 *                                    log edited (lines deleted, inserted,
 *                                    changed) and re-signed as the holder
 *                                    of its key could
 *   audit_tool sign-result KEY JSON  prints {"payload","sig"} of a result
 *                                    payload JSON signed with KEY
 *   audit_tool gen DIR HOSTS ACTIONS writes consistent, really signed
 *                                    logs for reconcile's benchmark:
 *                                    DIR/keys/{audit,action}.{key,pub},
 *                                    DIR/agents/HOST.{key,pub},
 *                                    DIR/server.log, DIR/logs/HOST.log
 */
#include <inttypes.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit.h"
#include "audit_mirror.h"
#include "audit_tool/checkpoint.h"
#include "envelope.h"
#include "fileio.h"
#include "jsonx.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "text.h"
#include "wire.h"

static int
die(const char *what, const struct err_msg *msg)
{
	fprintf(stderr, "audit_tool: %s: %s\n", what,
	    msg != NULL ? msg->text : "");
	return 2;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* data.action or data.result object from an envelope. */
static cJSON *
envelope_json(const struct envelope *env, bool with_key_id)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL ||
	    cJSON_AddStringToObject(o, "payload", env->payload_b64) == NULL ||
	    cJSON_AddStringToObject(o, "sig", env->sig_b64) == NULL ||
	    (with_key_id &&
	        cJSON_AddStringToObject(o, "key_id", env->key_id) == NULL)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int
append_n(const char *log, const char *keyfile, long n, const char *akey,
    const char *rkey, const char *host)
{
	struct keys_secret key, action_key, result_key;
	struct audit_writer *w = NULL;
	struct err_msg msg;
	struct envelope env = { 0 };
	struct envelope_action_payload act;
	struct envelope_result_payload res;
	char *raw = NULL;
	long i;
	int rc = 2;

	memset(&act, 0, sizeof(act));
	memset(&res, 0, sizeof(res));
	if (keys_load_secret(keyfile, &key, &msg) != 0)
		return die("audit key", &msg);
	if (akey != NULL &&
	    (keys_load_secret(akey, &action_key, &msg) != 0 ||
	        keys_load_secret(rkey, &result_key, &msg) != 0))
		return die("envelope keys", &msg);
	if (audit_open(log, &key, &w, &msg) != 0)
		return die("open", &msg);
	for (i = 0; i < n; i++) {
		cJSON *data = cJSON_CreateObject();
		cJSON *sub = NULL;
		uint8_t rnd[16];

		if (data == NULL ||
		    cJSON_AddNumberToObject(data, "i", (double)i) == NULL)
			goto out;
		if (akey != NULL && i % 10 == 0) {
			randombytes_buf(rnd, sizeof(rnd));
			text_hex(rnd, sizeof(rnd), act.action_id);
			(void)snprintf(act.host_id, sizeof(act.host_id), "%s",
			    host);
			memset(act.container_id, 'a', 64);
			act.action = ENVELOPE_ACTION_RESTART;
			(void)snprintf(act.reason, sizeof(act.reason),
			    "tamper test record %ld", i);
			(void)snprintf(act.requested_by,
			    sizeof(act.requested_by), "alice");
			act.issued_at = now_ms();
			act.expires_at = act.issued_at + 60000;
			if (envelope_action_sign(&act, &action_key, &env) != 0)
				goto out;
			sub = envelope_json(&env, true);
			envelope_free(&env);
			if (sub == NULL ||
			    !cJSON_AddItemToObject(data, "action", sub))
				goto out;
		} else if (akey != NULL && i % 10 == 1) {
			memcpy(res.action_id, act.action_id,
			    sizeof(res.action_id));
			memcpy(res.host_id, act.host_id, sizeof(res.host_id));
			memcpy(res.container_id, act.container_id,
			    sizeof(res.container_id));
			res.action = act.action;
			res.status = ENVELOPE_STATUS_SUCCESS;
			res.docker_status = 204;
			res.started_at = now_ms();
			res.finished_at = res.started_at + 5;
			if (envelope_action_encode(&act, &raw) != 0)
				goto out;
			envelope_sha256_hex(raw, strlen(raw),
			    res.request_sha256);
			free(raw);
			raw = NULL;
			if (envelope_result_sign(&res, &result_key, &env) != 0)
				goto out;
			sub = envelope_json(&env, false);
			envelope_free(&env);
			if (sub == NULL ||
			    !cJSON_AddItemToObject(data, "result", sub))
				goto out;
		}
		if (audit_append(w, "test.record", "audit_tool", data, NULL,
		        &msg) != 0) {
			cJSON_Delete(data);
			rc = die("append", &msg);
			goto out;
		}
		cJSON_Delete(data);
	}
	rc = 0;
out:
	audit_close(w);
	keys_secret_wipe(&key);
	if (akey != NULL) {
		keys_secret_wipe(&action_key);
		keys_secret_wipe(&result_key);
	}
	return rc;
}

struct thread_arg {
	struct audit_writer *w;
	long n;
	int failed;
};

static void *
thread_main(void *p)
{
	struct thread_arg *a = p;
	struct err_msg msg;
	long i;

	for (i = 0; i < a->n; i++) {
		if (audit_append(a->w, "test.thread", "audit_tool", NULL, NULL,
		        &msg) != 0) {
			fprintf(stderr, "audit_tool: %s\n", msg.text);
			a->failed = 1;
			break;
		}
	}
	return NULL;
}

static int
threads(const char *log, const char *keyfile, long t, long n)
{
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct thread_arg args[64];
	pthread_t tids[64];
	struct err_msg msg;
	long i;
	int rc = 0;

	if (t < 1 || t > 64)
		return 2;
	if (keys_load_secret(keyfile, &key, &msg) != 0)
		return die("key", &msg);
	if (audit_open(log, &key, &w, &msg) != 0)
		return die("open", &msg);
	keys_secret_wipe(&key);
	for (i = 0; i < t; i++) {
		args[i] = (struct thread_arg){ w, n, 0 };
		if (pthread_create(&tids[i], NULL, thread_main, &args[i]) != 0)
			return 2;
	}
	for (i = 0; i < t; i++) {
		(void)pthread_join(tids[i], NULL);
		rc |= args[i].failed;
	}
	audit_close(w);
	return rc ? 2 : 0;
}

/* Re-signs one line with another key, keeping everything else. */
static int
resign(const char *log, long target, const char *keyfile)
{
	struct keys_secret key;
	struct err_msg msg;
	char *text = NULL, *p;
	FILE *f = NULL;
	long line = 0;
	int rc = 2;

	if (keys_load_secret(keyfile, &key, &msg) != 0)
		return die("key", &msg);
	if (fileio_read_alloc(log, 64 << 20, &text, &(size_t){ 0 }, &msg) != 0)
		return die("read", &msg);
	f = fopen(log, "w");
	if (f == NULL)
		goto out;
	for (p = text; *p != '\0';) {
		char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		line++;
		if (line == target) {
			char *mark = strstr(p, ",\"sig\":\"");
			uint8_t sig[KEYS_SIG_LEN];
			char b64[100];
			size_t plen, clen = strlen(AUDIT_CTX);
			unsigned char *m;

			if (mark == NULL || mark > p + len)
				goto out;
			plen = (size_t)(mark - p);
			m = malloc(clen + plen + 1);
			if (m == NULL)
				goto out;
			memcpy(m, AUDIT_CTX, clen);
			memcpy(m + clen, p, plen);
			m[clen + plen] = '}';
			(void)crypto_sign_detached(sig, NULL, m,
			    clen + plen + 1, key.sk);
			free(m);
			sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
			    sodium_base64_VARIANT_ORIGINAL);
			fprintf(f, "%.*s,\"sig\":\"%s\"}\n", (int)plen, p, b64);
		} else {
			fprintf(f, "%.*s\n", (int)len, p);
		}
		p += len + (nl != NULL ? 1 : 0);
	}
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0)
		rc = 2;
	free(text);
	keys_secret_wipe(&key);
	return rc;
}

static int
rotate(const char *log, const char *keyfile)
{
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct err_msg msg;
	int rc = 0;

	if (keys_load_secret(keyfile, &key, &msg) != 0)
		return die("key", &msg);
	if (audit_open(log, &key, &w, &msg) != 0) {
		keys_secret_wipe(&key);
		return die("open", &msg);
	}
	keys_secret_wipe(&key);
	if (audit_rotate(w, "request", &msg) != 0)
		rc = die("rotate", &msg);
	audit_close(w);
	return rc;
}

static int
mirror(const char *log, const char *keyfile, const char *mode, const char *host,
    long bytes)
{
	struct audit_mirror_conf conf;
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct err_msg msg;
	cJSON *data = NULL;
	char *pad = NULL;
	int rc = 2;

	memset(&conf, 0, sizeof(conf));
	if (audit_mirror_parse_mode(mode, &conf.mode) != 0 ||
	    strlen(host) >= sizeof(conf.host_id))
		return die("mirror", NULL);
	memcpy(conf.ident, "audit_tool", sizeof("audit_tool"));
	memcpy(conf.host_id, host, strlen(host) + 1);
	if (keys_load_secret(keyfile, &key, &msg) != 0)
		return die("key", &msg);
	if (audit_open_mirrored(log, &key, &conf, &w, &msg) != 0) {
		keys_secret_wipe(&key);
		return die("open", &msg);
	}
	keys_secret_wipe(&key);
	pad = malloc((size_t)bytes + 1);
	data = cJSON_CreateObject();
	if (pad == NULL || data == NULL)
		goto out;
	memset(pad, 'p', (size_t)bytes);
	pad[bytes] = '\0';
	if (cJSON_AddStringToObject(data, "host_id", host) == NULL ||
	    cJSON_AddStringToObject(data, "pad", pad) == NULL)
		goto out;
	if (audit_append(w, "agent.started", "agent", data, NULL, &msg) != 0) {
		rc = die("append", &msg);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(data);
	free(pad);
	audit_close(w);
	return rc;
}

/* Opens the checkpoint note in file path under origin and key pub. */
static int
open_note_file(const char *path, const char *origin, const char *pub_path,
    struct note_checkpoint *c)
{
	struct note_verifier v;
	struct keys_public pub;
	struct note *n = NULL;
	struct err_msg msg;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = keys_load_public(pub_path, &pub, &msg);
	if (r == 0)
		r = fileio_read_alloc(path, NOTE_SIZE_MAX, &buf, &len, &msg);
	if (r == 0)
		r = note_verifier_init(&v, origin, NOTE_TYPE_ED25519, pub.pk);
	if (r == 0)
		r = note_checkpoint_open(buf, len, &v, 1, 0, &n, c, &msg);
	note_free(n);
	free(buf);
	if (r != 0)
		return die(path, &msg);
	return 0;
}

static int
checkpoint_verify(const char *path, const char *origin, const char *pub)
{
	struct note_checkpoint c;
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	if (open_note_file(path, origin, pub, &c) != 0)
		return 1;
	sodium_bin2base64(b64, sizeof(b64), c.root, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	printf("%" PRIu64 " %s\n", c.size, b64);
	return 0;
}

/* A number member (0..2^53-1) of o. */
static int
num_of(const cJSON *o, const char *key, uint64_t *out)
{
	struct err_msg msg;
	int64_t v = 0;

	if (jsonx_get_int64(o, key, 0, JSONX_INT_MAX, "step", &v, &msg) != 0)
		return die(key, &msg);
	*out = (uint64_t)v;
	return 0;
}

static int
hash_of(const cJSON *v, uint8_t out[static 32])
{
	size_t got = 0;

	if (!cJSON_IsString(v) ||
	    text_b64_decode_into(v->valuestring, strlen(v->valuestring), out,
	        32, &got) != 0 ||
	    got != 32)
		return die("a hash is not base64 of 32 bytes", NULL);
	return 0;
}

static int
consistency_verify(const char *old_path, const char *new_path,
    const char *steps_path, const char *origin, const char *pub)
{
	struct note_checkpoint a, b;
	uint8_t root[32], next[32], proof[MERKLE_PROOF_MAX][32];
	const cJSON *st, *h;
	cJSON *doc = NULL;
	struct err_msg msg;
	char *buf = NULL;
	size_t len = 0, n;
	uint64_t at, old = 0, nw = 0, count = 0;
	int rc = 1;

	if (open_note_file(old_path, origin, pub, &a) != 0 ||
	    open_note_file(new_path, origin, pub, &b) != 0)
		return 1;
	if (fileio_read_alloc(steps_path, 64 << 20, &buf, &len, &msg) != 0 ||
	    jsonx_parse_object("steps", buf, len, 8, &doc, &msg) != 0) {
		rc = die(steps_path, &msg);
		goto out;
	}
	at = a.size;
	memcpy(root, a.root, 32);
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(doc, "steps"))
	{
		if (num_of(st, "old", &old) != 0 ||
		    num_of(st, "new", &nw) != 0 ||
		    hash_of(cJSON_GetObjectItemCaseSensitive(st, "new_root"),
		        next) != 0)
			goto out;
		if (old != at) {
			fprintf(stderr,
			    "audit_tool: a step from %" PRIu64
			    ", the chain is at %" PRIu64 "\n",
			    old, at);
			goto out;
		}
		n = 0;
		cJSON_ArrayForEach(h,
		    cJSON_GetObjectItemCaseSensitive(st, "hashes"))
		{
			if (n >= MERKLE_PROOF_MAX || hash_of(h, proof[n]) != 0)
				goto out;
			n++;
		}
		if (at > 0 &&
		    merkle_check_tree((const uint8_t(*)[32])proof, n, nw, next,
		        at, root) != 0) {
			fprintf(stderr,
			    "audit_tool: the step %" PRIu64 " -> %" PRIu64
			    " does not verify\n",
			    old, nw);
			goto out;
		}
		at = nw;
		memcpy(root, next, 32);
		count++;
	}
	if (at != b.size || memcmp(root, b.root, 32) != 0) {
		fprintf(stderr,
		    "audit_tool: the steps end at %" PRIu64 ", not at the new "
		    "checkpoint's size %" PRIu64 " and root\n",
		    at, b.size);
		goto out;
	}
	printf("consistent %" PRIu64 " -> %" PRIu64 " in %" PRIu64 " steps\n",
	    a.size, b.size, count);
	rc = 0;
out:
	cJSON_Delete(doc);
	free(buf);
	return rc;
}

/* Signs the record text (up to before ,"sig":) and writes the line. */
static int
put_signed(FILE *f, const char *text, size_t len, const struct keys_secret *key,
    char prev_out[static AUDIT_HASH_HEX + 1])
{
	size_t clen = strlen(AUDIT_CTX);
	unsigned char *m = malloc(clen + len + 1);
	uint8_t sig[KEYS_SIG_LEN];
	char b64[100], *line = NULL;
	size_t llen;
	int n;

	if (m == NULL)
		return -1;
	memcpy(m, AUDIT_CTX, clen);
	memcpy(m + clen, text, len);
	m[clen + len] = '}';
	(void)crypto_sign_detached(sig, NULL, m, clen + len + 1, key->sk);
	free(m);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	llen = len + strlen(b64) + 16;
	line = malloc(llen);
	if (line == NULL)
		return -1;
	n = snprintf(line, llen, "%.*s,\"sig\":\"%s\"}", (int)len, text, b64);
	if (n < 0 || (size_t)n >= llen || fprintf(f, "%s\n", line) < 0) {
		free(line);
		return -1;
	}
	audit_line_hash(line, (size_t)n, prev_out);
	free(line);
	return 0;
}

/* The last occurrence of needle in hay[0..len). */
static const char *
last_of(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = len >= n ? len - n + 1 : 0; i-- > 0;)
		if (memcmp(hay + i, needle, n) == 0)
			return hay + i;
	return NULL;
}

/*
 * Rewrites seq, prev and sig of every line from target on, from the text
 * (a line edited by hand need not parse or carry a valid sig); writes
 * LOG.rechain and renames it over LOG.
 */
static int
rechain(const char *log, long target, const char *keyfile)
{
	struct keys_secret key;
	struct err_msg msg;
	char *text = NULL, *p, prev[AUDIT_HASH_HEX + 1], tmp[4096];
	uint64_t seq = 0;
	FILE *f = NULL;
	long line = 0;
	int rc = 2;

	memset(prev, '0', AUDIT_HASH_HEX);
	prev[AUDIT_HASH_HEX] = '\0';
	if (keys_load_secret(keyfile, &key, &msg) != 0)
		return die("key", &msg);
	if (fileio_read_alloc(log, 1u << 30, &text, &(size_t){ 0 }, &msg) != 0)
		return die("read", &msg);
	(void)snprintf(tmp, sizeof(tmp), "%s.rechain", log);
	f = fopen(tmp, "w");
	if (f == NULL)
		goto out;
	for (p = text; *p != '\0';) {
		char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		const char *ts = strstr(p, ",\"ts\":");
		const char *pv = strstr(p, ",\"prev\":\"");
		const char *ev = strstr(p, ",\"event\":");
		const char *sg = last_of(p, len, ",\"sig\":\"");

		line++;
		if (line == 1 && target > 1 && strncmp(p, "{\"seq\":", 7) == 0)
			seq = strtoull(p + 7, NULL, 10);
		if (ts == NULL || pv == NULL || ev == NULL || sg == NULL ||
		    ts > pv || pv > ev || ev > sg || sg > p + len) {
			fprintf(stderr, "audit_tool: line %ld: not a record\n",
			    line);
			goto out;
		}
		if (line >= target) {
			char *buf = malloc(len + 128);
			int n;

			if (buf == NULL)
				goto out;
			n = snprintf(buf, len + 128,
			    "{\"seq\":%" PRIu64 "%.*s,\"prev\":\"%s\"%.*s", seq,
			    (int)(pv - ts), ts, prev, (int)(sg - ev), ev);
			if (n < 0 ||
			    put_signed(f, buf, (size_t)n, &key, prev) != 0) {
				free(buf);
				goto out;
			}
			free(buf);
		} else {
			fprintf(f, "%.*s\n", (int)len, p);
			audit_line_hash(p, len, prev);
		}
		seq++;
		p += len + (nl != NULL ? 1 : 0);
	}
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	rc = rename(tmp, log) == 0 ? 0 : 2;
out:
	if (f != NULL)
		(void)fclose(f);
	free(text);
	keys_secret_wipe(&key);
	return rc;
}

static int
log_root(const char *path, long want)
{
	struct merkle_frontier f;
	struct audit_reader *rd = NULL;
	struct err_msg msg;
	uint8_t leaf[32], root[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	char *line = NULL;
	size_t len = 0;
	bool nl = false;

	merkle_frontier_init(&f);
	if (audit_reader_open(path, &rd, &msg) != 0)
		return die(path, &msg);
	while ((long)f.size < want &&
	    audit_reader_next(rd, &line, &len, &nl) == 1 && nl) {
		merkle_leaf_hash(line, len, leaf);
		if (merkle_frontier_append(&f, leaf) != 0)
			break;
	}
	audit_reader_close(rd);
	if ((long)f.size != want) {
		fprintf(stderr, "audit_tool: %s holds %" PRIu64 " lines\n",
		    path, f.size);
		return 1;
	}
	merkle_frontier_root(&f, root);
	sodium_bin2base64(b64, sizeof(b64), root, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	printf("%ld %s\n", want, b64);
	return 0;
}

static int
forge_checkpoint(const char *key_path, const char *origin, long size, long old)
{
	struct keys_secret key;
	struct note_checkpoint c;
	struct err_msg msg;
	char text[NOTE_CHECKPOINT_MAX + 1], *note = NULL, *frame = NULL;
	size_t len = 0, nlen = 0, flen = 0;
	int rc = 2;

	memset(&c, 0, sizeof(c));
	(void)snprintf(c.origin, sizeof(c.origin), "%s", origin);
	c.size = (uint64_t)size;
	randombytes_buf(c.root, sizeof(c.root));
	if (keys_load_secret(key_path, &key, &msg) != 0)
		return die(key_path, &msg);
	if (note_checkpoint_format(&c, text, sizeof(text), &len, &msg) == 0 &&
	    note_sign(text, len, origin, &key, &note, &nlen, &msg) == 0 &&
	    wire_build_checkpoint(note, (uint64_t)old, NULL, 0, &frame,
	        &flen) == 0) {
		printf("%s\n", frame);
		rc = 0;
	} else {
		rc = die("forge", &msg);
	}
	keys_secret_wipe(&key);
	free(note);
	free(frame);
	return rc;
}

static int
sign_result(const char *keyfile, const char *json)
{
	struct keys_secret key;
	struct envelope env = { 0 };
	struct err_msg msg;
	int rc = 2;

	if (keys_load_secret(keyfile, &key, &msg) != 0)
		return die("key", &msg);
	if (envelope_sign(ENVELOPE_CTX_RESULT, json, strlen(json), &key,
	        &env) == 0) {
		printf("{\"payload\":\"%s\",\"sig\":\"%s\"}\n", env.payload_b64,
		    env.sig_b64);
		rc = 0;
	}
	envelope_free(&env);
	keys_secret_wipe(&key);
	return rc;
}

/* One log the generator writes without the writer's fsyncs. */
struct gen_log {
	FILE *f;
	uint64_t seq;
	char prev[AUDIT_HASH_HEX + 1];
	struct keys_secret key;
	char host[32];
};

/* Appends event with data (taken) to g at ts. */
static int
gen_put(struct gen_log *g, int64_t ts, const char *event, const char *actor,
    cJSON *data)
{
	char *d = cJSON_PrintUnformatted(data), *buf = NULL;
	size_t len;
	int n, r = -1;

	cJSON_Delete(data);
	if (d == NULL)
		return -1;
	len = strlen(d) + 256;
	buf = malloc(len);
	if (buf == NULL)
		goto out;
	n = snprintf(buf, len,
	    "{\"seq\":%" PRIu64 ",\"ts\":%" PRId64
	    ",\"prev\":\"%s\",\"event\":\"%s\",\"actor\":\"%s\",\"data\":%s",
	    g->seq, ts, g->prev, event, actor, d);
	if (n > 0 && (size_t)n < len &&
	    put_signed(g->f, buf, (size_t)n, &g->key, g->prev) == 0) {
		g->seq++;
		r = 0;
	}
out:
	free(d);
	free(buf);
	return r;
}

static cJSON *
gen_data(const char *id, const char *host)
{
	cJSON *d = cJSON_CreateObject();

	if (d != NULL && id != NULL)
		(void)cJSON_AddStringToObject(d, "action_id", id);
	if (d != NULL)
		(void)cJSON_AddStringToObject(d, "host_id", host);
	return d;
}

static void
gen_num(cJSON *d, const char *k, int64_t v)
{
	(void)cJSON_AddNumberToObject(d, k, (double)v);
}

static int
gen_open(struct gen_log *g, const char *path)
{
	memset(g->prev, '0', AUDIT_HASH_HEX);
	g->prev[AUDIT_HASH_HEX] = '\0';
	g->seq = 0;
	g->f = fopen(path, "w");
	return g->f != NULL ? 0 : -1;
}

static int
gen(const char *dir, long hosts, long actions)
{
	struct gen_log server, *agents = calloc((size_t)hosts, sizeof(*agents));
	struct keys_secret action_key;
	struct err_msg msg;
	char path[4096], sub[4096];
	int64_t t0 = now_ms() - actions * 10 - 60000;
	long k, h;
	int rc = 2;

	memset(&server, 0, sizeof(server));
	if (agents == NULL)
		return 2;
	(void)snprintf(sub, sizeof(sub), "%s/keys", dir);
	(void)mkdir(dir, 0700);
	(void)mkdir(sub, 0700);
	if (keys_generate(&server.key) != 0 ||
	    keys_generate(&action_key) != 0 ||
	    keys_write_pair(sub, "audit", &server.key, &msg) != 0 ||
	    keys_write_pair(sub, "action", &action_key, &msg) != 0)
		return die("keys", &msg);
	(void)snprintf(path, sizeof(path), "%s/server.log", dir);
	if (gen_open(&server, path) != 0)
		return 2;
	(void)snprintf(sub, sizeof(sub), "%s/agents", dir);
	(void)mkdir(sub, 0700);
	(void)snprintf(path, sizeof(path), "%s/logs", dir);
	(void)mkdir(path, 0700);
	for (h = 0; h < hosts; h++) {
		struct gen_log *g = &agents[h];

		(void)snprintf(g->host, sizeof(g->host), "host-%03ld", h);
		if (keys_generate(&g->key) != 0 ||
		    keys_write_pair(sub, g->host, &g->key, &msg) != 0)
			return die("agent key", &msg);
		(void)snprintf(path, sizeof(path), "%s/logs/%s.log", dir,
		    g->host);
		if (gen_open(g, path) != 0 ||
		    gen_put(g, t0, "agent.started", "agent",
		        gen_data(NULL, g->host)) != 0)
			return 2;
	}
	for (k = 0; k < actions; k++) {
		struct gen_log *g = &agents[k % hosts];
		struct envelope_action_payload act;
		struct envelope_result_payload res;
		struct envelope aenv = { 0 }, renv = { 0 };
		int64_t t = t0 + k * 10;
		uint8_t rnd[16];
		char *raw = NULL;
		cJSON *d;
		bool ok = true;

		memset(&act, 0, sizeof(act));
		memset(&res, 0, sizeof(res));
		randombytes_buf(rnd, sizeof(rnd));
		text_hex(rnd, sizeof(rnd), act.action_id);
		(void)snprintf(act.host_id, sizeof(act.host_id), "%s", g->host);
		memset(act.container_id, 'a', 64);
		act.action = ENVELOPE_ACTION_RESTART;
		(void)snprintf(act.reason, sizeof(act.reason), "bench %ld", k);
		(void)snprintf(act.requested_by, sizeof(act.requested_by),
		    "alice");
		act.issued_at = t;
		act.expires_at = t + 60000;
		if (envelope_action_sign(&act, &action_key, &aenv) != 0 ||
		    envelope_action_encode(&act, &raw) != 0)
			goto out;
		memcpy(res.action_id, act.action_id, sizeof(res.action_id));
		memcpy(res.host_id, act.host_id, sizeof(res.host_id));
		memcpy(res.container_id, act.container_id,
		    sizeof(res.container_id));
		res.action = act.action;
		res.status = ENVELOPE_STATUS_SUCCESS;
		res.docker_status = 204;
		res.started_at = t + 1;
		res.finished_at = t + 3;
		envelope_sha256_hex(raw, strlen(raw), res.request_sha256);
		free(raw);
		if (envelope_result_sign(&res, &g->key, &renv) != 0)
			goto out;
		d = gen_data(act.action_id, g->host);
		(void)cJSON_AddStringToObject(d, "container_id",
		    act.container_id);
		(void)cJSON_AddStringToObject(d, "action_name", "RESTART");
		(void)cJSON_AddStringToObject(d, "reason", act.reason);
		(void)cJSON_AddStringToObject(d, "requested_by", "alice");
		(void)cJSON_AddStringToObject(d, "requester",
		    "server-asserted");
		gen_num(d, "expires_at", act.expires_at);
		(void)cJSON_AddItemToObject(d, "action",
		    envelope_json(&aenv, true));
		ok = gen_put(&server, t, "action.requested", "server", d) == 0;
		d = gen_data(act.action_id, g->host);
		gen_num(d, "expires_at", act.expires_at);
		(void)cJSON_AddStringToObject(d, "container_id",
		    act.container_id);
		(void)cJSON_AddStringToObject(d, "action_name", "RESTART");
		(void)cJSON_AddStringToObject(d, "requested_by", "alice");
		(void)cJSON_AddStringToObject(d, "reason", act.reason);
		(void)cJSON_AddStringToObject(d, "container_name", "web");
		(void)cJSON_AddStringToObject(d, "requester",
		    "server-asserted");
		(void)cJSON_AddItemToObject(d, "action",
		    envelope_json(&aenv, true));
		ok = ok &&
		    gen_put(g, t + 1, "action.received", "agent", d) == 0;
		d = gen_data(act.action_id, g->host);
		gen_num(d, "expires_at", act.expires_at);
		ok = ok &&
		    gen_put(g, t + 1, "action.dispatched", "agent", d) == 0;
		d = gen_data(act.action_id, g->host);
		(void)cJSON_AddStringToObject(d, "container_id",
		    act.container_id);
		(void)cJSON_AddStringToObject(d, "action_name", "RESTART");
		(void)cJSON_AddStringToObject(d, "status", "SUCCESS");
		gen_num(d, "docker_status", 204);
		(void)cJSON_AddNullToObject(d, "error");
		gen_num(d, "duration_ms", 2);
		(void)cJSON_AddItemToObject(d, "result",
		    envelope_json(&renv, false));
		ok = ok &&
		    gen_put(g, t + 3, "action.executed", "agent", d) == 0;
		d = gen_data(act.action_id, g->host);
		(void)cJSON_AddStringToObject(d, "status", "SUCCESS");
		gen_num(d, "docker_status", 204);
		(void)cJSON_AddNullToObject(d, "error");
		(void)cJSON_AddItemToObject(d, "result",
		    envelope_json(&renv, false));
		ok = ok &&
		    gen_put(&server, t + 4, "action.result", "server", d) == 0;
		envelope_free(&aenv);
		envelope_free(&renv);
		if (!ok)
			goto out;
	}
	rc = 0;
out:
	if (server.f != NULL && fclose(server.f) != 0)
		rc = 2;
	for (h = 0; h < hosts; h++)
		if (agents[h].f != NULL && fclose(agents[h].f) != 0)
			rc = 2;
	free(agents);
	return rc;
}

int
main(int argc, char **argv)
{
	int64_t n = 0, t = 0;

	if (sodium_init() < 0)
		return 2;
	if (argc >= 5 && strcmp(argv[1], "append") == 0 &&
	    text_to_int64(argv[4], 0, 10000000, &n) == 0) {
		if (argc == 8)
			return append_n(argv[2], argv[3], (long)n, argv[5],
			    argv[6], argv[7]);
		return append_n(argv[2], argv[3], (long)n, NULL, NULL, NULL);
	}
	if (argc == 4 && strcmp(argv[1], "loop") == 0)
		return append_n(argv[2], argv[3], 1000000000L, NULL, NULL,
		    NULL);
	if (argc == 6 && strcmp(argv[1], "threads") == 0 &&
	    text_to_int64(argv[4], 1, 64, &t) == 0 &&
	    text_to_int64(argv[5], 1, 1000000, &n) == 0)
		return threads(argv[2], argv[3], (long)t, (long)n);
	if (argc == 4 && strcmp(argv[1], "rotate") == 0)
		return rotate(argv[2], argv[3]);
	if (argc == 7 && strcmp(argv[1], "mirror") == 0 &&
	    text_to_int64(argv[6], 0, 60000, &n) == 0)
		return mirror(argv[2], argv[3], argv[4], argv[5], (long)n);
	if (argc == 5 && strcmp(argv[1], "resign") == 0 &&
	    text_to_int64(argv[3], 1, 100000000, &n) == 0)
		return resign(argv[2], (long)n, argv[4]);
	if (argc == 7 && strcmp(argv[1], "checkpoint") == 0)
		return tool_checkpoint(argv[2], argv[3], argv[4], argv[5],
		    argv[6]);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "proof") == 0)
		return tool_proof(argv[2], argv[3], argv[4],
		    argc == 6 ? argv[5] : "server");
	if (argc == 5 && strcmp(argv[1], "checkpoint-verify") == 0)
		return checkpoint_verify(argv[2], argv[3], argv[4]);
	if (argc == 7 && strcmp(argv[1], "consistency-verify") == 0)
		return consistency_verify(argv[2], argv[3], argv[4], argv[5],
		    argv[6]);
	if (argc == 4 && strcmp(argv[1], "log-root") == 0 &&
	    text_to_int64(argv[3], 0, 100000000, &n) == 0)
		return log_root(argv[2], (long)n);
	if (argc == 6 && strcmp(argv[1], "forge-checkpoint") == 0 &&
	    text_to_int64(argv[4], 0, JSONX_INT_MAX, &n) == 0 &&
	    text_to_int64(argv[5], 0, JSONX_INT_MAX, &t) == 0)
		return forge_checkpoint(argv[2], argv[3], (long)n, (long)t);
	if (argc == 5 && strcmp(argv[1], "rechain") == 0 &&
	    text_to_int64(argv[4], 1, 100000000, &n) == 0)
		return rechain(argv[2], (long)n, argv[3]);
	if (argc == 4 && strcmp(argv[1], "sign-result") == 0)
		return sign_result(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "gen") == 0 &&
	    text_to_int64(argv[3], 1, 1000, &t) == 0 &&
	    text_to_int64(argv[4], 1, 100000000, &n) == 0)
		return gen(argv[2], (long)t, (long)n);
	fprintf(stderr, "usage: see the comment at the top of audit_tool.c\n");
	return 2;
}
