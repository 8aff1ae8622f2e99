/* SPDX-License-Identifier: ISC */
/* Client and server certificate checks against the signet CA and CRL. */
#include "identity.h"
#include "identity_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "fileio.h"
#include "text.h"

/* Room for an escaped subject in messages; longer ones end in "...". */
#define SUBJECT_TEXT_MAX 160
/* Bytes of the printed subject fed to the escaper. */
#define SUBJECT_RAW_MAX 256
/* "2026-01-01T00:00:00Z" plus slack for odd years. */
#define DATE_TEXT_MAX 32
/* Certificates accepted after the leaf in identity_verify_pem. */
#define PEM_EXTRA_MAX 8

struct identity_store {
	atomic_uint refs;
	X509 *ca;
	X509_CRL *crl;
	X509_STORE *xstore; /* holds ca and crl; only read after load */
	int64_t crl_last_update;
	int64_t crl_next_update;
	/* OpenSSL's own check_crl, for what crl_check does not vouch for. */
	X509_STORE_CTX_check_crl_fn openssl_check_crl;
	bool crl_plain; /* no issuingDistributionPoint, not a delta CRL */
};

/* The X509_STORE ex_data slot that leads crl_check to its store. */
static CRYPTO_ONCE xstore_index_once = CRYPTO_ONCE_STATIC_INIT;
static int xstore_index = -1;

static const char *const role_names[] = {
	[IDENTITY_ROLE_NONE] = "none",
	[IDENTITY_ROLE_SERVER] = "server",
	[IDENTITY_ROLE_AGENT] = "agent",
	[IDENTITY_ROLE_OPERATOR] = "operator",
	[IDENTITY_ROLE_AUDITOR] = "auditor",
};

const char *
identity_role_name(enum identity_role role)
{
	if ((unsigned)role >= sizeof(role_names) / sizeof(role_names[0]))
		return "none";
	return role_names[role];
}

/* The role an OU value names, or IDENTITY_ROLE_NONE. */
static enum identity_role
role_from_ou(const char *ou)
{
	unsigned i;

	for (i = IDENTITY_ROLE_SERVER;
	     i < sizeof(role_names) / sizeof(role_names[0]); i++) {
		if (strcmp(ou, role_names[i]) == 0)
			return (enum identity_role)i;
	}
	return IDENTITY_ROLE_NONE;
}

/*
 * Unix seconds of an ASN1_TIME. A time a 32-bit time_t cannot hold is
 * unreadable there (-1): the check it feeds then refuses.
 */
static int
asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	time_t secs;

	*out = 0;
	if (t == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	errno = 0;
	secs = timegm(&tm);
	if (secs == (time_t)-1 && errno != 0)
		return -1;
	*out = (int64_t)secs;
	return 0;
}

int
identity_x509_not_after(const X509 *x, int64_t *out)
{
	*out = 0;
	if (x == NULL || asn1_time_unix(X509_get0_notAfter(x), out) != 0)
		return SIGNET_ERR_FORMAT;
	return 0;
}

/* RFC 3339 rendering of t for messages; "(unknown)" if unreadable. */
static const char *
asn1_time_text(const ASN1_TIME *t, char *buf, size_t bufsz)
{
	int64_t secs;

	if (asn1_time_unix(t, &secs) != 0 || secs < INT64_MIN / 1000 ||
	    secs > INT64_MAX / 1000 ||
	    clock_format(secs * 1000, false, buf, bufsz)[0] == '\0')
		(void)snprintf(buf, bufsz, "(unknown)");
	return buf;
}

/*
 * The subject in DER order ("CN=bob,OU=operator"), escaped for a message.
 * Never fails: a subject that cannot be printed reads "(unprintable)".
 */
const char *
identity_subject_text(const X509 *x, char *out, size_t outlen)
{
	const unsigned long flags = ASN1_STRFLGS_RFC2253 |
	    XN_FLAG_SEP_COMMA_PLUS | XN_FLAG_FN_SN |
	    XN_FLAG_DUMP_UNKNOWN_FIELDS;
	BIO *bio = NULL;
	char *data = NULL;
	long n;

	(void)snprintf(out, outlen, "(unprintable)");
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return out;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, flags) < 0)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n < 0 || (n > 0 && data == NULL))
		goto out;
	if (n > SUBJECT_RAW_MAX)
		n = SUBJECT_RAW_MAX;
	(void)text_escape(data, (size_t)n, out, outlen);
out:
	BIO_free(bio);
	return out;
}

int
identity_serial_hex(const X509 *x, char out[static IDENTITY_SERIAL_MAX + 1])
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int r = SIGNET_ERR_ALLOC;

	out[0] = '\0';
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn == NULL)
		goto out;
	if (BN_is_negative(bn) || BN_num_bytes(bn) > IDENTITY_SERIAL_MAX / 2) {
		r = -1;
		goto out;
	}
	hex = BN_bn2hex(bn);
	if (hex == NULL)
		goto out;
	if (strlen(hex) > IDENTITY_SERIAL_MAX) {
		r = -1;
		goto out;
	}
	memcpy(out, hex, strlen(hex) + 1);
	r = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

int
identity_name_single_entry(const X509_NAME *name, int nid, char *buf,
    size_t bufsz)
{
	const X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	int count = 0, first = -1, i, n;

	buf[0] = '\0';
	for (i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
	     i = X509_NAME_get_index_by_NID(name, nid, i)) {
		if (count == 0)
			first = i;
		count++;
	}
	if (count != 1)
		return count;
	e = X509_NAME_get_entry(name, first);
	if (e == NULL)
		return -1;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n < 0)
		return -1;
	if ((size_t)n >= bufsz || memchr(utf8, '\0', (size_t)n) != NULL) {
		OPENSSL_free(utf8);
		return -1;
	}
	memcpy(buf, utf8, (size_t)n);
	buf[n] = '\0';
	OPENSSL_free(utf8);
	return 1;
}

/* The message for a failed X509_verify_cert. Returns SIGNET_ERR_CERT. */
static int
refuse_chain(const struct identity_store *store, X509_STORE_CTX *ctx,
    X509 *leaf, const char *subj, const char *serial, struct err_msg *msg)
{
	int err = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	const char *why = X509_verify_cert_error_string(err);
	char date[DATE_TEXT_MAX];

	switch (err) {
	case X509_V_ERR_CERT_REVOKED:
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" revoked (serial %s)", subj, serial);
	case X509_V_ERR_CERT_HAS_EXPIRED:
		if (depth == 0)
			return err_set(msg, SIGNET_ERR_CERT,
			    "certificate \"%s\" expired at %s", subj,
			    asn1_time_text(X509_get0_notAfter(leaf), date,
			        sizeof(date)));
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" cannot be trusted: the signet CA "
		    "certificate expired at %s",
		    subj,
		    asn1_time_text(X509_get0_notAfter(store->ca), date,
		        sizeof(date)));
	case X509_V_ERR_CERT_NOT_YET_VALID:
		if (depth == 0)
			return err_set(msg, SIGNET_ERR_CERT,
			    "certificate \"%s\" not valid before %s", subj,
			    asn1_time_text(X509_get0_notBefore(leaf), date,
			        sizeof(date)));
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" cannot be trusted: the signet CA "
		    "certificate is not valid before %s",
		    subj,
		    asn1_time_text(X509_get0_notBefore(store->ca), date,
		        sizeof(date)));
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" cannot be checked: the CRL expired at "
		    "%s; issue a new one (signet-pki crl) and reload",
		    subj,
		    asn1_time_text(X509_CRL_get0_nextUpdate(store->crl), date,
		        sizeof(date)));
	case X509_V_ERR_CRL_NOT_YET_VALID:
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" cannot be checked: the CRL is not "
		    "valid before %s",
		    subj,
		    asn1_time_text(X509_CRL_get0_lastUpdate(store->crl), date,
		        sizeof(date)));
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" cannot be checked: no CRL from the "
		    "signet CA",
		    subj);
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" not issued directly by the signet CA "
		    "(intermediate CAs are not accepted)",
		    subj);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
	case X509_V_ERR_CERT_UNTRUSTED:
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" not issued by the signet CA (%s)", subj,
		    why);
	default:
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" refused: %s (at depth %d of the chain)",
		    subj, why, depth);
	}
}

/* Role, EKU, mask and name checks after the chain verified. */
static int
check_leaf(X509 *leaf, unsigned accepted_roles, const char *subj,
    struct identity *id, struct err_msg *msg)
{
	const X509_NAME *name = X509_get_subject_name(leaf);
	char ou[32], cn[IDENTITY_NAME_MAX + 2], esc[2 * sizeof(cn) + 8];
	uint32_t xflags, xku, want;
	int n;

	xflags = X509_get_extension_flags(leaf);

	n = identity_name_single_entry(name, NID_organizationalUnitName, ou,
	    sizeof(ou));
	if (n == 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has no OU; expected one of agent, "
		    "operator, auditor, server",
		    subj);
	if (n > 1)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has %d OU entries; expected exactly "
		    "one of agent, operator, auditor, server",
		    subj, n);
	id->role = n == 1 ? role_from_ou(ou) : IDENTITY_ROLE_NONE;
	if (id->role == IDENTITY_ROLE_NONE)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has unknown role OU \"%s\"; expected "
		    "one of agent, operator, auditor, server",
		    subj, n == 1 ? text_escape_str(ou, esc, sizeof(esc)) : "?");

	/* Without the extension OpenSSL reports every usage as allowed. */
	if ((xflags & EXFLAG_XKUSAGE) == 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has no extended key usage extension; "
		    "%s certificates need %s",
		    subj, identity_role_name(id->role),
		    id->role == IDENTITY_ROLE_SERVER ? "serverAuth" :
		                                       "clientAuth");
	xku = X509_get_extended_key_usage(leaf);
	want = id->role == IDENTITY_ROLE_SERVER ? XKU_SSL_SERVER :
	                                          XKU_SSL_CLIENT;
	if ((xku & want) == 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" lacks %s extended key usage, which %s "
		    "certificates need",
		    subj, want == XKU_SSL_SERVER ? "serverAuth" : "clientAuth",
		    identity_role_name(id->role));
	/* A client certificate fit to serve could impersonate the server. */
	if (id->role != IDENTITY_ROLE_SERVER && (xku & XKU_SSL_SERVER) != 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" carries serverAuth extended key usage, "
		    "which %s certificates must not carry",
		    subj, identity_role_name(id->role));

	if ((accepted_roles & IDENTITY_ACCEPT(id->role)) == 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" role %s not allowed here", subj,
		    identity_role_name(id->role));

	n = identity_name_single_entry(name, NID_commonName, cn, sizeof(cn));
	if (n == 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has no CN", subj);
	if (n > 1)
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has %d CN entries; expected one", subj,
		    n);
	if (n < 0 || !text_valid_name(cn))
		return err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" common name \"%s\" is not a valid name "
		    "([a-z0-9][a-z0-9._-]{0,62})",
		    subj, n == 1 ? text_escape_str(cn, esc, sizeof(esc)) : "?");
	memcpy(id->name, cn, strlen(cn) + 1);
	return 0;
}

int
identity_check_role(X509 *leaf, unsigned accepted_roles, struct identity *id,
    struct err_msg *msg)
{
	char subj[SUBJECT_TEXT_MAX];

	memset(id, 0, sizeof(*id));
	if (leaf == NULL)
		return err_set(msg, SIGNET_ERR_CERT, "no certificate");
	(void)identity_subject_text(leaf, subj, sizeof(subj));
	return check_leaf(leaf, accepted_roles, subj, id, msg);
}

int
identity_verify_x509(const struct identity_store *store, X509 *leaf,
    STACK_OF(X509) *untrusted, unsigned accepted_roles, int64_t now,
    struct identity *out, struct err_msg *msg)
{
	return identity_verify_x509_err(store, leaf, untrusted, accepted_roles,
	    now, out, NULL, msg);
}

int
identity_verify_x509_err(const struct identity_store *store, X509 *leaf,
    STACK_OF(X509) *untrusted, unsigned accepted_roles, int64_t now,
    struct identity *out, int *x509_err, struct err_msg *msg)
{
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	STACK_OF(X509) *chain;
	struct identity id;
	char subj[SUBJECT_TEXT_MAX];
	int r, sr;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (x509_err != NULL)
		*x509_err = X509_V_OK;
	memset(&id, 0, sizeof(id));
	if (store == NULL || leaf == NULL || out == NULL || now < 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "identity_verify: missing store, certificate or output");
	if (now == 0)
		now = (int64_t)time(NULL);
	/* Whatever OpenSSL queues here is ours to discard. */
	ERR_set_mark();
	(void)identity_subject_text(leaf, subj, sizeof(subj));
	sr = identity_serial_hex(leaf, id.serial);
	if (sr == SIGNET_ERR_ALLOC) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}

	ctx = X509_STORE_CTX_new();
	if (ctx == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store->xstore, leaf, untrusted) != 1) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "certificate \"%s\": cannot set up verification", subj);
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	if (X509_VERIFY_PARAM_clear_flags(param,
	        X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME |
	            X509_V_FLAG_ALLOW_PROXY_CERTS |
	            X509_V_FLAG_IGNORE_CRITICAL) != 1 ||
	    X509_VERIFY_PARAM_set_flags(param,
	        X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT) != 1) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "certificate \"%s\": cannot set verification flags", subj);
		goto out;
	}
	/* Depth 0: the leaf must be signed by the trust anchor itself. */
	X509_VERIFY_PARAM_set_depth(param, 0);
	/* Level 2: >= 112-bit keys, no SHA-1 signatures. */
	X509_VERIFY_PARAM_set_auth_level(param, 2);
	X509_VERIFY_PARAM_set_time(param, (time_t)now);

	if (X509_verify_cert(ctx) != 1) {
		if (x509_err != NULL)
			*x509_err = X509_STORE_CTX_get_error(ctx);
		r = refuse_chain(store, ctx, leaf, subj,
		    sr == 0 ? id.serial : "?", msg);
		goto out;
	}
	if ((X509_get_extension_flags(leaf) & EXFLAG_CA) != 0) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" is a CA certificate, not a peer's",
		    subj);
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	if (chain == NULL || sk_X509_num(chain) != 2 ||
	    X509_cmp(sk_X509_value(chain, 1), store->ca) != 0) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" is not a peer certificate issued by "
		    "the signet CA",
		    subj);
		goto out;
	}
	if (sr != 0) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has a negative or over-long serial",
		    subj);
		goto out;
	}
	r = check_leaf(leaf, accepted_roles, subj, &id, msg);
	if (r != 0)
		goto out;
	if (asn1_time_unix(X509_get0_notBefore(leaf), &id.not_before) != 0 ||
	    asn1_time_unix(X509_get0_notAfter(leaf), &id.not_after) != 0) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "certificate \"%s\" has unreadable validity dates", subj);
		goto out;
	}
	*out = id;
	r = 0;
out:
	X509_STORE_CTX_free(ctx);
	ERR_pop_to_mark();
	return r;
}

int
identity_verify_der(const struct identity_store *store, const uint8_t *der,
    size_t len, unsigned accepted_roles, int64_t now, struct identity *out,
    struct err_msg *msg)
{
	const unsigned char *p = der;
	X509 *leaf = NULL;
	int r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (der == NULL && len > 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "identity_verify_der: NULL certificate");
	if (len == 0)
		return err_set(msg, SIGNET_ERR_FORMAT, "empty certificate");
	if (len > IDENTITY_CERT_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "certificate of %zu bytes is over the %d-byte limit", len,
		    IDENTITY_CERT_MAX);
	ERR_set_mark();
	leaf = d2i_X509(NULL, &p, (long)len);
	if (leaf == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "not a DER certificate (%zu bytes)", len);
		goto out;
	}
	if (p != der + len) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%zu trailing bytes after the DER certificate",
		    (size_t)(der + len - p));
		goto out;
	}
	r = identity_verify_x509(store, leaf, NULL, accepted_roles, now, out,
	    msg);
out:
	X509_free(leaf);
	ERR_pop_to_mark();
	return r;
}

int
identity_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
identity_verify_pem(const struct identity_store *store, const char *pem,
    size_t len, unsigned accepted_roles, int64_t now, struct identity *out,
    struct err_msg *msg)
{
	STACK_OF(X509) *extra = NULL;
	X509 *leaf = NULL, *x = NULL;
	BIO *bio = NULL;
	int r, i;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (pem == NULL && len > 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "identity_verify_pem: NULL certificate");
	if (len == 0)
		return err_set(msg, SIGNET_ERR_FORMAT, "empty certificate");
	if (len > IDENTITY_CERT_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "certificate of %zu bytes is over the %d-byte limit", len,
		    IDENTITY_CERT_MAX);
	ERR_set_mark();
	bio = BIO_new_mem_buf(pem, (int)len);
	extra = sk_X509_new_null();
	if (bio == NULL || extra == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	leaf = PEM_read_bio_X509(bio, NULL, identity_no_password, NULL);
	if (leaf == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "no PEM certificate in %zu bytes", len);
		goto out;
	}
	for (i = 0; i < PEM_EXTRA_MAX; i++) {
		x = PEM_read_bio_X509(bio, NULL, identity_no_password, NULL);
		if (x == NULL)
			break;
		if (sk_X509_push(extra, x) <= 0) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
		x = NULL;
	}
	r = identity_verify_x509(store, leaf, extra, accepted_roles, now, out,
	    msg);
out:
	X509_free(x);
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	BIO_free(bio);
	ERR_pop_to_mark();
	return r;
}

/*
 * Reads path and parses the one PEM certificate (ca) or CRL (!ca) in it
 * into *obj (NULL on error); a second object of the kind is refused.
 */
static int
load_pem(const char *path, size_t max, const char *what, bool ca, void **obj,
    struct err_msg *msg)
{
	char *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	void *first = NULL, *second = NULL;
	int r;

	*obj = NULL;
	/* What decides whom signet trusts: nobody else may write it. */
	r = fileio_read_trusted(path, max, ca ? "the CA" : "the CRL", &buf,
	    &len, msg);
	if (r != 0)
		return r;
	/* max (at most IDENTITY_CRL_FILE_MAX) keeps len within an int. */
	if (len == 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: empty %s file", path,
		    what);
		goto out;
	}
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (ca)
		first = PEM_read_bio_X509(bio, NULL, identity_no_password,
		    NULL);
	else
		first = PEM_read_bio_X509_CRL(bio, NULL, identity_no_password,
		    NULL);
	if (first == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: no PEM %s in it (expected \"-----BEGIN %s-----\")",
		    path, what, ca ? "CERTIFICATE" : "X509 CRL");
		goto out;
	}
	if (ca)
		second = PEM_read_bio_X509(bio, NULL, identity_no_password,
		    NULL);
	else
		second = PEM_read_bio_X509_CRL(bio, NULL, identity_no_password,
		    NULL);
	if (second != NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: holds more than one %s; signet uses exactly one", path,
		    what);
		goto out;
	}
	*obj = first;
	first = NULL;
	r = 0;
out:
	if (ca) {
		X509_free(first);
		X509_free(second);
	} else {
		X509_CRL_free(first);
		X509_CRL_free(second);
	}
	BIO_free(bio);
	free(buf);
	return r;
}

static int
check_ca(const char *path, X509 *ca, int64_t now, struct err_msg *msg)
{
	char subj[SUBJECT_TEXT_MAX], date[DATE_TEXT_MAX];
	uint32_t xflags, ku;
	int64_t nb, na;

	(void)identity_subject_text(ca, subj, sizeof(subj));
	xflags = X509_get_extension_flags(ca);
	if ((xflags & EXFLAG_INVALID) != 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CA certificate \"%s\" has malformed extensions", path,
		    subj);
	if (X509_self_signed(ca, 1) != 1)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: certificate \"%s\" is not a self-signed CA", path,
		    subj);
	if ((xflags & EXFLAG_CA) == 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: certificate \"%s\" lacks basicConstraints CA:TRUE",
		    path, subj);
	if ((xflags & EXFLAG_BCONS_CRITICAL) == 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CA certificate \"%s\": basicConstraints must be "
		    "critical",
		    path, subj);
	ku = X509_get_key_usage(ca);
	if ((xflags & EXFLAG_KUSAGE) == 0 ||
	    (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) !=
	        (KU_KEY_CERT_SIGN | KU_CRL_SIGN))
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CA certificate \"%s\" needs keyUsage keyCertSign and "
		    "cRLSign",
		    path, subj);
	if (X509_get0_subject_key_id(ca) == NULL)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CA certificate \"%s\" lacks a subjectKeyIdentifier",
		    path, subj);
	if (asn1_time_unix(X509_get0_notBefore(ca), &nb) != 0 ||
	    asn1_time_unix(X509_get0_notAfter(ca), &na) != 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CA certificate \"%s\" has unreadable dates", path,
		    subj);
	if (now < nb)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CA certificate \"%s\" is not valid before %s", path,
		    subj,
		    asn1_time_text(X509_get0_notBefore(ca), date,
		        sizeof(date)));
	if (now > na)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CA certificate \"%s\" expired at %s", path, subj,
		    asn1_time_text(X509_get0_notAfter(ca), date, sizeof(date)));
	return 0;
}

static int
check_crl(const char *path, X509 *ca, X509_CRL *crl, int64_t now, int64_t *last,
    int64_t *next, struct err_msg *msg)
{
	char date[DATE_TEXT_MAX];
	EVP_PKEY *pub;
	int v;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	        X509_get_subject_name(ca)) != 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CRL not issued by the signet CA (issuer names differ)",
		    path);
	pub = X509_get0_pubkey(ca);
	if (pub == NULL)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: cannot read the CA's public key", path);
	v = X509_CRL_verify(crl, pub);
	if (v != 1)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CRL not signed by the signet CA (signature does not "
		    "verify)",
		    path);
	if (asn1_time_unix(X509_CRL_get0_lastUpdate(crl), last) != 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CRL has an unreadable lastUpdate", path);
	if (X509_CRL_get0_nextUpdate(crl) == NULL ||
	    asn1_time_unix(X509_CRL_get0_nextUpdate(crl), next) != 0)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CRL has no readable nextUpdate; signet needs CRLs "
		    "that expire",
		    path);
	if (now < *last)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CRL is not valid before %s (check the clock)", path,
		    asn1_time_text(X509_CRL_get0_lastUpdate(crl), date,
		        sizeof(date)));
	if (now >= *next)
		return err_set(msg, SIGNET_ERR_CERT,
		    "%s: CRL expired at %s, so every client certificate "
		    "would be refused; issue a new one (signet-pki crl), "
		    "install it and reload",
		    path,
		    asn1_time_text(X509_CRL_get0_nextUpdate(crl), date,
		        sizeof(date)));
	return 0;
}

static void
xstore_index_init(void)
{
	xstore_index = X509_STORE_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* As OpenSSL's verify_cb_crl: err goes to the verify callback. */
static int
crl_fail(X509_STORE_CTX *ctx, int err)
{
	X509_STORE_CTX_set_error(ctx, err);
	return X509_STORE_CTX_get_verify_cb(ctx)(0, ctx);
}

/*
 * The store's check_crl step of X509_verify_cert. OpenSSL's own
 * (crypto/x509/x509_vfy.c, 3.0) verifies the CRL's signature on every
 * call, an ECDSA verification per connecting agent, though the CRL is
 * fixed once loaded and check_crl verified it then under the same CA key.
 * Only this step is replaced: OpenSSL still picks the CRL for the
 * certificate (issuer name, AKID, scope, reasons) and looks the
 * certificate up in it (cert_crl: unhandled critical extensions, revoked,
 * removeFromCRL), at the same point of the chain check, so the same fault
 * is named first, with the same X509 error. (Checking revocation after an
 * X509_verify_cert without CRL_CHECK would not: OpenSSL checks revocation
 * before the chain's dates and signatures, so a revoked and expired
 * certificate would then be called expired, not revoked.)
 *
 * For the store's own CRL with no issuingDistributionPoint and no delta
 * indicator (signet-pki's CRLs have neither), issued by the signet CA,
 * OpenSSL's check_crl comes down to what is done here: cRLSign on the CA
 * and a CA key that decodes (check_ca, check_crl at load); scope, CRL path
 * and IDP validity (they hold for a CRL without IDP from the certificate's
 * own issuer); the time window, against the verification time at each
 * call, as its check_crl_time does (same comparisons, same errors); Suite
 * B. Anything else goes to OpenSSL's own check_crl, signature and all.
 */
static int
crl_check(X509_STORE_CTX *ctx, X509_CRL *crl)
{
	const struct identity_store *s;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509 *issuer = X509_STORE_CTX_get0_current_issuer(ctx);
	const ASN1_TIME *next;
	unsigned long flags;
	EVP_PKEY *pub;
	time_t t, *tp = NULL;
	int err, i;

	s = X509_STORE_get_ex_data(X509_STORE_CTX_get0_store(ctx),
	    xstore_index);
	/* Only identity_store_load sets this hook, after the slot. */
	if (s == NULL || s->openssl_check_crl == NULL)
		return crl_fail(ctx, X509_V_ERR_UNSPECIFIED) != 0;
	if (crl != s->crl || !s->crl_plain || issuer == NULL ||
	    X509_cmp(issuer, s->ca) != 0)
		return s->openssl_check_crl(ctx, crl);

	flags = X509_VERIFY_PARAM_get_flags(param);
	if ((flags & X509_V_FLAG_USE_CHECK_TIME) != 0) {
		t = X509_VERIFY_PARAM_get_time(param);
		tp = &t;
	}
	if (tp != NULL || (flags & X509_V_FLAG_NO_CHECK_TIME) == 0) {
		i = X509_cmp_time(X509_CRL_get0_lastUpdate(crl), tp);
		if (i == 0 &&
		    crl_fail(ctx, X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD) ==
		        0)
			return 0;
		if (i > 0 && crl_fail(ctx, X509_V_ERR_CRL_NOT_YET_VALID) == 0)
			return 0;
		next = X509_CRL_get0_nextUpdate(crl);
		i = next == NULL ? 1 : X509_cmp_time(next, tp);
		if (i == 0 &&
		    crl_fail(ctx, X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD) ==
		        0)
			return 0;
		if (i < 0 && crl_fail(ctx, X509_V_ERR_CRL_HAS_EXPIRED) == 0)
			return 0;
	}
	/* As OpenSSL: with no key, nothing more to check. */
	pub = X509_get0_pubkey(issuer);
	if (pub == NULL)
		return crl_fail(ctx,
		           X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY) != 0;
	err = X509_CRL_check_suiteb(crl, pub, flags);
	if (err != X509_V_OK && crl_fail(ctx, err) == 0)
		return 0;
	/* The signature: verified by check_crl when the store loaded. */
	return 1;
}

int
identity_store_load(const char *ca_path, const char *crl_path,
    struct identity_store **out, struct err_msg *msg)
{
	struct identity_store *s = NULL;
	X509_STORE_CTX *probe = NULL;
	void *obj = NULL;
	int64_t now = (int64_t)time(NULL);
	int r;

	if (out != NULL)
		*out = NULL;
	if (ca_path == NULL || crl_path == NULL || out == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "identity_store_load: missing path or output");
	ERR_set_mark();
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	atomic_init(&s->refs, 1);
	r = load_pem(ca_path, IDENTITY_CA_FILE_MAX, "certificate", true, &obj,
	    msg);
	if (r != 0)
		goto out;
	s->ca = obj;
	r = check_ca(ca_path, s->ca, now, msg);
	if (r != 0)
		goto out;
	r = load_pem(crl_path, IDENTITY_CRL_FILE_MAX, "CRL", false, &obj, msg);
	if (r != 0)
		goto out;
	s->crl = obj;
	r = check_crl(crl_path, s->ca, s->crl, now, &s->crl_last_update,
	    &s->crl_next_update, msg);
	if (r != 0)
		goto out;
	s->xstore = X509_STORE_new();
	if (s->xstore == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (X509_STORE_add_cert(s->xstore, s->ca) != 1 ||
	    X509_STORE_add_crl(s->xstore, s->crl) != 1) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot add the CA and CRL to an OpenSSL store");
		goto out;
	}
	/* A context on a store with no hook yet holds OpenSSL's own. */
	probe = X509_STORE_CTX_new();
	if (probe == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (X509_STORE_CTX_init(probe, s->xstore, NULL, NULL) != 1 ||
	    CRYPTO_THREAD_run_once(&xstore_index_once, xstore_index_init) !=
	        1 ||
	    xstore_index < 0 ||
	    X509_STORE_set_ex_data(s->xstore, xstore_index, s) != 1) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot set up the CRL check on an OpenSSL store");
		goto out;
	}
	s->openssl_check_crl = X509_STORE_CTX_get_check_crl(probe);
	if (s->openssl_check_crl == NULL) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot set up the CRL check on an OpenSSL store");
		goto out;
	}
	s->crl_plain = X509_CRL_get_ext_by_NID(s->crl,
	                   NID_issuing_distribution_point, -1) == -1 &&
	    X509_CRL_get_ext_by_NID(s->crl, NID_delta_crl, -1) == -1;
	X509_STORE_set_check_crl(s->xstore, crl_check);
	*out = s;
	s = NULL;
	r = 0;
out:
	X509_STORE_CTX_free(probe);
	identity_store_free(s);
	ERR_pop_to_mark();
	return r;
}

struct identity_store *
identity_store_ref(struct identity_store *store)
{
	if (store != NULL)
		atomic_fetch_add(&store->refs, 1);
	return store;
}

void
identity_store_free(struct identity_store *store)
{
	if (store == NULL)
		return;
	if (atomic_fetch_sub(&store->refs, 1) != 1)
		return;
	X509_STORE_free(store->xstore);
	X509_CRL_free(store->crl);
	X509_free(store->ca);
	free(store);
}

int64_t
identity_store_crl_next_update(const struct identity_store *store)
{
	return store == NULL ? 0 : store->crl_next_update;
}

int64_t
identity_store_crl_last_update(const struct identity_store *store)
{
	return store == NULL ? 0 : store->crl_last_update;
}

enum identity_crl_state
identity_crl_state(int64_t next_update, int64_t now)
{
	if (next_update <= 0 || now >= next_update)
		return IDENTITY_CRL_EXPIRED;
	/* next_update > 0, so this cannot overflow whatever now is. */
	if (now >= next_update - IDENTITY_CRL_WARN_SECS)
		return IDENTITY_CRL_EXPIRING;
	return IDENTITY_CRL_VALID;
}

const char *
identity_crl_state_name(enum identity_crl_state state)
{
	switch (state) {
	case IDENTITY_CRL_VALID: return "valid";
	case IDENTITY_CRL_EXPIRING: return "expiring";
	case IDENTITY_CRL_EXPIRED: return "expired";
	}
	return "expired";
}

X509 *
identity_store_ca_x509(const struct identity_store *store)
{
	return store == NULL ? NULL : store->ca;
}

X509_CRL *
identity_store_crl_x509(const struct identity_store *store)
{
	return store == NULL ? NULL : store->crl;
}

int
identity_store_serial_revoked(const struct identity_store *store,
    const char *serial_hex, struct err_msg *msg)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	X509_REVOKED *rev = NULL;
	char esc[2 * IDENTITY_SERIAL_MAX + 8];
	size_t i, n;
	int r;

	if (store == NULL || serial_hex == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "identity_store_serial_revoked: missing store or serial");
	n = strnlen(serial_hex, IDENTITY_SERIAL_MAX + 1);
	for (i = 0; i < n; i++) {
		char c = serial_hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		        (c >= 'A' && c <= 'F')))
			break;
	}
	if (n == 0 || n > IDENTITY_SERIAL_MAX || i != n)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "serial \"%s\" is not 1 to %d hex digits",
		    text_escape_str(serial_hex, esc, sizeof(esc)),
		    IDENTITY_SERIAL_MAX);
	ERR_set_mark();
	if (BN_hex2bn(&bn, serial_hex) != (int)n) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	if (ai == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	/* 2 means "removeFromCRL" in a delta CRL: not revoked. */
	r = X509_CRL_get0_by_serial(store->crl, &rev, ai) == 1 ? 1 : 0;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	ERR_pop_to_mark();
	return r;
}
