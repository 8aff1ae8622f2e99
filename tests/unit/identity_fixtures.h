/* SPDX-License-Identifier: ISC */
/*
 * The throwaway PKI the identity tests share (test_identity.c,
 * test_identity_agent.c): a CA, impostor CAs, leaves good and bad and CRLs
 * good and bad, made with the OpenSSL API in a mkdtemp directory by setup()
 * and removed by teardown(). Static functions and data: include it from
 * those tests only, and set now0 before setup().
 */
#ifndef SIGNET_IDENTITY_FIXTURES_H
#define SIGNET_IDENTITY_FIXTURES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY (24 * 3600)
#define A16 "aaaaaaaaaaaaaaaa"

static int64_t now0;
static char tmpdir[] = "/tmp/test_identity.XXXXXX";
static char made[64][PATH_MAX];
static size_t nmade;

enum auth_id {
	AUTH_CA,
	AUTH_IMPOSTOR,
	AUTH_OTHER,
	AUTH_INTER,
	AUTH_NOKU,
	AUTH_EXPIRED,
	AUTH_COUNT
};

/* Certificate authorities; all but the intermediate are self-signed. */
static struct authority {
	const char *subject;
	const char *ku; /* keyUsage; NULL for none */
	int64_t nb, na; /* offsets from now0 */
	X509 *cert;
	EVP_PKEY *key;
} auth[AUTH_COUNT] = {
	[AUTH_CA] = { "CN=signet CA", "critical,keyCertSign,cRLSign", -2 * DAY,
	    3650 * DAY, NULL, NULL },
	/* Same name as the real CA, another key: a forger's CA. */
	[AUTH_IMPOSTOR] = { "CN=signet CA", "critical,keyCertSign,cRLSign",
	    -2 * DAY, 3650 * DAY, NULL, NULL },
	[AUTH_OTHER] = { "CN=other CA", "critical,keyCertSign,cRLSign",
	    -2 * DAY, 3650 * DAY, NULL, NULL },
	/* Issued by AUTH_CA: a sub-CA, never accepted. */
	[AUTH_INTER] = { "CN=signet sub CA", "critical,keyCertSign,cRLSign",
	    -2 * DAY, 3650 * DAY, NULL, NULL },
	[AUTH_NOKU] = { "CN=signet CA", NULL, -2 * DAY, 3650 * DAY, NULL,
	    NULL },
	[AUTH_EXPIRED] = { "CN=signet CA", "critical,keyCertSign,cRLSign",
	    -20 * DAY, -10 * DAY, NULL, NULL },
};

/* Leaf certificates. Subjects are in DER order, as messages print them. */
static struct leaf {
	const char *id;
	const char *subject;
	const char *eku; /* extendedKeyUsage; NULL for none */
	enum auth_id issuer;
	bool ca;            /* basicConstraints CA:TRUE */
	int64_t nb, na;     /* offsets from now0; na > 1e9 is absolute */
	const char *serial; /* uppercase hex, as identity reports it */
	X509 *cert;
	EVP_PKEY *key;
} leaves[] = {
	{ "agent", "CN=web-01,OU=agent", "clientAuth", AUTH_CA, false, -3600,
	    30 * DAY, "1001", NULL, NULL },
	{ "operator", "CN=alice,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1002", NULL, NULL },
	{ "auditor", "CN=carol,OU=auditor", "clientAuth", AUTH_CA, false, -3600,
	    30 * DAY, "1003", NULL, NULL },
	{ "server", "CN=relay.example.org,OU=server", "serverAuth", AUTH_CA,
	    false, -3600, 30 * DAY, "1004", NULL, NULL },
	/* 2060-01-01T00:00:00Z: a GeneralizedTime notAfter. */
	{ "late", "CN=zoe,OU=auditor", "clientAuth", AUTH_CA, false, -3600,
	    2840140800LL, "1017", NULL, NULL },
	{ "bigserial", "CN=ivan,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "7F0102030405060708090A0B0C0D0E0F10111213", NULL,
	    NULL },
	{ "expired", "CN=old,OU=operator", "clientAuth", AUTH_CA, false,
	    -20 * DAY, -10 * DAY, "1005", NULL, NULL },
	{ "future", "CN=soon,OU=operator", "clientAuth", AUTH_CA, false,
	    10 * DAY, 20 * DAY, "1006", NULL, NULL },
	{ "impostor", "CN=mallory,OU=operator", "clientAuth", AUTH_IMPOSTOR,
	    false, -3600, 30 * DAY, "1007", NULL, NULL },
	{ "foreign", "CN=eve,OU=operator", "clientAuth", AUTH_OTHER, false,
	    -3600, 30 * DAY, "1008", NULL, NULL },
	{ "revoked", "CN=bob,OU=operator", "clientAuth", AUTH_CA, false, -3600,
	    30 * DAY, "1A2B", NULL, NULL },
	{ "agent_srv_eku", "CN=web-02,OU=agent", "serverAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1009", NULL, NULL },
	{ "agent_both_eku", "CN=web-03,OU=agent", "clientAuth,serverAuth",
	    AUTH_CA, false, -3600, 30 * DAY, "100A", NULL, NULL },
	{ "no_eku", "CN=web-04,OU=agent", NULL, AUTH_CA, false, -3600, 30 * DAY,
	    "100B", NULL, NULL },
	{ "any_eku", "CN=web-05,OU=agent", "anyExtendedKeyUsage", AUTH_CA,
	    false, -3600, 30 * DAY, "100C", NULL, NULL },
	{ "server_cli_eku", "CN=relay2,OU=server", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "100D", NULL, NULL },
	{ "no_ou", "CN=dave", "clientAuth", AUTH_CA, false, -3600, 30 * DAY,
	    "100E", NULL, NULL },
	{ "unknown_ou", "CN=dave,OU=admin", "clientAuth", AUTH_CA, false, -3600,
	    30 * DAY, "100F", NULL, NULL },
	{ "two_ou", "CN=dave,OU=operator,OU=agent", "clientAuth", AUTH_CA,
	    false, -3600, 30 * DAY, "1010", NULL, NULL },
	{ "upper_cn", "CN=Bob,OU=operator", "clientAuth", AUTH_CA, false, -3600,
	    30 * DAY, "1011", NULL, NULL },
	{ "dotdot_cn", "CN=../x,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1012", NULL, NULL },
	{ "no_cn", "OU=operator", "clientAuth", AUTH_CA, false, -3600, 30 * DAY,
	    "1013", NULL, NULL },
	{ "two_cn", "CN=a,CN=b,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1014", NULL, NULL },
	{ "long_cn", "CN=" A16 A16 A16 A16 ",OU=operator", "clientAuth",
	    AUTH_CA, false, -3600, 30 * DAY, "1018", NULL, NULL },
	{ "leaf_ca", "CN=sneaky,OU=operator", "clientAuth", AUTH_CA, true,
	    -3600, 30 * DAY, "1015", NULL, NULL },
	{ "via_inter", "CN=frank,OU=operator", "clientAuth", AUTH_INTER, false,
	    -3600, 30 * DAY, "1016", NULL, NULL },
};
#define NLEAVES (sizeof(leaves) / sizeof(leaves[0]))

static struct leaf *
leaf_by_id(const char *id)
{
	size_t i;

	for (i = 0; i < NLEAVES; i++) {
		if (strcmp(leaves[i].id, id) == 0)
			return &leaves[i];
	}
	fprintf(stderr, "no test leaf %s\n", id);
	abort();
}

static int64_t
abs_time(int64_t t)
{
	return t > 1000000000LL ? t : now0 + t;
}

static const char *
path_in_tmp(const char *name)
{
	if (nmade >= sizeof(made) / sizeof(made[0]))
		abort();
	(void)snprintf(made[nmade], sizeof(made[nmade]), "%s/%s", tmpdir, name);
	return made[nmade++];
}

/* Adds "F=V,F=V" entries to name in order. */
static int
fill_name(X509_NAME *name, const char *spec)
{
	char buf[256], *p, *comma, *eq;

	if (strlen(spec) >= sizeof(buf))
		return -1;
	memcpy(buf, spec, strlen(spec) + 1);
	for (p = buf; p != NULL; p = comma == NULL ? NULL : comma + 1) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		eq = strchr(p, '=');
		if (eq == NULL)
			return -1;
		*eq = '\0';
		if (X509_NAME_add_entry_by_txt(name, p, MBSTRING_UTF8,
		        (const unsigned char *)eq + 1, -1, -1, 0) != 1)
			return -1;
	}
	return 0;
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static int
set_time(ASN1_TIME *t, int64_t when)
{
	return ASN1_TIME_set(t, (time_t)when) == NULL ? -1 : 0;
}

/* A certificate for key signed by issuer (NULL: self-signed). */
static X509 *
make_cert(const char *subject, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key, const char *serial, int64_t nb, int64_t na, bool ca,
    const char *ku, const char *eku)
{
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	bool ok = false;

	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1)
		goto out;
	if (BN_hex2bn(&bn, serial) == 0 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (fill_name(X509_get_subject_name(x), subject) != 0)
		goto out;
	if (X509_set_issuer_name(x,
	        X509_get_subject_name(issuer != NULL ? issuer : x)) != 1)
		goto out;
	if (set_time(X509_getm_notBefore(x), abs_time(nb)) != 0 ||
	    set_time(X509_getm_notAfter(x), abs_time(na)) != 0)
		goto out;
	if (X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if (add_ext(x, &v3, NID_basic_constraints,
	        ca ? "critical,CA:TRUE" : "CA:FALSE") != 0)
		goto out;
	if (ku != NULL && add_ext(x, &v3, NID_key_usage, ku) != 0)
		goto out;
	if (eku != NULL && add_ext(x, &v3, NID_ext_key_usage, eku) != 0)
		goto out;
	if (add_ext(x, &v3, NID_subject_key_identifier, "hash") != 0)
		goto out;
	if (issuer != NULL &&
	    add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") != 0)
		goto out;
	if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <=
	    0)
		goto out;
	ok = true;
out:
	BN_free(bn);
	if (!ok) {
		fprintf(stderr, "cannot make certificate %s\n", subject);
		X509_free(x);
		x = NULL;
	}
	return x;
}

/*
 * A v2 CRL by issuer, revoking serials (NULL-terminated); next 0: none;
 * idp: the value of an issuingDistributionPoint extension, NULL for none.
 */
static X509_CRL *
make_crl(X509 *issuer, EVP_PKEY *key, int64_t last, int64_t next,
    const char *const *serials, const char *idp)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *rev = NULL;
	ASN1_TIME *t = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	bool ok = false;

	if (crl == NULL || X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) != 1)
		goto out;
	t = ASN1_TIME_set(NULL, (time_t)last);
	if (t == NULL || X509_CRL_set1_lastUpdate(crl, t) != 1)
		goto out;
	if (next != 0) {
		if (ASN1_TIME_set(t, (time_t)next) == NULL ||
		    X509_CRL_set1_nextUpdate(crl, t) != 1)
			goto out;
	}
	for (; serials != NULL && *serials != NULL; serials++) {
		rev = X509_REVOKED_new();
		if (rev == NULL || BN_hex2bn(&bn, *serials) == 0)
			goto out;
		ai = BN_to_ASN1_INTEGER(bn, NULL);
		if (ai == NULL || X509_REVOKED_set_serialNumber(rev, ai) != 1 ||
		    ASN1_TIME_set(t, (time_t)last) == NULL ||
		    X509_REVOKED_set_revocationDate(rev, t) != 1 ||
		    X509_CRL_add0_revoked(crl, rev) != 1)
			goto out;
		rev = NULL;
		ASN1_INTEGER_free(ai);
		ai = NULL;
		BN_free(bn);
		bn = NULL;
	}
	if (X509_CRL_sort(crl) != 1)
		goto out;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, NULL, NULL, crl, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier,
	    "keyid:always");
	if (ext == NULL || X509_CRL_add_ext(crl, ext, -1) != 1)
		goto out;
	if (idp != NULL) {
		X509_EXTENSION_free(ext);
		ext = X509V3_EXT_conf_nid(NULL, &v3,
		    NID_issuing_distribution_point, idp);
		if (ext == NULL || X509_CRL_add_ext(crl, ext, -1) != 1)
			goto out;
	}
	if (X509_CRL_sign(crl, key, EVP_sha256()) <= 0)
		goto out;
	ok = true;
out:
	X509_EXTENSION_free(ext);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	X509_REVOKED_free(rev);
	ASN1_TIME_free(t);
	if (!ok) {
		fprintf(stderr, "cannot make CRL\n");
		X509_CRL_free(crl);
		crl = NULL;
	}
	return crl;
}

/* Writes the certificates (NULL-terminated) as PEM to tmpdir/name. */
static const char *
write_certs(const char *name, X509 *const *certs)
{
	const char *path = path_in_tmp(name);
	BIO *bio = BIO_new_file(path, "w");
	bool ok = bio != NULL;

	for (; ok && *certs != NULL; certs++)
		ok = PEM_write_bio_X509(bio, *certs) == 1;
	if (bio != NULL && BIO_free(bio) != 1)
		ok = false;
	if (!ok)
		fprintf(stderr, "cannot write %s\n", path);
	return path;
}

static const char *
write_crl(const char *name, X509_CRL *crl, X509_CRL *crl2)
{
	const char *path = path_in_tmp(name);
	BIO *bio = BIO_new_file(path, "w");
	bool ok = bio != NULL && crl != NULL &&
	    PEM_write_bio_X509_CRL(bio, crl) == 1;

	if (ok && crl2 != NULL)
		ok = PEM_write_bio_X509_CRL(bio, crl2) == 1;
	if (bio != NULL && BIO_free(bio) != 1)
		ok = false;
	if (!ok)
		fprintf(stderr, "cannot write %s\n", path);
	return path;
}

static const char *
write_text(const char *name, const char *text)
{
	const char *path = path_in_tmp(name);
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		fprintf(stderr, "cannot write %s\n", path);
	return path;
}

/* Paths of the PKI files, set by setup(). */
static const char *ca_pem, *crl_pem, *crl_impostor, *crl_other, *crl_expired,
    *crl_future, *crl_nonext, *crl_two, *crl_garbage, *crl_empty, *ca_two,
    *ca_garbage, *ca_leaf, *ca_noku, *ca_expired, *crl_missing, *ca_missing,
    *crl_soon, *crl_idp;

static int
setup(void)
{
	static const char *const revoked[] = { "1A2B", "0DEAD1", NULL };
	X509_CRL *good = NULL, *imp = NULL, *oth = NULL, *exp = NULL,
	         *fut = NULL, *nonext = NULL, *soon = NULL, *idp = NULL;
	X509 *pair[3] = { NULL, NULL, NULL };
	size_t i;
	int r = -1;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	for (i = 0; i < AUTH_COUNT; i++) {
		struct authority *a = &auth[i];
		bool sub = i == AUTH_INTER;

		a->key = EVP_EC_gen("P-256");
		if (a->key == NULL)
			goto out;
		a->cert = make_cert(a->subject, a->key,
		    sub ? auth[AUTH_CA].cert : NULL,
		    sub ? auth[AUTH_CA].key : NULL, sub ? "2001" : "01", a->nb,
		    a->na, true, a->ku, NULL);
		if (a->cert == NULL)
			goto out;
	}
	for (i = 0; i < NLEAVES; i++) {
		struct leaf *l = &leaves[i];
		struct authority *a = &auth[l->issuer];

		l->key = EVP_EC_gen("P-256");
		if (l->key == NULL)
			goto out;
		l->cert = make_cert(l->subject, l->key, a->cert, a->key,
		    l->serial, l->nb, l->na, l->ca,
		    l->ca ? "critical,keyCertSign,digitalSignature" :
		            "critical,digitalSignature",
		    l->eku);
		if (l->cert == NULL)
			goto out;
	}

	good = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - DAY,
	    now0 + 90 * DAY, revoked, NULL);
	imp = make_crl(auth[AUTH_IMPOSTOR].cert, auth[AUTH_IMPOSTOR].key,
	    now0 - DAY, now0 + 90 * DAY, NULL, NULL);
	oth = make_crl(auth[AUTH_OTHER].cert, auth[AUTH_OTHER].key, now0 - DAY,
	    now0 + 90 * DAY, NULL, NULL);
	exp = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - 10 * DAY,
	    now0 - DAY, NULL, NULL);
	fut = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 + DAY,
	    now0 + 90 * DAY, NULL, NULL);
	nonext = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - DAY, 0,
	    NULL, NULL);
	/* Within the 7-day warning window: still good, but expiring. */
	soon = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - DAY,
	    now0 + 3 * DAY, revoked, NULL);
	/* Scoped to end-entity certificates: all the leaves are in scope. */
	idp = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - DAY,
	    now0 + 90 * DAY, revoked, "critical,onlyuser:TRUE");
	if (good == NULL || imp == NULL || oth == NULL || exp == NULL ||
	    fut == NULL || nonext == NULL || soon == NULL || idp == NULL)
		goto out;

	pair[0] = auth[AUTH_CA].cert;
	ca_pem = write_certs("ca.pem", pair);
	pair[1] = auth[AUTH_OTHER].cert;
	ca_two = write_certs("ca-two.pem", pair);
	pair[0] = leaf_by_id("operator")->cert;
	pair[1] = NULL;
	ca_leaf = write_certs("ca-leaf.pem", pair);
	pair[0] = auth[AUTH_NOKU].cert;
	ca_noku = write_certs("ca-noku.pem", pair);
	pair[0] = auth[AUTH_EXPIRED].cert;
	ca_expired = write_certs("ca-expired.pem", pair);
	ca_garbage = write_text("ca-garbage.pem", "not a certificate\n");
	ca_missing = path_in_tmp("ca-missing.pem");

	crl_pem = write_crl("crl.pem", good, NULL);
	crl_impostor = write_crl("crl-impostor.pem", imp, NULL);
	crl_other = write_crl("crl-other.pem", oth, NULL);
	crl_expired = write_crl("crl-expired.pem", exp, NULL);
	crl_future = write_crl("crl-future.pem", fut, NULL);
	crl_nonext = write_crl("crl-nonext.pem", nonext, NULL);
	crl_soon = write_crl("crl-soon.pem", soon, NULL);
	crl_idp = write_crl("crl-idp.pem", idp, NULL);
	crl_two = write_crl("crl-two.pem", good, good);
	crl_garbage = write_text("crl-garbage.pem",
	    "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
	crl_empty = write_text("crl-empty.pem", "");
	crl_missing = path_in_tmp("crl-missing.pem");
	r = 0;
out:
	if (r != 0)
		fprintf(stderr, "setup failed\n");
	X509_CRL_free(good);
	X509_CRL_free(imp);
	X509_CRL_free(oth);
	X509_CRL_free(exp);
	X509_CRL_free(fut);
	X509_CRL_free(soon);
	X509_CRL_free(nonext);
	X509_CRL_free(idp);
	return r;
}

static void
teardown(void)
{
	size_t i;

	for (i = 0; i < nmade; i++)
		(void)unlink(made[i]);
	if (rmdir(tmpdir) != 0)
		perror(tmpdir);
	for (i = 0; i < AUTH_COUNT; i++) {
		X509_free(auth[i].cert);
		EVP_PKEY_free(auth[i].key);
	}
	for (i = 0; i < NLEAVES; i++) {
		X509_free(leaves[i].cert);
		EVP_PKEY_free(leaves[i].key);
	}
}

#endif
