/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for identity.c: builds a throwaway PKI with the OpenSSL API in
 * a mkdtemp directory (a CA, impostor CAs, leaves good and bad, CRLs good
 * and bad), then checks one table row per rule, each with its message.
 */
#include "identity.h"

#include <limits.h>
#include <pthread.h>
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
#include <sys/stat.h>

#include "err.h"
#include "testlib.h"

#define DAY (24 * 3600)
#define A16 "aaaaaaaaaaaaaaaa"

static int64_t now0;
static char tmpdir[] = "/tmp/test_identity.XXXXXX";
static char made[64][PATH_MAX];
static size_t nmade;

enum auth_id { AUTH_CA, AUTH_IMPOSTOR, AUTH_OTHER, AUTH_INTER, AUTH_NOKU,
	AUTH_EXPIRED, AUTH_COUNT };

/* Certificate authorities; all but the intermediate are self-signed. */
static struct authority {
	const char *subject;
	const char *ku;       /* keyUsage; NULL for none */
	int64_t nb, na;       /* offsets from now0 */
	X509 *cert;
	EVP_PKEY *key;
} auth[AUTH_COUNT] = {
	[AUTH_CA] = { "CN=signet CA", "critical,keyCertSign,cRLSign",
	    -2 * DAY, 3650 * DAY, NULL, NULL },
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
	const char *eku;      /* extendedKeyUsage; NULL for none */
	enum auth_id issuer;
	bool ca;              /* basicConstraints CA:TRUE */
	int64_t nb, na;       /* offsets from now0; na > 1e9 is absolute */
	const char *serial;   /* uppercase hex, as identity reports it */
	X509 *cert;
	EVP_PKEY *key;
} leaves[] = {
	{ "agent", "CN=web-01,OU=agent", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1001", NULL, NULL },
	{ "operator", "CN=alice,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1002", NULL, NULL },
	{ "auditor", "CN=carol,OU=auditor", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1003", NULL, NULL },
	{ "server", "CN=relay.example.org,OU=server", "serverAuth", AUTH_CA,
	    false, -3600, 30 * DAY, "1004", NULL, NULL },
	/* 2060-01-01T00:00:00Z: a GeneralizedTime notAfter. */
	{ "late", "CN=zoe,OU=auditor", "clientAuth", AUTH_CA, false,
	    -3600, 2840140800LL, "1017", NULL, NULL },
	{ "bigserial", "CN=ivan,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "7F0102030405060708090A0B0C0D0E0F10111213",
	    NULL, NULL },
	{ "expired", "CN=old,OU=operator", "clientAuth", AUTH_CA, false,
	    -20 * DAY, -10 * DAY, "1005", NULL, NULL },
	{ "future", "CN=soon,OU=operator", "clientAuth", AUTH_CA, false,
	    10 * DAY, 20 * DAY, "1006", NULL, NULL },
	{ "impostor", "CN=mallory,OU=operator", "clientAuth", AUTH_IMPOSTOR,
	    false, -3600, 30 * DAY, "1007", NULL, NULL },
	{ "foreign", "CN=eve,OU=operator", "clientAuth", AUTH_OTHER, false,
	    -3600, 30 * DAY, "1008", NULL, NULL },
	{ "revoked", "CN=bob,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1A2B", NULL, NULL },
	{ "agent_srv_eku", "CN=web-02,OU=agent", "serverAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1009", NULL, NULL },
	{ "agent_both_eku", "CN=web-03,OU=agent", "clientAuth,serverAuth",
	    AUTH_CA, false, -3600, 30 * DAY, "100A", NULL, NULL },
	{ "no_eku", "CN=web-04,OU=agent", NULL, AUTH_CA, false,
	    -3600, 30 * DAY, "100B", NULL, NULL },
	{ "any_eku", "CN=web-05,OU=agent", "anyExtendedKeyUsage", AUTH_CA,
	    false, -3600, 30 * DAY, "100C", NULL, NULL },
	{ "server_cli_eku", "CN=relay2,OU=server", "clientAuth", AUTH_CA,
	    false, -3600, 30 * DAY, "100D", NULL, NULL },
	{ "no_ou", "CN=dave", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "100E", NULL, NULL },
	{ "unknown_ou", "CN=dave,OU=admin", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "100F", NULL, NULL },
	{ "two_ou", "CN=dave,OU=operator,OU=agent", "clientAuth", AUTH_CA,
	    false, -3600, 30 * DAY, "1010", NULL, NULL },
	{ "upper_cn", "CN=Bob,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1011", NULL, NULL },
	{ "dotdot_cn", "CN=../x,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1012", NULL, NULL },
	{ "no_cn", "OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1013", NULL, NULL },
	{ "two_cn", "CN=a,CN=b,OU=operator", "clientAuth", AUTH_CA, false,
	    -3600, 30 * DAY, "1014", NULL, NULL },
	{ "long_cn", "CN=" A16 A16 A16 A16 ",OU=operator", "clientAuth",
	    AUTH_CA, false, -3600, 30 * DAY, "1018", NULL, NULL },
	{ "leaf_ca", "CN=sneaky,OU=operator", "clientAuth", AUTH_CA, true,
	    -3600, 30 * DAY, "1015", NULL, NULL },
	{ "via_inter", "CN=frank,OU=operator", "clientAuth", AUTH_INTER,
	    false, -3600, 30 * DAY, "1016", NULL, NULL },
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
	(void)snprintf(made[nmade], sizeof(made[nmade]), "%s/%s", tmpdir,
	    name);
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
    EVP_PKEY *issuer_key, const char *serial, int64_t nb, int64_t na,
    bool ca, const char *ku, const char *eku)
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
	if (X509_set_issuer_name(x, X509_get_subject_name(
	    issuer != NULL ? issuer : x)) != 1)
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
	if (issuer != NULL && add_ext(x, &v3, NID_authority_key_identifier,
	    "keyid:always") != 0)
		goto out;
	if (X509_sign(x, issuer_key != NULL ? issuer_key : key,
	    EVP_sha256()) <= 0)
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

/* A v2 CRL by issuer, revoking serials (NULL-terminated); next 0: none. */
static X509_CRL *
make_crl(X509 *issuer, EVP_PKEY *key, int64_t last, int64_t next,
    const char *const *serials)
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
static const char *ca_pem, *crl_pem, *crl_impostor, *crl_other,
    *crl_expired, *crl_future, *crl_nonext, *crl_two, *crl_garbage,
    *crl_empty, *ca_two, *ca_garbage, *ca_leaf, *ca_noku, *ca_expired,
    *crl_missing, *ca_missing, *crl_soon;

static int
setup(void)
{
	static const char *const revoked[] = { "1A2B", "0DEAD1", NULL };
	X509_CRL *good = NULL, *imp = NULL, *oth = NULL, *exp = NULL,
	    *fut = NULL, *nonext = NULL, *soon = NULL;
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
		    sub ? auth[AUTH_CA].key : NULL, sub ? "2001" : "01",
		    a->nb, a->na, true, a->ku, NULL);
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
		    "critical,digitalSignature", l->eku);
		if (l->cert == NULL)
			goto out;
	}

	good = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - DAY,
	    now0 + 90 * DAY, revoked);
	imp = make_crl(auth[AUTH_IMPOSTOR].cert, auth[AUTH_IMPOSTOR].key,
	    now0 - DAY, now0 + 90 * DAY, NULL);
	oth = make_crl(auth[AUTH_OTHER].cert, auth[AUTH_OTHER].key,
	    now0 - DAY, now0 + 90 * DAY, NULL);
	exp = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - 10 * DAY,
	    now0 - DAY, NULL);
	fut = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 + DAY,
	    now0 + 90 * DAY, NULL);
	nonext = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - DAY,
	    0, NULL);
	/* Within the 7-day warning window: still good, but expiring. */
	soon = make_crl(auth[AUTH_CA].cert, auth[AUTH_CA].key, now0 - DAY,
	    now0 + 3 * DAY, revoked);
	if (good == NULL || imp == NULL || oth == NULL || exp == NULL ||
	    fut == NULL || nonext == NULL || soon == NULL)
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

static void
test_role_names(void)
{
	CHECK(strcmp(identity_role_name(IDENTITY_ROLE_AGENT), "agent") == 0);
	CHECK(strcmp(identity_role_name(IDENTITY_ROLE_OPERATOR),
	    "operator") == 0);
	CHECK(strcmp(identity_role_name(IDENTITY_ROLE_AUDITOR),
	    "auditor") == 0);
	CHECK(strcmp(identity_role_name(IDENTITY_ROLE_SERVER), "server") == 0);
	CHECK(strcmp(identity_role_name(IDENTITY_ROLE_NONE), "none") == 0);
	CHECK(strcmp(identity_role_name((enum identity_role)99), "none") == 0);
}

static void
test_store_load(void)
{
	static const struct {
		const char *const *ca, *const *crl;
		int rc;
		const char *want;
	} rows[] = {
		{ &ca_pem, &crl_pem, 0, "" },
		{ &ca_pem, &crl_missing, SIGNET_ERR_NOT_FOUND, "no such file" },
		{ &ca_pem, &crl_impostor, SIGNET_ERR_CERT,
		    "CRL not signed by the signet CA" },
		{ &ca_pem, &crl_other, SIGNET_ERR_CERT,
		    "CRL not issued by the signet CA" },
		{ &ca_pem, &crl_expired, SIGNET_ERR_CERT, "CRL expired at" },
		{ &ca_pem, &crl_expired, SIGNET_ERR_CERT,
		    "every client certificate would be refused" },
		{ &ca_pem, &crl_soon, 0, "" },
		{ &ca_pem, &crl_future, SIGNET_ERR_CERT,
		    "CRL is not valid before" },
		{ &ca_pem, &crl_nonext, SIGNET_ERR_CERT,
		    "no readable nextUpdate" },
		{ &ca_pem, &crl_two, SIGNET_ERR_FORMAT, "more than one CRL" },
		{ &ca_pem, &crl_garbage, SIGNET_ERR_FORMAT, "no PEM CRL" },
		{ &ca_pem, &crl_empty, SIGNET_ERR_FORMAT, "empty CRL file" },
		{ &ca_pem, &ca_pem, SIGNET_ERR_FORMAT, "no PEM CRL" },
		{ &ca_missing, &crl_pem, SIGNET_ERR_NOT_FOUND, "no such file" },
		{ &ca_garbage, &crl_pem, SIGNET_ERR_FORMAT,
		    "no PEM certificate" },
		{ &ca_two, &crl_pem, SIGNET_ERR_FORMAT,
		    "more than one certificate" },
		{ &ca_leaf, &crl_pem, SIGNET_ERR_CERT, "not a self-signed CA" },
		{ &ca_noku, &crl_pem, SIGNET_ERR_CERT,
		    "needs keyUsage keyCertSign and cRLSign" },
		{ &ca_expired, &crl_pem, SIGNET_ERR_CERT, "expired at" },
	};
	struct identity_store *s;
	struct err_msg msg;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		s = (struct identity_store *)1;
		err_clear(&msg);
		r = identity_store_load(*rows[i].ca, *rows[i].crl, &s, &msg);
		if (getenv("TEST_VERBOSE") != NULL)
			fprintf(stderr, "load row %zu: %d %s\n", i, r,
			    msg.text);
		CHECKF(r == rows[i].rc, "load row %zu: got %d (%s), want %d",
		    i, r, msg.text, rows[i].rc);
		CHECK_CONTAINS(msg.text, rows[i].want);
		if (r != 0)
			CHECK(s == NULL);
		else
			CHECK(s != NULL);
		identity_store_free(s);
	}

	s = (struct identity_store *)1;
	CHECK(identity_store_load(NULL, crl_pem, &s, &msg) ==
	    SIGNET_ERR_INVALID_ARG && s == NULL);
	CHECK(identity_store_load(ca_pem, NULL, &s, NULL) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(identity_store_load(ca_pem, crl_pem, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);

	/* References, accessors. */
	r = identity_store_load(ca_pem, crl_pem, &s, &msg);
	CHECKF(r == 0, "%s", msg.text);
	if (r == 0) {
		CHECK(identity_store_ref(s) == s);
		identity_store_free(s);  /* one reference left */
		CHECK(identity_store_crl_next_update(s) == now0 + 90 * DAY);
		CHECK(identity_store_crl_last_update(s) == now0 - DAY);
		CHECK(X509_cmp(identity_store_ca_x509(s),
		    auth[AUTH_CA].cert) == 0);
		CHECK(identity_store_crl_x509(s) != NULL);
		identity_store_free(s);
	}
	identity_store_free(NULL);
	CHECK(identity_store_ref(NULL) == NULL);
	CHECK(identity_store_crl_next_update(NULL) == 0);
	CHECK(identity_store_ca_x509(NULL) == NULL);
}

#define R_A IDENTITY_ACCEPT_AGENT
#define R_O IDENTITY_ACCEPT_OPERATOR
#define R_U IDENTITY_ACCEPT_AUDITOR
#define R_S IDENTITY_ACCEPT_SERVER
#define R_API (IDENTITY_ACCEPT_OPERATOR | IDENTITY_ACCEPT_AUDITOR)
#define R_ALL (R_A | R_O | R_U | R_S)

static const struct verify_row {
	const char *leaf;     /* leaf id, or "ca" for the CA certificate */
	unsigned mask;
	int64_t now_off;      /* 0: real time; else now0 + now_off */
	bool chain;           /* pass the intermediate CA as untrusted */
	int rc;
	enum identity_role role;
	const char *name;
	const char *want;     /* in the message, after the subject */
} verify_rows[] = {
	{ "agent", R_A, 0, false, 0, IDENTITY_ROLE_AGENT, "web-01", NULL },
	{ "operator", R_API, 0, false, 0, IDENTITY_ROLE_OPERATOR, "alice",
	    NULL },
	{ "auditor", R_API, 0, false, 0, IDENTITY_ROLE_AUDITOR, "carol",
	    NULL },
	{ "server", R_S, 0, false, 0, IDENTITY_ROLE_SERVER,
	    "relay.example.org", NULL },
	{ "late", R_API, 0, false, 0, IDENTITY_ROLE_AUDITOR, "zoe", NULL },
	{ "bigserial", R_O, 0, false, 0, IDENTITY_ROLE_OPERATOR, "ivan",
	    NULL },
	{ "agent", R_ALL, 0, true, 0, IDENTITY_ROLE_AGENT, "web-01", NULL },
	{ "operator", R_O, 29 * DAY, false, 0, IDENTITY_ROLE_OPERATOR, "alice",
	    NULL },
	/* Dates, also at a time given by the caller. */
	{ "expired", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL, " expired at " },
	{ "future", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " not valid before " },
	{ "operator", R_O, 31 * DAY, false, SIGNET_ERR_CERT, 0, NULL,
	    " expired at " },
	{ "operator", R_O, -7200, false, SIGNET_ERR_CERT, 0, NULL,
	    " not valid before " },
	{ "late", R_U, 91 * DAY, false, SIGNET_ERR_CERT, 0, NULL,
	    " cannot be checked: the CRL expired at " },
	/* Issuer. */
	{ "impostor", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " not issued by the signet CA" },
	{ "foreign", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " not issued by the signet CA" },
	{ "via_inter", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " not issued by the signet CA" },
	{ "via_inter", R_O, 0, true, SIGNET_ERR_CERT, 0, NULL,
	    " not issued directly by the signet CA (intermediate CAs are not "
	    "accepted)" },
	{ "leaf_ca", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " is a CA certificate" },
	{ "ca", R_ALL, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " is a CA certificate" },
	/* Revocation. */
	{ "revoked", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " revoked (serial 1A2B)" },
	/* EKU. */
	{ "agent_srv_eku", R_A, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " lacks clientAuth extended key usage" },
	{ "agent_both_eku", R_A, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " carries serverAuth extended key usage" },
	{ "no_eku", R_A, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " has no extended key usage extension" },
	{ "any_eku", R_A, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " lacks clientAuth extended key usage" },
	{ "server_cli_eku", R_S, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " lacks serverAuth extended key usage" },
	/* Role (OU). */
	{ "no_ou", R_ALL, 0, false, SIGNET_ERR_CERT, 0, NULL, " has no OU" },
	{ "unknown_ou", R_ALL, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " has unknown role OU \"admin\"" },
	{ "two_ou", R_ALL, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " has 2 OU entries" },
	/* Role mask. */
	{ "operator", R_A, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " role operator not allowed here" },
	{ "agent", R_API, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " role agent not allowed here" },
	{ "auditor", R_A | R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " role auditor not allowed here" },
	{ "server", R_A | R_API, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " role server not allowed here" },
	{ "agent", 0, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " role agent not allowed here" },
	/* Name (CN). */
	{ "upper_cn", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " common name \"Bob\" is not a valid name" },
	{ "dotdot_cn", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " common name \"../x\" is not a valid name" },
	{ "long_cn", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " common name \"" A16 A16 A16 A16 "\" is not a valid name" },
	{ "no_cn", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL, " has no CN" },
	{ "two_cn", R_O, 0, false, SIGNET_ERR_CERT, 0, NULL,
	    " has 2 CN entries" },
};

/* Checks a verify outcome against row; cert is the leaf used. */
static void
check_outcome(const struct verify_row *row, size_t i, int r,
    const struct identity *id, const struct err_msg *msg)
{
	const struct leaf *l = NULL;
	char want[256];

	if (strcmp(row->leaf, "ca") != 0)
		l = leaf_by_id(row->leaf);
	if (getenv("TEST_VERBOSE") != NULL)
		fprintf(stderr, "row %zu (%s): %d %s\n", i, row->leaf, r,
		    msg->text);
	CHECKF(r == row->rc, "row %zu (%s): got %d (%s), want %d", i,
	    row->leaf, r, msg->text, row->rc);
	if (row->rc != 0) {
		/* certificate "<subject>" <what failed> */
		(void)snprintf(want, sizeof(want), "certificate \"%s\"%s",
		    l != NULL ? l->subject : auth[AUTH_CA].subject, row->want);
		CHECKF(strstr(msg->text, want) != NULL,
		    "row %zu: \"%s\" lacks \"%s\"", i, msg->text, want);
		CHECK(id->role == IDENTITY_ROLE_NONE && id->name[0] == '\0');
		return;
	}
	CHECKF(id->role == row->role, "row %zu: role %d", i, (int)id->role);
	CHECKF(strcmp(id->name, row->name) == 0, "row %zu: name %s", i,
	    id->name);
	CHECKF(strcmp(id->serial, l->serial) == 0, "row %zu: serial %s", i,
	    id->serial);
	CHECKF(id->not_before == abs_time(l->nb), "row %zu: not_before %lld",
	    i, (long long)id->not_before);
	CHECKF(id->not_after == abs_time(l->na), "row %zu: not_after %lld",
	    i, (long long)id->not_after);
}

static void
test_verify_rows(const struct identity_store *s)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct identity id;
	struct err_msg msg;
	size_t i;
	int r;

	CHECK(chain != NULL && sk_X509_push(chain, auth[AUTH_INTER].cert) > 0);
	for (i = 0; i < sizeof(verify_rows) / sizeof(verify_rows[0]); i++) {
		const struct verify_row *row = &verify_rows[i];
		X509 *x = strcmp(row->leaf, "ca") == 0 ? auth[AUTH_CA].cert :
		    leaf_by_id(row->leaf)->cert;

		err_clear(&msg);
		memset(&id, 0xa5, sizeof(id));
		r = identity_verify_x509(s, x, row->chain ? chain : NULL,
		    row->mask, row->now_off == 0 ? 0 : now0 + row->now_off,
		    &id, &msg);
		check_outcome(row, i, r, &id, &msg);
	}
	sk_X509_free(chain);
}

/* The expiry message names the exact date. */
static void
test_expired_date(const struct identity_store *s)
{
	struct identity id;
	struct err_msg msg;
	char want[64];
	struct tm tm;
	time_t t = (time_t)(now0 - 10 * DAY);

	CHECK(gmtime_r(&t, &tm) != NULL);
	CHECK(strftime(want, sizeof(want), "expired at %Y-%m-%dT%H:%M:%SZ",
	    &tm) > 0);
	CHECK(identity_verify_x509(s, leaf_by_id("expired")->cert, NULL, R_O, 0,
	    &id, &msg) == SIGNET_ERR_CERT);
	CHECK_CONTAINS(msg.text, want);

	/* Arguments. */
	CHECK(identity_verify_x509(NULL, leaf_by_id("agent")->cert, NULL, R_A,
	    0, &id, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(identity_verify_x509(s, NULL, NULL, R_A, 0, &id, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(identity_verify_x509(s, leaf_by_id("agent")->cert, NULL, R_A, 0,
	    NULL, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(identity_verify_x509(s, leaf_by_id("agent")->cert, NULL, R_A, -1,
	    &id, &msg) == SIGNET_ERR_INVALID_ARG);
	/* msg may be NULL. */
	CHECK(identity_verify_x509(s, leaf_by_id("revoked")->cert, NULL, R_O,
	    0, &id, NULL) == SIGNET_ERR_CERT);
}

/*
 * CRL expiry: the states around the warning window and nextUpdate, and a
 * store whose CRL expires in 3 days: it loads and admits peers (warn, do
 * not refuse) until nextUpdate, and refuses every one from then on (fail
 * closed), at the very second identity_crl_state calls it expired.
 */
static void
test_crl_expiry(void)
{
	const int64_t next = now0 + 3 * DAY, w = IDENTITY_CRL_WARN_SECS;
	struct identity_store *s = NULL;
	struct identity id;
	struct err_msg msg;
	int r;

	CHECK(w == 7 * DAY);
	CHECK(identity_crl_state(next, next - w - 1) == IDENTITY_CRL_VALID);
	CHECK(identity_crl_state(next, next - w) == IDENTITY_CRL_EXPIRING);
	CHECK(identity_crl_state(next, next - 1) == IDENTITY_CRL_EXPIRING);
	CHECK(identity_crl_state(next, next) == IDENTITY_CRL_EXPIRED);
	CHECK(identity_crl_state(next, next + 1) == IDENTITY_CRL_EXPIRED);
	CHECK(identity_crl_state(0, now0) == IDENTITY_CRL_EXPIRED);
	CHECK(identity_crl_state(-5, now0) == IDENTITY_CRL_EXPIRED);
	CHECK(identity_crl_state(INT64_MAX, INT64_MIN) == IDENTITY_CRL_VALID);
	CHECK(identity_crl_state(1, INT64_MIN) == IDENTITY_CRL_VALID);
	CHECK(identity_crl_state(1, 1 - w) == IDENTITY_CRL_EXPIRING);
	CHECK(identity_crl_state(INT64_MAX, INT64_MAX) ==
	    IDENTITY_CRL_EXPIRED);
	CHECK(strcmp(identity_crl_state_name(IDENTITY_CRL_VALID), "valid") ==
	    0);
	CHECK(strcmp(identity_crl_state_name(IDENTITY_CRL_EXPIRING),
	    "expiring") == 0);
	CHECK(strcmp(identity_crl_state_name(IDENTITY_CRL_EXPIRED),
	    "expired") == 0);
	CHECK(strcmp(identity_crl_state_name((enum identity_crl_state)9),
	    "expired") == 0);

	r = identity_store_load(ca_pem, crl_soon, &s, &msg);
	CHECKF(r == 0, "%s", msg.text);
	if (r != 0)
		return;
	CHECK(identity_store_crl_next_update(s) == next);
	CHECK(identity_crl_state(identity_store_crl_next_update(s), now0) ==
	    IDENTITY_CRL_EXPIRING);
	CHECK(identity_verify_x509(s, leaf_by_id("operator")->cert, NULL, R_O,
	    next - 1, &id, &msg) == 0);
	CHECK(identity_verify_x509(s, leaf_by_id("agent")->cert, NULL, R_A,
	    next, &id, &msg) == SIGNET_ERR_CERT);
	CHECK_CONTAINS(msg.text, "cannot be checked: the CRL expired at");
	CHECK(identity_verify_x509(s, leaf_by_id("operator")->cert, NULL, R_O,
	    next + 1, &id, &msg) == SIGNET_ERR_CERT);
	CHECK_CONTAINS(msg.text, "cannot be checked: the CRL expired at");
	identity_store_free(s);
}

/* PEM text of certs (NULL-terminated) in a malloc'd, unterminated buffer. */
static char *
pem_of(X509 *const *certs, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long n;

	*len = 0;
	if (bio == NULL)
		return NULL;
	for (; *certs != NULL; certs++) {
		if (PEM_write_bio_X509(bio, *certs) != 1)
			goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	out = malloc((size_t)n);
	if (out == NULL)
		goto out;
	memcpy(out, data, (size_t)n);
	*len = (size_t)n;
out:
	BIO_free(bio);
	return out;
}

static void
test_der_pem(const struct identity_store *s)
{
	X509 *certs[3] = { NULL, NULL, NULL };
	unsigned char *der = NULL;
	uint8_t *big = NULL, *plus = NULL;
	char *pem = NULL, *junk = NULL;
	struct identity id;
	struct err_msg msg;
	size_t pemlen;
	int derlen, r;

	/* DER. */
	derlen = i2d_X509(leaf_by_id("agent")->cert, &der);
	CHECK(derlen > 0);
	if (derlen <= 0)
		return;
	r = identity_verify_der(s, der, (size_t)derlen, R_A, 0, &id, &msg);
	CHECKF(r == 0, "%s", msg.text);
	CHECK(id.role == IDENTITY_ROLE_AGENT && strcmp(id.name, "web-01") == 0);
	CHECK(strcmp(id.serial, "1001") == 0);
	CHECK(identity_verify_der(s, der, (size_t)derlen, R_O, 0, &id, &msg) ==
	    SIGNET_ERR_CERT);
	CHECK_CONTAINS(msg.text, "role agent not allowed here");
	CHECK(identity_verify_der(s, der, (size_t)derlen - 1, R_A, 0, &id,
	    &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "not a DER certificate");
	plus = malloc((size_t)derlen + 1);
	CHECK(plus != NULL);
	if (plus != NULL) {
		memcpy(plus, der, (size_t)derlen);
		plus[derlen] = 0;
		CHECK(identity_verify_der(s, plus, (size_t)derlen + 1, R_A, 0,
		    &id, &msg) == SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "1 trailing bytes");
		CHECK(id.role == IDENTITY_ROLE_NONE);
	}
	CHECK(identity_verify_der(s, der, 0, R_A, 0, &id, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK(identity_verify_der(s, NULL, 5, R_A, 0, &id, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	big = calloc(1, IDENTITY_CERT_MAX + 1);
	CHECK(big != NULL);
	if (big != NULL) {
		memcpy(big, der, (size_t)derlen);
		CHECK(identity_verify_der(s, big, IDENTITY_CERT_MAX + 1, R_A, 0,
		    &id, &msg) == SIGNET_ERR_TOO_LARGE);
		CHECK_CONTAINS(msg.text, "over the 65536-byte limit");
	}
	OPENSSL_free(der);
	der = NULL;
	derlen = i2d_X509(leaf_by_id("revoked")->cert, &der);
	CHECK(derlen > 0);
	if (derlen > 0) {
		CHECK(identity_verify_der(s, der, (size_t)derlen, R_O, 0, &id,
		    &msg) == SIGNET_ERR_CERT);
		CHECK_CONTAINS(msg.text,
		    "certificate \"CN=bob,OU=operator\" revoked (serial 1A2B)");
	}

	/* PEM, in an exactly sized buffer so ASan sees any over-read. */
	certs[0] = leaf_by_id("operator")->cert;
	pem = pem_of(certs, &pemlen);
	CHECK(pem != NULL);
	if (pem != NULL) {
		r = identity_verify_pem(s, pem, pemlen, R_API, 0, &id, &msg);
		CHECKF(r == 0, "%s", msg.text);
		CHECK(id.role == IDENTITY_ROLE_OPERATOR &&
		    strcmp(id.name, "alice") == 0);
		CHECK(identity_verify_pem(s, pem, pemlen, R_A, 0, &id, &msg) ==
		    SIGNET_ERR_CERT);
		CHECK_CONTAINS(msg.text, "role operator not allowed here");
		/* Text before the block, as `openssl x509 -text` leaves. */
		junk = malloc(pemlen + 32);
		if (junk != NULL) {
			memcpy(junk, "subject=CN = alice\n", 19);
			memcpy(junk + 19, pem, pemlen);
			CHECK(identity_verify_pem(s, junk, pemlen + 19, R_O, 0,
			    &id, &msg) == 0);
		}
		CHECK(identity_verify_pem(s, pem, pemlen / 2, R_O, 0, &id,
		    &msg) == SIGNET_ERR_FORMAT);
		free(pem);
	}
	/* Leaf plus intermediate: the chain is too deep. */
	certs[0] = leaf_by_id("via_inter")->cert;
	certs[1] = auth[AUTH_INTER].cert;
	pem = pem_of(certs, &pemlen);
	CHECK(pem != NULL);
	if (pem != NULL) {
		CHECK(identity_verify_pem(s, pem, pemlen, R_O, 0, &id, &msg) ==
		    SIGNET_ERR_CERT);
		CHECK_CONTAINS(msg.text, "intermediate CAs are not accepted");
		free(pem);
	}
	/* Leaf plus the CA, as PEM bundles often are: fine. */
	certs[0] = leaf_by_id("auditor")->cert;
	certs[1] = auth[AUTH_CA].cert;
	pem = pem_of(certs, &pemlen);
	if (pem != NULL) {
		CHECK(identity_verify_pem(s, pem, pemlen, R_U, 0, &id, &msg) ==
		    0);
		CHECK(id.role == IDENTITY_ROLE_AUDITOR);
		free(pem);
	}
	CHECK(identity_verify_pem(s, "hello", 5, R_O, 0, &id, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "no PEM certificate");
	CHECK(identity_verify_pem(s, "", 0, R_O, 0, &id, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK(identity_verify_pem(s, NULL, 3, R_O, 0, &id, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	if (big != NULL) {
		memset(big, 'A', IDENTITY_CERT_MAX + 1);
		CHECK(identity_verify_pem(s, (const char *)big,
		    IDENTITY_CERT_MAX + 1, R_O, 0, &id, &msg) ==
		    SIGNET_ERR_TOO_LARGE);
	}
	free(junk);
	free(big);
	free(plus);
	OPENSSL_free(der);
}

static void
test_serial_revoked(const struct identity_store *s)
{
	static const struct {
		const char *serial;
		int rc;
	} rows[] = {
		{ "1A2B", 1 }, { "1a2b", 1 }, { "DEAD1", 1 }, { "0DEAD1", 1 },
		{ "1001", 0 },
		{ "7F0102030405060708090A0B0C0D0E0F10111213", 0 },
		{ "", SIGNET_ERR_FORMAT }, { "1A2G", SIGNET_ERR_FORMAT },
		{ "-1A2B", SIGNET_ERR_FORMAT }, { " 1A2B", SIGNET_ERR_FORMAT },
		{ "7F0102030405060708090A0B0C0D0E0F1011121314",
		    SIGNET_ERR_FORMAT },
	};
	struct err_msg msg;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = identity_store_serial_revoked(s, rows[i].serial, &msg);
		CHECKF(r == rows[i].rc, "serial %s: got %d, want %d",
		    rows[i].serial, r, rows[i].rc);
	}
	CHECK(identity_store_serial_revoked(NULL, "1A2B", &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(identity_store_serial_revoked(s, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
}

/* One store shared by several threads at once. */
static void *
verify_worker(void *arg)
{
	const struct identity_store *s = arg;
	struct identity id;
	struct err_msg msg;
	int i;
	uintptr_t bad = 0;

	for (i = 0; i < 25; i++) {
		if (identity_verify_x509(s, leaf_by_id("agent")->cert, NULL,
		    R_A, 0, &id, &msg) != 0 ||
		    strcmp(id.name, "web-01") != 0)
			bad++;
		if (identity_verify_x509(s, leaf_by_id("revoked")->cert, NULL,
		    R_O, 0, &id, &msg) != SIGNET_ERR_CERT)
			bad++;
	}
	return (void *)bad;
}

static void
test_threads(struct identity_store *s)
{
	pthread_t th[4];
	void *res;
	size_t i, started = 0;

	for (i = 0; i < 4; i++) {
		if (pthread_create(&th[i], NULL, verify_worker,
		    identity_store_ref(s)) != 0) {
			identity_store_free(s);
			break;
		}
		started++;
	}
	CHECK(started == 4);
	for (i = 0; i < started; i++) {
		res = NULL;
		CHECK(pthread_join(th[i], &res) == 0);
		CHECK(res == NULL);
		identity_store_free(s);
	}
}

/* Writes key as PEM to tmpdir/name with mode. */
static const char *
write_key(const char *name, EVP_PKEY *key, mode_t mode)
{
	const char *path = path_in_tmp(name);
	BIO *bio = BIO_new_file(path, "w");
	bool ok = bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL,
	    NULL, 0, NULL, NULL) == 1;

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
		const char *cert;   /* a leaf id, "garbage" or "missing" */
		const char *key;    /* a leaf id, "garbage" or "loose" */
		int r;
		const char *text;   /* host_id on success, else in msg */
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
	struct identity_store *s = NULL;
	struct err_msg msg;
	int r;

	now0 = (int64_t)time(NULL);
	if (setup() != 0) {
		teardown();
		test_failed++;
		return test_finish("test_identity");
	}
	test_role_names();
	test_store_load();
	test_crl_expiry();
	test_agent_cert();
	r = identity_store_load(ca_pem, crl_pem, &s, &msg);
	CHECKF(r == 0, "%s", msg.text);
	if (r == 0) {
		test_verify_rows(s);
		test_expired_date(s);
		test_der_pem(s);
		test_serial_revoked(s);
		test_threads(s);
		identity_store_free(s);
	}
	teardown();
	return test_finish("test_identity");
}
