/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for identity.c: on the throwaway PKI of identity_fixtures.h (a
 * CA, impostor CAs, leaves good and bad, CRLs good and bad), checks one
 * table row per rule, each with its message. The agent's own certificate
 * (identity_agent.c) is tested in test_identity_agent.c.
 */
#include "identity.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "err.h"
#include "identity_fixtures.h"
#include "testlib.h"

static void
test_role_names(void)
{
	CHECK(strcmp(identity_role_name(IDENTITY_ROLE_AGENT), "agent") == 0);
	CHECK(strcmp(identity_role_name(IDENTITY_ROLE_OPERATOR), "operator") ==
	    0);
	CHECK(
	    strcmp(identity_role_name(IDENTITY_ROLE_AUDITOR), "auditor") == 0);
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
		CHECKF(r == rows[i].rc, "load row %zu: got %d (%s), want %d", i,
		    r, msg.text, rows[i].rc);
		CHECK_CONTAINS(msg.text, rows[i].want);
		if (r != 0)
			CHECK(s == NULL);
		else
			CHECK(s != NULL);
		identity_store_free(s);
	}

	s = (struct identity_store *)1;
	CHECK(identity_store_load(NULL, crl_pem, &s, &msg) ==
	        SIGNET_ERR_INVALID_ARG &&
	    s == NULL);
	CHECK(identity_store_load(ca_pem, NULL, &s, NULL) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(identity_store_load(ca_pem, crl_pem, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);

	/* References, accessors. */
	r = identity_store_load(ca_pem, crl_pem, &s, &msg);
	CHECKF(r == 0, "%s", msg.text);
	if (r == 0) {
		CHECK(identity_store_ref(s) == s);
		identity_store_free(s); /* one reference left */
		CHECK(identity_store_crl_next_update(s) == now0 + 90 * DAY);
		CHECK(identity_store_crl_last_update(s) == now0 - DAY);
		CHECK(X509_cmp(identity_store_ca_x509(s), auth[AUTH_CA].cert) ==
		    0);
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
	const char *leaf; /* leaf id, or "ca" for the CA certificate */
	unsigned mask;
	int64_t now_off; /* 0: real time; else now0 + now_off */
	bool chain;      /* pass the intermediate CA as untrusted */
	int rc;
	enum identity_role role;
	const char *name;
	const char *want; /* in the message, after the subject */
} verify_rows[] = {
	{ "agent", R_A, 0, false, 0, IDENTITY_ROLE_AGENT, "web-01", NULL },
	{ "operator", R_API, 0, false, 0, IDENTITY_ROLE_OPERATOR, "alice",
	    NULL },
	{ "auditor", R_API, 0, false, 0, IDENTITY_ROLE_AUDITOR, "carol", NULL },
	{ "server", R_S, 0, false, 0, IDENTITY_ROLE_SERVER, "relay.example.org",
	    NULL },
	{ "late", R_API, 0, false, 0, IDENTITY_ROLE_AUDITOR, "zoe", NULL },
	{ "bigserial", R_O, 0, false, 0, IDENTITY_ROLE_OPERATOR, "ivan", NULL },
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
	CHECKF(r == row->rc, "row %zu (%s): got %d (%s), want %d", i, row->leaf,
	    r, msg->text, row->rc);
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
	CHECKF(id->not_before == abs_time(l->nb), "row %zu: not_before %lld", i,
	    (long long)id->not_before);
	CHECKF(id->not_after == abs_time(l->na), "row %zu: not_after %lld", i,
	    (long long)id->not_after);
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
		X509 *x = strcmp(row->leaf, "ca") == 0 ?
		    auth[AUTH_CA].cert :
		    leaf_by_id(row->leaf)->cert;

		err_clear(&msg);
		memset(&id, 0xa5, sizeof(id));
		r = identity_verify_x509(s, x, row->chain ? chain : NULL,
		    row->mask, row->now_off == 0 ? 0 : now0 + row->now_off, &id,
		    &msg);
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
	CHECK(identity_verify_x509(s, leaf_by_id("revoked")->cert, NULL, R_O, 0,
	          &id, NULL) == SIGNET_ERR_CERT);
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
	CHECK(identity_crl_state(INT64_MAX, INT64_MAX) == IDENTITY_CRL_EXPIRED);
	CHECK(
	    strcmp(identity_crl_state_name(IDENTITY_CRL_VALID), "valid") == 0);
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

/*
 * Makes the signature of s's CRL wrong in memory, after the store loaded
 * it. Returns whether X509_CRL_verify now refuses it under the CA's key.
 */
static bool
spoil_crl_signature(struct identity_store *s)
{
	X509_CRL *crl = identity_store_crl_x509(s);
	const ASN1_BIT_STRING *sig = NULL;
	unsigned char *p;
	int n;

	if (crl == NULL)
		return false;
	X509_CRL_get0_signature(crl, &sig, NULL);
	n = sig == NULL ? 0 : ASN1_STRING_length(sig);
	if (n < 8)
		return false;
	p = (unsigned char *)ASN1_STRING_get0_data(sig);
	p[n / 2] ^= 0x01;
	return X509_CRL_verify(crl, X509_get0_pubkey(auth[AUTH_CA].cert)) != 1;
}

/*
 * The CRL's signature is verified once, when the store loads it, not at
 * every check: a store whose CRL signature was spoiled in memory after it
 * loaded judges every row exactly as an intact store does (return, X509
 * error for the TLS alert, message), including which fault is named first
 * when two apply (the CRL and revocation before the leaf's own dates, as
 * OpenSSL orders them). With OpenSSL's own check_crl, which verifies the
 * signature at every check (after the CRL's dates), the spoiled store
 * refuses every row whose chain and CRL dates are fine with "CRL signature
 * failure". A CRL with an issuingDistributionPoint is still left to
 * OpenSSL's own check, signature and all.
 */
static void
test_crl_signature_once(void)
{
	static const struct {
		const char *leaf;
		unsigned mask;
		int64_t now_off; /* 0: real time; else now0 + now_off */
		int rc, x509_err;
		const char *want; /* in the message, after the subject */
	} rows[] = {
		{ "agent", R_A, 0, 0, X509_V_OK, NULL },
		{ "operator", R_O, 89 * DAY, SIGNET_ERR_CERT,
		    X509_V_ERR_CERT_HAS_EXPIRED, " expired at " },
		{ "revoked", R_O, 0, SIGNET_ERR_CERT, X509_V_ERR_CERT_REVOKED,
		    " revoked (serial 1A2B)" },
		/* Revoked and expired: revocation is named. */
		{ "revoked", R_O, 31 * DAY, SIGNET_ERR_CERT,
		    X509_V_ERR_CERT_REVOKED, " revoked (serial 1A2B)" },
		{ "expired", R_O, 0, SIGNET_ERR_CERT,
		    X509_V_ERR_CERT_HAS_EXPIRED, " expired at " },
		/* At nextUpdate, and the leaf expired too: the CRL is named. */
		{ "operator", R_O, 90 * DAY, SIGNET_ERR_CERT,
		    X509_V_ERR_CRL_HAS_EXPIRED,
		    " cannot be checked: the CRL expired at " },
		{ "late", R_U, 90 * DAY - 1, 0, X509_V_OK, NULL },
		{ "late", R_U, 90 * DAY, SIGNET_ERR_CERT,
		    X509_V_ERR_CRL_HAS_EXPIRED,
		    " cannot be checked: the CRL expired at " },
		{ "late", R_U, -DAY - 1, SIGNET_ERR_CERT,
		    X509_V_ERR_CRL_NOT_YET_VALID,
		    " cannot be checked: the CRL is not valid before " },
		{ "impostor", R_O, 0, SIGNET_ERR_CERT,
		    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		    " not issued by the signet CA" },
		{ "agent", R_O, 0, SIGNET_ERR_CERT, X509_V_OK,
		    " role agent not allowed here" },
	};
	struct identity_store *good = NULL, *spoilt = NULL, *idp = NULL;
	struct identity id, id2;
	struct err_msg msg, msg2;
	char want[256];
	size_t i;
	int r, r2, e, e2;

	r = identity_store_load(ca_pem, crl_pem, &good, &msg);
	CHECKF(r == 0, "%s", msg.text);
	r2 = identity_store_load(ca_pem, crl_pem, &spoilt, &msg2);
	CHECKF(r2 == 0, "%s", msg2.text);
	if (r != 0 || r2 != 0)
		goto out;
	CHECK(spoil_crl_signature(spoilt));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct leaf *l = leaf_by_id(rows[i].leaf);
		int64_t now = rows[i].now_off == 0 ? 0 : now0 + rows[i].now_off;

		err_clear(&msg);
		err_clear(&msg2);
		r = identity_verify_x509_err(good, l->cert, NULL, rows[i].mask,
		    now, &id, &e, &msg);
		r2 = identity_verify_x509_err(spoilt, l->cert, NULL,
		    rows[i].mask, now, &id2, &e2, &msg2);
		CHECKF(r == rows[i].rc && e == rows[i].x509_err,
		    "once row %zu: got %d, x509 %d (%s)", i, r, e, msg.text);
		if (rows[i].want != NULL) {
			(void)snprintf(want, sizeof(want),
			    "certificate \"%s\"%s", l->subject, rows[i].want);
			CHECKF(strstr(msg.text, want) != NULL,
			    "once row %zu: \"%s\" lacks \"%s\"", i, msg.text,
			    want);
		}
		CHECKF(r2 == r && e2 == e && strcmp(msg2.text, msg.text) == 0,
		    "once row %zu, spoilt CRL signature: got %d, x509 %d (%s)",
		    i, r2, e2, msg2.text);
		CHECK(r != 0 ||
		    (strcmp(id.name, id2.name) == 0 && id.role == id2.role));
	}

	/* Left to OpenSSL: the spoilt signature is found at each check. */
	r = identity_store_load(ca_pem, crl_idp, &idp, &msg);
	CHECKF(r == 0, "%s", msg.text);
	if (r != 0)
		goto out;
	CHECK(identity_verify_x509_err(idp, leaf_by_id("agent")->cert, NULL,
	          R_A, 0, &id, &e, &msg) == 0);
	CHECK(identity_verify_x509_err(idp, leaf_by_id("revoked")->cert, NULL,
	          R_O, 0, &id, &e, &msg) == SIGNET_ERR_CERT &&
	    e == X509_V_ERR_CERT_REVOKED);
	CHECK_CONTAINS(msg.text, " revoked (serial 1A2B)");
	CHECK(spoil_crl_signature(idp));
	CHECK(identity_verify_x509_err(idp, leaf_by_id("agent")->cert, NULL,
	          R_A, 0, &id, &e, &msg) == SIGNET_ERR_CERT &&
	    e == X509_V_ERR_CRL_SIGNATURE_FAILURE);
	CHECK_CONTAINS(msg.text, "CRL signature failure");
out:
	identity_store_free(idp);
	identity_store_free(spoilt);
	identity_store_free(good);
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
		          IDENTITY_CERT_MAX + 1, R_O, 0, &id,
		          &msg) == SIGNET_ERR_TOO_LARGE);
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
		{ "1A2B", 1 },
		{ "1a2b", 1 },
		{ "DEAD1", 1 },
		{ "0DEAD1", 1 },
		{ "1001", 0 },
		{ "7F0102030405060708090A0B0C0D0E0F10111213", 0 },
		{ "", SIGNET_ERR_FORMAT },
		{ "1A2G", SIGNET_ERR_FORMAT },
		{ "-1A2B", SIGNET_ERR_FORMAT },
		{ " 1A2B", SIGNET_ERR_FORMAT },
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
	test_crl_signature_once();
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
