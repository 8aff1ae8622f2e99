/* SPDX-License-Identifier: ISC */
/*
 * Holder of the policy in force, for the agent daemon: loads it at start
 * (a bad file: refuse to start), reloads it on request (a bad new file:
 * keep the old one and log why), and swaps a good one in atomically
 * between decisions, carrying rate-limit windows across (see
 * policy_carry_rate_state).
 */
#ifndef SIGNET_AGENT_POLICY_STORE_H
#define SIGNET_AGENT_POLICY_STORE_H

#include <stdint.h>

#include "policy.h"

struct policy_store;

/*
 * Loads path with policy_load (host_id as there; copied, may be NULL) into
 * a new store (*out; policy_store_free it). Returns policy_load's codes or
 * SIGNET_ERR_ALLOC; on failure *out is NULL and msg says why.
 */
int policy_store_open(const char *path, const char *host_id,
    struct policy_store **out, struct err_msg *msg)
    __attribute__((warn_unused_result, nonnull(1, 3)));

/* Frees s and the policy in force. NULL allowed. */
void policy_store_free(struct policy_store *s);

/*
 * Parses the file at path (NULL: the store's current path) completely and
 * only then swaps it in, waiting for a running decision to finish; on
 * success the store remembers path. On any failure the old policy stays in
 * force, msg says why, and the failure is logged. Returns 0 or
 * policy_load's codes. Not async-signal-safe: call it from the main loop
 * (see policy_store_request_reload).
 */
int policy_store_reload(struct policy_store *s, const char *path,
    struct err_msg *msg) __attribute__((warn_unused_result, nonnull(1)));

/*
 * Async-signal-safe: marks that a reload is wanted. A SIGHUP handler calls
 * this; the main loop then calls policy_store_reload_if_requested.
 */
void policy_store_request_reload(struct policy_store *s);

/*
 * If a reload was requested since the last call, performs it. Returns 1
 * when a new policy is in force, 0 when none was requested, or a negative
 * code when the new file was refused (old policy kept, msg says why).
 */
int policy_store_reload_if_requested(struct policy_store *s,
    struct err_msg *msg) __attribute__((nonnull(1)));

/*
 * policy_decide against the policy in force; the policy cannot be swapped
 * while it runs. Same return and *dec contract as policy_decide.
 */
int policy_store_decide(struct policy_store *s,
    const struct policy_request *req, struct policy_decision *dec)
    __attribute__((warn_unused_result));

/* Counts successful loads: 1 after open, +1 per accepted reload. */
uint64_t policy_store_generation(struct policy_store *s);

/* Rules in the policy in force. */
size_t policy_store_rule_count(struct policy_store *s);

/*
 * A copy of the policy document in force (*len bytes, NUL-terminated;
 * free()), for the server to learn when a request needs approvals. NULL
 * when out of memory.
 */
char *policy_store_source(struct policy_store *s, size_t *len);

/*
 * The longest approval_wait of the policy in force, in ms (0 when no rule
 * takes approvals): how much longer than a relayed action an operator's
 * request may live, and so how far back the seen set must reach.
 */
int64_t policy_store_max_wait_ms(struct policy_store *s);

#endif
