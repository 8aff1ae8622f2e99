/* SPDX-License-Identifier: ISC */
/* The agent's action pipeline: verify, decide, record, act, answer. */
#include "executor.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <sodium.h>

#include "jsonx.h"
#include "log.h"
#include "policy.h"
#include "replay.h"
#include "text.h"
#include "wire.h"

#define FRAME_DEPTH 8
#define PAYLOAD_DEPTH 4
#define REASON_MAX 768         /* why a frame was refused, before escaping */
#define LOG_ESC 1200

enum mode {
	MODE_RUN,                  /* the worker: the whole pipeline */
	MODE_BUSY,                 /* queue full: answer, do not run */
	MODE_STOPPING,             /* shutting down: answer, do not run */
};

struct outbox_entry {
	uint64_t seq;
	char action_id[33];
	char request_sha256[65];
	char *frame;
	size_t len;
	int64_t created_ms;        /* wall clock */
	bool delivered;            /* acknowledged by the server */
	uint64_t queued_epoch;     /* handed out on this connection; 0 none */
};

struct job {
	char *data;
	size_t len;
	struct wire_frame frame;   /* parsed already when frame.type is set */
	char container[65];        /* scheduling key (unverified); "" none */
};

struct executor;

/* One worker thread and the container it is working on. */
struct worker {
	struct executor *ex;
	pthread_t thread;
	bool started;
	char container[65];        /* under mu; "" idle or no key */
};

struct executor {
	char host_id[64];
	struct keys_pubset action_keys;
	struct keys_secret result_key;
	struct policy_store *policy;
	struct audit_writer *audit;
	int stop_timeout;
	struct executor_ops ops;
	void *ops_arg;
	void (*on_result)(void *arg);
	void *result_arg;

	struct replay *seen;           /* under mu */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool mu_ok, cv_ok;
	/* Under mu. */
	struct outbox_entry *outbox;   /* EXECUTOR_OUTBOX_MAX, by seq */
	size_t nout;
	/*
	 * outbox_take's start: every entry before it is delivered or already
	 * handed out on connection take_epoch (so a full outbox of results
	 * the server has is not walked for every new one). Any change that
	 * could break that (an entry put back, a new epoch) resets it.
	 */
	size_t take_from;
	uint64_t take_epoch;
	uint64_t next_seq;
	struct job queue[EXECUTOR_QUEUE_MAX];  /* in arrival order */
	size_t qlen;
	bool stop;
	bool thread_started;           /* the workers run */
	struct worker workers[EXECUTOR_WORKERS];
	struct executor_stats stats;
	int64_t refused_window_ms;
	unsigned refused_in_window;
	uint64_t refused_suppressed;
};

/* One frame on its way through the pipeline. */
struct act {
	enum mode mode;
	struct executor_outcome *out;
	int64_t started_at;
	struct wire_frame own;         /* parsed here when not given */
	char *peek_payload, *peek_key_id;  /* a refused frame's claims */
	/* Into the parsed frame or the claims; NULL when absent. */
	const char *payload_b64, *sig_b64, *key_id;
	uint8_t *raw;                  /* payload bytes: verified, or read */
	size_t raw_len;
	bool have_sha;
	char sha[65];
	bool authentic;                /* signature and strict parse held */
	/* Authentic: all of it; else what could be read of the claims. */
	struct envelope_action_payload a;
	bool have_container, have_action;
	/* dockerd's facts, once inspected. */
	struct inventory *inv;
	int rule;
};

/* ---- small helpers ---- */

static int64_t
now_ms(struct executor *ex)
{
	return ex->ops.now_ms(ex->ops_arg);
}

static void
lock(struct executor *ex)
{
	if (pthread_mutex_lock(&ex->mu) != 0)
		abort();               /* a broken invariant, not peer input */
}

static void
unlock(struct executor *ex)
{
	(void)pthread_mutex_unlock(&ex->mu);
}

static void
jstr(cJSON *o, const char *k, const char *v, bool *ok)
{
	if (*ok && cJSON_AddStringToObject(o, k, v) == NULL)
		*ok = false;
}

static void
jnum(cJSON *o, const char *k, int64_t v, bool *ok)
{
	if (*ok && cJSON_AddNumberToObject(o, k, (double)v) == NULL)
		*ok = false;
}

static void
jbool(cJSON *o, const char *k, bool v, bool *ok)
{
	if (*ok && cJSON_AddBoolToObject(o, k, v) == NULL)
		*ok = false;
}

/* Adds item (owned from here on, even on failure). */
static void
jitem(cJSON *o, const char *k, cJSON *item, bool *ok)
{
	if (!*ok || item == NULL || !cJSON_AddItemToObject(o, k, item)) {
		cJSON_Delete(item);
		*ok = false;
	}
}

/* Decodes base64 text of at most max decoded bytes into a new buffer. */
static int
b64_decode(const char *b64, size_t max, uint8_t **out, size_t *len)
{
	const char *end = NULL;
	size_t n = strlen(b64), got = 0;
	uint8_t *buf;

	*out = NULL;
	*len = 0;
	if (n == 0 || n / 4 > max / 3 + 1)
		return SIGNET_ERR_TOO_LARGE;
	buf = malloc(max + 1);
	if (buf == NULL)
		return SIGNET_ERR_ALLOC;
	if (sodium_base642bin(buf, max, b64, n, NULL, &got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || *end != '\0') {
		free(buf);
		return SIGNET_ERR_FORMAT;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/* ---- the outbox (under mu) ---- */

static void
outbox_drop(struct executor *ex, size_t i)
{
	if (i < ex->take_from)
		ex->take_from--;
	free(ex->outbox[i].frame);
	memmove(&ex->outbox[i], &ex->outbox[i + 1],
	    (ex->nout - i - 1) * sizeof(ex->outbox[0]));
	ex->nout--;
}

/*
 * Entries are in the order they were made, so the expired ones are at the
 * front: stop at the first that is not (a clock step back only delays a
 * drop). Called for every result; scanning all EXECUTOR_OUTBOX_MAX
 * entries each time was a sixth of the channel thread's time under load.
 */
static void
outbox_prune(struct executor *ex, int64_t now)
{
	size_t k = 0;

	while (k < ex->nout &&
	    ex->outbox[k].created_ms < now - EXECUTOR_OUTBOX_KEEP_MS) {
		struct outbox_entry *e = &ex->outbox[k];

		if (!e->delivered)
			log_warn("result of action %s not acknowledged by the "
			    "server within %lld s; no longer re-sent (it stays "
			    "in the audit log)", e->action_id,
			    EXECUTOR_OUTBOX_KEEP_MS / 1000);
		free(e->frame);
		k++;
	}
	if (k == 0)
		return;
	memmove(&ex->outbox[0], &ex->outbox[k],
	    (ex->nout - k) * sizeof(ex->outbox[0]));
	ex->nout -= k;
	ex->take_from = ex->take_from > k ? ex->take_from - k : 0;
}

static ssize_t
outbox_find_id(struct executor *ex, const char *action_id, const char *sha)
{
	size_t i;

	for (i = ex->nout; i > 0; i--) {
		struct outbox_entry *e = &ex->outbox[i - 1];

		if (strcmp(e->action_id, action_id) == 0 &&
		    (sha == NULL || strcmp(e->request_sha256, sha) == 0))
			return (ssize_t)(i - 1);
	}
	return -1;
}

/* Adds a result (frame owned from here on). */
static void
outbox_add(struct executor *ex, const char *action_id, const char *sha,
    char *frame, size_t len, int64_t created_ms, int64_t now)
{
	struct outbox_entry *e;
	size_t i;

	outbox_prune(ex, now);
	if (ex->nout == EXECUTOR_OUTBOX_MAX) {
		for (i = 0; i < ex->nout && !ex->outbox[i].delivered; i++)
			;
		if (i == ex->nout) {
			i = 0;
			log_warn("outbox full (%d results): the result of "
			    "action %s is dropped unacknowledged (it stays in "
			    "the audit log)", EXECUTOR_OUTBOX_MAX,
			    ex->outbox[0].action_id);
		}
		outbox_drop(ex, i);
	}
	e = &ex->outbox[ex->nout++];
	memset(e, 0, sizeof(*e));
	e->seq = ++ex->next_seq;
	memcpy(e->action_id, action_id, sizeof(e->action_id));
	memcpy(e->request_sha256, sha, sizeof(e->request_sha256));
	e->frame = frame;
	e->len = len;
	e->created_ms = created_ms;
}

static void
count_outbox(struct executor *ex, struct executor_stats *st)
{
	size_t i;

	st->outbox = ex->nout;
	st->undelivered = 0;
	for (i = 0; i < ex->nout; i++) {
		if (!ex->outbox[i].delivered)
			st->undelivered++;
	}
}

int
executor_outbox_take(struct executor *ex, uint64_t epoch, char **frame,
    size_t *len, uint64_t *seq)
{
	int64_t now = now_ms(ex);
	size_t i;
	int r = 0;

	*frame = NULL;
	*len = 0;
	*seq = 0;
	lock(ex);
	outbox_prune(ex, now);
	if (ex->take_epoch != epoch) {
		ex->take_epoch = epoch;
		ex->take_from = 0;
	}
	for (i = ex->take_from; i < ex->nout; i++) {
		struct outbox_entry *e = &ex->outbox[i];

		if (e->delivered || e->queued_epoch == epoch) {
			ex->take_from = i + 1;
			continue;
		}
		*frame = malloc(e->len + 1);
		if (*frame == NULL) {
			r = SIGNET_ERR_ALLOC;
			break;
		}
		memcpy(*frame, e->frame, e->len + 1);
		*len = e->len;
		*seq = e->seq;
		e->queued_epoch = epoch;
		ex->take_from = i + 1;
		r = 1;
		break;
	}
	unlock(ex);
	return r;
}

void
executor_outbox_untake(struct executor *ex, uint64_t seq)
{
	size_t i;

	lock(ex);
	for (i = 0; i < ex->nout; i++) {
		if (ex->outbox[i].seq == seq)
			ex->outbox[i].queued_epoch = 0;
	}
	ex->take_from = 0;
	unlock(ex);
}

void
executor_outbox_acked(struct executor *ex, const char *action_id,
    const char *request_sha256)
{
	size_t i;

	/* Every copy: a replay may have put the same result in twice. */
	lock(ex);
	for (i = 0; i < ex->nout; i++) {
		struct outbox_entry *e = &ex->outbox[i];

		if (e->delivered || strcmp(e->action_id, action_id) != 0 ||
		    strcmp(e->request_sha256, request_sha256) != 0)
			continue;
		e->delivered = true;
		ex->stats.results_acked++;
		log_debug("result of action %s acknowledged", action_id);
	}
	unlock(ex);
}

int
executor_outbox_find(struct executor *ex, const char *action_id,
    char **frame, bool *delivered)
{
	ssize_t i;
	int r = 0;

	*frame = NULL;
	*delivered = false;
	lock(ex);
	i = outbox_find_id(ex, action_id, NULL);
	if (i >= 0) {
		*frame = malloc(ex->outbox[i].len + 1);
		if (*frame == NULL) {
			r = SIGNET_ERR_ALLOC;
		} else {
			memcpy(*frame, ex->outbox[i].frame,
			    ex->outbox[i].len + 1);
			*delivered = ex->outbox[i].delivered;
			r = 1;
		}
	}
	unlock(ex);
	return r;
}

void
executor_get_stats(struct executor *ex, struct executor_stats *st)
{
	lock(ex);
	*st = ex->stats;
	count_outbox(ex, st);
	unlock(ex);
}

static void
notify_result(struct executor *ex)
{
	if (ex->on_result != NULL)
		ex->on_result(ex->result_arg);
}

/* ---- audit ---- */

static int
audit(struct executor *ex, const char *event, cJSON *data, bool built)
{
	struct err_msg m;
	int r;

	err_clear(&m);
	if (!built) {
		log_error("audit %s: out of memory; not recorded", event);
		return SIGNET_ERR_ALLOC;
	}
	r = audit_append(ex->audit, event, EXECUTOR_ACTOR, data, NULL, &m);
	if (r != 0)
		log_error("audit %s not recorded: %s", event, m.text);
	return r;
}

/* {"payload","sig","key_id"} of the server's action, or NULL. */
static cJSON *
action_envelope(const struct act *act)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	jstr(o, "payload", act->payload_b64, &ok);
	jstr(o, "sig", act->sig_b64, &ok);
	jstr(o, "key_id", act->key_id, &ok);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *
result_envelope(const struct envelope *env)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	jstr(o, "payload", env->payload_b64, &ok);
	jstr(o, "sig", env->sig_b64, &ok);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The members every action record starts with (authentic actions). */
static cJSON *
action_data(struct executor *ex, const struct act *act, bool *ok)
{
	cJSON *o = cJSON_CreateObject();

	*ok = o != NULL;
	jstr(o, "host_id", ex->host_id, ok);
	jstr(o, "action_id", act->a.action_id, ok);
	jnum(o, "expires_at", act->a.expires_at, ok);
	jstr(o, "container_id", act->a.container_id, ok);
	jstr(o, "action_name", envelope_action_name(act->a.action), ok);
	return o;
}

static void
container_facts(cJSON *o, const struct act *act, bool *ok)
{
	if (act->inv == NULL || act->inv->count != 1)
		return;
	jstr(o, "container_name",
	    inventory_primary_name(&act->inv->items[0]), ok);
	jstr(o, "image", act->inv->items[0].image, ok);
}

/* ---- results ---- */

static bool
result_possible(const struct act *act)
{
	return act->a.action_id[0] != '\0' && act->have_container &&
	    act->have_action && act->have_sha;
}

/*
 * Signs the result of act into *env and builds its frame *frame (free
 * both). Returns 0 or a negative code.
 */
static int
sign_result(struct executor *ex, const struct act *act,
    enum envelope_status status, int64_t docker_status, const char *error,
    int64_t finished_at, struct envelope *env, char **frame, size_t *flen)
{
	struct envelope_result_payload res;
	int r;

	memset(env, 0, sizeof(*env));
	*frame = NULL;
	*flen = 0;
	memset(&res, 0, sizeof(res));
	memcpy(res.action_id, act->a.action_id, sizeof(res.action_id));
	memcpy(res.host_id, ex->host_id, sizeof(res.host_id));
	memcpy(res.container_id, act->a.container_id,
	    sizeof(res.container_id));
	res.action = act->a.action;
	res.status = status;
	if (error != NULL && error[0] != '\0') {
		res.has_error = true;
		(void)snprintf(res.error, sizeof(res.error), "%s", error);
	}
	res.docker_status = docker_status;
	res.started_at = act->started_at;
	res.finished_at = finished_at < act->started_at ? act->started_at :
	    finished_at;
	memcpy(res.request_sha256, act->sha, sizeof(res.request_sha256));
	r = envelope_result_sign(&res, &ex->result_key, env);
	if (r == 0)
		r = wire_build_result(env->payload_b64, env->sig_b64, frame,
		    flen);
	if (r != 0)
		envelope_free(env);
	return r;
}

static void
set_outcome(struct act *act, enum envelope_status status,
    int64_t docker_status, const char *error)
{
	act->out->status = status;
	act->out->docker_status = docker_status;
	(void)snprintf(act->out->error, sizeof(act->out->error), "%s",
	    error != NULL ? error : "");
	memcpy(act->out->action_id, act->a.action_id,
	    sizeof(act->out->action_id));
	act->out->authentic = act->authentic;
}

static void
count(struct executor *ex, enum envelope_status status)
{
	lock(ex);
	switch (status) {
	case ENVELOPE_STATUS_SUCCESS:
		ex->stats.succeeded++;
		break;
	case ENVELOPE_STATUS_FAILURE:
		ex->stats.failed++;
		break;
	case ENVELOPE_STATUS_DENIED:
		ex->stats.denied++;
		break;
	default:
		ex->stats.rejected++;
		break;
	}
	unlock(ex);
}

/* Puts a signed result in the outbox (frame owned) and wakes the sender. */
static void
deliver(struct executor *ex, struct act *act, char *frame, size_t flen)
{
	int64_t now = now_ms(ex);

	lock(ex);
	outbox_add(ex, act->a.action_id, act->sha, frame, flen, now, now);
	unlock(ex);
	act->out->has_result = true;
	notify_result(ex);
}

/*
 * A second copy of an action already answered (same id, same payload
 * bytes): its result goes again. Returns true when there was one.
 */
static bool
resend_earlier(struct executor *ex, struct act *act)
{
	ssize_t i;

	if (act->a.action_id[0] == '\0' || !act->have_sha)
		return false;
	lock(ex);
	i = outbox_find_id(ex, act->a.action_id, act->sha);
	if (i >= 0) {
		ex->outbox[i].delivered = false;
		ex->outbox[i].queued_epoch = 0;
		ex->take_from = 0;
	}
	unlock(ex);
	if (i < 0)
		return false;
	act->out->has_result = true;
	act->out->resent = true;
	notify_result(ex);
	return true;
}

/* REJECTED: audited as action.rejected, answered when it can be. */
static void
reject(struct executor *ex, struct act *act, const char *reason)
{
	struct envelope env = { NULL, NULL, "" };
	char esc[LOG_ESC];
	char *frame = NULL;
	size_t flen = 0;
	cJSON *o = NULL;
	bool ok, resent, signed_ok = false;
	int r;

	set_outcome(act, ENVELOPE_STATUS_REJECTED, 0, reason);
	count(ex, ENVELOPE_STATUS_REJECTED);
	resent = resend_earlier(ex, act);
	if (!resent && result_possible(act)) {
		r = sign_result(ex, act, ENVELOPE_STATUS_REJECTED, 0, reason,
		    now_ms(ex), &env, &frame, &flen);
		if (r == 0)
			signed_ok = true;
		else
			log_error("result for action %s not signed: %s",
			    act->a.action_id, err_str(r));
	}
	o = cJSON_CreateObject();
	ok = o != NULL;
	jstr(o, "host_id", ex->host_id, &ok);
	if (act->a.action_id[0] != '\0')
		jstr(o, "action_id", act->a.action_id, &ok);
	if (act->authentic)
		jnum(o, "expires_at", act->a.expires_at, &ok);
	jbool(o, "authentic", act->authentic, &ok);
	if (act->key_id != NULL)
		jstr(o, "key_id", act->key_id, &ok);
	jstr(o, "reason", reason, &ok);
	if (act->have_sha)
		jstr(o, "request_sha256", act->sha, &ok);
	if (act->have_container)
		jstr(o, "container_id", act->a.container_id, &ok);
	if (act->have_action)
		jstr(o, "action_name", envelope_action_name(act->a.action),
		    &ok);
	if (act->authentic) {
		jstr(o, "requested_by", act->a.requested_by, &ok);
		jitem(o, "action", action_envelope(act), &ok);
	}
	if (signed_ok)
		jitem(o, "result", result_envelope(&env), &ok);
	if (resent)
		jbool(o, "resent", true, &ok);
	(void)audit(ex, "action.rejected", o, ok);
	cJSON_Delete(o);
	log_warn("action rejected: action_id=%s authentic=%s key_id=%s "
	    "result=%s reason=\"%s\"",
	    act->a.action_id[0] != '\0' ? act->a.action_id : "-",
	    act->authentic ? "yes" : "no",
	    act->key_id != NULL && text_is_hex(act->key_id, KEYS_ID_LEN) ?
	    act->key_id : "-",
	    resent ? "resent" : signed_ok ? "new" : "none",
	    text_escape_str(reason, esc, sizeof(esc)));
	if (signed_ok) {
		deliver(ex, act, frame, flen);
		frame = NULL;
	}
	free(frame);
	envelope_free(&env);
}

/* DENIED by the policy: audited as policy.denied, answered. */
static void
deny(struct executor *ex, struct act *act, const char *why)
{
	struct envelope env = { NULL, NULL, "" };
	char esc[LOG_ESC];
	char *frame = NULL;
	size_t flen = 0;
	cJSON *o = NULL;
	bool ok;
	int r;

	set_outcome(act, ENVELOPE_STATUS_DENIED, 0, why);
	count(ex, ENVELOPE_STATUS_DENIED);
	r = sign_result(ex, act, ENVELOPE_STATUS_DENIED, 0, why, now_ms(ex),
	    &env, &frame, &flen);
	if (r != 0)
		log_error("result for action %s not signed: %s",
		    act->a.action_id, err_str(r));
	o = action_data(ex, act, &ok);
	jstr(o, "requested_by", act->a.requested_by, &ok);
	jstr(o, "reason", act->a.reason, &ok);
	jstr(o, "why", why, &ok);
	if (act->rule >= 0)
		jnum(o, "rule", act->rule, &ok);
	container_facts(o, act, &ok);
	jitem(o, "action", action_envelope(act), &ok);
	if (r == 0)
		jitem(o, "result", result_envelope(&env), &ok);
	(void)audit(ex, "policy.denied", o, ok);
	cJSON_Delete(o);
	log_warn("action denied: action_id=%s container=%.12s action=%s "
	    "requested_by=%s why=\"%s\"", act->a.action_id,
	    act->a.container_id, envelope_action_name(act->a.action),
	    act->a.requested_by, text_escape_str(why, esc, sizeof(esc)));
	if (r == 0) {
		deliver(ex, act, frame, flen);
		frame = NULL;
	}
	free(frame);
	envelope_free(&env);
}

/* SUCCESS or FAILURE: audited as action.executed, answered. */
static void
finish(struct executor *ex, struct act *act, enum envelope_status status,
    int64_t docker_status, const char *error, bool recovered)
{
	struct envelope env = { NULL, NULL, "" };
	char esc[LOG_ESC];
	char *frame = NULL;
	size_t flen = 0;
	int64_t now = now_ms(ex);
	cJSON *o = NULL;
	bool ok;
	int r;

	set_outcome(act, status, docker_status, error);
	count(ex, status);
	r = sign_result(ex, act, status, docker_status, error, now, &env,
	    &frame, &flen);
	if (r != 0)
		log_error("result for action %s not signed: %s",
		    act->a.action_id, err_str(r));
	o = action_data(ex, act, &ok);
	jstr(o, "status", envelope_status_name(status), &ok);
	jnum(o, "docker_status", docker_status, &ok);
	if (error != NULL && error[0] != '\0')
		jstr(o, "error", error, &ok);
	else if (ok && cJSON_AddNullToObject(o, "error") == NULL)
		ok = false;
	jnum(o, "duration_ms", now - act->started_at, &ok);
	if (r == 0)
		jitem(o, "result", result_envelope(&env), &ok);
	if (recovered)
		jbool(o, "recovered", true, &ok);
	(void)audit(ex, "action.executed", o, ok);
	cJSON_Delete(o);
	if (status == ENVELOPE_STATUS_SUCCESS)
		log_info("action executed: action_id=%s container=%.12s "
		    "action=%s docker_status=%lld duration_ms=%lld",
		    act->a.action_id, act->a.container_id,
		    envelope_action_name(act->a.action),
		    (long long)docker_status,
		    (long long)(now - act->started_at));
	else
		log_warn("action failed: action_id=%s container=%.12s "
		    "action=%s docker_status=%lld error=\"%s\"",
		    act->a.action_id, act->a.container_id,
		    envelope_action_name(act->a.action),
		    (long long)docker_status,
		    text_escape_str(error != NULL ? error : "", esc,
		    sizeof(esc)));
	if (r == 0) {
		deliver(ex, act, frame, flen);
		frame = NULL;
	}
	free(frame);
	envelope_free(&env);
}

/* A frame with no readable action_id: logged, counted, audited (limited). */
static void
refuse_frame(struct executor *ex, const char *why, const char *data,
    size_t len, size_t bytes)
{
	char hex[65], esc[LOG_ESC];
	int64_t now = now_ms(ex);
	uint64_t suppressed = 0;
	cJSON *o = NULL;
	bool ok, record = false;

	if (data != NULL)
		envelope_sha256_hex(data, len, hex);
	lock(ex);
	ex->stats.refused_frames++;
	if (now - ex->refused_window_ms >= EXECUTOR_REFUSED_WINDOW_MS ||
	    now < ex->refused_window_ms) {
		ex->refused_window_ms = now;
		ex->refused_in_window = 0;
	}
	if (ex->refused_in_window < EXECUTOR_REFUSED_BURST) {
		ex->refused_in_window++;
		suppressed = ex->refused_suppressed;
		ex->refused_suppressed = 0;
		record = true;
	} else {
		ex->refused_suppressed++;
	}
	unlock(ex);
	log_warn("frame from the server refused: bytes=%zu sha256=%s "
	    "why=\"%s\"", bytes, data != NULL ? hex : "-",
	    text_escape_str(why, esc, sizeof(esc)));
	if (!record)
		return;
	o = cJSON_CreateObject();
	ok = o != NULL;
	jstr(o, "host_id", ex->host_id, &ok);
	jstr(o, "reason", why, &ok);
	jnum(o, "bytes", (int64_t)bytes, &ok);
	if (data != NULL)
		jstr(o, "frame_sha256", hex, &ok);
	jnum(o, "suppressed", (int64_t)suppressed, &ok);
	(void)audit(ex, "frame.refused", o, ok);
	cJSON_Delete(o);
}

void
executor_frame_refused(struct executor *ex, const char *why,
    const char *data, size_t len, size_t bytes)
{
	refuse_frame(ex, why, data, len, bytes);
}

/* ---- the pipeline ---- */

/*
 * Reads what an unverified payload claims: its bytes (for request_sha256),
 * action_id, container_id, action. Nothing here is trusted; it only lets
 * the refusal name the action it refuses.
 */
static void
read_claims(struct act *act)
{
	cJSON *root = NULL;
	const cJSON *v;

	if (act->payload_b64 == NULL || act->raw != NULL)
		return;
	if (b64_decode(act->payload_b64, EXECUTOR_FRAME_MAX, &act->raw,
	    &act->raw_len) != 0)
		return;
	envelope_sha256_hex(act->raw, act->raw_len, act->sha);
	act->have_sha = true;
	if (jsonx_parse_object("payload", act->raw, act->raw_len,
	    PAYLOAD_DEPTH, &root, NULL) != 0)
		return;
	v = cJSON_GetObjectItemCaseSensitive(root, "action_id");
	if (cJSON_IsString(v) && text_is_hex(v->valuestring, 32))
		memcpy(act->a.action_id, v->valuestring, 33);
	v = cJSON_GetObjectItemCaseSensitive(root, "container_id");
	if (cJSON_IsString(v) && text_is_hex(v->valuestring, 64)) {
		memcpy(act->a.container_id, v->valuestring, 65);
		act->have_container = true;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "action");
	if (cJSON_IsString(v)) {
		act->a.action = envelope_action_parse(v->valuestring);
		act->have_action = act->a.action != ENVELOPE_ACTION_NONE;
	}
	cJSON_Delete(root);
}

/* Refuses: REJECTED when an action_id can be read, else frame.refused. */
static void
refuse(struct executor *ex, struct act *act, const char *why,
    const char *data, size_t len)
{
	read_claims(act);
	if (act->a.action_id[0] != '\0') {
		reject(ex, act, why);
		return;
	}
	set_outcome(act, ENVELOPE_STATUS_REJECTED, 0, why);
	refuse_frame(ex, why, data, len, len);
}

/*
 * The frame's members into act: from parsed (the caller's parse) or a
 * strict parse of data here. A frame that fails it leaves only what it
 * claims (wire_peek_action), so that the refusal can name the action.
 * Returns 0, SIGNET_ERR_FORMAT with m, or SIGNET_ERR_ALLOC.
 */
static int
frame_read(struct act *act, const char *data, size_t len,
    const struct wire_frame *parsed, struct err_msg *m)
{
	int r;

	if (parsed == NULL || parsed->type != WIRE_ACTION) {
		r = wire_parse_server_frame(data, len, &act->own, m);
		if (r == 0 && act->own.type != WIRE_ACTION)
			r = err_set(m, SIGNET_ERR_FORMAT,
			    "frame.type: must be \"action\"");
		if (r != 0) {
			if (wire_peek_action(data, len, &act->peek_payload,
			    &act->peek_key_id) != 0)
				return SIGNET_ERR_ALLOC;
			act->payload_b64 = act->peek_payload;
			act->key_id = act->peek_key_id;
			return r == SIGNET_ERR_ALLOC ? r : SIGNET_ERR_FORMAT;
		}
		parsed = &act->own;
	}
	act->payload_b64 = parsed->payload_b64;
	act->sig_b64 = parsed->sig_b64;
	act->key_id = parsed->key_id;
	return 0;
}

/*
 * Step 3: the container as dockerd knows it, and the policy. Returns true
 * when the action may run; otherwise the answer has been given.
 */
static bool
check_container(struct executor *ex, struct act *act)
{
	struct policy_request req;
	struct policy_decision dec;
	struct policy_label *labels = NULL;
	const struct inventory_container *c;
	char why[ERR_MSG_MAX + 64];
	struct err_msg m;
	size_t i;
	bool allowed = false;
	int r;

	err_clear(&m);
	r = ex->ops.inspect(ex->ops_arg, act->a.container_id, &act->inv, &m);
	if (r == SIGNET_ERR_NOT_FOUND) {
		reject(ex, act, EXECUTOR_ERR_NO_CONTAINER);
		goto out;
	}
	if (r != 0 || act->inv == NULL || act->inv->count != 1) {
		(void)snprintf(why, sizeof(why),
		    "cannot inspect the container: %s",
		    r != 0 ? m.text : "no answer");
		finish(ex, act, ENVELOPE_STATUS_FAILURE, 0, why, false);
		goto out;
	}
	c = &act->inv->items[0];
	if (c->nlabels > 0) {
		labels = calloc(c->nlabels, sizeof(*labels));
		if (labels == NULL) {
			finish(ex, act, ENVELOPE_STATUS_FAILURE, 0,
			    "out of memory", false);
			goto out;
		}
		for (i = 0; i < c->nlabels; i++) {
			labels[i].key = c->labels[i].key;
			labels[i].value = c->labels[i].value;
		}
	}
	memset(&req, 0, sizeof(req));
	req.container_id = c->id;
	req.name = inventory_primary_name(c);
	req.image = c->image;
	req.labels = labels;
	req.nlabels = c->nlabels;
	req.action = act->a.action;
	req.operator_name = act->a.requested_by;
	req.reason = act->a.reason;
	req.now_ms = policy_now_ms();
	memset(&dec, 0, sizeof(dec));
	r = policy_store_decide(ex->policy, &req, &dec);
	act->rule = dec.rule;
	if (r != 0 || !dec.allow) {
		if (r != 0 && dec.text[0] == '\0')
			(void)snprintf(dec.text, sizeof(dec.text),
			    "policy could not decide (%s): denied",
			    err_str(r));
		deny(ex, act, dec.text);
		goto out;
	}
	allowed = true;
out:
	free(labels);
	return allowed;
}

/* Step 4: recorded as received, then dockerd, then the answer. */
static void
run_action(struct executor *ex, struct act *act)
{
	struct err_msg m;
	char esc[LOG_ESC];
	long http = 0;
	cJSON *o;
	bool ok;
	int r;

	o = action_data(ex, act, &ok);
	jstr(o, "requested_by", act->a.requested_by, &ok);
	jstr(o, "reason", act->a.reason, &ok);
	container_facts(o, act, &ok);
	if (act->rule >= 0)
		jnum(o, "rule", act->rule, &ok);
	jitem(o, "action", action_envelope(act), &ok);
	r = audit(ex, "action.received", o, ok);
	cJSON_Delete(o);
	if (r != 0) {
		log_error("action %s not run: its receipt cannot be recorded "
		    "(audit unavailable); dockerd was not called",
		    act->a.action_id);
		finish(ex, act, ENVELOPE_STATUS_FAILURE, 0, EXECUTOR_ERR_AUDIT,
		    false);
		return;
	}
	log_info("action received: action_id=%s container=%.12s action=%s "
	    "requested_by=%s reason=\"%s\"", act->a.action_id,
	    act->a.container_id, envelope_action_name(act->a.action),
	    act->a.requested_by,
	    text_escape_str(act->a.reason, esc, sizeof(esc)));
	err_clear(&m);
	act->out->docker_called = true;
	r = ex->ops.act(ex->ops_arg, act->a.container_id, act->a.action,
	    ex->stop_timeout, &http, &m);
	if (http < 0 || http > 999)
		http = 0;
	if (r == 0)
		finish(ex, act, ENVELOPE_STATUS_SUCCESS, http, NULL, false);
	else
		finish(ex, act, ENVELOPE_STATUS_FAILURE, http,
		    r == SIGNET_ERR_NOT_FOUND ? EXECUTOR_ERR_NO_CONTAINER :
		    m.text, false);
}

static int
pipeline(struct executor *ex, const char *data, size_t len,
    const struct wire_frame *parsed, enum mode mode,
    struct executor_outcome *out)
{
	struct act act;
	struct err_msg m;
	char why[REASON_MAX];
	int64_t now;
	int r, rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&act, 0, sizeof(act));
	act.mode = mode;
	act.out = out;
	act.rule = -1;
	out->status = ENVELOPE_STATUS_REJECTED;
	err_clear(&m);
	act.started_at = now_ms(ex);
	if (len > EXECUTOR_FRAME_MAX) {
		(void)snprintf(why, sizeof(why),
		    "frame of %zu bytes is over the %d allowed", len,
		    EXECUTOR_FRAME_MAX);
		set_outcome(&act, ENVELOPE_STATUS_REJECTED, 0, why);
		refuse_frame(ex, why, NULL, 0, len);
		goto out;
	}
	r = frame_read(&act, data, len, parsed, &m);
	if (r != 0) {
		(void)snprintf(why, sizeof(why), "malformed frame: %s",
		    r == SIGNET_ERR_ALLOC ? "out of memory" : m.text);
		refuse(ex, &act, why, data, len);
		if (r == SIGNET_ERR_ALLOC)
			rc = r;
		goto out;
	}
	r = envelope_action_verify(&ex->action_keys, act.key_id,
	    act.payload_b64, act.sig_b64, &act.a, &act.raw, &act.raw_len, &m);
	if (r != 0) {
		memset(&act.a, 0, sizeof(act.a));
		(void)snprintf(why, sizeof(why), "%s: %s",
		    r == SIGNET_ERR_UNKNOWN_KEY ? "unknown key" :
		    r == SIGNET_ERR_BAD_SIGNATURE ? "bad signature" :
		    r == SIGNET_ERR_ALLOC ? "out of memory" :
		    "malformed action", m.text);
		refuse(ex, &act, why, data, len);
		if (r == SIGNET_ERR_ALLOC)
			rc = r;
		goto out;
	}
	act.authentic = true;
	act.have_container = true;
	act.have_action = true;
	envelope_sha256_hex(act.raw, act.raw_len, act.sha);
	act.have_sha = true;
	if (mode != MODE_RUN) {
		(void)snprintf(why, sizeof(why), mode == MODE_BUSY ?
		    "agent busy: %d actions are waiting; send it again later" :
		    "agent stopping; send it again later", EXECUTOR_QUEUE_MAX);
		reject(ex, &act, why);
		goto out;
	}
	if (strcmp(act.a.host_id, ex->host_id) != 0) {
		(void)snprintf(why, sizeof(why), "wrong host: the action is "
		    "for \"%s\", this agent is \"%s\"", act.a.host_id,
		    ex->host_id);
		reject(ex, &act, why);
		goto out;
	}
	now = now_ms(ex);
	if (envelope_action_check_time(&act.a, now, &m) != 0) {
		reject(ex, &act, m.text);
		goto out;
	}
	lock(ex);
	r = replay_add(ex->seen, act.a.action_id, act.a.expires_at, now);
	unlock(ex);
	if (r != 0) {
		(void)snprintf(why, sizeof(why), r == SIGNET_ERR_EXISTS ?
		    "replay: action_id %s was seen before" :
		    "cannot remember action_id %s (%s): refused",
		    act.a.action_id, err_str(r));
		reject(ex, &act, why);
		goto out;
	}
	if (!check_container(ex, &act))
		goto out;
	run_action(ex, &act);
out:
	inventory_free(act.inv);
	free(act.raw);
	wire_frame_free(&act.own);
	free(act.peek_payload);
	free(act.peek_key_id);
	sodium_memzero(&act.a, sizeof(act.a));
	return rc;
}

int
executor_handle_frame(struct executor *ex, const char *data, size_t len,
    struct executor_outcome *out)
{
	return pipeline(ex, data, len, NULL, MODE_RUN, out);
}

/* ---- the worker ---- */

static void
run_job(struct executor *ex, struct job *job, enum mode mode)
{
	struct executor_outcome out;

	if (pipeline(ex, job->data, job->len, &job->frame, mode, &out) != 0)
		log_error("action frame not fully handled: out of memory");
	free(job->data);
	job->data = NULL;
	wire_frame_free(&job->frame);
}

/*
 * The container an action frame names, read without verifying anything:
 * only to keep one container's actions in order (the pipeline verifies).
 * payload_b64 is the frame's payload text, or NULL. "" when it cannot be
 * read; such a frame is refused by the pipeline.
 */
static void
peek_container(const char *payload_b64, char key[65])
{
	cJSON *payload = NULL;
	const cJSON *c;
	unsigned char *raw = NULL;
	size_t raw_len = 0, b64_len, i;

	key[0] = '\0';
	if (payload_b64 == NULL)
		return;
	b64_len = strlen(payload_b64);
	raw = malloc(b64_len + 1);
	if (raw == NULL || sodium_base642bin(raw, b64_len, payload_b64,
	    b64_len, NULL, &raw_len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		goto out;
	payload = cJSON_ParseWithLength((const char *)raw, raw_len);
	c = cJSON_GetObjectItemCaseSensitive(payload, "container_id");
	if (!cJSON_IsString(c) || c->valuestring == NULL ||
	    strlen(c->valuestring) != 64)
		goto out;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)c->valuestring[i]))
			goto out;
	memcpy(key, c->valuestring, 65);
out:
	cJSON_Delete(payload);
	free(raw);
}

/*
 * Under mu: the first queued job no other worker's container blocks, so
 * that actions on one container run one at a time, in arrival order, and
 * actions on different containers run side by side. At a stop any job
 * will do: it is answered, not run. -1: none.
 */
static ssize_t
pick_job(const struct executor *ex)
{
	size_t i, w;

	if (ex->stop)
		return ex->qlen > 0 ? 0 : -1;
	for (i = 0; i < ex->qlen; i++) {
		const char *key = ex->queue[i].container;
		bool blocked = false;

		for (w = 0; w < EXECUTOR_WORKERS && key[0] != '\0'; w++)
			if (strcmp(ex->workers[w].container, key) == 0)
				blocked = true;
		/* An earlier queued job on the same container goes first. */
		for (w = 0; w < i && key[0] != '\0' && !blocked; w++)
			if (strcmp(ex->queue[w].container, key) == 0)
				blocked = true;
		if (!blocked)
			return (ssize_t)i;
	}
	return -1;
}

static void *
worker_main(void *arg)
{
	struct worker *me = arg;
	struct executor *ex = me->ex;
	struct job job;
	enum mode mode;
	ssize_t i;

	lock(ex);
	for (;;) {
		i = pick_job(ex);
		if (i < 0) {
			if (ex->stop)
				break;
			(void)pthread_cond_wait(&ex->cv, &ex->mu);
			continue;
		}
		job = ex->queue[i];
		memmove(&ex->queue[i], &ex->queue[i + 1],
		    (ex->qlen - (size_t)i - 1) * sizeof(ex->queue[0]));
		ex->qlen--;
		memset(&ex->queue[ex->qlen], 0, sizeof(ex->queue[0]));
		/* Frames still queued at a stop are answered, not run. */
		mode = ex->stop ? MODE_STOPPING : MODE_RUN;
		memcpy(me->container, job.container, sizeof(me->container));
		unlock(ex);
		run_job(ex, &job, mode);
		lock(ex);
		me->container[0] = '\0';
		/* A job held back for this container may go now. */
		for (i = 0; job.container[0] != '\0' &&
		    (size_t)i < ex->qlen; i++) {
			if (strcmp(ex->queue[i].container, job.container) == 0) {
				(void)pthread_cond_broadcast(&ex->cv);
				break;
			}
		}
	}
	unlock(ex);
	return NULL;
}

/* Under mu: asks the workers to stop; returns whether any ran. */
static bool
stop_workers_locked(struct executor *ex)
{
	ex->stop = true;
	(void)pthread_cond_broadcast(&ex->cv);
	return ex->thread_started;
}

static void
join_workers(struct executor *ex)
{
	size_t w;

	for (w = 0; w < EXECUTOR_WORKERS; w++) {
		if (ex->workers[w].started) {
			(void)pthread_join(ex->workers[w].thread, NULL);
			ex->workers[w].started = false;
		}
	}
}

int
executor_start(struct executor *ex)
{
	size_t w;
	int r = 0;

	lock(ex);
	if (ex->thread_started) {
		unlock(ex);
		return 0;
	}
	ex->stop = false;
	for (w = 0; w < EXECUTOR_WORKERS; w++) {
		ex->workers[w].ex = ex;
		ex->workers[w].container[0] = '\0';
		if (pthread_create(&ex->workers[w].thread, NULL, worker_main,
		    &ex->workers[w]) != 0) {
			r = SIGNET_ERR_INTERNAL;
			break;
		}
		ex->workers[w].started = true;
	}
	if (r == 0) {
		ex->thread_started = true;
		unlock(ex);
		return 0;
	}
	/* All or none: the ones that started are stopped again. */
	(void)stop_workers_locked(ex);
	unlock(ex);
	join_workers(ex);
	return r;
}

int
executor_submit(struct executor *ex, const char *data, size_t len,
    struct wire_frame *parsed)
{
	struct job job;
	enum mode mode = MODE_RUN;
	char *peek_payload = NULL, *peek_key_id = NULL;

	memset(&job, 0, sizeof(job));
	if (len > EXECUTOR_FRAME_MAX) {
		wire_frame_free(parsed);
		refuse_frame(ex, "frame over the size limit", NULL, 0, len);
		return 0;
	}
	job.data = malloc(len + 1);
	if (job.data == NULL) {
		wire_frame_free(parsed);
		return SIGNET_ERR_ALLOC;
	}
	memcpy(job.data, data, len);
	job.data[len] = '\0';
	job.len = len;
	if (parsed != NULL && parsed->type == WIRE_ACTION) {
		job.frame = *parsed;
		memset(parsed, 0, sizeof(*parsed));
		peek_container(job.frame.payload_b64, job.container);
	} else {
		wire_frame_free(parsed);
		if (wire_peek_action(data, len, &peek_payload,
		    &peek_key_id) == 0)
			peek_container(peek_payload, job.container);
		free(peek_payload);
		free(peek_key_id);
	}
	lock(ex);
	if (!ex->thread_started || ex->stop) {
		mode = MODE_STOPPING;
	} else if (ex->qlen == EXECUTOR_QUEUE_MAX) {
		mode = MODE_BUSY;
		ex->stats.busy++;
	} else {
		ex->queue[ex->qlen++] = job;
		memset(&job, 0, sizeof(job));
		(void)pthread_cond_signal(&ex->cv);
	}
	unlock(ex);
	if (job.data != NULL)
		run_job(ex, &job, mode);
	return 0;
}

void
executor_stop(struct executor *ex)
{
	bool started;

	if (ex == NULL)
		return;
	lock(ex);
	started = stop_workers_locked(ex);
	unlock(ex);
	if (!started)
		return;
	join_workers(ex);
	lock(ex);
	ex->thread_started = false;
	unlock(ex);
}

/* ---- start: the seen set, the outbox and interrupted actions ---- */

struct pending {
	char action_id[33];
	char *payload_b64;
	char *sig_b64;
	char key_id[65];
	int64_t ts;
};

/* A result record: its result goes back into the outbox. */
static void
reload_result(struct executor *ex, const struct audit_record *rec)
{
	struct envelope_result_payload res;
	const cJSON *env, *p, *s;
	struct err_msg m;
	uint8_t *raw = NULL;
	size_t raw_len = 0, frame_len = 0;
	char *frame = NULL;


	env = cJSON_GetObjectItemCaseSensitive(rec->data, "result");
	p = cJSON_GetObjectItemCaseSensitive(env, "payload");
	s = cJSON_GetObjectItemCaseSensitive(env, "sig");
	if (!cJSON_IsString(p) || !cJSON_IsString(s))
		return;
	err_clear(&m);
	if (envelope_result_verify(&ex->result_key.pub, p->valuestring,
	    s->valuestring, &res, &raw, &raw_len, &m) != 0) {
		log_warn("audit record %llu: its result does not verify under "
		    "this agent's result key (%s); not re-sent",
		    (unsigned long long)rec->seq, m.text);
		return;
	}
	free(raw);
	if (wire_build_result(p->valuestring, s->valuestring, &frame,
	    &frame_len) != 0) {
		log_error("out of memory reloading the result of action %s",
		    res.action_id);
		return;
	}
	lock(ex);
	{
		ssize_t i = outbox_find_id(ex, res.action_id,
		    res.request_sha256);
		if (i >= 0)
			outbox_drop(ex, (size_t)i);
	}
	outbox_add(ex, res.action_id, res.request_sha256, frame, frame_len,
	    rec->ts, now_ms(ex));
	ex->stats.results_reloaded++;
	unlock(ex);
}

static void
pending_free(struct pending *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].payload_b64);
		free(p[i].sig_b64);
	}
	free(p);
}

/* An action.received record: remembered until its outcome shows. */
static void
note_received(const struct audit_record *rec, struct pending *p, size_t *n)
{
	const cJSON *id, *env, *pl, *sg, *kid;

	id = cJSON_GetObjectItemCaseSensitive(rec->data, "action_id");
	env = cJSON_GetObjectItemCaseSensitive(rec->data, "action");
	pl = cJSON_GetObjectItemCaseSensitive(env, "payload");
	sg = cJSON_GetObjectItemCaseSensitive(env, "sig");
	kid = cJSON_GetObjectItemCaseSensitive(env, "key_id");
	if (!cJSON_IsString(id) || !text_is_hex(id->valuestring, 32) ||
	    !cJSON_IsString(pl) || !cJSON_IsString(sg) ||
	    !cJSON_IsString(kid) || strlen(kid->valuestring) > 64)
		return;
	if (*n == EXECUTOR_RECOVER_MAX) {
		log_error("more than %d actions without an outcome in the "
		    "audit log; action %s gets no answer", EXECUTOR_RECOVER_MAX,
		    id->valuestring);
		return;
	}
	memset(&p[*n], 0, sizeof(p[*n]));
	memcpy(p[*n].action_id, id->valuestring, 33);
	memcpy(p[*n].key_id, kid->valuestring, strlen(kid->valuestring) + 1);
	p[*n].payload_b64 = strdup(pl->valuestring);
	p[*n].sig_b64 = strdup(sg->valuestring);
	p[*n].ts = rec->ts;
	if (p[*n].payload_b64 == NULL || p[*n].sig_b64 == NULL) {
		free(p[*n].payload_b64);
		free(p[*n].sig_b64);
		log_error("out of memory: action %s gets no answer",
		    id->valuestring);
		return;
	}
	(*n)++;
}

static void
note_outcome(const struct audit_record *rec, struct pending *p, size_t *n)
{
	const cJSON *id;
	size_t i;

	id = cJSON_GetObjectItemCaseSensitive(rec->data, "action_id");
	if (!cJSON_IsString(id))
		return;
	for (i = 0; i < *n; i++) {
		if (strcmp(p[i].action_id, id->valuestring) != 0)
			continue;
		free(p[i].payload_b64);
		free(p[i].sig_b64);
		p[i] = p[*n - 1];
		(*n)--;
		return;
	}
}

/* Answers an action that was received but never finished: FAILURE. */
static void
recover(struct executor *ex, const struct pending *p)
{
	struct executor_outcome out;
	struct act act;
	struct err_msg m;
	int r;

	memset(&act, 0, sizeof(act));
	memset(&out, 0, sizeof(out));
	act.out = &out;
	act.rule = -1;
	act.started_at = now_ms(ex);
	act.payload_b64 = p->payload_b64;
	act.sig_b64 = p->sig_b64;
	act.key_id = p->key_id;
	err_clear(&m);
	r = b64_decode(p->payload_b64, ENVELOPE_PAYLOAD_MAX, &act.raw,
	    &act.raw_len);
	if (r == 0)
		r = envelope_action_decode(act.raw, act.raw_len, &act.a, &m);
	if (r != 0) {
		log_error("action %s: its recorded payload does not decode "
		    "(%s); no answer", p->action_id, err_str(r));
		goto out;
	}
	envelope_sha256_hex(act.raw, act.raw_len, act.sha);
	act.have_sha = true;
	act.have_container = true;
	act.have_action = true;
	act.authentic = true;
	log_warn("action %s was received at %lld but has no outcome: the "
	    "agent stopped while dockerd was asked to act; answering FAILURE "
	    "(not run again)", p->action_id, (long long)p->ts);
	finish(ex, &act, ENVELOPE_STATUS_FAILURE, 0,
	    "outcome unknown: the agent stopped while dockerd was running "
	    "the action; check the container", true);
	lock(ex);
	ex->stats.recovered++;
	unlock(ex);
out:
	free(act.raw);
}

static int
reload_log(struct executor *ex, const char *path, struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct pending *pend = NULL;
	size_t npend = 0, i;
	int64_t since = now_ms(ex) - EXECUTOR_OUTBOX_KEEP_MS;
	int r;

	/* Rotated files too: the window may span a rotation. */
	r = audit_reader_open_since(path, since, &rd, msg);
	if (r == SIGNET_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	pend = calloc(EXECUTOR_RECOVER_MAX, sizeof(*pend));
	if (pend == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (;;) {
		struct audit_record rec;

		r = audit_reader_next_record(rd, &rec, msg);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (strcmp(rec.event, "action.received") == 0) {
			if (rec.ts >= since)
				note_received(&rec, pend, &npend);
		} else if (strcmp(rec.event, "action.executed") == 0 ||
		    strcmp(rec.event, "policy.denied") == 0 ||
		    strcmp(rec.event, "action.rejected") == 0) {
			if (strcmp(rec.event, "action.executed") == 0)
				note_outcome(&rec, pend, &npend);
			if (rec.ts >= since)
				reload_result(ex, &rec);
		}
		audit_record_free(&rec);
	}
	for (i = 0; i < npend; i++)
		recover(ex, &pend[i]);
	r = 0;
out:
	if (pend != NULL)
		pending_free(pend, npend);
	audit_reader_close(rd);
	return r;
}

/* ---- life ---- */

int
executor_open(const struct executor_config *cfg, struct executor **out,
    struct err_msg *msg)
{
	struct executor *ex = NULL;
	size_t loaded = 0;
	int r;

	*out = NULL;
	if (cfg == NULL || cfg->host_id == NULL || cfg->action_keys == NULL ||
	    cfg->result_key == NULL || cfg->policy == NULL ||
	    cfg->audit == NULL || cfg->audit_path == NULL || cfg->ops == NULL ||
	    cfg->ops->inspect == NULL || cfg->ops->act == NULL ||
	    cfg->ops->now_ms == NULL || !text_valid_name(cfg->host_id) ||
	    cfg->stop_timeout < 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "executor: incomplete configuration");
	ex = calloc(1, sizeof(*ex));
	if (ex == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(ex->host_id, cfg->host_id, strlen(cfg->host_id) + 1);
	ex->action_keys = *cfg->action_keys;
	ex->result_key = *cfg->result_key;
	ex->policy = cfg->policy;
	ex->audit = cfg->audit;
	ex->stop_timeout = cfg->stop_timeout;
	ex->ops = *cfg->ops;
	ex->ops_arg = cfg->ops_arg;
	ex->on_result = cfg->on_result;
	ex->result_arg = cfg->result_arg;
	if (pthread_mutex_init(&ex->mu, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_mutex_init");
		goto fail;
	}
	ex->mu_ok = true;
	if (pthread_cond_init(&ex->cv, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_cond_init");
		goto fail;
	}
	ex->cv_ok = true;
	ex->seen = replay_new();
	ex->outbox = calloc(EXECUTOR_OUTBOX_MAX, sizeof(*ex->outbox));
	if (ex->seen == NULL || ex->outbox == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto fail;
	}
	r = replay_load_audit(ex->seen, cfg->audit_path, now_ms(ex), &loaded,
	    msg);
	if (r != 0)
		goto fail;
	ex->stats.ids_loaded = loaded;
	r = reload_log(ex, cfg->audit_path, msg);
	if (r != 0)
		goto fail;
	*out = ex;
	return 0;
fail:
	executor_free(ex);
	return r;
}

void
executor_free(struct executor *ex)
{
	size_t i;

	if (ex == NULL)
		return;
	if (ex->mu_ok && ex->cv_ok)
		executor_stop(ex);
	for (i = 0; i < ex->qlen; i++) {
		free(ex->queue[i].data);
		wire_frame_free(&ex->queue[i].frame);
	}
	if (ex->outbox != NULL) {
		for (i = 0; i < ex->nout; i++)
			free(ex->outbox[i].frame);
		free(ex->outbox);
	}
	replay_free(ex->seen);
	keys_secret_wipe(&ex->result_key);
	if (ex->cv_ok)
		(void)pthread_cond_destroy(&ex->cv);
	if (ex->mu_ok)
		(void)pthread_mutex_destroy(&ex->mu);
	free(ex);
}
