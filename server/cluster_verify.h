/* SPDX-License-Identifier: ISC */
/*
 * What a replica checks before it believes a row of the cluster database
 * (docs/cluster.md, "Actions across replicas"): a stored action frame is
 * relayed, or shown, only when it is exactly an action frame whose
 * envelope verifies under the action key; a stored result frame is taken
 * only when it is exactly an action_result frame whose envelope verifies
 * under one of the host's result keys (a retired key only for an action
 * sent before it was retired) and answers the action sent: its
 * action_id, host_id, container_id, action and request_sha256. Every
 * byte is hostile: lengths are bounded before anything is parsed.
 * Pure functions, thread-safe.
 */
#ifndef SIGNET_CLUSTER_VERIFY_H
#define SIGNET_CLUSTER_VERIFY_H

#include <stdint.h>

#include "actions.h"
#include "envelope.h"
#include "err.h"
#include "keys.h"
#include "keyset.h"
#include "wire.h"

/* The longest stored frame taken (the agent channel's message bound). */
#define CLUSTER_VERIFY_FRAME_MAX (1024 * 1024)

/*
 * Checks frame (NUL-terminated text) as a stored action frame under
 * action_pub. On success *p (a new payload: wipe and free() it), sha (the
 * hex SHA-256 of the signed payload bytes) and *parts (the frame's
 * payload, sig and key_id: wire_frame_free it) are set. Returns 0,
 * SIGNET_ERR_FORMAT (empty, over CLUSTER_VERIFY_FRAME_MAX, not an action
 * frame), SIGNET_ERR_BAD_SIGNATURE (does not verify under the action
 * key, or its payload is not an action) or SIGNET_ERR_ALLOC; msg says
 * why. Nothing is set on error.
 */
int cluster_verify_action(const struct keys_pubset *action_pub,
    const char *frame, struct envelope_action_payload **p, char sha[65],
    struct wire_frame *parts, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Checks frame as a stored result of the action sent (action_id,
 * host_id, container_id, action, request_sha256, requested_at) under
 * ks, the keys of sent->host_id. On success *res, *parts (wire_frame_free
 * it) and key_id (the key it verified under) are set. Returns 0,
 * SIGNET_ERR_FORMAT (empty, too long, not an action_result frame),
 * SIGNET_ERR_BAD_SIGNATURE (no key verifies it, its payload is not a
 * result, or a retired key signed an action sent after it was retired),
 * SIGNET_ERR_CHAIN (a valid result that answers another action) or
 * SIGNET_ERR_ALLOC; msg says why. *parts is empty on error.
 */
int cluster_verify_result(const struct keyset *ks,
    const struct action_info *sent, const char *frame,
    struct envelope_result_payload *res, struct wire_frame *parts,
    char key_id[KEYS_ID_LEN + 1], struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
