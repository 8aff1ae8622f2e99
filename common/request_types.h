/* SPDX-License-Identifier: ISC */
/*
 * The small types of an operator's signed request (request.h) that the
 * server's action payload carries too (envelope.h): the request's size
 * bounds and an approval as it travels. They live apart so that
 * envelope.h can hold them without including request.h, which includes
 * envelope.h.
 */
#ifndef SIGNET_REQUEST_TYPES_H
#define SIGNET_REQUEST_TYPES_H

#include "keys.h"

#define REQUEST_PAYLOAD_MAX 4096 /* decoded request payload bytes */
#define REQUEST_APPROVALS_MAX 16 /* approvals relayed with one request */
/* Characters of base64 of a REQUEST_PAYLOAD_MAX payload (no NUL). */
#define REQUEST_PAYLOAD_B64_MAX ((REQUEST_PAYLOAD_MAX + 2) / 3 * 4)
/* Bytes that hold base64 of a signature (88 characters) and its NUL. */
#define REQUEST_SIG_B64_SIZE (KEYS_SIG_LEN / 3 * 4 + 8)

/* An approval as it travels: {"key_id","sig"}. */
struct request_approval {
	char key_id[KEYS_ID_LEN + 1];
	char sig_b64[REQUEST_SIG_B64_SIZE];
};

#endif
