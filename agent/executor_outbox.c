/* SPDX-License-Identifier: ISC */
/*
 * The executor's outbox: signed results kept, in the order they were
 * made, until the server acknowledges them (result_ack), however long
 * that takes; handed to the channel once per connection until then
 * (executor.h), and put back in at start from the audit log
 * (executor_recover.c). Acknowledged results stay EXECUTOR_OUTBOX_KEEP_MS
 * more, for replays of their actions. At most EXECUTOR_OUTBOX_MAX: a full
 * outbox forgets its oldest acknowledged result, or, when none is,
 * its oldest unacknowledged one, which is then audited
 * (action.result_undelivered): never a silent drop. Everything here is
 * under the executor's lock but that record.
 */
#include "executor.h"
#include "executor_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "log.h"

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
 * Forgets acknowledged results older than EXECUTOR_OUTBOX_KEEP_MS. Entries
 * are in the order they were made, so those are at the front: stop at the
 * first that is not one (an unacknowledged result is kept until its
 * acknowledgement, and holds back the acknowledged ones behind it; a full
 * outbox drops those first). Called for every result; scanning all
 * EXECUTOR_OUTBOX_MAX entries each time was a sixth of the channel
 * thread's time under load.
 */
static void
outbox_prune(struct executor *ex, int64_t now)
{
	size_t k = 0;

	while (k < ex->nout && ex->outbox[k].delivered &&
	    ex->outbox[k].created_ms < now - EXECUTOR_OUTBOX_KEEP_MS) {
		free(ex->outbox[k].frame);
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
		struct executor_outbox_entry *e = &ex->outbox[i - 1];

		if (strcmp(e->action_id, action_id) == 0 &&
		    (sha == NULL || strcmp(e->request_sha256, sha) == 0))
			return (ssize_t)(i - 1);
	}
	return -1;
}

/*
 * Adds a result (frame owned from here on). When a full outbox had to
 * forget an unacknowledged result, *lost holds it (its frame NULL) for
 * outbox_audit_lost, to be called once the lock is released.
 */
static void
outbox_add(struct executor *ex, const char *action_id, const char *sha,
    char *frame, size_t len, int64_t created_ms, int64_t now,
    struct executor_outbox_entry *lost)
{
	struct executor_outbox_entry *e;
	size_t i;

	memset(lost, 0, sizeof(*lost));
	outbox_prune(ex, now);
	if (ex->nout == EXECUTOR_OUTBOX_MAX) {
		for (i = 0; i < ex->nout && !ex->outbox[i].delivered; i++)
			;
		if (i == ex->nout) {
			i = 0;
			*lost = ex->outbox[0];
			lost->frame = NULL;
			ex->stats.results_undelivered++;
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

/*
 * Records a result a full outbox forgot unacknowledged (outbox_add's
 * *lost; nothing when its action_id is empty): the server may never have
 * it, so the agent's log says so. Not under the lock (an fdatasync).
 */
static void
outbox_audit_lost(struct executor *ex, const struct executor_outbox_entry *lost)
{
	cJSON *o;
	bool ok;

	if (lost->action_id[0] == '\0')
		return;
	log_warn("outbox full (%d results unacknowledged): the result of "
	         "action %s is no longer re-sent (it stays in the audit log; "
	         "recorded as action.result_undelivered)",
	    EXECUTOR_OUTBOX_MAX, lost->action_id);
	o = cJSON_CreateObject();
	ok = o != NULL &&
	    cJSON_AddStringToObject(o, "host_id", ex->host_id) != NULL &&
	    cJSON_AddStringToObject(o, "action_id", lost->action_id) != NULL &&
	    cJSON_AddStringToObject(o, "request_sha256",
	        lost->request_sha256) != NULL &&
	    cJSON_AddNumberToObject(o, "made_at", (double)lost->created_ms) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "reason", "outbox full") != NULL &&
	    cJSON_AddNumberToObject(o, "outbox_max", EXECUTOR_OUTBOX_MAX) !=
	        NULL;
	(void)audit_event(ex->audit, "action.result_undelivered",
	    EXECUTOR_ACTOR, o, ok);
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
	int64_t now = executor_now_ms(ex);
	size_t i;
	int r = 0;

	*frame = NULL;
	*len = 0;
	*seq = 0;
	executor_lock(ex);
	outbox_prune(ex, now);
	if (ex->take_epoch != epoch) {
		ex->take_epoch = epoch;
		ex->take_from = 0;
	}
	for (i = ex->take_from; i < ex->nout; i++) {
		struct executor_outbox_entry *e = &ex->outbox[i];

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
	executor_unlock(ex);
	return r;
}

void
executor_outbox_untake(struct executor *ex, uint64_t seq)
{
	size_t i;

	executor_lock(ex);
	for (i = 0; i < ex->nout; i++) {
		if (ex->outbox[i].seq == seq)
			ex->outbox[i].queued_epoch = 0;
	}
	ex->take_from = 0;
	executor_unlock(ex);
}

void
executor_outbox_acked(struct executor *ex, const char *action_id,
    const char *request_sha256)
{
	size_t i;

	/* Every copy: a replay may have put the same result in twice. */
	executor_lock(ex);
	for (i = 0; i < ex->nout; i++) {
		struct executor_outbox_entry *e = &ex->outbox[i];

		if (e->delivered || strcmp(e->action_id, action_id) != 0 ||
		    strcmp(e->request_sha256, request_sha256) != 0)
			continue;
		e->delivered = true;
		ex->stats.results_acked++;
		log_debug("result of action %s acknowledged", action_id);
	}
	executor_unlock(ex);
}

int
executor_outbox_find(struct executor *ex, const char *action_id, char **frame,
    bool *delivered)
{
	ssize_t i;
	int r = 0;

	*frame = NULL;
	*delivered = false;
	executor_lock(ex);
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
	executor_unlock(ex);
	return r;
}

void
executor_get_stats(struct executor *ex, struct executor_stats *st)
{
	executor_lock(ex);
	*st = ex->stats;
	count_outbox(ex, st);
	/* For the agent's metrics: the queue and the workers now. */
	st->queued = ex->qlen;
	st->running = 0;
	for (size_t i = 0; i < EXECUTOR_WORKERS; i++)
		if (ex->workers[i].container[0] != '\0')
			st->running++;
	executor_outcome_count(ex, st);
	executor_unlock(ex);
}

static void
notify_result(struct executor *ex)
{
	if (ex->on_result != NULL)
		ex->on_result(ex->result_arg);
}

void
executor_outbox_deliver(struct executor *ex, struct executor_act *act,
    char *frame, size_t flen)
{
	struct executor_outbox_entry lost;
	int64_t now = executor_now_ms(ex);

	executor_lock(ex);
	outbox_add(ex, act->a.action_id, act->sha, frame, flen, now, now,
	    &lost);
	executor_unlock(ex);
	outbox_audit_lost(ex, &lost);
	act->out->has_result = true;
	notify_result(ex);
}

bool
executor_outbox_resend(struct executor *ex, struct executor_act *act)
{
	ssize_t i;

	if (act->a.action_id[0] == '\0' || !act->have_sha)
		return false;
	executor_lock(ex);
	i = outbox_find_id(ex, act->a.action_id, act->sha);
	if (i >= 0) {
		ex->outbox[i].delivered = false;
		ex->outbox[i].queued_epoch = 0;
		ex->take_from = 0;
	}
	executor_unlock(ex);
	if (i < 0)
		return false;
	act->out->has_result = true;
	act->out->resent = true;
	notify_result(ex);
	return true;
}

void
executor_outbox_reload(struct executor *ex, const char *action_id,
    const char *request_sha256, char *frame, size_t len, int64_t created_ms)
{
	struct executor_outbox_entry lost;
	ssize_t i;

	executor_lock(ex);
	i = outbox_find_id(ex, action_id, request_sha256);
	if (i >= 0)
		outbox_drop(ex, (size_t)i);
	outbox_add(ex, action_id, request_sha256, frame, len, created_ms,
	    executor_now_ms(ex), &lost);
	ex->stats.results_reloaded++;
	executor_unlock(ex);
	outbox_audit_lost(ex, &lost);
}

void
executor_inflight_put(struct executor *ex, struct executor_act *act)
{
	size_t i;

	for (i = 0; i < EXECUTOR_WORKERS && !act->inflight; i++) {
		if (ex->inflight[i][0] != '\0')
			continue;
		memcpy(ex->inflight[i], act->a.action_id,
		    sizeof(ex->inflight[i]));
		act->inflight = true;
	}
}

void
executor_inflight_drop(struct executor *ex, struct executor_act *act)
{
	size_t i;

	if (!act->inflight)
		return;
	executor_lock(ex);
	for (i = 0; i < EXECUTOR_WORKERS; i++) {
		if (strcmp(ex->inflight[i], act->a.action_id) == 0) {
			ex->inflight[i][0] = '\0';
			break;
		}
	}
	executor_unlock(ex);
	act->inflight = false;
}

static const char *
redelivery_name(enum executor_redelivery a)
{
	switch (a) {
	case EXECUTOR_REDELIVERY_RESENT: return "resent";
	case EXECUTOR_REDELIVERY_RUNNING: return "running";
	case EXECUTOR_REDELIVERY_REPLAY: return "replay";
	default: return "none";
	}
}

enum executor_redelivery
executor_redelivery(struct executor *ex, struct executor_act *act)
{
	enum executor_redelivery a = EXECUTOR_REDELIVERY_REPLAY;
	ssize_t k;
	size_t i;
	cJSON *o;
	bool ok;

	if (!act->have_sha || act->a.action_id[0] == '\0')
		return EXECUTOR_REDELIVERY_NONE;
	executor_lock(ex);
	k = outbox_find_id(ex, act->a.action_id, act->sha);
	if (!replay_seen_same(ex->seen, act->a.action_id, act->sha)) {
		a = EXECUTOR_REDELIVERY_NONE;
	} else if (k >= 0 && ex->outbox[k].seq > act->arrived_seq) {
		/* Made while this copy waited: it went (or goes) out. */
		a = EXECUTOR_REDELIVERY_RUNNING;
	} else if (k >= 0) {
		ex->outbox[k].delivered = false;
		ex->outbox[k].queued_epoch = 0;
		ex->take_from = 0;
		a = EXECUTOR_REDELIVERY_RESENT;
	} else {
		for (i = 0; i < EXECUTOR_WORKERS; i++)
			if (strcmp(ex->inflight[i], act->a.action_id) == 0)
				a = EXECUTOR_REDELIVERY_RUNNING;
	}
	if (a != EXECUTOR_REDELIVERY_NONE)
		ex->stats.redelivered++;
	executor_unlock(ex);
	act->out->redelivered = a;
	if (a == EXECUTOR_REDELIVERY_NONE)
		return a;
	if (a == EXECUTOR_REDELIVERY_RESENT) {
		act->out->has_result = true;
		act->out->resent = true;
		notify_result(ex);
	}
	log_info("action redelivered: action_id=%s request_sha256=%s "
	         "answer=%s (run at most once)",
	    act->a.action_id, act->sha, redelivery_name(a));
	o = cJSON_CreateObject();
	ok = o != NULL &&
	    cJSON_AddStringToObject(o, "host_id", ex->host_id) != NULL &&
	    cJSON_AddStringToObject(o, "action_id", act->a.action_id) != NULL &&
	    cJSON_AddStringToObject(o, "request_sha256", act->sha) != NULL &&
	    cJSON_AddStringToObject(o, "answer", redelivery_name(a)) != NULL;
	(void)audit_event(ex->audit, "action.redelivered", EXECUTOR_ACTOR, o,
	    ok);
	return a;
}
