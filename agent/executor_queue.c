/* SPDX-License-Identifier: ISC */
/*
 * The executor's workers: EXECUTOR_WORKERS threads that take action
 * frames from a bounded queue (executor_submit, on the channel's thread)
 * and run the pipeline on them. Actions on one container run one at a
 * time, in the order they arrived; actions on different containers run
 * side by side. A frame that finds the queue full, or the workers
 * stopping, is answered at once and not run.
 */
#include "executor.h"
#include "executor_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "log.h"
#include "text.h"
#include "wire.h"

static void
run_job(struct executor *ex, struct executor_job *job, enum executor_mode mode)
{
	struct executor_outcome out;

	if (executor_pipeline(ex, job->data, job->len, &job->frame, mode,
	        job->outbox_seq, &out) != 0)
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
	uint8_t *raw = NULL;
	size_t raw_len = 0;

	key[0] = '\0';
	/* Base64 decodes to fewer bytes than it has: its length bounds it. */
	if (payload_b64 == NULL ||
	    text_b64_decode(payload_b64, strlen(payload_b64),
	        strlen(payload_b64), &raw, &raw_len) != 0)
		goto out;
	payload = cJSON_ParseWithLength((const char *)raw, raw_len);
	c = cJSON_GetObjectItemCaseSensitive(payload, "container_id");
	if (!cJSON_IsString(c) || !text_is_hex(c->valuestring, 64))
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
	struct executor_worker *me = arg;
	struct executor *ex = me->ex;
	struct executor_job job;
	enum executor_mode mode;
	ssize_t i;

	executor_lock(ex);
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
		mode = ex->stop ? EXECUTOR_MODE_STOPPING : EXECUTOR_MODE_RUN;
		memcpy(me->container, job.container, sizeof(me->container));
		executor_unlock(ex);
		run_job(ex, &job, mode);
		executor_lock(ex);
		me->container[0] = '\0';
		/* A job held back for this container may go now. */
		for (i = 0; job.container[0] != '\0' && (size_t)i < ex->qlen;
		     i++) {
			if (strcmp(ex->queue[i].container, job.container) ==
			    0) {
				(void)pthread_cond_broadcast(&ex->cv);
				break;
			}
		}
	}
	executor_unlock(ex);
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

	executor_lock(ex);
	if (ex->thread_started) {
		executor_unlock(ex);
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
		executor_unlock(ex);
		return executor_outcome_start(ex);
	}
	/* All or none: the ones that started are stopped again. */
	(void)stop_workers_locked(ex);
	executor_unlock(ex);
	join_workers(ex);
	return r;
}

int
executor_submit(struct executor *ex, const char *data, size_t len,
    struct wire_frame *parsed)
{
	struct executor_job job;
	enum executor_mode mode = EXECUTOR_MODE_RUN;
	char *peek_payload = NULL, *peek_key_id = NULL;

	memset(&job, 0, sizeof(job));
	if (len > EXECUTOR_FRAME_MAX) {
		char why[96];

		wire_frame_free(parsed);
		(void)snprintf(why, sizeof(why),
		    "action frame of %zu bytes is over the %d allowed", len,
		    EXECUTOR_FRAME_MAX);
		executor_frame_refused(ex, why, NULL, 0, len);
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
		if (wire_peek_action(data, len, &peek_payload, &peek_key_id) ==
		    0)
			peek_container(peek_payload, job.container);
		free(peek_payload);
		free(peek_key_id);
	}
	executor_lock(ex);
	job.outbox_seq = ex->next_seq;
	if (!ex->thread_started || ex->stop) {
		mode = EXECUTOR_MODE_STOPPING;
	} else if (ex->qlen == EXECUTOR_QUEUE_MAX) {
		mode = EXECUTOR_MODE_BUSY;
		ex->stats.busy++;
	} else {
		ex->queue[ex->qlen++] = job;
		memset(&job, 0, sizeof(job));
		(void)pthread_cond_signal(&ex->cv);
	}
	executor_unlock(ex);
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
	executor_outcome_stop(ex);
	executor_lock(ex);
	started = stop_workers_locked(ex);
	executor_unlock(ex);
	if (!started)
		return;
	join_workers(ex);
	executor_lock(ex);
	ex->thread_started = false;
	executor_unlock(ex);
}
