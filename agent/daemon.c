/* SPDX-License-Identifier: ISC */
/* signet-agent --config: configuration, identity, threads and the loop. */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "agent_config.h"
#include "audit.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "docker.h"
#include "executor.h"
#include "fileio.h"
#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "policy_store.h"
#include "text.h"
#include "wire.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

#define DAEMON_ACTOR "agent"
#define DAEMON_CERT_FILE_MAX (64 * 1024)
#define DAEMON_KEY_FILE_MAX 16384

/*
 * Why a snapshot that equals the last one built is still sent: the 30 s
 * refresh always; a new connection unless those very bytes already went
 * to it (a snapshot started just before the connection opened).
 */
#define WANT_PERIODIC 1u
#define WANT_CONNECT 2u

/* Set by the signal handlers; read by the main loop. */
static volatile sig_atomic_t daemon_stop_signal;
static volatile sig_atomic_t daemon_rotate_requested;
static struct policy_store *volatile daemon_policy_for_hup;

struct daemon {
	struct config *cfg;
	const char *server;
	char host_id[IDENTITY_NAME_MAX + 1];
	struct keys_secret result_key;
	struct keys_pubset action_keys;
	struct policy_store *policy;
	struct audit_writer *audit;
	struct channel *ch;
	struct docker_events *events;
	struct docker_client *dc;      /* the snapshot worker's */
	/*
	 * The executor's: one per worker (a libcurl handle is one thread's at
	 * a time), lent out under exec_mu for one dockerd call.
	 */
	struct docker_client *exec_dc[EXECUTOR_WORKERS];
	bool exec_lent[EXECUTOR_WORKERS];
	pthread_mutex_t exec_mu;
	bool exec_mu_ok;
	struct executor *ex;
	int64_t started_ms;

	/* The snapshot worker and what it shares, under mu. */
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	atomic_bool stopping;          /* cuts short a request to dockerd */
	bool dirty;                    /* a snapshot is wanted */
	unsigned want;                 /* WANT_* reasons to send it unchanged */
	bool refresh_version;
	uint64_t epoch;                /* connections opened so far */
	uint64_t sent_epoch;           /* the one latest's bytes went out on */
	int64_t next_allowed_ms;       /* last snapshot + the gap */
	int64_t next_periodic_ms;
	char docker_version[DOCKER_VERSION_MAX + 1];
	struct channel_frame *latest;  /* the last snapshot built */

	/* Service thread only. */
	uint64_t frames_refused;
};

/* Unix time in ms: action expiry and result timestamps (SPEC §4). */
static int64_t
wall_ms(void *arg)
{
	(void)arg;
	return clock_wall_ms();
}

/* ---- identity ---- */

/* The one entry of nid in name as UTF-8 into out; -1 if not exactly one. */
static int
name_entry(X509_NAME *name, int nid, char *out, size_t outlen)
{
	X509_NAME_ENTRY *e;
	unsigned char *u = NULL;
	int i, n;

	out[0] = '\0';
	i = X509_NAME_get_index_by_NID(name, nid, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0)
		return -1;
	e = X509_NAME_get_entry(name, i);
	if (e == NULL)
		return -1;
	n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
	if (n < 0)
		return -1;
	if ((size_t)n >= outlen || memchr(u, '\0', (size_t)n) != NULL) {
		OPENSSL_free(u);
		return -1;
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(u);
	return 0;
}

static int
load_private_key(const char *key_path, EVP_PKEY **out, struct err_msg *msg)
{
	char *buf = NULL;
	BIO *bio = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	buf = malloc(DAEMON_KEY_FILE_MAX + 1);
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = fileio_read_small(key_path, buf, DAEMON_KEY_FILE_MAX, &len,
	    FILEIO_SECRET, msg);
	if (r != 0)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (*out == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: not a PEM private key (or one with a passphrase)",
		    key_path);
		goto out;
	}
	r = 0;
out:
	BIO_free(bio);
	OPENSSL_cleanse(buf, DAEMON_KEY_FILE_MAX + 1);
	free(buf);
	ERR_clear_error();
	return r;
}

int
daemon_cert_identity(const char *cert_path, const char *key_path,
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
	r = fileio_read_alloc(cert_path, DAEMON_CERT_FILE_MAX, &pem, &len,
	    msg);
	if (r != 0)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: not a PEM certificate", cert_path);
		goto out;
	}
	subject = X509_get_subject_name(cert);
	if (subject == NULL ||
	    name_entry(subject, NID_commonName, cn, sizeof(cn)) != 0) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: the subject must hold exactly one CN (the host id)",
		    cert_path);
		goto out;
	}
	if (!text_valid_name(cn)) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: CN \"%s\" is not a valid host id "
		    "([a-z0-9][a-z0-9._-]{0,62})", cert_path,
		    text_escape_str(cn, esc, sizeof(esc)));
		goto out;
	}
	if (name_entry(subject, NID_organizationalUnitName, ou,
	    sizeof(ou)) != 0 || strcmp(ou, "agent") != 0) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: not an agent certificate (its subject needs OU=agent; "
		    "issue one with signet-pki agent %s)", cert_path, cn);
		goto out;
	}
	if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
		r = err_set(msg, SIGNET_ERR_CERT,
		    "%s: not fit for TLS client use (extendedKeyUsage lacks "
		    "clientAuth)", cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		log_warn("certificate %s has expired: the server will refuse "
		    "it; renew it with signet-pki", cert_path);
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

/* ---- audit ---- */

/* Appends a record; a failure is logged (and returned). */
static int
daemon_audit(struct daemon *d, const char *event, cJSON *data)
{
	struct err_msg m;
	int r;

	err_clear(&m);
	if (data == NULL) {
		log_error("audit %s: out of memory; not recorded", event);
		return SIGNET_ERR_ALLOC;
	}
	r = audit_append(d->audit, event, DAEMON_ACTOR, data, NULL, &m);
	if (r != 0)
		log_error("audit %s not recorded: %s", event, m.text);
	return r;
}

/* A new object with host_id set, or NULL. */
static cJSON *
audit_data(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL && cJSON_AddStringToObject(o, "host_id", d->host_id) ==
	    NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int
audit_started(struct daemon *d)
{
	cJSON *o = audit_data(d), *ids = NULL;
	char version[DOCKER_VERSION_MAX + 1];
	size_t i;
	int r;

	if (pthread_mutex_lock(&d->mu) != 0) {
		cJSON_Delete(o);
		return SIGNET_ERR_INTERNAL;
	}
	memcpy(version, d->docker_version, sizeof(version));
	(void)pthread_mutex_unlock(&d->mu);
	ids = cJSON_CreateArray();
	if (o == NULL || ids == NULL) {
		cJSON_Delete(ids);
		cJSON_Delete(o);
		return daemon_audit(d, "agent.started", NULL);
	}
	for (i = 0; i < d->action_keys.count; i++) {
		if (!cJSON_AddItemToArray(ids,
		    cJSON_CreateString(d->action_keys.keys[i].id)))
			goto oom;
	}
	if (cJSON_AddStringToObject(o, "agent_version", SIGNET_VERSION) ==
	    NULL ||
	    cJSON_AddStringToObject(o, "docker_version", version) == NULL ||
	    cJSON_AddStringToObject(o, "server", d->server) == NULL ||
	    cJSON_AddStringToObject(o, "result_key_id",
	    d->result_key.pub.id) == NULL ||
	    !cJSON_AddItemToObject(o, "action_key_ids", ids))
		goto oom;
	ids = NULL;
	if (cJSON_AddNumberToObject(o, "policy_rules",
	    (double)policy_store_rule_count(d->policy)) == NULL)
		goto oom;
	r = daemon_audit(d, "agent.started", o);
	cJSON_Delete(o);
	return r;
oom:
	cJSON_Delete(ids);
	cJSON_Delete(o);
	return daemon_audit(d, "agent.started", NULL);
}

static void
audit_stopped(struct daemon *d, int sig)
{
	struct channel_stats st;
	struct executor_stats es;
	cJSON *o = audit_data(d);

	channel_get_stats(d->ch, &st);
	memset(&es, 0, sizeof(es));
	if (d->ex != NULL)
		executor_get_stats(d->ex, &es);
	if (o != NULL &&
	    (cJSON_AddStringToObject(o, "signal", sig == SIGINT ? "SIGINT" :
	    sig == SIGTERM ? "SIGTERM" : "none") == NULL ||
	    cJSON_AddNumberToObject(o, "uptime_s",
	    (double)((clock_mono_ms() - d->started_ms) / 1000)) == NULL ||
	    cJSON_AddNumberToObject(o, "connects", (double)st.connects) ==
	    NULL ||
	    cJSON_AddNumberToObject(o, "snapshots_sent",
	    (double)st.snapshots_sent) == NULL ||
	    cJSON_AddNumberToObject(o, "actions_succeeded",
	    (double)es.succeeded) == NULL ||
	    cJSON_AddNumberToObject(o, "actions_failed",
	    (double)es.failed) == NULL ||
	    cJSON_AddNumberToObject(o, "actions_denied",
	    (double)es.denied) == NULL ||
	    cJSON_AddNumberToObject(o, "actions_rejected",
	    (double)es.rejected) == NULL ||
	    cJSON_AddNumberToObject(o, "frames_refused",
	    (double)es.refused_frames) == NULL ||
	    cJSON_AddNumberToObject(o, "results_unacknowledged",
	    (double)es.undelivered) == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	(void)daemon_audit(d, "agent.stopped", o);
	cJSON_Delete(o);
}

/* ---- the snapshot worker ---- */

/* Asks for a snapshot soon (any thread). */
static void
request_snapshot(struct daemon *d, unsigned want, bool refresh_version)
{
	if (pthread_mutex_lock(&d->mu) != 0)
		return;
	d->dirty = true;
	d->want |= want;
	if (refresh_version)
		d->refresh_version = true;
	(void)pthread_cond_signal(&d->cv);
	(void)pthread_mutex_unlock(&d->mu);
}

/*
 * Lists the containers and hands the frame to the channel. Returns 0, or
 * the failure of dockerd's list (logged), which the caller retries.
 */
static int
take_snapshot(struct daemon *d, unsigned want)
{
	struct inventory *inv = NULL;
	struct channel_frame *frame = NULL, *old = NULL;
	struct err_msg m;
	char *text = NULL;
	size_t len = 0, rows;
	bool same = false, send;
	uint64_t epoch = 0, sent_epoch = 0;
	int64_t t0 = clock_mono_ms();
	int r;

	err_clear(&m);
	r = docker_list(d->dc, &inv, &m);
	if (r != 0) {
		log_warn("container list failed: %s", m.text);
		goto out;
	}
	rows = inv->count;
	r = wire_build_inventory(inv, &text, &len);
	inventory_free(inv);
	inv = NULL;
	if (r != 0) {
		log_error("inventory frame: %s", err_str(r));
		goto out;
	}
	if (len > CHANNEL_TX_MAX) {
		/* Retrying cannot help; the next event or period may. */
		log_error("inventory of %zu containers is %zu bytes, over the "
		    "server's limit of %d: not sent", rows, len,
		    CHANNEL_TX_MAX);
		free(text);
		r = 0;
		goto out;
	}
	r = channel_frame_take(text, len, &frame);
	text = NULL;
	if (r != 0) {
		log_error("inventory frame: %s", err_str(r));
		goto out;
	}
	if (pthread_mutex_lock(&d->mu) == 0) {
		old = d->latest;
		same = old != NULL && channel_frame_len(old) == len &&
		    memcmp(channel_frame_data(old), channel_frame_data(frame),
		    len) == 0;
		d->latest = channel_frame_ref(frame);
		epoch = d->epoch;
		sent_epoch = d->sent_epoch;
		(void)pthread_mutex_unlock(&d->mu);
	}
	channel_frame_unref(old);
	send = !same || (want & WANT_PERIODIC) != 0 ||
	    ((want & WANT_CONNECT) != 0 && sent_epoch != epoch);
	if (!send) {
		log_debug("inventory unchanged (%zu containers); not sent",
		    rows);
	} else if (channel_set_snapshot(d->ch, frame)) {
		log_debug("inventory queued: containers=%zu bytes=%zu "
		    "list_ms=%lld", rows, len, (long long)(clock_mono_ms() - t0));
		if (pthread_mutex_lock(&d->mu) == 0) {
			d->sent_epoch = epoch;
			(void)pthread_mutex_unlock(&d->mu);
		}
	}
	r = 0;
out:
	channel_frame_unref(frame);
	inventory_free(inv);
	return r;
}

static void
refresh_version(struct daemon *d)
{
	char version[DOCKER_VERSION_MAX + 1];
	struct err_msg m;

	err_clear(&m);
	if (docker_version(d->dc, version, &m) != 0) {
		log_warn("dockerd version: %s", m.text);
		return;
	}
	if (pthread_mutex_lock(&d->mu) != 0)
		return;
	if (strcmp(version, d->docker_version) != 0)
		log_info("dockerd version %s", version);
	memcpy(d->docker_version, version, sizeof(version));
	(void)pthread_mutex_unlock(&d->mu);
}

static void
deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
	int64_t now = clock_mono_ms(), wait = deadline_ms - now;

	if (wait < 0)
		wait = 0;
	if (clock_gettime(CLOCK_MONOTONIC, ts) != 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = 0;
	}
	ts->tv_sec += (time_t)(wait / 1000);
	ts->tv_nsec += (long)(wait % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
worker_main(void *arg)
{
	struct daemon *d = arg;
	struct timespec ts;
	int64_t now, retry = DAEMON_LIST_RETRY_FIRST_MS, deadline;
	unsigned want;
	int r;

	if (pthread_mutex_lock(&d->mu) != 0)
		return NULL;
	while (!d->stop) {
		now = clock_mono_ms();
		if (d->refresh_version) {
			d->refresh_version = false;
			(void)pthread_mutex_unlock(&d->mu);
			refresh_version(d);
			if (pthread_mutex_lock(&d->mu) != 0)
				return NULL;
			continue;
		}
		if (now >= d->next_periodic_ms) {
			d->dirty = true;
			d->want |= WANT_PERIODIC;
		}
		if (d->dirty && now >= d->next_allowed_ms) {
			want = d->want;
			d->dirty = false;
			d->want = 0;
			d->next_allowed_ms = now + DAEMON_SNAPSHOT_GAP_MS;
			d->next_periodic_ms = now + DAEMON_SNAPSHOT_PERIOD_MS;
			(void)pthread_mutex_unlock(&d->mu);
			r = take_snapshot(d, want);
			if (pthread_mutex_lock(&d->mu) != 0)
				return NULL;
			if (r == 0) {
				retry = DAEMON_LIST_RETRY_FIRST_MS;
			} else {
				/* dockerd failed: try again, backing off. */
				d->dirty = true;
				d->want |= want;
				d->next_allowed_ms = clock_mono_ms() + retry;
				retry = retry >= DAEMON_LIST_RETRY_MAX_MS / 2 ?
				    DAEMON_LIST_RETRY_MAX_MS : retry * 2;
			}
			continue;
		}
		deadline = d->dirty ? d->next_allowed_ms : d->next_periodic_ms;
		deadline_ts(deadline, &ts);
		(void)pthread_cond_timedwait(&d->cv, &d->mu, &ts);
	}
	(void)pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- docker events (the stream's thread) ---- */

/* Events that cannot change what the inventory shows. */
static bool
event_changes_inventory(const char *action)
{
	static const char *const quiet[] = { "attach", "detach", "resize",
		"top", "archive-path", "extract-to-dir", "export", "copy",
		"commit", NULL };
	size_t i;

	if (strncmp(action, "exec_", 5) == 0)
		return false;
	for (i = 0; quiet[i] != NULL; i++) {
		if (strcmp(action, quiet[i]) == 0)
			return false;
	}
	return true;
}

static void
on_docker_event(void *arg, const struct docker_event *ev)
{
	struct daemon *d = arg;
	char name[INVENTORY_NAME_MAX * 4 + 1];

	log_debug("docker event: action=%s id=%.12s name=\"%s\"", ev->action,
	    ev->id, text_escape_str(ev->name, name, sizeof(name)));
	if (event_changes_inventory(ev->action))
		request_snapshot(d, 0, false);
}

static void
on_docker_stream(void *arg, bool up, const char *why)
{
	struct daemon *d = arg;

	if (up) {
		log_info("docker event stream up");
		/* Events may have been missed meanwhile: resynchronise. */
		request_snapshot(d, 0, true);
	} else {
		log_warn("docker event stream down: %s; redialling", why);
	}
}

/* ---- the channel (service thread) ---- */

static void
on_established(void *arg)
{
	struct daemon *d = arg;
	struct channel_frame *f = NULL;
	char version[DOCKER_VERSION_MAX + 1];
	char *text = NULL;
	size_t len = 0;
	int r;

	if (pthread_mutex_lock(&d->mu) != 0)
		return;
	memcpy(version, d->docker_version, sizeof(version));
	d->epoch++;
	(void)pthread_mutex_unlock(&d->mu);
	r = wire_build_hello(d->host_id, SIGNET_VERSION, version,
	    d->result_key.pub.id, &text, &len);
	if (r == 0)
		r = channel_frame_take(text, len, &f);
	if (r == 0)
		r = channel_send(d->ch, f);
	channel_frame_unref(f);
	if (r != 0) {
		log_error("hello not sent: %s", err_str(r));
		return;
	}
	log_info("hello sent: host_id=%s docker_version=%s result_key_id=%s",
	    d->host_id, version, d->result_key.pub.id);
	/* A snapshot follows the hello, at once if none is on its way. */
	request_snapshot(d, WANT_CONNECT, false);
}

/* ---- actions: the executor's glue (service thread unless noted) ---- */

/* Any worker: a dockerd connection of its own, or -1 (none free). */
static int
exec_borrow(struct daemon *d)
{
	int i, got = -1;

	if (pthread_mutex_lock(&d->exec_mu) != 0)
		return -1;
	for (i = 0; i < EXECUTOR_WORKERS && got < 0; i++) {
		if (d->exec_dc[i] != NULL && !d->exec_lent[i]) {
			d->exec_lent[i] = true;
			got = i;
		}
	}
	(void)pthread_mutex_unlock(&d->exec_mu);
	return got;
}

static void
exec_return(struct daemon *d, int i)
{
	(void)pthread_mutex_lock(&d->exec_mu);
	d->exec_lent[i] = false;
	(void)pthread_mutex_unlock(&d->exec_mu);
}

static int
exec_inspect(void *arg, const char *id, struct inventory **out,
    struct err_msg *msg)
{
	struct daemon *d = arg;
	int i = exec_borrow(d), r;

	if (i < 0)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE, "no dockerd "
		    "connection free for the executor");
	r = docker_inspect(d->exec_dc[i], id, out, msg);
	exec_return(d, i);
	return r;
}

static int
exec_act(void *arg, const char *id, enum envelope_action action,
    int stop_timeout, long *http_status, struct err_msg *msg)
{
	struct daemon *d = arg;
	int i = exec_borrow(d), r;

	*http_status = 0;
	if (i < 0)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE, "no dockerd "
		    "connection free for the executor");
	r = docker_action(d->exec_dc[i], id, action, stop_timeout,
	    http_status, msg);
	exec_return(d, i);
	return r;
}

/* Any thread: a result waits in the outbox; flush_results sends it. */
static void
exec_on_result(void *arg)
{
	struct daemon *d = arg;

	channel_wake(d->ch);
}

static uint64_t
current_epoch(struct daemon *d)
{
	uint64_t epoch = 0;

	if (pthread_mutex_lock(&d->mu) != 0)
		return 0;
	epoch = d->epoch;
	(void)pthread_mutex_unlock(&d->mu);
	return epoch;
}

/*
 * Queues the results the server has not acknowledged and that have not
 * gone out on this connection yet, as long as the channel takes them.
 */
static void
flush_results(struct daemon *d)
{
	struct channel_frame *f = NULL;
	uint64_t epoch, seq = 0;
	char *buf = NULL;
	size_t len = 0, i;
	int r;

	if (d->ex == NULL || !channel_connected(d->ch))
		return;
	epoch = current_epoch(d);
	for (i = 0; i < CHANNEL_QUEUE_MAX; i++) {
		r = executor_outbox_take(d->ex, epoch, &buf, &len, &seq);
		if (r < 0)
			log_error("result not sent now: %s", err_str(r));
		if (r <= 0)
			return;
		r = channel_frame_take(buf, len, &f);
		if (r == 0)
			r = channel_send(d->ch, f);
		channel_frame_unref(f);
		f = NULL;
		if (r != 0) {
			/* The queue is full or the connection went: later. */
			executor_outbox_untake(d->ex, seq);
			return;
		}
		log_debug("result queued: seq=%llu bytes=%zu",
		    (unsigned long long)seq, len);
	}
}

static void
on_dropped(void *arg, const char *why, size_t bytes)
{
	struct daemon *d = arg;

	d->frames_refused++;
	if (d->ex != NULL)
		executor_frame_refused(d->ex, why, NULL, 0, bytes);
}

static void
on_message(void *arg, const char *data, size_t len)
{
	struct daemon *d = arg;
	struct wire_frame f;
	struct err_msg m;
	char why[ERR_MSG_MAX + 32];
	int r;

	err_clear(&m);
	r = wire_parse_server_frame(data, len, &f, &m);
	if (f.type == WIRE_RESULT_ACK && r == 0) {
		if (d->ex != NULL)
			executor_outbox_acked(d->ex, f.ack.action_id,
			    f.ack.request_sha256);
		goto out;
	}
	if (f.type == WIRE_ACTION) {
		/* Refused or not, the executor answers it in its turn. */
		if (d->ex == NULL ||
		    executor_submit(d->ex, data, len, r == 0 ? &f : NULL) !=
		    0) {
			(void)snprintf(why, sizeof(why),
			    "action not handled: out of memory");
			goto refused;
		}
		goto out;
	}
	(void)snprintf(why, sizeof(why), "malformed frame: %s", m.text);
refused:
	d->frames_refused++;
	if (d->ex != NULL)
		executor_frame_refused(d->ex, why, data, len, len);
	else
		log_warn("frame from the server refused: %s", why);
out:
	wire_frame_free(&f);
}

/* ---- signals ---- */

static void
on_stop_signal(int sig)
{
	daemon_stop_signal = sig;
}

static void
on_hup(int sig)
{
	(void)sig;
	if (daemon_policy_for_hup != NULL)
		policy_store_request_reload(daemon_policy_for_hup);
}

static void
on_usr1(int sig)
{
	(void)sig;
	daemon_rotate_requested = 1;
}

static int
install_signals(struct err_msg *msg)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	(void)sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;      /* no SA_RESTART: wake poll() */
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL, "sigaction: %s",
		    strerror(errno));
	sa.sa_handler = on_hup;
	if (sigaction(SIGHUP, &sa, NULL) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL, "sigaction: %s",
		    strerror(errno));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL, "sigaction: %s",
		    strerror(errno));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL, "sigaction: %s",
		    strerror(errno));
	return 0;
}

/* ---- start, loop, stop ---- */

static void
policy_reload(struct daemon *d)
{
	struct err_msg m;
	cJSON *o;
	int r;

	err_clear(&m);
	r = policy_store_reload_if_requested(d->policy, &m);
	if (r == 0)
		return;
	o = audit_data(d);
	if (r == 1) {
		log_info("policy reloaded: rules=%zu generation=%llu",
		    policy_store_rule_count(d->policy),
		    (unsigned long long)policy_store_generation(d->policy));
		if (o != NULL &&
		    (cJSON_AddNumberToObject(o, "policy_rules",
		    (double)policy_store_rule_count(d->policy)) == NULL ||
		    cJSON_AddNumberToObject(o, "generation",
		    (double)policy_store_generation(d->policy)) == NULL)) {
			cJSON_Delete(o);
			o = NULL;
		}
		(void)daemon_audit(d, "policy.reloaded", o);
	} else {
		log_error("policy reload refused, the old policy stays: %s",
		    m.text);
		if (o != NULL &&
		    cJSON_AddStringToObject(o, "error", m.text) == NULL) {
			cJSON_Delete(o);
			o = NULL;
		}
		(void)daemon_audit(d, "policy.reload_refused", o);
	}
	cJSON_Delete(o);
}

/* SIGUSR1: rotate the audit log (on the main loop, not in the handler). */
static void
audit_rotate_if_requested(struct daemon *d)
{
	struct err_msg m;

	if (daemon_rotate_requested == 0)
		return;
	daemon_rotate_requested = 0;
	err_clear(&m);
	if (audit_rotate(d->audit, "signal", &m) != 0)
		log_error("SIGUSR1: audit log not rotated: %s", m.text);
}

/* Loads everything; returns the exit code to use on failure, or 0. */
static int
daemon_load(struct daemon *d, const char *config_path)
{
	/* The channel logs closes and redials by itself. */
	static const struct channel_ops ch_ops = { on_established, NULL,
		on_message, on_dropped };
	struct channel_config cc;
	struct err_msg m;
	enum log_level level;
	const char *v;
	char version[DOCKER_VERSION_MAX + 1];
	uint64_t rotate_size = 0;
	size_t i;

	err_clear(&m);
	if (config_load(config_path, agent_config_schema,
	    agent_config_schema_len, &d->cfg, &m) != 0) {
		fprintf(stderr, "signet-agent: %s\n", m.text);
		return 2;
	}
	v = config_get(d->cfg, "agent", "log_level");
	if (v == NULL || log_level_parse(v, &level) != 0) {
		fprintf(stderr, "signet-agent: %s:%u: log_level: must be "
		    "error, warn, info or debug\n", config_name(d->cfg),
		    config_line(d->cfg, "agent", "log_level"));
		return 2;
	}
	log_init("signet-agent", level);
	if (audit_config_rotate_size(d->cfg, &rotate_size, &m) != 0) {
		fprintf(stderr, "signet-agent: %s\n", m.text);
		return 2;
	}
	d->server = config_get(d->cfg, "agent", "server");
	if (daemon_cert_identity(config_get(d->cfg, "tls", "cert"),
	    config_get(d->cfg, "tls", "key"), d->host_id, &m) != 0) {
		log_error("agent certificate refused: %s", m.text);
		return 1;
	}
	if (keys_load_secret(config_get(d->cfg, "keys", "result"),
	    &d->result_key, &m) != 0) {
		log_error("result key refused: %s", m.text);
		return 1;
	}
	if (keys_load_pubset(config_get(d->cfg, "keys", "action_pub"),
	    &d->action_keys, &m) != 0) {
		log_error("pinned action keys refused: %s", m.text);
		return 1;
	}
	if (policy_store_open(config_get(d->cfg, "agent", "policy"),
	    d->host_id, &d->policy, &m) != 0) {
		log_error("policy refused, not starting: %s", m.text);
		return 1;
	}
	cc.url = d->server;
	cc.ca_path = config_get(d->cfg, "tls", "ca");
	cc.cert_path = config_get(d->cfg, "tls", "cert");
	cc.key_path = config_get(d->cfg, "tls", "key");
	if (channel_new(&cc, &ch_ops, d, &d->ch, &m) != 0) {
		log_error("channel: %s", m.text);
		return 1;
	}
	if (audit_open(config_get(d->cfg, "audit", "path"), &d->result_key,
	    &d->audit, &m) != 0) {
		log_error("audit log refused: %s", m.text);
		return 1;
	}
	audit_set_rotate_size(d->audit, rotate_size);
	if (docker_client_new(config_get(d->cfg, "agent", "docker_socket"),
	    &d->dc, &m) != 0) {
		log_error("dockerd: %s", m.text);
		return 1;
	}
	docker_client_set_abort(d->dc, &d->stopping);
	/*
	 * The executor's own client has no abort flag: an action that dockerd
	 * is running is waited for, also at shutdown, so that its outcome is
	 * known and recorded.
	 */
	if (pthread_mutex_init(&d->exec_mu, NULL) != 0) {
		log_error("cannot make a mutex");
		return 1;
	}
	d->exec_mu_ok = true;
	for (i = 0; i < EXECUTOR_WORKERS; i++) {
		if (docker_client_new(config_get(d->cfg, "agent",
		    "docker_socket"), &d->exec_dc[i], &m) != 0) {
			log_error("dockerd: %s", m.text);
			return 1;
		}
	}
	if (docker_version(d->dc, version, &m) == 0) {
		memcpy(d->docker_version, version, sizeof(version));
		log_info("dockerd version %s", version);
	} else {
		log_warn("dockerd not answering yet (%s); carrying on", m.text);
	}
	return 0;
}

/*
 * The action pipeline: rebuilt from the audit log (seen ids, results not
 * yet acknowledged, actions cut short by a stop), after agent.started.
 */
static int
daemon_open_executor(struct daemon *d)
{
	static const struct executor_ops ops = { exec_inspect, exec_act,
		wall_ms };
	struct executor_config ec;
	struct executor_stats es;
	struct err_msg m;

	err_clear(&m);
	memset(&ec, 0, sizeof(ec));
	ec.host_id = d->host_id;
	ec.action_keys = &d->action_keys;
	ec.result_key = &d->result_key;
	ec.policy = d->policy;
	ec.audit = d->audit;
	ec.audit_path = config_get(d->cfg, "audit", "path");
	ec.stop_timeout = (int)config_get_int(d->cfg, "agent", "stop_timeout",
	    10);
	ec.ops = &ops;
	ec.ops_arg = d;
	ec.on_result = exec_on_result;
	ec.result_arg = d;
	if (executor_open(&ec, &d->ex, &m) != 0) {
		log_error("action executor cannot start from the audit log: %s",
		    m.text);
		return 1;
	}
	executor_get_stats(d->ex, &es);
	log_info("actions: seen_ids=%llu results_reloaded=%llu "
	    "interrupted_answered=%llu unacknowledged=%zu stop_timeout=%d",
	    (unsigned long long)es.ids_loaded,
	    (unsigned long long)es.results_reloaded,
	    (unsigned long long)es.recovered, es.undelivered, ec.stop_timeout);
	return 0;
}

static int
daemon_start_threads(struct daemon *d)
{
	static const struct docker_events_ops ev_ops = { on_docker_event,
		on_docker_stream };
	struct err_msg m;

	err_clear(&m);
	if (executor_start(d->ex) != 0) {
		log_error("cannot start the action thread");
		return 1;
	}
	if (pthread_create(&d->worker, NULL, worker_main, d) != 0) {
		log_error("cannot start the snapshot thread");
		return 1;
	}
	d->worker_started = true;
	if (docker_events_start(config_get(d->cfg, "agent", "docker_socket"),
	    &ev_ops, d, &d->events, &m) != 0) {
		log_error("docker events: %s", m.text);
		return 1;
	}
	return 0;
}

static void
daemon_stop_threads(struct daemon *d)
{
	atomic_store(&d->stopping, true);
	docker_events_stop(d->events);
	d->events = NULL;
	if (!d->worker_started)
		return;
	if (pthread_mutex_lock(&d->mu) == 0) {
		d->stop = true;
		(void)pthread_cond_broadcast(&d->cv);
		(void)pthread_mutex_unlock(&d->mu);
	}
	(void)pthread_join(d->worker, NULL);
	d->worker_started = false;
}

int
daemon_run(const char *config_path)
{
	struct daemon *d = NULL;
	struct channel_stats st;
	struct err_msg m;
	pthread_condattr_t ca;
	sigset_t block, old;
	bool mu_ok = false, cv_ok = false, masked = false, started = false;
	int rc = 1, sig;

	err_clear(&m);
	if (sodium_init() < 0) {
		fprintf(stderr, "signet-agent: libsodium cannot start\n");
		return 1;
	}
	if (docker_global_init(&m) != 0) {
		fprintf(stderr, "signet-agent: %s\n", m.text);
		return 1;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		fprintf(stderr, "signet-agent: out of memory\n");
		goto out;
	}
	d->started_ms = clock_mono_ms();
	atomic_init(&d->stopping, false);
	memcpy(d->docker_version, DAEMON_DOCKER_VERSION_UNKNOWN,
	    sizeof(DAEMON_DOCKER_VERSION_UNKNOWN));
	if (pthread_mutex_init(&d->mu, NULL) != 0)
		goto out;
	mu_ok = true;
	if (pthread_condattr_init(&ca) != 0)
		goto out;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&d->cv, &ca) != 0) {
		(void)pthread_condattr_destroy(&ca);
		goto out;
	}
	(void)pthread_condattr_destroy(&ca);
	cv_ok = true;
	/* Early, so that a SIGHUP or SIGTERM while loading does not kill. */
	if (install_signals(&m) != 0) {
		fprintf(stderr, "signet-agent: %s\n", m.text);
		goto out;
	}

	rc = daemon_load(d, config_path);
	if (rc != 0)
		goto out;
	rc = 1;
	if (audit_started(d) != 0) {
		log_error("cannot record agent.started; not starting");
		goto out;
	}
	started = true;
	if (daemon_open_executor(d) != 0)
		goto out;
	log_info("agent started: host_id=%s version=%s server=%s "
	    "result_key_id=%s action_keys=%zu policy_rules=%zu",
	    d->host_id, SIGNET_VERSION, d->server, d->result_key.pub.id,
	    d->action_keys.count, policy_store_rule_count(d->policy));

	/* Threads start with the signals blocked: only this one takes them. */
	if (sigemptyset(&block) != 0 || sigaddset(&block, SIGTERM) != 0 ||
	    sigaddset(&block, SIGINT) != 0 || sigaddset(&block, SIGHUP) != 0 ||
	    sigaddset(&block, SIGUSR1) != 0 ||
	    pthread_sigmask(SIG_BLOCK, &block, &old) != 0)
		goto out;
	masked = true;
	daemon_policy_for_hup = d->policy;
	d->next_periodic_ms = clock_mono_ms() + DAEMON_SNAPSHOT_PERIOD_MS;
	if (daemon_start_threads(d) != 0)
		goto out;
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
		goto out;
	masked = false;

	while (daemon_stop_signal == 0) {
		if (channel_service(d->ch) != 0) {
			log_error("event loop failed; stopping");
			goto out;
		}
		flush_results(d);
		policy_reload(d);
		audit_rotate_if_requested(d);
	}
	rc = 0;
out:
	sig = daemon_stop_signal;
	if (d != NULL && d->ex != NULL) {
		/* The action under way finishes and is recorded first. */
		log_info("agent stopping: waiting for the action under way");
		executor_stop(d->ex);
	}
	if (started) {
		log_info("agent stopping: signal=%d", sig);
		audit_stopped(d, sig);
	}
	if (masked)
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d != NULL) {
		if (d->ch != NULL)
			channel_shutdown(d->ch, DAEMON_SHUTDOWN_GRACE_MS);
		daemon_stop_threads(d);
		if (d->ch != NULL && started) {
			struct executor_stats est;

			memset(&est, 0, sizeof(est));
			if (d->ex != NULL)
				executor_get_stats(d->ex, &est);
			channel_get_stats(d->ch, &st);
			log_info("channel: connects=%llu snapshots_sent=%llu "
			    "frames_received=%llu frames_dropped=%llu "
			    "frames_refused=%llu results_acked=%llu",
			    (unsigned long long)st.connects,
			    (unsigned long long)st.snapshots_sent,
			    (unsigned long long)st.frames_received,
			    (unsigned long long)st.frames_dropped,
			    (unsigned long long)d->frames_refused,
			    (unsigned long long)est.results_acked);
		}
		executor_free(d->ex);
		channel_free(d->ch);
		channel_frame_unref(d->latest);
		docker_client_free(d->dc);
		for (size_t w = 0; w < EXECUTOR_WORKERS; w++)
			docker_client_free(d->exec_dc[w]);
		if (d->exec_mu_ok)
			(void)pthread_mutex_destroy(&d->exec_mu);
		audit_close(d->audit);
		daemon_policy_for_hup = NULL;
		policy_store_free(d->policy);
		keys_secret_wipe(&d->result_key);
		config_free(d->cfg);
		if (cv_ok)
			(void)pthread_cond_destroy(&d->cv);
		if (mu_ok)
			(void)pthread_mutex_destroy(&d->mu);
		free(d);
	}
	docker_global_cleanup();
	return rc;
}
