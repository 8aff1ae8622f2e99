/* SPDX-License-Identifier: ISC */
/*
 * The reconciliation of a server's audit log with its agents' logs
 * (docs/audit.md, "Reconciling"): every log is verified in full, then
 * every action is joined across the logs by action_id and each step —
 * requested, received (or refused), dispatched, executed, result
 * recorded, and the approvals — is checked against the others; each
 * mismatch is a problem of a stable kind (RECONCILE_KIND_*).
 *
 * Memory stays bounded however many actions the logs hold: a partitioned
 * (Grace) hash join. Each log is streamed once and each action-related
 * record becomes a small fact line in one of RECONCILE_PARTITIONS
 * temporary files chosen by its action_id's leading hex digits; each
 * partition is then loaded alone, joined and classified, and each
 * finished action (compact JSON, the ACTION shape of
 * docs/schema/reconcile.schema.json) is appended to a "problems" or an
 * "ok" spill file. Heads that one log claims of another (an action's
 * "server_head", a result's "agent_head") are checked by streaming the
 * claimed log against its claims in sorted chunks. Temporary files are
 * made under $TMPDIR (else /tmp), mode 0600, and unlinked at once.
 */
#ifndef SIGNET_RECONCILE_H
#define SIGNET_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "err.h"
#include "keys.h"

#define RECONCILE_SCHEMA "signet.audit.reconcile/v1"
#define RECONCILE_PARTITIONS 256
#define RECONCILE_LOGS_MAX 4096 /* logs in one reconciliation */

/* The problem kinds (docs/audit.md, "Reconciling"). */
#define RECONCILE_KIND_LOG_INVALID "log_invalid"
#define RECONCILE_KIND_HOST_LOG_MISSING "host_log_missing"
#define RECONCILE_KIND_NOT_REQUESTED "not_requested"
#define RECONCILE_KIND_NOT_RECEIVED "not_received"
#define RECONCILE_KIND_RESULT_DIFFERS "result_differs"
#define RECONCILE_KIND_AGENT_LOG_SHORT "agent_log_short"
#define RECONCILE_KIND_RUN_AFTER_EXPIRY "run_after_expiry"
#define RECONCILE_KIND_DUPLICATE_EXECUTION "duplicate_execution"
#define RECONCILE_KIND_WRONG_HOST "wrong_host"
#define RECONCILE_KIND_APPROVALS_DIFFER "approvals_differ"
#define RECONCILE_KIND_ACTION_DIFFERS "action_differs"
#define RECONCILE_KIND_FOREIGN_HEAD_MISMATCH "foreign_head_mismatch"
#define RECONCILE_KIND_RESULT_UNKNOWN_ACTION "result_unknown_action"
#define RECONCILE_KIND_RESULT_NOT_RECORDED "result_not_recorded"
#define RECONCILE_KIND_DECISION_DIFFERS "decision_differs"
#define RECONCILE_KIND_REQUESTED_TWICE "requested_twice"
#define RECONCILE_SERVER_KEYS_MAX 16 /* --key given per replica */

enum reconcile_role {
	RECONCILE_SERVER = 1,
	RECONCILE_AGENT,
};

/* One log: its files in chain order (oldest first). */
struct reconcile_log {
	enum reconcile_role role;
	const char *const *files;
	size_t nfiles;
};

struct reconcile_opts {
	const struct keys_public *server_key; /* the server's audit key */
	/*
	 * Cluster replicas with audit keys of their own: each server log
	 * verifies under the first of these under which it verifies (then
	 * server_key is not used); n_server_keys 0: server_key alone.
	 */
	const struct keys_public *server_keys;
	size_t n_server_keys; /* at most RECONCILE_SERVER_KEYS_MAX */
	const struct keys_pubset *action_keys; /* required */
	const char *agent_keys_dir; /* DIR/HOST-ID.pub: results, agent logs */
	const struct audit_request_rosters *rosters; /* NULL: not checked */
	int64_t now_ms;                              /* generated_at */
	const char *tmpdir; /* NULL: $TMPDIR, else /tmp */
	unsigned jobs;      /* audit_verify_opts.jobs for each log */
};

struct reconcile;

/*
 * Verifies and joins logs[0..n) (one RECONCILE_SERVER log, or one per
 * cluster replica, any number of agent logs, at most RECONCILE_LOGS_MAX
 * in all). With several server logs an action is joined across all of
 * them: requested in one (a second action.requested in another log, or
 * other bytes, is requested_twice), relayed (action.relayed) by others
 * with the same signed action, its results recorded by any, all alike;
 * each ACTION then says which replica did what ("replicas"), and an
 * action's server_head is checked against the log that requested it. An agent
 * log's host is the host_id its first records carry; its audit key is
 * agent_keys_dir/HOST-ID.pub. A log that does not verify is a problem
 * (kind log_invalid, in the summary), not an error: its lines that
 * still parse as records are joined all the same, so that what the
 * tampering changed is named too. On success *out holds the summary and the
 * finished actions (reconcile_free). Returns 0; SIGNET_ERR_INVALID_ARG
 * (no server log, or too many logs or keys); SIGNET_ERR_NOT_FOUND (an agent
 * log names no host, or its key is missing) or SIGNET_ERR_IO /
 * SIGNET_ERR_ALLOC (a temporary file, memory), each with msg.
 */
int reconcile_run(const struct reconcile_opts *opts,
    const struct reconcile_log *logs, size_t n, struct reconcile **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* The SUMMARY object (owned by r). */
const cJSON *reconcile_summary(const struct reconcile *r);

/* Whether nothing is wrong: every log valid, no host missing, no problem. */
bool reconcile_clean(const struct reconcile *r);

/*
 * The next finished action, those with problems first: 1 with *action a
 * new ACTION object (cJSON_Delete it), 0 after the last, or
 * SIGNET_ERR_IO / SIGNET_ERR_FORMAT / SIGNET_ERR_ALLOC (a spill file
 * cannot be read back). reconcile_rewind starts over.
 */
int reconcile_next(struct reconcile *r, cJSON **action)
    __attribute__((warn_unused_result));
int reconcile_rewind(struct reconcile *r) __attribute__((warn_unused_result));

/*
 * One action as the text report's line, e.g. "PROBLEM 3f2a9c01 web-01
 * STOP nginx by alice: not_received (...)" (new string, free()); NULL
 * on allocation failure.
 */
char *reconcile_action_text(const cJSON *action);

/* NULL allowed. */
void reconcile_free(struct reconcile *r);

#endif
