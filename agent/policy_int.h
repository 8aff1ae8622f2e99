/* SPDX-License-Identifier: ISC */
/*
 * Internals of the host policy engine, shared by agent/policy_*.c and
 * included nowhere else (policy.h is the contract): the rule set as
 * parsed, and what one of its files lends another. A rule set is
 * immutable once parsed except for its rate-limit windows, which only
 * policy_eval.c changes while the policy is in use (under struct
 * policy's mutex).
 */
#ifndef SIGNET_AGENT_POLICY_INT_H
#define SIGNET_AGENT_POLICY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "policy.h"

#define PATH_BUF 256 /* a JSON path in a message */
#define ESC_BUF 160  /* an escaped value in a message */

struct rate_bucket {
	char id[POLICY_CONTAINER_ID_MAX + 1];
	int64_t *ts; /* times of allowed actions, not necessarily sorted */
	size_t n, cap;
};

struct rate_table {
	struct rate_bucket *b;
	size_t n, cap;
};

struct rule_label {
	char *key;
	char *value;
};

struct rule_term {
	char group[64]; /* a name, text_valid_name */
	unsigned count; /* 1..POLICY_TERM_COUNT_MAX */
};

struct rule {
	char *name;  /* glob, NULL when not given */
	char *image; /* glob, NULL when not given */
	struct rule_label *labels;
	size_t nlabels;
	unsigned actions; /* bit (1 << a) for each allowed action a */
	char **operators;
	size_t noperators;
	bool has_operators;
	long min_reason;
	bool accept_relay; /* accept_relay_signed */
	struct rule_term terms[POLICY_TERMS_MAX];
	size_t nterms;    /* 0: no approvals */
	long wait_s;      /* approval_wait; 0 without approvals */
	long rate_max;    /* 0: no rate limit */
	long rate_per;    /* seconds */
	char *match_text; /* compact `match`, pairs windows across reloads */
	struct rate_table rate;
};

struct policy {
	char *host_id;
	char *source; /* the document's bytes, as parsed */
	size_t source_len;
	struct rule *rules;
	size_t nrules;
	pthread_mutex_t mu; /* guards every rule's rate table */
};

/* Where a parse is: the input's name for messages, and the message. */
struct pctx {
	const char *label;
	struct err_msg *msg;
};

/*
 * policy_json.c: the strict JSON layer under the parser.
 */

/* "label: what at path[; hint]" as SIGNET_ERR_POLICY; returns that. */
int policy_fail(struct pctx *c, const char *path, const char *hint,
    const char *fmt, ...)
    __attribute__((format(printf, 4, 5), warn_unused_result));

/* out = parent.key, or parent["escaped key"] for unusual keys. */
void policy_path_key(char *out, size_t outlen, const char *parent,
    const char *k, size_t n);

/* out = parent[i]. */
void policy_path_index(char *out, size_t outlen, const char *parent, long i);

/* Line and column (1-based) of offset off in buf. */
void policy_line_col(const char *buf, size_t off, size_t *line, size_t *col);

/*
 * Refuses, before cJSON sees buf[0..len), what cJSON accepts but a policy
 * must not hold: deep nesting, NUL, raw controls and \u0000 in strings,
 * non-integer numbers. 0 or SIGNET_ERR_POLICY.
 */
int policy_prescan(struct pctx *c, const char *buf, size_t len)
    __attribute__((warn_unused_result));

/*
 * Over the whole tree at node: UTF-8 keys and strings, no duplicate key,
 * no object over POLICY_OBJECT_KEYS_MAX keys. 0 or SIGNET_ERR_POLICY.
 */
int policy_walk(struct pctx *c, const cJSON *node, const char *path)
    __attribute__((warn_unused_result));

/*
 * policy_eval.c: the rate-limit windows.
 */

/* Frees every bucket of t and leaves it empty. */
void policy_rate_table_clear(struct rate_table *t);

#endif
