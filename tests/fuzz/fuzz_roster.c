/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the roster parsers: the bytes are tried as a
 * signed roster file verified under a fixed pinned key (the seed corpus
 * holds files that key really signed, so the payload parse is reached),
 * as a bare payload, and as the existing file roster_sign adds to.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "roster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keys_secret key;
	static struct keys_pubset pinned;
	static int ready;
	static const uint8_t payload[] = "{\"v\":1}";
	uint8_t seed[crypto_sign_SEEDBYTES];
	struct roster *r = NULL;
	struct err_msg msg;
	char *file = NULL;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		/* The corpus was signed with this key: seed of 32 bytes 7. */
		memset(seed, 7, sizeof(seed));
		if (crypto_sign_seed_keypair(key.pub.pk, key.sk, seed) != 0)
			abort();
		keys_id(key.pub.pk, key.pub.id);
		pinned.count = 1;
		pinned.keys[0] = key.pub;
		ready = 1;
	}
	if (roster_verify(data, size, &pinned, 1, &r, &msg) == 0) {
		if (roster_check_time(r, r->issued_at, &msg) != 0)
			abort(); /* valid when it is issued, by definition */
		(void)roster_find_name(r, "alice");
		if (r->nops > 0)
			(void)roster_in_group(&r->ops[0], "sre");
		roster_free(r);
		r = NULL;
	}
	if (roster_parse_payload(data, size, &r, &msg) == 0) {
		if (roster_encode_payload(r, &file) == 0)
			free(file);
		file = NULL;
		roster_free(r);
	}
	if (roster_sign(payload, sizeof(payload) - 1, &key, data, size, &file,
	        &msg) == 0)
		free(file);
	return 0;
}
