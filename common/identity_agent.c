/* SPDX-License-Identifier: ISC */
/*
 * The agent's own identity, read at start from its certificate and key
 * files: the host id (the CN), and the checks that spare it a refusal by
 * the server it could have seen coming (OU=agent, clientAuth, a key that
 * matches). The server's full verification is identity.c's.
 */
#include "identity.h"
#include "identity_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "log.h"
#include "text.h"

/* The PEM private key in the secret file key_path into *out. */
static int
load_private_key(const char *key_path, EVP_PKEY **out, struct err_msg *msg)
{
	char *buf = NULL;
	BIO *bio = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	buf = malloc(IDENTITY_KEY_FILE_MAX + 1);
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = fileio_read_small(key_path, buf, IDENTITY_KEY_FILE_MAX, &len,
	    FILEIO_SECRET, msg);
	if (r != 0)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	*out = PEM_read_bio_PrivateKey(bio, NULL, identity_no_password, NULL);
	if (*out == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: not a PEM private key (or one with a passphrase)",
		    key_path);
		goto out;
	}
	r = 0;
out:
	BIO_free(bio);
	OPENSSL_cleanse(buf, IDENTITY_KEY_FILE_MAX + 1);
	free(buf);
	ERR_clear_error();
	return r;
}

int
identity_agent_cert(const char *cert_path, const char *key_path,
    char host_id[static IDENTITY_NAME_MAX + 1], struct err_msg *msg)
{
	char *pem = NULL;
	char cn[IDENTITY_NAME_MAX * 4 + 8], ou[64], esc[128];
	BIO *bio = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	X509_NAME *subject;
	size_t len = 0;
	int r;

	host_id[0] = '\0';
	r = fileio_read_alloc(cert_path, IDENTITY_CERT_MAX, &pem, &len, msg);
	if (r != 0)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	cert = PEM_read_bio_X509(bio, NULL, identity_no_password, NULL);
	if (cert == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: not a PEM certificate",
		    cert_path);
		goto out;
	}
	subject = X509_get_subject_name(cert);
	if (subject == NULL ||
	    identity_name_single_entry(subject, NID_commonName, cn,
	        sizeof(cn)) != 1) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: the subject must hold exactly one CN (the host id)",
		    cert_path);
		goto out;
	}
	if (!text_valid_name(cn)) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: CN \"%s\" is not a valid host id "
		    "([a-z0-9][a-z0-9._-]{0,62})",
		    cert_path, text_escape_str(cn, esc, sizeof(esc)));
		goto out;
	}
	if (identity_name_single_entry(subject, NID_organizationalUnitName, ou,
	        sizeof(ou)) != 1 ||
	    strcmp(ou, "agent") != 0) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: not an agent certificate (its subject needs OU=agent; "
		    "issue one with signet-pki agent %s)",
		    cert_path, cn);
		goto out;
	}
	if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: not fit for TLS client use (extendedKeyUsage lacks "
		    "clientAuth)",
		    cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		log_warn("certificate %s has expired: the server will refuse "
		         "it; renew it with signet-pki",
		    cert_path);
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0)
		log_warn("certificate %s is not valid yet: check the clock",
		    cert_path);
	r = load_private_key(key_path, &key, msg);
	if (r != 0)
		goto out;
	if (X509_check_private_key(cert, key) != 1) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s does not hold the key of certificate %s", key_path,
		    cert_path);
		goto out;
	}
	memcpy(host_id, cn, strlen(cn) + 1);
	r = 0;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(bio);
	free(pem);
	ERR_clear_error();
	return r;
}
