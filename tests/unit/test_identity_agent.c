/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for identity_agent.c: the agent's own certificate and key
 * (identity_agent_cert), one table row per rule, each with its message,
 * on the throwaway PKI of identity_fixtures.h.
 */
#include "identity.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "err.h"
#include "identity_fixtures.h"
#include "testlib.h"

/* Writes key as PEM to tmpdir/name with mode. */
static const char *
write_key(const char *name, EVP_PKEY *key, mode_t mode)
{
	const char *path = path_in_tmp(name);
	BIO *bio = BIO_new_file(path, "w");
	bool ok = bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1;

	if (bio != NULL && BIO_free(bio) != 1)
		ok = false;
	if (!ok || chmod(path, mode) != 0)
		fprintf(stderr, "cannot write %s\n", path);
	return path;
}

/* The agent's own certificate and key: identity_agent_cert. */
static void
test_agent_cert(void)
{
	static const struct {
		const char *cert; /* a leaf id, "garbage" or "missing" */
		const char *key;  /* a leaf id, "garbage" or "loose" */
		int r;
		const char *text; /* host_id on success, else in msg */
	} rows[] = {
		{ "agent", "agent", 0, "web-01" },
		{ "operator", "operator", SIGNET_ERR_CERT,
		    "not an agent certificate (its subject needs OU=agent; "
		    "issue one with signet-pki agent alice)" },
		{ "two_ou", "two_ou", SIGNET_ERR_CERT,
		    "not an agent certificate" },
		{ "no_cn", "no_cn", SIGNET_ERR_CERT,
		    "the subject must hold exactly one CN (the host id)" },
		{ "two_cn", "two_cn", SIGNET_ERR_CERT,
		    "the subject must hold exactly one CN" },
		{ "upper_cn", "upper_cn", SIGNET_ERR_CERT,
		    "CN \"Bob\" is not a valid host id" },
		{ "agent_srv_eku", "agent_srv_eku", SIGNET_ERR_CERT,
		    "not fit for TLS client use (extendedKeyUsage lacks "
		    "clientAuth)" },
		{ "agent", "operator", SIGNET_ERR_CERT,
		    "does not hold the key of certificate" },
		{ "agent", "loose", SIGNET_ERR_PERMISSIONS, "" },
		{ "agent", "garbage", SIGNET_ERR_FORMAT,
		    "not a PEM private key (or one with a passphrase)" },
		{ "garbage", "agent", SIGNET_ERR_FORMAT,
		    "not a PEM certificate" },
		{ "missing", "agent", SIGNET_ERR_NOT_FOUND, "" },
	};
	char host_id[IDENTITY_NAME_MAX + 1], name[64];
	const char *cert_path, *key_path;
	X509 *one[2] = { NULL, NULL };
	struct err_msg msg;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		(void)snprintf(name, sizeof(name), "own-cert-%zu.pem", i);
		if (strcmp(rows[i].cert, "garbage") == 0) {
			cert_path = write_text(name, "not a certificate\n");
		} else if (strcmp(rows[i].cert, "missing") == 0) {
			cert_path = path_in_tmp(name);
		} else {
			one[0] = leaf_by_id(rows[i].cert)->cert;
			cert_path = write_certs(name, one);
		}
		(void)snprintf(name, sizeof(name), "own-key-%zu.pem", i);
		if (strcmp(rows[i].key, "garbage") == 0) {
			key_path = write_text(name, "not a key\n");
			CHECK(chmod(key_path, 0600) == 0);
		} else if (strcmp(rows[i].key, "loose") == 0) {
			key_path = write_key(name, leaf_by_id("agent")->key,
			    0644);
		} else {
			key_path = write_key(name, leaf_by_id(rows[i].key)->key,
			    0600);
		}
		memset(host_id, 'x', sizeof(host_id));
		err_clear(&msg);
		r = identity_agent_cert(cert_path, key_path, host_id, &msg);
		CHECKF(r == rows[i].r, "row %zu: got %d, want %d (%s)", i, r,
		    rows[i].r, msg.text);
		if (rows[i].r == 0) {
			CHECKF(strcmp(host_id, rows[i].text) == 0,
			    "row %zu: host_id \"%s\"", i, host_id);
		} else {
			CHECKF(host_id[0] == '\0', "row %zu: host_id set", i);
			CHECK_CONTAINS(msg.text, rows[i].text);
		}
	}
}

int
main(void)
{
	now0 = (int64_t)time(NULL);
	if (setup() != 0) {
		teardown();
		test_failed++;
		return test_finish("test_identity_agent");
	}
	test_agent_cert();
	teardown();
	return test_finish("test_identity_agent");
}
