/* SPDX-License-Identifier: ISC */
/*
 * The hub's certificate checks (hub.h, "Who may connect"): the vhost's TLS
 * settings (TLS 1.3, no resumption, client certificates required), the
 * TLS verify callback with identity_verify_x509, the verdict it keeps on
 * the SSL for the upgrade, refusals named from OpenSSL's verdict, the TLS
 * alert of a peer without a certificate, and the check at the WebSocket
 * upgrade that identifies a connection.
 */
#include "hub_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509_vfy.h>

#include "log.h"
#include "text.h"

/*
 * What hub_cert_verify() concluded for one TLS connection, kept on its SSL
 * until the WebSocket upgrade. The upgrade takes it instead of verifying
 * the same certificate against the same CA and CRL a second time (one
 * chain and one CRL signature check each: a fifth of the server's CPU per
 * connecting agent). Taken only when the store is still the one that
 * judged it, so a SIGHUP in between means a full check again.
 */
struct hub_verified {
	X509 *leaf;                   /* a reference */
	struct identity_store *store; /* a reference: compared, not used */
	struct identity id;
};

static int hub_ssl_index = -1;
static pthread_once_t hub_ssl_index_once = PTHREAD_ONCE_INIT;

static void
verified_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct hub_verified *v = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (v == NULL)
		return;
	X509_free(v->leaf);
	identity_store_free(v->store);
	free(v);
}

static void
ssl_index_init(void)
{
	hub_ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    verified_free);
}

int
hub_tls_init(void)
{
	if (pthread_once(&hub_ssl_index_once, ssl_index_init) != 0 ||
	    hub_ssl_index < 0)
		return SIGNET_ERR_ALLOC;
	return 0;
}

/* Keeps a verdict on the connection's SSL; on any failure keeps none. */
static void
verified_keep(X509_STORE_CTX *xs, X509 *leaf, struct identity_store *store,
    const struct identity *id)
{
	struct hub_verified *v, *old;
	SSL *ssl;

	if (hub_ssl_index < 0)
		return;
	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL)
		return;
	old = SSL_get_ex_data(ssl, hub_ssl_index);
	if (old != NULL) {
		(void)SSL_set_ex_data(ssl, hub_ssl_index, NULL);
		verified_free(NULL, old, NULL, 0, 0, NULL);
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return;
	if (X509_up_ref(leaf) != 1) {
		free(v);
		return;
	}
	v->leaf = leaf;
	v->store = identity_store_ref(store);
	v->id = *id;
	if (SSL_set_ex_data(ssl, hub_ssl_index, v) != 1)
		verified_free(NULL, v, NULL, 0, 0, NULL);
}

/* The kept verdict for cert under store, if there is one. */
static const struct identity *
verified_take(SSL *ssl, X509 *cert, const struct identity_store *store)
{
	struct hub_verified *v;

	if (hub_ssl_index < 0 || ssl == NULL)
		return NULL;
	v = SSL_get_ex_data(ssl, hub_ssl_index);
	if (v == NULL || v->store != store || X509_cmp(v->leaf, cert) != 0)
		return NULL;
	return &v->id;
}

/* Forgets the kept verdict: the store and certificate references go. */
static void
verified_drop(SSL *ssl)
{
	struct hub_verified *v;

	if (hub_ssl_index < 0 || ssl == NULL)
		return;
	v = SSL_get_ex_data(ssl, hub_ssl_index);
	if (v == NULL)
		return;
	(void)SSL_set_ex_data(ssl, hub_ssl_index, NULL);
	verified_free(NULL, v, NULL, 0, 0, NULL);
}

/*
 * Why a certificate was refused, from the chain check's verdict (x509_err,
 * or X509_V_OK when the chain verified) and, for the rest (role), from
 * the identity module.
 */
static const char *
classify(struct identity_store *store, X509 *leaf, int x509_err,
    enum metric *which)
{
	char serial[IDENTITY_SERIAL_MAX + 1];
	struct identity other;
	int r;

	*which = M_AGENT_TLS_FAIL_CERT;
	switch (x509_err) {
	case X509_V_ERR_CERT_HAS_EXPIRED: return "expired";
	case X509_V_ERR_CERT_NOT_YET_VALID: return "not_yet_valid";
	case X509_V_ERR_CERT_REVOKED: return "revoked";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_CHAIN_TOO_LONG: return "untrusted";
	default: break;
	}
	if (store == NULL || leaf == NULL)
		return "certificate";
	if (identity_serial_hex(leaf, serial) != 0)
		(void)snprintf(serial, sizeof(serial), "unknown");
	if (identity_store_serial_revoked(store, serial, NULL) == 1)
		return "revoked";
	r = identity_verify_x509(store, leaf, NULL,
	    IDENTITY_ACCEPT_SERVER | IDENTITY_ACCEPT_OPERATOR |
	        IDENTITY_ACCEPT_AUDITOR,
	    0, &other, NULL);
	if (r == 0) {
		*which = M_AGENT_TLS_FAIL_ROLE;
		return "role";
	}
	return "certificate";
}

/*
 * The one check of an agent's certificate (SSL_CTX_set_cert_verify_callback:
 * OpenSSL's own chain check is not run besides it): the identity module
 * checks chain, dates, CRL, EKU, role and name rules. A refusal here ends
 * the handshake, so a bad peer never reaches the HTTP parser. With
 * resumption off, this runs for every connection. Returns 1 (accepted) or
 * 0 (refused: counted, logged, audited, and the error set on xs names
 * the TLS alert).
 */
static int
hub_cert_verify(X509_STORE_CTX *xs, void *arg)
{
	struct hub *hub = arg;
	struct identity_store *store = NULL;
	struct identity id;
	struct err_msg msg;
	enum metric which;
	const char *reason;
	char peer[HUB_PEER_MAX], det[ERR_MSG_MAX];
	X509 *leaf;
	SSL *ssl;
	int err = X509_V_OK, r;

	leaf = X509_STORE_CTX_get0_cert(xs);
	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	err_clear(&msg);
	if (leaf == NULL || ssl == NULL) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	store = server_ctx_identity(hub->ctx);
	if (store == NULL) {
		log_error("no identity store: refusing every peer");
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	r = identity_verify_x509_err(store, leaf,
	    X509_STORE_CTX_get0_untrusted(xs), IDENTITY_ACCEPT_AGENT, 0, &id,
	    &err, &msg);
	if (r == 0) {
		verified_keep(xs, leaf, store, &id);
		identity_store_free(store);
		X509_STORE_CTX_set_error(xs, X509_V_OK);
		return 1;
	}
	reason = classify(store, leaf, err, &which);
	hub_fmt(det, sizeof(det), "%s", msg.text);
	hub_peer_of_fd(SSL_get_fd(ssl), peer, sizeof(peer));
	hub_reject(hub, peer, reason, which, det, leaf, NULL);
	identity_store_free(store);
	/* Name the failure, so that the alert is not "internal error". */
	X509_STORE_CTX_set_error(xs,
	    strcmp(reason, "revoked") == 0 ? X509_V_ERR_CERT_REVOKED :
	        err != X509_V_OK           ? err :
	                                     X509_V_ERR_CERT_REJECTED);
	return 0;
}

/*
 * TLS alerts: the only place a peer that sent no certificate at all shows
 * (OpenSSL ends the handshake with certificate_required before any verify
 * callback). Other alerts are logged for the operator.
 */
void
hub_ssl_info(struct hub *hub, struct lws *wsi, const struct lws_ssl_info *si)
{
	char peer[HUB_PEER_MAX];
	int desc;

	if (si == NULL || (si->where & SSL_CB_ALERT) == 0 ||
	    (si->where & SSL_CB_WRITE) == 0)
		return;
	desc = si->ret & 0xff;
	hub_peer_of_fd(lws_get_socket_fd(wsi), peer, sizeof(peer));
	if (desc == SSL_AD_CERTIFICATE_REQUIRED) {
		hub_reject(hub, peer, "no_client_cert",
		    M_AGENT_TLS_FAIL_NO_CERT, "the client sent no certificate",
		    NULL, NULL);
		return;
	}
	if (desc != SSL_AD_CLOSE_NOTIFY)
		log_info("TLS handshake with peer=%s ended: sent alert %s",
		    peer, SSL_alert_desc_string_long(si->ret));
}

/* Vhost TLS settings lws has no option for. */
int
hub_tls_setup(struct hub *hub, SSL_CTX *sctx)
{
	STACK_OF(X509_NAME) *names = NULL;
	X509_STORE *st;

	if (sctx == NULL)
		return -1;
	if (SSL_CTX_set_min_proto_version(sctx,
	        hub->allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) != 1) {
		log_error("cannot set the minimum TLS version");
		return -1;
	}
	/*
	 * No resumption: a resumed session would skip the verify callback,
	 * and a certificate revoked since must not get in that way.
	 */
	(void)SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_options(sctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_num_tickets(sctx, 0) != 1) {
		log_error("cannot turn TLS session tickets off");
		return -1;
	}
	/*
	 * The identity check in place of OpenSSL's chain check (whose depth
	 * and flags therefore do not matter here): leaf signed by the CA
	 * itself, CRL, role (identity.h).
	 */
	SSL_CTX_set_cert_verify_callback(sctx, hub_cert_verify, hub);
	if ((SSL_CTX_get_verify_mode(sctx) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) ==
	    0) {
		log_error("client certificates are not required: refusing "
		          "to serve");
		return -1;
	}
	st = SSL_CTX_get_cert_store(sctx);
	if (st == NULL || sk_X509_OBJECT_num(X509_STORE_get0_objects(st)) < 1) {
		log_error("the CA %s was not loaded for client certificates",
		    hub->ca_path);
		return -1;
	}
	/*
	 * The certificate alone, not the CA the agents hold: left to
	 * OpenSSL, the chain is built (a verification) for every handshake,
	 * and each agent decodes one certificate more.
	 */
	(void)SSL_CTX_set_mode(sctx, SSL_MODE_NO_AUTO_CHAIN);
	/* Name the CA in the CertificateRequest so clients pick its cert. */
	names = SSL_load_client_CA_file(hub->ca_path);
	if (names == NULL) {
		log_error("cannot read the CA name from %s", hub->ca_path);
		return -1;
	}
	SSL_CTX_set_client_CA_list(sctx, names);
	return 0;
}

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: who is this, really. */
int
hub_conn_identify(struct hub *hub, struct lws *wsi, struct hub_conn *c)
{
	struct identity_store *store = NULL;
	struct err_msg msg;
	enum metric which;
	const char *reason;
	const struct identity *kept;
	bool had_verdict;
	SSL *ssl;
	X509 *cert = NULL;
	int r;

	c->magic = HUB_CONN_MAGIC;
	c->wsi = wsi;
	hub_peer_of_fd(lws_get_socket_fd(wsi), c->peer, sizeof(c->peer));
	if (hub->stopping)
		return -1;
	ssl = lws_get_ssl(wsi);
	if (ssl != NULL)
		cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL) {
		hub_reject(hub, c->peer, "no_client_cert",
		    M_AGENT_TLS_FAIL_NO_CERT,
		    "no client certificate at the WebSocket upgrade", NULL,
		    NULL);
		return -1;
	}
	err_clear(&msg);
	store = server_ctx_identity(hub->ctx);
	if (store == NULL) {
		X509_free(cert);
		return -1;
	}
	kept = verified_take(ssl, cert, store);
	had_verdict = kept != NULL;
	if (had_verdict)
		c->id = *kept;
	/*
	 * Used once: holding it (and the old store after a SIGHUP) for the
	 * life of the connection would only cost memory.
	 */
	verified_drop(ssl);
	r = had_verdict ?
	    0 :
	    identity_verify_x509(store, cert, SSL_get_peer_cert_chain(ssl),
	        IDENTITY_ACCEPT_AGENT, 0, &c->id, &msg);
	if (r != 0) {
		reason = classify(store, cert, X509_V_OK, &which);
		hub_reject(hub, c->peer, reason, which, msg.text, cert, NULL);
		identity_store_free(store);
		X509_free(cert);
		return -1;
	}
	identity_store_free(store);
	c->cert = cert;
	hub_list_add(hub, c);
	log_debug("agent certificate accepted: cn=%s serial=%s peer=%s",
	    c->id.name, c->id.serial, c->peer);
	return 0;
}
