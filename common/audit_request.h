/* SPDX-License-Identifier: ISC */
/*
 * The offline verifier's check of the operators' requests an audit log
 * records (docs/audit.md, "Verifying"): every action envelope that
 * verified under the action key and relays an operator's signed request
 * is checked again here, against the signed roster files the reviewer
 * gives (the versions in force over the log's time), at the record's own
 * time: the request's signature on its exact bytes, the approvals by
 * distinct key, and what the record claims ("requester", its key id,
 * roster version and counted approvals). A writer that holds its audit
 * key can write any record, so a record that says "verified" where the
 * operator's signature does not hold is a failure named as such.
 */
#ifndef SIGNET_AUDIT_REQUEST_H
#define SIGNET_AUDIT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "envelope.h"
#include "err.h"
#include "identity.h"
#include "keys.h"
#include "request_types.h"

#define AUDIT_REQUEST_ROSTERS_MAX 256 /* roster files given */

/* The verified rosters given to the verifier, by version. */
struct audit_request_rosters;

/*
 * Reads the signed roster files paths[0..n) (each at most
 * ROSTER_FILE_MAX bytes) and verifies each with roster_verify against
 * the pinned roster keys and threshold. Two files of one version must be
 * the same bytes. On success *out holds them (audit_request_rosters_free).
 * Returns 0; SIGNET_ERR_INVALID_ARG (n 0 or over
 * AUDIT_REQUEST_ROSTERS_MAX, threshold 0); SIGNET_ERR_NOT_FOUND,
 * SIGNET_ERR_IO, SIGNET_ERR_PERMISSIONS, SIGNET_ERR_TOO_LARGE (a file
 * cannot be read); SIGNET_ERR_FORMAT, SIGNET_ERR_BAD_SIGNATURE (a file
 * refused, or two different files of one version); SIGNET_ERR_ALLOC. msg
 * names the file.
 */
int audit_request_rosters_load(const char *const *paths, size_t n,
    const struct keys_pubset *pinned, unsigned threshold,
    struct audit_request_rosters **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* NULL allowed. */
void audit_request_rosters_free(struct audit_request_rosters *rs);

/* What the verifier found for one action's operator request. */
enum audit_request_verdict {
	/* The request's signature and every counted approval hold. */
	AUDIT_REQUEST_VERIFIED = 1,
	/* No operator request: the requester is the server's word. */
	AUDIT_REQUEST_SERVER_ASSERTED,
	/*
	 * The record itself says "unverified" (the host refused the
	 * request): reported with why, not a failure.
	 */
	AUDIT_REQUEST_UNVERIFIED,
	/* A check failed, or the record claims what does not hold. */
	AUDIT_REQUEST_FAILED,
	/* It carries a request, but no rosters were given. */
	AUDIT_REQUEST_UNCHECKED,
};

/* One approval relayed with the request, as the verifier judged it. */
struct audit_request_approval {
	char key_id[KEYS_ID_LEN + 1];
	char name[IDENTITY_NAME_MAX + 1]; /* "" when not in the roster */
	bool counted;                     /* it counts for the verifier */
	char why[160];                    /* when not counted */
};

struct audit_request_finding {
	uint64_t seq;
	int64_t ts;
	char event[AUDIT_EVENT_MAX + 1];
	char action_id[33];
	enum audit_request_verdict verdict;
	/*
	 * The requester: the verified signer's name when the request
	 * verified, else the action's requested_by (the server's word).
	 */
	char requester[64];
	char key_id[KEYS_ID_LEN + 1]; /* the request's key id; "" none */
	int64_t roster_version;       /* the roster judged against; 0 none */
	size_t napprovals;            /* when the request verified */
	struct audit_request_approval approvals[REQUEST_APPROVALS_MAX];
	char why[ERR_MSG_MAX]; /* FAILED, UNVERIFIED, UNCHECKED: why */
};

/*
 * Judges the operator request of the record rec whose embedded action
 * act verified under the action key. rs NULL: no rosters given (a request
 * is AUDIT_REQUEST_UNCHECKED; a record without one is still judged). The
 * roster is the one whose version is the record's data.roster_version
 * when it names one (agent records), else the newest whose version is at
 * least the request's roster_version and that was issued at or before
 * the record's ts (only when there is none, one issued up to
 * ROSTER_SKEW_MS after it). Signatures, keys' not_after and approvals are
 * judged at rec->ts. The record's claims are
 * compared with what verified: data.requester ("verified" must verify,
 * "server-asserted" must carry no request), data.requester_key_id, and
 * each data.approvals entry (same key_id as the action's approval at its
 * index; "counted": true must be counted). Except in action.rejected
 * records, the action must say what the request says
 * (request_matches_action). Fills *out (its verdict and why). Returns 0,
 * SIGNET_ERR_INVALID_ARG (a NULL argument) or SIGNET_ERR_ALLOC.
 */
int audit_request_check(const struct audit_request_rosters *rs,
    const struct audit_record *rec, const struct envelope_action_payload *act,
    struct audit_request_finding *out) __attribute__((warn_unused_result));

/* "verified", "server-asserted", "unverified", "failed", "not checked". */
const char *audit_request_verdict_name(enum audit_request_verdict v);

#endif
