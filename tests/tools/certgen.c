/* SPDX-License-Identifier: ISC */
/*
 * Test and benchmark tool: issues COUNT agent identities quickly from an
 * existing signet PKI (made by pki/signet-pki), as signet-pki agent would,
 * but in one process (the openssl CLI takes a second per certificate;
 * 10,000 agents need seconds, not hours). OUT gets the PKI's layout, so
 * tools that read a PKI read it too; for each PREFIX-I it writes
 *   OUT/issued/PREFIX-I.pem, OUT/private/PREFIX-I.key (0600)  TLS
 *   OUT/keys/agents/PREFIX-I.key (0600), .pub        Ed25519 result key
 * These certificates are not in the PKI's index: the CRL cannot revoke
 * them, which is fine for load tests and never for production.
 *   certgen PKI OUT PREFIX COUNT
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "fileio.h"
#include "keys.h"
#include "text.h"

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static X509 *
issue(const char *cn, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	int ok = 0;

	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	        (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
	        (const unsigned char *)"agent", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(x, &v3, NID_ext_key_usage, "clientAuth") != 0 ||
	    add_ext(x, &v3, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") != 0)
		goto out;
	if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
		goto out;
	ok = 1;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static int
write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	FILE *f = fopen(path, "wx");
	int ok;

	if (f == NULL)
		return -1;
	if (key != NULL && chmod(path, 0600) != 0) {
		fclose(f);
		return -1;
	}
	ok = cert != NULL ?
	    PEM_write_X509(f, cert) :
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok == 1 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	char path[PATH_MAX], cn[64];
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	FILE *f;
	int64_t count = 0, i;
	struct err_msg msg;
	int rc = 1;

	if (argc != 5 || text_to_int64(argv[4], 1, 100000, &count) != 0) {
		fprintf(stderr, "usage: certgen PKI OUT PREFIX COUNT\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	(void)snprintf(path, sizeof(path), "%s/ca.pem", argv[1]);
	f = fopen(path, "r");
	if (f == NULL || (ca = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "certgen: cannot read %s\n", path);
		goto out;
	}
	fclose(f);
	(void)snprintf(path, sizeof(path), "%s/private/ca.key", argv[1]);
	f = fopen(path, "r");
	if (f == NULL ||
	    (ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "certgen: cannot read %s\n", path);
		goto out;
	}
	fclose(f);
	f = NULL;
	{
		static const char *const dirs[] = { "", "/issued", "/private",
			"/keys", "/keys/agents" };
		size_t d;
		for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
			(void)snprintf(path, sizeof(path), "%s%s", argv[2],
			    dirs[d]);
			if (mkdir(path, 0700) != 0 && errno != EEXIST) {
				fprintf(stderr, "certgen: mkdir %s: %s\n", path,
				    strerror(errno));
				goto out;
			}
		}
	}
	for (i = 0; i < count; i++) {
		struct keys_secret rk;
		char b64[128];
		EVP_PKEY *key;
		X509 *cert;

		(void)snprintf(cn, sizeof(cn), "%s-%lld", argv[3],
		    (long long)i);
		if (!text_valid_name(cn)) {
			fprintf(stderr, "certgen: bad name %s\n", cn);
			goto out;
		}
		key = EVP_EC_gen("P-256");
		cert = key != NULL ? issue(cn, key, ca, ca_key) : NULL;
		(void)snprintf(path, sizeof(path), "%s/issued/%s.pem", argv[2],
		    cn);
		if (cert == NULL || write_pem(path, cert, NULL) != 0) {
			fprintf(stderr, "certgen: cannot issue %s\n", cn);
			EVP_PKEY_free(key);
			X509_free(cert);
			goto out;
		}
		(void)snprintf(path, sizeof(path), "%s/private/%s.key", argv[2],
		    cn);
		if (write_pem(path, NULL, key) != 0) {
			EVP_PKEY_free(key);
			X509_free(cert);
			goto out;
		}
		EVP_PKEY_free(key);
		X509_free(cert);
		if (keys_generate(&rk) != 0)
			goto out;
		sodium_bin2base64(b64, sizeof(b64), rk.sk, KEYS_SECRET_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		(void)snprintf(path, sizeof(path), "%s/keys/agents/%s.key",
		    argv[2], cn);
		if (fileio_write_new(path, b64, strlen(b64), 0600, &msg) != 0)
			goto fail_key;
		sodium_bin2base64(b64, sizeof(b64), rk.pub.pk, KEYS_PUBLIC_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		(void)snprintf(path, sizeof(path), "%s/keys/agents/%s.pub",
		    argv[2], cn);
		if (fileio_write_new(path, b64, strlen(b64), 0644, &msg) != 0)
			goto fail_key;
		keys_secret_wipe(&rk);
		continue;
fail_key:
		keys_secret_wipe(&rk);
		fprintf(stderr, "certgen: %s\n", msg.text);
		goto out;
	}
	printf("certgen: %lld agents in %s\n", (long long)count, argv[2]);
	rc = 0;
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}
