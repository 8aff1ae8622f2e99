/* SPDX-License-Identifier: ISC */
/*
 * agent_sim's TLS side: who each simulated agent is (its certificate and
 * key, the host id and result key id it claims) and the OpenSSL callbacks
 * of the one SSL_CTX all agents share, which hand each connection its
 * agent's certificate and keep the alert a refused handshake ended with.
 */
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "keys.h"
#include "sim.h"

static int
load_pem(struct sim_agent *a, const char *cert, const char *key)
{
	FILE *f;

	f = fopen(cert, "r");
	if (f != NULL) {
		a->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	f = fopen(key, "r");
	if (f != NULL) {
		a->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (a->cert == NULL || a->pkey == NULL) {
		fprintf(stderr,
		    "agent_sim: cannot read certificate %s or key "
		    "%s\n",
		    cert, key);
		return -1;
	}
	return 0;
}

static int
key_id_of(const char *pub, char id[static KEYS_ID_LEN + 1])
{
	struct keys_public k;
	struct err_msg msg;

	if (keys_load_public(pub, &k, &msg) != 0) {
		fprintf(stderr,
		    "agent_sim: result key: %s (give "
		    "--result-key-id)\n",
		    msg.text);
		return -1;
	}
	memcpy(id, k.id, KEYS_ID_LEN + 1);
	return 0;
}

/*
 * The key agent a's hello is signed with: its result key (path), a key of
 * its own for --hello-sig wrong, none for --hello-sig none or --no-hello.
 */
static int
load_hello_key(struct sim *s, struct sim_agent *a, const char *path)
{
	struct keys_secret *k = &s->hello_keys[a->idx];
	struct err_msg msg;

	a->hello_key = NULL;
	if (s->o.no_hello || s->o.no_cert || s->o.hello_sig == SIG_NONE)
		return 0;
	if (s->o.hello_sig == SIG_WRONG) {
		if (keys_generate(k) != 0)
			return -1;
	} else if (path == NULL) {
		fprintf(stderr,
		    "agent_sim: the hello needs the result key: give "
		    "--hello-key FILE (or --hello-sig none)\n");
		return -1;
	} else if (keys_load_secret(path, k, &msg) != 0) {
		fprintf(stderr, "agent_sim: hello key %s: %s\n", path,
		    msg.text);
		return -1;
	}
	a->hello_key = k;
	return 0;
}

/* Loads agent i's identity and what it will claim. */
int
sim_setup_agent(struct sim *s, size_t i)
{
	struct sim_agent *a = &s->agents[i];
	char name[SIM_NAME_MAX], cert[4200], key[4200], pub[4200], rkey[4200];
	const char *hello_key = s->o.hello_key;

	a->idx = (int)i;
	name[0] = '\0';
	if (s->o.pki != NULL) {
		if (s->o.name != NULL)
			(void)snprintf(name, sizeof(name), "%s", s->o.name);
		else
			(void)snprintf(name, sizeof(name), "%s%ld", s->o.prefix,
			    s->o.first + (long)i);
		(void)snprintf(cert, sizeof(cert), "%s/issued/%s.pem", s->o.pki,
		    name);
		(void)snprintf(key, sizeof(key), "%s/private/%s.key", s->o.pki,
		    name);
		(void)snprintf(pub, sizeof(pub), "%s/keys/agents/%s.pub",
		    s->o.pki, name);
		(void)snprintf(rkey, sizeof(rkey), "%s/keys/agents/%s.key",
		    s->o.pki, name);
		if (hello_key == NULL)
			hello_key = rkey;
		if (load_pem(a, cert, key) != 0)
			return -1;
	} else if (s->o.cert != NULL) {
		if (load_pem(a, s->o.cert, s->o.key) != 0)
			return -1;
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(a->cert),
		        NID_commonName, name, (int)sizeof(name)) < 0)
			(void)snprintf(name, sizeof(name), "unknown");
		pub[0] = '\0';
	} else {
		(void)snprintf(name, sizeof(name), "no-cert");
		pub[0] = '\0';
	}
	if (load_hello_key(s, a, hello_key) != 0)
		return -1;
	(void)snprintf(a->name, sizeof(a->name), "%s",
	    s->o.host_id != NULL ? s->o.host_id : name);
	if (s->o.result_key_id != NULL)
		(void)snprintf(a->key_id, sizeof(a->key_id), "%s",
		    s->o.result_key_id);
	else if (s->o.result_pub != NULL)
		return key_id_of(s->o.result_pub, a->key_id);
	else if (pub[0] != '\0')
		return key_id_of(pub, a->key_id);
	else if (!s->o.no_hello)
		(void)snprintf(a->key_id, sizeof(a->key_id),
		    "0000000000000000");
	return 0;
}

/* The client certificate for the connection on this SSL's socket. */
int
sim_client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	struct sim *s = the_sim;
	int fd = SSL_get_fd(ssl);
	size_t i;

	for (i = 0; s != NULL && fd >= 0 && i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];

		if (a->state != ST_CONNECTING || a->wsi == NULL ||
		    lws_get_socket_fd(a->wsi) != fd)
			continue;
		if (a->cert == NULL || a->pkey == NULL)
			return 0;
		if (X509_up_ref(a->cert) != 1 || EVP_PKEY_up_ref(a->pkey) != 1)
			return 0;
		*x509 = a->cert;
		*pkey = a->pkey;
		return 1;
	}
	return 0;
}

static struct sim_agent *
agent_of_ssl(const SSL *ssl)
{
	struct sim *s = the_sim;
	int fd = SSL_get_fd(ssl);
	size_t i;

	for (i = 0; s != NULL && fd >= 0 && i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];

		if (a->state != ST_DONE && a->wsi != NULL &&
		    lws_get_socket_fd(a->wsi) == fd)
			return a;
	}
	return NULL;
}

/* Keeps the alert the server ended a handshake with, for the report. */
void
sim_info_cb(const SSL *ssl, int where, int ret)
{
	struct sim_agent *a;

	if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT)
		return;
	a = agent_of_ssl(ssl);
	/* OpenSSL 3.0 has no name for TLS 1.3's certificate_required. */
	if (a != NULL)
		(void)snprintf(a->alert, sizeof(a->alert), "%s",
		    (ret & 0xff) == 116 ? "certificate required" :
		                          SSL_alert_desc_string_long(ret));
}
