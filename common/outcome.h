/* SPDX-License-Identifier: ISC */
/*
 * The signed follow-up of an action whose result was UNKNOWN
 * (docs/protocol.md, "Outcome payload"): what the agent observed once
 * dockerd answered again, by comparing the container's state before the
 * call with its state after. Signed with the agent's result key under its
 * own context, so that an outcome can never pass for a result or an
 * action. Verification checks the signature on the exact bytes before
 * anything is parsed, and the parse is strict; the comparison that
 * decides what is observed is here too, so that one rule serves the
 * agent and the tests.
 */
#ifndef SIGNET_OUTCOME_H
#define SIGNET_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "envelope.h"
#include "err.h"
#include "keys.h"

#define OUTCOME_CTX "signet/outcome/v1\n"
#define OUTCOME_TIME_MAX 40      /* dockerd's RFC 3339 text */
#define OUTCOME_DETAIL_BYTES 512 /* why, in words */
#define OUTCOME_PID_MAX 4194304LL
#define OUTCOME_COUNT_MAX 2147483647LL

enum outcome_observed {
	OUTCOME_NONE = 0,
	OUTCOME_RAN,          /* the container's state shows the action */
	OUTCOME_NOT_RUN,      /* it does not */
	OUTCOME_UNDETERMINED, /* the states cannot tell */
};

/* The members of dockerd's State that say whether an action happened. */
struct outcome_state {
	bool running;
	int64_t pid;
	int64_t restart_count; /* restarts by the restart policy */
	char started_at[OUTCOME_TIME_MAX + 1];
	char finished_at[OUTCOME_TIME_MAX + 1];
};

struct outcome_payload {
	char action_id[33];
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	char request_sha256[65];
	enum outcome_observed observed;
	char detail[OUTCOME_DETAIL_BYTES + 1];
	bool has_before, has_after; /* else null in the payload */
	struct outcome_state before, after;
	int64_t observed_at; /* unix ms */
};

/* "ran", "not_run", "undetermined"; NULL for NONE or unknown values. */
const char *outcome_observed_name(enum outcome_observed o);

/* True when s is a time text dockerd may give: 1..40 of [0-9A-Z:.+-]. */
bool outcome_time_valid(const char *s);

/*
 * What the states say about action: before (NULL: not known) and after.
 * Writes the verdict's reason into detail. RESTART and START ran when
 * StartedAt changed, STOP when FinishedAt changed; a changed RestartCount
 * (the restart policy acted too) or an unknown before is UNDETERMINED.
 */
enum outcome_observed outcome_compare(enum envelope_action action,
    const struct outcome_state *before, const struct outcome_state *after,
    char *detail, size_t detail_len);

/* A state as a JSON object (audit records), or NULL (no memory). */
cJSON *outcome_state_json(const struct outcome_state *st);

/*
 * The data of an action.outcome audit record (both sides' logs): p's
 * members (action as action_name, the states as state_before and
 * state_after, each null when not known) and the signed outcome as
 * {"outcome":{"payload","sig"}}. A new object, or NULL (no memory).
 */
cJSON *outcome_record(const struct outcome_payload *p, const char *payload_b64,
    const char *sig_b64);

/*
 * Reads a state object strictly (exactly the five members, each checked).
 * Returns 0 or SIGNET_ERR_FORMAT with msg.
 */
int outcome_state_from_json(const cJSON *o, const char *path,
    struct outcome_state *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Signs p with the agent's result key under OUTCOME_CTX into env (free
 * with envelope_free). Returns 0, SIGNET_ERR_INVALID_ARG (p not valid),
 * SIGNET_ERR_TOO_LARGE or SIGNET_ERR_ALLOC.
 */
int outcome_sign(const struct outcome_payload *p, const struct keys_secret *key,
    struct envelope *env) __attribute__((warn_unused_result));

/*
 * Checks the signature of payload_b64 under pub on the exact bytes, then
 * parses it strictly into *out. raw/raw_len, when non-NULL, receive the
 * payload bytes (free()). Returns 0, SIGNET_ERR_FORMAT,
 * SIGNET_ERR_TOO_LARGE, SIGNET_ERR_BAD_SIGNATURE or SIGNET_ERR_ALLOC.
 */
int outcome_verify(const struct keys_public *pub, const char *payload_b64,
    const char *sig_b64, struct outcome_payload *out, uint8_t **raw,
    size_t *raw_len, struct err_msg *msg) __attribute__((warn_unused_result));

#endif
