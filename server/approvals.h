/* SPDX-License-Identifier: ISC */
/*
 * Operator-signed requests waiting for approvals at the server (docs/
 * operators.md, "Approvals at the server"). A request whose host's own
 * policy wants approvals it does not have yet waits here, with what the
 * host's policy asks for, until enough operators approve it (then it is
 * relayed, and the action table takes over), an operator refuses it, or
 * the request expires. The server is never the judge: what waits here
 * is relayed once the host's policy, as the host shared it, would allow
 * it, and the host judges it again. Thread-safe (one mutex).
 */
#ifndef SIGNET_APPROVALS_H
#define SIGNET_APPROVALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "envelope.h"
#include "err.h"
#include "policy.h"
#include "request.h"

#define APPROVALS_MAX 1024                /* entries held */
#define APPROVALS_KEEP_MS (3600LL * 1000) /* ended entries kept 1 h */
/*
 * How far back a restarted server looks for requests still waiting: the
 * longest a request may live, and the clocks' skew.
 */
#define APPROVALS_RELOAD_MS (REQUEST_LIFETIME_MAX_MS + ENVELOPE_SKEW_MS)
#define APPROVALS_WHY_MAX (ENVELOPE_REASON_BYTES + 128)

enum approval_state {
	APPROVAL_AWAITING = 0, /* waits for approvals */
	APPROVAL_RELAYED,      /* the requirement was met: see the action */
	APPROVAL_REFUSED,      /* an operator refused it */
	APPROVAL_EXPIRED,      /* the request expired first */
};

/* One waiting request, as a copy safe to use after the table changed. */
struct approval_entry {
	char action_id[33];
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	char reason[ENVELOPE_REASON_BYTES + 1];
	char requested_by[64];
	int64_t issued_at, expires_at; /* the operator's request's */
	int64_t created_at, finished_at;
	struct envelope_request request; /* the signed request, verbatim */
	size_t nterms;                   /* what the host's policy asks */
	struct policy_approval_term terms[POLICY_TERMS_MAX];
	int64_t wait_ms;
	size_t napprovals; /* accepted so far, in order */
	struct request_approval approvals[REQUEST_APPROVALS_MAX];
	char approvers[REQUEST_APPROVALS_MAX][64];
	enum approval_state state;
	char why[APPROVALS_WHY_MAX + 1]; /* refused by whom and why, ... */
};

struct approvals;

/* "AWAITING_APPROVAL", "RELAYED", "REFUSED", "EXPIRED"; never NULL. */
const char *approval_state_name(enum approval_state s);

/* A new empty table; NULL when out of memory. */
struct approvals *approvals_new(void);
void approvals_free(struct approvals *t);

/*
 * Adds e (AWAITING) at now_ms, forgetting ended entries older than
 * APPROVALS_KEEP_MS first. Returns 0, SIGNET_ERR_EXISTS (the id waits
 * or waited here), SIGNET_ERR_UNAVAILABLE (APPROVALS_MAX entries still
 * waiting), SIGNET_ERR_ALLOC.
 */
int approvals_add(struct approvals *t, const struct approval_entry *e,
    int64_t now_ms) __attribute__((warn_unused_result));

/* Copies entry id into *out: 0 or SIGNET_ERR_NOT_FOUND. */
int approvals_get(struct approvals *t, const char *id,
    struct approval_entry *out) __attribute__((warn_unused_result));

/*
 * Appends an accepted approval by approver to id, which must be
 * AWAITING. Returns 0, SIGNET_ERR_NOT_FOUND, SIGNET_ERR_UNAVAILABLE (no
 * longer awaiting), SIGNET_ERR_EXISTS (that key approved already),
 * SIGNET_ERR_TOO_LARGE (REQUEST_APPROVALS_MAX reached); *out (may be
 * NULL) is the entry after it.
 */
int approvals_approve(struct approvals *t, const char *id,
    const struct request_approval *a, const char *approver,
    struct approval_entry *out) __attribute__((warn_unused_result));

/*
 * Ends id, which must be AWAITING, as state (RELAYED, REFUSED or
 * EXPIRED) with why at now_ms: exactly one caller gets 0 for an entry;
 * the others SIGNET_ERR_UNAVAILABLE. SIGNET_ERR_NOT_FOUND when unknown.
 */
int approvals_end(struct approvals *t, const char *id,
    enum approval_state state, const char *why, int64_t now_ms)
    __attribute__((warn_unused_result));

/*
 * The AWAITING entries whose request expired at now_ms (with the skew):
 * up to max of their ids, for the caller to record and end.
 */
size_t approvals_due(struct approvals *t, int64_t now_ms, char (*ids)[33],
    size_t max);

/*
 * The API's JSON of an entry: {action_id, host_id, container_id, action,
 * status, error, requested_by, reason, requested_at, expires_at,
 * operator_signed, needs [{group, count}], approval_wait, approvals
 * [{name, key_id}], request {payload, sig, key_id}}. NULL when out of
 * memory.
 */
cJSON *approvals_entry_json(const struct approval_entry *e);

/*
 * Adds e's approval_wait (s), needs [{group, count}] and request {payload,
 * sig, key_id} to o; false when out of memory.
 */
bool approvals_put_request(cJSON *o, const struct approval_entry *e);

/*
 * At start (approvals_reload.c): puts back the requests the audit log at
 * audit_path (rotated files included) shows waiting for approvals in the
 * last APPROVALS_RELOAD_MS, with the approvals taken for them; those the
 * log shows refused, expired or relayed are not put back. *reloaded
 * counts those waiting. A record that cannot be read back is logged and
 * skipped (its request is checked again at its next approval anyway).
 * Returns 0 (no log is 0), or the reader's error (the table then holds
 * what was read before it).
 */
int approvals_reload(struct approvals *t, const char *audit_path,
    int64_t now_ms, size_t *reloaded, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* {"approvals":[entries still AWAITING, oldest first]}; NULL: no memory. */
cJSON *approvals_list_json(struct approvals *t);

#endif
