/* SPDX-License-Identifier: ISC */
/*
 * Benchmark helper (not a test): writes a large signed audit log fast, for
 * tests/bench/bench_audit_verify.sh. The records are what a busy server
 * writes: per action an action.requested embedding the server-signed
 * action envelope and an action.result embedding the agent-signed result
 * (hosts web-00..web-19, each with its own result key), and now and then
 * an agent.connected record. Lines are built and signed here, in the
 * format of docs/audit.md, and written with plain buffered writes (no
 * fdatasync per record, unlike the real writer), so that a million
 * records take a minute, not an hour.
 *   bench_audit_log DIR N
 * writes into DIR (which must exist and be empty): audit.key/.pub,
 * action.key/.pub, agents/HOST.key/.pub and audit.log with N records.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "audit.h"
#include "envelope.h"
#include "keys.h"
#include "text.h"

#define HOSTS 20
#define TS0 1767225600000LL /* 2026-01-01, one record every 20 ms */

struct gen {
	FILE *f;
	struct keys_secret audit, action, agents[HOSTS];
	uint64_t seq;
	char prev[AUDIT_HASH_HEX + 1];
	char *buf; /* AUDIT_LINE_MAX + context */
};

/* Signs and writes one record whose data is the JSON text qdata. */
static int
put_record(struct gen *g, const char *event, const char *qdata)
{
	const size_t clen = sizeof(AUDIT_CTX) - 1;
	const size_t cap = AUDIT_LINE_MAX + clen;
	uint8_t sig[KEYS_SIG_LEN];
	char b64[sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	int n;

	memcpy(g->buf, AUDIT_CTX, clen);
	n = snprintf(g->buf + clen, cap - clen,
	    "{\"seq\":%" PRIu64 ",\"ts\":%" PRId64
	    ",\"prev\":\"%s\",\"event\":\"%s\",\"actor\":\"server\","
	    "\"data\":%s}",
	    g->seq, (int64_t)(TS0 + (int64_t)g->seq * 20), g->prev, event,
	    qdata);
	if (n < 0 || (size_t)n >= cap - clen - sizeof(b64) - 16)
		return -1;
	if (crypto_sign_detached(sig, NULL, (unsigned char *)g->buf,
	        clen + (size_t)n, g->audit.sk) != 0)
		return -1;
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	/* The line: the signed text less its closing brace, then the sig. */
	n = snprintf(g->buf + clen + (size_t)n - 1, cap - clen - (size_t)n + 1,
	    ",\"sig\":\"%s\"}", b64);
	if (n < 0)
		return -1;
	audit_line_hash(g->buf + clen, strlen(g->buf + clen), g->prev);
	if (fprintf(g->f, "%s\n", g->buf + clen) < 0)
		return -1;
	g->seq++;
	return 0;
}

/* Adds {payload, sig[, key_id]} under name. */
static bool
add_env(cJSON *d, const char *name, const struct envelope *env, bool key)
{
	cJSON *e = cJSON_AddObjectToObject(d, name);

	return e != NULL &&
	    cJSON_AddStringToObject(e, "payload", env->payload_b64) != NULL &&
	    cJSON_AddStringToObject(e, "sig", env->sig_b64) != NULL &&
	    (!key || cJSON_AddStringToObject(e, "key_id", env->key_id) != NULL);
}

/* Writes data (freed) as one record of event. */
static int
put_data(struct gen *g, const char *event, cJSON *d, bool built)
{
	char *q = built && d != NULL ? cJSON_PrintUnformatted(d) : NULL;
	int r = q != NULL ? put_record(g, event, q) : -1;

	free(q);
	cJSON_Delete(d);
	return r;
}

/* One action: its action.requested and its action.result. */
static int
put_action(struct gen *g, uint64_t i)
{
	struct envelope_action_payload act;
	struct envelope_result_payload res;
	struct envelope aenv = { 0 }, renv = { 0 };
	uint8_t rnd[16], cid[32];
	char *raw = NULL;
	size_t h = (size_t)(i % HOSTS);
	cJSON *d = NULL;
	int r = -1;

	memset(&act, 0, sizeof(act));
	memset(&res, 0, sizeof(res));
	randombytes_buf(rnd, sizeof(rnd));
	randombytes_buf(cid, sizeof(cid));
	text_hex(rnd, sizeof(rnd), act.action_id);
	(void)snprintf(act.host_id, sizeof(act.host_id), "web-%02zu", h);
	text_hex(cid, sizeof(cid), act.container_id);
	act.action = i % 3 == 0 ? ENVELOPE_ACTION_RESTART :
	                          ENVELOPE_ACTION_START;
	(void)snprintf(act.reason, sizeof(act.reason),
	    "deploy release 2026.%" PRIu64 " (ticket OPS-%" PRIu64 ")",
	    i % 12 + 1, 1000 + i);
	(void)snprintf(act.requested_by, sizeof(act.requested_by), "alice");
	act.issued_at = TS0 + (int64_t)g->seq * 20;
	act.expires_at = act.issued_at + 60000;
	if (envelope_action_sign(&act, &g->action, &aenv) != 0)
		goto out;
	d = cJSON_CreateObject();
	r = put_data(g, "action.requested", d,
	    d != NULL &&
	        cJSON_AddStringToObject(d, "action_id", act.action_id) !=
	            NULL &&
	        cJSON_AddStringToObject(d, "host_id", act.host_id) != NULL &&
	        cJSON_AddStringToObject(d, "container_id", act.container_id) !=
	            NULL &&
	        cJSON_AddStringToObject(d, "action_name",
	            envelope_action_name(act.action)) != NULL &&
	        cJSON_AddStringToObject(d, "reason", act.reason) != NULL &&
	        cJSON_AddStringToObject(d, "requested_by", act.requested_by) !=
	            NULL &&
	        cJSON_AddStringToObject(d, "requester", "server-asserted") !=
	            NULL &&
	        cJSON_AddNumberToObject(d, "expires_at",
	            (double)act.expires_at) != NULL &&
	        add_env(d, "action", &aenv, true));
	if (r != 0)
		goto out;
	r = -1;
	memcpy(res.action_id, act.action_id, sizeof(res.action_id));
	memcpy(res.host_id, act.host_id, sizeof(res.host_id));
	memcpy(res.container_id, act.container_id, sizeof(res.container_id));
	res.action = act.action;
	res.status = i % 17 == 0 ? ENVELOPE_STATUS_FAILURE :
	                           ENVELOPE_STATUS_SUCCESS;
	res.docker_status = i % 17 == 0 ? 404 : 204;
	res.has_error = i % 17 == 0;
	if (res.has_error)
		(void)snprintf(res.error, sizeof(res.error),
		    "no such container");
	res.started_at = act.issued_at + 5;
	res.finished_at = res.started_at + 40;
	if (envelope_action_encode(&act, &raw) != 0)
		goto out;
	envelope_sha256_hex(raw, strlen(raw), res.request_sha256);
	if (envelope_result_sign(&res, &g->agents[h], &renv) != 0)
		goto out;
	d = cJSON_CreateObject();
	r = put_data(g, "action.result", d,
	    d != NULL &&
	        cJSON_AddStringToObject(d, "action_id", res.action_id) !=
	            NULL &&
	        cJSON_AddStringToObject(d, "host_id", res.host_id) != NULL &&
	        cJSON_AddStringToObject(d, "status",
	            envelope_status_name(res.status)) != NULL &&
	        cJSON_AddNumberToObject(d, "docker_status",
	            (double)res.docker_status) != NULL &&
	        (res.has_error ?
	                cJSON_AddStringToObject(d, "error", res.error) != NULL :
	                cJSON_AddNullToObject(d, "error") != NULL) &&
	        add_env(d, "result", &renv, false));
out:
	free(raw);
	envelope_free(&aenv);
	envelope_free(&renv);
	return r;
}

static int
put_connected(struct gen *g, uint64_t i)
{
	cJSON *d = cJSON_CreateObject();
	char host[16];

	(void)snprintf(host, sizeof(host), "web-%02" PRIu64, i % HOSTS);
	return put_data(g, "agent.connected", d,
	    d != NULL && cJSON_AddStringToObject(d, "host_id", host) != NULL &&
	        cJSON_AddNumberToObject(d, "session", (double)i) != NULL &&
	        cJSON_AddStringToObject(d, "peer", "10.0.0.7:51234") != NULL);
}

int
main(int argc, char **argv)
{
	struct gen g;
	struct err_msg msg;
	char path[4096], agents[4096], name[16];
	int64_t n = 0;
	uint64_t i;
	int rc = 2, k;

	memset(&g, 0, sizeof(g));
	if (argc != 3 || text_to_int64(argv[2], 1, 100000000, &n) != 0) {
		fprintf(stderr, "usage: bench_audit_log DIR N\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	(void)snprintf(agents, sizeof(agents), "%s/agents", argv[1]);
	if (mkdir(agents, 0755) != 0 || keys_generate(&g.audit) != 0 ||
	    keys_generate(&g.action) != 0 ||
	    keys_write_pair(argv[1], "audit", &g.audit, &msg) != 0 ||
	    keys_write_pair(argv[1], "action", &g.action, &msg) != 0) {
		fprintf(stderr, "bench_audit_log: cannot make the keys\n");
		goto out;
	}
	for (k = 0; k < HOSTS; k++) {
		(void)snprintf(name, sizeof(name), "web-%02d", k);
		if (keys_generate(&g.agents[k]) != 0 ||
		    keys_write_pair(agents, name, &g.agents[k], &msg) != 0) {
			fprintf(stderr, "bench_audit_log: cannot make keys\n");
			goto out;
		}
	}
	(void)snprintf(path, sizeof(path), "%s/audit.log", argv[1]);
	g.buf = malloc(AUDIT_LINE_MAX + sizeof(AUDIT_CTX));
	g.f = fopen(path, "wx");
	if (g.buf == NULL || g.f == NULL) {
		fprintf(stderr, "bench_audit_log: cannot write %s\n", path);
		goto out;
	}
	memset(g.prev, '0', AUDIT_HASH_HEX);
	for (i = 0; g.seq < (uint64_t)n; i++) {
		/* One record in 50 is an agent.connected. */
		if (i % 25 == 24 || g.seq + 1 == (uint64_t)n) {
			if (put_connected(&g, i) != 0)
				goto out;
		} else if (put_action(&g, i) != 0) {
			goto out;
		}
	}
	rc = 0;
out:
	if (g.f != NULL && fclose(g.f) != 0)
		rc = 2;
	if (rc != 0)
		fprintf(stderr, "bench_audit_log: failed\n");
	free(g.buf);
	keys_secret_wipe(&g.audit);
	keys_secret_wipe(&g.action);
	for (k = 0; k < HOSTS; k++)
		keys_secret_wipe(&g.agents[k]);
	return rc;
}
