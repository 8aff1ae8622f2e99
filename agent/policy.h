/* SPDX-License-Identifier: ISC */
/*
 * The host policy engine (docs/policy.md): parses the host owner's policy file
 * strictly into an immutable rule set and decides, from dockerd's own facts
 * about a container, whether an action by an operator with a reason may
 * run. Default deny. The only mutable state is the in-memory rate-limit
 * window (a restart of the agent forgets it), guarded by a mutex.
 */
#ifndef SIGNET_AGENT_POLICY_H
#define SIGNET_AGENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "err.h"

#define POLICY_FILE_MAX (1024 * 1024) /* bytes */
#define POLICY_DEPTH_MAX 8            /* JSON nesting levels */
#define POLICY_RULES_MAX 1000
#define POLICY_LABELS_MAX 64         /* per rule */
#define POLICY_OBJECT_KEYS_MAX 64    /* keys in any one JSON object */
#define POLICY_OPERATORS_MAX 256     /* per rule */
#define POLICY_GLOB_MAX 256          /* bytes */
#define POLICY_LABEL_KEY_MAX 256     /* bytes */
#define POLICY_LABEL_VALUE_MAX 1024  /* bytes */
#define POLICY_COMMENT_MAX 4096      /* bytes */
#define POLICY_REASON_MAX 512        /* characters; docs/http-api.md */
#define POLICY_RATE_MAX_MAX 10000    /* rate_limit.max */
#define POLICY_RATE_WINDOW_MAX 86400 /* rate_limit.per_seconds */
#define POLICY_RATE_KEYS_MAX 4096    /* containers tracked per rule */
#define POLICY_CONTAINER_ID_MAX 128  /* bytes */
#define POLICY_TERMS_MAX 8           /* approval terms per rule */
#define POLICY_TERM_COUNT_MAX 16     /* approvals.count */
#define POLICY_WAIT_MIN 60           /* approval_wait, seconds */
#define POLICY_WAIT_MAX 86400        /* approval_wait, seconds */
#define POLICY_WAIT_DEFAULT 3600     /* approval_wait when not given */
#define POLICY_SKEW_MS 300000        /* request lifetime beyond the wait */
#define POLICY_APPROVERS_MAX 256     /* approvers judged per request */

/*
 * How far a rule got for a request, in the order the checks run. A deny
 * names the stage where the nearest rule (the one that got furthest; the
 * first of equals) failed.
 */
enum policy_stage {
	POLICY_STAGE_NAME = 0,  /* match.name glob */
	POLICY_STAGE_IMAGE,     /* match.image glob */
	POLICY_STAGE_LABELS,    /* match.labels */
	POLICY_STAGE_ACTION,    /* actions */
	POLICY_STAGE_SIGNED,    /* operator signature (accept_relay_signed) */
	POLICY_STAGE_OPERATOR,  /* operators */
	POLICY_STAGE_REASON,    /* min_reason_length */
	POLICY_STAGE_LIFETIME,  /* request lifetime (approval_wait) */
	POLICY_STAGE_APPROVALS, /* approvals */
	POLICY_STAGE_RATE,      /* rate_limit */
	POLICY_STAGE_ALLOWED    /* every check held */
};

struct policy_label {
	const char *key;
	const char *value;
};

/*
 * One already-verified approval of a request: the approver's roster name,
 * key id and groups (as the roster in force says). NULL strings are
 * treated as empty.
 */
struct policy_approver {
	const char *name;
	const char *key_id;
	const char *const *groups;
	size_t ngroups;
};

/*
 * One approval term of a rule: count distinct approvers from group.
 */
struct policy_approval_term {
	char group[64];
	unsigned count;
};

/*
 * One request, described by dockerd's facts and the signed action. NULL
 * strings are treated as empty. name may carry dockerd's leading '/' (one
 * is stripped). container_id keys the rate limit. now_ms is read from one
 * clock the caller keeps using (CLOCK_MONOTONIC is best: policy_now_ms()).
 * action is the envelope's own: only START, STOP and RESTART can ever be
 * allowed; ENVELOPE_ACTION_NONE or any other value is denied.
 *
 * operator_signed is true only when the operator's own request signature
 * was verified against the roster (operator_name is then the signer);
 * false for an action signed by the relay alone, whose operator_name is
 * the server's word. request_lifetime_ms is expires_at - issued_at of the
 * operator's request (0 when there is none). approvers are approvals the
 * caller has already verified over the request bytes: distinct keys,
 * none of them the requester's. The policy does not rely on that: it
 * counts each key id and each name at most once, never an approver named
 * operator_name or without a key id or name, and judges at most the first
 * POLICY_APPROVERS_MAX. NULL with napprovers 0 for none.
 */
struct policy_request {
	const char *container_id;
	const char *name;
	const char *image;
	const struct policy_label *labels;
	size_t nlabels;
	enum envelope_action action;
	const char *operator_name;
	const char *reason;
	int64_t now_ms;
	bool operator_signed;
	int64_t request_lifetime_ms;
	const struct policy_approver *approvers;
	size_t napprovers;
};

struct policy_decision {
	bool allow;
	int rule;                /* allowing rule, or the nearest rule */
	enum policy_stage stage; /* POLICY_STAGE_ALLOWED when allowed */
	char text[ERR_MSG_MAX];  /* "allowed by rule N" or why not */
};

/* An immutable rule set plus its rate-limit window. */
struct policy;

/*
 * "START", "STOP", "RESTART"; "?" for ENVELOPE_ACTION_NONE and anything
 * else. Never NULL.
 */
const char *policy_action_name(enum envelope_action a);

/*
 * Parses an exact action name ("START", "STOP", "RESTART"; never NONE)
 * into *out. 0, or SIGNET_ERR_FORMAT with *out untouched.
 */
int policy_action_parse(const char *s, enum envelope_action *out)
    __attribute__((warn_unused_result));

/*
 * Parses the policy document buf[0..len) (need not be NUL-terminated).
 * label names the input in messages (a path; NULL gives "policy").
 * host_id, when not NULL, must equal the file's host_id. On success *out
 * is a new policy (policy_free it); on failure *out is NULL, msg says
 * "label: what is wrong at json.path" and the return is SIGNET_ERR_POLICY,
 * SIGNET_ERR_TOO_LARGE (over POLICY_FILE_MAX) or SIGNET_ERR_ALLOC.
 */
int policy_parse(const char *buf, size_t len, const char *label,
    const char *host_id, struct policy **out, struct err_msg *msg)
    __attribute__((warn_unused_result, nonnull(1, 5)));

/*
 * Opens path (symlinks refused), checks it the way sshd's StrictModes
 * would — a regular file owned by root or the effective user, not writable
 * by group or others, in directories that others cannot write to (sticky
 * root-owned ones like /tmp excepted) — reads at most POLICY_FILE_MAX bytes
 * and parses it as policy_parse does. Returns 0, SIGNET_ERR_NOT_FOUND,
 * SIGNET_ERR_IO, SIGNET_ERR_PERMISSIONS, SIGNET_ERR_TOO_LARGE,
 * SIGNET_ERR_POLICY or SIGNET_ERR_ALLOC; msg always starts with path.
 */
int policy_load(const char *path, const char *host_id, struct policy **out,
    struct err_msg *msg) __attribute__((warn_unused_result, nonnull(1, 3)));

/* Frees p and its rate-limit state. NULL allowed. */
void policy_free(struct policy *p);

/* The document's bytes as parsed (*len of them). Valid while p lives. */
const char *policy_source(const struct policy *p, size_t *len);

/* The file's host_id. Valid while p lives. */
const char *policy_host_id(const struct policy *p);

/* Number of rules (at least 1). */
size_t policy_rule_count(const struct policy *p);

/*
 * Writes a one-line summary of rule i into buf (always terminated, may be
 * truncated with "..."): its matchers, actions, whether an operator
 * signature is required, operators, reason length, approval terms and
 * wait, and rate limit, values escaped. Returns buf.
 */
char *policy_rule_describe(const struct policy *p, size_t i, char *buf,
    size_t len);

/*
 * The approval requirement of rule i, for the agent to tell the server:
 * copies its terms into terms[0..max) and sets *n to their number and
 * *wait_ms to its approval_wait in milliseconds (both 0 for a rule that
 * needs no approvals). Returns 0; SIGNET_ERR_INVALID_ARG when p, n or
 * wait_ms is NULL or i is out of range (*n and *wait_ms 0 when not NULL);
 * SIGNET_ERR_TOO_LARGE when the rule has more than max terms (*n says how
 * many, terms holds the first max). terms may be NULL when max is 0.
 */
int policy_rule_approvals(const struct policy *p, size_t i,
    struct policy_approval_term *terms, size_t max, size_t *n, int64_t *wait_ms)
    __attribute__((warn_unused_result));

/*
 * True when rule i accepts an action signed by the relay alone
 * (accept_relay_signed); false otherwise, for a NULL p or i out of range.
 */
bool policy_rule_accepts_relay(const struct policy *p, size_t i);

/*
 * Decides req against p and, when allowed by a rule with a rate limit,
 * counts the action in that rule's window for req->container_id. Rules are
 * tried in order; the first that allows wins. A request whose action is
 * not START, STOP or RESTART (ENVELOPE_ACTION_NONE included) is denied
 * before any rule is tried: 0, rule -1, stage POLICY_STAGE_ACTION.
 * Thread-safe. Returns 0 with *dec filled (allow or deny), or a negative
 * SIGNET_ERR_* (bad arguments, no memory for the rate-limit window) with
 * *dec set to deny: callers must treat anything but (0 and dec->allow) as
 * deny.
 */
int policy_decide(struct policy *p, const struct policy_request *req,
    struct policy_decision *dec) __attribute__((warn_unused_result));

/*
 * As policy_decide but counts nothing (for --explain and dry runs); the
 * rate limit is still judged on the current window.
 */
int policy_evaluate(struct policy *p, const struct policy_request *req,
    struct policy_decision *dec) __attribute__((warn_unused_result));

/*
 * Judges one rule i for req without counting: returns the stage where it
 * failed (POLICY_STAGE_ALLOWED when it would allow) and writes why into
 * why (always terminated). For per-rule explanations.
 */
enum policy_stage policy_rule_check(struct policy *p, size_t i,
    const struct policy_request *req, char *why, size_t whylen);

/*
 * Moves the rate-limit windows of from into to for every rule of to whose
 * `match` is textually the same as an unclaimed rule of from (first come,
 * first paired), so that a reload does not hand out a fresh allowance.
 * Windows of rules that changed their match are dropped. Takes both locks;
 * call with no decision running on from (policy_store does so).
 */
void policy_carry_rate_state(struct policy *to, struct policy *from);

/* Milliseconds of CLOCK_MONOTONIC, for policy_request.now_ms. */
int64_t policy_now_ms(void);

/*
 * Counts the characters (code points) of the UTF-8 text s[0..len).
 * Returns the count, or -1 if s is not valid UTF-8 (overlong forms,
 * surrogates and values past U+10FFFF are invalid).
 */
long policy_utf8_chars(const char *s, size_t len);

/*
 * Checks a name/image glob: printable ASCII, 1..POLICY_GLOB_MAX bytes,
 * balanced '[...]' with known [:class:] names and ordered ranges, no
 * trailing '\'. Returns true if fnmatch(3) will take it as meant; else
 * false with why (a short phrase) set when why is not NULL.
 */
bool policy_glob_valid(const char *glob, const char **why);

#endif
