/* SPDX-License-Identifier: ISC */
/*
 * Signed envelopes (docs/protocol.md). A payload is a compact JSON document; it
 * travels as base64 of its exact bytes, with an Ed25519 detached signature
 * over CONTEXT || payload-bytes. Verification always checks the signature
 * on the exact received bytes before anything is parsed, and the parse is
 * strict (unknown keys, wrong types, out-of-range values are refused).
 */
#ifndef SIGNET_ENVELOPE_H
#define SIGNET_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "err.h"
#include "keys.h"
#include "request_types.h"

#define ENVELOPE_CTX_ACTION "signet/action/v1\n"
#define ENVELOPE_CTX_RESULT "signet/result/v1\n"

#define ENVELOPE_PAYLOAD_MAX 8192 /* decoded payload bytes */
/*
 * Decoded bytes of an action payload, which may carry an operator's
 * request and its approvals: a maximal one (a 2 KiB reason in the action
 * and again in base64 of the request, REQUEST_APPROVALS_MAX approvals)
 * takes about 10 KiB.
 */
#define ENVELOPE_ACTION_PAYLOAD_MAX 16384
#define ENVELOPE_REASON_CHARS 512 /* reason: 1..512 characters */
#define ENVELOPE_REASON_BYTES (4 * ENVELOPE_REASON_CHARS)
#define ENVELOPE_ERROR_BYTES 1024         /* result error text */
#define ENVELOPE_MAX_LIFETIME_MS 300000LL /* expires_at - issued_at */
#define ENVELOPE_SKEW_MS 30000LL
/*
 * The results window, one number for both sides (SECURITY.md, "Failure
 * handling"): a restarted server puts back the actions requested this
 * long ago (ACTIONS_RELOAD_MS), and a restarted agent puts back the
 * results it made this long ago (EXECUTOR_OUTBOX_KEEP_MS) to send again.
 */
#define ENVELOPE_RESULT_WINDOW_MS (10LL * 60 * 1000)

enum envelope_action {
	ENVELOPE_ACTION_NONE = 0,
	ENVELOPE_ACTION_START,
	ENVELOPE_ACTION_STOP,
	ENVELOPE_ACTION_RESTART,
};

enum envelope_status {
	ENVELOPE_STATUS_NONE = 0,
	ENVELOPE_STATUS_SUCCESS,
	ENVELOPE_STATUS_FAILURE,
	ENVELOPE_STATUS_DENIED,
	ENVELOPE_STATUS_REJECTED,
	/*
	 * dockerd was asked to act but gave no answer (no answer by the
	 * call's deadline, or the connection broke): it may still act.
	 */
	ENVELOPE_STATUS_UNKNOWN,
};

/*
 * An operator's signed request as an action carries it: the texts of
 * request.h's struct request_signed, verbatim (request_verify judges
 * them; the action's decode only checks their form).
 */
struct envelope_request {
	char payload_b64[REQUEST_PAYLOAD_B64_MAX + 1];
	char sig_b64[REQUEST_SIG_B64_SIZE];
	char key_id[KEYS_ID_LEN + 1];
};

struct envelope_action_payload {
	char action_id[33]; /* 32 lowercase hex */
	char host_id[64];
	char container_id[65]; /* 64 lowercase hex */
	enum envelope_action action;
	char reason[ENVELOPE_REASON_BYTES + 1];
	char requested_by[64];
	int64_t issued_at;  /* unix ms */
	int64_t expires_at; /* unix ms */
	/* Optional: the operator's request and its approvals, relayed. */
	bool has_request;
	struct envelope_request request;
	size_t napprovals; /* 0 unless has_request */
	struct request_approval approvals[REQUEST_APPROVALS_MAX];
	/*
	 * Optional "server_head":"SEQ:HASH": the server's audit log head
	 * when it signed the action (docs/protocol.md#cross-anchored-heads).
	 */
	bool has_server_head;
	struct audit_head server_head;
};

struct envelope_result_payload {
	char action_id[33];
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	enum envelope_status status;
	bool has_error;
	char error[ENVELOPE_ERROR_BYTES + 1];
	int64_t docker_status; /* 0 when dockerd was not called */
	int64_t started_at;    /* unix ms */
	int64_t finished_at;
	char request_sha256[65]; /* hex SHA-256 of the action payload */
	/*
	 * Optional "agent_head":"SEQ:HASH": the agent's audit log head when
	 * it signed the result; sent only for an action that carried
	 * server_head (a server that sends one parses one).
	 */
	bool has_agent_head;
	struct audit_head agent_head;
};

/* A signed envelope as it travels: base64 texts and the key id. */
struct envelope {
	char *payload_b64;
	char *sig_b64;
	char key_id[KEYS_ID_LEN + 1];
};

/* "START" etc.; NULL for NONE or unknown values. */
const char *envelope_action_name(enum envelope_action a);
/* Parses "START"/"STOP"/"RESTART" (exact case); NONE if unknown. */
enum envelope_action envelope_action_parse(const char *s);
const char *envelope_status_name(enum envelope_status s);
enum envelope_status envelope_status_parse(const char *s);

/*
 * The most decoded payload bytes an envelope under context may carry:
 * ENVELOPE_ACTION_PAYLOAD_MAX under ENVELOPE_CTX_ACTION, else
 * ENVELOPE_PAYLOAD_MAX.
 */
size_t envelope_payload_max(const char *context);

/*
 * Signs payload[0..len) under context with key, filling env (free with
 * envelope_free). Returns 0, SIGNET_ERR_TOO_LARGE (len 0 or over
 * envelope_payload_max(context)), SIGNET_ERR_ALLOC.
 */
int envelope_sign(const char *context, const void *payload, size_t len,
    const struct keys_secret *key, struct envelope *env)
    __attribute__((warn_unused_result));

/*
 * Decodes payload_b64, checks sig_b64 over context || payload with pub.
 * On success *payload is a new NUL-terminated buffer of *len bytes
 * (free()). Returns 0, SIGNET_ERR_FORMAT (bad base64), SIGNET_ERR_TOO_LARGE
 * (over envelope_payload_max(context)), SIGNET_ERR_BAD_SIGNATURE.
 */
int envelope_open(const char *context, const char *payload_b64,
    const char *sig_b64, const struct keys_public *pub, uint8_t **payload,
    size_t *len, struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Serialises an action payload as compact JSON (new string, free()), its
 * members in the order of docs/protocol.md; "request" only when
 * has_request, "approvals" only when napprovals > 0. Returns 0,
 * SIGNET_ERR_INVALID_ARG (no such action; approvals without a request or
 * over REQUEST_APPROVALS_MAX), SIGNET_ERR_ALLOC.
 */
int envelope_action_encode(const struct envelope_action_payload *a, char **json)
    __attribute__((warn_unused_result));

/*
 * Strictly parses an action payload of at most ENVELOPE_ACTION_PAYLOAD_MAX
 * bytes: exactly v, action_id, host_id, container_id, action, reason,
 * requested_by, issued_at, expires_at, and optionally request (exactly
 * payload: base64 of 1..REQUEST_PAYLOAD_MAX bytes, sig: base64 of 64
 * bytes, key_id: 16 lowercase hex) and approvals (only with a request:
 * 0..REQUEST_APPROVALS_MAX objects of exactly key_id and sig, as in
 * request). Neither the request nor the approvals are verified here, and
 * an approval by the same key twice is not refused (counting refuses
 * it). Returns 0, SIGNET_ERR_TOO_LARGE, SIGNET_ERR_FORMAT naming the
 * member; *out is zeroed on failure.
 */
int envelope_action_decode(const void *json, size_t len,
    struct envelope_action_payload *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Reads the members an action payload and an operator's request
 * (request.c) share from the parsed object root: v (1), action_id,
 * host_id, container_id, action, reason, requested_by, issued_at and
 * expires_at, with the action payload's rules; path names root in
 * messages ("payload.reason: ..."). It judges only these members (the
 * caller refuses others). Fills out's members of those names; returns 0
 * or SIGNET_ERR_FORMAT naming the member.
 */
struct cJSON;
int envelope_action_members(const struct cJSON *root, const char *path,
    struct envelope_action_payload *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

int envelope_result_encode(const struct envelope_result_payload *res,
    char **json) __attribute__((warn_unused_result));

int envelope_result_decode(const void *json, size_t len,
    struct envelope_result_payload *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Verifies an action envelope against the pinned key set: the key_id must
 * name a pinned key (else SIGNET_ERR_UNKNOWN_KEY), the signature must hold,
 * and the payload must parse. raw/raw_len, when non-NULL, receive the exact
 * payload bytes (free()) for request_sha256 and the audit log.
 */
int envelope_action_verify(const struct keys_pubset *pinned, const char *key_id,
    const char *payload_b64, const char *sig_b64,
    struct envelope_action_payload *out, uint8_t **raw, size_t *raw_len,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Verifies a result envelope under an agent's result key. */
int envelope_result_verify(const struct keys_public *agent_key,
    const char *payload_b64, const char *sig_b64,
    struct envelope_result_payload *out, uint8_t **raw, size_t *raw_len,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Signs an action payload with the action key. */
int envelope_action_sign(const struct envelope_action_payload *a,
    const struct keys_secret *key, struct envelope *env)
    __attribute__((warn_unused_result));

/* Signs a result payload with the agent's result key. */
int envelope_result_sign(const struct envelope_result_payload *res,
    const struct keys_secret *key, struct envelope *env)
    __attribute__((warn_unused_result));

/*
 * Checks an action's timing at now (unix ms): not expired (with skew),
 * not issued in the future beyond skew, lifetime within the maximum.
 */
int envelope_action_check_time(const struct envelope_action_payload *a,
    int64_t now_ms, struct err_msg *msg) __attribute__((warn_unused_result));

/* Hex SHA-256 of buf into hex (65 bytes). */
void envelope_sha256_hex(const void *buf, size_t len, char hex[static 65]);

/*
 * Adds name:{"payload","sig","key_id"} (a signed envelope as records and
 * frames carry it) to obj; false on allocation failure.
 */
struct cJSON;
bool envelope_add_json(struct cJSON *obj, const char *name,
    const char *payload_b64, const char *sig_b64, const char *key_id);

/* Frees the strings of env (not env itself); NULL allowed. */
void envelope_free(struct envelope *env);

#endif
