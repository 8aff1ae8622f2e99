/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for executor_queue.c, in the test world of executor_world.h:
 * the worker threads, frames that come when no worker can take them, the
 * count of refused frames, and the order of the work: two actions on one
 * container run one after the other, in the order they came, while an
 * action on another container runs beside them. Then the audit log the
 * workers wrote verifies.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "envelope.h"
#include "executor.h"
#include "executor_world.h"
#include "testlib.h"

static unsigned wakeups;

static void
count_wakeup(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&wakeups, 1, __ATOMIC_SEQ_CST);
}

/* The worker thread, and frames that come when it cannot take them. */
static void
test_worker(struct world *w)
{
	struct executor_stats st;
	struct envelope_action_payload a;
	unsigned acts = w->fake.acts, i;
	char *f;

	executor_free(w->ex);
	w->ex = NULL;
	CHECK(open_executor_with(w, 1, count_wakeup) == 0);
	if (w->ex == NULL)
		return;
	/* Not started: answered at once as "agent stopping". */
	base_action(&a, 2000);
	f = signed_frame(w, &a);
	CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
	free(f);
	executor_get_stats(w->ex, &st);
	CHECK(w->fake.acts == acts && st.rejected == 1);
	CHECK(executor_start(w->ex) == 0);
	for (i = 0; i < 5; i++) {
		base_action(&a, 2001 + i);
		a.action = ENVELOPE_ACTION_STOP;
		f = signed_frame(w, &a);
		CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
		free(f);
	}
	for (i = 0; i < 500; i++) {
		executor_get_stats(w->ex, &st);
		if (st.succeeded == 5)
			break;
		(void)usleep(10000);
	}
	CHECK(st.succeeded == 5 && w->fake.acts - acts == 5);
	/* Frames queued when the worker stops are answered, not run. */
	base_action(&a, 2100);
	f = signed_frame(w, &a);
	executor_stop(w->ex);
	CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
	free(f);
	executor_get_stats(w->ex, &st);
	CHECK(st.succeeded == 5 && st.rejected == 2);
	CHECK(w->fake.acts - acts == 5);
	CHECK(__atomic_load_n(&wakeups, __ATOMIC_SEQ_CST) >= 7);
	/* Refused frames are counted; the audit records are bounded. */
	for (i = 0; i < AUDIT_LIMIT_BURST_DEFAULT + 5; i++)
		executor_frame_refused(w->ex, "binary message", NULL, 0, 10);
	executor_get_stats(w->ex, &st);
	CHECK(st.refused_frames == AUDIT_LIMIT_BURST_DEFAULT + 5);
}

/*
 * A frame once answered REJECTED "agent stopping" or "agent busy" never
 * runs later: the identical frame sent again is a replay, answered with
 * the first result again, and dockerd is not called.
 */
static void
test_answered_never_runs(struct world *w)
{
	struct executor_stats st, st0;
	struct envelope_action_payload a;
	unsigned acts, i;
	char *stopped = NULL, *busy = NULL, *f;
	bool delivered = false;

	executor_free(w->ex);
	w->ex = NULL;
	CHECK(open_executor_with(w, 1, NULL) == 0);
	if (w->ex == NULL)
		return;
	acts = w->fake.acts;
	/* Not started: "agent stopping". */
	base_action(&a, 4000);
	stopped = signed_frame(w, &a);
	CHECK(executor_submit(w->ex, stopped, strlen(stopped), NULL) == 0);
	CHECK(executor_start(w->ex) == 0);
	/*
	 * One action holds C_WEB (dockerd is slow); EXECUTOR_QUEUE_MAX more
	 * on it fill the queue.
	 */
	w->fake.delay_us = 1000000;
	base_action(&a, 4100);
	a.action = ENVELOPE_ACTION_STOP;
	f = signed_frame(w, &a);
	CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
	free(f);
	for (i = 0; i < 500 &&
	     __atomic_load_n(&w->fake.acts, __ATOMIC_SEQ_CST) == acts;
	     i++)
		(void)usleep(2000);
	for (i = 1; i <= EXECUTOR_QUEUE_MAX; i++) {
		base_action(&a, 4100 + i);
		a.action = ENVELOPE_ACTION_STOP;
		f = signed_frame(w, &a);
		CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
		free(f);
	}
	executor_get_stats(w->ex, &st0);
	base_action(&a, 4001);
	busy = signed_frame(w, &a);
	CHECK(executor_submit(w->ex, busy, strlen(busy), NULL) == 0);
	executor_get_stats(w->ex, &st);
	CHECKF(st.busy == st0.busy + 1, "busy %llu, wanted %llu",
	    (unsigned long long)st.busy, (unsigned long long)st0.busy + 1);
	w->fake.delay_us = 0;
	for (i = 0; i < 1000; i++) {
		executor_get_stats(w->ex, &st);
		if (st.succeeded >= EXECUTOR_QUEUE_MAX + 1)
			break;
		(void)usleep(10000);
	}
	CHECK(st.succeeded >= EXECUTOR_QUEUE_MAX + 1);
	/* Both sent again once the agent can take them: neither runs. */
	executor_get_stats(w->ex, &st0);
	CHECK(executor_submit(w->ex, stopped, strlen(stopped), NULL) == 0);
	CHECK(executor_submit(w->ex, busy, strlen(busy), NULL) == 0);
	for (i = 0; i < 1000; i++) {
		executor_get_stats(w->ex, &st);
		if (st.succeeded + st.rejected + st.redelivered ==
		    st0.succeeded + st0.rejected + st0.redelivered + 2)
			break;
		(void)usleep(10000);
	}
	executor_stop(w->ex);
	executor_get_stats(w->ex, &st);
	CHECKF(w->fake.acts - acts == EXECUTOR_QUEUE_MAX + 1,
	    "a frame answered REJECTED ran later: dockerd called %u times, "
	    "wanted %d",
	    w->fake.acts - acts, EXECUTOR_QUEUE_MAX + 1);
	CHECK(st.succeeded == EXECUTOR_QUEUE_MAX + 1);
	/* The first answer went again, not a new one. */
	base_action(&a, 4001);
	f = NULL;
	CHECK(executor_outbox_find(w->ex, a.action_id, &f, &delivered) == 1);
	CHECK(f != NULL && strstr(f, "action_result") != NULL);
	free(f);
	free(stopped);
	free(busy);
}

static void
submit_parsed(struct world *w, const char *f)
{
	struct wire_frame parsed;

	CHECK(wire_parse_server_frame(f, strlen(f), &parsed, NULL) == 0);
	CHECK(executor_submit(w->ex, f, strlen(f), &parsed) == 0);
	CHECK(parsed.type == WIRE_NONE && parsed.payload_b64 == NULL);
}

/*
 * The workers: two actions on one container run one after the other, in
 * the order they came; an action on another container runs beside them.
 */
static void
test_workers_order(struct world *w)
{
	struct executor_stats st, st0;
	struct envelope_action_payload a;
	const struct act_span *first = NULL, *second = NULL, *other = NULL;
	size_t i;
	char *f;

	CHECK(executor_start(w->ex) == 0);
	executor_get_stats(w->ex, &st0);
	(void)pthread_mutex_lock(&w->fake.mu);
	w->fake.nspans = 0;
	(void)pthread_mutex_unlock(&w->fake.mu);
	w->fake.delay_us = 400000;
	/* These two come parsed already, as from the daemon. */
	base_action(&a, 3001);
	a.action = ENVELOPE_ACTION_STOP;
	f = signed_frame(w, &a);
	submit_parsed(w, f);
	free(f);
	base_action(&a, 3002);
	a.action = ENVELOPE_ACTION_START;
	f = signed_frame(w, &a);
	submit_parsed(w, f);
	free(f);
	base_action(&a, 3003);
	memcpy(a.container_id, C_WEB2, 65);
	a.action = ENVELOPE_ACTION_STOP;
	f = signed_frame(w, &a);
	CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
	free(f);
	for (i = 0; i < 500; i++) {
		executor_get_stats(w->ex, &st);
		if (st.succeeded - st0.succeeded == 3)
			break;
		(void)usleep(10000);
	}
	CHECK(st.succeeded - st0.succeeded == 3);
	executor_stop(w->ex);
	w->fake.delay_us = 0;
	(void)pthread_mutex_lock(&w->fake.mu);
	for (i = 0; i < w->fake.nspans; i++) {
		const struct act_span *sp = &w->fake.spans[i];

		if (strcmp(sp->id, C_WEB2) == 0)
			other = sp;
		else if (sp->action == ENVELOPE_ACTION_STOP)
			first = sp;
		else
			second = sp;
	}
	CHECK(w->fake.nspans == 3);
	CHECK(first != NULL && second != NULL && other != NULL);
	if (first != NULL && second != NULL && other != NULL) {
		CHECKF(second->start_us >= first->end_us,
		    "one container: "
		    "START began %lld us before STOP ended",
		    (long long)(first->end_us - second->start_us));
		CHECKF(other->start_us < first->end_us,
		    "another container "
		    "waited for the first one (began %lld us after it ended)",
		    (long long)(other->start_us - first->end_us));
	}
	(void)pthread_mutex_unlock(&w->fake.mu);
}

/*
 * At-least-once delivery, at-most-once execution: the same frame while a
 * worker runs it gets nothing (its result follows); a different payload
 * under that id is REJECTED "replay"; the same frame once it ran gets the
 * same result again; dockerd is asked once.
 */
/* action.redelivered records with answer in w's log. */
static int
count_answers(struct world *w, const char *answer)
{
	char line[8192], want[64];
	FILE *fp = fopen(w->log, "r");
	int n = 0;

	if (fp == NULL)
		return -1;
	(void)snprintf(want, sizeof(want), "\"answer\":\"%s\"", answer);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, "\"action.redelivered\"") != NULL &&
		    strstr(line, want) != NULL)
			n++;
	(void)fclose(fp);
	return n;
}

static void
test_redelivered_while_running(struct world *w)
{
	struct envelope_action_payload a;
	struct executor_outcome out;
	struct executor_stats st;
	unsigned acts, i;
	char *f = NULL, *other = NULL;
	int running0, resent0;

	executor_free(w->ex);
	w->ex = NULL;
	CHECK(open_executor_with(w, 1, NULL) == 0);
	if (w->ex == NULL)
		return;
	CHECK(executor_start(w->ex) == 0);
	running0 = count_answers(w, "running");
	resent0 = count_answers(w, "resent");
	acts = w->fake.acts;
	w->fake.delay_us = 500000;
	base_action(&a, 5000);
	f = signed_frame(w, &a);
	CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
	for (i = 0; i < 500 &&
	     __atomic_load_n(&w->fake.acts, __ATOMIC_SEQ_CST) == acts;
	     i++)
		(void)usleep(2000);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	CHECKF(out.redelivered == EXECUTOR_REDELIVERY_RUNNING &&
	        !out.has_result,
	    "redelivered %d has_result %d", (int)out.redelivered,
	    (int)out.has_result);
	base_action(&a, 5000);
	a.action = ENVELOPE_ACTION_STOP;
	other = signed_frame(w, &a);
	CHECK(executor_handle_frame(w->ex, other, strlen(other), &out) == 0);
	CHECK(out.redelivered == EXECUTOR_REDELIVERY_NONE &&
	    out.status == ENVELOPE_STATUS_REJECTED);
	CHECK_CONTAINS(out.error, "replay: action_id");
	/*
	 * The same frame queued behind the run (same container): its turn
	 * comes after the result was made, which went out by itself; the
	 * copy adds nothing ("running").
	 */
	CHECK(executor_submit(w->ex, f, strlen(f), NULL) == 0);
	w->fake.delay_us = 0;
	executor_stop(w->ex);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	CHECK(out.redelivered == EXECUTOR_REDELIVERY_RESENT && out.resent);
	CHECKF(w->fake.acts == acts + 1, "dockerd asked %u times",
	    w->fake.acts - acts);
	executor_get_stats(w->ex, &st);
	CHECKF(st.redelivered == 3, "redelivered %llu",
	    (unsigned long long)st.redelivered);
	CHECKF(count_answers(w, "running") == running0 + 2 &&
	        count_answers(w, "resent") == resent0 + 1,
	    "running %d resent %d", count_answers(w, "running") - running0,
	    count_answers(w, "resent") - resent0);
	free(other);
	free(f);
}

int
main(void)
{
	struct world w;

	world_begin(&w);
	if (w.ex != NULL) {
		test_worker(&w);
		test_workers_order(&w);
		test_answered_never_runs(&w);
		verify_log(&w, 9, 9);
		test_redelivered_while_running(&w);
	}
	teardown(&w);
	return test_finish("test_executor_queue");
}
