/* SPDX-License-Identifier: ISC */
/*
 * signet-server's wiring (server.h): loads the configuration, the action
 * and audit keys, the audit log and the trust store (CA + CRL, fail
 * closed), starts the agent hub and the operator API, and serves on the
 * calling thread until SIGTERM or SIGINT. SIGHUP reloads the CA and CRL
 * and drops agents whose certificates became revoked; SIGUSR1 rotates the
 * audit log.
 *
 * Signals are blocked in every thread; one thread sigwait()s for them and
 * only asks the hub (hub_request_reload / hub_request_stop, which wake the
 * service loop with lws_cancel_service): the work itself happens on the
 * service thread, never in a signal handler. Between signals the same
 * thread watches the CRL's nextUpdate and logs before it expires
 * (crl_watch.h): at startup, after each SIGHUP, and hourly when due; and
 * the notAfter of the server's certificate, the CA and every connected
 * agent's certificate (cert_expiry.h, [tls] expiry_warn_days): at
 * startup, after each SIGHUP and at each wake-up (at least hourly), a
 * warning repeated at most daily per certificate. The hub looks at an
 * agent's certificate at its hello too.
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "actions.h"
#include "agent_checkpoints.h"
#include "approvals.h"
#include "api.h"
#include "audit.h"
#include "audit_tree.h"
#include "audit_mirror.h"
#include "clock.h"
#include "cert_expiry.h"
#include "cluster.h"
#include "cluster_relay.h"
#include "config.h"
#include "crl_watch.h"
#include "harden.h"
#include "hub.h"
#include "identity.h"
#include "jsonx.h"
#include "keys.h"
#include "keyset.h"
#include "keyset_cache.h"
#include "log.h"
#include "metrics.h"
#include "note.h"
#include "registry.h"
#include "sdnotify.h"
#include "server_config.h"
#include "server_ctx.h"
#include "text.h"
#include "witnesses.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

#define PROG "signet-server"
#define AGENTS_WANTED 10000 /* file descriptors we would like */

struct sigthread {
	pthread_t tid;
	sigset_t set;
	struct hub *hub;
	atomic_int stop_signal; /* the signal that stopped us, or 0 */
	atomic_bool done;
	struct server_ctx *ctx;
	struct crl_watch crl; /* the signal thread's once it runs */
	/* The expiry watches (cert_expiry.h), the signal thread's too. */
	struct cert_expiry server_watch, ca_watch;
	char server_cn[CERT_EXPIRY_NAME_MAX + 1];
	int64_t server_not_after; /* 0 unknown */
};

/* Seconds after a SIGHUP to report on the reloaded CRL, and to look again. */
#define CRL_AFTER_HUP_SECS 1
#define CRL_RECHECK_SECS 10

/*
 * Reports on the CRL in use (crl_watch.h): the server warns before an
 * expired CRL locks every client out, and says so once it has.
 */
static void
crl_report(struct sigthread *st, bool force, const char *when)
{
	struct identity_store *s = server_ctx_identity(st->ctx);

	(void)crl_watch_check(&st->crl, st->ctx->crl_path,
	    identity_store_crl_last_update(s),
	    identity_store_crl_next_update(s), (int64_t)time(NULL), force,
	    when);
	identity_store_free(s);
}

/*
 * Reports on the certificates that expire (cert_expiry.h): the server's
 * own, the CA it trusts and each connected agent's, within [tls]
 * expiry_warn_days; flags CERT_EXPIRY_FORCE at startup and SIGHUP. A
 * warning refuses nothing.
 */
static void
cert_report(struct sigthread *st, unsigned flags, const char *when)
{
	struct identity_store *s = server_ctx_identity(st->ctx);
	struct metrics_trust t;
	int64_t now = (int64_t)time(NULL);
	int days = st->ctx->expiry_warn_days;

	metrics_trust_from_store(s, &t);
	identity_store_free(s);
	(void)cert_expiry_check(&st->server_watch, "server", st->server_cn,
	    st->server_not_after, now, days, flags | CERT_EXPIRY_SAY_VALID,
	    when);
	(void)cert_expiry_check(&st->ca_watch, "ca", t.ca_subject,
	    t.ca_not_after, now, days, flags | CERT_EXPIRY_SAY_VALID, when);
	if (st->ctx->registry != NULL)
		registry_check_certs(st->ctx->registry, NULL, now, days, flags,
		    when);
}

static void *
signal_main(void *arg)
{
	struct sigthread *st = arg;
	struct timespec tmo;
	int64_t now, hup_at = 0, recheck_at = 0, wait;
	int sig = 0;

	for (;;) {
		/*
		 * The reload runs on the hub's thread: report on the CRL it
		 * loaded a second later, and look once more in case it was
		 * slow (a changed CRL is always reported).
		 */
		now = (int64_t)time(NULL);
		wait = crl_watch_wait(&st->crl, now);
		if (hup_at != 0 && hup_at - now < wait)
			wait = hup_at > now ? hup_at - now : 0;
		if (recheck_at != 0 && recheck_at - now < wait)
			wait = recheck_at > now ? recheck_at - now : 0;
		tmo.tv_sec = (time_t)wait;
		tmo.tv_nsec = 0;
		sig = sigtimedwait(&st->set, NULL, &tmo);
		if (sig < 0) {
			if (errno != EAGAIN || atomic_load(&st->done))
				continue;
			now = (int64_t)time(NULL);
			if (hup_at != 0 && now >= hup_at) {
				crl_report(st, true, "SIGHUP");
				cert_report(st, CERT_EXPIRY_FORCE, "SIGHUP");
				hup_at = 0;
				recheck_at = now + CRL_RECHECK_SECS;
				continue;
			}
			if (recheck_at != 0 && now >= recheck_at)
				recheck_at = 0;
			crl_report(st, false, "check");
			cert_report(st, 0, "check");
			continue;
		}
		if (sig == SIGHUP) {
			if (!atomic_load(&st->done)) {
				log_info("SIGHUP: reloading the CA and CRL");
				/* READY=1 follows from the hub once done. */
				sdnotify_reloading("reloading the CA and CRL");
				hub_request_reload(st->hub);
				hup_at = (int64_t)time(NULL) +
				    CRL_AFTER_HUP_SECS;
			}
			continue;
		}
		if (sig == SIGUSR1) {
			/* The writer is thread-safe: rotate right here. */
			struct err_msg rm;

			if (!atomic_load(&st->done) &&
			    audit_rotate(st->ctx->audit, "signal", &rm) != 0)
				log_error("SIGUSR1: audit log not rotated: %s",
				    rm.text);
			continue;
		}
		if (!atomic_load(&st->done)) {
			atomic_store(&st->stop_signal, sig);
			log_info("%s: stopping",
			    sig == SIGINT ? "SIGINT" : "SIGTERM");
			sdnotify_stopping(sig == SIGINT ? "stopping: SIGINT" :
			                                  "stopping: SIGTERM");
			hub_request_stop(st->hub);
		}
		return NULL;
	}
}

/* 10,000 agents need 10,000 descriptors: take all the hard limit allows. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise open files from %llu to %llu: "
			         "%s",
			    (unsigned long long)old,
			    (unsigned long long)rl.rlim_max, strerror(errno));
			return;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < AGENTS_WANTED + 256)
		log_warn("open files limited to %llu: fewer than %d agents fit;"
		         " raise the hard limit (LimitNOFILE=)",
		    (unsigned long long)rl.rlim_cur, AGENTS_WANTED);
	else
		log_debug("open files limit %llu",
		    (unsigned long long)rl.rlim_cur);
}

/*
 * The server certificate's CN and notAfter for /metrics and the expiry
 * warnings: the listeners load it once, so once is enough. A certificate
 * that cannot be read here is refused by the listeners anyway; the gauge
 * then shows 0.
 */
static void
note_server_cert(struct sigthread *st, struct metrics *m, const char *path)
{
	struct err_msg msg;

	if (cert_expiry_read(path, &st->server_not_after, st->server_cn,
	        &msg) != 0)
		log_warn("server certificate: %s (its expiry is not watched)",
		    msg.text);
	metrics_set_server_cert(m, st->server_cn, st->server_not_after);
}

/* The CN of the certificate at path into cn ("" when unreadable). */
static void
cert_cn(const char *path, char cn[static 128])
{
	X509 *x = NULL;
	FILE *f;

	cn[0] = '\0';
	f = path != NULL ? fopen(path, "r") : NULL;
	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		(void)fclose(f);
	}
	if (x != NULL &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	        cn, 128) < 0)
		cn[0] = '\0';
	X509_free(x);
}

/*
 * The checkpoints' origin ([audit] origin, else signet/server/ and the
 * certificate's CN) and the witnesses: checked before the audit log is
 * touched. Returns 0, or -1 having said why.
 */
static int
checkpoint_config(struct server_ctx *ctx, const struct config *cfg,
    const char *cert_path, const struct keys_public *audit_pub,
    char origin[static AUDIT_ORIGIN_MAX + 1])
{
	const char *set = config_get(cfg, "audit", "origin");
	const char *replica = config_get(cfg, "cluster", "database") != NULL ?
	    config_get(cfg, "cluster", "replica") :
	    NULL;
	struct err_msg msg;
	char cn[128];

	cert_cn(cert_path, cn);
	if (set != NULL)
		(void)snprintf(origin, AUDIT_ORIGIN_MAX + 1, "%s", set);
	else if (replica != NULL && text_valid_name(replica))
		/*
		 * Replicas may share one certificate and so one CN: each log
		 * needs its own origin, or a witness would take two replicas'
		 * logs for one log's split view. (A bad name is refused
		 * with the rest of [cluster].)
		 */
		(void)snprintf(origin, AUDIT_ORIGIN_MAX + 1,
		    "signet/server/%s/%s", cn[0] != '\0' ? cn : "server",
		    replica);
	else
		(void)snprintf(origin, AUDIT_ORIGIN_MAX + 1, "signet/server/%s",
		    cn[0] != '\0' ? cn : "server");
	/* signet/... first lines are its signed statements' contexts. */
	if (!note_name_valid(origin, strlen(origin)) ||
	    (strncmp(origin, "signet/", 7) == 0 &&
	        strncmp(origin, "signet/server/", 14) != 0)) {
		fprintf(stderr,
		    "%s:%u: origin: \"%s\" is not a checkpoint origin (1 to "
		    "%d bytes, no spaces, no '+', nothing under signet/ but "
		    "signet/server/; set [audit] origin)\n",
		    config_name(cfg), config_line(cfg, "audit", "origin"),
		    origin, AUDIT_ORIGIN_MAX);
		return -1;
	}
	if (witnesses_open(config_get(cfg, "audit", "witness_keys"),
	        ctx->audit_path, origin, audit_pub, &ctx->witnesses,
	        &msg) != 0) {
		fprintf(stderr, PROG ": witness keys: %s\n", msg.text);
		return -1;
	}
	return 0;
}

/*
 * Keeps the audit log's Merkle tree and publishes its checkpoints
 * (docs/transparency.md) unless [audit] checkpoint_interval is 0. A tree
 * that cannot be brought up to the log (a rotated file archived, the
 * store unwritable) is said loudly and the server runs without
 * checkpoints: the log itself is whole.
 */
static void
start_checkpoints(struct server_ctx *ctx, const struct config *cfg,
    const char *origin)
{
	int interval = (int)config_get_int(cfg, "audit", "checkpoint_interval",
	    AUDIT_CHECKPOINT_INTERVAL_DEFAULT);
	struct err_msg msg;

	if (interval == 0)
		return;
	if (audit_tree_open(ctx->audit, &msg) != 0 ||
	    audit_checkpoint_start(ctx->audit, origin, interval, NULL, NULL,
	        &msg) != 0)
		log_error("no audit checkpoints this run: %s", msg.text);
}

static int
agent_key(void *arg, const char *host_id, struct keyset *out,
    struct err_msg *msg)
{
	return server_ctx_agent_keys(arg, host_id, out, msg);
}

/*
 * The agents' checkpoints (docs/transparency.md), kept in
 * agent-checkpoints/ next to the audit log and read back now. When the
 * directory cannot be used the server runs without them (said loudly):
 * no agent is asked for any, and the API says so.
 */
static void
open_agent_checkpoints(struct server_ctx *ctx)
{
	char dir[sizeof(ctx->audit_path) + sizeof(AGENT_CP_DIRNAME) + 1];
	const char *slash = strrchr(ctx->audit_path, '/');
	struct err_msg msg;
	size_t damaged = 0;

	if (slash == NULL)
		(void)snprintf(dir, sizeof(dir), "%s", AGENT_CP_DIRNAME);
	else
		(void)snprintf(dir, sizeof(dir), "%.*s/%s",
		    (int)(slash - ctx->audit_path), ctx->audit_path,
		    AGENT_CP_DIRNAME);
	if (agent_cp_open(dir, agent_key, ctx, &ctx->agent_cp, &damaged,
	        &msg) != 0)
		log_error("no agents' checkpoints this run: %s", msg.text);
	else if (damaged > 0)
		log_error("%zu agent(s)' checkpoint files refused (see above): "
		          "their checkpoints are not taken until each file is "
		          "moved aside",
		    damaged);
}

/* Copies a configured path into a fixed buffer of server_ctx. */
static int
copy_path(char *dst, size_t dstlen, const struct config *cfg,
    const char *section, const char *name)
{
	const char *v = config_get(cfg, section, name);
	int n;

	n = snprintf(dst, dstlen, "%s", v != NULL ? v : "");
	if (v == NULL || n < 0 || (size_t)n >= dstlen) {
		fprintf(stderr, "%s:%u: %s: path too long\n", config_name(cfg),
		    config_line(cfg, section, name), name);
		return -1;
	}
	return 0;
}

/*
 * [roster]: the pinned roster keys and the admin's signed roster file,
 * which must hold when keys are given (an expired one is held, with a
 * warning: nothing it lists can sign until a newer one comes). 0, or -1
 * (said on stderr).
 */
static int
open_roster(struct server_ctx *ctx, const struct config *cfg)
{
	struct keys_pubset pinned;
	enum roster_offer what;
	struct err_msg m;
	const char *keys = config_get(cfg, "roster", "keys");
	const char *file = config_get(cfg, "roster", "file");
	char sha[65];

	err_clear(&m);
	if (keys == NULL && file == NULL)
		return 0;
	if (keys == NULL || file == NULL) {
		fprintf(stderr,
		    PROG ": %s: [roster] needs both keys and file\n",
		    config_name(cfg));
		return -1;
	}
	if (keys_load_pubset_trusted(keys, "the pinned roster keys", &pinned,
	        &m) != 0 ||
	    roster_store_new(&pinned,
	        (unsigned)config_get_int(cfg, "roster", "threshold", 1), file,
	        false, &ctx->roster, &m) != 0 ||
	    roster_store_load(ctx->roster, clock_wall_ms(), &what, &m) != 0) {
		fprintf(stderr, PROG ": roster refused: %s\n", m.text);
		return -1;
	}
	log_info("roster version %" PRId64 " held (%.16s)",
	    roster_store_version(ctx->roster, sha), sha);
	return 0;
}

/* Appends " key='value'" (libpq quoting) to buf; false when full. */
static bool
conninfo_add(char *buf, size_t len, const char *key, const char *value)
{
	size_t n = strlen(buf);
	int w;

	w = snprintf(buf + n, len - n, " %s='", key);
	if (w < 0 || (size_t)w >= len - n)
		return false;
	n += (size_t)w;
	for (; *value != '\0'; value++) {
		if (len - n < 3)
			return false;
		if (*value == '\\' || *value == '\'')
			buf[n++] = '\\';
		buf[n++] = *value;
	}
	if (len - n < 2)
		return false;
	buf[n++] = '\'';
	buf[n] = '\0';
	return true;
}

/*
 * Actions across replicas (cluster_relay.h): polls as often as the
 * cluster renews its claims. 0, or -1 having said why on stderr.
 */
static int
open_relay(const struct config *cfg, struct server_ctx *ctx,
    struct actions *actions)
{
	struct cluster_relay_config rc;
	struct err_msg msg;

	err_clear(&msg);
	memset(&rc, 0, sizeof(rc));
	rc.ctx = ctx;
	rc.cluster = ctx->cluster;
	rc.actions = actions;
	rc.db_timeout_ms = (int)config_get_int(cfg, "cluster", "db_timeout_ms",
	    CLUSTER_DB_TIMEOUT_MS_DEFAULT);
	rc.poll_ms = config_get_int(cfg, "cluster", "claim_ttl_ms",
	                 CLUSTER_TTL_MS_DEFAULT) /
	    3;
	rc.lease_ms = config_get_int(cfg, "cluster", "queue_lease_ms",
	    CLUSTER_LEASE_MS_DEFAULT);
	if (cluster_relay_new(&rc, &ctx->relay, &msg) != 0) {
		fprintf(stderr, PROG ": %s\n", msg.text);
		return -1;
	}
	return 0;
}

/*
 * [cluster] (docs/cluster.md): nothing without database; with it, a
 * replica name and the conninfo (the certificate keys appended in
 * libpq's key=value form). Then the cluster is made, which connects once
 * to check the conninfo (a database that does not answer is not an
 * error: the server starts and serves its agents). 0 (*out NULL without
 * [cluster]), or -1 having said why on stderr.
 */
static int
open_cluster(const struct config *cfg, struct registry *reg,
    struct cluster **out)
{
	static const char *const extra[] = { "replica", "sslrootcert",
		"sslcert", "sslkey", "claim_ttl_ms", "db_timeout_ms",
		"queue_lease_ms", "actions_keep_ms", NULL };
	static const char *const certs[] = { "sslrootcert", "sslcert", "sslkey",
		NULL };
	struct cluster_config cc;
	struct err_msg msg;
	const char *db = config_get(cfg, "cluster", "database");
	const char *replica = config_get(cfg, "cluster", "replica");
	char conninfo[4096], esc[96];
	size_t i;
	int r;

	*out = NULL;
	if (db == NULL) {
		for (i = 0; extra[i] != NULL; i++) {
			if (config_line(cfg, "cluster", extra[i]) == 0)
				continue;
			fprintf(stderr,
			    "%s:%u: %s: [cluster] without database (set "
			    "database to run as a replica, or remove the "
			    "[cluster] section)\n",
			    config_name(cfg),
			    config_line(cfg, "cluster", extra[i]), extra[i]);
			return -1;
		}
		return 0;
	}
	if (replica == NULL) {
		fprintf(stderr,
		    "%s:%u: database: [cluster] needs replica, this "
		    "replica's name\n",
		    config_name(cfg), config_line(cfg, "cluster", "database"));
		return -1;
	}
	if (strlen(replica) > CLUSTER_NAME_MAX || !text_valid_name(replica)) {
		fprintf(stderr,
		    "%s:%u: replica: \"%s\" is not a name (1 to %d letters, "
		    "digits, '.', '-', '_')\n",
		    config_name(cfg), config_line(cfg, "cluster", "replica"),
		    text_escape_str(replica, esc, sizeof(esc)),
		    CLUSTER_NAME_MAX);
		return -1;
	}
	(void)snprintf(conninfo, sizeof(conninfo), "%s", db);
	for (i = 0; certs[i] != NULL; i++) {
		const char *v = config_get(cfg, "cluster", certs[i]);

		if (v == NULL)
			continue;
		if (strstr(db, "://") != NULL) {
			fprintf(stderr,
			    "%s:%u: %s: only with a key=value database "
			    "conninfo, not a URI\n",
			    config_name(cfg),
			    config_line(cfg, "cluster", certs[i]), certs[i]);
			return -1;
		}
		if (!conninfo_add(conninfo, sizeof(conninfo), certs[i], v)) {
			fprintf(stderr, "%s: [cluster]: conninfo too long\n",
			    config_name(cfg));
			return -1;
		}
	}
	memset(&cc, 0, sizeof(cc));
	cc.conninfo = conninfo;
	cc.replica = replica;
	cc.claim_ttl_ms = config_get_int(cfg, "cluster", "claim_ttl_ms",
	    CLUSTER_TTL_MS_DEFAULT);
	cc.db_timeout_ms = (int)config_get_int(cfg, "cluster", "db_timeout_ms",
	    CLUSTER_DB_TIMEOUT_MS_DEFAULT);
	cc.queue_lease_ms = config_get_int(cfg, "cluster", "queue_lease_ms",
	    CLUSTER_LEASE_MS_DEFAULT);
	cc.actions_keep_ms = config_get_int(cfg, "cluster", "actions_keep_ms",
	    CLUSTER_KEEP_MS_DEFAULT);
	r = cluster_new(&cc, reg, out, &msg);
	sodium_memzero(conninfo, sizeof(conninfo));
	if (r != 0) {
		fprintf(stderr, "%s:%u: [cluster] refused: %s\n",
		    config_name(cfg), config_line(cfg, "cluster", "database"),
		    msg.text);
		return -1;
	}
	log_info("cluster mode: replica %s, claims for %lld ms", replica,
	    (long long)cc.claim_ttl_ms);
	return 0;
}

int
server_run(const char *config_path)
{
	const char *v;
	struct config *cfg = NULL;
	struct server_ctx ctx;
	struct keys_secret *audit_key = NULL; /* sodium_malloc'd */
	struct hub_config hcfg;
	struct hub *hub = NULL;
	struct api *api = NULL;
	struct actions *actions = NULL;
	struct approvals *approvals = NULL;
	size_t reloaded = 0, approvals_back = 0;
	struct api_relay relay;
	struct sigthread st;
	struct err_msg msg;
	enum log_level level;
	char agent_host[256], origin[AUDIT_ORIGIN_MAX + 1], listen_desc[300],
	    api_desc[300], hardened[160];
	char roster_sha[65];
	bool ctx_ready = false, sig_started = false, ok;
	int agent_port = 0, rc = SERVER_EXIT_FAIL, r, sig;
	uint64_t rotate_size = 0;
	struct audit_mirror_conf mirror;
	cJSON *d = NULL;

	memset(&ctx, 0, sizeof(ctx));
	memset(&mirror, 0, sizeof(mirror));
	memset(&st, 0, sizeof(st));
	err_clear(&msg);

	if (config_path == NULL || config_path[0] == '\0') {
		fprintf(stderr, PROG ": no configuration file given\n");
		return SERVER_EXIT_CONFIG;
	}
	/*
	 * First: no key may reach a core dump, and OpenSSL must have its
	 * secure heap before it loads the TLS key.
	 */
	r = harden_process(HARDEN_HEAP_DAEMON, &ok, &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": refusing to start: %s\n", msg.text);
		return SERVER_EXIT_FAIL;
	}
	if (!ok)
		fprintf(stderr,
		    PROG ": OpenSSL's secure heap is not locked in "
		         "RAM (memlock limit too low); it is still "
		         "kept out of core dumps\n");

	/*
	 * Before any thread exists (libmicrohttpd starts some): every thread
	 * inherits this mask, so only the sigwait thread sees these signals.
	 */
	sigemptyset(&st.set);
	sigaddset(&st.set, SIGHUP);
	sigaddset(&st.set, SIGUSR1);
	sigaddset(&st.set, SIGTERM);
	sigaddset(&st.set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &st.set, NULL) != 0 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, PROG ": cannot set up signals\n");
		return SERVER_EXIT_FAIL;
	}
	atomic_init(&st.stop_signal, 0);
	atomic_init(&st.done, false);

	log_init(PROG, LOG_LVL_INFO);
	if (sodium_init() < 0) {
		fprintf(stderr, PROG ": cannot initialise libsodium\n");
		return SERVER_EXIT_FAIL;
	}
	r = config_load(config_path, server_config_schema,
	    server_config_schema_len, &cfg, &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": %s\n", msg.text);
		return SERVER_EXIT_CONFIG;
	}
	rc = SERVER_EXIT_CONFIG;
	v = config_get(cfg, "server", "log_level");
	if (log_level_parse(v, &level) != 0) {
		char esc[64];
		fprintf(stderr,
		    "%s:%u: log_level: \"%s\" is not one of error, "
		    "warn, info, debug\n",
		    config_name(cfg), config_line(cfg, "server", "log_level"),
		    text_escape_str(v, esc, sizeof(esc)));
		goto out;
	}
	log_init(PROG, level);
	memset(&hcfg, 0, sizeof(hcfg));
	v = config_get(cfg, "server", "agent_tls_min_version");
	if (v != NULL && strcmp(v, "1.2") == 0) {
		hcfg.allow_tls12 = true;
	} else if (v == NULL || strcmp(v, "1.3") != 0) {
		char esc[64];
		fprintf(stderr,
		    "%s:%u: agent_tls_min_version: \"%s\" is not "
		    "1.3 or 1.2\n",
		    config_name(cfg),
		    config_line(cfg, "server", "agent_tls_min_version"),
		    text_escape_str(v, esc, sizeof(esc)));
		goto out;
	}
	if (audit_limit_config(cfg, &hcfg.audit_limit, &msg) != 0) {
		fprintf(stderr, "%s\n", msg.text);
		goto out;
	}
	ctx.audit_limit = hcfg.audit_limit;
	/* The schema bounds it (1..365). */
	ctx.expiry_warn_days = (int)config_get_int(cfg, "tls",
	    "expiry_warn_days", CERT_EXPIRY_WARN_DAYS_DEFAULT);
	if (audit_config_rotate_size(cfg, &rotate_size, &msg) != 0 ||
	    audit_config_mirror(cfg, &mirror.mode, &msg) != 0) {
		fprintf(stderr, "%s\n", msg.text);
		goto out;
	}
	if (config_split_listen(config_get(cfg, "server", "agent_listen"),
	        agent_host, sizeof(agent_host), &agent_port) != 0) {
		fprintf(stderr, "%s:%u: agent_listen: not HOST:PORT\n",
		    config_name(cfg),
		    config_line(cfg, "server", "agent_listen"));
		goto out;
	}
	hcfg.listen_host = agent_host;
	hcfg.listen_port = agent_port;
	hcfg.cert_path = config_get(cfg, "tls", "cert");
	hcfg.key_path = config_get(cfg, "tls", "key");
	hcfg.ca_path = config_get(cfg, "tls", "ca");
	hcfg.hello_timeout_secs = (int)config_get_int(cfg, "server",
	    "hello_timeout", 10);
	hcfg.ping_secs = (int)config_get_int(cfg, "server",
	    "agent_ping_interval", HUB_PING_SECS);
	hcfg.hangup_secs = (int)config_get_int(cfg, "server", "agent_timeout",
	    HUB_HANGUP_SECS);
	hcfg.drain_ms = (int)config_get_int(cfg, "cluster", "drain_ms", 0);
	if (hcfg.hangup_secs <= hcfg.ping_secs) {
		fprintf(stderr,
		    "%s:%u: agent_timeout: %d s is not longer than "
		    "agent_ping_interval (%d s)\n",
		    config_name(cfg),
		    config_line(cfg, "server", "agent_timeout") != 0 ?
		        config_line(cfg, "server", "agent_timeout") :
		        config_line(cfg, "server", "agent_ping_interval"),
		    hcfg.hangup_secs, hcfg.ping_secs);
		goto out;
	}

	rc = SERVER_EXIT_FAIL;
	if (server_ctx_init(&ctx) != 0) {
		fprintf(stderr, PROG ": cannot initialise a lock\n");
		goto out;
	}
	ctx_ready = true;
	rc = SERVER_EXIT_CONFIG;
	if (copy_path(ctx.agents_dir, sizeof(ctx.agents_dir), cfg, "keys",
	        "agents_dir") != 0 ||
	    copy_path(ctx.ca_path, sizeof(ctx.ca_path), cfg, "tls", "ca") !=
	        0 ||
	    copy_path(ctx.crl_path, sizeof(ctx.crl_path), cfg, "tls", "crl") !=
	        0 ||
	    copy_path(ctx.audit_path, sizeof(ctx.audit_path), cfg, "audit",
	        "path") != 0)
		goto out;
	rc = SERVER_EXIT_FAIL;
	r = keyset_cache_new(ctx.agents_dir, KEYSET_CACHE_HOSTS_MAX,
	    KEYSET_CACHE_SETTLE_MS, &ctx.agent_keys, &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": agents' result keys: %s\n", msg.text);
		goto out;
	}
	raise_nofile();

	/* The action key stays in guarded memory, read-only once loaded. */
	ctx.action_key = sodium_malloc(sizeof(*ctx.action_key));
	if (ctx.action_key == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	r = keys_load_secret(config_get(cfg, "keys", "action"), ctx.action_key,
	    &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": action key: %s\n", msg.text);
		goto out;
	}
	if (sodium_mprotect_readonly(ctx.action_key) != 0) {
		fprintf(stderr, PROG ": cannot protect the action key\n");
		goto out;
	}
	audit_key = sodium_malloc(sizeof(*audit_key));
	if (audit_key == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	r = keys_load_secret(config_get(cfg, "keys", "audit"), audit_key, &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": audit key: %s\n", msg.text);
		goto out;
	}
	/*
	 * Fail closed: a bad, foreign or expired CRL, or a CA or CRL others
	 * may write, stops us here, before the audit log is touched.
	 */
	r = identity_store_load(ctx.ca_path, ctx.crl_path, &ctx.identity, &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": refusing to start: %s\n", msg.text);
		goto out;
	}
	if (open_roster(&ctx, cfg) != 0)
		goto out;
	if (checkpoint_config(&ctx, cfg, hcfg.cert_path, &audit_key->pub,
	        origin) != 0)
		goto out;
	(void)snprintf(mirror.ident, sizeof(mirror.ident), PROG);
	r = audit_open_mirrored(ctx.audit_path, audit_key, &mirror, &ctx.audit,
	    &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": cannot open the audit log %s: %s\n",
		    ctx.audit_path, msg.text);
		goto out;
	}
	audit_set_rotate_size(ctx.audit, rotate_size);
	start_checkpoints(&ctx, cfg, origin);
	st.ctx = &ctx;
	crl_watch_init(&st.crl);
	crl_report(&st, true, "startup");
	ctx.registry = registry_new();
	ctx.metrics = metrics_new();
	actions = actions_new(ACTIONS_MAX_DEFAULT, ACTIONS_KEEP_MS);
	if (ctx.registry == NULL || ctx.metrics == NULL || actions == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	rc = SERVER_EXIT_CONFIG;
	if (open_cluster(cfg, ctx.registry, &ctx.cluster) != 0)
		goto out;
	rc = SERVER_EXIT_FAIL;
	if (ctx.cluster != NULL && cluster_start(ctx.cluster, &msg) != 0) {
		fprintf(stderr, PROG ": %s\n", msg.text);
		goto out;
	}
	note_server_cert(&st, ctx.metrics, hcfg.cert_path);
	cert_expiry_init(&st.server_watch);
	cert_expiry_init(&st.ca_watch);
	cert_report(&st, CERT_EXPIRY_FORCE, "startup");
	open_agent_checkpoints(&ctx);
	/*
	 * Actions left open by the last run: their results may still come
	 * (agents re-send them), and must be checked and recorded then. The
	 * window is only ever narrowed (tests; the schema bounds it).
	 */
	if (actions_set_reload_window(actions,
	        config_get_int(cfg, "server", "action_reload_window",
	            ACTIONS_RELOAD_MS / 1000) *
	            1000) != 0) {
		fprintf(stderr, PROG ": action_reload_window out of range\n");
		goto out;
	}
	/* Requests that waited for approvals when the last run stopped. */
	approvals = approvals_new();
	if (approvals == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	r = approvals_reload(approvals, ctx.audit_path, clock_wall_ms(),
	    &approvals_back, &msg);
	if (r != 0)
		log_warn("requests waiting for approvals not all put back: %s",
		    msg.text);
	else if (approvals_back > 0)
		log_info("put back %zu request(s) waiting for approvals",
		    approvals_back);
	r = actions_reload(actions, ctx.audit_path, &ctx.action_key->pub,
	    clock_wall_ms(), &reloaded, &msg);
	if (r != 0)
		log_warn("actions of the last run not put back (their late "
		         "results will be refused as unknown): %s",
		    msg.text);
	else if (reloaded > 0)
		log_info("put back %zu action(s) the last run left open; "
		         "their results are still accepted",
		    reloaded);

	if (ctx.cluster != NULL && open_relay(cfg, &ctx, actions) != 0)
		goto out;
	hcfg.actions = actions;
	hcfg.cluster = ctx.cluster;
	r = hub_start(&ctx, &hcfg, &hub, &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": agent listener: %s\n", msg.text);
		goto out;
	}
	cluster_relay_set_hub(ctx.relay, hub);
	relay.actions = actions;
	relay.hub = hub;
	relay.approvals = approvals;
	r = api_start_relay(&ctx, config_get(cfg, "server", "api_listen"),
	    hcfg.cert_path, hcfg.key_path, hcfg.ca_path, &relay, &api, &msg);
	if (r != 0) {
		fprintf(stderr, PROG ": operator API: %s\n", msg.text);
		goto out;
	}

	(void)snprintf(listen_desc, sizeof(listen_desc), "%s%s%s:%d",
	    strchr(agent_host, ':') != NULL ? "[" : "", agent_host,
	    strchr(agent_host, ':') != NULL ? "]" : "", hub_port(hub));
	(void)snprintf(api_desc, sizeof(api_desc), "%s",
	    config_get(cfg, "server", "api_listen"));
	d = cJSON_CreateObject();
	ok = d != NULL &&
	    cJSON_AddStringToObject(d, "version", SIGNET_VERSION) != NULL &&
	    cJSON_AddNumberToObject(d, "pid", (double)getpid()) != NULL &&
	    cJSON_AddStringToObject(d, "agent_listen", listen_desc) != NULL &&
	    cJSON_AddStringToObject(d, "api_listen", api_desc) != NULL &&
	    cJSON_AddNumberToObject(d, "api_port", api_port(api)) != NULL &&
	    cJSON_AddStringToObject(d, "action_key_id",
	        ctx.action_key->pub.id) != NULL &&
	    cJSON_AddStringToObject(d, "audit_key_id", audit_key->pub.id) !=
	        NULL &&
	    cJSON_AddNumberToObject(d, "crl_next_update",
	        (double)identity_store_crl_next_update(ctx.identity)) != NULL &&
	    cJSON_AddNumberToObject(d, "actions_reloaded", (double)reloaded) !=
	        NULL &&
	    cJSON_AddNumberToObject(d, "approvals_reloaded",
	        (double)approvals_back) != NULL &&
	    jsonx_add_int64(d, "roster_version",
	        roster_store_version(ctx.roster, roster_sha)) &&
	    (ctx.cluster == NULL ||
	        cJSON_AddStringToObject(d, "replica",
	            cluster_replica(ctx.cluster)) != NULL);
	sodium_free(audit_key); /* wipes it; the writer has its own copy */
	audit_key = NULL;
	if (audit_event(ctx.audit, "server.started", SERVER_ACTOR, d, ok) != 0)
		goto out;

	st.hub = hub;
	if (pthread_create(&st.tid, NULL, signal_main, &st) != 0) {
		fprintf(stderr, PROG ": cannot start the signal thread\n");
		goto out;
	}
	sig_started = true;
	log_info(PROG " %s started: agents on %s, API on %s (port %u), "
	              "action key %s",
	    SIGNET_VERSION, listen_desc, api_desc, api_port(api),
	    ctx.action_key->pub.id);
	harden_describe(hardened, sizeof(hardened));
	log_info("%s", hardened);
	/* Both listeners are up and server.started is durable. */
	{
		char status[700];

		(void)snprintf(status, sizeof(status),
		    "listening: agents on %s, API on %s", listen_desc,
		    api_desc);
		sdnotify_ready(status);
	}

	r = hub_run(hub);
	if (r != 0)
		sdnotify_stopping("stopping: the agent listener failed");

	/* Wake the signal thread if the loop ended on its own, and join it. */
	atomic_store(&st.done, true);
	(void)pthread_kill(st.tid, SIGTERM);
	(void)pthread_join(st.tid, NULL);
	sig_started = false;
	sig = atomic_load(&st.stop_signal);

	api_stop(api);
	api = NULL;
	cluster_relay_set_hub(ctx.relay, NULL);
	hub_free(hub);
	hub = NULL;
	d = cJSON_CreateObject();
	ok = d != NULL &&
	    cJSON_AddStringToObject(d, "reason",
	        r == 0 ? (sig == SIGINT ? "SIGINT" : "SIGTERM") :
	                 "agent listener failed") != NULL;
	(void)audit_event(ctx.audit, "server.stopped", SERVER_ACTOR, d, ok);
	log_info(PROG " stopped");
	rc = r == 0 ? 0 : SERVER_EXIT_FAIL;
out:
	if (sig_started) {
		atomic_store(&st.done, true);
		(void)pthread_kill(st.tid, SIGTERM);
		(void)pthread_join(st.tid, NULL);
	}
	api_stop(api);
	cluster_relay_set_hub(ctx.relay, NULL);
	hub_free(hub);
	/* Its thread posts to the cluster: stopped first. */
	cluster_relay_stop(ctx.relay);
	/* After the hub: its sessions' releases are posted by then. */
	cluster_free(ctx.cluster);
	ctx.cluster = NULL;
	/* After the cluster: its jobs still queued held the relay. */
	cluster_relay_free(ctx.relay);
	ctx.relay = NULL;
	sodium_free(audit_key);
	audit_close(ctx.audit);
	witnesses_free(ctx.witnesses);
	actions_free(actions);
	approvals_free(approvals);
	registry_free(ctx.registry);
	metrics_free(ctx.metrics);
	agent_cp_free(ctx.agent_cp);
	if (ctx_ready)
		server_ctx_destroy(&ctx);
	else
		identity_store_free(ctx.identity);
	if (ctx.action_key != NULL)
		sodium_free(ctx.action_key);
	config_free(cfg);
	return rc;
}
