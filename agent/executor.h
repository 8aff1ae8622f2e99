/* SPDX-License-Identifier: ISC */
/*
 * The agent's action pipeline (docs/protocol.md, docs/audit.md): from an
 * "action" frame of the server to a signed result, with every step recorded
 * in the agent's audit log before the step it records goes on. For one
 * frame, in this order:
 *
 *   1. the frame, strictly: exactly {"type":"action","payload","sig",
 *      "key_id"}, all strings; the signature under the pinned key that
 *      key_id names, on the exact payload bytes; the payload, strictly.
 *      A frame that fails before its signature holds is unverified: no
 *      result, and frame.refused names no action (only the bytes' hash);
 *   2. host_id is this agent's; not expired, not issued beyond the clock
 *      skew in the future, lifetime at most 300 s; action_id never seen
 *      (the id joins the seen set before anything runs; the set is rebuilt
 *      from the audit log at start, so it survives restarts);
 *   3. the container exists (dockerd's inspect; missing: REJECTED "no such
 *      container") and the policy allows the action, judged on dockerd's
 *      own name, image and labels, the payload's requested_by and reason
 *      (else DENIED with the engine's reason);
 *   4. action.received, then action.dispatched (with the container's
 *      state) are made durable; only then is dockerd asked to act
 *      (if the record cannot be written: FAILURE "audit unavailable", and
 *      dockerd is never called); then dockerd is asked, the call
 *      bounded by the action's expires_at (an action that expired by
 *      then is FAILURE "not run: ...", dockerd not called); then the
 *      signed result and action.executed. A call whose request went out
 *      and got no answer (no answer by expires_at or the docker timeout,
 *      a broken connection) is UNKNOWN, never FAILURE: dockerd may still
 *      act.
 *
 * Every verified action whose action_id can be read gets exactly one
 * result: a REJECTED, DENIED, SUCCESS, FAILURE or UNKNOWN signed with the
 * agent's result key as {"type":"action_result","payload":B64,"sig":B64}.
 * A second copy of an
 * action already answered (a replay of the same payload bytes) gets that
 * same result again, not a new one. A REJECTED for a frame whose payload
 * names no valid container id or action cannot be written in docs/protocol.md's
 * result format: such frames are audited and counted, with no result.
 *
 * Results wait in an outbox until the server acknowledges them with a
 * result_ack frame naming their action_id and request_sha256 (it sends
 * one once the result is durable in its audit log), and are re-sent on
 * every new connection until then, however long that takes (at most
 * EXECUTOR_OUTBOX_MAX: a full outbox forgets the oldest acknowledged one,
 * or else the oldest unacknowledged one, audited as
 * action.result_undelivered). Acknowledged ones are kept
 * EXECUTOR_OUTBOX_KEEP_MS. At start the outbox is refilled from the audit
 * log's records of the last EXECUTOR_OUTBOX_KEEP_MS, and an action that
 * was recorded as received but has no answer (the agent died, or the
 * answer's record could not be written) is answered by what the log
 * proves, never run a second time: UNKNOWN "outcome unknown: dockerd was
 * asked ..." (and followed up) when action.dispatched was recorded, else
 * FAILURE "not run: ... dockerd was not called". A result (or an outcome)
 * whose own record cannot be written is never sent.
 *
 * Audit records (actor "agent"; ids as in the payload; "action" is the
 * server's envelope {"payload","sig","key_id"}, embedded only once it has
 * verified; "result" is ours, {"payload","sig"}):
 *   action.rejected  (verified signature) host_id, action_id (when
 *                    readable), expires_at (only
 *                    when the action verified: the seen set is rebuilt
 *                    from records holding both), authentic, key_id (when
 *                    a string), reason, request_sha256, container_id and
 *                    action_name (when readable), action, result, and
 *                    resent: true when the earlier result went again
 *   action.redelivered host_id, action_id, request_sha256, answer: a
 *                    second delivery of an action seen with the same
 *                    payload bytes, run at most once: "resent" (its
 *                    signed result went again), "running" (nothing sent:
 *                    the result follows) or "replay" (nothing held any
 *                    more: an action.rejected "replay" follows)
 *   policy.denied    host_id, action_id, expires_at, container_id,
 *                    action_name, requested_by, reason (the operator's),
 *                    why (the engine's), rule, container_name, image,
 *                    action, result
 *   action.received  host_id, action_id, expires_at, container_id,
 *                    action_name, requested_by, reason, container_name,
 *                    image, rule, action
 *   action.dispatched host_id, action_id, expires_at, container_id,
 *                    action_name, limit_ms, state_before (or null)
 *   action.executed  host_id, action_id, expires_at, container_id,
 *                    action_name, status, docker_status, error (string or
 *                    null), duration_ms, result, recovered: true for the
 *                    answer given at start to an action cut short, and
 *                    state_before for an UNKNOWN
 *   action.outcome   host_id, action_id, container_id, action_name,
 *                    request_sha256, observed, detail, observed_at,
 *                    state_before, state_after, outcome (executor_outcome.c)
 *   action.result_undelivered  host_id, action_id, request_sha256,
 *                    made_at, reason ("outbox full"), outbox_max: a
 *                    result no longer re-sent, never acknowledged
 *   frame.refused    host_id, reason ("unverified frame: ..." when the
 *                    signature did not hold), bytes, frame_sha256 (when
 *                    held); unverified frames and signed ones with no
 *                    readable action_id, bounded per kind (unverified,
 *                    unreadable, too_big, binary, malformed): see
 *                    executor_frame_refused
 *   audit.suppressed event "frame.refused", window_start, window_end,
 *                    limit, counts: the records a window held back
 *
 * Threads: executor_handle_frame runs the pipeline on the calling thread
 * (tests; the workers). executor_start runs EXECUTOR_WORKERS worker
 * threads that take frames from a bounded queue (executor_submit, from the
 * channel's service thread). Actions on one container run one at a time,
 * in the order they arrived; actions on different containers run side by
 * side, so that their audit records share syncs and dockerd works on
 * several at once. The seen set, the outbox, the counters and the
 * refused-frame limiter are under the executor's lock; every other call
 * may come from any thread, and the ops must be safe to call from several
 * workers at once.
 *
 * The code: executor.c (the pipeline), executor_answer.c, executor_outbox.c,
 * executor_queue.c and executor_recover.c; executor_int.h says which is
 * which.
 */
#ifndef SIGNET_AGENT_EXECUTOR_H
#define SIGNET_AGENT_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "audit_limit.h"
#include "envelope.h"
#include "wire.h"
#include "err.h"
#include "inventory.h"
#include "keys.h"
#include "outcome.h"
#include "policy_store.h"
#include "roster_store.h"

#define EXECUTOR_FRAME_MAX (64 * 1024) /* bytes of one action frame */
#define EXECUTOR_QUEUE_MAX 64          /* frames waiting for a worker */
#define EXECUTOR_WORKERS 8             /* actions run at once */
#define EXECUTOR_OUTBOX_MAX 1024       /* results kept */
/*
 * Acknowledged results stay this long (replays of their actions get them
 * again), and a restart puts back the results of this long ago: the
 * server's reload window (ENVELOPE_RESULT_WINDOW_MS, ACTIONS_RELOAD_MS).
 */
#define EXECUTOR_OUTBOX_KEEP_MS ENVELOPE_RESULT_WINDOW_MS
#define EXECUTOR_RECOVER_MAX 256 /* interrupted actions at start */
#define EXECUTOR_ACTOR "agent"
#define EXECUTOR_ERR_AUDIT "audit unavailable"
#define EXECUTOR_ERR_NO_CONTAINER "no such container"
#define EXECUTOR_FOLLOW_MAX 64          /* UNKNOWN outcomes followed */
#define EXECUTOR_OBOX_MAX 256           /* outcomes kept until acked */
#define EXECUTOR_OUTCOME_POLL_MS 1000LL /* dockerd asked again after */
#define EXECUTOR_OUTCOME_GIVEUP_MS (10 * 60 * 1000LL)

/*
 * What the pipeline needs from outside, so that tests can stand in for
 * dockerd and the clock (arg is executor_config.ops_arg):
 *   inspect  dockerd's identity of the container with this full id as a
 *            one-row inventory, and its State in *state (*has_state false
 *            when that could not be read) (docker_inspect's contract: 0,
 *            SIGNET_ERR_NOT_FOUND when dockerd has none, other codes): the
 *            state the answer to an UNKNOWN is judged against
 *   act      run the action within limit_ms (> 0: the time left until
 *            the action's expires_at) (docker_action's contract: 0 for
 *            204/304, *http_status dockerd's status or 0, *maybe_acted
 *            true when the request went out and no answer came)
 *   now_ms   wall-clock time, unix milliseconds
 *   state    the container's State (docker_state's contract), after an
 *            UNKNOWN, to find out what happened
 */
struct executor_ops {
	int (*inspect)(void *arg, const char *id, struct inventory **out,
	    struct outcome_state *state, bool *has_state, struct err_msg *msg);
	int (*act)(void *arg, const char *id, enum envelope_action action,
	    int stop_timeout, long limit_ms, long *http_status,
	    bool *maybe_acted, struct err_msg *msg);
	int64_t (*now_ms)(void *arg);
	int (*state)(void *arg, const char *id, struct outcome_state *out,
	    struct err_msg *msg);
};

struct executor_config {
	const char *host_id;                   /* this agent's (copied) */
	const struct keys_pubset *action_keys; /* pinned (copied) */
	const struct keys_secret *result_key;  /* copied; wiped at free */
	/* The keys result_key replaced: their results in the log are
	 * re-sent at start (NULL: none; copied). */
	const struct keys_pubset *result_retired;
	struct policy_store *policy; /* borrowed; outlives ex */
	/* The roster operator requests are judged on; NULL: none pinned
	 * (every operator-signed request is refused). Borrowed. */
	struct roster_store *roster;
	struct audit_writer *audit;     /* borrowed; outlives ex */
	const char *audit_path;         /* the same log, read at open */
	int stop_timeout;               /* seconds, for STOP/RESTART */
	const struct executor_ops *ops; /* copied */
	void *ops_arg;
	/*
	 * Called, from the thread that made it, after a result entered the
	 * outbox (to wake the channel); may be NULL.
	 */
	void (*on_result)(void *arg);
	void *result_arg;
	/*
	 * Called, from the worker that refused it, with the refusal of an
	 * action frame that could not be verified (after its frame.refused
	 * record), to tell the server (a frame_refused frame; best effort: a
	 * refusal lost leaves the action to its deadline); may be NULL.
	 */
	void (*on_refused)(void *arg, const struct wire_refusal *ref);
	void *refused_arg;
	/* frame.refused records ([audit] limit_*); zero: the defaults */
	struct audit_limit_bounds audit_limit;
	/*
	 * How often dockerd is asked what became of an UNKNOWN action, ms;
	 * 0: EXECUTOR_OUTCOME_POLL_MS.
	 */
	int64_t outcome_poll_ms;
};

/* What became of one frame. */
enum executor_redelivery {
	EXECUTOR_REDELIVERY_NONE = 0,
	EXECUTOR_REDELIVERY_RESENT,
	EXECUTOR_REDELIVERY_RUNNING,
	EXECUTOR_REDELIVERY_REPLAY,
};

struct executor_outcome {
	/*
	 * REJECTED, DENIED, SUCCESS, FAILURE or UNKNOWN; REJECTED too for a frame
	 * refused before an action_id could be read (action_id "").
	 */
	enum envelope_status status;
	char action_id[33];
	char error[ENVELOPE_ERROR_BYTES + 1]; /* "" on SUCCESS */
	int64_t docker_status;                /* 0: dockerd not asked to act */
	bool docker_called;                   /* ops->act ran */
	bool authentic;                       /* signature and payload held */
	bool has_result;                      /* a result went to the outbox */
	bool resent;                          /* ... an earlier one, again */
	/*
	 * A second delivery of an action seen with the same payload
	 * (executor_pipeline): RESENT (its held result went again) or
	 * RUNNING (a worker is on it; its result follows), when status is
	 * not an answer made now; REPLAY when nothing of it is held any more
	 * (then REJECTED "replay" as a different payload is); NONE else.
	 */
	enum executor_redelivery redelivered;
};

struct executor_stats {
	uint64_t succeeded, failed, denied, rejected;
	uint64_t unknown;          /* dockerd asked, no answer: may act */
	uint64_t refused_frames;   /* no readable action_id */
	uint64_t busy;             /* answered "agent busy" (queue full) */
	uint64_t results_reloaded; /* outbox entries read from the log */
	uint64_t recovered;        /* interrupted actions answered at start */
	uint64_t ids_loaded;       /* seen action ids read from the log */
	uint64_t redelivered;      /* same id, same payload: run once */
	size_t outbox;             /* results held now */
	size_t undelivered;        /* ... not yet acknowledged */
	size_t queued;             /* frames waiting for a worker now */
	size_t running;            /* actions a worker runs now */
	uint64_t results_acked;    /* results the server acknowledged */
	uint64_t results_undelivered; /* forgotten unacknowledged (full) */
	uint64_t outcomes;            /* action.outcome records made */
	size_t outcomes_pending;      /* UNKNOWN actions still followed */
	size_t outcomes_unacked;      /* outcomes the server has not acked */
};

struct executor;

/*
 * Makes an executor: copies cfg, rebuilds the seen set and the outbox from
 * cfg->audit_path (records of the last EXECUTOR_OUTBOX_KEEP_MS), answers
 * interrupted actions (UNKNOWN if action.dispatched shows dockerd was
 * asked, else FAILURE "not run"; audited as action.executed with
 * recovered: true) and puts their results in the outbox. A log line that does not
 * parse refuses the start (no partial seen set). Returns 0,
 * SIGNET_ERR_INVALID_ARG, SIGNET_ERR_ALLOC, the reader's and the audit
 * writer's codes; *out is NULL on failure.
 */
int executor_open(const struct executor_config *cfg, struct executor **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Stops the worker if it runs (executor_stop) and frees ex, wiping the
 * result key. NULL allowed.
 */
void executor_free(struct executor *ex);

/*
 * Runs the whole pipeline for one frame data[0..len) (need not be
 * NUL-terminated) on the calling thread, writes what became of it into
 * *out and returns 0; SIGNET_ERR_ALLOC or SIGNET_ERR_INTERNAL only when
 * the pipeline itself could not run (out->status is then FAILURE or
 * REJECTED as far as it got). Not to be called while the worker runs.
 */
int executor_handle_frame(struct executor *ex, const char *data, size_t len,
    struct executor_outcome *out) __attribute__((warn_unused_result));

/*
 * Records a server frame that never reaches the pipeline: over the size
 * limit, binary, not JSON, of an unknown type. why says which; data may be
 * NULL (nothing kept); bytes is its full length. Logs it, counts it and
 * audits frame.refused (bounded: per kind of refusal, the first
 * audit_limit.burst records of a window in full, the rest counted into
 * one audit.suppressed record when the window closes).
 */
void executor_frame_refused(struct executor *ex, const char *why,
    const char *data, size_t len, size_t bytes);

/*
 * Closes the window of frame.refused records if it has ended (force: in
 * any case, the agent stops) and audits its audit.suppressed summary if
 * it held records back. Call it now and then (the daemon's loop) and once
 * before agent.stopped, so that nothing counted goes unrecorded.
 */
void executor_audit_close(struct executor *ex, bool force);

/*
 * Starts the worker thread. Call with the signals the caller handles
 * blocked. Returns 0 or SIGNET_ERR_INTERNAL.
 */
int executor_start(struct executor *ex) __attribute__((warn_unused_result));

/*
 * Hands a frame (copied) to the worker; parsed is the same frame as parsed
 * by the caller already with wire_parse_server_frame (spares a parse on
 * the channel's thread; what it holds is taken over and *parsed zeroed),
 * or NULL.
 * When EXECUTOR_QUEUE_MAX frames wait already, or the worker is stopping,
 * the frame is answered at once on this thread: REJECTED "agent busy" /
 * "agent stopping" (after the signature, host, time and seen-set checks:
 * its action_id joins the seen set, so a copy sent again is never run;
 * it gets the same REJECTED again). Returns 0, or SIGNET_ERR_ALLOC when
 * it could not be queued nor answered.
 */
int executor_submit(struct executor *ex, const char *data, size_t len,
    struct wire_frame *parsed) __attribute__((warn_unused_result));

/*
 * Stops the worker: the action under way finishes (dockerd's answer is
 * awaited), frames still queued are answered REJECTED "agent stopping".
 * Joins the thread. Safe to call twice, or without executor_start.
 */
void executor_stop(struct executor *ex);

/*
 * The outbox, for the channel (service thread). A result is handed out
 * once per connection (epoch: the caller's count of connections, from 1)
 * until it is acknowledged:
 *   executor_outbox_take     the oldest result not acknowledged and not
 *                            yet handed out on epoch: a copy of its frame
 *                            in *frame (free it), *len, and its sequence
 *                            number *seq (increasing). Returns 1, 0
 *                            (none), or SIGNET_ERR_ALLOC.
 *   executor_outbox_untake   it could not be queued after all
 *   executor_outbox_acked    a result_ack came for the result of
 *                            (action_id, request_sha256): it is not sent
 *                            again (an ack naming no held result is
 *                            ignored)
 */
int executor_outbox_take(struct executor *ex, uint64_t epoch, char **frame,
    size_t *len, uint64_t *seq) __attribute__((warn_unused_result));
void executor_outbox_untake(struct executor *ex, uint64_t seq);
void executor_outbox_acked(struct executor *ex, const char *action_id,
    const char *request_sha256);

/*
 * The outcomes (action_outcome frames), for the channel, as the results
 * above: take (1, 0 or SIGNET_ERR_ALLOC), untake, and acked when an
 * outcome_ack names (action_id, request_sha256).
 */
int executor_outcome_take(struct executor *ex, uint64_t epoch, char **frame,
    size_t *len, uint64_t *seq) __attribute__((warn_unused_result));
void executor_outcome_untake(struct executor *ex, uint64_t seq);
void executor_outcome_acked(struct executor *ex, const char *action_id,
    const char *request_sha256);

/*
 * One round of the outcome thread on the calling thread: dockerd is asked
 * about every UNKNOWN action followed; those it can tell are recorded
 * (action.outcome) and signed. For tests (no thread running).
 */
void executor_outcome_poll(struct executor *ex);

void executor_get_stats(struct executor *ex, struct executor_stats *st);

/*
 * Looks up the outbox's result for action_id: a copy of its frame (free
 * it) into *frame. Returns 1, 0 (none) or SIGNET_ERR_ALLOC. For tests.
 */
int executor_outbox_find(struct executor *ex, const char *action_id,
    char **frame, bool *delivered) __attribute__((warn_unused_result));

#endif
