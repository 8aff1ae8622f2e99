/* SPDX-License-Identifier: ISC */
/*
 * Actions across replicas (cluster_relay.h, docs/cluster.md): the jobs
 * this replica runs on the cluster thread for actions whose host another
 * replica holds (queue, take, relay, results through the database), the
 * table of actions it follows for that, and a small thread that polls
 * (takes queued frames, writes ends, re-reads rows whose NOTIFY may have
 * been missed). Every row read from the database is hostile: an action
 * frame is relayed only when it verifies under the action key, a result
 * is taken only when it verifies under the host's registered result key
 * and answers the action this replica sent.
 */
#include "cluster_relay.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "cluster_verify.h"
#include "dynbuf.h"
#include "hub.h"
#include "keys.h"
#include "keyset.h"
#include "log.h"
#include "metrics.h"
#include "server_ctx.h"
#include "text.h"
#include "wire.h"

#define RELAY_TICK_MS 200

enum track_kind {
	TRACK_ORIGIN, /* signed here: its end goes to the database */
	TRACK_QUEUED, /* signed here, queued for another replica */
	TRACK_RELAYED /* taken from the queue: remove it once written */
};

/* An action this replica follows (r->mu). */
struct track {
	char id[ACTIONS_ID_LEN + 1];
	enum track_kind kind;
	bool in_queue;      /* taken from the queue: remove the row once
	                       the frame is written */
	bool late;          /* ended TIMEOUT here, its end posted: a late
	                       result may still come through the database */
	bool fetch_due;     /* read its row at the next tick */
	int64_t checked_ms; /* monotonic: last re-read of its row */
};

struct cluster_relay {
	struct server_ctx *ctx;
	struct cluster *cluster;
	struct actions *actions;
	struct keys_pubset action_pub; /* the shared action key */
	int db_timeout_ms;
	int64_t poll_ms, lease_ms;

	pthread_mutex_t mu; /* tracks, hub, stop, jobs' states */
	pthread_cond_t cv;  /* a job done; the thread's tick */
	bool mu_ready, cv_ready, thread_running, stop;
	pthread_t thread;
	struct hub *hub;
	struct track *tracks;
	size_t ntracks;
	struct end_job *ends; /* ends not yet written to the database */
	size_t nends;
	bool take_posted; /* a take job waits on the cluster thread */
	bool take_again;  /* a NOTIFY came while it waited */
	bool expire_due;  /* the next take drops expired rows first */

	atomic_ullong queued, relayed, results_refused, frames_refused;
};

/* --- small helpers ----------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
fmt_cut(char *out, size_t len, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(out, len, f, ap);
	va_end(ap);
}

static int64_t
clamp_ms(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* A status name as the database holds it; ACTION_PENDING + false when
 * it is none of action_status_name's. */
static bool
status_parse(const char *s, enum action_status *out)
{
	enum action_status st;

	for (st = ACTION_PENDING; st <= ACTION_UNKNOWN; st++)
		if (strcmp(s, action_status_name(st)) == 0) {
			*out = st;
			return true;
		}
	*out = ACTION_PENDING;
	return false;
}

/* The API JSON of an entry, compact; NULL when out of memory. */
static char *
info_text(const struct action_info *a)
{
	cJSON *o = actions_info_json(a);
	char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

/* --- the tracked actions (r->mu held) ---------------------------------- */

static struct track *
track_find(struct cluster_relay *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->ntracks; i++)
		if (strcmp(r->tracks[i].id, id) == 0)
			return &r->tracks[i];
	return NULL;
}

static void
track_drop(struct cluster_relay *r, struct track *t)
{
	size_t i = (size_t)(t - r->tracks);

	r->tracks[i] = r->tracks[--r->ntracks];
}

/*
 * Follows id. TRACK_RELAYED marks a queue row taken (in_queue) and keeps
 * the kind of an action signed here (this replica took its own action
 * from the queue once its claim came).
 */
static void
track_add(struct cluster_relay *r, const char *id, enum track_kind kind)
{
	struct track *t;

	(void)pthread_mutex_lock(&r->mu);
	t = track_find(r, id);
	if (t == NULL && r->ntracks < CLUSTER_RELAY_TRACK_MAX) {
		t = &r->tracks[r->ntracks++];
		memset(t, 0, sizeof(*t));
		memcpy(t->id, id, sizeof(t->id));
		t->kind = kind;
	}
	if (t != NULL) {
		if (kind == TRACK_RELAYED)
			t->in_queue = true;
		else
			t->kind = kind;
		t->checked_ms = clock_mono_ms();
	}
	(void)pthread_mutex_unlock(&r->mu);
	if (t == NULL)
		log_warn("cluster relay: %d actions followed already; action "
		         "%s ends without its end in the database",
		    CLUSTER_RELAY_TRACK_MAX, id);
}

/* --- jobs: posting and waiting ------------------------------------------ */

/*
 * A job the API may wait for. Owned by the waiter until it gives up
 * (abandoned), then by the job, which frees it when it ran.
 */
struct job {
	struct cluster_relay *r;
	struct cluster_db_action a;  /* add: the row; get: what was read */
	char id[ACTIONS_ID_LEN + 1]; /* get: the action asked for */
	bool queue;                  /* add: queue it for the holder */
	bool done, abandoned;
	int rc;
	struct err_msg msg;
};

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->a.info);
	free(j->a.frame);
	free(j->a.result);
	free(j);
}

/*
 * Posts j and waits for it at most db_timeout_ms. Returns 0 (j done: its
 * rc says how it went; the caller frees j), 1 (not done in time: j is
 * the job's now) or SIGNET_ERR_UNAVAILABLE (not posted: the caller frees
 * j).
 */
static int
post_and_wait(struct cluster_relay *r, struct job *j, cluster_call_fn fn)
{
	struct timespec ts;
	int64_t until;
	int r2;

	if (cluster_call_post(r->cluster, fn, j) != 0)
		return SIGNET_ERR_UNAVAILABLE;
	until = clock_mono_ms() + r->db_timeout_ms;
	(void)pthread_mutex_lock(&r->mu);
	while (!j->done) {
		int64_t left = until - clock_mono_ms();

		if (left <= 0)
			break;
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(left / 1000);
		ts.tv_nsec += (long)(left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	r2 = j->done ? 0 : 1;
	if (!j->done)
		j->abandoned = true;
	(void)pthread_mutex_unlock(&r->mu);
	return r2;
}

/* Marks j done; returns true when nobody waits (the caller frees it). */
static bool
job_finish(struct job *j)
{
	struct cluster_relay *r = j->r;
	bool mine;

	(void)pthread_mutex_lock(&r->mu);
	j->done = true;
	mine = j->abandoned;
	(void)pthread_cond_broadcast(&r->cv);
	(void)pthread_mutex_unlock(&r->mu);
	return mine;
}

/* --- origin: recording an action --------------------------------------- */

static void
run_add(void *arg, struct cluster_db *db)
{
	struct job *j = arg;
	struct cluster_relay *r = j->r;
	char why[ERR_MSG_MAX];
	bool queue = j->queue, mine;
	int rc;

	err_clear(&j->msg);
	if (db == NULL)
		j->rc = err_set(&j->msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database is unreachable");
	else
		j->rc = cluster_db_action_add(db, &j->a, j->queue, &j->msg);
	if (j->rc == 0 && queue)
		atomic_fetch_add(&r->queued, 1);
	rc = j->rc;
	fmt_cut(why, sizeof(why), "%s", j->msg.text);
	if (rc != 0 && !queue)
		log_warn("action %s: not recorded in the cluster database "
		         "(%s); sent by this replica all the same",
		    j->a.action_id, why);
	if (rc != 0 && queue) {
		char esc[ERR_MSG_MAX];

		(void)text_escape_str(why, esc, sizeof(esc));
		fmt_cut(why, sizeof(why),
		    "the cluster database did not take the action for the "
		    "replica holding its host: %s",
		    esc);
	}
	mine = job_finish(j);
	if (!mine)
		return;
	/* Nobody waits for it: a failure ends the action here. */
	if (rc != 0 && queue) {
		metrics_inc(r->ctx->metrics, M_ACTIONS_UNDELIVERED);
		if (actions_undeliver(r->actions, r->ctx->audit, j->a.action_id,
		        why) != 0)
			log_warn("action %s: undelivered not recorded",
			    j->a.action_id);
	}
	job_free(j);
}

/* A job for p's row: action_id ... frame, the API JSON of its entry. */
static struct job *
add_job(struct cluster_relay *r, const struct envelope_action_payload *p,
    const char *frame, bool queue)
{
	struct action_info *info = calloc(1, sizeof(*info));
	struct job *j = calloc(1, sizeof(*j));

	if (info == NULL || j == NULL ||
	    actions_get(r->actions, p->action_id, info) != 0)
		goto fail;
	j->r = r;
	j->queue = queue;
	memcpy(j->a.action_id, p->action_id, sizeof(j->a.action_id));
	fmt_cut(j->a.host_id, sizeof(j->a.host_id), "%s", p->host_id);
	fmt_cut(j->a.origin, sizeof(j->a.origin), "%s",
	    cluster_replica(r->cluster));
	memcpy(j->a.status, "PENDING", sizeof("PENDING"));
	j->a.requested_at_ms = p->issued_at;
	j->a.expires_at_ms = p->expires_at;
	j->a.deadline_ms = info->deadline;
	j->a.info = info_text(info);
	j->a.frame = strdup(frame);
	if (j->a.info == NULL || j->a.frame == NULL)
		goto fail;
	free(info);
	return j;
fail:
	free(info);
	job_free(j);
	return NULL;
}

int
cluster_relay_queue(struct cluster_relay *r,
    const struct envelope_action_payload *p, const char *frame, bool wait,
    char *why, size_t why_len)
{
	struct job *j;
	int rc;

	j = add_job(r, p, frame, true);
	if (j == NULL) {
		fmt_cut(why, why_len, "out of memory");
		return SIGNET_ERR_ALLOC;
	}
	track_add(r, p->action_id, TRACK_QUEUED);
	if (!wait) {
		/* Its waiter learns of a refusal as UNDELIVERED. */
		j->abandoned = true;
		if (cluster_call_post(r->cluster, run_add, j) == 0)
			return 0;
		fmt_cut(why, why_len,
		    "the cluster thread's queue is full or it stops: the "
		    "action was not queued for the replica holding its host");
		job_free(j);
		return SIGNET_ERR_UNAVAILABLE;
	}
	rc = post_and_wait(r, j, run_add);
	if (rc == SIGNET_ERR_UNAVAILABLE) {
		fmt_cut(why, why_len,
		    "the cluster thread's queue is full or it stops: the "
		    "action was not queued for the replica holding its host");
		job_free(j);
		return rc;
	}
	if (rc == 1) {
		log_info("action %s: the cluster database did not answer "
		         "within %d ms; queued all the same, ends UNDELIVERED "
		         "if it refuses",
		    p->action_id, r->db_timeout_ms);
		return 0;
	}
	rc = j->rc;
	if (rc != 0) {
		char esc[ERR_MSG_MAX];

		(void)text_escape_str(j->msg.text, esc, sizeof(esc));
		fmt_cut(why, why_len,
		    "the cluster database did not take the action for the "
		    "replica holding its host: %s",
		    esc);
		rc = SIGNET_ERR_UNAVAILABLE;
	}
	job_free(j);
	return rc;
}

void
cluster_relay_local(struct cluster_relay *r,
    const struct envelope_action_payload *p, const char *frame)
{
	struct job *j = add_job(r, p, frame, false);

	if (j == NULL) {
		log_warn("action %s: out of memory recording it in the "
		         "cluster database",
		    p->action_id);
		return;
	}
	j->abandoned = true;
	track_add(r, p->action_id, TRACK_ORIGIN);
	if (cluster_call_post(r->cluster, run_add, j) != 0) {
		log_warn("action %s: not recorded in the cluster database "
		         "(its queue is full)",
		    p->action_id);
		job_free(j);
	}
}

/* --- ends --------------------------------------------------------------- */

/*
 * An end to write (r->ends, under r->mu): kept until the database took
 * it or refused it for good, posted again every poll while it is away.
 */
struct end_job {
	struct end_job *next;
	struct cluster_relay *r;
	char id[ACTIONS_ID_LEN + 1];
	char status[16];
	char *info, *result;
	bool posted; /* a job for it waits on the cluster thread */
};

static void
end_job_free(struct end_job *e)
{
	if (e == NULL)
		return;
	free(e->info);
	free(e->result);
	free(e);
}

/* Unlinks e from r->ends (r->mu held). */
static void
ends_unlink(struct cluster_relay *r, struct end_job *e)
{
	struct end_job **pp;

	for (pp = &r->ends; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			r->nends--;
			return;
		}
}

static void
run_end(void *arg, struct cluster_db *db)
{
	struct end_job *e = arg;
	struct cluster_relay *r = e->r;
	struct err_msg msg;
	bool again = false;
	int rc = SIGNET_ERR_UNAVAILABLE;

	err_clear(&msg);
	if (db != NULL)
		rc = cluster_db_action_end(db, e->id, e->status, e->info,
		    e->result, cluster_replica(r->cluster), clock_wall_ms(),
		    &msg);
	if (rc == SIGNET_ERR_EXISTS || rc == SIGNET_ERR_NOT_FOUND)
		log_debug("action %s: end %s not written: %s", e->id, e->status,
		    err_str(rc));
	else if (rc == SIGNET_ERR_UNAVAILABLE || rc == SIGNET_ERR_ALLOC) {
		again = true;
		log_debug("action %s: end %s not written yet (%s); again at "
		          "the next poll",
		    e->id, e->status,
		    db == NULL ? "the database is unreachable" : msg.text);
	} else if (rc != 0)
		log_warn("action %s: end %s not written to the cluster "
		         "database: %s",
		    e->id, e->status, msg.text);
	(void)pthread_mutex_lock(&r->mu);
	e->posted = false;
	if (!again)
		ends_unlink(r, e);
	(void)pthread_mutex_unlock(&r->mu);
	if (!again)
		end_job_free(e);
}

/* Posts the ends not written yet (every poll). */
static void
ends_retry(struct cluster_relay *r)
{
	struct end_job *e, *todo[64];
	size_t n = 0, i;

	(void)pthread_mutex_lock(&r->mu);
	for (e = r->ends; e != NULL && n < 64; e = e->next)
		if (!e->posted) {
			e->posted = true;
			todo[n++] = e;
		}
	(void)pthread_mutex_unlock(&r->mu);
	for (i = 0; i < n; i++)
		if (cluster_call_post(r->cluster, run_end, todo[i]) != 0) {
			(void)pthread_mutex_lock(&r->mu);
			todo[i]->posted = false;
			(void)pthread_mutex_unlock(&r->mu);
		}
}

/* Posts the end of id: status, the API JSON of info, result (or NULL). */
static void
post_end(struct cluster_relay *r, const struct action_info *info,
    const char *result)
{
	struct end_job *e = calloc(1, sizeof(*e));

	if (e != NULL) {
		e->r = r;
		memcpy(e->id, info->action_id, sizeof(e->id));
		fmt_cut(e->status, sizeof(e->status), "%s",
		    action_status_name(info->status));
		e->info = info_text(info);
		e->result = result != NULL ? strdup(result) : NULL;
	}
	if (e == NULL || e->info == NULL ||
	    (result != NULL && e->result == NULL)) {
		log_warn("action %s: out of memory writing its end to the "
		         "cluster database",
		    info->action_id);
		end_job_free(e);
		return;
	}
	(void)pthread_mutex_lock(&r->mu);
	if (r->nends >= CLUSTER_RELAY_TRACK_MAX) {
		(void)pthread_mutex_unlock(&r->mu);
		log_warn("action %s: %d ends wait for the cluster database "
		         "already; this one is not written",
		    info->action_id, CLUSTER_RELAY_TRACK_MAX);
		end_job_free(e);
		return;
	}
	e->next = r->ends;
	r->ends = e;
	r->nends++;
	e->posted = true;
	(void)pthread_mutex_unlock(&r->mu);
	if (cluster_call_post(r->cluster, run_end, e) != 0) {
		/* The next poll posts it again. */
		(void)pthread_mutex_lock(&r->mu);
		e->posted = false;
		(void)pthread_mutex_unlock(&r->mu);
	}
}

void
cluster_relay_result(struct cluster_relay *r,
    const struct envelope_result_payload *res, const char *payload_b64,
    const char *sig_b64, bool known)
{
	struct action_info *info = calloc(1, sizeof(*info));
	char *frame = NULL;
	size_t len = 0;

	if (r == NULL) {
		free(info);
		return;
	}
	if (info == NULL ||
	    wire_build_result(payload_b64, sig_b64, &frame, &len) != 0) {
		log_warn("action %s: out of memory storing its result in the "
		         "cluster database",
		    res->action_id);
		goto out;
	}
	if (!known || actions_get(r->actions, res->action_id, info) != 0) {
		/* Not held here: what the signed result says. */
		memset(info, 0, sizeof(*info));
		memcpy(info->action_id, res->action_id,
		    sizeof(info->action_id));
		memcpy(info->host_id, res->host_id, sizeof(info->host_id));
		memcpy(info->container_id, res->container_id,
		    sizeof(info->container_id));
		info->action = res->action;
		memcpy(info->request_sha256, res->request_sha256,
		    sizeof(info->request_sha256));
		info->finished_at = clock_wall_ms();
		info->has_result = true;
		info->docker_status = res->docker_status;
		info->has_error = res->has_error;
		memcpy(info->error, res->error, sizeof(info->error));
		switch (res->status) {
		case ENVELOPE_STATUS_SUCCESS:
			info->status = ACTION_SUCCESS;
			break;
		case ENVELOPE_STATUS_DENIED:
			info->status = ACTION_DENIED;
			break;
		case ENVELOPE_STATUS_REJECTED:
			info->status = ACTION_REJECTED;
			break;
		case ENVELOPE_STATUS_UNKNOWN:
			info->status = ACTION_UNKNOWN;
			break;
		case ENVELOPE_STATUS_FAILURE:
		default: info->status = ACTION_FAILURE; break;
		}
	}
	post_end(r, info, frame);
out:
	free(frame);
	free(info);
}

/* --- verifying what the database holds ---------------------------------- */

/* cluster_verify_result under the registered keys of sent's host. */
static int
verify_result_frame(struct cluster_relay *r, const struct action_info *sent,
    const char *frame, struct envelope_result_payload *res,
    struct wire_frame *parts, char key_id[KEYS_ID_LEN + 1], struct err_msg *msg)
{
	struct keyset ks;
	struct err_msg sub;
	int rc;

	memset(parts, 0, sizeof(*parts));
	err_clear(&sub);
	rc = server_ctx_agent_keys(r->ctx, sent->host_id, &ks, &sub);
	if (rc != 0)
		return err_set(msg, rc, "the result keys of %s: %s",
		    sent->host_id, sub.text);
	return cluster_verify_result(&ks, sent, frame, res, parts, key_id, msg);
}

/* --- origin: a result through the database ------------------------------ */

/* action.result as the hub records it (hub_session.c). */
static int
record_result(struct cluster_relay *r, const struct wire_frame *f,
    const struct envelope_result_payload *res, const char *key_id)
{
	const char *st = envelope_status_name(res->status);
	cJSON *d, *env;
	bool ok;

	d = cJSON_CreateObject();
	ok = d != NULL &&
	    cJSON_AddStringToObject(d, "action_id", res->action_id) != NULL &&
	    cJSON_AddStringToObject(d, "host_id", res->host_id) != NULL &&
	    cJSON_AddStringToObject(d, "status", st != NULL ? st : "FAILURE") !=
	        NULL &&
	    cJSON_AddNumberToObject(d, "docker_status",
	        (double)res->docker_status) != NULL &&
	    (res->has_error ?
	            cJSON_AddStringToObject(d, "error", res->error) != NULL :
	            cJSON_AddNullToObject(d, "error") != NULL) &&
	    (env = cJSON_AddObjectToObject(d, "result")) != NULL &&
	    cJSON_AddStringToObject(env, "payload", f->payload_b64) != NULL &&
	    cJSON_AddStringToObject(env, "sig", f->sig_b64) != NULL &&
	    cJSON_AddStringToObject(d, "result_key_id", key_id) != NULL;
	return audit_event(r->ctx->audit, "action.result", SERVER_ACTOR, d, ok);
}

/*
 * The row of an action this replica holds (PENDING, or TIMEOUT awaiting
 * a late result): a verified result completes it.
 */
static void
take_result(struct cluster_relay *r, const struct cluster_db_action *row)
{
	struct envelope_result_payload res;
	struct action_info info, claimed;
	struct wire_frame parts;
	struct err_msg msg;
	char key_id[KEYS_ID_LEN + 1], by[CLUSTER_NAME_MAX + 1];
	enum actions_verdict v;
	int rc;

	err_clear(&msg);
	if (row->result == NULL)
		return; /* ended without a result: the origin's own deadline */
	if (actions_get(r->actions, row->action_id, &info) != 0 ||
	    info.has_result ||
	    (info.status != ACTION_PENDING && info.status != ACTION_TIMEOUT))
		return;
	(void)text_escape_str(row->result_by, by, sizeof(by));
	rc = verify_result_frame(r, &info, row->result, &res, &parts, key_id,
	    &msg);
	if (rc != 0) {
		atomic_fetch_add(&r->results_refused, 1);
		log_warn("action %s: the result the cluster database holds "
		         "(stored by replica \"%s\") is refused: %s; the "
		         "action is left as it was",
		    row->action_id, by, msg.text);
		return;
	}
	v = actions_claim_result(r->actions, info.host_id, &res, &claimed);
	if (v == ACTIONS_RESULT_DUPLICATE || v == ACTIONS_RESULT_UNKNOWN)
		goto out; /* taken meanwhile, or forgotten */
	if (v != ACTIONS_RESULT_OK) {
		atomic_fetch_add(&r->results_refused, 1);
		log_warn("action %s: the result the cluster database holds "
		         "does not match the action (state changed): refused",
		    row->action_id);
		goto out;
	}
	if (record_result(r, &parts, &res, key_id) != 0) {
		actions_unclaim(r->actions, res.action_id);
		log_error("action %s: action.result could not be recorded; "
		          "the stored result is read again at the next poll",
		    res.action_id);
		goto out;
	}
	if (actions_complete(r->actions, &res, clock_wall_ms()) != 0)
		log_error("action %s vanished while its result was recorded",
		    res.action_id);
	metrics_inc(r->ctx->metrics, M_ACTION_RESULTS);
	metrics_action_result(r->ctx->metrics, res.status,
	    (double)(clock_wall_ms() - claimed.requested_at) / 1000.0);
	log_info("action result (through the cluster database, stored by "
	         "replica %s): action_id=%s host=%s status=%s "
	         "docker_status=%lld result_key_id=%s%s",
	    by, res.action_id, res.host_id,
	    envelope_status_name(res.status) != NULL ?
	        envelope_status_name(res.status) :
	        "?",
	    (long long)res.docker_status, key_id,
	    claimed.status == ACTION_TIMEOUT ? " (after its deadline)" : "");
	actions_wake(r->actions, res.action_id);
out:
	wire_frame_free(&parts);
}

/* A job about one action: its row read (fetch), its queue row removed. */
struct id_job {
	struct cluster_relay *r;
	char id[ACTIONS_ID_LEN + 1];
};

static void
run_fetch(void *arg, struct cluster_db *db)
{
	struct id_job *k = arg;
	struct cluster_db_action row;
	struct err_msg msg;
	int rc;

	memset(&row, 0, sizeof(row));
	err_clear(&msg);
	if (db == NULL)
		goto out;
	rc = cluster_db_action_get(db, k->id, &row, &msg);
	if (rc == 0 && strcmp(row.action_id, k->id) == 0)
		take_result(k->r, &row);
	else if (rc != 0 && rc != SIGNET_ERR_NOT_FOUND)
		log_debug("action %s: its row not read: %s", k->id, msg.text);
	cluster_db_action_free(&row);
out:
	free(k);
}

static void
post_fetch(struct cluster_relay *r, const char *id)
{
	struct id_job *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return; /* read again at the next poll */
	k->r = r;
	memcpy(k->id, id, sizeof(k->id));
	if (cluster_call_post(r->cluster, run_fetch, k) != 0)
		free(k);
}

/* --- holder: taking and relaying ---------------------------------------- */

/* action.relayed: the action as the origin signed it, and who sent it. */
static int
record_relayed(struct cluster_relay *r, const struct envelope_action_payload *p,
    const struct wire_frame *f, const char *origin, const char *sha,
    struct err_msg *msg)
{
	cJSON *d = cJSON_CreateObject();
	bool ok;
	int rc;

	ok = d != NULL &&
	    cJSON_AddStringToObject(d, "action_id", p->action_id) != NULL &&
	    cJSON_AddStringToObject(d, "host_id", p->host_id) != NULL &&
	    cJSON_AddStringToObject(d, "container_id", p->container_id) !=
	        NULL &&
	    cJSON_AddStringToObject(d, "action_name",
	        envelope_action_name(p->action)) != NULL &&
	    cJSON_AddStringToObject(d, "origin", origin) != NULL &&
	    cJSON_AddStringToObject(d, "request_sha256", sha) != NULL &&
	    cJSON_AddNumberToObject(d, "expires_at", (double)p->expires_at) !=
	        NULL &&
	    envelope_add_json(d, "action", f->payload_b64, f->sig_b64,
	        f->key_id);
	if (!ok) {
		cJSON_Delete(d);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	rc = audit_append(r->ctx->audit, "action.relayed", SERVER_ACTOR, d,
	    NULL, msg);
	cJSON_Delete(d);
	return rc;
}

/* Removes a queue row that must never be relayed (it does not verify). */
static void
drop_queued(struct cluster_db *db, const char *id)
{
	struct err_msg msg;

	err_clear(&msg);
	if (cluster_db_queue_done(db, id, &msg) != 0)
		log_warn("action %s: its refused queue row not removed: %s", id,
		    msg.text);
}

/* Hands the (verified, re-built) frame to the hub; 0 or an error. */
static int
hand_over(struct cluster_relay *r, const char *host, const char *id,
    const char *frame, size_t len)
{
	int rc = SIGNET_ERR_UNAVAILABLE;

	(void)pthread_mutex_lock(&r->mu);
	if (r->hub != NULL && !r->stop)
		rc = hub_send_action(r->hub, host, id, frame, len);
	(void)pthread_mutex_unlock(&r->mu);
	return rc;
}

/* One taken row (hostile): verified, recorded, handed to the hub. */
static void
relay_one(struct cluster_relay *r, struct cluster_db *db,
    const struct cluster_db_action *row)
{
	struct envelope_action_payload *p = NULL;
	struct action_info *have = NULL;
	struct wire_frame f;
	struct err_msg msg;
	char sha[65], origin[CLUSTER_NAME_MAX + 1], *frame = NULL;
	size_t len = 0;
	int64_t now = clock_wall_ms(), deadline;
	bool again = false, recorded = false;
	int rc;

	err_clear(&msg);
	memset(&f, 0, sizeof(f));
	(void)text_escape_str(row->origin, origin, sizeof(origin));
	rc = cluster_verify_action(&r->action_pub, row->frame, &p, sha, &f,
	    &msg);
	if (rc == 0 &&
	    (strcmp(p->action_id, row->action_id) != 0 ||
	        strcmp(p->host_id, row->host_id) != 0))
		rc = err_set(&msg, SIGNET_ERR_CHAIN,
		    "the signed action is %s for host %s, the row says %s "
		    "for %s",
		    p->action_id, p->host_id, row->action_id, row->host_id);
	if (rc == 0 && !text_valid_name(row->origin))
		rc = err_set(&msg, SIGNET_ERR_FORMAT,
		    "the row's origin \"%s\" is not a replica name", origin);
	if (rc == 0 && p->expires_at <= now)
		rc = err_set(&msg, SIGNET_ERR_FORMAT,
		    "the action expired before it could be relayed");
	if (rc == SIGNET_ERR_ALLOC)
		goto out; /* taken again by the host's next claim */
	if (rc != 0) {
		atomic_fetch_add(&r->frames_refused, 1);
		log_warn("queued action %s (origin \"%s\") refused, not "
		         "relayed: %s",
		    row->action_id, origin, msg.text);
		drop_queued(db, row->action_id);
		goto out;
	}
	if (!cluster_holds(r->cluster, p->host_id, NULL)) {
		log_info("queued action %s: host %s is no longer held here; "
		         "left for its holder",
		    p->action_id, p->host_id);
		goto out;
	}
	have = calloc(1, sizeof(*have));
	if (have == NULL)
		goto out;
	if (actions_get(r->actions, p->action_id, have) == 0) {
		if (strcmp(have->request_sha256, sha) != 0) {
			atomic_fetch_add(&r->frames_refused, 1);
			log_warn("queued action %s refused: this replica holds "
			         "other bytes under that action_id",
			    p->action_id);
			drop_queued(db, p->action_id);
			goto out;
		}
		/* These bytes are in this log already (action.relayed,
		 * or action.requested here): not recorded twice. */
		recorded = true;
		if (have->status == ACTION_UNDELIVERED) {
			/* Its frame never reached the agent: once more. */
			actions_remove(r->actions, p->action_id);
		} else if (have->status == ACTION_PENDING) {
			/* Taken again by a newer claim (the agent came
			 * back): it answers a second delivery with what it
			 * holds. */
			again = true;
		} else {
			drop_queued(db, p->action_id);
			goto out;
		}
	}
	/* The origin's deadline, never past what the agent accepts. */
	deadline = clamp_ms(row->deadline_ms, now,
	    p->expires_at + ENVELOPE_SKEW_MS);
	if (!again) {
		rc = actions_add(r->actions, p, sha, deadline, now);
		if (rc != 0) {
			log_warn("queued action %s not relayed: the action "
			         "table refused it (%s)",
			    p->action_id, err_str(rc));
			goto out;
		}
		/* Nothing runs unrecorded. */
		rc = recorded ?
		    0 :
		    record_relayed(r, p, &f, row->origin, sha, &msg);
		if (rc != 0) {
			metrics_inc(r->ctx->metrics, M_ACTIONS_AUDIT_FAILED);
			actions_remove(r->actions, p->action_id);
			log_error(
			    "queued action %s not relayed: action.relayed "
			    "not recorded: %s",
			    p->action_id, msg.text);
			goto out;
		}
		atomic_fetch_add(&r->relayed, 1);
		log_info("action relayed%s: action_id=%s host=%s container=%s "
		         "action=%s origin=%s",
		    recorded ? " again (undelivered before)" : "", p->action_id,
		    p->host_id, p->container_id,
		    envelope_action_name(p->action), origin);
	}
	track_add(r, p->action_id, TRACK_RELAYED);
	rc = wire_build_action(f.payload_b64, f.sig_b64, f.key_id, &frame,
	    &len);
	if (rc == 0)
		rc = hand_over(r, p->host_id, p->action_id, frame, len);
	if (rc != 0 && !again) {
		metrics_inc(r->ctx->metrics, M_ACTIONS_UNDELIVERED);
		if (actions_undeliver(r->actions, r->ctx->audit, p->action_id,
		        "the relayed frame could not be queued for the agent") !=
		    0)
			log_warn("action %s: undelivered not recorded",
			    p->action_id);
	}
out:
	free(frame);
	free(have);
	wire_frame_free(&f);
	if (p != NULL)
		sodium_memzero(p, sizeof(*p));
	free(p);
}

static void
run_take(void *arg, struct cluster_db *db)
{
	struct cluster_relay *r = arg;
	struct cluster_db_action *rows = NULL;
	struct err_msg msg;
	size_t n = 0, i;
	bool again, expire;
	int rc;

	err_clear(&msg);
	(void)pthread_mutex_lock(&r->mu);
	r->take_posted = false;
	r->take_again = false;
	expire = r->expire_due;
	r->expire_due = false;
	(void)pthread_mutex_unlock(&r->mu);
	if (db == NULL)
		return;
	/* Housekeeping at each poll, off the fast path of a NOTIFY. */
	if (expire &&
	    cluster_db_queue_expire(db, cluster_replica(r->cluster),
	        r->lease_ms, clock_wall_ms(), &msg) != 0)
		log_debug("cluster relay: dropping expired queue rows: %s",
		    msg.text);
	rows = calloc(CLUSTER_RELAY_TAKE_MAX, sizeof(*rows));
	if (rows == NULL)
		return;
	rc = cluster_db_queue_take(db, cluster_replica(r->cluster), r->lease_ms,
	    clock_wall_ms(), rows, CLUSTER_RELAY_TAKE_MAX, &n, &msg);
	if (rc != 0) {
		log_debug("cluster relay: taking queued actions: %s", msg.text);
		n = 0;
	}
	for (i = 0; i < n; i++)
		relay_one(r, db, &rows[i]);
	for (i = 0; i < n; i++)
		cluster_db_action_free(&rows[i]);
	free(rows);
	again = rc == 0 && n == CLUSTER_RELAY_TAKE_MAX;
	if (again) {
		(void)pthread_mutex_lock(&r->mu);
		r->take_again = true;
		(void)pthread_cond_broadcast(&r->cv);
		(void)pthread_mutex_unlock(&r->mu);
	}
}

/* Posts a take unless one waits already. */
static void
post_take(struct cluster_relay *r)
{
	bool post;

	(void)pthread_mutex_lock(&r->mu);
	post = !r->take_posted && !r->stop;
	if (post)
		r->take_posted = true;
	(void)pthread_mutex_unlock(&r->mu);
	if (post && cluster_call_post(r->cluster, run_take, r) != 0) {
		(void)pthread_mutex_lock(&r->mu);
		r->take_posted = false;
		(void)pthread_mutex_unlock(&r->mu);
	}
}

static void
run_queue_done(void *arg, struct cluster_db *db)
{
	struct id_job *k = arg;
	struct err_msg msg;

	err_clear(&msg);
	if (db != NULL && cluster_db_queue_done(db, k->id, &msg) != 0)
		log_warn("action %s: its queue row not removed (%s); a second "
		         "delivery is answered by the agent",
		    k->id, msg.text);
	free(k);
}

void
cluster_relay_sent(struct cluster_relay *r, const char *action_id)
{
	struct id_job *k;
	struct track *t;
	bool relayed = false;

	if (r == NULL || action_id == NULL)
		return;
	(void)pthread_mutex_lock(&r->mu);
	t = track_find(r, action_id);
	if (t != NULL && t->in_queue) {
		relayed = true;
		t->in_queue = false;
		if (t->kind == TRACK_RELAYED)
			track_drop(r, t);
	}
	(void)pthread_mutex_unlock(&r->mu);
	if (!relayed)
		return;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return; /* the next claim takes it again; the agent answers */
	k->r = r;
	memcpy(k->id, action_id, sizeof(k->id));
	if (cluster_call_post(r->cluster, run_queue_done, k) != 0)
		free(k);
}

void
cluster_relay_notify(struct cluster_relay *r, const struct cluster_event *ev)
{
	struct action_info info;

	if (r == NULL)
		return;
	if (ev->type == CLUSTER_EV_CLAIMED) {
		/* Frames may wait for this host since its last claim. */
		post_take(r);
		return;
	}
	if (ev->type == CLUSTER_EV_CONNECTED) {
		/*
		 * A signet_done sent while away was not heard: the rows of
		 * the actions still waiting for a result are read again.
		 */
		size_t i;

		(void)pthread_mutex_lock(&r->mu);
		for (i = 0; i < r->ntracks; i++)
			if (r->tracks[i].kind != TRACK_RELAYED)
				r->tracks[i].fetch_due = true;
		(void)pthread_cond_broadcast(&r->cv);
		(void)pthread_mutex_unlock(&r->mu);
		return;
	}
	if (ev->type != CLUSTER_EV_NOTIFY)
		return;
	if (strcmp(ev->channel, CLUSTER_CHANNEL_QUEUE) == 0) {
		/*
		 * The payload names the host: only its holder takes (the
		 * others' takes would find nothing, at four statements
		 * each). A claim granted later, and each poll, take too.
		 */
		if (cluster_holds(r->cluster, ev->payload, NULL))
			post_take(r);
		return;
	}
	if (strcmp(ev->channel, CLUSTER_CHANNEL_DONE) != 0 ||
	    !text_is_hex(ev->payload, ACTIONS_ID_LEN))
		return;
	/* Only an action held here and still waiting for its result. */
	if (actions_get(r->actions, ev->payload, &info) != 0 ||
	    info.has_result ||
	    (info.status != ACTION_PENDING && info.status != ACTION_TIMEOUT))
		return;
	post_fetch(r, ev->payload);
}

/* --- the polling thread ------------------------------------------------- */

/*
 * Every tick: the ends of actions signed here written to the database;
 * every poll_ms: a take, and the rows of queued actions still PENDING
 * read again (a NOTIFY missed while the database was away).
 */
static void
tick(struct cluster_relay *r, bool poll)
{
	struct action_info *info = NULL;
	char(*fetch)[ACTIONS_ID_LEN + 1] = NULL;
	char id[ACTIONS_ID_LEN + 1];
	size_t i, nfetch = 0;
	int64_t now = clock_mono_ms();

	info = calloc(1, sizeof(*info));
	fetch = calloc(64, sizeof(*fetch));
	if (info == NULL || fetch == NULL)
		goto out;
	i = 0;
	for (;;) {
		(void)pthread_mutex_lock(&r->mu);
		if (i >= r->ntracks) {
			(void)pthread_mutex_unlock(&r->mu);
			break;
		}
		memcpy(id, r->tracks[i].id, sizeof(id));
		(void)pthread_mutex_unlock(&r->mu);
		if (actions_get(r->actions, id, info) != 0) {
			info->status = ACTION_PENDING;
			info->has_result = true; /* forgotten: drop it */
		}
		(void)pthread_mutex_lock(&r->mu);
		if (i < r->ntracks && strcmp(r->tracks[i].id, id) == 0) {
			struct track *t = &r->tracks[i];

			if (info->has_result) {
				track_drop(r, t);
				(void)pthread_mutex_unlock(&r->mu);
				continue;
			}
			if (t->kind == TRACK_RELAYED) {
				if (info->status != ACTION_PENDING) {
					track_drop(r, t);
					(void)pthread_mutex_unlock(&r->mu);
					continue;
				}
			} else if (info->status != ACTION_PENDING) {
				/*
				 * Ended here without a result: its end goes to
				 * the database once. A TIMEOUT stays followed
				 * (until the table forgets it): a late result
				 * stored while this replica did not listen is
				 * read at the next (re)connection.
				 */
				bool first = !t->late;

				if (info->status != ACTION_TIMEOUT) {
					track_drop(r, t);
					(void)pthread_mutex_unlock(&r->mu);
					post_end(r, info, NULL);
					continue;
				}
				t->late = true;
				if (!first && t->fetch_due && nfetch < 64) {
					t->fetch_due = false;
					memcpy(fetch[nfetch++], id, sizeof(id));
				}
				(void)pthread_mutex_unlock(&r->mu);
				if (first)
					post_end(r, info, NULL);
				i++;
				continue;
			} else if (t->fetch_due && nfetch < 64) {
				t->fetch_due = false;
				t->checked_ms = now;
				memcpy(fetch[nfetch++], id, sizeof(id));
			} else if (poll && t->kind == TRACK_QUEUED &&
			    now - t->checked_ms >= r->poll_ms && nfetch < 64) {
				t->checked_ms = now;
				memcpy(fetch[nfetch++], id, sizeof(id));
			}
		}
		(void)pthread_mutex_unlock(&r->mu);
		i++;
	}
	for (i = 0; i < nfetch; i++)
		post_fetch(r, fetch[i]);
	if (poll) {
		(void)pthread_mutex_lock(&r->mu);
		r->expire_due = true;
		(void)pthread_mutex_unlock(&r->mu);
		post_take(r);
		ends_retry(r);
	}
out:
	free(fetch);
	free(info);
}

static void *
relay_main(void *arg)
{
	struct cluster_relay *r = arg;
	struct timespec ts;
	int64_t next_poll = 0, now;
	bool again;

	(void)pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		(void)pthread_mutex_unlock(&r->mu);
		now = clock_mono_ms();
		tick(r, now >= next_poll);
		if (now >= next_poll)
			next_poll = now + r->poll_ms;
		(void)pthread_mutex_lock(&r->mu);
		again = r->take_again;
		r->take_again = false;
		if (again) {
			(void)pthread_mutex_unlock(&r->mu);
			post_take(r);
			(void)pthread_mutex_lock(&r->mu);
			continue;
		}
		if (r->stop)
			break;
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += RELAY_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	(void)pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* --- GET from the database ---------------------------------------------- */

static void
run_get(void *arg, struct cluster_db *db)
{
	struct job *j = arg;

	err_clear(&j->msg);
	if (db == NULL)
		j->rc = err_set(&j->msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database is unreachable");
	else
		j->rc = cluster_db_action_get(db, j->id, &j->a, &j->msg);
	if (job_finish(j))
		job_free(j);
}

/* The row as the API shows it (see cluster_relay_get). */
static int
row_json(struct cluster_relay *r, const struct cluster_db_action *row,
    cJSON **doc, struct err_msg *msg)
{
	struct envelope_action_payload *p = NULL;
	struct envelope_result_payload res;
	struct action_info *a = NULL;
	struct wire_frame f, rf;
	struct err_msg sub;
	char sha[65], key_id[KEYS_ID_LEN + 1];
	enum action_status st;
	bool verified = false, known_status;
	int rc;

	*doc = NULL;
	memset(&rf, 0, sizeof(rf));
	rc = cluster_verify_action(&r->action_pub, row->frame, &p, sha, &f,
	    msg);
	if (rc != 0)
		return rc == SIGNET_ERR_ALLOC ? rc : SIGNET_ERR_BAD_SIGNATURE;
	if (strcmp(p->action_id, row->action_id) != 0) {
		rc = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "the stored frame is of action %s", p->action_id);
		goto out;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		rc = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(a->action_id, p->action_id, sizeof(a->action_id));
	memcpy(a->host_id, p->host_id, sizeof(a->host_id));
	memcpy(a->container_id, p->container_id, sizeof(a->container_id));
	a->action = p->action;
	memcpy(a->reason, p->reason, sizeof(a->reason));
	memcpy(a->requested_by, p->requested_by, sizeof(a->requested_by));
	a->operator_signed = p->has_request;
	memcpy(a->request_sha256, sha, sizeof(a->request_sha256));
	a->requested_at = p->issued_at;
	a->expires_at = p->expires_at;
	known_status = status_parse(row->status, &st);
	a->status = st;
	a->finished_at = clamp_ms(row->finished_at_ms, 0, INT64_C(1) << 53);
	err_clear(&sub);
	if (row->result != NULL &&
	    verify_result_frame(r, a, row->result, &res, &rf, key_id, &sub) ==
	        0) {
		verified = true;
		a->has_result = true;
		a->docker_status = res.docker_status;
		a->has_error = res.has_error;
		memcpy(a->error, res.error, sizeof(a->error));
		switch (res.status) {
		case ENVELOPE_STATUS_SUCCESS: a->status = ACTION_SUCCESS; break;
		case ENVELOPE_STATUS_DENIED: a->status = ACTION_DENIED; break;
		case ENVELOPE_STATUS_REJECTED:
			a->status = ACTION_REJECTED;
			break;
		case ENVELOPE_STATUS_UNKNOWN: a->status = ACTION_UNKNOWN; break;
		case ENVELOPE_STATUS_FAILURE:
		default: a->status = ACTION_FAILURE; break;
		}
		if (a->finished_at == 0)
			a->finished_at = res.finished_at;
	} else {
		if (row->result != NULL) {
			atomic_fetch_add(&r->results_refused, 1);
			log_warn("action %s: the result the cluster database "
			         "holds is refused: %s",
			    row->action_id, sub.text);
		}
		if (!known_status)
			a->status = ACTION_PENDING;
		if (a->status != ACTION_PENDING && a->finished_at == 0)
			a->finished_at = clock_wall_ms();
	}
	*doc = actions_info_json(a);
	if (*doc == NULL ||
	    cJSON_AddStringToObject(*doc, "replica",
	        text_valid_name(row->origin) ? row->origin : "") == NULL ||
	    cJSON_AddBoolToObject(*doc, "verified", verified) == NULL) {
		cJSON_Delete(*doc);
		*doc = NULL;
		rc = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	rc = 0;
out:
	wire_frame_free(&f);
	wire_frame_free(&rf);
	free(a);
	if (p != NULL)
		sodium_memzero(p, sizeof(*p));
	free(p);
	return rc;
}

int
cluster_relay_get(struct cluster_relay *r, const char *action_id, cJSON **doc,
    struct err_msg *msg)
{
	struct job *j;
	int rc;

	*doc = NULL;
	if (r == NULL || !text_is_hex(action_id, ACTIONS_ID_LEN))
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "bad action id");
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	j->r = r;
	memcpy(j->id, action_id, ACTIONS_ID_LEN + 1);
	rc = post_and_wait(r, j, run_get);
	if (rc == SIGNET_ERR_UNAVAILABLE) {
		job_free(j);
		return err_set(msg, rc, "the cluster thread's queue is full");
	}
	if (rc == 1)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database did not answer within %d ms",
		    r->db_timeout_ms);
	if (j->rc == SIGNET_ERR_NOT_FOUND)
		rc = err_set(msg, SIGNET_ERR_NOT_FOUND, "no action %s",
		    action_id);
	else if (j->rc != 0)
		rc = err_set(msg, SIGNET_ERR_UNAVAILABLE, "%s", j->msg.text);
	else if (strcmp(j->a.action_id, action_id) != 0)
		rc = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "the database answered another action");
	else
		rc = row_json(r, &j->a, doc, msg);
	job_free(j);
	return rc;
}

/* --- life --------------------------------------------------------------- */

int
cluster_relay_new(const struct cluster_relay_config *cfg,
    struct cluster_relay **out, struct err_msg *msg)
{
	struct cluster_relay *r = NULL;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->ctx == NULL || cfg->cluster == NULL ||
	    cfg->actions == NULL || cfg->ctx->action_key == NULL ||
	    cfg->db_timeout_ms <= 0 || cfg->poll_ms <= 0 || cfg->lease_ms <= 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "cluster relay: bad configuration");
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r->tracks = calloc(CLUSTER_RELAY_TRACK_MAX, sizeof(*r->tracks));
	if (r->tracks == NULL) {
		rc = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto fail;
	}
	r->ctx = cfg->ctx;
	r->cluster = cfg->cluster;
	r->actions = cfg->actions;
	r->db_timeout_ms = cfg->db_timeout_ms;
	r->poll_ms = cfg->poll_ms;
	r->lease_ms = cfg->lease_ms;
	r->action_pub.count = 1;
	r->action_pub.keys[0] = cfg->ctx->action_key->pub;
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		rc = err_set(msg, SIGNET_ERR_INTERNAL, "cluster relay: a lock");
		goto fail;
	}
	r->mu_ready = true;
	if (pthread_condattr_init(&ca) != 0) {
		rc = err_set(msg, SIGNET_ERR_INTERNAL, "cluster relay: a lock");
		goto fail;
	}
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&r->cv, &ca) == 0;
	(void)pthread_condattr_destroy(&ca);
	if (!rc) {
		rc = err_set(msg, SIGNET_ERR_INTERNAL, "cluster relay: a lock");
		goto fail;
	}
	r->cv_ready = true;
	if (cluster_listen_post(r->cluster, CLUSTER_CHANNEL_QUEUE) != 0 ||
	    cluster_listen_post(r->cluster, CLUSTER_CHANNEL_DONE) != 0) {
		rc = err_set(msg, SIGNET_ERR_INTERNAL,
		    "cluster relay: cannot listen on the action channels");
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		rc = err_set(msg, SIGNET_ERR_INTERNAL,
		    "cluster relay: cannot start its thread");
		goto fail;
	}
	r->thread_running = true;
	*out = r;
	return 0;
fail:
	cluster_relay_free(r);
	return rc;
}

void
cluster_relay_set_hub(struct cluster_relay *r, struct hub *hub)
{
	if (r == NULL)
		return;
	(void)pthread_mutex_lock(&r->mu);
	r->hub = hub;
	(void)pthread_mutex_unlock(&r->mu);
}

void
cluster_relay_stop(struct cluster_relay *r)
{
	if (r == NULL || !r->thread_running)
		return;
	(void)pthread_mutex_lock(&r->mu);
	r->stop = true;
	r->hub = NULL;
	(void)pthread_cond_broadcast(&r->cv);
	(void)pthread_mutex_unlock(&r->mu);
	(void)pthread_join(r->thread, NULL);
	r->thread_running = false;
}

void
cluster_relay_free(struct cluster_relay *r)
{
	if (r == NULL)
		return;
	cluster_relay_stop(r);
	if (r->cv_ready)
		(void)pthread_cond_destroy(&r->cv);
	if (r->mu_ready)
		(void)pthread_mutex_destroy(&r->mu);
	while (r->ends != NULL) {
		struct end_job *e = r->ends;

		r->ends = e->next;
		end_job_free(e);
	}
	free(r->tracks);
	free(r);
}

char *
cluster_relay_metrics_append(struct cluster_relay *r, char *text)
{
	struct dynbuf b;
	size_t len;

	if (r == NULL || text == NULL)
		return text;
	dynbuf_init(&b, strlen(text) + 4096);
	if (dynbuf_add(&b, text, strlen(text)) != 0 ||
	    dynbuf_addf(&b,
	        "# HELP signet_cluster_actions_queued_total Actions signed "
	        "here and queued in the cluster database for the replica "
	        "holding their host.\n"
	        "# TYPE signet_cluster_actions_queued_total counter\n"
	        "signet_cluster_actions_queued_total %llu\n"
	        "# HELP signet_cluster_actions_relayed_total Actions another "
	        "replica signed, taken from the queue, verified and relayed "
	        "to their agent here.\n"
	        "# TYPE signet_cluster_actions_relayed_total counter\n"
	        "signet_cluster_actions_relayed_total %llu\n"
	        "# HELP signet_cluster_results_refused_total Results read "
	        "from the cluster database that did not verify or did not "
	        "answer the action sent (nothing changed).\n"
	        "# TYPE signet_cluster_results_refused_total counter\n"
	        "signet_cluster_results_refused_total %llu\n"
	        "# HELP signet_cluster_frames_refused_total Queued action "
	        "frames that did not verify under the action key (not "
	        "relayed).\n"
	        "# TYPE signet_cluster_frames_refused_total counter\n"
	        "signet_cluster_frames_refused_total %llu\n",
	        (unsigned long long)atomic_load(&r->queued),
	        (unsigned long long)atomic_load(&r->relayed),
	        (unsigned long long)atomic_load(&r->results_refused),
	        (unsigned long long)atomic_load(&r->frames_refused)) != 0) {
		dynbuf_free(&b);
		free(text);
		return NULL;
	}
	free(text);
	return dynbuf_take(&b, &len);
}
