/* SPDX-License-Identifier: ISC */
/* The server's action table: states, once-per-id results, bounds. */
#include "actions.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "jsonx.h"
#include "log.h"
#include "registry.h"
#include "text.h"

#define SERVER_ACTOR_NAME "server"
#define ACTIONS_TIMEOUT_ERROR                                                  \
	"no result from the agent in time; the "                               \
	"action may still finish (see GET /api/actions/ID)"

struct entry {
	struct action_info info;
	struct entry *hnext;     /* the id's bucket chain */
	size_t pos;              /* index in v */
	TAILQ_ENTRY(entry) link; /* in t->pending or t->done */
	bool claimed;            /* a result is being recorded */
	actions_wake_fn wake;
	void *wake_ctx;
	uint64_t wake_token;
};

/*
 * v holds the entries; buckets index them by action id, since every step
 * of every action looks its id up (a linear search over a full table was a
 * tenth of the server's CPU under load). Each entry is also on one of two
 * lists: pending (what the expiry sweep looks at: no more than are in
 * flight) or done, in the order they finished, so that pruning and
 * eviction in a full table take the oldest from the front instead of
 * scanning every entry for every new action (they did: 3% of all CPU at
 * 64 requests in flight once the table had filled).
 */
TAILQ_HEAD(entry_list, entry);

struct actions {
	pthread_mutex_t mu;
	struct entry **v;
	size_t n, max;
	struct entry **buckets;
	size_t nbuckets; /* a power of two, >= 2 * max */
	struct entry_list pending, done;
	int64_t keep_ms;
	int64_t reload_ms; /* actions_reload's window */
};

const char *
action_status_name(enum action_status s)
{
	switch (s) {
	case ACTION_PENDING: return "PENDING";
	case ACTION_SUCCESS: return "SUCCESS";
	case ACTION_FAILURE: return "FAILURE";
	case ACTION_DENIED: return "DENIED";
	case ACTION_REJECTED: return "REJECTED";
	case ACTION_TIMEOUT: return "TIMEOUT";
	case ACTION_UNDELIVERED: return "UNDELIVERED";
	case ACTION_UNKNOWN: return "UNKNOWN";
	default: return "INVALID";
	}
}

struct actions *
actions_new(size_t max, int64_t keep_ms)
{
	struct actions *t = NULL;

	if (max == 0 || max > 1000000 || keep_ms < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->nbuckets = 16;
	while (t->nbuckets < 2 * max)
		t->nbuckets *= 2;
	t->v = calloc(max, sizeof(*t->v));
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (t->v == NULL || t->buckets == NULL ||
	    pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t->v);
		free(t->buckets);
		free(t);
		return NULL;
	}
	t->max = max;
	TAILQ_INIT(&t->pending);
	TAILQ_INIT(&t->done);
	t->keep_ms = keep_ms;
	t->reload_ms = ACTIONS_RELOAD_MS;
	return t;
}

void
actions_free(struct actions *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t->buckets);
	(void)pthread_mutex_destroy(&t->mu);
	free(t);
}

/* FNV-1a: ids come from our own random generator, but need not. */
static size_t
bucket_of(const struct actions *t, const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 1099511628211ULL;
	}
	return (size_t)(h & (t->nbuckets - 1));
}

/* Index of id, or t->n. Under the lock. */
static size_t
find(const struct actions *t, const char *id)
{
	const struct entry *e;

	if (id == NULL)
		return t->n;
	for (e = t->buckets[bucket_of(t, id)]; e != NULL; e = e->hnext)
		if (strcmp(e->info.action_id, id) == 0)
			return e->pos;
	return t->n;
}

static struct entry_list *
list_of(struct actions *t, const struct entry *e)
{
	return e->info.status == ACTION_PENDING ? &t->pending : &t->done;
}

/*
 * Sets e's status and finished_at; a finished entry goes to the back of
 * done (a TIMEOUT that gets its late result finishes again). Under the lock.
 */
static void
finish_entry(struct actions *t, struct entry *e, enum action_status status,
    int64_t now_ms)
{
	TAILQ_REMOVE(list_of(t, e), e, link);
	e->info.status = status;
	e->info.finished_at = now_ms;
	TAILQ_INSERT_TAIL(list_of(t, e), e, link);
}

static void
insert(struct actions *t, struct entry *e)
{
	size_t b = bucket_of(t, e->info.action_id);

	e->pos = t->n;
	t->v[t->n++] = e;
	e->hnext = t->buckets[b];
	t->buckets[b] = e;
	TAILQ_INSERT_TAIL(list_of(t, e), e, link);
}

static void
drop_at(struct actions *t, size_t i)
{
	struct entry *e = t->v[i], **pp;

	for (pp = &t->buckets[bucket_of(t, e->info.action_id)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	TAILQ_REMOVE(list_of(t, e), e, link);
	free(e);
	if (i != t->n - 1) {
		t->v[i] = t->v[t->n - 1];
		t->v[i]->pos = i;
	}
	t->v[t->n - 1] = NULL;
	t->n--;
}

/* Forgets entries finished more than keep_ms ago. Under the lock. */
static void
prune(struct actions *t, int64_t now_ms)
{
	struct entry *e = TAILQ_FIRST(&t->done), *next;

	for (; e != NULL && e->info.finished_at <= now_ms - t->keep_ms;
	     e = next) {
		next = TAILQ_NEXT(e, link);
		if (!e->claimed)
			drop_at(t, e->pos);
	}
}

/*
 * Makes room in a full table by forgetting the entry that finished first
 * (it is in the audit log for good). A TIMEOUT entry may still receive its
 * late result, so it goes only once its action has expired well past any
 * skew. Returns false when every entry is still live. Under the lock.
 */
static bool
evict_oldest_finished(struct actions *t, int64_t now_ms)
{
	struct entry *e = NULL;
	int pass;

	for (pass = 0; pass < 2 && e == NULL; pass++) {
		TAILQ_FOREACH(e, &t->done, link) {
			const struct action_info *a = &e->info;

			if (e->claimed)
				continue;
			if (a->status == ACTION_TIMEOUT &&
			    (pass == 0 ||
			        a->expires_at + 2 * ENVELOPE_SKEW_MS > now_ms))
				continue;
			break;
		}
	}
	if (e == NULL)
		return false;
	drop_at(t, e->pos);
	return true;
}

static void
copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int
actions_add(struct actions *t, const struct envelope_action_payload *p,
    const char *request_sha256, int64_t deadline_ms, int64_t now_ms)
{
	struct entry *e = NULL;
	int r;

	if (t == NULL || p == NULL || request_sha256 == NULL ||
	    !text_is_hex(p->action_id, ACTIONS_ID_LEN) ||
	    !text_is_hex(request_sha256, 64))
		return SIGNET_ERR_INVALID_ARG;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return SIGNET_ERR_ALLOC;
	copy_str(e->info.action_id, sizeof(e->info.action_id), p->action_id);
	copy_str(e->info.host_id, sizeof(e->info.host_id), p->host_id);
	copy_str(e->info.container_id, sizeof(e->info.container_id),
	    p->container_id);
	e->info.action = p->action;
	copy_str(e->info.reason, sizeof(e->info.reason), p->reason);
	copy_str(e->info.requested_by, sizeof(e->info.requested_by),
	    p->requested_by);
	e->info.operator_signed = p->has_request;
	copy_str(e->info.request_sha256, sizeof(e->info.request_sha256),
	    request_sha256);
	e->info.requested_at = p->issued_at;
	e->info.expires_at = p->expires_at;
	e->info.deadline = deadline_ms;
	e->info.status = ACTION_PENDING;

	(void)pthread_mutex_lock(&t->mu);
	if (find(t, p->action_id) != t->n) {
		r = SIGNET_ERR_EXISTS;
		goto out;
	}
	if (t->n == t->max)
		prune(t, now_ms);
	if (t->n == t->max && !evict_oldest_finished(t, now_ms)) {
		r = SIGNET_ERR_UNAVAILABLE;
		goto out;
	}
	insert(t, e);
	e = NULL;
	r = 0;
out:
	(void)pthread_mutex_unlock(&t->mu);
	free(e);
	return r;
}

void
actions_remove(struct actions *t, const char *id)
{
	size_t i;

	if (t == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n)
		drop_at(t, i);
	(void)pthread_mutex_unlock(&t->mu);
}

int
actions_get(struct actions *t, const char *id, struct action_info *out)
{
	size_t i;
	int r = SIGNET_ERR_NOT_FOUND;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return r;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n) {
		*out = t->v[i]->info;
		r = 0;
	}
	(void)pthread_mutex_unlock(&t->mu);
	return r;
}

int
actions_set_waiter(struct actions *t, const char *id, actions_wake_fn fn,
    void *ctx, uint64_t token)
{
	size_t i;
	int r = SIGNET_ERR_NOT_FOUND;

	if (t == NULL || fn == NULL)
		return SIGNET_ERR_NOT_FOUND;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n) {
		struct entry *e = t->v[i];

		if (e->info.status != ACTION_PENDING) {
			r = 1;
		} else {
			e->wake = fn;
			e->wake_ctx = ctx;
			e->wake_token = token;
			r = 0;
		}
	}
	(void)pthread_mutex_unlock(&t->mu);
	return r;
}

void
actions_clear_waiter(struct actions *t, const char *id, uint64_t token)
{
	size_t i;

	if (t == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n && t->v[i]->wake != NULL && t->v[i]->wake_token == token) {
		t->v[i]->wake = NULL;
		t->v[i]->wake_ctx = NULL;
	}
	(void)pthread_mutex_unlock(&t->mu);
}

void
actions_clear_waiters(struct actions *t)
{
	size_t i;

	if (t == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	for (i = 0; i < t->n; i++) {
		t->v[i]->wake = NULL;
		t->v[i]->wake_ctx = NULL;
	}
	(void)pthread_mutex_unlock(&t->mu);
}

void
actions_wake(struct actions *t, const char *id)
{
	actions_wake_fn fn = NULL;
	void *ctx = NULL;
	uint64_t token = 0;
	size_t i;

	if (t == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n && t->v[i]->wake != NULL) {
		fn = t->v[i]->wake;
		ctx = t->v[i]->wake_ctx;
		token = t->v[i]->wake_token;
		t->v[i]->wake = NULL;
		t->v[i]->wake_ctx = NULL;
	}
	(void)pthread_mutex_unlock(&t->mu);
	if (fn != NULL)
		fn(ctx, token);
}

static void
set_error(struct action_info *a, const char *why)
{
	a->has_error = why != NULL;
	copy_str(a->error, sizeof(a->error), why != NULL ? why : "");
}

int
actions_mark_undelivered(struct actions *t, const char *id, const char *why,
    int64_t now_ms)
{
	size_t i;
	int r = SIGNET_ERR_NOT_FOUND;

	if (t == NULL)
		return r;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n && t->v[i]->info.status == ACTION_PENDING &&
	    !t->v[i]->claimed) {
		finish_entry(t, t->v[i], ACTION_UNDELIVERED, now_ms);
		set_error(&t->v[i]->info, why);
		r = 0;
	}
	(void)pthread_mutex_unlock(&t->mu);
	return r;
}

enum actions_verdict
actions_claim_result(struct actions *t, const char *host_id,
    const struct envelope_result_payload *res, struct action_info *info)
{
	enum actions_verdict v = ACTIONS_RESULT_UNKNOWN;
	struct entry *e;
	size_t i;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (t == NULL || host_id == NULL || res == NULL)
		return ACTIONS_RESULT_UNKNOWN;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, res->action_id);
	if (i == t->n)
		goto out;
	e = t->v[i];
	if (strcmp(e->info.host_id, host_id) != 0 ||
	    strcmp(res->host_id, host_id) != 0 ||
	    strcmp(e->info.container_id, res->container_id) != 0 ||
	    e->info.action != res->action ||
	    strcmp(e->info.request_sha256, res->request_sha256) != 0 ||
	    e->info.status == ACTION_UNDELIVERED) {
		v = ACTIONS_RESULT_MISMATCH;
		goto out;
	}
	if (e->claimed || e->info.has_result) {
		v = ACTIONS_RESULT_DUPLICATE;
		goto out;
	}
	e->claimed = true;
	if (info != NULL)
		*info = e->info;
	v = ACTIONS_RESULT_OK;
out:
	(void)pthread_mutex_unlock(&t->mu);
	return v;
}

void
actions_unclaim(struct actions *t, const char *id)
{
	size_t i;

	if (t == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n)
		t->v[i]->claimed = false;
	(void)pthread_mutex_unlock(&t->mu);
}

static enum action_status
status_of(enum envelope_status s)
{
	switch (s) {
	case ENVELOPE_STATUS_SUCCESS: return ACTION_SUCCESS;
	case ENVELOPE_STATUS_DENIED: return ACTION_DENIED;
	case ENVELOPE_STATUS_REJECTED: return ACTION_REJECTED;
	case ENVELOPE_STATUS_UNKNOWN: return ACTION_UNKNOWN;
	case ENVELOPE_STATUS_FAILURE:
	default: return ACTION_FAILURE;
	}
}

int
actions_complete(struct actions *t, const struct envelope_result_payload *res,
    int64_t now_ms)
{
	struct action_info *a;
	size_t i;
	int r = SIGNET_ERR_NOT_FOUND;

	if (t == NULL || res == NULL)
		return r;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, res->action_id);
	if (i < t->n && t->v[i]->claimed) {
		a = &t->v[i]->info;
		t->v[i]->claimed = false;
		a->has_result = true;
		finish_entry(t, t->v[i], status_of(res->status), now_ms);
		a->docker_status = res->docker_status;
		set_error(a, res->has_error ? res->error : NULL);
		r = 0;
	}
	(void)pthread_mutex_unlock(&t->mu);
	return r;
}

size_t
actions_expire(struct actions *t, int64_t now_ms,
    char (*ids)[ACTIONS_ID_LEN + 1], size_t max)
{
	struct entry *e, *next;
	size_t k = 0;

	if (t == NULL)
		return 0;
	(void)pthread_mutex_lock(&t->mu);
	for (e = TAILQ_FIRST(&t->pending); e != NULL && k < max; e = next) {
		next = TAILQ_NEXT(e, link);
		if (e->claimed || now_ms < e->info.deadline)
			continue;
		finish_entry(t, e, ACTION_TIMEOUT, now_ms);
		set_error(&e->info, ACTIONS_TIMEOUT_ERROR);
		if (ids != NULL)
			memcpy(ids[k], e->info.action_id, ACTIONS_ID_LEN + 1);
		k++;
	}
	(void)pthread_mutex_unlock(&t->mu);
	return k;
}

size_t
actions_count(struct actions *t)
{
	size_t n;

	if (t == NULL)
		return 0;
	(void)pthread_mutex_lock(&t->mu);
	n = t->n;
	(void)pthread_mutex_unlock(&t->mu);
	return n;
}

static bool put_outcome(cJSON *o, const struct action_info *a);

static bool
put_time(cJSON *o, const char *k, int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return cJSON_AddNullToObject(o, k) != NULL;
	registry_format_time(ms, buf, sizeof(buf));
	return cJSON_AddStringToObject(o, k, buf) != NULL;
}

cJSON *
actions_info_json(const struct action_info *a)
{
	cJSON *o = cJSON_CreateObject();
	const char *act = envelope_action_name(a->action);
	bool ok;

	ok = o != NULL &&
	    cJSON_AddStringToObject(o, "action_id", a->action_id) != NULL &&
	    cJSON_AddStringToObject(o, "host_id", a->host_id) != NULL &&
	    cJSON_AddStringToObject(o, "container_id", a->container_id) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "action", act != NULL ? act : "") !=
	        NULL &&
	    cJSON_AddStringToObject(o, "status",
	        action_status_name(a->status)) != NULL &&
	    (a->has_error ?
	            cJSON_AddStringToObject(o, "error", a->error) != NULL :
	            cJSON_AddNullToObject(o, "error") != NULL) &&
	    cJSON_AddStringToObject(o, "requested_by", a->requested_by) !=
	        NULL &&
	    cJSON_AddBoolToObject(o, "operator_signed", a->operator_signed) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "reason", a->reason) != NULL &&
	    put_time(o, "requested_at", a->requested_at) &&
	    put_time(o, "finished_at",
	        a->status == ACTION_PENDING ? 0 : a->finished_at) &&
	    (a->has_result ?
	            cJSON_AddNumberToObject(o, "docker_status",
	                (double)a->docker_status) != NULL :
	            cJSON_AddNullToObject(o, "docker_status") != NULL) &&
	    put_outcome(o, a);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

enum actions_verdict
actions_set_outcome(struct actions *t, const char *host_id,
    const struct outcome_payload *p, bool record)
{
	enum actions_verdict v = ACTIONS_RESULT_UNKNOWN;
	struct entry *e;
	size_t i;

	if (t == NULL || host_id == NULL || p == NULL)
		return v;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, p->action_id);
	if (i == t->n)
		goto out;
	e = t->v[i];
	if (strcmp(e->info.host_id, host_id) != 0 ||
	    strcmp(p->host_id, host_id) != 0 ||
	    strcmp(e->info.container_id, p->container_id) != 0 ||
	    e->info.action != p->action ||
	    strcmp(e->info.request_sha256, p->request_sha256) != 0) {
		v = ACTIONS_RESULT_MISMATCH;
		goto out;
	}
	if (e->info.outcome != OUTCOME_NONE) {
		v = ACTIONS_RESULT_DUPLICATE;
		goto out;
	}
	if (record) {
		e->info.outcome = p->observed;
		memcpy(e->info.outcome_detail, p->detail,
		    sizeof(e->info.outcome_detail));
		e->info.outcome_at = p->observed_at;
	}
	v = ACTIONS_RESULT_OK;
out:
	(void)pthread_mutex_unlock(&t->mu);
	return v;
}

/* "outcome": {"observed","detail","observed_at"}, when there is one. */
static bool
put_outcome(cJSON *o, const struct action_info *a)
{
	cJSON *oc;

	if (a->outcome == OUTCOME_NONE)
		return true;
	oc = cJSON_AddObjectToObject(o, "outcome");
	return oc != NULL &&
	    cJSON_AddStringToObject(oc, "observed",
	        outcome_observed_name(a->outcome)) != NULL &&
	    cJSON_AddStringToObject(oc, "detail", a->outcome_detail) != NULL &&
	    put_time(oc, "observed_at", a->outcome_at);
}

int
actions_undeliver(struct actions *t, struct audit_writer *w, const char *id,
    const char *why)
{
	struct action_info a;
	cJSON *d;
	bool ok;
	int r;

	r = actions_mark_undelivered(t, id, why, clock_wall_ms());
	if (r != 0)
		return r;
	if (actions_get(t, id, &a) != 0)
		return SIGNET_ERR_NOT_FOUND;
	log_warn("action undelivered: action_id=%s host=%s: %s", id, a.host_id,
	    why);
	d = cJSON_CreateObject();
	ok = d != NULL && cJSON_AddStringToObject(d, "action_id", id) != NULL &&
	    cJSON_AddStringToObject(d, "host_id", a.host_id) != NULL &&
	    cJSON_AddStringToObject(d, "reason", why) != NULL;
	r = audit_event(w, "action.undelivered", SERVER_ACTOR_NAME, d, ok);
	actions_wake(t, id);
	return r;
}

int
actions_refused_unverified(struct actions *t, struct audit_writer *w,
    const char *host_id, const char *request_sha256, const char *frame_sha256,
    const char *reason, char *action_id)
{
	char why[ENVELOPE_ERROR_BYTES + 1];
	struct entry *e;
	cJSON *d;
	bool ok, found = false;
	size_t i;
	int r;

	action_id[0] = '\0';
	if (t == NULL || host_id == NULL || request_sha256 == NULL ||
	    !text_is_hex(request_sha256, 64))
		return SIGNET_ERR_NOT_FOUND;
	(void)pthread_mutex_lock(&t->mu);
	TAILQ_FOREACH(e, &t->pending, link) {
		if (!e->claimed && strcmp(e->info.host_id, host_id) == 0 &&
		    strcmp(e->info.request_sha256, request_sha256) == 0) {
			copy_str(action_id, ACTIONS_ID_LEN + 1,
			    e->info.action_id);
			found = true;
			break;
		}
	}
	(void)pthread_mutex_unlock(&t->mu);
	if (!found)
		return SIGNET_ERR_NOT_FOUND;
	/* Recorded before the action changes (docs/audit.md). */
	d = cJSON_CreateObject();
	ok = d != NULL &&
	    cJSON_AddStringToObject(d, "action_id", action_id) != NULL &&
	    cJSON_AddStringToObject(d, "host_id", host_id) != NULL &&
	    cJSON_AddStringToObject(d, "request_sha256", request_sha256) !=
	        NULL &&
	    cJSON_AddStringToObject(d, "frame_sha256", frame_sha256) != NULL &&
	    cJSON_AddStringToObject(d, "reason", reason) != NULL;
	r = audit_event(w, "action.unverified", SERVER_ACTOR_NAME, d, ok);
	if (r != 0)
		return r;
	(void)snprintf(why, sizeof(why),
	    "the agent refused the frame unverified; not run: %s", reason);
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, action_id);
	if (i < t->n && t->v[i]->info.status == ACTION_PENDING &&
	    !t->v[i]->claimed) {
		finish_entry(t, t->v[i], ACTION_REJECTED, clock_wall_ms());
		set_error(&t->v[i]->info, why);
	}
	(void)pthread_mutex_unlock(&t->mu);
	actions_wake(t, action_id);
	return 0;
}

size_t
actions_expire_and_record(struct actions *t, struct audit_writer *w,
    int64_t now_ms)
{
	char ids[64][ACTIONS_ID_LEN + 1];
	struct action_info a;
	size_t n, i;
	cJSON *d;
	bool ok;

	n = actions_expire(t, now_ms, ids, sizeof(ids) / sizeof(ids[0]));
	for (i = 0; i < n; i++) {
		if (actions_get(t, ids[i], &a) != 0)
			continue;
		log_warn("action timed out: action_id=%s host=%s container=%s",
		    a.action_id, a.host_id, a.container_id);
		d = cJSON_CreateObject();
		ok = d != NULL &&
		    cJSON_AddStringToObject(d, "action_id", a.action_id) !=
		        NULL &&
		    cJSON_AddStringToObject(d, "host_id", a.host_id) != NULL &&
		    cJSON_AddStringToObject(d, "container_id",
		        a.container_id) != NULL &&
		    cJSON_AddNumberToObject(d, "deadline",
		        (double)a.deadline) != NULL;
		(void)audit_event(w, "action.timeout", SERVER_ACTOR_NAME, d,
		    ok);
		actions_wake(t, ids[i]);
	}
	return n;
}

/* ---- after a restart ---- */

static const char *
data_str(const cJSON *data, const char *name)
{
	return cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(data, name));
}

int
actions_set_reload_window(struct actions *t, int64_t window_ms)
{
	if (t == NULL || window_ms < 0 || window_ms > ACTIONS_RELOAD_MS)
		return SIGNET_ERR_INVALID_ARG;
	t->reload_ms = window_ms;
	return 0;
}

/* One action.requested record: back into the table if it verifies. */
static int
reload_requested(struct actions *t, const struct keys_pubset *keys,
    const struct audit_record *rec, int64_t now_ms, size_t *added)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(rec->data,
	    "action");
	const char *payload = data_str(env, "payload");
	const char *sig = data_str(env, "sig");
	const char *key_id = data_str(env, "key_id");
	struct envelope_action_payload p;
	struct err_msg sub;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	char sha[65];
	int r;

	if (payload == NULL || sig == NULL || key_id == NULL)
		return 0;
	r = envelope_action_verify(keys, key_id, payload, sig, &p, &raw,
	    &raw_len, &sub);
	if (r == SIGNET_ERR_ALLOC)
		return r;
	if (r != 0) {
		log_info("reload: action.requested seq %llu not put back: %s",
		    (unsigned long long)rec->seq, sub.text);
		return 0;
	}
	envelope_sha256_hex(raw, raw_len, sha);
	free(raw);
	r = actions_add(t, &p, sha, p.expires_at + ENVELOPE_SKEW_MS, now_ms);
	sodium_memzero(&p, sizeof(p));
	if (r == 0)
		(*added)++;
	else if (r == SIGNET_ERR_ALLOC)
		return r;
	return 0;
}

/*
 * An action.result recorded with "action_known": false (the server of
 * that time did not hold the action) was not matched against what was
 * sent: it ends the entry now only if its embedded result answers it
 * (host, container, action and request_sha256). Under the lock.
 */
static bool
unknown_result_fits(const struct entry *e, const cJSON *data)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(data, "result");
	const char *b64 = data_str(env, "payload");
	struct envelope_result_payload res;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	bool fits = false;

	if (b64 == NULL ||
	    text_b64_decode(b64, strlen(b64), ENVELOPE_PAYLOAD_MAX, &raw,
	        &raw_len) != 0 ||
	    envelope_result_decode(raw, raw_len, &res, NULL) != 0)
		goto out;
	fits = strcmp(res.action_id, e->info.action_id) == 0 &&
	    strcmp(res.host_id, e->info.host_id) == 0 &&
	    strcmp(res.container_id, e->info.container_id) == 0 &&
	    res.action == e->info.action &&
	    strcmp(res.request_sha256, e->info.request_sha256) == 0;
out:
	free(raw);
	return fits;
}

/*
 * An action.result, action.timeout or action.undelivered record: the end
 * it records, given again to its entry (if put back), as at the time it was
 * recorded. A TIMEOUT may still take its late result, as before the
 * restart. Returns whether it ended a PENDING entry.
 */
static bool
reload_outcome(struct actions *t, const struct audit_record *rec)
{
	const char *id = data_str(rec->data, "action_id");
	const cJSON *v;
	enum envelope_status st;
	struct entry *e;
	bool ended = false;
	size_t i;

	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i == t->n)
		goto out;
	e = t->v[i];
	ended = e->info.status == ACTION_PENDING;
	v = cJSON_GetObjectItemCaseSensitive(rec->data, "action_known");
	if (strcmp(rec->event, "action.result") == 0 && !e->info.has_result &&
	    e->info.status != ACTION_UNDELIVERED &&
	    (!cJSON_IsFalse(v) || unknown_result_fits(e, rec->data))) {
		/* Accepted once: even a result whose status cannot be read. */
		v = cJSON_GetObjectItemCaseSensitive(rec->data,
		    "docker_status");
		e->info.has_result = true;
		e->info.docker_status = cJSON_IsNumber(v) &&
		        v->valuedouble >= 0 && v->valuedouble <= 999 ?
		    (int64_t)v->valuedouble :
		    0;
		st = envelope_status_parse(data_str(rec->data, "status"));
		if (st != ENVELOPE_STATUS_NONE)
			set_error(&e->info, data_str(rec->data, "error"));
		else
			set_error(&e->info,
			    "the status of this result could "
			    "not be read back from the audit log");
		/* An unreadable status counts as FAILURE (status_of). */
		finish_entry(t, e, status_of(st), rec->ts);
	} else if (strcmp(rec->event, "action.timeout") == 0 && ended) {
		finish_entry(t, e, ACTION_TIMEOUT, rec->ts);
		set_error(&e->info, ACTIONS_TIMEOUT_ERROR);
	} else if (strcmp(rec->event, "action.undelivered") == 0 && ended) {
		finish_entry(t, e, ACTION_UNDELIVERED, rec->ts);
		set_error(&e->info, data_str(rec->data, "reason"));
	} else {
		ended = false;
	}
	ended = ended && e->info.status != ACTION_PENDING;
out:
	(void)pthread_mutex_unlock(&t->mu);
	return ended;
}

/*
 * An action.outcome record: the outcome shown again on its entry (if put
 * back). What the record says was checked when it was written.
 */
static void
reload_agent_outcome(struct actions *t, const struct audit_record *rec)
{
	const char *id = data_str(rec->data, "action_id");
	const char *obs = data_str(rec->data, "observed");
	const char *detail = data_str(rec->data, "detail");
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(rec->data,
	    "observed_at");
	struct entry *e;
	size_t i;

	if (id == NULL || obs == NULL || detail == NULL)
		return;
	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i == t->n)
		goto out;
	e = t->v[i];
	if (e->info.outcome != OUTCOME_NONE)
		goto out;
	e->info.outcome = strcmp(obs, "ran") == 0 ? OUTCOME_RAN :
	    strcmp(obs, "not_run") == 0           ? OUTCOME_NOT_RUN :
	                                            OUTCOME_UNDETERMINED;
	(void)snprintf(e->info.outcome_detail, sizeof(e->info.outcome_detail),
	    "%s", detail);
	e->info.outcome_at = cJSON_IsNumber(at) && at->valuedouble >= 0 &&
	        at->valuedouble <= (double)JSONX_INT_MAX ?
	    (int64_t)at->valuedouble :
	    rec->ts;
out:
	(void)pthread_mutex_unlock(&t->mu);
}

int
actions_reload(struct actions *t, const char *audit_path,
    const struct keys_public *action_pub, int64_t now_ms, size_t *reloaded,
    struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct keys_pubset keys;
	size_t added = 0;
	int r;

	*reloaded = 0;
	if (t == NULL || audit_path == NULL || action_pub == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "actions_reload: missing argument");
	memset(&keys, 0, sizeof(keys));
	keys.count = 1;
	keys.keys[0] = *action_pub;
	r = audit_reader_open_since(audit_path, now_ms - t->reload_ms, &rd,
	    msg);
	if (r == SIGNET_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	for (;;) {
		struct audit_record rec;

		r = audit_reader_next_record(rd, &rec, msg);
		if (r <= 0)
			goto out;
		r = 0;
		if (rec.ts >= now_ms - t->reload_ms &&
		    strcmp(rec.event, "action.requested") == 0) {
			r = reload_requested(t, &keys, &rec, now_ms, &added);
		} else if (strcmp(rec.event, "action.outcome") == 0) {
			reload_agent_outcome(t, &rec);
		} else if ((strcmp(rec.event, "action.result") == 0 ||
		               strcmp(rec.event, "action.timeout") == 0 ||
		               strcmp(rec.event, "action.undelivered") == 0) &&
		    reload_outcome(t, &rec)) {
			added--;
		}
		audit_record_free(&rec);
		if (r != 0) {
			r = err_set(msg, r, "out of memory");
			goto out;
		}
	}
out:
	*reloaded = added;
	audit_reader_close(rd);
	return r;
}
