/* SPDX-License-Identifier: ISC */
/*
 * Who is on the other end of a TLS connection: checks a client (or server)
 * certificate against the signet CA and its CRL (docs/protocol.md) and returns
 * the role, name, serial and validity of the peer. Both listeners call this on
 * every new connection: the agent listener with the OpenSSL X509 it already
 * has, the operator API with the DER that GnuTLS hands out, so there is one
 * verification path for both.
 *
 * The CA is one level deep: leaves are signed by the CA itself; an
 * intermediate CA is always refused (the CRL is checked for the leaf only,
 * which is only sound when nothing sits between leaf and CA).
 *
 * Certificates the PKI must issue (all checked here, under OpenSSL's
 * X509_V_FLAG_X509_STRICT): the CA with critical basicConstraints CA:TRUE,
 * keyUsage keyCertSign+cRLSign and a subjectKeyIdentifier; each leaf with
 * an authorityKeyIdentifier, basicConstraints CA:FALSE or none, one OU
 * naming its role, one CN, and the extendedKeyUsage of its role: clientAuth
 * (and not serverAuth) for agent/operator/auditor, serverAuth for server.
 *
 * The agent also reads its own certificate and key at start
 * (identity_agent_cert, in identity_agent.c) to learn its host id.
 */
#ifndef SIGNET_IDENTITY_H
#define SIGNET_IDENTITY_H

#include <stdint.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "err.h"

enum identity_role {
	IDENTITY_ROLE_NONE = 0,
	IDENTITY_ROLE_SERVER,
	IDENTITY_ROLE_AGENT,
	IDENTITY_ROLE_OPERATOR,
	IDENTITY_ROLE_AUDITOR,
};

/* Bits for the accepted_roles mask of the verify functions. */
#define IDENTITY_ACCEPT(role) (1u << (unsigned)(role))
#define IDENTITY_ACCEPT_SERVER IDENTITY_ACCEPT(IDENTITY_ROLE_SERVER)
#define IDENTITY_ACCEPT_AGENT IDENTITY_ACCEPT(IDENTITY_ROLE_AGENT)
#define IDENTITY_ACCEPT_OPERATOR IDENTITY_ACCEPT(IDENTITY_ROLE_OPERATOR)
#define IDENTITY_ACCEPT_AUDITOR IDENTITY_ACCEPT(IDENTITY_ROLE_AUDITOR)

/* Largest certificate accepted by identity_verify_der/_pem, in bytes. */
#define IDENTITY_CERT_MAX (64 * 1024)
/* Largest private key file identity_agent_cert reads. */
#define IDENTITY_KEY_FILE_MAX 16384
/* Largest CA / CRL file identity_store_load reads. */
#define IDENTITY_CA_FILE_MAX (64 * 1024)
#define IDENTITY_CRL_FILE_MAX (8 * 1024 * 1024)
/* RFC 5280 serials are at most 20 octets: 40 uppercase hex digits. */
#define IDENTITY_SERIAL_MAX 40
#define IDENTITY_NAME_MAX 63

/* A verified peer. Plain data: copy it freely. */
struct identity {
	enum identity_role role;
	char name[IDENTITY_NAME_MAX + 1];     /* CN, a text_valid_name() */
	char serial[IDENTITY_SERIAL_MAX + 1]; /* uppercase hex, as openssl(1) */
	int64_t not_before;                   /* unix seconds */
	int64_t not_after;                    /* unix seconds */
};

/*
 * The trust material: the CA certificate and its CRL. Immutable after
 * load, so one store may be used by any number of threads at once. To
 * reload (SIGHUP), load a new store and swap pointers; the store is
 * reference counted so a thread that took a reference (identity_store_ref)
 * under the caller's lock can finish with the old one after the swap.
 */
struct identity_store;

/* "server", "agent", "operator", "auditor", or "none"; never NULL. */
const char *identity_role_name(enum identity_role role);

/*
 * Loads the CA (exactly one PEM certificate) from ca_path and its CRL (one
 * PEM CRL) from crl_path into a new store (*out, reference count 1, release
 * with identity_store_free). *out is NULL on failure. Fails closed: the
 * store is refused, with a message naming the file and the problem, when
 * the CA is missing, unparsable, not a self-signed CA, lacks keyCertSign/
 * cRLSign or a subjectKeyIdentifier, or is outside its validity dates; or
 * when the CRL is missing, unparsable, not issued and signed by this CA,
 * not yet valid, has no nextUpdate or its nextUpdate has passed. The CRL's
 * signature is verified here, once; each identity_verify_* call judges
 * its dates at that call's time and looks the certificate up in it.
 * Returns 0, SIGNET_ERR_INVALID_ARG (NULL argument), SIGNET_ERR_NOT_FOUND,
 * SIGNET_ERR_IO, SIGNET_ERR_PERMISSIONS, SIGNET_ERR_TOO_LARGE (file read),
 * SIGNET_ERR_FORMAT (not PEM of the right kind), SIGNET_ERR_CERT (CA or
 * CRL refused), SIGNET_ERR_ALLOC or SIGNET_ERR_CRYPTO.
 */
int identity_store_load(const char *ca_path, const char *crl_path,
    struct identity_store **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Takes one more reference to store (NULL allowed); returns store. */
struct identity_store *identity_store_ref(struct identity_store *store);

/* Drops one reference; frees on the last. NULL allowed. */
void identity_store_free(struct identity_store *store);

/* The CRL's nextUpdate, unix seconds (for monitoring and reload alerts). */
int64_t identity_store_crl_next_update(const struct identity_store *store);

/* The CRL's lastUpdate, unix seconds. */
int64_t identity_store_crl_last_update(const struct identity_store *store);

/*
 * CRL expiry. An expired CRL refuses every client certificate (fail
 * closed), so the admin must renew it in time: within this many seconds
 * of its nextUpdate the CRL counts as expiring and signet warns.
 */
#define IDENTITY_CRL_WARN_SECS (7 * 86400)

enum identity_crl_state {
	IDENTITY_CRL_VALID = 0, /* over IDENTITY_CRL_WARN_SECS left */
	IDENTITY_CRL_EXPIRING,  /* nextUpdate within the warning window */
	IDENTITY_CRL_EXPIRED,   /* nextUpdate reached: everyone refused */
};

/*
 * The state at now (unix seconds) of a CRL whose nextUpdate is
 * next_update: EXPIRED from next_update on (as identity_store_load and
 * OpenSSL's check count it), EXPIRING from IDENTITY_CRL_WARN_SECS before.
 * next_update <= 0 (no CRL known) is EXPIRED.
 */
enum identity_crl_state identity_crl_state(int64_t next_update, int64_t now);

/* "valid", "expiring" or "expired"; never NULL. */
const char *identity_crl_state_name(enum identity_crl_state state);

/*
 * The CA certificate and the CRL, borrowed: valid while the caller holds a
 * reference to store; must not be modified. Take X509_up_ref /
 * X509_CRL_up_ref to keep them longer (e.g. X509_STORE_add_cert into an
 * SSL_CTX does that itself).
 */
X509 *identity_store_ca_x509(const struct identity_store *store);

/*
 * x's notAfter in unix seconds into *out (0 on failure). Returns 0, or
 * SIGNET_ERR_FORMAT when it cannot be read.
 */
int identity_x509_not_after(const X509 *x, int64_t *out)
    __attribute__((warn_unused_result));

/*
 * The subject of x in the certificate's order with RFC 2253 escaping
 * ("CN=web-01,OU=agent"), escaped again for a message (text_escape) into
 * out; "(unprintable)" when it cannot be printed. Returns out.
 */
const char *identity_subject_text(const X509 *x, char *out, size_t outlen);

/*
 * Uppercase hex of x's serial into out, as openssl(1) prints it. Returns
 * 0, -1 when the serial is negative or over 20 octets (RFC 5280; out is
 * then ""), SIGNET_ERR_ALLOC.
 */
int identity_serial_hex(const X509 *x, char out[static IDENTITY_SERIAL_MAX + 1])
    __attribute__((warn_unused_result));
X509_CRL *identity_store_crl_x509(const struct identity_store *store);

/*
 * Whether the serial (hex as in struct identity, any case) is on the
 * store's CRL: after a CRL reload, the server runs this over its
 * connected peers to drop the ones that became revoked. Returns 1
 * (revoked), 0 (not revoked), SIGNET_ERR_INVALID_ARG (NULL) or
 * SIGNET_ERR_FORMAT (not 1..40 hex digits), SIGNET_ERR_ALLOC.
 */
int identity_store_serial_revoked(const struct identity_store *store,
    const char *serial_hex, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The role checks of identity_verify_x509 alone, for a certificate whose
 * chain was verified already (the agent checking the server it dialled,
 * after OpenSSL's own chain check): exactly one OU naming a role in
 * accepted_roles, the extended key usage that role needs (serverAuth for
 * the server; clientAuth and never serverAuth for the others), and one CN
 * that is a valid name. Fills id's role and name. Returns 0 or
 * SIGNET_ERR_CERT with msg saying which check failed.
 */
int identity_check_role(X509 *leaf, unsigned accepted_roles,
    struct identity *id, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Verifies leaf against store at time now (unix seconds; 0 means
 * time(NULL)): chain directly to the CA (untrusted may hold extra
 * certificates the peer sent, or be NULL; an intermediate CA is refused
 * anyway), validity dates of the leaf, the CA and the CRL, revocation,
 * signature strength (OpenSSL security level 2), X509_STRICT rules; then
 * that the leaf is not a CA, has exactly one OU naming a role, the EKU of
 * that role, a role in accepted_roles (IDENTITY_ACCEPT_* bits), and exactly
 * one CN that is a valid name. Borrows store, leaf and untrusted (none is
 * modified or kept). Safe to call from an OpenSSL verify callback and from
 * several threads on one store. Leaves OpenSSL's error queue as it found
 * it.
 *
 * *out is zeroed on entry and filled only on success. Returns 0,
 * SIGNET_ERR_INVALID_ARG (NULL store/leaf/out, now < 0), SIGNET_ERR_ALLOC,
 * SIGNET_ERR_CRYPTO (OpenSSL failed internally), or SIGNET_ERR_CERT with
 * msg naming the escaped subject and the failed check, e.g.
 *   certificate "CN=bob,OU=operator" revoked (serial 1A2B)
 *   certificate "CN=bob,OU=operator" expired at 2026-01-01T00:00:00Z
 *   certificate "CN=bob,OU=operator" not valid before 2026-01-01T00:00:00Z
 *   certificate "CN=bob,OU=operator" not issued by the signet CA (...)
 *   certificate "CN=bob,OU=operator" cannot be checked: the CRL expired ...
 *   certificate "CN=bob,OU=operator" role auditor not allowed here
 *   certificate "CN=bob,OU=operator" lacks clientAuth extended key usage
 *   certificate "CN=bob,OU=operator" has no extended key usage extension
 *   certificate "CN=bob" has no OU; expected one of agent, operator, ...
 *   certificate "CN=Bob,OU=operator" common name "Bob" is not a valid name
 */
int identity_verify_x509(const struct identity_store *store, X509 *leaf,
    STACK_OF(X509) *untrusted, unsigned accepted_roles, int64_t now,
    struct identity *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * identity_verify_x509, and *x509_err (if not NULL) the X509_V_ERR_* code
 * of the chain check: X509_V_OK when the chain verified, or when the
 * refusal came from another check (role, EKU, name) or from bad
 * arguments. For a TLS server that makes this its only verification of
 * a peer (SSL_CTX_set_cert_verify_callback) and reports the reason.
 */
int identity_verify_x509_err(const struct identity_store *store, X509 *leaf,
    STACK_OF(X509) *untrusted, unsigned accepted_roles, int64_t now,
    struct identity *out, int *x509_err, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * identity_verify_x509 of the DER certificate der[0..len): exactly one
 * certificate, no trailing bytes. Adds SIGNET_ERR_TOO_LARGE (len over
 * IDENTITY_CERT_MAX) and SIGNET_ERR_FORMAT (empty, not DER of a
 * certificate, trailing bytes) to its returns.
 */
int identity_verify_der(const struct identity_store *store, const uint8_t *der,
    size_t len, unsigned accepted_roles, int64_t now, struct identity *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * identity_verify_x509 of pem[0..len) (need not be NUL-terminated): the
 * first CERTIFICATE block is the leaf (text before it is skipped); up to 8
 * further certificates are passed as untrusted (they cannot help: the CA
 * is one level), the rest ignored. Same returns as identity_verify_der.
 */
int identity_verify_pem(const struct identity_store *store, const char *pem,
    size_t len, unsigned accepted_roles, int64_t now, struct identity *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The agent's own identity, from its certificate at cert_path (one PEM
 * certificate, at most IDENTITY_CERT_MAX bytes) and its key at key_path
 * (a secret file: mode 0600, no symlink; at most IDENTITY_KEY_FILE_MAX
 * bytes): the CN (a valid name, docs/protocol.md) into host_id. Refuses a
 * certificate whose subject lacks exactly one CN or one OU of "agent",
 * that is not fit for TLS client use (EKU), and a key that does not match
 * it. Warns (log) about a certificate outside its validity dates: the
 * server decides. host_id is "" on failure. Returns 0, SIGNET_ERR_CERT,
 * SIGNET_ERR_FORMAT (not PEM), SIGNET_ERR_ALLOC or fileio's codes
 * (SIGNET_ERR_NOT_FOUND, SIGNET_ERR_IO, SIGNET_ERR_PERMISSIONS,
 * SIGNET_ERR_TOO_LARGE) with msg naming the file.
 */
int identity_agent_cert(const char *cert_path, const char *key_path,
    char host_id[static IDENTITY_NAME_MAX + 1], struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
