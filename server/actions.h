/* SPDX-License-Identifier: ISC */
/*
 * The server's table of actions (docs/protocol.md, docs/http-api.md): every
 * action the operator API signed and handed to the hub, its state, and who
 * waits for it. Written by the API's thread (new actions), the hub's service
 * thread (results, undelivered frames) and the API watchdog (deadlines); every
 * function is thread-safe (one mutex; nothing slow runs under it).
 *
 * States: an action starts PENDING and ends once in UNDELIVERED (its frame
 * never reached the agent), TIMEOUT (no result by its deadline), or the
 * agent's verdict SUCCESS / FAILURE / DENIED / REJECTED. The only change
 * after an end is a late result replacing TIMEOUT: the agent may still
 * have acted, and its signed result is the truth. A result is accepted
 * once per action_id (actions_claim_result); repeats are DUPLICATE.
 *
 * Bounds: at most `max` entries. Finished entries are forgotten keep_ms
 * after they finished (checked on every add), or sooner, oldest first,
 * when the table is full (the audit log keeps them for good); a table
 * full of live entries refuses new ones (the API answers 503).
 *
 * Waiters: a waiting HTTP request registers (fn, ctx, token); whoever ends
 * the action calls actions_wake() after recording the end in the audit
 * log, which calls fn(ctx, token) once, outside the lock. fn must cope
 * with a token whose request is gone (see api.c).
 */
#ifndef SIGNET_ACTIONS_H
#define SIGNET_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "envelope.h"
#include "err.h"
#include "outcome.h"

#define ACTIONS_MAX_DEFAULT 4096
#define ACTIONS_KEEP_MS (3600LL * 1000) /* finished entries kept 1 h */
/*
 * How far back a restarted server looks for actions still open: a
 * restarted agent puts back its results of as long ago (the same
 * ENVELOPE_RESULT_WINDOW_MS). A result for an older action is recorded
 * all the same, as "action_known": false (hub_session.c).
 */
#define ACTIONS_RELOAD_MS ENVELOPE_RESULT_WINDOW_MS
#define ACTIONS_ID_LEN 32 /* hex digits of an action_id */

enum action_status {
	ACTION_PENDING = 0,
	ACTION_SUCCESS,
	ACTION_FAILURE,
	ACTION_DENIED,
	ACTION_REJECTED,
	ACTION_TIMEOUT,
	ACTION_UNDELIVERED,
	ACTION_UNKNOWN, /* the agent's result UNKNOWN: dockerd may have acted */
};

/* A copy of one entry, safe to use after the table changed. */
struct action_info {
	char action_id[ACTIONS_ID_LEN + 1];
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	char reason[ENVELOPE_REASON_BYTES + 1];
	char requested_by[64];
	bool operator_signed;    /* requested_by is a verified signer's */
	char request_sha256[65]; /* of the payload bytes sent */
	int64_t requested_at;    /* unix ms (issued_at) */
	int64_t expires_at;      /* unix ms */
	int64_t deadline;        /* unix ms: TIMEOUT after this */
	int64_t finished_at;     /* unix ms; 0 while PENDING */
	enum action_status status;
	bool has_error;
	char error[ENVELOPE_ERROR_BYTES + 1];
	bool has_result; /* an agent result was accepted */
	int64_t docker_status;
	/* The agent's follow-up of an UNKNOWN result (action_outcome). */
	enum outcome_observed outcome; /* OUTCOME_NONE: none yet */
	char outcome_detail[OUTCOME_DETAIL_BYTES + 1];
	int64_t outcome_at; /* unix ms: when the agent observed it */
};

typedef void (*actions_wake_fn)(void *ctx, uint64_t token);

struct actions;

/* "PENDING" ... "UNKNOWN"; never NULL. */
const char *action_status_name(enum action_status s);

/*
 * A new empty table of at most max entries (1..1,000,000) forgetting
 * finished ones keep_ms (>= 0) after they finished. NULL on bad
 * arguments or allocation failure.
 */
struct actions *actions_new(size_t max, int64_t keep_ms);

/* Frees the table; NULL allowed. Waiters are dropped, not called. */
void actions_free(struct actions *t);

/*
 * Adds p (signed, about to be sent) as PENDING with the SHA-256 (hex) of
 * its payload bytes; TIMEOUT once now passes deadline_ms (unix ms).
 * Returns 0, SIGNET_ERR_INVALID_ARG (id not 32 lowercase hex),
 * SIGNET_ERR_EXISTS (id known), SIGNET_ERR_UNAVAILABLE (table full of
 * live entries) or SIGNET_ERR_ALLOC.
 */
int actions_add(struct actions *t, const struct envelope_action_payload *p,
    const char *request_sha256, int64_t deadline_ms, int64_t now_ms)
    __attribute__((warn_unused_result));

/* Forgets id entirely (its action.requested could not be recorded). */
void actions_remove(struct actions *t, const char *id);

/* Copies entry id into *out. 0 or SIGNET_ERR_NOT_FOUND. */
int actions_get(struct actions *t, const char *id, struct action_info *out)
    __attribute__((warn_unused_result));

/*
 * Registers fn(ctx, token) to be woken when id ends. Returns 0 (waiting),
 * 1 (already ended: nothing registered, answer now) or
 * SIGNET_ERR_NOT_FOUND.
 */
int actions_set_waiter(struct actions *t, const char *id, actions_wake_fn fn,
    void *ctx, uint64_t token) __attribute__((warn_unused_result));

/* Drops id's waiter if it is still token's. */
void actions_clear_waiter(struct actions *t, const char *id, uint64_t token);

/* Drops every waiter (the API is stopping). */
void actions_clear_waiters(struct actions *t);

/* Calls and drops id's waiter, if any (outside the lock). */
void actions_wake(struct actions *t, const char *id);

/*
 * PENDING -> UNDELIVERED with error why, unless a result was claimed.
 * 0 when it changed, SIGNET_ERR_NOT_FOUND when not PENDING or unknown.
 */
int actions_mark_undelivered(struct actions *t, const char *id, const char *why,
    int64_t now_ms) __attribute__((warn_unused_result));

enum actions_verdict {
	ACTIONS_RESULT_OK,        /* claimed: audit it, then complete */
	ACTIONS_RESULT_UNKNOWN,   /* no such action_id (forgotten?) */
	ACTIONS_RESULT_DUPLICATE, /* a result was accepted already */
	ACTIONS_RESULT_MISMATCH,  /* host, container, action, hash or
	                                  state do not fit what was sent */
};

/*
 * Checks a verified result from host_id against the action it answers:
 * the action_id is known, was sent to host_id (not UNDELIVERED), and
 * container_id, action and request_sha256 match. On OK the result is
 * claimed (a second claim is DUPLICATE; deadlines no longer end it) and
 * *info (may be NULL) holds the entry. Call actions_complete on success
 * or actions_unclaim when the result could not be recorded.
 */
enum actions_verdict actions_claim_result(struct actions *t,
    const char *host_id, const struct envelope_result_payload *res,
    struct action_info *info);

/*
 * An agent's verified outcome p (from host_id) for an action in the
 * table: ACTIONS_RESULT_OK (recorded in the entry: record it in the audit
 * log first), _UNKNOWN (no such action_id), _DUPLICATE (it has an
 * outcome already), _MISMATCH (host, container, action or request_sha256
 * do not fit what was sent). Call with record false to check only.
 */
enum actions_verdict actions_set_outcome(struct actions *t, const char *host_id,
    const struct outcome_payload *p, bool record);

/* Releases a claim (the agent will send the result again). */
void actions_unclaim(struct actions *t, const char *id);

/*
 * Records the claimed result: status, error, docker_status, finished_at
 * (now_ms). Replaces TIMEOUT. 0 or SIGNET_ERR_NOT_FOUND.
 */
int actions_complete(struct actions *t,
    const struct envelope_result_payload *res, int64_t now_ms)
    __attribute__((warn_unused_result));

/*
 * Ends every PENDING, unclaimed entry whose deadline passed at now_ms as
 * TIMEOUT, copying up to max of their ids into ids (the rest end on the
 * next call). Returns how many were ended.
 */
size_t actions_expire(struct actions *t, int64_t now_ms,
    char (*ids)[ACTIONS_ID_LEN + 1], size_t max);

/* Entries held now. */
size_t actions_count(struct actions *t);

/*
 * The API's JSON of an entry: {action_id, host_id, container_id, action,
 * status, error, requested_by, reason, requested_at, finished_at,
 * docker_status} with ISO 8601 UTC times (finished_at null while PENDING;
 * docker_status null until a result). NULL on allocation failure.
 */
cJSON *actions_info_json(const struct action_info *info);

/*
 * Ends id as UNDELIVERED (why, e.g. "host web-01 disconnected"), records
 * action.undelivered {action_id, host_id, reason} in w (actor "server")
 * and wakes its waiter. Does nothing when id is no longer PENDING.
 * Returns 0, SIGNET_ERR_NOT_FOUND, or the audit error (the state changed
 * and the waiter was woken all the same).
 */
int actions_undeliver(struct actions *t, struct audit_writer *w, const char *id,
    const char *why) __attribute__((warn_unused_result));

/*
 * host_id's agent refused, unverified, an action frame whose payload
 * bytes hash to request_sha256 (frame_sha256: the whole frame's; reason:
 * the agent's words). The PENDING action of that host sent with those
 * bytes is recorded as action.unverified {action_id, host_id,
 * request_sha256, frame_sha256, reason} in w (actor "server"), then ends
 * REJECTED with no result, its error saying so, and its waiter is woken;
 * *action_id (ACTIONS_ID_LEN + 1 bytes) names it. Returns 0,
 * SIGNET_ERR_NOT_FOUND (no such PENDING action of that host: nothing
 * changed), or the audit error (nothing changed: the action ends at its
 * deadline).
 */
int actions_refused_unverified(struct actions *t, struct audit_writer *w,
    const char *host_id, const char *request_sha256, const char *frame_sha256,
    const char *reason, char *action_id) __attribute__((warn_unused_result));

/*
 * Ends what passed its deadline (actions_expire), records action.timeout
 * {action_id, host_id, container_id, deadline} for each in w and wakes
 * their waiters. Returns how many ended.
 */
size_t actions_expire_and_record(struct actions *t, struct audit_writer *w,
    int64_t now_ms);

/*
 * Narrows actions_reload's window to window_ms (0..ACTIONS_RELOAD_MS; the
 * default is ACTIONS_RELOAD_MS): [server] action_reload_window, for tests
 * of results that come after it. Returns 0 or SIGNET_ERR_INVALID_ARG.
 */
int actions_set_reload_window(struct actions *t, int64_t window_ms)
    __attribute__((warn_unused_result));

/*
 * At start: puts back the actions the audit log at audit_path shows as
 * requested in the last ACTIONS_RELOAD_MS (or the window set above;
 * rotated files included), so
 * that a result an agent sends after a server restart is still checked
 * and recorded, and GET /api/actions/ID still answers. Each
 * action.requested's embedded envelope must verify under action_pub
 * (others, e.g. signed before a key rotation, are skipped). Those with no
 * end recorded come back PENDING with their deadline at expires_at plus
 * the clock skew, after which the usual expiry records action.timeout;
 * the others come back as their action.result, action.undelivered or
 * action.timeout record left them (a TIMEOUT still takes its late result).
 * An action.result with "action_known": false (recorded while that server
 * did not hold the action) ends it only if its embedded result answers it
 * (host, container, action, request_sha256): a result an agent sent
 * while the action was forgotten still completes it, never TIMEOUT.
 * *reloaded counts the PENDING ones. No log is 0; an unreadable log or
 * line is an error (the table then holds what was read before it).
 */
int actions_reload(struct actions *t, const char *audit_path,
    const struct keys_public *action_pub, int64_t now_ms, size_t *reloaded,
    struct err_msg *msg) __attribute__((warn_unused_result));

#endif
