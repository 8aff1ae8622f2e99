/* SPDX-License-Identifier: ISC */
/*
 * The agent's action pipeline, table-driven, in the test world of
 * executor_world.h (real keys, policy file and audit log; dockerd and the
 * clock stand in through the executor's ops; the integration test runs
 * the real dockerd). Each row sends one frame and checks the status, the
 * error text, whether dockerd was asked to act, the audit records written
 * and the signed result. Then: replay across a "restart" (a new executor
 * from the same log), an action cut short by a crash, an audit log that
 * cannot be written and the outbox's delivery bookkeeping. The worker
 * threads are tested in test_executor_queue.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "audit.h"
#include "envelope.h"
#include "executor.h"
#include "executor_world.h"
#include "jsonx.h"
#include "keys.h"
#include "request.h"
#include "roster_store.h"
#include "testlib.h"

/* ---- the audit log, read back ---- */

static size_t
log_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;

	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	(void)fclose(f);
	return n;
}

/*
 * The events of the log's lines from line `from` (0-based) on, joined by
 * ','; and the data of the last of them (cJSON_Delete *last_root).
 */
static void
new_events(const char *path, size_t from, char *events, size_t evlen,
    cJSON **last_root, const cJSON **last_data)
{
	struct audit_reader *rd = NULL;
	struct err_msg m;
	char *line = NULL;
	size_t len = 0, n = 0, used;
	bool nl = false;

	events[0] = '\0';
	*last_root = NULL;
	*last_data = NULL;
	if (audit_reader_open(path, &rd, &m) != 0)
		return;
	while (audit_reader_next(rd, &line, &len, &nl) == 1) {
		struct audit_record rec;

		if (n++ < from)
			continue;
		if (audit_parse_line(line, len, &rec, &m) != 0)
			break;
		used = strlen(events);
		(void)snprintf(events + used, evlen - used, "%s%s",
		    used > 0 ? "," : "", rec.event);
		cJSON_Delete(*last_root);
		*last_root = rec.root;
		*last_data = rec.data;
		rec.root = NULL;
		audit_record_free(&rec);
	}
	audit_reader_close(rd);
}

static const char *
dstr(const cJSON *data, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- frames ---- */

/* Signs exact bytes (of any size, unlike envelope_sign) under the action
 * context. */
static void
sign_bytes(const char *payload, size_t len, const struct keys_secret *key,
    char **payload_b64, char **sig_b64)
{
	size_t clen = strlen(ENVELOPE_CTX_ACTION);
	size_t b64 = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL);
	size_t sb64 = sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	uint8_t sig[KEYS_SIG_LEN];
	uint8_t *msg = malloc(clen + len);

	*payload_b64 = malloc(b64);
	*sig_b64 = malloc(sb64);
	if (msg == NULL || *payload_b64 == NULL || *sig_b64 == NULL)
		abort();
	memcpy(msg, ENVELOPE_CTX_ACTION, clen);
	memcpy(msg + clen, payload, len);
	crypto_sign_detached(sig, NULL, msg, clen + len, key->sk);
	free(msg);
	sodium_bin2base64(*payload_b64, b64, (const unsigned char *)payload,
	    len, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(*sig_b64, sb64, sig, KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

/* What a row changes. */
enum signer { SIGN_ACTION, SIGN_OTHER_AS_PINNED, SIGN_OTHER };
enum raw { RAW_NONE, RAW_PAYLOAD, RAW_FRAME, RAW_BIG_PAYLOAD };

struct row {
	const char *name;
	/* the action */
	const char *host;                /* NULL: HOST */
	const char *container;           /* NULL: C_WEB */
	enum envelope_action action;     /* NONE: RESTART */
	const char *operator;            /* NULL: alice */
	int64_t issued_off, expires_off; /* 0/0: -1 s, +60 s */
	enum signer signer;
	bool flip_sig;
	bool replay_prev; /* the previous row's frame again */
	enum raw raw;
	/* RAW_PAYLOAD: signed payload; RAW_FRAME: the frame; "@ID@" is the
	 * row's action id, "@P@" "@S@" "@K@" a valid envelope's members */
	const char *text;
	/* expected */
	enum envelope_status status;
	const char *error; /* substring of the error */
	unsigned acts;     /* ops.act calls by this row */
	long limit_ms;     /* ops.act's limit (0: not checked) */
	int64_t docker_status;
	const char *events; /* audit events this row wrote */
	bool has_result;
	bool resent;
	enum executor_redelivery redelivered;
	bool unverified; /* refused before its signature held: names nothing */
};

static const struct row rows[] = {
	{ .name = "valid RESTART runs",
	    .status = ENVELOPE_STATUS_SUCCESS,
	    .acts = 1,
	    .docker_status = 204,
	    .events = "action.received,action.dispatched,action.executed",
	    .has_result = true },
	{ .name = "the same frame again: not run, first result again",
	    .replay_prev = true,
	    .status = ENVELOPE_STATUS_REJECTED, /* no new answer made */
	    .events = "action.redelivered",
	    .has_result = true,
	    .resent = true,
	    .redelivered = EXECUTOR_REDELIVERY_RESENT },
	{ .name = "START of a running container: 304 is SUCCESS",
	    .action = ENVELOPE_ACTION_START,
	    .status = ENVELOPE_STATUS_SUCCESS,
	    .acts = 1,
	    .docker_status = 304,
	    .events = "action.received,action.dispatched,action.executed",
	    .has_result = true },
	{ .name = "bad signature: unverified, no result",
	    .flip_sig = true,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "bad signature",
	    .events = "frame.refused",
	    .unverified = true },
	{ .name =
	        "signed by another key, claiming the pinned id: unverified, no result",
	    .signer = SIGN_OTHER_AS_PINNED,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "bad signature",
	    .events = "frame.refused",
	    .unverified = true },
	{ .name = "unknown key id: unverified, no result",
	    .signer = SIGN_OTHER,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "unknown key",
	    .events = "frame.refused",
	    .unverified = true },
	{ .name = "another host_id",
	    .host = "web-02",
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "wrong host",
	    .events = "action.rejected",
	    .has_result = true },
	{ .name = "expired",
	    .issued_off = -400000,
	    .expires_off = -100000,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "expired",
	    .events = "action.rejected",
	    .has_result = true },
	{ .name = "expired within the skew: accepted, dockerd not called",
	    .issued_off = -300000,
	    .expires_off = -20000,
	    .status = ENVELOPE_STATUS_FAILURE,
	    .error = "not run: the action expired 20000 ms before",
	    .events = "action.received,action.executed",
	    .has_result = true },
	{ .name = "issued in the future beyond the skew",
	    .issued_off = 120000,
	    .expires_off = 240000,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "in the future",
	    .events = "action.rejected",
	    .has_result = true },
	{ .name = "lifetime over 300 s",
	    .issued_off = -1000,
	    .expires_off = 300000,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "lifetime",
	    .events = "action.rejected",
	    .has_result = true },
	{ .name = "malformed JSON frame: no action id, no result",
	    .raw = RAW_FRAME,
	    .text = "{\"type\":\"action\",\"payload\":",
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "malformed frame",
	    .events = "frame.refused",
	    .unverified = true },
	{ .name = "frame member of the wrong type: unverified, no result",
	    .raw = RAW_FRAME,
	    .text = "{\"type\":\"action\",\"payload\":\"@P@\",\"sig\":\"@S@\","
	            "\"key_id\":12}",
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "malformed frame",
	    .events = "frame.refused",
	    .unverified = true },
	{ .name = "unknown frame member: unverified, no result",
	    .raw = RAW_FRAME,
	    .text = "{\"type\":\"action\",\"payload\":\"@P@\",\"sig\":\"@S@\","
	            "\"key_id\":\"@K@\",\"priority\":\"high\"}",
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "malformed frame",
	    .events = "frame.refused",
	    .unverified = true },
	{ .name = "payload member of the wrong type (signed)",
	    .raw = RAW_PAYLOAD,
	    .text = "{\"v\":1,\"action_id\":\"@ID@\",\"host_id\":\"web-01\","
	            "\"container_id\":\"" C_WEB "\",\"action\":\"RESTART\","
	            "\"reason\":\"deploy fix\",\"requested_by\":\"alice\","
	            "\"issued_at\":\"now\",\"expires_at\":@EXP@}",
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "malformed action",
	    .events = "action.rejected",
	    .has_result = true },
	{ .name = "malformed payload JSON (signed): no action id",
	    .raw = RAW_PAYLOAD,
	    .text = "{\"v\":1,\"action_id\":\"@ID@\"",
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "malformed action",
	    .events = "frame.refused" },
	{ .name = "unknown action name (signed): refused, no result",
	    .raw = RAW_PAYLOAD,
	    .text = "{\"v\":1,\"action_id\":\"@ID@\",\"host_id\":\"web-01\","
	            "\"container_id\":\"" C_WEB "\",\"action\":\"KILL\","
	            "\"reason\":\"deploy fix\",\"requested_by\":\"alice\","
	            "\"issued_at\":@ISS@,\"expires_at\":@EXP@}",
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "unknown action",
	    .events = "action.rejected" },
	{ .name = "payload over 16 KiB (signed): never verified, no result",
	    .raw = RAW_BIG_PAYLOAD,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "over 16384 bytes",
	    .events = "frame.refused",
	    .unverified = true },
	{ .name = "policy: container not matched",
	    .container = C_DB,
	    .status = ENVELOPE_STATUS_DENIED,
	    .error = "does not match",
	    .events = "policy.denied",
	    .has_result = true },
	{ .name = "policy: operator not listed",
	    .operator= "mallory",
	    .status = ENVELOPE_STATUS_DENIED,
	    .error = "mallory",
	    .events = "policy.denied",
	    .has_result = true },
	{ .name = "missing container",
	    .container = C_GONE,
	    .status = ENVELOPE_STATUS_REJECTED,
	    .error = "no such container",
	    .events = "action.rejected",
	    .has_result = true },
	{ .name = "the dockerd call is bounded by expires_at",
	    .expires_off = 45000,
	    .status = ENVELOPE_STATUS_SUCCESS,
	    .acts = 1,
	    .limit_ms = 45000,
	    .docker_status = 204,
	    .events = "action.received,action.dispatched,action.executed",
	    .has_result = true },
	{ .name = "dockerd got the request, no answer: UNKNOWN",
	    .container = C_STALL,
	    .status = ENVELOPE_STATUS_UNKNOWN,
	    .error = "may still happen",
	    .acts = 1,
	    .events = "action.received,action.dispatched,action.executed",
	    .has_result = true },
	{ .name = "dockerd not reached: FAILURE",
	    .container = C_DOWN,
	    .status = ENVELOPE_STATUS_FAILURE,
	    .error = "cannot connect",
	    .acts = 1,
	    .events = "action.received,action.dispatched,action.executed",
	    .has_result = true },
	{ .name = "dockerd fails: FAILURE with its status",
	    .container = C_BROKEN,
	    .status = ENVELOPE_STATUS_FAILURE,
	    .error = "HTTP 500",
	    .acts = 1,
	    .docker_status = 500,
	    .events = "action.received,action.dispatched,action.executed",
	    .has_result = true },
};

/* Replaces @ID@, @P@, @S@, @K@, @ISS@, @EXP@ in t. */
static char *
subst(const char *t, const char *id, const char *p, const char *s,
    const char *k)
{
	size_t cap = strlen(t) + strlen(p) + strlen(s) + 256, n = 0;
	char *out = malloc(cap), iss[24], exp[24];

	if (out == NULL)
		abort();
	(void)snprintf(iss, sizeof(iss), "%lld", (long long)(NOW - 1000));
	(void)snprintf(exp, sizeof(exp), "%lld", (long long)(NOW + 60000));
	while (*t != '\0') {
		const char *v = NULL;
		size_t skip = 0;

		if (strncmp(t, "@ISS@", 5) == 0) {
			v = iss;
			skip = 5;
		} else if (strncmp(t, "@EXP@", 5) == 0) {
			v = exp;
			skip = 5;
		} else if (strncmp(t, "@ID@", 4) == 0) {
			v = id;
			skip = 4;
		} else if (strncmp(t, "@P@", 3) == 0) {
			v = p;
			skip = 3;
		} else if (strncmp(t, "@S@", 3) == 0) {
			v = s;
			skip = 3;
		} else if (strncmp(t, "@K@", 3) == 0) {
			v = k;
			skip = 3;
		}
		if (v != NULL) {
			memcpy(out + n, v, strlen(v));
			n += strlen(v);
			t += skip;
		} else {
			out[n++] = *t++;
		}
	}
	out[n] = '\0';
	return out;
}

/* The frame a row sends (free it). */
static char *
row_frame(struct world *w, const struct row *r, unsigned n, char *id)
{
	struct envelope_action_payload a;
	struct envelope env = { NULL, NULL, "" };
	const struct keys_secret *key = &w->action_key;
	char *p = NULL, *s = NULL, *json = NULL, *f;

	base_action(&a, n);
	memcpy(id, a.action_id, 33);
	if (r->host != NULL)
		(void)snprintf(a.host_id, sizeof(a.host_id), "%s", r->host);
	if (r->container != NULL)
		memcpy(a.container_id, r->container, 65);
	if (r->action != ENVELOPE_ACTION_NONE)
		a.action = r->action;
	if (r->operator!= NULL)
		(void)snprintf(a.requested_by, sizeof(a.requested_by), "%s",
		    r->operator);
	if (r->issued_off != 0 || r->expires_off != 0) {
		a.issued_at = NOW + r->issued_off;
		a.expires_at = NOW + r->expires_off;
	}
	if (r->signer != SIGN_ACTION)
		key = &w->other_key;
	if (r->raw == RAW_PAYLOAD) {
		json = subst(r->text, id, "", "", "");
	} else if (r->raw == RAW_BIG_PAYLOAD) {
		size_t i, big = ENVELOPE_ACTION_PAYLOAD_MAX + 800;

		json = malloc(big);
		if (json == NULL)
			abort();
		i = (size_t)snprintf(json, big,
		    "{\"v\":1,\"action_id\":\"%s\","
		    "\"container_id\":\"%s\",\"action\":\"STOP\","
		    "\"reason\":\"",
		    id, C_WEB);
		while (i < big - 100)
			json[i++] = 'x';
		memcpy(json + i, "\"}", 3);
	} else {
		CHECK(envelope_action_encode(&a, &json) == 0);
	}
	sign_bytes(json, strlen(json), key, &p, &s);
	if (r->flip_sig)
		s[3] = s[3] == 'A' ? 'B' : 'A';
	if (r->raw == RAW_FRAME)
		f = subst(r->text, id, p, s, w->action_key.pub.id);
	else
		f = frame_text(p, s,
		    r->signer == SIGN_OTHER ? w->other_key.pub.id :
		                              w->action_key.pub.id);
	free(p);
	free(s);
	free(json);
	envelope_free(&env);
	return f;
}

/* The outbox's result for id, verified under the result key. */
static bool
result_of(struct world *w, const char *id, struct envelope_result_payload *res)
{
	char *frame = NULL;
	bool delivered = false, ok = false;
	cJSON *root = NULL;
	struct err_msg m;

	if (executor_outbox_find(w->ex, id, &frame, &delivered) != 1)
		return false;
	if (jsonx_parse_object("result frame", frame, strlen(frame), 4, &root,
	        &m) == 0 &&
	    strcmp(dstr(root, "type"), "action_result") == 0 &&
	    envelope_result_verify(&w->result_key.pub, dstr(root, "payload"),
	        dstr(root, "sig"), res, NULL, NULL, &m) == 0)
		ok = true;
	cJSON_Delete(root);
	free(frame);
	return ok;
}

static void
run_rows(struct world *w)
{
	char *prev = NULL, prev_id[33] = "";
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct executor_outcome out;
		struct envelope_result_payload res;
		char id[33], events[256];
		const cJSON *data = NULL;
		cJSON *root = NULL;
		unsigned acts = w->fake.acts;
		size_t before = log_lines(w->log);
		char *f;

		if (r->replay_prev) {
			f = strdup(prev);
			memcpy(id, prev_id, 33);
		} else {
			f = row_frame(w, r, (unsigned)i + 1, id);
		}
		CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
		CHECKF(out.status == r->status, "%s: status %s", r->name,
		    envelope_status_name(out.status));
		if (r->error != NULL)
			CHECKF(strstr(out.error, r->error) != NULL,
			    "%s: error \"%s\"", r->name, out.error);
		else
			CHECKF(out.error[0] == '\0', "%s: error \"%s\"",
			    r->name, out.error);
		CHECKF(w->fake.acts - acts == r->acts, "%s: %u dockerd calls",
		    r->name, w->fake.acts - acts);
		CHECKF(out.docker_called == (r->acts > 0), "%s", r->name);
		if (r->limit_ms != 0)
			CHECKF(w->fake.last_limit_ms == r->limit_ms,
			    "%s: limit %ld ms", r->name, w->fake.last_limit_ms);
		CHECKF(out.docker_status == r->docker_status,
		    "%s: docker_status %lld", r->name,
		    (long long)out.docker_status);
		new_events(w->log, before, events, sizeof(events), &root,
		    &data);
		CHECKF(strcmp(events, r->events) == 0, "%s: audit \"%s\"",
		    r->name, events);
		CHECKF(out.has_result == r->has_result, "%s: has_result",
		    r->name);
		CHECKF(out.resent == r->resent, "%s: resent", r->name);
		CHECKF(out.redelivered == r->redelivered, "%s: redelivered %d",
		    r->name, (int)out.redelivered);
		if (r->redelivered != EXECUTOR_REDELIVERY_NONE && data != NULL)
			CHECKF(dstr(data, "answer") != NULL &&
			        dstr(data, "action_id") != NULL &&
			        dstr(data, "request_sha256") != NULL &&
			        strcmp(dstr(data, "answer"), "resent") == 0 &&
			        strcmp(dstr(data, "action_id"), id) == 0 &&
			        strlen(dstr(data, "request_sha256")) == 64,
			    "%s: action.redelivered", r->name);
		if (r->has_result) {
			CHECKF(result_of(w, id, &res), "%s: result", r->name);
			if (!r->resent)
				CHECKF(res.status == r->status &&
				        strcmp(res.host_id, HOST) == 0 &&
				        res.docker_status == r->docker_status &&
				        (r->error == NULL ?
				                !res.has_error :
				                strstr(res.error, r->error) !=
				                    NULL),
				    "%s: result payload", r->name);
		}
		/* Records name the action and say why. */
		if (strcmp(r->events, "action.rejected") == 0 && data != NULL) {
			CHECKF(strstr(dstr(data, "reason"), r->error) != NULL,
			    "%s: reason", r->name);
			CHECKF(strcmp(dstr(data, "action_id"), id) == 0,
			    "%s: action_id", r->name);
			CHECKF((cJSON_GetObjectItemCaseSensitive(data,
			            "expires_at") != NULL) ==
			        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			            data, "authentic")),
			    "%s: expires_at iff authentic", r->name);
		}
		/*
		 * An unverified frame: the record names no action (issue 12,
		 * item 1); only the bytes' hash and why, marked unverified.
		 */
		if (r->unverified && data != NULL) {
			char sha[65];

			envelope_sha256_hex(f, strlen(f), sha);
			CHECKF(strstr(dstr(data, "reason"), r->error) != NULL,
			    "%s: reason", r->name);
			CHECKF(strncmp(dstr(data, "reason"),
			           "unverified frame: ", 18) == 0,
			    "%s: reason says unverified: \"%s\"", r->name,
			    dstr(data, "reason"));
			CHECKF(dstr(data, "frame_sha256") != NULL &&
			        strcmp(dstr(data, "frame_sha256"), sha) == 0,
			    "%s: frame_sha256", r->name);
			CHECKF(cJSON_GetObjectItemCaseSensitive(data,
			           "action_id") == NULL &&
			        cJSON_GetObjectItemCaseSensitive(data,
			            "container_id") == NULL &&
			        cJSON_GetObjectItemCaseSensitive(data,
			            "result") == NULL,
			    "%s: names no action", r->name);
			CHECKF(!result_of(w, id, &res),
			    "%s: nothing signed for %s", r->name, id);
			CHECKF(out.action_id[0] == '\0', "%s: outcome names %s",
			    r->name, out.action_id);
		}
		if (strcmp(r->events, "policy.denied") == 0 && data != NULL) {
			CHECKF(strstr(dstr(data, "why"), r->error) != NULL,
			    "%s: why", r->name);
			CHECK(strcmp(dstr(data, "reason"), "deploy fix 123") ==
			    0);
			CHECK(cJSON_GetObjectItemCaseSensitive(data,
			          "action") != NULL);
		}
		if (strstr(r->events, "action.executed") != NULL &&
		    data != NULL) {
			CHECK(strcmp(dstr(data, "status"),
			          envelope_status_name(r->status)) == 0);
			CHECK(cJSON_GetObjectItemCaseSensitive(data,
			          "result") != NULL);
		}
		cJSON_Delete(root);
		free(prev);
		prev = f;
		memcpy(prev_id, id, 33);
	}
	free(prev);
	CHECK(w->fake.last_timeout == 3);
}

/* Appends action.received for a, as a crash after it would leave it. */
static void
record_received(struct world *w, const struct envelope_action_payload *a)
{
	struct envelope env = { NULL, NULL, "" };
	struct err_msg m;
	cJSON *d = cJSON_CreateObject(), *e = cJSON_CreateObject();

	CHECK(envelope_action_sign(a, &w->action_key, &env) == 0);
	cJSON_AddStringToObject(d, "host_id", HOST);
	cJSON_AddStringToObject(d, "action_id", a->action_id);
	cJSON_AddNumberToObject(d, "expires_at", (double)a->expires_at);
	cJSON_AddStringToObject(e, "payload", env.payload_b64);
	cJSON_AddStringToObject(e, "sig", env.sig_b64);
	cJSON_AddStringToObject(e, "key_id", env.key_id);
	cJSON_AddItemToObject(d, "action", e);
	CHECK(audit_append(w->audit, "action.received", "agent", d, NULL, &m) ==
	    0);
	cJSON_Delete(d);
	envelope_free(&env);
}

/* Appends action.dispatched for a: a crash while dockerd worked. */
static void
record_dispatched(struct world *w, const struct envelope_action_payload *a)
{
	struct err_msg m;
	cJSON *d = cJSON_CreateObject(), *s = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "host_id", HOST);
	cJSON_AddStringToObject(d, "action_id", a->action_id);
	cJSON_AddNumberToObject(d, "expires_at", (double)a->expires_at);
	cJSON_AddStringToObject(d, "container_id", a->container_id);
	cJSON_AddStringToObject(d, "action_name",
	    envelope_action_name(a->action));
	cJSON_AddNumberToObject(d, "limit_ms", 60000);
	cJSON_AddBoolToObject(s, "running", true);
	cJSON_AddNumberToObject(s, "pid", 7);
	cJSON_AddNumberToObject(s, "restart_count", 0);
	cJSON_AddStringToObject(s, "started_at", "2024-05-01T09:00:00Z");
	cJSON_AddStringToObject(s, "finished_at", "0001-01-01T00:00:00Z");
	cJSON_AddItemToObject(d, "state_before", s);
	CHECK(audit_append(w->audit, "action.dispatched", "agent", d, NULL,
	          &m) == 0);
	cJSON_Delete(d);
}

/*
 * A restart: a new executor from the same log remembers the seen ids and
 * the results, and answers the action a crash cut short without running
 * it again.
 */
static void
test_restart(struct world *w)
{
	struct envelope_action_payload a, crashed, asked;
	struct envelope_result_payload res;
	struct executor_outcome out;
	struct executor_stats st;
	char *f, events[256];
	const cJSON *data = NULL;
	cJSON *root = NULL;
	unsigned acts;
	size_t before;

	/*
	 * Issue 12, item 11: crashed was received but dockerd never asked
	 * (no action.dispatched): FAILURE "not run"; asked was dispatched
	 * too (dockerd asked, no answer recorded): UNKNOWN, followed up.
	 */
	base_action(&crashed, 900);
	crashed.action = ENVELOPE_ACTION_STOP;
	record_received(w, &crashed);
	base_action(&asked, 901);
	record_received(w, &asked);
	record_dispatched(w, &asked);
	executor_free(w->ex);
	w->ex = NULL;
	before = log_lines(w->log);
	w->fake.now = NOW + 5000;
	if (open_executor(w) != 0)
		return;
	executor_get_stats(w->ex, &st);
	CHECKF(st.recovered == 2, "recovered %llu",
	    (unsigned long long)st.recovered);
	CHECK(st.ids_loaded >= 5);
	CHECK(st.results_reloaded >= 10);
	CHECK(st.undelivered == st.outbox && st.outbox > 0);
	new_events(w->log, before, events, sizeof(events), &root, &data);
	CHECKF(strcmp(events, "action.executed,action.executed") == 0,
	    "events %s", events);
	cJSON_Delete(root);
	CHECK(result_of(w, crashed.action_id, &res));
	CHECKF(res.status == ENVELOPE_STATUS_FAILURE &&
	        strstr(res.error, "not run") != NULL &&
	        strstr(res.error, "dockerd was not called") != NULL &&
	        res.docker_status == 0,
	    "%s %s", envelope_status_name(res.status), res.error);
	CHECK(result_of(w, asked.action_id, &res));
	CHECKF(res.status == ENVELOPE_STATUS_UNKNOWN &&
	        strstr(res.error, "dockerd was asked") != NULL,
	    "%s %s", envelope_status_name(res.status), res.error);
	/*
	 * The one dockerd was asked about is followed up, with the UNKNOWN
	 * row of run_rows (no outcome recorded for it yet).
	 */
	CHECKF(st.outcomes_pending == 2, "pending %zu", st.outcomes_pending);

	/* The crashed action, sent again: not run a second time. */
	acts = w->fake.acts;
	f = signed_frame(w, &crashed);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	CHECK(out.redelivered == EXECUTOR_REDELIVERY_RESENT && out.resent &&
	    w->fake.acts == acts);
	free(f);

	/* The first row's action, replayed after the restart. */
	base_action(&a, 1);
	f = signed_frame(w, &a);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	CHECK(out.status == ENVELOPE_STATUS_REJECTED && out.resent &&
	    w->fake.acts == acts);
	CHECK(result_of(w, a.action_id, &res) &&
	    res.status == ENVELOPE_STATUS_SUCCESS);
	free(f);

	/* A second restart does not answer the crashed action twice. */
	executor_free(w->ex);
	w->ex = NULL;
	if (open_executor(w) != 0)
		return;
	executor_get_stats(w->ex, &st);
	CHECK(st.recovered == 0);
}

/*
 * Issue 17: a run makes three records durable with two fdatasyncs:
 * action.received and action.dispatched share one (nothing happens
 * between them), action.executed has its own, in that order.
 */
static void
test_run_syncs(struct world *w)
{
	struct envelope_action_payload a;
	struct executor_outcome out;
	struct audit_stats st0, st1;
	char *f, events[256];
	const cJSON *data = NULL;
	cJSON *root = NULL;
	size_t before = log_lines(w->log);

	base_action(&a, 1100);
	f = signed_frame(w, &a);
	audit_get_stats(w->audit, &st0);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	audit_get_stats(w->audit, &st1);
	CHECKF(out.status == ENVELOPE_STATUS_SUCCESS && out.docker_called,
	    "%s %s", envelope_status_name(out.status), out.error);
	CHECKF(st1.appends - st0.appends == 3 && st1.syncs - st0.syncs == 2,
	    "%llu records, %llu fdatasync",
	    (unsigned long long)(st1.appends - st0.appends),
	    (unsigned long long)(st1.syncs - st0.syncs));
	new_events(w->log, before, events, sizeof(events), &root, &data);
	CHECKF(strcmp(events,
	           "action.received,action.dispatched,action.executed") == 0,
	    "%s", events);
	cJSON_Delete(root);
	free(f);
}

/* The audit log cannot grow: FAILURE "audit unavailable", dockerd idle. */
static void
test_audit_unavailable(struct world *w)
{
	struct envelope_action_payload a;
	struct executor_outcome out;
	struct rlimit old, lim;
	struct stat st;
	unsigned acts = w->fake.acts;
	size_t before = log_lines(w->log);
	char *f;

	base_action(&a, 1000);
	a.action = ENVELOPE_ACTION_STOP;
	f = signed_frame(w, &a);
	CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(stat(w->log, &st) == 0);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size + 64;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECKF(out.status == ENVELOPE_STATUS_FAILURE &&
	        strcmp(out.error, "audit unavailable") == 0,
	    "%s %s", envelope_status_name(out.status), out.error);
	CHECK(w->fake.acts == acts && !out.docker_called);
	CHECK(log_lines(w->log) == before);
	/* Issue 12, item 11: a result that is not durable is not sent. */
	CHECKF(!out.has_result, "a result not recorded went to the outbox");
	free(f);
	/*
	 * Recorded as seen in memory: the same action is not run later.
	 * Delivered again with no answer held: REJECTED replay (issue 16).
	 */
	f = signed_frame(w, &a);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	CHECK(out.status == ENVELOPE_STATUS_REJECTED && w->fake.acts == acts);
	CHECK(out.redelivered == EXECUTOR_REDELIVERY_REPLAY);
	CHECK_CONTAINS(out.error, "replay: action_id");
	free(f);
}

/* The action_id and request_sha256 of a result frame from the outbox. */
static void
result_ids(const char *frame, size_t len, struct wire_result_ack *ack)
{
	struct envelope_result_payload res;
	struct wire_frame f;
	uint8_t raw[ENVELOPE_PAYLOAD_MAX];
	size_t raw_len = 0;

	memset(ack, 0, sizeof(*ack));
	CHECK(wire_parse_agent_frame(frame, len, &f, NULL) == 0);
	CHECK(f.type == WIRE_ACTION_RESULT);
	CHECK(sodium_base642bin(raw, sizeof(raw), f.payload_b64,
	          strlen(f.payload_b64), NULL, &raw_len, NULL,
	          sodium_base64_VARIANT_ORIGINAL) == 0);
	CHECK(envelope_result_decode(raw, raw_len, &res, NULL) == 0);
	memcpy(ack->action_id, res.action_id, sizeof(ack->action_id));
	memcpy(ack->request_sha256, res.request_sha256,
	    sizeof(ack->request_sha256));
	wire_frame_free(&f);
}

/*
 * Delivery bookkeeping: handed out once per connection until a result_ack
 * names that very result (action_id and request_sha256).
 */
static void
test_outbox(struct world *w)
{
	struct executor_stats st;
	struct wire_result_ack ack[2], wrong, this;
	uint64_t seq, second = 0;
	size_t copies = 0;
	char *frame = NULL;
	size_t len, n = 0;
	int r;

	memset(ack, 0, sizeof(ack));
	executor_get_stats(w->ex, &st);
	CHECK(st.undelivered > 1);
	while ((r = executor_outbox_take(w->ex, 1, &frame, &len, &seq)) == 1) {
		CHECK(len == strlen(frame));
		result_ids(frame, len, &this);
		if (n == 0)
			ack[0] = this;
		if (strcmp(this.action_id, ack[0].action_id) == 0 &&
		    strcmp(this.request_sha256, ack[0].request_sha256) == 0)
			copies++;
		else if (second == 0) {
			ack[1] = this;
			second = seq;
		}
		free(frame);
		n++;
	}
	CHECK(second != 0);
	CHECK(r == 0 && n == st.undelivered);
	/* Nothing more on the same connection; all again on the next. */
	CHECK(executor_outbox_take(w->ex, 1, &frame, &len, &seq) == 0);
	executor_outbox_acked(w->ex, ack[0].action_id, ack[0].request_sha256);
	/* An ack of another request's result acknowledges nothing. */
	wrong = ack[1];
	wrong.request_sha256[0] = wrong.request_sha256[0] == '0' ? '1' : '0';
	executor_outbox_acked(w->ex, wrong.action_id, wrong.request_sha256);
	executor_outbox_acked(w->ex, "00000000000000000000000000000000",
	    ack[1].request_sha256);
	/* Every copy of the acknowledged result goes, nothing else. */
	executor_get_stats(w->ex, &st);
	CHECKF(st.undelivered == n - copies && st.results_acked == copies,
	    "undelivered %zu of %zu, acked %llu, copies %zu", st.undelivered, n,
	    (unsigned long long)st.results_acked, copies);
	CHECK(executor_outbox_take(w->ex, 2, &frame, &len, &seq) == 1);
	CHECK(seq == second);
	free(frame);
	executor_outbox_untake(w->ex, seq);
	CHECK(executor_outbox_take(w->ex, 2, &frame, &len, &seq) == 1);
	CHECK(seq == second);
	free(frame);
	/*
	 * Ten minutes on (the server away all that time), every
	 * unacknowledged result is still kept and sent; only the
	 * acknowledged one is forgotten.
	 */
	w->fake.now += EXECUTOR_OUTBOX_KEEP_MS + 60000;
	n = 0;
	while (executor_outbox_take(w->ex, 3, &frame, &len, &seq) == 1) {
		free(frame);
		n++;
	}
	executor_get_stats(w->ex, &st);
	CHECKF(n == st.undelivered && st.outbox == st.undelivered &&
	        st.undelivered > 0,
	    "after ten minutes: %zu results sent again, %zu kept, %zu "
	    "unacknowledged (none may be dropped)",
	    n, st.outbox, st.undelivered);
	w->fake.now -= EXECUTOR_OUTBOX_KEEP_MS + 60000;
}

/* The records of event in the world's log. */
static size_t
count_events(struct world *w, const char *event)
{
	char line[8192], pat[96];
	size_t k = 0;
	FILE *f = fopen(w->log, "r");

	(void)snprintf(pat, sizeof(pat), "\"event\":\"%s\"", event);
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, pat) != NULL)
			k++;
	(void)fclose(f);
	return k;
}

/*
 * A full outbox of unacknowledged results: a new result pushes the oldest
 * out, and that is audited (action.result_undelivered), never silent.
 */
static void
test_outbox_full(struct world *w)
{
	struct executor_stats st, st0;
	struct executor_outcome out;
	struct envelope_action_payload a;
	size_t before = count_events(w, "action.result_undelivered"), need;
	unsigned i;
	char *f;

	executor_get_stats(w->ex, &st0);
	CHECK(st0.outbox == st0.undelivered && st0.outbox > 0);
	need = EXECUTOR_OUTBOX_MAX - st0.outbox + 1;
	/* Another host's actions: REJECTED, each with a signed result. */
	for (i = 0; i < need; i++) {
		base_action(&a, 60000 + i);
		memcpy(a.host_id, "db-09", 6);
		f = signed_frame(w, &a);
		CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
		CHECK(out.has_result);
		free(f);
	}
	executor_get_stats(w->ex, &st);
	CHECKF(st.outbox == EXECUTOR_OUTBOX_MAX &&
	        st.results_undelivered == st0.results_undelivered + 1,
	    "outbox %zu, forgotten unacknowledged %llu", st.outbox,
	    (unsigned long long)st.results_undelivered);
	CHECKF(count_events(w, "action.result_undelivered") == before + 1,
	    "a result forgotten unacknowledged was not audited");
}

/* ---- operator-signed requests (issue 13, item 3 and 4) ---- */

/*
 * web-1: alice only, operator-signed (no accept_relay_signed); db-*: one
 * approval of "dba"; web-2: two approvals of "dba".
 */
static const char op_policy_json[] =
    "{\"host_id\":\"web-01\",\"rules\":["
    "{\"match\":{\"name\":\"web-1\"},\"actions\":[\"START\",\"STOP\","
    "\"RESTART\"],\"operators\":[\"alice\"],\"min_reason_length\":5},"
    "{\"match\":{\"name\":\"db-*\"},\"actions\":[\"RESTART\"],"
    "\"approvals\":[{\"group\":\"dba\",\"count\":1}],"
    "\"approval_wait\":3600},"
    "{\"match\":{\"name\":\"web-2\"},\"actions\":[\"RESTART\"],"
    "\"approvals\":[{\"group\":\"dba\",\"count\":2}],"
    "\"approval_wait\":3600}]}\n";

#define DAY_MS (24LL * 3600 * 1000)
/* The highest version there is: the audit must write it exactly. */
#define OP_ROSTER_VERSION ROSTER_VERSION_MAX

enum who { ALICE, BOB, CAROL, DAVE, EVE, NOBODY };
static const char *const who_name[] = { "alice", "bob", "carol", "dave",
	"eve" };
static struct keys_secret opk[5]; /* eve is in no roster */
static struct keys_secret roster_key;

/* alice (sre), bob and dave (dba), carol (dba, key expired). */
static char *
op_roster_file(int64_t issued, int64_t expires)
{
	struct roster r;
	struct roster_operator ops[4];
	struct err_msg m;
	char *json = NULL, *file = NULL;
	size_t i;

	memset(&r, 0, sizeof(r));
	memset(ops, 0, sizeof(ops));
	r.version = OP_ROSTER_VERSION;
	r.issued_at = issued;
	r.expires_at = expires;
	r.ops = ops;
	r.nops = 4;
	for (i = 0; i < 4; i++) {
		(void)snprintf(ops[i].name, sizeof(ops[i].name), "%s",
		    who_name[i]);
		ops[i].key = opk[i].pub;
		ops[i].ngroups = 1;
		(void)snprintf(ops[i].groups[0], sizeof(ops[i].groups[0]), "%s",
		    i == ALICE ? "sre" : "dba");
		ops[i].not_after = i == CAROL ? NOW - 1000 : NOW + 365 * DAY_MS;
	}
	CHECK(roster_encode_payload(&r, &json) == 0);
	if (json != NULL &&
	    roster_sign((const uint8_t *)json, strlen(json), &roster_key, NULL,
	        0, &file, &m) != 0)
		file = NULL;
	free(json);
	return file;
}

struct oprow {
	const char *name;
	const char *container; /* NULL: C_WEB */
	enum who signer;       /* NOBODY: a relay-only action */
	/* What the request says when it differs from the action. */
	const char *req_container, *req_reason, *req_by;
	int64_t req_issued_off, req_expires_off; /* 0/0: -1 s, +60 s */
	int64_t act_expires_off;                 /* 0: +60 s */
	enum who approvers[4];
	size_t napprovers;
	bool bad_sig;        /* the request's sig is another key's */
	bool approval_other; /* approvals over other request bytes */
	/* what comes of it */
	enum envelope_status status;
	const char *error;     /* in out.error; NULL: none */
	const char *event;     /* the record that says why */
	const char *requester; /* its "requester" */
	int counted;           /* its approvals counted; -1: no array */
	const char *why;       /* in some approval's why; NULL: none */
};

static const struct oprow oprows[] = {
	{ "valid operator request", NULL, ALICE, NULL, NULL, NULL, 0, 0, 0,
	    { 0 }, 0, false, false, ENVELOPE_STATUS_SUCCESS, NULL,
	    "action.received", "verified", 0, NULL },
	{ "key not in the roster", NULL, EVE, NULL, NULL, NULL, 0, 0, 0, { 0 },
	    0, false, false, ENVELOPE_STATUS_REJECTED,
	    "is not in roster version", "action.rejected", "unverified", -1,
	    NULL },
	{ "bad operator signature", NULL, ALICE, NULL, NULL, NULL, 0, 0, 0,
	    { 0 }, 0, true, false, ENVELOPE_STATUS_REJECTED,
	    "operator request: bad operator signature", "action.rejected",
	    "unverified", -1, NULL },
	{ "the relay changed the reason", NULL, ALICE, NULL,
	    "the operator's own reason", NULL, 0, 0, 0, { 0 }, 0, false, false,
	    ENVELOPE_STATUS_REJECTED,
	    "operator request: the relay changed the request: reason differs",
	    "action.rejected", "verified", 0, NULL },
	{ "the relay changed the container", NULL, ALICE, C_DB, NULL, NULL, 0,
	    0, 0, { 0 }, 0, false, false, ENVELOPE_STATUS_REJECTED,
	    "the relay changed the request: container_id differs",
	    "action.rejected", "verified", 0, NULL },
	{ "the action expires after the request", NULL, ALICE, NULL, NULL, NULL,
	    -1000, 30000, 60000, { 0 }, 0, false, false,
	    ENVELOPE_STATUS_REJECTED, "the relay changed the request",
	    "action.rejected", "verified", 0, NULL },
	/*
	 * The action may not outlive the request, and an expired action is
	 * refused before the request is read: "expired" either way.
	 */
	{ "request expired", NULL, ALICE, NULL, NULL, NULL, -400000, -40000,
	    -40000, { 0 }, 0, false, false, ENVELOPE_STATUS_REJECTED, "expired",
	    "action.rejected", NULL, -1, NULL },
	{ "request issued in the future", NULL, ALICE, NULL, NULL, NULL, 120000,
	    180000, 0, { 0 }, 0, false, false, ENVELOPE_STATUS_REJECTED,
	    "operator request: the operator's request is issued 120000 ms in "
	    "the future",
	    "action.rejected", "verified", 0, NULL },
	{ "operator's not_after passed", "", CAROL, NULL, NULL, NULL, 0, 0, 0,
	    { 0 }, 0, false, false, ENVELOPE_STATUS_REJECTED,
	    "operator carol's key expired", "action.rejected", "unverified", -1,
	    NULL },
	{ "requested_by is not the signer's name", NULL, ALICE, NULL, NULL,
	    "bob", 0, 0, 0, { 0 }, 0, false, false, ENVELOPE_STATUS_REJECTED,
	    "signed by alice's key but names bob", "action.rejected",
	    "unverified", -1, NULL },
	{ "not an operator of the rule", NULL, DAVE, NULL, NULL, NULL, 0, 0, 0,
	    { 0 }, 0, false, false, ENVELOPE_STATUS_DENIED,
	    "operator not listed: \"dave\"", "policy.denied", "verified", 0,
	    NULL },
	{ "relay-only to a rule that wants an operator", NULL, NOBODY, NULL,
	    NULL, NULL, 0, 0, 0, { 0 }, 0, false, false, ENVELOPE_STATUS_DENIED,
	    "requires an operator-signed request", "policy.denied",
	    "server-asserted", -1, NULL },
	/* Approvals: one of "dba" for db-1. */
	{ "approved by bob", C_DB, ALICE, NULL, NULL, NULL, 0, 0, 0, { BOB }, 1,
	    false, false, ENVELOPE_STATUS_SUCCESS, NULL, "action.received",
	    "verified", 1, NULL },
	{ "no approval", C_DB, ALICE, NULL, NULL, NULL, 0, 0, 0, { 0 }, 0,
	    false, false, ENVELOPE_STATUS_DENIED,
	    "approvals: 1 of \"dba\" needed, 0 counted", "policy.denied",
	    "verified", 0, NULL },
	{ "the requester's own approval", C_DB, BOB, NULL, NULL, NULL, 0, 0, 0,
	    { BOB }, 1, false, false, ENVELOPE_STATUS_DENIED,
	    "approvals: 1 of \"dba\" needed, 0 counted", "policy.denied",
	    "verified", 0, "the requester cannot approve" },
	{ "an approval over other bytes", C_DB, ALICE, NULL, NULL, NULL, 0, 0,
	    0, { BOB }, 1, false, true, ENVELOPE_STATUS_DENIED,
	    "1 of \"dba\" needed, 0 counted", "policy.denied", "verified", 0,
	    "bad signature" },
	{ "an approval by a key not in the roster", C_DB, ALICE, NULL, NULL,
	    NULL, 0, 0, 0, { EVE }, 1, false, false, ENVELOPE_STATUS_DENIED,
	    "1 of \"dba\" needed, 0 counted", "policy.denied", "verified", 0,
	    "not in roster" },
	{ "an approval by an expired key", C_DB, ALICE, NULL, NULL, NULL, 0, 0,
	    0, { CAROL }, 1, false, false, ENVELOPE_STATUS_DENIED,
	    "1 of \"dba\" needed, 0 counted", "policy.denied", "verified", 0,
	    "expired" },
	/* Two of "dba" for web-2: the same key twice counts once. */
	{ "the same key twice", C_WEB2, ALICE, NULL, NULL, NULL, 0, 0, 0,
	    { BOB, BOB }, 2, false, false, ENVELOPE_STATUS_DENIED,
	    "approvals: 2 of \"dba\" needed, 1 counted (bob)", "policy.denied",
	    "verified", 1, "approved already" },
	{ "two approvers", C_WEB2, ALICE, NULL, NULL, NULL, 0, 0, 0,
	    { BOB, DAVE }, 2, false, false, ENVELOPE_STATUS_SUCCESS, NULL,
	    "action.received", "verified", 2, NULL },
	/* A request that waited for approvals longer than the relay lives. */
	{ "a request older than the relay", C_WEB2, ALICE, NULL, NULL, NULL,
	    -1800000, 1800000, 0, { DAVE, BOB }, 2, false, false,
	    ENVELOPE_STATUS_SUCCESS, NULL, "action.received", "verified", 2,
	    NULL },
};

/* The data of the first `event` record from line `from` on (cJSON_Delete
 * *root). */
static const cJSON *
event_data(const char *path, size_t from, const char *event, cJSON **root)
{
	struct audit_reader *rd = NULL;
	struct err_msg m;
	char *line = NULL;
	size_t len = 0, n = 0;
	bool nl = false;
	const cJSON *data = NULL;

	*root = NULL;
	if (audit_reader_open(path, &rd, &m) != 0)
		return NULL;
	while (data == NULL && audit_reader_next(rd, &line, &len, &nl) == 1) {
		struct audit_record rec;

		if (n++ < from)
			continue;
		if (audit_parse_line(line, len, &rec, &m) != 0)
			break;
		if (strcmp(rec.event, event) == 0) {
			*root = rec.root;
			data = rec.data;
			rec.root = NULL;
		}
		audit_record_free(&rec);
	}
	audit_reader_close(rd);
	return data;
}

/*
 * The action a (its request made from it and the row, signed by signer,
 * with the row's approvals) as a signed frame.
 */
static char *
op_frame(struct world *w, struct envelope_action_payload *a,
    const struct oprow *row, int64_t now)
{
	struct request_payload p;
	struct request_signed s;
	char *json = NULL, *other = NULL;
	size_t i;

	memset(&s, 0, sizeof(s));
	if (row->signer == NOBODY)
		return signed_frame(w, a);
	memset(&p, 0, sizeof(p));
	memcpy(p.action_id, a->action_id, sizeof(p.action_id));
	memcpy(p.host_id, a->host_id, sizeof(p.host_id));
	(void)snprintf(p.container_id, sizeof(p.container_id), "%s",
	    row->req_container != NULL ? row->req_container : a->container_id);
	p.action = a->action;
	(void)snprintf(p.reason, sizeof(p.reason), "%s",
	    row->req_reason != NULL ? row->req_reason : a->reason);
	(void)snprintf(p.requested_by, sizeof(p.requested_by), "%s",
	    row->req_by != NULL ? row->req_by : a->requested_by);
	p.issued_at = now +
	    (row->req_issued_off != 0 ? row->req_issued_off : -1000);
	p.expires_at = now +
	    (row->req_expires_off != 0 ? row->req_expires_off : 60000);
	p.roster_version = OP_ROSTER_VERSION;
	CHECK(request_sign(&p, &opk[row->signer], &s) == 0);
	CHECK(request_encode(&p, &json) == 0);
	if (row->bad_sig) {
		struct request_signed s2;

		memset(&s2, 0, sizeof(s2));
		CHECK(request_sign(&p, &opk[DAVE], &s2) == 0);
		if (s.sig_b64 != NULL && s2.sig_b64 != NULL &&
		    strlen(s.sig_b64) == strlen(s2.sig_b64))
			memcpy(s.sig_b64, s2.sig_b64, strlen(s2.sig_b64));
		request_signed_free(&s2);
	}
	if (row->approval_other) {
		p.action = ENVELOPE_ACTION_STOP;
		CHECK(request_encode(&p, &other) == 0);
	}
	a->has_request = true;
	(void)snprintf(a->request.payload_b64, sizeof(a->request.payload_b64),
	    "%s", s.payload_b64 != NULL ? s.payload_b64 : "");
	(void)snprintf(a->request.sig_b64, sizeof(a->request.sig_b64), "%s",
	    s.sig_b64 != NULL ? s.sig_b64 : "");
	memcpy(a->request.key_id, s.key_id, sizeof(a->request.key_id));
	a->napprovals = row->napprovers;
	for (i = 0; i < row->napprovers; i++) {
		const char *b = other != NULL ? other : json;

		CHECK(b != NULL &&
		    request_approve((const uint8_t *)b, strlen(b),
		        &opk[row->approvers[i]], &a->approvals[i]) == 0);
	}
	request_signed_free(&s);
	free(json);
	free(other);
	return signed_frame(w, a);
}

/* The number of approvals with "counted": true in data's "approvals",
 * -1 without the array; whether one's why holds why. */
static int
counted_of(const cJSON *data, const char *why, bool *why_found)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, "approvals");
	const cJSON *e;
	int n = 0;

	*why_found = why == NULL;
	if (!cJSON_IsArray(arr))
		return -1;
	cJSON_ArrayForEach(e, arr)
	{
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "counted");
		const char *y = dstr(e, "why");

		if (cJSON_IsTrue(c)) {
			n++;
			if (y != NULL || dstr(e, "name") == NULL)
				return -2; /* counted says why, or no name */
		} else if (y != NULL && why != NULL && strstr(y, why) != NULL) {
			*why_found = true;
		}
	}
	return n;
}

/* Sends a's frame; the outcome. */
static void
send_frame(struct world *w, const char *f, struct executor_outcome *out)
{
	CHECK(
	    f != NULL && executor_handle_frame(w->ex, f, strlen(f), out) == 0);
}

static void
run_oprow(struct world *w, const struct oprow *row, unsigned n, int64_t now)
{
	struct envelope_action_payload a;
	struct executor_outcome out;
	const cJSON *data;
	cJSON *root = NULL;
	unsigned acts = w->fake.acts;
	size_t before = log_lines(w->log);
	bool why_found = false;
	int counted;
	char *f;

	base_action(&a, n);
	a.expires_at = now +
	    (row->act_expires_off != 0 ? row->act_expires_off : 60000);
	a.issued_at = row->act_expires_off < 0 ? a.expires_at - 60000 :
	                                         now - 1000;
	if (row->container != NULL && row->container[0] != '\0')
		memcpy(a.container_id, row->container, 65);
	(void)snprintf(a.requested_by, sizeof(a.requested_by), "%s",
	    row->req_by != NULL       ? row->req_by :
	        row->signer == NOBODY ? "alice" :
	                                who_name[row->signer]);
	f = op_frame(w, &a, row, now);
	memset(&out, 0, sizeof(out));
	send_frame(w, f, &out);
	CHECKF(out.status == row->status, "%s: status %s (%s)", row->name,
	    envelope_status_name(out.status), out.error);
	if (row->error != NULL)
		CHECKF(strstr(out.error, row->error) != NULL,
		    "%s: error \"%s\"", row->name, out.error);
	CHECKF(w->fake.acts - acts ==
	        (row->status == ENVELOPE_STATUS_SUCCESS ? 1u : 0u),
	    "%s: %u dockerd calls", row->name, w->fake.acts - acts);
	data = event_data(w->log, before, row->event, &root);
	CHECKF(data != NULL, "%s: no %s record", row->name, row->event);
	if (data != NULL) {
		const char *req = dstr(data, "requester");

		if (row->requester != NULL)
			CHECKF(req != NULL && strcmp(req, row->requester) == 0,
			    "%s: requester %s", row->name,
			    req != NULL ? req : "(none)");
		counted = counted_of(data, row->why, &why_found);
		if (row->requester != NULL)
			CHECKF(counted == row->counted,
			    "%s: %d approvals counted", row->name, counted);
		CHECKF(why_found, "%s: no approval says \"%s\"", row->name,
		    row->why);
		if (row->error != NULL &&
		    strcmp(row->event, "policy.denied") == 0)
			CHECKF(strstr(dstr(data, "why"), row->error) != NULL,
			    "%s: why \"%s\"", row->name, dstr(data, "why"));
		if (row->error != NULL &&
		    strcmp(row->event, "action.rejected") == 0)
			CHECKF(strstr(dstr(data, "reason"), row->error) != NULL,
			    "%s: reason \"%s\"", row->name,
			    dstr(data, "reason"));
		if (req != NULL && strcmp(req, "verified") == 0) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(data,
			    "roster_version");
			const char *kid = dstr(data, "requester_key_id");

			CHECKF(cJSON_IsNumber(v) &&
			        (int64_t)v->valuedouble == OP_ROSTER_VERSION,
			    "%s: roster_version", row->name);
			CHECKF(kid != NULL &&
			        strcmp(kid, opk[row->signer].pub.id) == 0,
			    "%s: requester_key_id", row->name);
			CHECKF(dstr(data, "operator_request_sha256") != NULL &&
			        strlen(dstr(data, "operator_request_sha256")) ==
			            64,
			    "%s: operator_request_sha256", row->name);
		}
	}
	cJSON_Delete(root);
	free(f);
}

/*
 * The agent's checks of an operator's signed request and its approvals
 * (docs/operators.md, "What the agent checks"), in a world of its own
 * with a roster store and the policy above.
 */
static void
test_operator_requests(void)
{
	struct world w;
	struct roster_store *store = NULL;
	struct executor_config c;
	struct envelope_action_payload a;
	struct executor_outcome out;
	enum roster_offer what;
	struct err_msg m;
	char *roster = NULL, *forged = NULL, *genuine = NULL;
	unsigned acts;
	size_t i;
	FILE *f;

	setup(&w);
	CHECK(keys_generate(&roster_key) == 0);
	for (i = 0; i < 5; i++)
		CHECK(keys_generate(&opk[i]) == 0);
	/* No roster keys pinned at all (config.roster NULL): refused too. */
	if (w.ex != NULL) {
		base_action(&a, 0x4fff);
		genuine = op_frame(&w, &a, &oprows[0], NOW);
		acts = w.fake.acts;
		send_frame(&w, genuine, &out);
		CHECK(out.status == ENVELOPE_STATUS_REJECTED);
		CHECK_CONTAINS(out.error, "holds no operator roster");
		CHECK(w.fake.acts == acts);
		free(genuine);
		genuine = NULL;
	}
	/* The policy above, and an executor with a roster store. */
	executor_free(w.ex);
	w.ex = NULL;
	policy_store_free(w.store);
	w.store = NULL;
	f = fopen(w.policy, "w");
	CHECK(f != NULL && fputs(op_policy_json, f) >= 0 && fclose(f) == 0);
	CHECKF(policy_store_open(w.policy, HOST, &w.store, &m) == 0, "%s",
	    m.text);
	{
		struct keys_pubset pinned;

		memset(&pinned, 0, sizeof(pinned));
		pinned.count = 1;
		pinned.keys[0] = roster_key.pub;
		CHECK(
		    roster_store_new(&pinned, 1, NULL, false, &store, &m) == 0);
	}
	memset(&c, 0, sizeof(c));
	c.host_id = HOST;
	c.action_keys = &w.pinned;
	c.result_key = &w.result_key;
	c.policy = w.store;
	c.roster = store;
	c.audit = w.audit;
	c.audit_path = w.log;
	c.stop_timeout = 3;
	c.ops = &fake_ops;
	c.ops_arg = &w.fake;
	CHECKF(executor_open(&c, &w.ex, &m) == 0, "%s", m.text);
	if (w.ex == NULL || store == NULL || w.store == NULL)
		goto out;

	/* No roster held: every operator request is refused, id unburnt. */
	{
		static const struct oprow valid = { "no roster", NULL, ALICE,
			NULL, NULL, NULL, 0, 0, 0, { 0 }, 0, false, false,
			ENVELOPE_STATUS_REJECTED, NULL, NULL, NULL, 0, NULL };

		base_action(&a, 0x5000);
		genuine = op_frame(&w, &a, &valid, NOW);
		acts = w.fake.acts;
		send_frame(&w, genuine, &out);
		CHECK(out.status == ENVELOPE_STATUS_REJECTED);
		CHECKF(strcmp(out.error,
		           "operator request: this host holds no operator "
		           "roster, so no operator's signature can be "
		           "checked") == 0,
		    "%s", out.error);
		CHECK(w.fake.acts == acts);
	}
	roster = op_roster_file(NOW - DAY_MS, NOW + 30 * DAY_MS);
	CHECK(roster != NULL &&
	    roster_store_offer(store, (const uint8_t *)roster, strlen(roster),
	        NOW, &what, &m) == 0 &&
	    what == ROSTER_OFFER_TAKEN);
	/* Now held: the same frame runs (the refusal kept no id). */
	send_frame(&w, genuine, &out);
	CHECKF(out.status == ENVELOPE_STATUS_SUCCESS, "%s", out.error);
	CHECK(w.fake.acts == acts + 1);
	/* Delivered again: not run again, its result goes once more. */
	send_frame(&w, genuine, &out);
	CHECK(out.redelivered == EXECUTOR_REDELIVERY_RESENT && out.resent);
	CHECK(w.fake.acts == acts + 1);
	free(genuine);
	genuine = NULL;

	for (i = 0; i < sizeof(oprows) / sizeof(oprows[0]); i++)
		run_oprow(&w, &oprows[i], 0x6000 + (unsigned)i, NOW);

	/*
	 * A forged request (bad operator signature) is REJECTED and its
	 * action_id stays free: the genuine request with that id runs.
	 */
	{
		struct oprow bad = oprows[0];

		bad.bad_sig = true;
		base_action(&a, 0x7000);
		forged = op_frame(&w, &a, &bad, NOW);
		base_action(&a, 0x7000);
		genuine = op_frame(&w, &a, &oprows[0], NOW);
		acts = w.fake.acts;
		send_frame(&w, forged, &out);
		CHECK(out.status == ENVELOPE_STATUS_REJECTED);
		CHECK_CONTAINS(out.error, "bad operator signature");
		send_frame(&w, forged, &out);
		CHECK(out.status == ENVELOPE_STATUS_REJECTED);
		CHECK_CONTAINS(out.error, "bad operator signature");
		send_frame(&w, genuine, &out);
		CHECKF(out.status == ENVELOPE_STATUS_SUCCESS, "%s", out.error);
		CHECK(w.fake.acts == acts + 1);
		/* Once it ran, the forged copy is a replay. */
		send_frame(&w, forged, &out);
		CHECK(out.status == ENVELOPE_STATUS_REJECTED);
	}

	/*
	 * Nor across a restart: the forged request's record must not put
	 * its id in the seen set rebuilt from the log.
	 */
	{
		struct oprow bad = oprows[0];

		bad.bad_sig = true;
		free(forged);
		free(genuine);
		base_action(&a, 0x7100);
		forged = op_frame(&w, &a, &bad, NOW);
		base_action(&a, 0x7100);
		genuine = op_frame(&w, &a, &oprows[0], NOW);
		send_frame(&w, forged, &out);
		CHECK(out.status == ENVELOPE_STATUS_REJECTED);
		executor_free(w.ex);
		w.ex = NULL;
		CHECKF(executor_open(&c, &w.ex, &m) == 0, "%s", m.text);
		if (w.ex == NULL)
			goto out;
		acts = w.fake.acts;
		send_frame(&w, genuine, &out);
		CHECKF(out.status == ENVELOPE_STATUS_SUCCESS,
		    "genuine after a restart: %s", out.error);
		CHECK(w.fake.acts == acts + 1);
	}

	/* The roster expired (the clock moved on): refused. */
	w.fake.now = NOW + 31 * DAY_MS;
	{
		struct oprow late = oprows[0];

		late.error = "operator request: roster version";
		late.status = ENVELOPE_STATUS_REJECTED;
		late.event = "action.rejected";
		late.requester = NULL;
		run_oprow(&w, &late, 0x8000, w.fake.now);
		base_action(&a, 0x8001);
		a.issued_at = w.fake.now - 1000;
		a.expires_at = w.fake.now + 60000;
		free(forged);
		forged = op_frame(&w, &a, &late, w.fake.now);
		send_frame(&w, forged, &out);
		CHECK_CONTAINS(out.error, "expired");
	}
	w.fake.now = NOW;
out:
	free(roster);
	free(forged);
	free(genuine);
	executor_free(w.ex);
	w.ex = NULL;
	roster_store_free(store);
	keys_secret_wipe(&roster_key);
	for (i = 0; i < 5; i++)
		keys_secret_wipe(&opk[i]);
	teardown(&w);
}

/* The hash of the log's line at seq (the world's log is one file). */
static bool
line_hash_at(struct world *w, uint64_t seq, char hash[AUDIT_HASH_HEX + 1])
{
	struct audit_reader *rd = NULL;
	struct err_msg m;
	char *line = NULL;
	size_t len = 0;
	uint64_t n = 0;
	bool nl = false, found = false;

	if (audit_reader_open(w->log, &rd, &m) != 0)
		return false;
	while (!found && audit_reader_next(rd, &line, &len, &nl) == 1)
		if (n++ == seq) {
			audit_line_hash(line, len, hash);
			found = true;
		}
	audit_reader_close(rd);
	return found;
}

/*
 * Cross-anchored heads: a result carries the agent log's head when its
 * action carried the server's, and that head is a line of the log from
 * before the result was recorded; without a server_head, no agent_head.
 */
static void
test_anchors(struct world *w)
{
	struct envelope_action_payload a;
	struct envelope_result_payload res;
	struct executor_outcome out;
	char hash[AUDIT_HASH_HEX + 1], *f;
	size_t before = log_lines(w->log);

	base_action(&a, 0x700);
	a.has_server_head = true;
	a.server_head.seq = 12;
	memset(a.server_head.hash, 'c', AUDIT_HASH_HEX);
	f = signed_frame(w, &a);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	free(f);
	CHECK(out.status == ENVELOPE_STATUS_SUCCESS);
	CHECK(result_of(w, a.action_id, &res));
	CHECK(res.has_agent_head);
	/* Its action.dispatched: the last line before the result signed. */
	CHECKF(res.agent_head.seq == before + 1,
	    "agent_head %llu, log %zu lines (%zu before)",
	    (unsigned long long)res.agent_head.seq, log_lines(w->log), before);
	CHECK(line_hash_at(w, res.agent_head.seq, hash) &&
	    strcmp(hash, res.agent_head.hash) == 0);

	base_action(&a, 0x701);
	f = signed_frame(w, &a);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	free(f);
	CHECK(result_of(w, a.action_id, &res));
	CHECK(!res.has_agent_head);
}

int
main(void)
{
	struct world w;

	world_begin(&w);
	if (w.ex != NULL) {
		run_rows(&w);
		test_run_syncs(&w);
		test_audit_unavailable(&w);
		test_restart(&w);
		test_outbox(&w);
		test_outbox_full(&w);
		test_anchors(&w);
		verify_log(&w, 5, 10);
	}
	teardown(&w);
	test_operator_requests();
	return test_finish("test_executor");
}
