/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for operator requests as a host receives them: the
 * bytes are tried as a request payload, as an action payload that may
 * relay a request and approvals (whose approvals are then counted against
 * a fixed verified request and roster), and as "payload_b64 NEWLINE
 * sig_b64" texts of a signed request verified against that roster.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "request.h"

#define NOW 1764000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys_secret keys[2];
static struct roster_operator ops[2];
static struct roster roster;
static struct request_verified verified;

/* A roster of alice and bob, and a request by alice verified under it. */
static void
setup(void)
{
	struct request_payload p;
	struct request_signed s = { 0 };
	size_t i;

	if (sodium_init() < 0)
		abort();
	for (i = 0; i < 2; i++) {
		/* Fixed seeds: a finding replays with the same keys. */
		uint8_t seed[crypto_sign_SEEDBYTES];

		memset(seed, (int)i + 1, sizeof(seed));
		crypto_sign_seed_keypair(keys[i].pub.pk, keys[i].sk, seed);
		keys_id(keys[i].pub.pk, keys[i].pub.id);
		(void)snprintf(ops[i].name, sizeof(ops[i].name), "%s",
		    i == 0 ? "alice" : "bob");
		ops[i].key = keys[i].pub;
		ops[i].not_after = NOW + 86400000LL;
	}
	roster.version = 3;
	roster.nops = 2;
	roster.ops = ops;
	memset(&p, 0, sizeof(p));
	memset(p.action_id, 'a', 32);
	memcpy(p.host_id, "web-01", 7);
	memset(p.container_id, 'c', 64);
	p.action = ENVELOPE_ACTION_STOP;
	memcpy(p.reason, "disk full", 10);
	memcpy(p.requested_by, "alice", 6);
	p.issued_at = NOW;
	p.expires_at = NOW + 60000;
	p.roster_version = 3;
	if (request_sign(&p, &keys[0], &s) != 0 ||
	    request_verify(&roster, &s, NOW, &verified, NULL) != 0)
		abort();
	request_signed_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct envelope_action_payload a;
	struct request_approver out[REQUEST_APPROVALS_MAX];
	struct request_payload p;
	struct request_signed s = { 0 };
	struct request_verified v;
	struct err_msg msg;
	char *text, *sep;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (request_decode(data, size, &p, &msg) == 0)
		(void)request_matches_action(&p, &a, &msg);
	if (envelope_action_decode(data, size, &a, &msg) == 0) {
		(void)request_check_approvals(&roster, &verified, a.approvals,
		    a.napprovals, NOW, out);
		if (request_from_action(&a, &s) == 0 &&
		    request_verify(&roster, &s, NOW, &v, &msg) == 0)
			request_verified_free(&v);
		request_signed_free(&s);
	}
	/* "payload_b64 NEWLINE sig_b64", claiming alice's key. */
	text = malloc(size + 2);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	text[size + 1] = '\0';
	sep = memchr(text, '\n', size);
	if (sep != NULL)
		*sep = '\0';
	s.payload_b64 = text;
	s.sig_b64 = sep != NULL ? sep + 1 : text + size;
	memcpy(s.key_id, keys[0].pub.id, sizeof(s.key_id));
	if (request_verify(&roster, &s, NOW, &v, &msg) == 0)
		request_verified_free(&v);
	free(text);
	return 0;
}
