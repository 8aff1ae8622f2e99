/* SPDX-License-Identifier: ISC */
/*
 * The executor's outbox: signed results kept, in the order they were
 * made, until the server acknowledges them (result_ack) or
 * EXECUTOR_OUTBOX_KEEP_MS passes; handed to the channel once per
 * connection until then (executor.h), and put back in at start from the
 * audit log (executor_recover.c). Everything here is under the
 * executor's lock.
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
		struct executor_outbox_entry *e = &ex->outbox[k];

		if (!e->delivered)
			log_warn(
			    "result of action %s not acknowledged by the "
			    "server within %lld s; no longer re-sent (it stays "
			    "in the audit log)",
			    e->action_id, EXECUTOR_OUTBOX_KEEP_MS / 1000);
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
		struct executor_outbox_entry *e = &ex->outbox[i - 1];

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
	struct executor_outbox_entry *e;
	size_t i;

	outbox_prune(ex, now);
	if (ex->nout == EXECUTOR_OUTBOX_MAX) {
		for (i = 0; i < ex->nout && !ex->outbox[i].delivered; i++)
			;
		if (i == ex->nout) {
			i = 0;
			log_warn(
			    "outbox full (%d results): the result of "
			    "action %s is dropped unacknowledged (it stays in "
			    "the audit log)",
			    EXECUTOR_OUTBOX_MAX, ex->outbox[0].action_id);
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
	int64_t now = executor_now_ms(ex);

	executor_lock(ex);
	outbox_add(ex, act->a.action_id, act->sha, frame, flen, now, now);
	executor_unlock(ex);
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
	ssize_t i;

	executor_lock(ex);
	i = outbox_find_id(ex, action_id, request_sha256);
	if (i >= 0)
		outbox_drop(ex, (size_t)i);
	outbox_add(ex, action_id, request_sha256, frame, len, created_ms,
	    executor_now_ms(ex));
	ex->stats.results_reloaded++;
	executor_unlock(ex);
}
