/* SPDX-License-Identifier: ISC */
/*
 * Differential libFuzzer harness for the audit verifier: the same file
 * verified on one thread (jobs 0) and on three workers (jobs 3) must give
 * the same code, message, report and operator-request findings, or the
 * harness aborts. The input's first byte picks the mode: even, the rest is
 * the file as is; odd, each further line is "EVENT DATA" and the harness
 * writes it as a chained record signed by the audit key, so that inputs
 * reach the embedded envelopes, the ties and the order checks (the seeds
 * in tests/fuzz/corpus/audit_verify/ embed envelopes signed by the fixed
 * keys below: seed bytes 1, 2 and 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "audit_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 2000

static struct keys_secret audit_key, action_key, agent_key;
static struct keys_pubset action_pub;
static char dir[64], agents[96], path[96];

static void
seeded(struct keys_secret *k, uint8_t b)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	memset(seed, b, sizeof(seed));
	if (crypto_sign_seed_keypair(k->pub.pk, k->sk, seed) != 0)
		abort();
	keys_id(k->pub.pk, k->pub.id);
}

static void
setup(void)
{
	struct err_msg msg;

	if (sodium_init() < 0)
		abort();
	seeded(&audit_key, 1);
	seeded(&action_key, 2);
	seeded(&agent_key, 3);
	action_pub.count = 1;
	action_pub.keys[0] = action_key.pub;
	(void)snprintf(dir, sizeof(dir), "/tmp/fuzz-audit-verify.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	(void)snprintf(agents, sizeof(agents), "%s/agents", dir);
	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	if (mkdir(agents, 0755) != 0 ||
	    keys_write_pair(agents, "web-01", &agent_key, &msg) != 0)
		abort();
}

/* Appends one signed record of event and data (JSON text) to f. */
static int
put_record(FILE *f, uint64_t seq, char prev[static AUDIT_HASH_HEX + 1],
    const char *event, size_t elen, const char *qdata, size_t dlen)
{
	const size_t clen = sizeof(AUDIT_CTX) - 1;
	static char buf[AUDIT_LINE_MAX + 256];
	uint8_t sig[KEYS_SIG_LEN];
	char b64[sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	int n;

	memcpy(buf, AUDIT_CTX, clen);
	n = snprintf(buf + clen, sizeof(buf) - clen,
	    "{\"seq\":%llu,\"ts\":%llu,\"prev\":\"%s\",\"event\":\"%.*s\","
	    "\"actor\":\"server\",\"data\":%.*s}",
	    (unsigned long long)seq, 1700000000000ULL + seq, prev, (int)elen,
	    event, (int)dlen, qdata);
	if (n < 0 || (size_t)n >= sizeof(buf) - clen - sizeof(b64) - 16)
		return -1;
	if (crypto_sign_detached(sig, NULL, (unsigned char *)buf,
	        clen + (size_t)n, audit_key.sk) != 0)
		abort();
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(buf + clen + n - 1, sizeof(buf) - clen - (size_t)n + 1,
	    ",\"sig\":\"%s\"}", b64);
	audit_line_hash(buf + clen, strlen(buf + clen), prev);
	return fprintf(f, "%s\n", buf + clen) < 0 ? -1 : 0;
}

/* The file: the input as is, or its "EVENT DATA" lines signed. */
static int
write_file(const uint8_t *data, size_t size)
{
	char prev[AUDIT_HASH_HEX + 1];
	const char *p, *end, *nl, *sp;
	uint64_t seq = 0;
	FILE *f = fopen(path, "w");
	int r = 0;

	if (f == NULL)
		return -1;
	if (size == 0 || (data[0] & 1) == 0) {
		if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
			r = -1;
		goto out;
	}
	memset(prev, '0', AUDIT_HASH_HEX);
	prev[AUDIT_HASH_HEX] = '\0';
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p < end && seq < MAX_RECORDS && r == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (sp != NULL && sp > p)
			r = put_record(f, seq++, prev, p, (size_t)(sp - p),
			    sp + 1, (size_t)(nl - sp - 1));
		p = nl + 1;
	}
out:
	if (fclose(f) != 0)
		r = -1;
	return r;
}

struct sink {
	crypto_hash_sha256_state h;
	uint64_t n;
};

static void
on_request(const struct audit_request_finding *f, void *arg)
{
	struct sink *s = arg;

	crypto_hash_sha256_update(&s->h, (const uint8_t *)f, sizeof(*f));
	s->n++;
}

struct run {
	int r;
	struct audit_verify_report rep;
	struct err_msg msg;
	uint8_t findings[crypto_hash_sha256_BYTES];
	uint64_t nfindings;
};

static void
verify(unsigned jobs, bool keys, struct run *out)
{
	const char *paths[1] = { path };
	struct audit_verify_opts o = { .audit_key = &audit_key.pub,
		.on_request = on_request };
	struct sink s;

	memset(out, 0, sizeof(*out));
	crypto_hash_sha256_init(&s.h);
	s.n = 0;
	o.on_request_arg = &s;
	o.jobs = jobs;
	if (keys) {
		o.action_keys = &action_pub;
		o.agent_keys_dir = agents;
	}
	out->r = audit_verify_files(paths, 1, &o, NULL, &out->rep, &out->msg);
	crypto_hash_sha256_final(&s.h, out->findings);
	out->nfindings = s.n;
}

/* The report's fields, one by one (the struct has padding). */
static bool
same_report(const struct audit_verify_report *x,
    const struct audit_verify_report *y)
{
	return x->records == y->records && x->bad_line == y->bad_line &&
	    x->bad_file == y->bad_file && x->head.empty == y->head.empty &&
	    x->head.seq == y->head.seq &&
	    strcmp(x->head.hash, y->head.hash) == 0 &&
	    x->actions_checked == y->actions_checked &&
	    x->actions_unchecked == y->actions_unchecked &&
	    x->results_checked == y->results_checked &&
	    x->results_unchecked == y->results_unchecked &&
	    x->results_tied == y->results_tied &&
	    x->results_untied == y->results_untied &&
	    x->outcomes_checked == y->outcomes_checked &&
	    x->outcomes_unchecked == y->outcomes_unchecked &&
	    x->requests_verified == y->requests_verified &&
	    x->requests_server_asserted == y->requests_server_asserted &&
	    x->requests_unverified == y->requests_unverified &&
	    x->requests_failed == y->requests_failed &&
	    x->requests_unchecked == y->requests_unchecked &&
	    x->torn_tails == y->torn_tails && x->rotations == y->rotations &&
	    x->continues == y->continues;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct run one, many;
	int keys;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (write_file(data, size) != 0)
		return 0;
	for (keys = 0; keys < 2; keys++) {
		verify(0, keys, &one);
		verify(3, keys, &many);
		if (one.r != many.r ||
		    strcmp(one.msg.text, many.msg.text) != 0 ||
		    !same_report(&one.rep, &many.rep) ||
		    one.nfindings != many.nfindings ||
		    memcmp(one.findings, many.findings, sizeof(one.findings)) !=
		        0) {
			fprintf(stderr,
			    "jobs 0: %d \"%s\"\njobs 3: %d \"%s\"\n", one.r,
			    one.msg.text, many.r, many.msg.text);
			abort();
		}
	}
	return 0;
}
