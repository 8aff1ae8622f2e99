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
 * Memory grows with the actions in the files given: an action whose
 * result was seen keeps 32 bytes (its action_id and the two seqs, to
 * refuse a second request or result for it), one still waiting for its
 * result also what its result must match (about 200 bytes more, freed
 * when the result comes); the table is at most 3/4 full. Freed by
 * audit_tie_free.
 *
 * The checks come in two parts so that the offline verifier can make the
 * first on any thread: audit_tie_check_record (the record against the
 * signed result, no table) and audit_tie_add_request / audit_tie_add_result
 * (the table, in log order); audit_tie_request and audit_tie_result make
 * both.
 */
#ifndef SIGNET_AUDIT_TIE_H
#define SIGNET_AUDIT_TIE_H

#include <stdbool.h>
#include <stddef.h>
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
 * No result will be tied (the verifier has no agent keys): from now on a
 * request keeps only its action_id and seq (to refuse a second one), not
 * what its result must match. audit_tie_add_result then refuses
 * (SIGNET_ERR_INVALID_ARG) a result for such a request.
 */
void audit_tie_ids_only(struct audit_tie *t);

/*
 * Remembers the action.requested record at seq whose embedded action
 * payload is raw[0..len) (already verified, or recorded unchecked), parsed
 * as act. Returns 0, SIGNET_ERR_ALLOC, or SIGNET_ERR_CHAIN when the
 * action_id was requested or answered before in these files.
 */
int audit_tie_request(struct audit_tie *t, uint64_t seq,
    const struct envelope_action_payload *act, const uint8_t *raw, size_t len,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* What the table needs of one action or result. */
struct audit_tie_item {
	char action_id[33]; /* 32 lowercase hex */
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	/* An action: the SHA-256 of its exact bytes; a result: the
	 * request_sha256 it signed. */
	char sha256[65];
};

/* The item of an action whose exact payload bytes are raw[0..len). */
void audit_tie_item_action(const struct envelope_action_payload *act,
    const uint8_t *raw, size_t len, struct audit_tie_item *it);

/* The item of a verified result. */
void audit_tie_item_result(const struct envelope_result_payload *res,
    struct audit_tie_item *it);

/*
 * audit_tie_request with the item made: 0, SIGNET_ERR_ALLOC,
 * SIGNET_ERR_FORMAT (an action_id that is not 32 lowercase hex digits),
 * or SIGNET_ERR_CHAIN as audit_tie_request.
 */
int audit_tie_add_request(struct audit_tie *t, uint64_t seq,
    const struct audit_tie_item *it, struct err_msg *msg)
    __attribute__((warn_unused_result));

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

/*
 * The first part of audit_tie_result, which needs no table: the record's
 * members against res, and data.action_known, whose false *unknown
 * receives. 0 or SIGNET_ERR_CHAIN with msg as audit_tie_result.
 */
int audit_tie_check_record(const cJSON *data,
    const struct envelope_result_payload *res, bool *unknown,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The second part: the result's item against the table (unknown: the
 * record said "action_known": false). Returns as audit_tie_result, or
 * SIGNET_ERR_FORMAT (an action_id that is not 32 lowercase hex digits).
 */
int audit_tie_add_result(struct audit_tie *t, uint64_t seq,
    const struct audit_tie_item *it, bool unknown, bool may_precede,
    struct err_msg *msg) __attribute__((warn_unused_result));

#endif
