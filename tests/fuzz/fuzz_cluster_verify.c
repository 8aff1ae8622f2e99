/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for server/cluster_verify: the bytes as a row of the
 * cluster database would hold them, checked as a stored action frame
 * (under a fixed action key) and as a stored result frame (under a fixed
 * agent key, current and retired, for a fixed action sent). The first
 * byte picks which; the rest is the frame. Nothing may crash, leak or
 * read out of bounds, and what verifies must be what was signed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cluster_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys_pubset fuzz_action_pub;
static struct keyset fuzz_keys;
static struct action_info fuzz_sent;
static int fuzz_ready;

static void
fixed_key(uint8_t fill, struct keys_public *pub)
{
	uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];

	memset(seed, fill, sizeof(seed));
	if (crypto_sign_seed_keypair(pub->pk, sk, seed) != 0)
		abort();
	sodium_memzero(sk, sizeof(sk));
	keys_id(pub->pk, pub->id);
}

static void
setup(void)
{
	if (fuzz_ready)
		return;
	if (sodium_init() < 0)
		abort();
	fuzz_action_pub.count = 1;
	fixed_key(7, &fuzz_action_pub.keys[0]);
	fuzz_keys.has_current = true;
	fuzz_keys.count = 2;
	fixed_key(8, &fuzz_keys.keys[0].pub);
	fixed_key(9, &fuzz_keys.keys[1].pub);
	fuzz_keys.keys[1].retired = true;
	fuzz_keys.keys[1].retired_at = 1700000000;
	memcpy(fuzz_keys.keys[1].stamp, "20231114T221320Z", 17);
	memcpy(fuzz_keys.host, "web-01", 7);
	memset(fuzz_sent.action_id, '0', 32);
	memcpy(fuzz_sent.host_id, "web-01", 7);
	memset(fuzz_sent.container_id, 'a', 64);
	fuzz_sent.action = ENVELOPE_ACTION_STOP;
	memset(fuzz_sent.request_sha256, 'b', 64);
	fuzz_sent.requested_at = 1700000000000;
	fuzz_ready = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope_action_payload *p = NULL;
	struct envelope_result_payload res;
	struct wire_frame parts;
	struct err_msg m;
	char *text, sha[65], key_id[KEYS_ID_LEN + 1];

	setup();
	if (size == 0)
		return 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if ((data[0] & 1) == 0) {
		if (cluster_verify_action(&fuzz_action_pub, text, &p, sha,
		        &parts, &m) == 0) {
			/* Only a signature of the fixed key gets here. */
			if (p == NULL || strlen(sha) != 64)
				abort();
			wire_frame_free(&parts);
			sodium_memzero(p, sizeof(*p));
			free(p);
		} else if (p != NULL || parts.payload_b64 != NULL) {
			abort();
		}
	} else if (cluster_verify_result(&fuzz_keys, &fuzz_sent, text, &res,
	               &parts, key_id, &m) == 0) {
		if (strcmp(res.action_id, fuzz_sent.action_id) != 0)
			abort();
		wire_frame_free(&parts);
	} else if (parts.payload_b64 != NULL) {
		abort();
	}
	free(text);
	return 0;
}
