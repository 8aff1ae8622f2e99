/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for every frame parser of the agent channel (common/
 * wire): the bytes as an agent's hello frame (checked against a fixed key
 * and challenge), as the signed payload of a hello (signed here with that
 * key, so that the payload parser behind the signature is reached too),
 * as a later agent frame (inventory, action_result, roster_status,
 * checkpoint), as a server frame (action, result_ack, outcome_ack,
 * challenge, roster, checkpoint_ack), and
 * as a refused action frame whose claims are peeked at. What parses is
 * built again and must parse to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys_secret fuzz_key;
static uint8_t fuzz_challenge[WIRE_CHALLENGE_LEN];
static int fuzz_ready;

/* A fixed key (from a fixed seed) and challenge (0x01 bytes). */
static void
setup(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (fuzz_ready)
		return;
	if (sodium_init() < 0)
		abort();
	memset(seed, 7, sizeof(seed));
	if (crypto_sign_seed_keypair(fuzz_key.pub.pk, fuzz_key.sk, seed) != 0)
		abort();
	keys_id(fuzz_key.pub.pk, fuzz_key.pub.id);
	memset(fuzz_challenge, 1, sizeof(fuzz_challenge));
	fuzz_ready = 1;
}

/* A hello that parsed is built again and must parse to the same. */
static void
hello_again(const struct wire_hello *hello)
{
	struct wire_hello again;
	struct err_msg msg;
	char *text = NULL;
	size_t len = 0;

	if (wire_build_hello(hello, &fuzz_key, &text, &len) != 0)
		return;
	if (wire_parse_hello(text, len, &fuzz_key.pub, fuzz_challenge, &again,
	        &msg) != 0 ||
	    memcmp(hello, &again, sizeof(again)) != 0)
		abort();
	free(text);
}

/* data as a hello's payload, signed with the fixed key. */
static void
signed_payload(const uint8_t *data, size_t size)
{
	struct wire_hello hello;
	struct envelope env;
	struct err_msg msg;
	char *frame = NULL;
	size_t n;

	memset(&env, 0, sizeof(env));
	if (size == 0 || size > WIRE_HELLO_MAX ||
	    envelope_sign(WIRE_HELLO_CONTEXT, data, size, &fuzz_key, &env) != 0)
		return;
	n = strlen(env.payload_b64) + strlen(env.sig_b64) + 64;
	frame = malloc(n);
	if (frame != NULL) {
		n = (size_t)snprintf(frame, n,
		    "{\"type\":\"hello\",\"payload\":\"%s\",\"sig\":\"%s\"}",
		    env.payload_b64, env.sig_b64);
		if (wire_parse_hello(frame, n, &fuzz_key.pub, fuzz_challenge,
		        &hello, &msg) == 0)
			hello_again(&hello);
	}
	free(frame);
	envelope_free(&env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct wire_hello hello;
	struct wire_frame f, g;
	struct err_msg msg;
	char *text = NULL, *payload = NULL, *key_id = NULL;
	size_t len = 0;

	setup();
	if (wire_parse_hello(buf, size, &fuzz_key.pub, fuzz_challenge, &hello,
	        &msg) == 0)
		hello_again(&hello);
	signed_payload(data, size);
	if (wire_parse_agent_frame(buf, size, &f, &msg) == 0) {
		/* A roster_status says again exactly what it said. */
		if (f.type == WIRE_ROSTER_STATUS &&
		    wire_build_roster_status(&f.roster, &text, &len) == 0) {
			if (wire_parse_agent_frame(text, len, &g, &msg) != 0 ||
			    g.type != f.type ||
			    memcmp(&f.roster, &g.roster, sizeof(f.roster)) != 0)
				abort();
			wire_frame_free(&g);
			free(text);
			text = NULL;
		}
		/* So does a checkpoint. */
		if (f.type == WIRE_CHECKPOINT &&
		    wire_build_checkpoint(f.cp.note, f.cp.old,
		        (const uint8_t(*)[MERKLE_HASH_LEN])f.cp.proof,
		        f.cp.nproof, &text, &len) == 0) {
			if (wire_parse_agent_frame(text, len, &g, &msg) != 0 ||
			    g.type != f.type || g.cp.old != f.cp.old ||
			    g.cp.nproof != f.cp.nproof ||
			    g.cp.note_len != f.cp.note_len ||
			    memcmp(g.cp.note, f.cp.note, f.cp.note_len) != 0 ||
			    memcmp(g.cp.proof, f.cp.proof,
			        f.cp.nproof * MERKLE_HASH_LEN) != 0)
				abort();
			wire_frame_free(&g);
			free(text);
			text = NULL;
		}
		wire_frame_free(&f);
	}
	if (wire_parse_server_frame(buf, size, &f, &msg) == 0) {
		int r = f.type == WIRE_ACTION ?
		    wire_build_action(f.payload_b64, f.sig_b64, f.key_id, &text,
		        &len) :
		    f.type == WIRE_CHALLENGE ?
		    wire_build_challenge(f.challenge, &text, &len) :
		    f.type == WIRE_ROSTER ?
		    wire_build_roster(f.payload_b64, &text, &len) :
		    f.type == WIRE_OUTCOME_ACK ?
		    wire_build_outcome_ack(&f.ack, &text, &len) :
		    f.type == WIRE_CHECKPOINT_ACK ?
		    wire_build_checkpoint_ack(f.cp_size, &text, &len) :
		    f.type == WIRE_DRAIN ?
		    wire_build_drain(f.drain_ms, &text, &len) :
		    wire_build_result_ack(&f.ack, &text, &len);

		if (r == 0) {
			if (wire_parse_server_frame(text, len, &g, &msg) != 0 ||
			    g.type != f.type ||
			    (f.type == WIRE_CHALLENGE &&
			        memcmp(f.challenge, g.challenge,
			            WIRE_CHALLENGE_LEN) != 0) ||
			    g.cp_size != f.cp_size || g.drain_ms != f.drain_ms)
				abort();
			wire_frame_free(&g);
		}
		free(text);
		wire_frame_free(&f);
	} else {
		wire_frame_free(&f);
	}
	if (wire_peek_action(buf, size, &payload, &key_id) == 0) {
		free(payload);
		free(key_id);
	}
	return 0;
}
