/* SPDX-License-Identifier: ISC */
/*
 * The agent's inventory: a worker thread lists dockerd's containers and
 * hands the inventory frame to the channel, at most one per
 * DAEMON_SNAPSHOT_GAP_MS, within about a second of a docker event that
 * can change it, at least every DAEMON_SNAPSHOT_PERIOD_MS, after every
 * new connection, and again with backoff while dockerd fails; the docker
 * event stream (its own thread, docker.h) asks for those snapshots.
 */
#include "daemon.h"
#include "daemon_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "text.h"
#include "wire.h"

void
daemon_snapshot_request(struct daemon *d, unsigned want, bool refresh_version)
{
	if (pthread_mutex_lock(&d->mu) != 0)
		return;
	d->dirty = true;
	d->want |= want;
	if (refresh_version)
		d->refresh_version = true;
	(void)pthread_cond_signal(&d->cv);
	(void)pthread_mutex_unlock(&d->mu);
}

/*
 * Lists the containers and hands the frame to the channel. Returns 0, or
 * the failure of dockerd's list (logged), which the caller retries.
 */
static int
take_snapshot(struct daemon *d, unsigned want)
{
	struct inventory *inv = NULL;
	struct channel_frame *frame = NULL, *old = NULL;
	struct err_msg m;
	char *text = NULL;
	size_t len = 0, rows;
	bool same = false, send;
	uint64_t epoch = 0, sent_epoch = 0;
	int64_t t0 = clock_mono_ms();
	int r;

	err_clear(&m);
	r = docker_list(d->dc, &inv, &m);
	if (r != 0) {
		log_warn("container list failed: %s", m.text);
		goto out;
	}
	rows = inv->count;
	r = wire_build_inventory(inv, &text, &len);
	inventory_free(inv);
	inv = NULL;
	if (r != 0) {
		log_error("inventory frame: %s", err_str(r));
		goto out;
	}
	if (len > CHANNEL_TX_MAX) {
		/* Retrying cannot help; the next event or period may. */
		log_error("inventory of %zu containers is %zu bytes, over the "
		          "server's limit of %d: not sent",
		    rows, len, CHANNEL_TX_MAX);
		free(text);
		r = 0;
		goto out;
	}
	r = channel_frame_take(text, len, &frame);
	text = NULL;
	if (r != 0) {
		log_error("inventory frame: %s", err_str(r));
		goto out;
	}
	if (pthread_mutex_lock(&d->mu) == 0) {
		old = d->latest;
		same = old != NULL && channel_frame_len(old) == len &&
		    memcmp(channel_frame_data(old), channel_frame_data(frame),
		        len) == 0;
		d->latest = channel_frame_ref(frame);
		epoch = d->epoch;
		sent_epoch = d->sent_epoch;
		(void)pthread_mutex_unlock(&d->mu);
	}
	channel_frame_unref(old);
	send = !same || (want & DAEMON_WANT_PERIODIC) != 0 ||
	    ((want & DAEMON_WANT_CONNECT) != 0 && sent_epoch != epoch);
	if (!send) {
		log_debug("inventory unchanged (%zu containers); not sent",
		    rows);
	} else if (channel_set_snapshot(d->ch, frame)) {
		log_debug("inventory queued: containers=%zu bytes=%zu "
		          "list_ms=%lld",
		    rows, len, (long long)(clock_mono_ms() - t0));
		if (pthread_mutex_lock(&d->mu) == 0) {
			d->sent_epoch = epoch;
			(void)pthread_mutex_unlock(&d->mu);
		}
	}
	r = 0;
out:
	channel_frame_unref(frame);
	inventory_free(inv);
	return r;
}

static void
refresh_version(struct daemon *d)
{
	char version[DOCKER_VERSION_MAX + 1];
	struct err_msg m;

	err_clear(&m);
	if (docker_version(d->dc, version, &m) != 0) {
		log_warn("dockerd version: %s", m.text);
		return;
	}
	if (pthread_mutex_lock(&d->mu) != 0)
		return;
	if (strcmp(version, d->docker_version) != 0)
		log_info("dockerd version %s", version);
	memcpy(d->docker_version, version, sizeof(version));
	(void)pthread_mutex_unlock(&d->mu);
}

static void
deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
	int64_t now = clock_mono_ms(), wait = deadline_ms - now;

	if (wait < 0)
		wait = 0;
	if (clock_gettime(CLOCK_MONOTONIC, ts) != 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = 0;
	}
	ts->tv_sec += (time_t)(wait / 1000);
	ts->tv_nsec += (long)(wait % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
worker_main(void *arg)
{
	struct daemon *d = arg;
	struct timespec ts;
	int64_t now, retry = DAEMON_LIST_RETRY_FIRST_MS, deadline;
	unsigned want;
	int r;

	if (pthread_mutex_lock(&d->mu) != 0)
		return NULL;
	while (!d->stop) {
		now = clock_mono_ms();
		if (d->refresh_version) {
			d->refresh_version = false;
			(void)pthread_mutex_unlock(&d->mu);
			refresh_version(d);
			if (pthread_mutex_lock(&d->mu) != 0)
				return NULL;
			continue;
		}
		if (now >= d->next_periodic_ms) {
			d->dirty = true;
			d->want |= DAEMON_WANT_PERIODIC;
		}
		if (d->dirty && now >= d->next_allowed_ms) {
			want = d->want;
			d->dirty = false;
			d->want = 0;
			d->next_allowed_ms = now + DAEMON_SNAPSHOT_GAP_MS;
			d->next_periodic_ms = now + DAEMON_SNAPSHOT_PERIOD_MS;
			(void)pthread_mutex_unlock(&d->mu);
			r = take_snapshot(d, want);
			if (pthread_mutex_lock(&d->mu) != 0)
				return NULL;
			if (r == 0) {
				retry = DAEMON_LIST_RETRY_FIRST_MS;
			} else {
				/* dockerd failed: try again, backing off. */
				d->dirty = true;
				d->want |= want;
				d->next_allowed_ms = clock_mono_ms() + retry;
				retry = retry >= DAEMON_LIST_RETRY_MAX_MS / 2 ?
				    DAEMON_LIST_RETRY_MAX_MS :
				    retry * 2;
			}
			continue;
		}
		deadline = d->dirty ? d->next_allowed_ms : d->next_periodic_ms;
		deadline_ts(deadline, &ts);
		(void)pthread_cond_timedwait(&d->cv, &d->mu, &ts);
	}
	(void)pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- docker events (the stream's thread) ---- */

/* Events that cannot change what the inventory shows. */
static bool
event_changes_inventory(const char *action)
{
	static const char *const quiet[] = { "attach", "detach", "resize",
		"top", "archive-path", "extract-to-dir", "export", "copy",
		"commit", NULL };
	size_t i;

	if (strncmp(action, "exec_", 5) == 0)
		return false;
	for (i = 0; quiet[i] != NULL; i++) {
		if (strcmp(action, quiet[i]) == 0)
			return false;
	}
	return true;
}

static void
on_docker_event(void *arg, const struct docker_event *ev)
{
	struct daemon *d = arg;
	char name[INVENTORY_NAME_MAX * 4 + 1];

	log_debug("docker event: action=%s id=%.12s name=\"%s\"", ev->action,
	    ev->id, text_escape_str(ev->name, name, sizeof(name)));
	if (event_changes_inventory(ev->action))
		daemon_snapshot_request(d, 0, false);
}

static void
on_docker_stream(void *arg, bool up, const char *why)
{
	struct daemon *d = arg;

	if (up) {
		log_info("docker event stream up");
		/* Events may have been missed meanwhile: resynchronise. */
		daemon_snapshot_request(d, 0, true);
	} else {
		log_warn("docker event stream down: %s; redialling", why);
	}
}

int
daemon_snapshot_start(struct daemon *d)
{
	static const struct docker_events_ops ev_ops = { on_docker_event,
		on_docker_stream };
	struct err_msg m;

	err_clear(&m);
	if (pthread_create(&d->worker, NULL, worker_main, d) != 0) {
		log_error("cannot start the snapshot thread");
		return 1;
	}
	d->worker_started = true;
	if (docker_events_start(config_get(d->cfg, "agent", "docker_socket"),
	        &ev_ops, d, &d->events, &m) != 0) {
		log_error("docker events: %s", m.text);
		return 1;
	}
	return 0;
}

void
daemon_snapshot_stop(struct daemon *d)
{
	atomic_store(&d->stopping, true);
	docker_events_stop(d->events);
	d->events = NULL;
	if (!d->worker_started)
		return;
	if (pthread_mutex_lock(&d->mu) == 0) {
		d->stop = true;
		(void)pthread_cond_broadcast(&d->cv);
		(void)pthread_mutex_unlock(&d->mu);
	}
	(void)pthread_join(d->worker, NULL);
	d->worker_started = false;
}
