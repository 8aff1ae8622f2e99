/* SPDX-License-Identifier: ISC */
/*
 * The agent channel's frames (docs/protocol.md, "Frames"): the one place
 * that writes or reads their JSON. Builders serialise what they are given
 * (tests build hostile frames with them too); parsers are strict, one per
 * frame type: exactly the members the protocol lists, each type- and
 * size-checked, peer bytes escaped in every message. The signed envelopes
 * inside action and action_result frames are only carried here, as the
 * exact base64 texts received; envelope.c verifies them. The hello is the
 * exception: its signature is the agent's proof that it holds its result
 * key, bound to the server's challenge, and only means something checked,
 * so wire_parse_hello verifies it (on the exact payload bytes, before the
 * payload is parsed).
 */
#ifndef SIGNET_WIRE_H
#define SIGNET_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "err.h"
#include "identity.h"
#include "inventory.h"
#include "audit.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "roster.h"

#define WIRE_VERSION_MAX 64 /* agent_version, docker_version */
#define WIRE_HELLO_MAX 4096 /* bytes of a hello, before parsing */
/* base64 of an ENVELOPE_PAYLOAD_MAX payload, with room to spare */
#define WIRE_PAYLOAD_B64_MAX (ENVELOPE_PAYLOAD_MAX / 3 * 4 + 8)
/*
 * base64 of an ENVELOPE_ACTION_PAYLOAD_MAX payload (an action's, which
 * may carry an operator's request and approvals), with room to spare: a
 * largest action frame is about 22 KB, under what the agent takes in
 * one message (CHANNEL_RX_MAX, EXECUTOR_FRAME_MAX: 64 KiB).
 */
#define WIRE_ACTION_PAYLOAD_B64_MAX (ENVELOPE_ACTION_PAYLOAD_MAX / 3 * 4 + 8)
#define WIRE_SIG_B64_MAX 128
#define WIRE_KEY_ID_MAX 64    /* a key_id as carried, unchecked */
#define WIRE_CHALLENGE_LEN 32 /* bytes of the server's challenge */
#define WIRE_REASON_MAX 512   /* bytes of a frame_refused's reason */
/* base64 of a ROSTER_FILE_MAX roster file */
#define WIRE_ROSTER_B64_MAX (ROSTER_FILE_MAX / 3 * 4 + 8)
/*
 * base64 of the largest policy document an agent shares with its server
 * (a larger one is not sent: the server then relays signed requests at
 * once, and the host judges them as always).
 */
#define WIRE_POLICY_B64_MAX (768 * 1024)
/* What a hello's signature covers, before the payload's bytes. */
#define WIRE_HELLO_CONTEXT "signet/hello/v1\n"

enum wire_type {
	WIRE_NONE = 0,
	WIRE_HELLO,          /* agent -> server, first frame */
	WIRE_INVENTORY,      /* agent -> server */
	WIRE_ACTION_RESULT,  /* agent -> server */
	WIRE_ACTION,         /* server -> agent */
	WIRE_RESULT_ACK,     /* server -> agent */
	WIRE_ACTION_OUTCOME, /* agent -> server: what an UNKNOWN became */
	WIRE_OUTCOME_ACK,    /* server -> agent */
	WIRE_CHALLENGE,      /* server -> agent, first frame */
	WIRE_FRAME_REFUSED,  /* agent -> server: an action frame unverified */
	WIRE_ROSTER,         /* server -> agent: the signed operator roster */
	WIRE_ROSTER_STATUS,  /* agent -> server: the roster version it holds */
	WIRE_POLICY,         /* agent -> server: the policy it enforces */
	WIRE_CHECKPOINT,     /* agent -> server: its log's signed checkpoint */
	WIRE_CHECKPOINT_ACK, /* server -> agent: the checkpoint size it holds */
	WIRE_DRAIN,          /* server -> agent: leave within within_ms */
};

/* A drain's within_ms is at most this (ten minutes). */
#define WIRE_DRAIN_MAX_MS 600000

/* A hello's payload: who the agent is, and the challenge it answers. */
struct wire_hello {
	char host_id[IDENTITY_NAME_MAX + 1];
	char agent_version[WIRE_VERSION_MAX + 1];
	char docker_version[WIRE_VERSION_MAX + 1];
	char result_key_id[KEYS_ID_LEN + 1];
	uint8_t challenge[WIRE_CHALLENGE_LEN];
	/*
	 * Optional "audit_head":"SEQ:HASH": the agent's audit log head. An
	 * agent that sends it anchors its results to its log and takes
	 * actions that carry the server's head (cross-anchored heads).
	 */
	bool has_audit_head;
	struct audit_head audit_head;
};

/*
 * The server has durably recorded the result (result_ack) or the outcome
 * (outcome_ack) of this very request.
 */
struct wire_result_ack {
	char action_id[33];      /* 32 lowercase hex */
	char request_sha256[65]; /* 64 lowercase hex */
};

/*
 * The agent refused an action frame it could not verify: the SHA-256 of
 * the exact frame bytes, of its payload's bytes when it had a payload
 * ("" when not: then only the frame's hash binds it), and why. It names
 * no action: nothing of the frame is taken as a fact.
 */
struct wire_refusal {
	char frame_sha256[65];   /* 64 lowercase hex */
	char request_sha256[65]; /* 64 lowercase hex, or "" */
	char reason[WIRE_REASON_MAX + 1];
};

/*
 * A parsed frame (wire_frame_free it). type says which members are set:
 * hello (HELLO), inv (INVENTORY), payload_b64 and sig_b64 (ACTION and
 * ACTION_RESULT, ACTION_OUTCOME: the texts as received, for the
 * envelope's check on the exact bytes), key_id (ACTION: as received; the
 * pinned set judges it), ack (RESULT_ACK, OUTCOME_ACK), challenge
 * (CHALLENGE), refusal (FRAME_REFUSED).
 */
/*
 * Which roster the agent holds (version 0 and sha256 "" when none), and,
 * when it refused the roster it was last sent, why (refused "" when not).
 */
struct wire_roster_status {
	int64_t version;
	char sha256[65]; /* 64 lowercase hex of the held file, or "" */
	char refused[WIRE_REASON_MAX + 1];
};

/*
 * An agent's audit checkpoint (docs/transparency.md, "Agents'
 * checkpoints"): the signed note as received (only bounded here; the
 * server opens it with the host's key), the size the server last
 * acknowledged on this connection, and the RFC 6962 consistency proof
 * from that size to the note's (none when old is 0).
 */
struct wire_checkpoint {
	char *note; /* NUL-terminated, note_len bytes (owned) */
	size_t note_len;
	uint64_t old;
	size_t nproof;
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
};

struct wire_frame {
	enum wire_type type;
	struct wire_hello hello;
	struct inventory *inv;
	char *payload_b64;
	char *sig_b64;
	char key_id[WIRE_KEY_ID_MAX + 1];
	struct wire_result_ack ack;
	uint8_t challenge[WIRE_CHALLENGE_LEN];
	struct wire_refusal refusal;
	struct wire_roster_status roster; /* roster_status */
	struct wire_checkpoint cp;        /* checkpoint */
	uint64_t cp_size;                 /* checkpoint_ack */
	uint32_t drain_ms;                /* drain: within_ms */
	/* roster: the signed file's base64 text, in payload_b64; policy: the
	 * policy document's base64 text, in payload_b64 */
};

/* The frame's "type" text ("hello", ...); NULL for NONE or unknown. */
const char *wire_type_name(enum wire_type type);

/*
 * Builders. Each serialises its frame compactly into *out, a new
 * NUL-terminated string of *len bytes (free()). Nothing is validated: a
 * parser judges what it gets. Return 0, SIGNET_ERR_INVALID_ARG (a NULL
 * member) or SIGNET_ERR_ALLOC; *out is NULL on failure.
 */
/*
 * The hello: its payload ({"v":1, host_id, agent_version, docker_version,
 * result_key_id, challenge: 64 lowercase hex}) signed with key over
 * WIRE_HELLO_CONTEXT || payload bytes, in {"type":"hello","payload",
 * "sig"}. key NULL leaves sig out (a test's hello without a proof).
 * Returns 0, SIGNET_ERR_INVALID_ARG, SIGNET_ERR_TOO_LARGE or
 * SIGNET_ERR_ALLOC.
 */
int wire_build_hello(const struct wire_hello *h, const struct keys_secret *key,
    char **out, size_t *len) __attribute__((warn_unused_result));
/* The challenge: {"type":"challenge","nonce":"<64 lowercase hex>"}. */
int wire_build_challenge(const uint8_t nonce[static WIRE_CHALLENGE_LEN],
    char **out, size_t *len) __attribute__((warn_unused_result));
int wire_build_inventory(const struct inventory *inv, char **out, size_t *len)
    __attribute__((warn_unused_result));
/* An action frame: a signed envelope's payload, sig and key_id texts. */
int wire_build_action(const char *payload_b64, const char *sig_b64,
    const char *key_id, char **out, size_t *len)
    __attribute__((warn_unused_result));
/* An action_result frame: a signed envelope's payload and sig texts. */
int wire_build_result(const char *payload_b64, const char *sig_b64, char **out,
    size_t *len) __attribute__((warn_unused_result));
int wire_build_result_ack(const struct wire_result_ack *ack, char **out,
    size_t *len) __attribute__((warn_unused_result));
/*
 * {"type":"frame_refused","frame_sha256"[,"request_sha256"],"reason"}:
 * request_sha256 only when not "".
 */
int wire_build_frame_refused(const struct wire_refusal *ref, char **out,
    size_t *len) __attribute__((warn_unused_result));
/* An action_outcome frame: a signed outcome's payload and sig texts. */
int wire_build_outcome(const char *payload_b64, const char *sig_b64, char **out,
    size_t *len) __attribute__((warn_unused_result));
int wire_build_outcome_ack(const struct wire_result_ack *ack, char **out,
    size_t *len) __attribute__((warn_unused_result));

/*
 * {"type":"roster","roster":"<base64 of the signed roster file>"}: the
 * text is carried as given; the agent decodes and verifies it.
 */
int wire_build_roster(const char *roster_b64, char **out, size_t *len)
    __attribute__((warn_unused_result));
/*
 * {"type":"roster_status","version":N,"roster_sha256":"<hex>"|""
 * [,"refused":"why"]}: refused only when not "".
 */
int wire_build_roster_status(const struct wire_roster_status *st, char **out,
    size_t *len) __attribute__((warn_unused_result));

/* {"type":"policy","policy":"<base64 of the policy document>"}. */
int wire_build_policy(const char *policy_b64, char **out, size_t *len)
    __attribute__((warn_unused_result));

/*
 * {"type":"checkpoint","note":"<the signed note>","old":M,"proof":[
 * "<base64 of 32 bytes>",...]}: note NUL-terminated (notes hold no NUL),
 * proof[0..nproof) (NULL allowed when nproof is 0). Returns 0,
 * SIGNET_ERR_INVALID_ARG (note NULL, proof NULL with nproof > 0, old over
 * 2^53-1) or SIGNET_ERR_ALLOC.
 */
int wire_build_checkpoint(const char *note, uint64_t old,
    const uint8_t (*proof)[MERKLE_HASH_LEN], size_t nproof, char **out,
    size_t *len) __attribute__((warn_unused_result));

/*
 * {"type":"drain","within_ms":N}: the server stops, and asks the agent to
 * leave for another server within N ms (docs/protocol.md). Returns 0,
 * SIGNET_ERR_INVALID_ARG (N over WIRE_DRAIN_MAX_MS) or SIGNET_ERR_ALLOC.
 */
int wire_build_drain(uint32_t within_ms, char **out, size_t *len)
    __attribute__((warn_unused_result));

/*
 * {"type":"checkpoint_ack","size":N}. Returns 0, SIGNET_ERR_INVALID_ARG
 * (size over 2^53-1) or SIGNET_ERR_ALLOC.
 */
int wire_build_checkpoint_ack(uint64_t size, char **out, size_t *len)
    __attribute__((warn_unused_result));

/*
 * Checks and parses the agent's first frame buf[0..len) against the key
 * registered for the certificate's host (pub) and the challenge sent on
 * this connection, in this order: at most WIRE_HELLO_MAX bytes; exactly
 * type "hello", payload and sig (strings); sig verifies under pub over
 * WIRE_HELLO_CONTEXT || the payload's exact bytes; then the payload
 * strictly: exactly v (1), host_id (a valid name), agent_version and
 * docker_version (1..64 of [A-Za-z0-9._+~:-]), result_key_id (16
 * lowercase hex) and challenge (64 lowercase hex), which must be the
 * challenge sent. *out is zeroed on entry and filled on success only.
 * Returns 0; SIGNET_ERR_TOO_LARGE or SIGNET_ERR_FORMAT (not a well-formed
 * hello); SIGNET_ERR_BAD_SIGNATURE (no proof: sig missing, not verifying
 * under pub, or made for another challenge); SIGNET_ERR_ALLOC. msg says
 * why.
 */
int wire_parse_hello(const char *buf, size_t len, const struct keys_public *pub,
    const uint8_t challenge[static WIRE_CHALLENGE_LEN], struct wire_hello *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Parses a frame an agent sends after its hello: an inventory (rows as
 * inventory_from_frame checks them), an action_result or an
 * action_outcome (exactly payload and sig, non-empty base64-sized
 * strings), a frame_refused, or a roster_status (version 0..2^53-1,
 * roster_sha256 64 lowercase hex or "" exactly when version is 0,
 * refused 1..WIRE_REASON_MAX bytes without control bytes, optional), or a
 * policy (exactly policy, 1..WIRE_POLICY_B64_MAX bytes, in payload_b64;
 * decoded and parsed by its reader), or a checkpoint (exactly note,
 * 1..NOTE_SIZE_MAX bytes, opened by its reader; old, 0..2^53-1; proof,
 * an array of 0..MERKLE_PROOF_MAX canonical base64 texts of 32 bytes
 * each, empty when old is 0; in out->cp). Any other type, a second hello
 * included, is refused. *out is zeroed on entry. Returns 0,
 * SIGNET_ERR_FORMAT / SIGNET_ERR_TOO_LARGE or SIGNET_ERR_ALLOC, with msg.
 */
int wire_parse_agent_frame(const char *buf, size_t len, struct wire_frame *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Parses a frame the server sends: an action (exactly payload, sig and
 * key_id, strings within their bounds, key_id free of control bytes), a
 * result_ack or an outcome_ack (exactly action_id, 32 lowercase hex, and
 * request_sha256, 64), a challenge (exactly nonce, 64 lowercase hex), or
 * a roster (exactly roster, 1..WIRE_ROSTER_B64_MAX bytes, in
 * payload_b64), or a checkpoint_ack (exactly size, 0..2^53-1, in
 * cp_size), or a drain (exactly within_ms, an integer
 * 0..WIRE_DRAIN_MAX_MS, in drain_ms).
 * out->type is set as soon as the type member names one of these, even
 * when the rest is refused, so that a refused action can still be
 * answered in order. *out is zeroed on entry. Returns 0,
 * SIGNET_ERR_FORMAT or SIGNET_ERR_ALLOC, with msg.
 */
int wire_parse_server_frame(const char *buf, size_t len, struct wire_frame *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * What a refused action frame claims, read without any check but bounds:
 * the payload text and key_id members when they are strings (NULL when
 * not). Only so that a refusal can name the action it refuses; nothing
 * read here is trusted. *payload_b64 and *key_id are new strings (free()).
 * Returns 0 (whatever could be read), SIGNET_ERR_ALLOC.
 */
int wire_peek_action(const char *buf, size_t len, char **payload_b64,
    char **key_id) __attribute__((warn_unused_result));

/* Frees what f holds and zeroes it; NULL allowed. */
void wire_frame_free(struct wire_frame *f);

#endif
