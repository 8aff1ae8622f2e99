/* SPDX-License-Identifier: ISC */
/*
 * What became of an action answered UNKNOWN (dockerd got the request and
 * gave no answer): a thread of its own asks dockerd for the container's
 * state every outcome_poll_ms until it answers, compares it with the
 * state captured just before the call (outcome_compare), records a
 * durable action.outcome in the agent's audit log, signs the outcome with
 * the result key and keeps the action_outcome frame in an outbox of its
 * own until the server acknowledges it (outcome_ack). Only a recorded
 * outcome is sent. A state that still shows nothing is trusted only once
 * it stayed so for stop_timeout + 2 polls after dockerd answered again
 * (a frozen dockerd works through what it was asked once it runs); a
 * dockerd silent for EXECUTOR_OUTCOME_GIVEUP_MS, or a container gone, is
 * recorded as undetermined. An outcome whose record cannot be written is
 * dropped here and found again at the next start (executor_recover.c).
 */
#include "executor.h"
#include "executor_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "text.h"
#include "wire.h"

int
executor_outcome_init(struct executor *ex, struct err_msg *msg)
{
	pthread_condattr_t ca;
	int r;

	ex->follow = calloc(EXECUTOR_FOLLOW_MAX, sizeof(*ex->follow));
	ex->obox = calloc(EXECUTOR_OBOX_MAX, sizeof(*ex->obox));
	if (ex->follow == NULL || ex->obox == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	/* Polls are timed on the monotonic clock: a clock step waits not. */
	if (pthread_condattr_init(&ca) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL,
		    "pthread_condattr_init");
	r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&ex->ocv, &ca);
	(void)pthread_condattr_destroy(&ca);
	if (r != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL, "pthread_cond_init");
	ex->ocv_ok = true;
	return 0;
}

void
executor_outcome_fini(struct executor *ex)
{
	size_t i;

	if (ex->obox != NULL) {
		for (i = 0; i < ex->nobox; i++)
			free(ex->obox[i].frame);
		free(ex->obox);
	}
	free(ex->follow);
	if (ex->ocv_ok)
		(void)pthread_cond_destroy(&ex->ocv);
}

void
executor_outcome_count(struct executor *ex, struct executor_stats *st)
{
	size_t i;

	st->outcomes_pending = ex->nfollow;
	st->outcomes_unacked = 0;
	for (i = 0; i < ex->nobox; i++) {
		if (!ex->obox[i].delivered)
			st->outcomes_unacked++;
	}
}

/* ---- the outcome outbox (under mu) ---- */

static void
obox_drop(struct executor *ex, size_t i)
{
	free(ex->obox[i].frame);
	memmove(&ex->obox[i], &ex->obox[i + 1],
	    (ex->nobox - i - 1) * sizeof(ex->obox[0]));
	ex->nobox--;
}

/* Adds an outcome frame (owned from here on). */
static void
obox_add(struct executor *ex, const char *action_id, const char *sha,
    char *frame, size_t len)
{
	struct executor_obox_entry *e;
	size_t i;

	for (i = 0; i < ex->nobox; i++) {
		if (strcmp(ex->obox[i].action_id, action_id) == 0 &&
		    strcmp(ex->obox[i].request_sha256, sha) == 0) {
			obox_drop(ex, i);
			break;
		}
	}
	if (ex->nobox == EXECUTOR_OBOX_MAX) {
		for (i = 0; i < ex->nobox && !ex->obox[i].delivered; i++)
			;
		if (i == ex->nobox) {
			i = 0;
			log_warn("outcome outbox full (%d): the outcome of "
			         "action %s is dropped unacknowledged (it "
			         "stays in the audit log)",
			    EXECUTOR_OBOX_MAX, ex->obox[0].action_id);
		}
		obox_drop(ex, i);
	}
	e = &ex->obox[ex->nobox++];
	memset(e, 0, sizeof(*e));
	e->seq = ++ex->obox_seq;
	memcpy(e->action_id, action_id, sizeof(e->action_id));
	memcpy(e->request_sha256, sha, sizeof(e->request_sha256));
	e->frame = frame;
	e->len = len;
}

int
executor_outcome_take(struct executor *ex, uint64_t epoch, char **frame,
    size_t *len, uint64_t *seq)
{
	size_t i;
	int r = 0;

	*frame = NULL;
	*len = 0;
	*seq = 0;
	executor_lock(ex);
	for (i = 0; i < ex->nobox; i++) {
		struct executor_obox_entry *e = &ex->obox[i];

		if (e->delivered || e->queued_epoch == epoch)
			continue;
		*frame = malloc(e->len + 1);
		if (*frame == NULL) {
			r = SIGNET_ERR_ALLOC;
			break;
		}
		memcpy(*frame, e->frame, e->len + 1);
		*len = e->len;
		*seq = e->seq;
		e->queued_epoch = epoch;
		r = 1;
		break;
	}
	executor_unlock(ex);
	return r;
}

void
executor_outcome_untake(struct executor *ex, uint64_t seq)
{
	size_t i;

	executor_lock(ex);
	for (i = 0; i < ex->nobox; i++) {
		if (ex->obox[i].seq == seq)
			ex->obox[i].queued_epoch = 0;
	}
	executor_unlock(ex);
}

void
executor_outcome_acked(struct executor *ex, const char *action_id,
    const char *request_sha256)
{
	size_t i;

	executor_lock(ex);
	for (i = 0; i < ex->nobox; i++) {
		struct executor_obox_entry *e = &ex->obox[i];

		if (strcmp(e->action_id, action_id) != 0 ||
		    strcmp(e->request_sha256, request_sha256) != 0)
			continue;
		if (!e->delivered)
			log_debug("outcome of action %s acknowledged",
			    action_id);
		e->delivered = true;
	}
	executor_unlock(ex);
}

void
executor_outcome_reload(struct executor *ex, const char *action_id,
    const char *request_sha256, const char *payload_b64, const char *sig_b64)
{
	char *frame = NULL;
	size_t len = 0;

	if (wire_build_outcome(payload_b64, sig_b64, &frame, &len) != 0) {
		log_error("out of memory reloading the outcome of action %s",
		    action_id);
		return;
	}
	executor_lock(ex);
	obox_add(ex, action_id, request_sha256, frame, len);
	executor_unlock(ex);
}

/* ---- following an UNKNOWN action ---- */

void
executor_followup_add(struct executor *ex, const char *action_id,
    const char *container_id, enum envelope_action action,
    const char *request_sha256, const struct outcome_state *before,
    int64_t since_ms)
{
	struct executor_followup *f;
	size_t i;

	executor_lock(ex);
	for (i = 0; i < ex->nfollow; i++) {
		if (strcmp(ex->follow[i].action_id, action_id) == 0) {
			executor_unlock(ex);
			return;
		}
	}
	if (ex->nfollow == EXECUTOR_FOLLOW_MAX) {
		executor_unlock(ex);
		log_error("already %d UNKNOWN actions followed: the outcome "
		          "of action %s is looked for at the next start",
		    EXECUTOR_FOLLOW_MAX, action_id);
		return;
	}
	f = &ex->follow[ex->nfollow++];
	memset(f, 0, sizeof(*f));
	memcpy(f->action_id, action_id, sizeof(f->action_id));
	memcpy(f->container_id, container_id, sizeof(f->container_id));
	memcpy(f->request_sha256, request_sha256, sizeof(f->request_sha256));
	f->action = action;
	f->has_before = before != NULL;
	if (before != NULL)
		f->before = *before;
	f->since_ms = since_ms;
	(void)pthread_cond_signal(&ex->ocv);
	executor_unlock(ex);
}

/* Takes f off the list (under mu). */
static void
followup_remove(struct executor *ex, const char *action_id)
{
	size_t i;

	for (i = 0; i < ex->nfollow; i++) {
		if (strcmp(ex->follow[i].action_id, action_id) != 0)
			continue;
		ex->follow[i] = ex->follow[ex->nfollow - 1];
		ex->nfollow--;
		return;
	}
}

/*
 * Records action.outcome for p (signed as env) and puts its frame in the
 * outbox. Returns 0 or the audit writer's code (nothing sent then).
 */
static int
record_outcome(struct executor *ex, const struct outcome_payload *p,
    const struct envelope *env)
{
	cJSON *o = outcome_record(p, env->payload_b64, env->sig_b64);
	char *frame = NULL;
	size_t len = 0;
	int r;

	r = audit_event(ex->audit, "action.outcome", EXECUTOR_ACTOR, o,
	    o != NULL);
	if (r != 0) {
		log_error("outcome of action %s (%s) not recorded: %s; not "
		          "sent (looked for again at the next start)",
		    p->action_id, outcome_observed_name(p->observed),
		    err_str(r));
		return r;
	}
	if (wire_build_outcome(env->payload_b64, env->sig_b64, &frame, &len) !=
	    0) {
		log_error(
		    "outcome of action %s recorded but not queued: out of "
		    "memory (sent again after the next start)",
		    p->action_id);
		return 0;
	}
	executor_lock(ex);
	obox_add(ex, p->action_id, p->request_sha256, frame, len);
	ex->stats.outcomes++;
	executor_unlock(ex);
	if (ex->on_result != NULL)
		ex->on_result(ex->result_arg);
	return 0;
}

/* Signs and records what f became (logged when it cannot be). */
static void
conclude(struct executor *ex, const struct executor_followup *f,
    enum outcome_observed obs, const struct outcome_state *after,
    const char *detail)
{
	struct outcome_payload p;
	struct envelope env = { NULL, NULL, "" };
	char esc[EXECUTOR_LOG_ESC];
	int r;

	memset(&p, 0, sizeof(p));
	memcpy(p.action_id, f->action_id, sizeof(p.action_id));
	memcpy(p.host_id, ex->host_id, sizeof(p.host_id));
	memcpy(p.container_id, f->container_id, sizeof(p.container_id));
	memcpy(p.request_sha256, f->request_sha256, sizeof(p.request_sha256));
	p.action = f->action;
	p.observed = obs;
	(void)snprintf(p.detail, sizeof(p.detail), "%s", detail);
	p.has_before = f->has_before;
	p.before = f->before;
	p.has_after = after != NULL;
	if (after != NULL)
		p.after = *after;
	p.observed_at = executor_now_ms(ex);
	r = outcome_sign(&p, ex->result_key, &env);
	if (r != 0) {
		log_error("outcome of action %s not signed: %s", f->action_id,
		    err_str(r));
		return;
	}
	log_warn("outcome of UNKNOWN action %s (%s on %.12s): %s: %s",
	    f->action_id, envelope_action_name(f->action), f->container_id,
	    outcome_observed_name(obs),
	    text_escape_str(detail, esc, sizeof(esc)));
	(void)record_outcome(ex, &p, &env);
	envelope_free(&env);
}

/*
 * Asks dockerd about f once. Returns true when f is settled (recorded,
 * or dropped because it cannot be), false to ask again later; *f's
 * answered_ms may be updated.
 */
static bool
check_one(struct executor *ex, struct executor_followup *f, int64_t settle_ms)
{
	struct outcome_state after;
	enum outcome_observed obs;
	char detail[OUTCOME_DETAIL_BYTES + 1];
	struct err_msg m;
	int64_t now;
	int r;

	err_clear(&m);
	r = ex->ops.state(ex->ops_arg, f->container_id, &after, &m);
	now = executor_now_ms(ex);
	if (r == SIGNET_ERR_NOT_FOUND) {
		conclude(ex, f, OUTCOME_UNDETERMINED, NULL,
		    "the container no longer exists: its state cannot tell");
		return true;
	}
	if (r != 0) {
		if (now - f->since_ms < EXECUTOR_OUTCOME_GIVEUP_MS)
			return false;
		(void)snprintf(detail, sizeof(detail),
		    "dockerd did not answer for %lld s: %.400s",
		    (long long)(EXECUTOR_OUTCOME_GIVEUP_MS / 1000), m.text);
		conclude(ex, f, OUTCOME_UNDETERMINED, NULL, detail);
		return true;
	}
	obs = outcome_compare(f->action, f->has_before ? &f->before : NULL,
	    &after, detail, sizeof(detail));
	if (obs == OUTCOME_NOT_RUN) {
		/* dockerd may still be working through what it was asked. */
		if (f->answered_ms == 0)
			f->answered_ms = now;
		if (now - f->answered_ms < settle_ms)
			return false;
		(void)snprintf(detail + strlen(detail),
		    sizeof(detail) - strlen(detail),
		    " (unchanged for %lld ms after dockerd answered again)",
		    (long long)(now - f->answered_ms));
	}
	conclude(ex, f, obs, &after, detail);
	return true;
}

static int64_t
settle_ms_of(const struct executor *ex)
{
	return (int64_t)ex->stop_timeout * 1000 + 2 * ex->outcome_poll_ms;
}

void
executor_outcome_poll(struct executor *ex)
{
	struct executor_followup batch[EXECUTOR_FOLLOW_MAX];
	size_t n, i;

	executor_lock(ex);
	n = ex->nfollow;
	memcpy(batch, ex->follow, n * sizeof(batch[0]));
	executor_unlock(ex);
	for (i = 0; i < n; i++) {
		bool done = check_one(ex, &batch[i], settle_ms_of(ex));
		size_t k;

		executor_lock(ex);
		if (done) {
			followup_remove(ex, batch[i].action_id);
		} else {
			for (k = 0; k < ex->nfollow; k++) {
				if (strcmp(ex->follow[k].action_id,
				        batch[i].action_id) == 0)
					ex->follow[k].answered_ms =
					    batch[i].answered_ms;
			}
		}
		executor_unlock(ex);
	}
}

static void *
outcome_main(void *arg)
{
	struct executor *ex = arg;
	struct timespec ts;

	executor_lock(ex);
	while (!ex->ostop) {
		if (ex->nfollow == 0) {
			(void)pthread_cond_wait(&ex->ocv, &ex->mu);
			continue;
		}
		executor_unlock(ex);
		executor_outcome_poll(ex);
		executor_lock(ex);
		if (ex->ostop)
			break;
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ex->outcome_poll_ms / 1000;
		ts.tv_nsec += (long)(ex->outcome_poll_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!ex->ostop &&
		    pthread_cond_timedwait(&ex->ocv, &ex->mu, &ts) == 0)
			;
	}
	executor_unlock(ex);
	return NULL;
}

int
executor_outcome_start(struct executor *ex)
{
	int r = 0;

	executor_lock(ex);
	if (!ex->ostarted) {
		ex->ostop = false;
		if (pthread_create(&ex->othread, NULL, outcome_main, ex) != 0)
			r = SIGNET_ERR_INTERNAL;
		else
			ex->ostarted = true;
	}
	executor_unlock(ex);
	if (r != 0)
		log_error("the outcome thread cannot start");
	return r;
}

void
executor_outcome_stop(struct executor *ex)
{
	bool started;

	executor_lock(ex);
	started = ex->ostarted;
	ex->ostop = true;
	if (ex->ocv_ok)
		(void)pthread_cond_broadcast(&ex->ocv);
	executor_unlock(ex);
	if (!started)
		return;
	(void)pthread_join(ex->othread, NULL);
	executor_lock(ex);
	ex->ostarted = false;
	executor_unlock(ex);
}
