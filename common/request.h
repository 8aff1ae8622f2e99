/* SPDX-License-Identifier: ISC */
/*
 * Operator-signed requests and approvals (docs/operators.md). An operator
 * signs the request payload's exact bytes under REQUEST_CONTEXT with the
 * key the roster lists for them; an approver signs the very same bytes
 * under APPROVAL_CONTEXT, so a request signature never counts as an
 * approval and an approval cannot be moved to another request. Signatures
 * are checked on the exact bytes before they are parsed; the parse is
 * strict. Approvers are counted by distinct public key, never by name, and
 * the requester (by key or by name) never counts.
 */
#ifndef SIGNET_REQUEST_H
#define SIGNET_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "err.h"
#include "keys.h"
#include "request_types.h"
#include "roster.h"

#define REQUEST_CONTEXT "signet/request/v1\n"
#define APPROVAL_CONTEXT "signet/approve/v1\n"
/*
 * REQUEST_PAYLOAD_MAX, REQUEST_APPROVALS_MAX and struct request_approval
 * (an approval as it travels: {"key_id","sig"}) are in request_types.h,
 * which the action payload (envelope.h) shares.
 */
/*
 * expires_at - issued_at of a request: at most the longest approval
 * wait a policy may set (24 h) plus the relay's own lifetime.
 */
#define REQUEST_WAIT_MAX_MS (24LL * 3600 * 1000)
#define REQUEST_LIFETIME_MAX_MS (REQUEST_WAIT_MAX_MS + ENVELOPE_MAX_LIFETIME_MS)

/* The request as the operator signed it. */
struct request_payload {
	char action_id[33];
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	char reason[ENVELOPE_REASON_BYTES + 1];
	char requested_by[64];
	int64_t issued_at;
	int64_t expires_at;
	int64_t roster_version; /* the roster the operator signed under */
};

/* A signed request as it travels: {"payload","sig","key_id"}. */
struct request_signed {
	char *payload_b64;
	char *sig_b64;
	char key_id[KEYS_ID_LEN + 1];
};

/*
 * Serialises p as the compact payload JSON (a new string, free()), its
 * members in the order request_decode lists. Returns 0,
 * SIGNET_ERR_INVALID_ARG (no such action), SIGNET_ERR_ALLOC.
 */
int request_encode(const struct request_payload *p, char **json)
    __attribute__((warn_unused_result));

/*
 * Strictly parses request payload bytes ({"v":1,"action_id","host_id",
 * "container_id","action","reason","requested_by","issued_at",
 * "expires_at","roster_version"}; rules as the action payload's, plus
 * roster_version 1..2^53-1 and issued_at < expires_at <= issued_at +
 * REQUEST_LIFETIME_MAX_MS; at most REQUEST_PAYLOAD_MAX bytes).
 * SIGNET_ERR_FORMAT naming the member ("request.reason: ..."),
 * SIGNET_ERR_TOO_LARGE; *out is zeroed on failure.
 */
int request_decode(const void *json, size_t len, struct request_payload *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Encodes and signs p with key under REQUEST_CONTEXT into out (free with
 * request_signed_free). Returns 0, SIGNET_ERR_TOO_LARGE, SIGNET_ERR_ALLOC,
 * SIGNET_ERR_INVALID_ARG (as request_encode).
 */
int request_sign(const struct request_payload *p, const struct keys_secret *key,
    struct request_signed *out) __attribute__((warn_unused_result));

/*
 * Signs the exact request payload bytes under APPROVAL_CONTEXT into out.
 * Returns 0 or SIGNET_ERR_INVALID_ARG (no bytes, or over
 * REQUEST_PAYLOAD_MAX).
 */
int request_approve(const uint8_t *payload, size_t len,
    const struct keys_secret *key, struct request_approval *out)
    __attribute__((warn_unused_result));

/*
 * What the verified request is: its payload and exact bytes, and the
 * roster entry of the key that signed it.
 */
struct request_verified {
	struct request_payload p;
	uint8_t *raw; /* exact payload bytes (free()) */
	size_t raw_len;
	char sha256[65];                      /* hex SHA-256 of raw */
	const struct roster_operator *signer; /* points into the roster */
};

/*
 * Verifies a signed request against roster r at now_ms, in this order:
 * key_id names an operator of r (SIGNET_ERR_UNKNOWN_KEY "key K is not in
 * roster version N"); the signature holds on the exact decoded payload
 * bytes (SIGNET_ERR_BAD_SIGNATURE); the payload parses
 * (SIGNET_ERR_FORMAT); requested_by is the signer's roster name
 * (SIGNET_ERR_FORMAT "signed by NAME's key but names OTHER"); the
 * operator's not_after is after now_ms and after issued_at
 * (SIGNET_ERR_PERMISSIONS "operator NAME's key expired ...");
 * roster_version <= r->version (SIGNET_ERR_NOT_FOUND "signed under roster
 * version N; this host holds M"). It does not judge the request's own
 * time window or the roster's expiry (the callers do, each with their own
 * rule). Also SIGNET_ERR_TOO_LARGE (payload over REQUEST_PAYLOAD_MAX),
 * SIGNET_ERR_ALLOC, SIGNET_ERR_INVALID_ARG (r or s NULL). On success out
 * is filled (request_verified_free); on failure it is zeroed.
 */
int request_verify(const struct roster *r, const struct request_signed *s,
    int64_t now_ms, struct request_verified *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* One approval after checking, for the audit log and the policy. */
struct request_approver {
	const struct roster_operator *op; /* NULL when not in the roster */
	char key_id[KEYS_ID_LEN + 1];
	bool valid;    /* counts: signature held, key distinct, not requester */
	char why[160]; /* when not valid: why it does not count */
};

/*
 * Checks approvals a[0..n) of the verified request v against roster r at
 * now_ms, each independently, and fills out[0..n) in the same order. An
 * approval counts (valid) when its key_id is in r, that operator's
 * not_after is after now_ms, the signature holds over APPROVAL_CONTEXT ||
 * v->raw, its key is not the requester's and its operator name is not the
 * requester's, and no earlier approval with the same key counted. The
 * reasons, in words: "key K is not in roster version N", "bad signature",
 * "the requester cannot approve", "key K approved already", "operator
 * NAME's key expired ...". Returns the number of valid approvals, or a
 * negative SIGNET_ERR_INVALID_ARG (n over REQUEST_APPROVALS_MAX).
 */
int request_check_approvals(const struct roster *r,
    const struct request_verified *v, const struct request_approval *a,
    size_t n, int64_t now_ms, struct request_approver *out);

/*
 * The operator's signed request an action relays, as its texts, into out
 * (request_signed_free). Returns 0, SIGNET_ERR_NOT_FOUND (the action
 * carries no request), SIGNET_ERR_ALLOC.
 */
int request_from_action(const struct envelope_action_payload *a,
    struct request_signed *out) __attribute__((warn_unused_result));

/*
 * Whether the server's action a says what the operator's verified request
 * r says: action_id, host_id, container_id, action, reason and
 * requested_by equal, and the action expiring no later than the request
 * (a relay cannot extend the operator's window). Returns 0 or
 * SIGNET_ERR_FORMAT "the relay changed the request: MEMBER differs" (or
 * "... the action's expires_at E is after the request's R").
 */
int request_matches_action(const struct request_payload *r,
    const struct envelope_action_payload *a, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Frees the strings of s (not s); NULL allowed. */
void request_signed_free(struct request_signed *s);
/* Frees v->raw; NULL allowed. */
void request_verified_free(struct request_verified *v);

#endif
