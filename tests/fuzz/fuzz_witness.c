/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the witness's parsers of untrusted bytes: a state
 * file (its JSON and the checkpoint note inside, signed under the key the
 * file names: the seed corpus holds real ones, so the note is reached)
 * and a consistency proof document, whose chain is then checked against
 * fixed roots.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "witness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct witness_state st;
	struct witness_proof p;
	struct err_msg msg;
	uint8_t zero[MERKLE_HASH_LEN];
	char *state = NULL;
	size_t len = 0;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = 1;
	}
	if (witness_state_parse("fuzz", (const char *)data, size, &st, &msg) ==
	    0) {
		if (witness_state_format(&st, &state, &len) == 0)
			free(state);
		witness_state_free(&st);
	}
	if (witness_proof_parse((const char *)data, size, &p, &msg) == 0) {
		memset(zero, 0, sizeof(zero));
		(void)witness_proof_check(&p, p.old_size, zero, p.new_size,
		    p.nsteps > 0 ? p.steps[p.nsteps - 1].new_root : zero, &msg);
		witness_proof_free(&p);
	}
	return 0;
}
