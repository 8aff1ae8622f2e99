/* SPDX-License-Identifier: ISC */
/*
 * The executor's internals, shared by agent/executor*.c and nothing else:
 * the executor itself, one frame on its way through the pipeline, the
 * worker queue's jobs, and the functions one of those files lends another.
 *
 *   executor.c          the pipeline (verify, decide, record, act) and
 *                       the executor's life (open, free)
 *   executor_answer.c   the answers (REJECTED, DENIED, SUCCESS, FAILURE,
 *                       UNKNOWN)
 *                       and the audit records that go with them
 *   executor_outbox.c   signed results until the server acknowledges them
 *   executor_queue.c    the worker threads and their queue
 *   executor_recover.c  start: the seen set, the outbox and interrupted
 *                       actions rebuilt from the audit log
 *   executor_outcome.c  what became of UNKNOWN actions: dockerd asked
 *                       again until it answers, action.outcome recorded
 *                       and sent (its own thread and outbox)
 *
 * What is under the executor's lock (mu) is said where it is declared.
 */
#ifndef SIGNET_AGENT_EXECUTOR_INT_H
#define SIGNET_AGENT_EXECUTOR_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "executor.h"
#include "inventory.h"
#include "outcome.h"
#include "policy.h"
#include "replay.h"
#include "request.h"
#include "roster_store.h"
#include "wire.h"

#define EXECUTOR_PAYLOAD_DEPTH 4
#define EXECUTOR_REASON_MAX 768 /* why a frame was refused, before escaping */
#define EXECUTOR_LOG_ESC 1200

enum executor_mode {
	EXECUTOR_MODE_RUN,      /* the worker: the whole pipeline */
	EXECUTOR_MODE_BUSY,     /* queue full: answer, do not run */
	EXECUTOR_MODE_STOPPING, /* shutting down: answer, do not run */
};

struct executor_outbox_entry {
	uint64_t seq;
	char action_id[33];
	char request_sha256[65];
	char *frame;
	size_t len;
	int64_t created_ms;    /* wall clock */
	bool delivered;        /* acknowledged by the server */
	uint64_t queued_epoch; /* handed out on this connection; 0 none */
};

/* An UNKNOWN action whose outcome is still to be found out. */
struct executor_followup {
	char action_id[33];
	char container_id[65];
	char request_sha256[65];
	enum envelope_action action;
	bool has_before;
	struct outcome_state before; /* just before dockerd was asked */
	int64_t since_ms;            /* wall clock: when it became unknown */
	int64_t answered_ms;         /* dockerd's first answer since; 0 none */
};

/* A signed outcome until the server acknowledges it (outcome_ack). */
struct executor_obox_entry {
	uint64_t seq;
	char action_id[33];
	char request_sha256[65];
	char *frame;
	size_t len;
	bool delivered;
	uint64_t queued_epoch; /* handed out on this connection; 0 none */
};

struct executor_job {
	char *data;
	size_t len;
	struct wire_frame frame; /* parsed already when frame.type is set */
	char container[65];      /* scheduling key (unverified); "" none */
	uint64_t outbox_seq;     /* ex->next_seq when it came */
};

struct executor;

/* One worker thread and the container it is working on. */
struct executor_worker {
	struct executor *ex;
	pthread_t thread;
	bool started;
	char container[65]; /* under mu; "" idle or no key */
};

struct executor {
	char host_id[64];
	struct keys_pubset action_keys;
	struct keys_secret *result_key; /* sodium_malloc'd copy */
	struct keys_pubset result_retired;
	struct policy_store *policy;
	struct roster_store *roster; /* borrowed; NULL: none pinned */
	struct audit_writer *audit;
	int stop_timeout;
	struct executor_ops ops;
	void *ops_arg;
	void (*on_result)(void *arg);
	void *result_arg;
	void (*on_refused)(void *arg, const struct wire_refusal *ref);
	void *refused_arg;

	struct replay *seen; /* under mu */
	/* Under mu: the ids a worker's pipeline holds past the seen set
	 * ("" free), for a redelivery's "running". */
	char inflight[EXECUTOR_WORKERS][33];

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool mu_ok, cv_ok;
	/* Under mu. */
	struct executor_outbox_entry *outbox; /* EXECUTOR_OUTBOX_MAX, by seq */
	size_t nout;
	/*
	 * outbox_take's start: every entry before it is delivered or already
	 * handed out on connection take_epoch (so a full outbox of results
	 * the server has is not walked for every new one). Any change that
	 * could break that (an entry put back, a new epoch) resets it.
	 */
	size_t take_from;
	uint64_t take_epoch;
	uint64_t next_seq;
	struct executor_job queue[EXECUTOR_QUEUE_MAX]; /* in arrival order */
	size_t qlen;
	bool stop;
	bool thread_started; /* the workers run */
	struct executor_worker workers[EXECUTOR_WORKERS];
	struct executor_stats stats;
	struct audit_limit refused_lim; /* frame.refused records */

	/* executor_outcome.c; under mu but the thread and ocv. */
	struct executor_followup *follow; /* EXECUTOR_FOLLOW_MAX */
	size_t nfollow;
	struct executor_obox_entry *obox; /* EXECUTOR_OBOX_MAX, by seq */
	size_t nobox;
	uint64_t obox_seq;
	int64_t outcome_poll_ms;
	pthread_cond_t ocv; /* wakes the outcome thread */
	bool ocv_ok;
	bool ostop;
	bool ostarted;
	pthread_t othread;
};

/* One frame on its way through the pipeline. */
struct executor_act {
	enum executor_mode mode;
	struct executor_outcome *out;
	int64_t started_at;
	struct wire_frame own; /* parsed here when not given */
	/* Into the parsed frame. */
	const char *payload_b64, *sig_b64, *key_id;
	uint8_t *raw; /* payload bytes, once their signature held */
	size_t raw_len;
	bool have_sha;
	char sha[65];
	bool authentic; /* signature and strict parse held */
	bool inflight;  /* its id is in ex->inflight */
	/* ex->next_seq when the frame came: a result made after it (an
	 * outbox entry of a higher seq) went out without this copy */
	uint64_t arrived_seq;
	/*
	 * Authentic: all of it; else what signed bytes that failed the
	 * strict parse say (never the claims of unverified bytes).
	 */
	struct envelope_action_payload a;
	bool have_container, have_action;
	/* dockerd's facts, once inspected. */
	struct inventory *inv;
	int rule;
	/* The container's state just before dockerd was asked to act. */
	bool has_before;
	struct outcome_state before;
	/*
	 * The operator's request (executor_request.c), once verified: the
	 * roster it was judged against (a reference), the request, and its
	 * approvals as checked, with the counted ones as the policy takes
	 * them.
	 */
	bool operator_signed;
	/*
	 * Its operator request was refused before the id joined the seen
	 * set: its records must not put the id there at the next start.
	 */
	bool request_refused;
	struct roster *roster;
	struct request_verified req;
	size_t napprovals;
	struct request_approver approvers[REQUEST_APPROVALS_MAX];
	size_t ncounted;
	struct policy_approver counted[REQUEST_APPROVALS_MAX];
	const char *counted_groups[REQUEST_APPROVALS_MAX][ROSTER_GROUPS_MAX];
};

/* ---- executor.c ---- */

/* Wall-clock time, unix ms, from the ops. */
int64_t executor_now_ms(struct executor *ex);

/* Takes / releases mu; a failed lock is a broken invariant: abort(). */
void executor_lock(struct executor *ex);
void executor_unlock(struct executor *ex);

/*
 * The whole pipeline for one frame (executor_handle_frame's contract);
 * parsed is the caller's parse of data or NULL; mode other than
 * EXECUTOR_MODE_RUN answers an authentic action without running it;
 * arrived_seq is ex->next_seq when the frame came (executor_redelivery).
 */
int executor_pipeline(struct executor *ex, const char *data, size_t len,
    const struct wire_frame *parsed, enum executor_mode mode,
    uint64_t arrived_seq, struct executor_outcome *out)
    __attribute__((warn_unused_result));

/* ---- executor_request.c ---- */

/*
 * The operator's signed request an action carries, checked at now (docs/
 * operators.md, "What the agent checks"): roster held, operator
 * signature on the exact bytes, roster not expired, the relay's copy
 * unchanged, the request live; then its approvals counted. Returns true
 * when the action goes on (also for an action without a request: relay-
 * signed, for the policy to judge); otherwise it was answered REJECTED.
 */
bool executor_check_request(struct executor *ex, struct executor_act *act,
    int64_t now);

/* Until when the action id must stay in the seen set: the request's
 * expiry when it has one, else the action's. */
int64_t executor_replay_until(const struct executor_act *act);

/* The request's part of the policy question. */
void executor_request_policy(const struct executor_act *act,
    struct policy_request *req);

/* The request's members of act's audit records (requester, approvals). */
void executor_request_audit(const struct executor_act *act, cJSON *o, bool *ok);

/* Lets go of the roster and the request. */
void executor_request_release(struct executor *ex, struct executor_act *act);

/* ---- executor_answer.c: each answers act once and audits it ---- */

/* Writes what became of act into act->out. */
void executor_set_outcome(struct executor_act *act, enum envelope_status status,
    int64_t docker_status, const char *error);

/* REJECTED: audited as action.rejected, answered when it can be. */
void executor_reject(struct executor *ex, struct executor_act *act,
    const char *reason);

/* DENIED by the policy: audited as policy.denied, answered. */
void executor_deny(struct executor *ex, struct executor_act *act,
    const char *why);

/*
 * SUCCESS, FAILURE or UNKNOWN: audited as action.executed (with recovered: true
 * for an interrupted action answered at start), answered.
 */
void executor_finish(struct executor *ex, struct executor_act *act,
    enum envelope_status status, int64_t docker_status, const char *error,
    bool recovered);

/*
 * Records action.received alone, for an action allowed to run that
 * expired before dockerd could be asked. Returns 0 or the audit writer's
 * code (logged).
 */
int executor_record_received(struct executor *ex,
    const struct executor_act *act) __attribute__((warn_unused_result));

/*
 * Records action.received and action.dispatched for an action allowed to
 * run, whose dockerd call is next, within limit_ms, with the state before
 * (or null): one fdatasync for the two, since nothing happens between
 * them. action.dispatched is the record that proves, at the next start,
 * that dockerd may have been asked. Returns 0 or the audit writer's code
 * (logged), with *nrecorded the number of the two records that are in
 * the log: dockerd must not be asked unless 0 is returned.
 */
int executor_record_received_dispatched(struct executor *ex,
    const struct executor_act *act, int64_t limit_ms, size_t *nrecorded)
    __attribute__((warn_unused_result));

/* ---- executor_outbox.c ---- */

/* Puts a signed result of act in the outbox (frame owned), wakes sender. */
void executor_outbox_deliver(struct executor *ex, struct executor_act *act,
    char *frame, size_t flen);

/*
 * A second copy of an action already answered (same id, same payload
 * bytes): its result goes again. Returns true when there was one.
 */
bool executor_outbox_resend(struct executor *ex, struct executor_act *act);

/*
 * Puts act's id in ex->inflight (act->inflight says whether there was
 * room: there is one slot per worker), under the lock the caller holds
 * (the one that put the id in the seen set: no redelivery sees it in
 * neither); or takes it out, taking the lock.
 */
void executor_inflight_put(struct executor *ex, struct executor_act *act);
void executor_inflight_drop(struct executor *ex, struct executor_act *act);

/*
 * act (authentic, act->sha set) came with an action_id the seen set
 * holds. Under one lock: NONE when the id was seen with another payload
 * (or an unknown one); RESENT when its result is in the outbox and was
 * made before this copy came (act->arrived_seq; marked to go again,
 * act->out's has_result and resent set); RUNNING when a pipeline holds
 * it, or its result was made after this copy came (it waited in the
 * queue behind it: the result went out by itself); REPLAY when none of
 * these. Audits
 * action.redelivered for all but NONE, and sets act->out->redelivered.
 */
enum executor_redelivery executor_redelivery(struct executor *ex,
    struct executor_act *act);

/*
 * A result read back from the audit log (frame owned), made at
 * created_ms: replaces an entry for the same action and request, counted
 * in results_reloaded.
 */
void executor_outbox_reload(struct executor *ex, const char *action_id,
    const char *request_sha256, char *frame, size_t len, int64_t created_ms);

/* ---- executor_outcome.c ---- */

/* Makes ocv and the lists; 0 or SIGNET_ERR_ALLOC / _INTERNAL with msg. */
int executor_outcome_init(struct executor *ex, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Under mu: outcomes_pending and outcomes_unacked into st. */
void executor_outcome_count(struct executor *ex, struct executor_stats *st);

/* Frees what executor_outcome_init made (the thread is stopped). */
void executor_outcome_fini(struct executor *ex);

/* Starts / stops the outcome thread (start: 0 or SIGNET_ERR_INTERNAL). */
int executor_outcome_start(struct executor *ex)
    __attribute__((warn_unused_result));
void executor_outcome_stop(struct executor *ex);

/*
 * act ended UNKNOWN: its outcome is to be found out (before, when known,
 * is the state just before the call). since_ms: when it became unknown.
 */
void executor_followup_add(struct executor *ex, const char *action_id,
    const char *container_id, enum envelope_action action,
    const char *request_sha256, const struct outcome_state *before,
    int64_t since_ms);

/*
 * A signed outcome read back from the audit log (its envelope's texts):
 * into the outcome outbox again, replacing one for the same action.
 */
void executor_outcome_reload(struct executor *ex, const char *action_id,
    const char *request_sha256, const char *payload_b64, const char *sig_b64);

/* ---- executor_recover.c ---- */

/*
 * At open: the seen set, the outbox (records of the last
 * EXECUTOR_OUTBOX_KEEP_MS) and the answers to interrupted actions, from
 * the audit log at path (none there: nothing to do). Returns 0 or the
 * reader's, replay's and SIGNET_ERR_ALLOC codes with msg.
 */
int executor_recover(struct executor *ex, const char *path, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
