/* SPDX-License-Identifier: ISC */
/*
 * signet-agent --config: loads the configuration, identity, keys, policy
 * and audit log, starts the threads (the executor's workers, the
 * snapshot worker and the docker event stream of daemon_snapshot.c), runs
 * the channel's service loop on the main thread (its callbacks are in
 * daemon_exec.c) until SIGTERM/SIGINT, and stops in order: the action
 * under way first.
 */
#include "daemon.h"
#include "daemon_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent_config.h"
#include "audit.h"
#include "audit_tree.h"
#include "audit_mirror.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "docker.h"
#include "harden.h"
#include "executor.h"
#include "identity.h"
#include "keys.h"
#include "log.h"
#include "policy_store.h"
#include "sdnotify.h"

/* Set by the signal handlers; read by the main loop. */
static volatile sig_atomic_t daemon_stop_signal;
static volatile sig_atomic_t daemon_rotate_requested;
/* A SIGHUP came: the loop tells systemd RELOADING=1 .. READY=1 around it. */
static volatile sig_atomic_t daemon_hup_seen;
static struct policy_store *volatile daemon_policy_for_hup;

/* ---- audit ---- */

/* Appends a record, taking data (NULL: it could not be built). */
static int
daemon_audit(struct daemon *d, const char *event, cJSON *data)
{
	return audit_event(d->audit, event, DAEMON_ACTOR, data, data != NULL);
}

/* A new object with host_id set, or NULL. */
static cJSON *
audit_data(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL &&
	    cJSON_AddStringToObject(o, "host_id", d->host_id) == NULL) {
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
	        d->result_key->pub.id) == NULL ||
	    !cJSON_AddItemToObject(o, "action_key_ids", ids))
		goto oom;
	ids = NULL;
	if (cJSON_AddNumberToObject(o, "policy_rules",
	        (double)policy_store_rule_count(d->policy)) == NULL)
		goto oom;
	return daemon_audit(d, "agent.started", o);
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
	    (cJSON_AddStringToObject(o, "signal",
	         sig == SIGINT      ? "SIGINT" :
	             sig == SIGTERM ? "SIGTERM" :
	                              "none") == NULL ||
	        cJSON_AddNumberToObject(o, "uptime_s",
	            (double)((clock_mono_ms() - d->started_ms) / 1000)) ==
	            NULL ||
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
	        cJSON_AddNumberToObject(o, "actions_unknown",
	            (double)es.unknown) == NULL ||
	        cJSON_AddNumberToObject(o, "frames_refused",
	            (double)es.refused_frames) == NULL ||
	        cJSON_AddNumberToObject(o, "results_unacknowledged",
	            (double)es.undelivered) == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	(void)daemon_audit(d, "agent.stopped", o);
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
	daemon_hup_seen = 1;
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
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: wake poll() */
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
	cJSON *o, *summary = NULL;
	bool full;
	int r;

	err_clear(&m);
	r = policy_store_reload_if_requested(d->policy, &m);
	if (r == 0)
		return;
	/* A SIGHUP storm: bounded (audit_limit.h), the rest summed up. */
	full = audit_limit_take(r == 1 ? &d->reloaded_lim :
	                                 &d->reload_refused_lim,
	    "sighup", clock_wall_ms(), &summary);
	(void)audit_limit_write(d->audit, DAEMON_ACTOR, summary);
	o = full ? audit_data(d) : NULL;
	if (r == 1) {
		if (channel_connected(d->ch))
			daemon_policy_send(d);
		log_info("policy reloaded: rules=%zu generation=%llu",
		    policy_store_rule_count(d->policy),
		    (unsigned long long)policy_store_generation(d->policy));
		if (o != NULL &&
		    (cJSON_AddNumberToObject(o, "policy_rules",
		         (double)policy_store_rule_count(d->policy)) == NULL ||
		        cJSON_AddNumberToObject(o, "generation",
		            (double)policy_store_generation(d->policy)) ==
		            NULL)) {
			cJSON_Delete(o);
			o = NULL;
		}
		if (full)
			(void)daemon_audit(d, "policy.reloaded", o);
	} else {
		log_error("policy reload refused, the old policy stays: %s",
		    m.text);
		if (o != NULL &&
		    cJSON_AddStringToObject(o, "error", m.text) == NULL) {
			cJSON_Delete(o);
			o = NULL;
		}
		if (full)
			(void)daemon_audit(d, "policy.reload_refused", o);
	}
}

/*
 * Closes the bounded records' windows that have ended (force: all, the
 * agent stops) and audits their audit.suppressed summaries.
 */
static void
audit_limits_close(struct daemon *d, bool force)
{
	cJSON *summary = NULL;

	if (d->audit == NULL)
		return;
	audit_limit_close(&d->reloaded_lim, clock_wall_ms(), force, &summary);
	(void)audit_limit_write(d->audit, DAEMON_ACTOR, summary);
	audit_limit_close(&d->reload_refused_lim, clock_wall_ms(), force,
	    &summary);
	(void)audit_limit_write(d->audit, DAEMON_ACTOR, summary);
	audit_limit_close(&d->roster_refused_lim, clock_wall_ms(), force,
	    &summary);
	(void)audit_limit_write(d->audit, DAEMON_ACTOR, summary);
	if (d->ex != NULL)
		executor_audit_close(d->ex, force);
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

/*
 * Keeps the audit log's Merkle tree and publishes its checkpoints under
 * "signet/agent/HOST-ID" (docs/transparency.md) unless [audit]
 * checkpoint_interval is 0; each goes to the server too
 * (daemon_checkpoint.c). A tree that cannot be kept is said loudly;
 * the log itself is whole and the agent runs on.
 */
static void
daemon_checkpoints_start(struct daemon *d)
{
	int interval = (int)config_get_int(d->cfg, "audit",
	    "checkpoint_interval", AUDIT_CHECKPOINT_INTERVAL_DEFAULT);
	char origin[AUDIT_ORIGIN_MAX + 1];
	struct err_msg m;

	if (interval == 0)
		return;
	(void)snprintf(origin, sizeof(origin), "signet/agent/%s", d->host_id);
	if (audit_tree_open(d->audit, &m) != 0 ||
	    audit_checkpoint_start(d->audit, origin, interval,
	        daemon_checkpoint_published, d, &m) != 0)
		log_error("no audit checkpoints this run: %s", m.text);
}

/* Loads everything; returns the exit code to use on failure, or 0. */
static int
daemon_load(struct daemon *d, const char *config_path)
{
	struct channel_config cc;
	struct err_msg m;
	enum log_level level;
	const char *v;
	char version[DOCKER_VERSION_MAX + 1], cn[CERT_EXPIRY_NAME_MAX + 1];
	uint64_t rotate_size = 0;
	struct audit_mirror_conf mirror;
	size_t i;

	err_clear(&m);
	memset(&mirror, 0, sizeof(mirror));
	memset(&cc, 0, sizeof(cc));
	if (config_load(config_path, agent_config_schema,
	        agent_config_schema_len, &d->cfg, &m) != 0) {
		fprintf(stderr, "signet-agent: %s\n", m.text);
		return 2;
	}
	v = config_get(d->cfg, "agent", "log_level");
	if (v == NULL || log_level_parse(v, &level) != 0) {
		fprintf(stderr,
		    "signet-agent: %s:%u: log_level: must be "
		    "error, warn, info or debug\n",
		    config_name(d->cfg),
		    config_line(d->cfg, "agent", "log_level"));
		return 2;
	}
	log_init("signet-agent", level);
	/* A configuration error: said before anything is opened. */
	cc.reconnect_min_ms = (unsigned)config_get_int(d->cfg, "agent",
	    "reconnect_min_ms", CHANNEL_RECONNECT_MIN_MS);
	cc.reconnect_max_ms = (unsigned)config_get_int(d->cfg, "agent",
	    "reconnect_max_ms", CHANNEL_RECONNECT_MAX_MS);
	if (cc.reconnect_min_ms > cc.reconnect_max_ms) {
		fprintf(stderr,
		    "signet-agent: %s:%u: [agent] reconnect_min_ms (%u) is "
		    "over reconnect_max_ms (%u): the first redial delay must "
		    "not exceed the largest\n",
		    config_name(d->cfg),
		    config_line(d->cfg, "agent", "reconnect_min_ms"),
		    cc.reconnect_min_ms, cc.reconnect_max_ms);
		return 2;
	}
	if (audit_config_rotate_size(d->cfg, &rotate_size, &m) != 0 ||
	    audit_config_mirror(d->cfg, &mirror.mode, &m) != 0 ||
	    audit_limit_config(d->cfg, &d->audit_limit, &m) != 0) {
		fprintf(stderr, "signet-agent: %s\n", m.text);
		return 2;
	}
	audit_limit_init(&d->reloaded_lim, "policy.reloaded", &d->audit_limit);
	audit_limit_init(&d->reload_refused_lim, "policy.reload_refused",
	    &d->audit_limit);
	if (agent_metrics_parse_listen(
	        config_get(d->cfg, "agent", "metrics_listen"), &d->metrics_on,
	        &d->metrics_addr, &m) != 0) {
		fprintf(stderr, "signet-agent: %s:%u: %s\n",
		    config_name(d->cfg),
		    config_line(d->cfg, "agent", "metrics_listen"), m.text);
		return 2;
	}
	if (agent_metrics_new(&d->metrics) != 0) {
		log_error("out of memory");
		return 1;
	}
	d->server = config_get(d->cfg, "agent", "server");
	if (identity_agent_cert(config_get(d->cfg, "tls", "cert"),
	        config_get(d->cfg, "tls", "key"), d->host_id, &m) != 0) {
		log_error("agent certificate refused: %s", m.text);
		return 1;
	}
	d->cert_warn_days = (int)config_get_int(d->cfg, "tls",
	    "expiry_warn_days", CERT_EXPIRY_WARN_DAYS_DEFAULT);
	if (cert_expiry_read(config_get(d->cfg, "tls", "cert"),
	        &d->cert_not_after, cn, &m) != 0)
		log_warn("agent certificate: %s (its expiry is not watched)",
		    m.text);
	cert_expiry_init(&d->cert_watch);
	agent_metrics_set_cert(d->metrics, d->host_id, d->cert_not_after,
	    d->cert_warn_days);
	d->result_key = sodium_malloc(sizeof(*d->result_key));
	if (d->result_key == NULL) {
		log_error("out of memory");
		return 1;
	}
	if (keys_load_secret(config_get(d->cfg, "keys", "result"),
	        d->result_key, &m) != 0) {
		log_error("result key refused: %s", m.text);
		return 1;
	}
	/*
	 * The keys the result key replaced (a rotation): the audit log may
	 * end under one of them, and results signed with them before the
	 * rotation still go out.
	 */
	if (config_get(d->cfg, "keys", "result_retired") != NULL &&
	    keys_load_pubset_trusted(
	        config_get(d->cfg, "keys", "result_retired"),
	        "the retired result keys", &d->result_retired, &m) != 0) {
		log_error("retired result keys refused: %s", m.text);
		return 1;
	}
	if (keys_load_pubset_trusted(config_get(d->cfg, "keys", "action_pub"),
	        "the pinned action keys", &d->action_keys, &m) != 0) {
		log_error("pinned action keys refused: %s", m.text);
		return 1;
	}
	if (policy_store_open(config_get(d->cfg, "agent", "policy"), d->host_id,
	        &d->policy, &m) != 0) {
		log_error("policy refused, not starting: %s", m.text);
		return 1;
	}
	cc.url = d->server;
	cc.ca_path = config_get(d->cfg, "tls", "ca");
	cc.cert_path = config_get(d->cfg, "tls", "cert");
	cc.key_path = config_get(d->cfg, "tls", "key");
	if (channel_new(&cc, &daemon_channel_ops, d, &d->ch, &m) != 0) {
		log_error("channel: %s", m.text);
		return 1;
	}
	(void)snprintf(mirror.ident, sizeof(mirror.ident), "signet-agent");
	(void)snprintf(mirror.host_id, sizeof(mirror.host_id), "%s",
	    d->host_id);
	if (audit_open_keys(config_get(d->cfg, "audit", "path"), d->result_key,
	        &d->result_retired, &mirror, &d->audit, &m) != 0) {
		log_error("audit log refused: %s", m.text);
		return 1;
	}
	audit_set_rotate_size(d->audit, rotate_size);
	daemon_checkpoints_start(d);
	if (daemon_roster_open(d) != 0)
		return 1;
	if (docker_client_new(config_get(d->cfg, "agent", "docker_socket"),
	        &d->dc, &m) != 0) {
		log_error("dockerd: %s", m.text);
		return 1;
	}
	docker_client_set_abort(d->dc, &d->stopping);
	docker_client_set_latency(d->dc, agent_metrics_dockerd(d->metrics));
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
		if (docker_client_new(
		        config_get(d->cfg, "agent", "docker_socket"),
		        &d->exec_dc[i], &m) != 0) {
			log_error("dockerd: %s", m.text);
			return 1;
		}
		docker_client_set_latency(d->exec_dc[i],
		    agent_metrics_dockerd(d->metrics));
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
 * Looks at the agent's own certificate (cert_expiry.h): with flags at
 * start, else at most hourly, so that crossing into [tls]
 * expiry_warn_days is said within the hour and a warning is repeated
 * daily. Nothing stops for it: the server refuses an expired one.
 */
static void
cert_look(struct daemon *d, unsigned flags, const char *when)
{
	int64_t now = (int64_t)time(NULL);

	if (flags == 0 && now < d->cert_next_look)
		return;
	d->cert_next_look = now + DAEMON_CERT_LOOK_SECS;
	(void)cert_expiry_check(&d->cert_watch, "agent_self", d->host_id,
	    d->cert_not_after, now, d->cert_warn_days, flags, when);
}

static int
daemon_start_threads(struct daemon *d)
{
	if (executor_start(d->ex) != 0) {
		log_error("cannot start the action thread");
		return 1;
	}
	return daemon_snapshot_start(d);
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
	bool locked = false;
	char hardened[160];
	int rc = 1, sig;

	err_clear(&m);
	/*
	 * First: no key may reach a core dump, and OpenSSL must have its
	 * secure heap before it loads the TLS key.
	 */
	if (harden_process(HARDEN_HEAP_DAEMON, &locked, &m) != 0) {
		fprintf(stderr, "signet-agent: refusing to start: %s\n",
		    m.text);
		return 1;
	}
	if (!locked)
		fprintf(stderr,
		    "signet-agent: OpenSSL's secure heap is not "
		    "locked in RAM (memlock limit too low); it is "
		    "still kept out of core dumps\n");
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
	if (pthread_mutex_init(&d->cp_mu, NULL) != 0)
		goto out;
	d->cp_mu_ok = true;
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
	if (daemon_exec_open(d) != 0)
		goto out;
	agent_metrics_set_channel(d->metrics, d->ch);
	if (!d->metrics_on) {
		log_info("metrics: off ([agent] metrics_listen unset)");
	} else if (agent_metrics_start(d->metrics, &d->metrics_addr, d->ex,
	               d->audit, &m) != 0) {
		log_error("%s", m.text);
		goto out;
	} else {
		log_info("metrics: listening on %s (GET /metrics)",
		    config_get(d->cfg, "agent", "metrics_listen"));
	}
	log_info("agent started: host_id=%s version=%s server=%s "
	         "result_key_id=%s action_keys=%zu policy_rules=%zu",
	    d->host_id, SIGNET_VERSION, d->server, d->result_key->pub.id,
	    d->action_keys.count, policy_store_rule_count(d->policy));
	harden_describe(hardened, sizeof(hardened));
	log_info("%s", hardened);
	cert_look(d, CERT_EXPIRY_FORCE | CERT_EXPIRY_SAY_VALID, "startup");

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
	/* Audit log open, agent.started durable, every thread running. */
	(void)snprintf(d->ready_status, sizeof(d->ready_status),
	    "running: host_id=%s server=%s", d->host_id, d->server);
	sdnotify_ready(d->ready_status);

	while (daemon_stop_signal == 0) {
		if (channel_service(d->ch) != 0) {
			log_error("event loop failed; stopping");
			goto out;
		}
		daemon_exec_flush(d);
		daemon_checkpoint_flush(d);
		cert_look(d, 0, "check");
		if (daemon_hup_seen != 0) {
			daemon_hup_seen = 0;
			sdnotify_reloading("reloading the policy");
			policy_reload(d);
			sdnotify_ready(d->ready_status);
		}
		policy_reload(d);
		audit_limits_close(d, false);
		audit_rotate_if_requested(d);
	}
	rc = 0;
out:
	sig = daemon_stop_signal;
	if (started) {
		char status[64];

		(void)snprintf(status, sizeof(status), "stopping: signal=%d",
		    sig);
		sdnotify_stopping(status);
	}
	/* Before the executor and the audit log it reads go away. */
	if (d != NULL)
		agent_metrics_stop(d->metrics);
	if (d != NULL && d->ex != NULL) {
		/* The action under way finishes and is recorded first. */
		log_info("agent stopping: waiting for the action under way");
		executor_stop(d->ex);
	}
	if (started) {
		log_info("agent stopping: signal=%d", sig);
		audit_limits_close(d, true);
		audit_stopped(d, sig);
	}
	if (masked)
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d != NULL) {
		if (d->ch != NULL)
			channel_shutdown(d->ch, DAEMON_SHUTDOWN_GRACE_MS);
		daemon_snapshot_stop(d);
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
		/* The checkpoint thread wakes the channel: not after this. */
		daemon_checkpoint_close(d);
		channel_free(d->ch);
		channel_frame_unref(d->latest);
		docker_client_free(d->dc);
		for (size_t w = 0; w < EXECUTOR_WORKERS; w++)
			docker_client_free(d->exec_dc[w]);
		agent_metrics_free(d->metrics);
		if (d->exec_mu_ok)
			(void)pthread_mutex_destroy(&d->exec_mu);
		audit_close(d->audit);
		daemon_policy_for_hup = NULL;
		policy_store_free(d->policy);
		roster_store_free(d->roster);
		sodium_free(d->result_key); /* wipes it */
		config_free(d->cfg);
		if (d->cp_mu_ok)
			(void)pthread_mutex_destroy(&d->cp_mu);
		if (cv_ok)
			(void)pthread_cond_destroy(&d->cv);
		if (mu_ok)
			(void)pthread_mutex_destroy(&d->mu);
		free(d);
	}
	docker_global_cleanup();
	return rc;
}
