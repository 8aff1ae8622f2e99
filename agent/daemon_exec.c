/* SPDX-License-Identifier: ISC */
/*
 * The daemon's glue between the channel and the executor: the hello on
 * every connection, signed over the server's challenge; frames from the
 * server (result_ack to the outbox, action frames to the executor's
 * queue, drain to the channel, anything else refused); the
 * results the server has not acknowledged, flushed to the channel; and
 * the executor's ops, each worker's dockerd call on a connection lent to
 * it for that call.
 */
#include "daemon.h"
#include "daemon_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "wire.h"

/* Unix time in ms: action expiry and result timestamps (docs/protocol.md). */
static int64_t
wall_ms(void *arg)
{
	(void)arg;
	return clock_wall_ms();
}

/* ---- the channel (service thread) ---- */

/* The WebSocket is open: the server's challenge comes first (on_message). */
static void
on_established(void *arg)
{
	struct daemon *d = arg;

	if (pthread_mutex_lock(&d->mu) != 0)
		return;
	d->epoch++;
	(void)pthread_mutex_unlock(&d->mu);
	daemon_checkpoint_reset(d);
	log_debug("channel open: waiting for the server's challenge");
}

/*
 * The server's challenge: the hello, signed with the result key over it,
 * greets the channel; a snapshot follows. Returns 0, or the failure
 * (logged) of building or queueing the hello.
 */
static int
say_hello(struct daemon *d, const uint8_t challenge[static WIRE_CHALLENGE_LEN])
{
	struct channel_frame *f = NULL;
	struct wire_hello h;
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(&h, 0, sizeof(h));
	if (pthread_mutex_lock(&d->mu) != 0)
		return SIGNET_ERR_INTERNAL;
	memcpy(h.docker_version, d->docker_version, sizeof(h.docker_version));
	(void)pthread_mutex_unlock(&d->mu);
	(void)snprintf(h.host_id, sizeof(h.host_id), "%s", d->host_id);
	(void)snprintf(h.agent_version, sizeof(h.agent_version), "%s",
	    SIGNET_VERSION);
	memcpy(h.result_key_id, d->result_key->pub.id, sizeof(h.result_key_id));
	memcpy(h.challenge, challenge, WIRE_CHALLENGE_LEN);
	/* Anchors this connection to the log, and says this agent anchors. */
	if (d->audit != NULL) {
		audit_get_head(d->audit, &h.audit_head);
		h.has_audit_head = !h.audit_head.empty;
	}
	r = wire_build_hello(&h, d->result_key, &text, &len);
	if (r == 0)
		r = channel_frame_take(text, len, &f);
	if (r == 0)
		r = channel_greet(d->ch, f);
	channel_frame_unref(f);
	if (r != 0) {
		log_error("hello not sent: %s", err_str(r));
		return r;
	}
	log_info("hello sent: host_id=%s docker_version=%s result_key_id=%s",
	    h.host_id, h.docker_version, h.result_key_id);
	/* Which roster this host holds, then a snapshot. */
	daemon_roster_status(d, NULL);
	daemon_policy_send(d);
	/* A snapshot follows the hello, at once if none is on its way. */
	daemon_snapshot_request(d, DAEMON_WANT_CONNECT, false);
	return 0;
}

/* ---- actions: the executor's glue (service thread unless noted) ---- */

/* Any worker: a dockerd connection of its own, or -1 (none free). */
static int
exec_borrow(struct daemon *d)
{
	int i, got = -1;

	if (pthread_mutex_lock(&d->exec_mu) != 0)
		return -1;
	for (i = 0; i < EXECUTOR_WORKERS && got < 0; i++) {
		if (d->exec_dc[i] != NULL && !d->exec_lent[i]) {
			d->exec_lent[i] = true;
			got = i;
		}
	}
	(void)pthread_mutex_unlock(&d->exec_mu);
	return got;
}

static void
exec_return(struct daemon *d, int i)
{
	(void)pthread_mutex_lock(&d->exec_mu);
	d->exec_lent[i] = false;
	(void)pthread_mutex_unlock(&d->exec_mu);
}

static int
exec_inspect(void *arg, const char *id, struct inventory **out,
    struct outcome_state *state, bool *has_state, struct err_msg *msg)
{
	struct daemon *d = arg;
	int i = exec_borrow(d), r;

	if (i < 0)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "no dockerd "
		    "connection free for the executor");
	r = docker_inspect(d->exec_dc[i], id, out, state, has_state, msg);
	exec_return(d, i);
	return r;
}

static int
exec_act(void *arg, const char *id, enum envelope_action action,
    int stop_timeout, long limit_ms, long *http_status, bool *maybe_acted,
    struct err_msg *msg)
{
	struct daemon *d = arg;
	int i = exec_borrow(d), r;

	*http_status = 0;
	*maybe_acted = false;
	if (i < 0)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "no dockerd "
		    "connection free for the executor");
	r = docker_action(d->exec_dc[i], id, action, stop_timeout, limit_ms,
	    http_status, maybe_acted, msg);
	exec_return(d, i);
	return r;
}

static int
exec_state(void *arg, const char *id, struct outcome_state *out,
    struct err_msg *msg)
{
	struct daemon *d = arg;
	int i = exec_borrow(d), r;

	memset(out, 0, sizeof(*out));
	if (i < 0)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "no dockerd connection free for the executor");
	r = docker_state(d->exec_dc[i], id, out, msg);
	exec_return(d, i);
	return r;
}

/* Any thread: a result waits in the outbox; flush_results sends it. */
static void
exec_on_result(void *arg)
{
	struct daemon *d = arg;

	channel_wake(d->ch);
}

/*
 * A worker refused an action frame unverified: the server hears it at
 * once (channel_send is safe from any thread). Best effort: on a closed
 * or full channel the refusal stays in the agent's log only, and the
 * server's action ends at its deadline.
 */
static void
exec_on_refused(void *arg, const struct wire_refusal *ref)
{
	struct daemon *d = arg;
	struct channel_frame *f = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	r = wire_build_frame_refused(ref, &text, &len);
	if (r == 0)
		r = channel_frame_take(text, len, &f);
	else
		free(text);
	if (r == 0)
		r = channel_send(d->ch, f);
	channel_frame_unref(f);
	if (r != 0)
		log_warn("the server was not told of the refused frame "
		         "sha256=%s: %s",
		    ref->frame_sha256, err_str(r));
}

static uint64_t
current_epoch(struct daemon *d)
{
	uint64_t epoch = 0;

	if (pthread_mutex_lock(&d->mu) != 0)
		return 0;
	epoch = d->epoch;
	(void)pthread_mutex_unlock(&d->mu);
	return epoch;
}

/*
 * Results first, then outcomes (an outcome follows its result), as many
 * as the channel's queue takes.
 */
void
daemon_exec_flush(struct daemon *d)
{
	struct channel_frame *f = NULL;
	uint64_t epoch, seq = 0;
	char *buf = NULL;
	size_t len = 0, i;
	bool outcomes = false;
	int r;

	if (d->ex == NULL || !channel_connected(d->ch))
		return;
	epoch = current_epoch(d);
	for (i = 0; i < CHANNEL_QUEUE_MAX;) {
		r = outcomes ?
		    executor_outcome_take(d->ex, epoch, &buf, &len, &seq) :
		    executor_outbox_take(d->ex, epoch, &buf, &len, &seq);
		if (r == 0 && !outcomes) {
			outcomes = true;
			continue;
		}
		if (r < 0)
			log_error("result not sent now: %s", err_str(r));
		if (r <= 0)
			return;
		r = channel_frame_take(buf, len, &f);
		if (r == 0)
			r = channel_send(d->ch, f);
		channel_frame_unref(f);
		f = NULL;
		if (r != 0) {
			/* The queue is full or the connection went: later. */
			if (outcomes)
				executor_outcome_untake(d->ex, seq);
			else
				executor_outbox_untake(d->ex, seq);
			return;
		}
		log_debug("%s queued: seq=%llu bytes=%zu",
		    outcomes ? "outcome" : "result", (unsigned long long)seq,
		    len);
		i++;
	}
}

static void
on_dropped(void *arg, const char *why, size_t bytes)
{
	struct daemon *d = arg;

	d->frames_refused++;
	if (d->ex != NULL)
		executor_frame_refused(d->ex, why, NULL, 0, bytes);
}

static void
on_message(void *arg, const char *data, size_t len)
{
	struct daemon *d = arg;
	struct wire_frame f;
	struct err_msg m;
	char why[ERR_MSG_MAX + 32];
	int r;

	err_clear(&m);
	r = wire_parse_server_frame(data, len, &f, &m);
	/*
	 * A result_ack says the server made a record durable, a well-formed
	 * action that it recorded one before sending: either proves it
	 * works, so a later drop redials at once (channel.h).
	 */
	if (r == 0 && (f.type == WIRE_RESULT_ACK || f.type == WIRE_ACTION))
		channel_server_healthy(d->ch,
		    f.type == WIRE_RESULT_ACK ? "result_ack" : "action");
	if (f.type == WIRE_CHALLENGE && r == 0) {
		if (channel_connected(d->ch)) {
			(void)snprintf(why, sizeof(why),
			    "a second challenge on this connection");
			goto refused;
		}
		(void)say_hello(d, f.challenge);
		goto out;
	}
	if (f.type == WIRE_RESULT_ACK && r == 0) {
		if (d->ex != NULL)
			executor_outbox_acked(d->ex, f.ack.action_id,
			    f.ack.request_sha256);
		goto out;
	}
	if (f.type == WIRE_OUTCOME_ACK && r == 0) {
		if (d->ex != NULL)
			executor_outcome_acked(d->ex, f.ack.action_id,
			    f.ack.request_sha256);
		goto out;
	}
	if (f.type == WIRE_CHECKPOINT_ACK && r == 0) {
		daemon_checkpoint_acked(d, f.cp_size);
		goto out;
	}
	if (f.type == WIRE_DRAIN && r == 0) {
		/* The server stops: leave it, at a moment of our own. */
		channel_drain(d->ch, f.drain_ms);
		goto out;
	}
	if (f.type == WIRE_ROSTER && r == 0) {
		daemon_roster_offered(d, f.payload_b64);
		goto out;
	}
	if (f.type == WIRE_ACTION) {
		/* Refused or not, the executor answers it in its turn. */
		if (d->ex == NULL ||
		    executor_submit(d->ex, data, len, r == 0 ? &f : NULL) !=
		        0) {
			(void)snprintf(why, sizeof(why),
			    "action not handled: out of memory");
			goto refused;
		}
		goto out;
	}
	(void)snprintf(why, sizeof(why), "malformed frame: %s", m.text);
refused:
	d->frames_refused++;
	if (d->ex != NULL)
		executor_frame_refused(d->ex, why, data, len, len);
	else
		log_warn("frame from the server refused: %s", why);
out:
	wire_frame_free(&f);
}

/* The channel logs closes and redials by itself. */
const struct channel_ops daemon_channel_ops = { on_established, NULL,
	on_message, on_dropped };

int
daemon_exec_open(struct daemon *d)
{
	static const struct executor_ops ops = { exec_inspect, exec_act,
		wall_ms, exec_state };
	struct executor_config ec;
	struct executor_stats es;
	struct err_msg m;

	err_clear(&m);
	memset(&ec, 0, sizeof(ec));
	ec.host_id = d->host_id;
	ec.action_keys = &d->action_keys;
	ec.result_key = d->result_key;
	ec.result_retired = &d->result_retired;
	ec.policy = d->policy;
	ec.roster = d->roster;
	ec.audit = d->audit;
	ec.audit_path = config_get(d->cfg, "audit", "path");
	ec.stop_timeout = (int)config_get_int(d->cfg, "agent", "stop_timeout",
	    10);
	ec.ops = &ops;
	ec.ops_arg = d;
	ec.on_result = exec_on_result;
	ec.result_arg = d;
	ec.on_refused = exec_on_refused;
	ec.refused_arg = d;
	ec.audit_limit = d->audit_limit;
	if (executor_open(&ec, &d->ex, &m) != 0) {
		log_error("action executor cannot start from the audit log: %s",
		    m.text);
		return 1;
	}
	executor_get_stats(d->ex, &es);
	log_info("actions: seen_ids=%llu results_reloaded=%llu "
	         "interrupted_answered=%llu unacknowledged=%zu stop_timeout=%d",
	    (unsigned long long)es.ids_loaded,
	    (unsigned long long)es.results_reloaded,
	    (unsigned long long)es.recovered, es.undelivered, ec.stop_timeout);
	return 0;
}
