/* SPDX-License-Identifier: ISC */
/*
 * The verifier's ties between results and actions: each action.requested
 * record is remembered by action_id (the SHA-256 of the exact signed
 * action bytes the server recorded, its host, container and verb), and
 * each action.result record is checked against the agent-signed result it
 * embeds and against that action. A server holding its audit key can
 * write any record; the agent's signature on request_sha256 is what
 * proves which action a result answers, so a result paired with other
 * action bytes, or a record that says other than the signed result, is
 * refused naming the field and both values.
 *
 * Memory grows with the actions in the files given (one small entry per
 * action_id), freed by audit_tie_free.
 */
#ifndef SIGNET_AUDIT_TIE_H
#define SIGNET_AUDIT_TIE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "envelope.h"
#include "err.h"

struct audit_tie;

/* A new empty table in *out. 0 or SIGNET_ERR_ALLOC. */
int audit_tie_new(struct audit_tie **out) __attribute__((warn_unused_result));

/* NULL allowed. */
void audit_tie_free(struct audit_tie *t);

/*
 * Remembers the action.requested record at seq whose embedded action
 * payload is raw[0..len) (already verified, or recorded unchecked), parsed
 * as act. Returns 0, SIGNET_ERR_ALLOC, or SIGNET_ERR_CHAIN when the
 * action_id was requested or answered before in these files.
 */
int audit_tie_request(struct audit_tie *t, uint64_t seq,
    const struct envelope_action_payload *act, const uint8_t *raw, size_t len,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* What audit_tie_result found for one result. */
enum audit_tie_verdict {
	AUDIT_TIE_TIED = 1, /* its action.requested is in the files */
	AUDIT_TIE_UNTIED,   /* not: earlier file, or marked unknown */
};

/*
 * Checks the action.result record at seq (data) against res, the result
 * its data.result carries, verified under the host's result key: the
 * record's action_id, host_id, status, and container_id and
 * docker_status when present, must equal the signed result's; then the
 * result must answer the action.requested of its action_id: same
 * request_sha256, host_id, container_id and action. A result whose
 * action is not in the files is AUDIT_TIE_UNTIED when data says
 * "action_known": false (the server did not know it) or when
 * may_precede (the files do not start the log at seq 0); otherwise it is
 * refused. Returns the verdict (> 0), SIGNET_ERR_ALLOC, or
 * SIGNET_ERR_CHAIN with msg naming the field and both values.
 */
int audit_tie_result(struct audit_tie *t, uint64_t seq, const cJSON *data,
    const struct envelope_result_payload *res, bool may_precede,
    struct err_msg *msg) __attribute__((warn_unused_result));

#endif
