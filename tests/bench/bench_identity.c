/* SPDX-License-Identifier: ISC */
/*
 * Benchmark (not a test): identity_verify_x509 calls per second on one
 * certificate (the check each agent handshake and each API request runs),
 * and X509_CRL_verify alone, the share a CRL signature would take of it.
 * Prints medians of several rounds, on one thread. Files from signet-pki:
 *   signet-pki init DIR --nopass && signet-pki --pki DIR agent web-01
 *   bench_identity DIR/ca.pem DIR/crl.pem DIR/issued/web-01.pem [CALLS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bench_stats.h"
#include "err.h"
#include "identity.h"

#define ROUNDS 5
#define CALLS_DEFAULT 20000
#define CALLS_MAX 10000000L

static X509 *
read_cert(const char *path)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *x = NULL;

	if (bio != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return x;
}

int
main(int argc, char **argv)
{
	const unsigned all = IDENTITY_ACCEPT_AGENT | IDENTITY_ACCEPT_OPERATOR |
	    IDENTITY_ACCEPT_AUDITOR | IDENTITY_ACCEPT_SERVER;
	struct identity_store *store = NULL;
	struct identity id;
	struct err_msg msg;
	double verify_us[ROUNDS], crl_us[ROUNDS], t0;
	X509 *leaf = NULL;
	char *end = NULL;
	long calls = CALLS_DEFAULT, i;
	int round, rc = 1;

	if (argc != 4 && argc != 5) {
		fprintf(stderr,
		    "usage: bench_identity CA.pem CRL.pem CERT.pem [CALLS]\n");
		return 2;
	}
	if (argc == 5) {
		calls = strtol(argv[4], &end, 10);
		if (end == argv[4] || *end != '\0' || calls < 1 ||
		    calls > CALLS_MAX) {
			fprintf(stderr, "CALLS: 1 to %ld\n", CALLS_MAX);
			return 2;
		}
	}
	if (identity_store_load(argv[1], argv[2], &store, &msg) != 0) {
		fprintf(stderr, "load: %s\n", msg.text);
		goto out;
	}
	leaf = read_cert(argv[3]);
	if (leaf == NULL) {
		fprintf(stderr, "%s: no PEM certificate\n", argv[3]);
		goto out;
	}
	if (identity_verify_x509(store, leaf, NULL, all, 0, &id, &msg) != 0) {
		fprintf(stderr, "verify: %s\n", msg.text);
		goto out;
	}
	for (round = 0; round < ROUNDS; round++) {
		t0 = bench_now_s();
		for (i = 0; i < calls; i++) {
			if (identity_verify_x509(store, leaf, NULL, all, 0, &id,
			        &msg) != 0) {
				fprintf(stderr, "verify: %s\n", msg.text);
				goto out;
			}
		}
		verify_us[round] = (bench_now_s() - t0) * 1e6 / (double)calls;
		t0 = bench_now_s();
		for (i = 0; i < calls; i++) {
			if (X509_CRL_verify(identity_store_crl_x509(store),
			        X509_get0_pubkey(
			            identity_store_ca_x509(store))) != 1) {
				fprintf(stderr, "X509_CRL_verify failed\n");
				goto out;
			}
		}
		crl_us[round] = (bench_now_s() - t0) * 1e6 / (double)calls;
	}
	printf("identity_verify_x509: %.1f us/call (%.0f /s), median of %d "
	       "rounds of %ld\n",
	    bench_median(verify_us, ROUNDS),
	    1e6 / bench_median(verify_us, ROUNDS), ROUNDS, calls);
	printf("X509_CRL_verify alone: %.1f us/call\n",
	    bench_median(crl_us, ROUNDS));
	rc = 0;
out:
	X509_free(leaf);
	identity_store_free(store);
	return rc;
}
