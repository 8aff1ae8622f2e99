/* SPDX-License-Identifier: ISC */
/*
 * The checks of cluster_verify.h: a stored action frame against the
 * action key, a stored result frame against the host's result keys and
 * the action it must answer. The wire parsers bound and check the
 * frame's shape; the envelope checks verify the signature on the exact
 * payload bytes before the payload is parsed.
 */
#include "cluster_verify.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int
cluster_verify_action(const struct keys_pubset *action_pub, const char *frame,
    struct envelope_action_payload **p, char sha[65], struct wire_frame *parts,
    struct err_msg *msg)
{
	struct err_msg sub;
	uint8_t *raw = NULL;
	size_t raw_len = 0, len;
	int rc;

	*p = NULL;
	memset(parts, 0, sizeof(*parts));
	len = frame != NULL ? strnlen(frame, CLUSTER_VERIFY_FRAME_MAX + 1) : 0;
	if (len == 0 || len > CLUSTER_VERIFY_FRAME_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the stored action frame is empty or over %d bytes",
		    CLUSTER_VERIFY_FRAME_MAX);
	err_clear(&sub);
	rc = wire_parse_server_frame(frame, len, parts, &sub);
	if (rc == 0 && parts->type != WIRE_ACTION)
		rc = err_set(&sub, SIGNET_ERR_FORMAT, "not an action frame");
	if (rc != 0) {
		rc = err_set(msg,
		    rc == SIGNET_ERR_ALLOC ? rc : SIGNET_ERR_FORMAT,
		    "the stored action frame: %s", sub.text);
		goto out;
	}
	*p = calloc(1, sizeof(**p));
	if (*p == NULL) {
		rc = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	rc = envelope_action_verify(action_pub, parts->key_id,
	    parts->payload_b64, parts->sig_b64, *p, &raw, &raw_len, &sub);
	if (rc != 0) {
		rc = err_set(msg,
		    rc == SIGNET_ERR_ALLOC ? rc : SIGNET_ERR_BAD_SIGNATURE,
		    "the stored action frame does not verify under the action "
		    "key %s: %s",
		    action_pub->count > 0 ? action_pub->keys[0].id : "(none)",
		    sub.text);
		goto out;
	}
	envelope_sha256_hex(raw, raw_len, sha);
out:
	free(raw);
	if (rc != 0) {
		if (*p != NULL)
			sodium_memzero(*p, sizeof(**p));
		free(*p);
		*p = NULL;
		wire_frame_free(parts);
	}
	return rc;
}

int
cluster_verify_result(const struct keyset *ks, const struct action_info *sent,
    const char *frame, struct envelope_result_payload *res,
    struct wire_frame *parts, char key_id[KEYS_ID_LEN + 1], struct err_msg *msg)
{
	const struct keyset_key *used = NULL;
	struct err_msg sub;
	uint8_t *raw = NULL;
	size_t raw_len = 0, len, i;
	const char *act;
	int rc;

	memset(parts, 0, sizeof(*parts));
	memset(res, 0, sizeof(*res));
	len = frame != NULL ? strnlen(frame, CLUSTER_VERIFY_FRAME_MAX + 1) : 0;
	if (len == 0 || len > CLUSTER_VERIFY_FRAME_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the stored result frame is empty or over %d bytes",
		    CLUSTER_VERIFY_FRAME_MAX);
	err_clear(&sub);
	rc = wire_parse_agent_frame(frame, len, parts, &sub);
	if (rc == 0 && parts->type != WIRE_ACTION_RESULT)
		rc = err_set(&sub, SIGNET_ERR_FORMAT, "not an action_result");
	if (rc != 0) {
		rc = err_set(msg,
		    rc == SIGNET_ERR_ALLOC ? rc : SIGNET_ERR_FORMAT,
		    "the stored result frame: %s", sub.text);
		goto out;
	}
	rc = SIGNET_ERR_BAD_SIGNATURE;
	for (i = 0; i < ks->count && rc == SIGNET_ERR_BAD_SIGNATURE; i++) {
		free(raw);
		raw = NULL;
		rc = envelope_result_verify(&ks->keys[i].pub,
		    parts->payload_b64, parts->sig_b64, res, &raw, &raw_len,
		    &sub);
		if (rc == 0)
			used = &ks->keys[i];
	}
	if (rc != 0) {
		rc = err_set(msg,
		    rc == SIGNET_ERR_ALLOC ? rc : SIGNET_ERR_BAD_SIGNATURE,
		    "the stored result does not verify under a result key of "
		    "%s: %s",
		    sent->host_id, sub.text);
		goto out;
	}
	if (used->retired && !keyset_allows(used, true, sent->requested_at)) {
		rc = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "the stored result is signed with result key %s, retired "
		    "(%s) before the action was sent",
		    used->pub.id, used->stamp);
		goto out;
	}
	act = envelope_action_name(res->action);
	if (strcmp(res->action_id, sent->action_id) != 0 ||
	    strcmp(res->host_id, sent->host_id) != 0 ||
	    strcmp(res->container_id, sent->container_id) != 0 ||
	    res->action != sent->action ||
	    strcmp(res->request_sha256, sent->request_sha256) != 0) {
		rc = err_set(msg, SIGNET_ERR_CHAIN,
		    "the stored result (action_id %s, host %s, container "
		    "%.12s, %s, request_sha256 %.16s...) does not answer the "
		    "action sent",
		    res->action_id, res->host_id, res->container_id,
		    act != NULL ? act : "?", res->request_sha256);
		goto out;
	}
	memcpy(key_id, used->pub.id, KEYS_ID_LEN + 1);
	rc = 0;
out:
	free(raw);
	if (rc != 0)
		wire_frame_free(parts);
	return rc;
}
