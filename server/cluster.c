/* SPDX-License-Identifier: ISC */
/*
 * The cluster thread (cluster.h): one libpq connection (cluster_db.h)
 * and everything that waits on it, fed by coalesced per-host posts from
 * the hub and a bounded queue of calls, woken by an eventfd and the
 * connection's socket (NOTIFY), with the claims' renewal, the lost-claim
 * verdicts delivered to the hub, and the registry's mirror of the hosts
 * other replicas hold.
 */
#include "cluster.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "dynbuf.h"
#include "log.h"
#include "text.h"

#define CLAIM_BUCKETS 4096 /* power of two */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* Hosts named by NOTIFY refreshed one by one; more: one full read. */
#define DIRTY_MAX 64

/* One host posted by the hub (coalesced): its newest session. */
struct claim {
	struct claim *hnext; /* bucket chain */
	struct claim *wnext; /* the work list */
	bool queued;         /* on the work list */
	char host_id[CLUSTER_NAME_MAX + 1];
	uint64_t session;
	int64_t epoch;       /* granted for session; 0 none */
	int64_t valid_until; /* mono ms: the claim lapses then */
	bool want_claim;
	bool dirty;    /* write the registry's state */
	bool released; /* session ended: release, forget */
	bool lost;
};

/* What the mirror last took for a host: unchanged rows are skipped. */
struct seen {
	struct seen *next;
	char host_id[CLUSTER_NAME_MAX + 1];
	char replica[CLUSTER_NAME_MAX + 1];
	int64_t epoch, updated_at_ms;
	bool held;
};

struct call {
	struct call *next;
	cluster_call_fn fn;
	void *arg;
};

struct cluster {
	char *conninfo;
	char replica[CLUSTER_NAME_MAX + 1];
	int64_t ttl_ms, lease_ms, keep_ms;
	int timeout_ms;
	struct registry *reg; /* borrowed */
	struct cluster_db *db;
	bool broken; /* the thread's: reset before the next statement */
	int wake_fd; /* eventfd */
	pthread_t tid;
	bool started;

	pthread_mutex_t mu; /* guards what follows, up to notify */
	bool stop;
	struct claim *buckets[CLAIM_BUCKETS];
	struct claim *work_head, *work_tail;
	struct call *calls_head, *calls_tail;
	size_t ncalls;
	char channels[CLUSTER_CHANNELS_MAX][32];
	size_t nchannels, nlistened;
	char why[CLUSTER_WHY_MAX]; /* the last failure, escaped */

	pthread_mutex_t notify_mu;
	cluster_notify_fn notify;
	void *notify_arg;

	atomic_llong last_ok_ms; /* mono ms of the last answer; 0 never */
	atomic_ullong claims_lost, db_errors, pruned;

	/* The thread's alone. */
	struct seen *seen[CLAIM_BUCKETS];
	char dirty[DIRTY_MAX][CLUSTER_NAME_MAX + 1];
	size_t ndirty;
	bool dirty_all;
	struct cluster_db_held *held;  /* CLUSTER_HOSTS_MAX */
	struct cluster_db_host *hosts; /* CLUSTER_HOSTS_MAX */
	int64_t next_renew_ms;
};

/* snprintf that may cut on purpose (messages only). */
static void __attribute__((format(printf, 3, 4)))
fmt_cut(char *out, size_t len, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(out, len, f, ap);
	va_end(ap);
}

static size_t
bucket_of(const char *host)
{
	uint32_t h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (uint8_t)*host) * 16777619u;
	return h & (CLAIM_BUCKETS - 1);
}

static void
wake(struct cluster *c)
{
	uint64_t one = 1;

	if (write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("cluster wake-up: %s", strerror(errno));
}

static void
emit(struct cluster *c, const struct cluster_event *ev)
{
	(void)pthread_mutex_lock(&c->notify_mu);
	if (c->notify != NULL)
		c->notify(c->notify_arg, ev);
	(void)pthread_mutex_unlock(&c->notify_mu);
}

/* Notes a statement's outcome: the database answered, or why not. */
static void
note_db(struct cluster *c, int r, const struct err_msg *msg, const char *what)
{
	char esc[CLUSTER_WHY_MAX];

	if (r == 0 || r == SIGNET_ERR_STALE || r == SIGNET_ERR_EXISTS ||
	    r == SIGNET_ERR_NOT_FOUND) {
		atomic_store(&c->last_ok_ms, (long long)clock_mono_ms());
		return;
	}
	atomic_fetch_add(&c->db_errors, 1);
	(void)text_vis_str(msg->text, esc, sizeof(esc));
	(void)pthread_mutex_lock(&c->mu);
	fmt_cut(c->why, sizeof(c->why), "%s: %s", what, esc);
	(void)pthread_mutex_unlock(&c->mu);
	if (r == SIGNET_ERR_UNAVAILABLE) {
		if (!c->broken)
			log_warn("cluster database: %s: %s", what, esc);
		c->broken = true;
	} else {
		log_error("cluster database: %s: %s (%s)", what, esc,
		    err_str(r));
	}
}

/* --- the claims table (c->mu held) ----------------------------------- */

static struct claim *
claim_get(struct cluster *c, const char *host)
{
	struct claim *e;

	for (e = c->buckets[bucket_of(host)]; e != NULL; e = e->hnext)
		if (strcmp(e->host_id, host) == 0)
			return e;
	return NULL;
}

static void
claim_queue(struct cluster *c, struct claim *e)
{
	if (e->queued)
		return;
	e->queued = true;
	e->wnext = NULL;
	if (c->work_tail != NULL)
		c->work_tail->wnext = e;
	else
		c->work_head = e;
	c->work_tail = e;
}

static void
claim_remove(struct cluster *c, struct claim *e)
{
	struct claim **pp;

	for (pp = &c->buckets[bucket_of(e->host_id)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	free(e);
}

/* --- public: posts ----------------------------------------------------- */

int
cluster_claim_post(struct cluster *c, const char *host_id, uint64_t session)
{
	struct claim *e;
	size_t b;

	if (c == NULL || host_id == NULL || session == 0 ||
	    strlen(host_id) > CLUSTER_NAME_MAX || !text_valid_name(host_id))
		return SIGNET_ERR_INVALID_ARG;
	(void)pthread_mutex_lock(&c->mu);
	e = claim_get(c, host_id);
	if (e == NULL) {
		e = calloc(1, sizeof(*e));
		if (e == NULL) {
			(void)pthread_mutex_unlock(&c->mu);
			return SIGNET_ERR_ALLOC;
		}
		memcpy(e->host_id, host_id, strlen(host_id) + 1);
		b = bucket_of(host_id);
		e->hnext = c->buckets[b];
		c->buckets[b] = e;
	}
	/* A newer session: whatever the older one had is moot. */
	e->session = session;
	e->epoch = 0;
	e->valid_until = 0;
	e->want_claim = true;
	e->dirty = true;
	e->released = false;
	e->lost = false;
	claim_queue(c, e);
	(void)pthread_mutex_unlock(&c->mu);
	wake(c);
	return 0;
}

int
cluster_put_host_post(struct cluster *c, const char *host_id, uint64_t session)
{
	struct claim *e;

	if (c == NULL || host_id == NULL)
		return SIGNET_ERR_INVALID_ARG;
	(void)pthread_mutex_lock(&c->mu);
	e = claim_get(c, host_id);
	if (e != NULL && e->session == session && !e->released) {
		e->dirty = true;
		claim_queue(c, e);
	}
	(void)pthread_mutex_unlock(&c->mu);
	wake(c);
	return 0;
}

void
cluster_release_post(struct cluster *c, const char *host_id, uint64_t session)
{
	struct claim *e;

	if (c == NULL || host_id == NULL)
		return;
	(void)pthread_mutex_lock(&c->mu);
	e = claim_get(c, host_id);
	if (e != NULL && e->session == session) {
		e->released = true;
		e->want_claim = false;
		e->dirty = false;
		claim_queue(c, e);
	}
	(void)pthread_mutex_unlock(&c->mu);
	wake(c);
}

int
cluster_call_post(struct cluster *c, cluster_call_fn fn, void *arg)
{
	struct call *k;
	int r = SIGNET_ERR_UNAVAILABLE;

	if (c == NULL || fn == NULL)
		return SIGNET_ERR_INVALID_ARG;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return SIGNET_ERR_ALLOC;
	k->fn = fn;
	k->arg = arg;
	(void)pthread_mutex_lock(&c->mu);
	if (!c->stop && c->ncalls < CLUSTER_CALLS_MAX) {
		if (c->calls_tail != NULL)
			c->calls_tail->next = k;
		else
			c->calls_head = k;
		c->calls_tail = k;
		c->ncalls++;
		k = NULL;
		r = 0;
	}
	(void)pthread_mutex_unlock(&c->mu);
	free(k);
	if (r == 0)
		wake(c);
	return r;
}

int
cluster_listen_post(struct cluster *c, const char *channel)
{
	size_t i;
	int r = 0;

	if (c == NULL || channel == NULL || strlen(channel) >= 32 ||
	    !text_valid_name(channel))
		return SIGNET_ERR_INVALID_ARG;
	(void)pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->nchannels; i++)
		if (strcmp(c->channels[i], channel) == 0)
			goto out;
	if (c->nchannels == CLUSTER_CHANNELS_MAX) {
		r = SIGNET_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(c->channels[c->nchannels++], channel, strlen(channel) + 1);
out:
	(void)pthread_mutex_unlock(&c->mu);
	wake(c);
	return r;
}

/* --- public: state ----------------------------------------------------- */

const char *
cluster_replica(const struct cluster *c)
{
	return c != NULL ? c->replica : "";
}

bool
cluster_up(struct cluster *c, char *why, size_t why_len)
{
	long long last = atomic_load(&c->last_ok_ms);
	bool up = last != 0 && clock_mono_ms() - last < c->ttl_ms;

	if (!up && why != NULL && why_len > 0) {
		(void)pthread_mutex_lock(&c->mu);
		fmt_cut(why, why_len, "%s",
		    c->why[0] != '\0' ? c->why :
		                        "not connected to the database yet");
		(void)pthread_mutex_unlock(&c->mu);
	}
	return up;
}

/* Whether e holds its host at now (c->mu held). */
static bool
claim_live(const struct claim *e, int64_t now)
{
	return e->epoch > 0 && !e->lost && !e->released && now < e->valid_until;
}

bool
cluster_holds(struct cluster *c, const char *host_id, int64_t *epoch)
{
	struct claim *e;
	bool holds;

	if (epoch != NULL)
		*epoch = 0;
	if (c == NULL || host_id == NULL)
		return false;
	(void)pthread_mutex_lock(&c->mu);
	e = claim_get(c, host_id);
	holds = e != NULL && claim_live(e, clock_mono_ms());
	if (holds && epoch != NULL)
		*epoch = e->epoch;
	(void)pthread_mutex_unlock(&c->mu);
	return holds;
}

char *
cluster_metrics_text(struct cluster *c)
{
	struct dynbuf b;
	struct claim *e;
	size_t i, held = 0, len;
	int64_t now = clock_mono_ms();

	(void)pthread_mutex_lock(&c->mu);
	for (i = 0; i < CLAIM_BUCKETS; i++)
		for (e = c->buckets[i]; e != NULL; e = e->hnext)
			held += claim_live(e, now) ? 1 : 0;
	(void)pthread_mutex_unlock(&c->mu);
	dynbuf_init(&b, 4096);
	if (dynbuf_addf(&b,
	        "# HELP signet_cluster_up 1 while the cluster database "
	        "answers (within claim_ttl_ms); 0: new actions are refused.\n"
	        "# TYPE signet_cluster_up gauge\n"
	        "signet_cluster_up %d\n"
	        "# HELP signet_cluster_claims_held Hosts this replica holds "
	        "a live claim on.\n"
	        "# TYPE signet_cluster_claims_held gauge\n"
	        "signet_cluster_claims_held %zu\n"
	        "# HELP signet_cluster_claims_lost_total Claims lost to "
	        "another replica (connection closed).\n"
	        "# TYPE signet_cluster_claims_lost_total counter\n"
	        "signet_cluster_claims_lost_total %llu\n"
	        "# HELP signet_cluster_db_errors_total Statements on the "
	        "cluster database that failed.\n"
	        "# TYPE signet_cluster_db_errors_total counter\n"
	        "signet_cluster_db_errors_total %llu\n"
	        "# HELP signet_cluster_actions_pruned_total Ended actions "
	        "this replica removed from the cluster database after "
	        "actions_keep_ms (the audit logs keep them).\n"
	        "# TYPE signet_cluster_actions_pruned_total counter\n"
	        "signet_cluster_actions_pruned_total %llu\n",
	        cluster_up(c, NULL, 0) ? 1 : 0, held,
	        (unsigned long long)atomic_load(&c->claims_lost),
	        (unsigned long long)atomic_load(&c->db_errors),
	        (unsigned long long)atomic_load(&c->pruned)) != 0) {
		dynbuf_free(&b);
		return NULL;
	}
	return dynbuf_take(&b, &len);
}

/* --- the thread: the mirror -------------------------------------------- */

static struct seen *
seen_get(struct cluster *c, const char *host, bool make)
{
	struct seen *s;
	size_t b = bucket_of(host);

	for (s = c->seen[b]; s != NULL; s = s->next)
		if (strcmp(s->host_id, host) == 0)
			return s;
	if (!make)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	memcpy(s->host_id, host, strlen(host) + 1);
	s->updated_at_ms = -1;
	s->next = c->seen[b];
	c->seen[b] = s;
	return s;
}

/* Forgets what the mirror took for host: the next read applies it. */
static void
seen_forget(struct cluster *c, const char *host)
{
	struct seen *s = seen_get(c, host, false);

	if (s != NULL)
		s->updated_at_ms = -1;
}

/* One stored host into the registry, unless nothing changed. */
static void
mirror_one(struct cluster *c, const struct cluster_db_host *h)
{
	struct registry_remote rm;
	struct inventory *inv = NULL;
	struct err_msg msg;
	struct seen *s;
	bool held;
	int r;

	held = h->held && h->replica[0] != '\0' &&
	    strcmp(h->replica, c->replica) != 0;
	if (!text_valid_name(h->host_id) ||
	    (h->replica[0] != '\0' && !text_valid_name(h->replica)))
		return; /* cluster_db checks names; never taken unchecked */
	s = seen_get(c, h->host_id, true);
	if (s != NULL && s->updated_at_ms == h->updated_at_ms &&
	    s->epoch == h->epoch && s->held == held &&
	    strcmp(s->replica, h->replica) == 0)
		return;
	memset(&rm, 0, sizeof(rm));
	err_clear(&msg);
	r = registry_remote_parse(h->info, h->inventory, &rm, &inv, &msg);
	if (r != 0) {
		char esc[ERR_MSG_MAX];

		log_warn("cluster: host %s as stored by replica %s refused: "
		         "%s",
		    h->host_id, h->replica[0] != '\0' ? h->replica : "-",
		    text_vis_str(msg.text, esc, sizeof(esc)));
		/* Still shown, held or not, without what was refused. */
		memset(&rm, 0, sizeof(rm));
	}
	memcpy(rm.host_id, h->host_id, sizeof(rm.host_id));
	if (held)
		memcpy(rm.replica, h->replica, sizeof(rm.replica));
	rm.held = held;
	rm.last_seen = h->updated_at_ms;
	r = registry_mirror(c->reg, &rm, inv);
	if (r != 0 || s == NULL)
		return; /* connected here (EXISTS): looked at again later */
	s->updated_at_ms = h->updated_at_ms;
	s->epoch = h->epoch;
	s->held = held;
	memcpy(s->replica, h->replica, sizeof(s->replica));
}

/* Reads host (NULL: every host) and mirrors what changed. */
static void
mirror_read(struct cluster *c, const char *host)
{
	struct err_msg msg;
	size_t n = 0, i;
	int r;

	err_clear(&msg);
	r = cluster_db_hosts(c->db, host, c->hosts, CLUSTER_HOSTS_MAX, &n,
	    &msg);
	note_db(c, r, &msg, "reading the hosts");
	if (r != 0)
		return;
	if (host == NULL && n == CLUSTER_HOSTS_MAX)
		log_warn("cluster: over %d hosts stored; the others are not "
		         "shown here",
		    CLUSTER_HOSTS_MAX);
	for (i = 0; i < n; i++) {
		mirror_one(c, &c->hosts[i]);
		cluster_db_host_free(&c->hosts[i]);
	}
}

static void
mirror_dirty(struct cluster *c)
{
	size_t i;

	if (c->dirty_all) {
		c->dirty_all = false;
		c->ndirty = 0;
		mirror_read(c, NULL);
		return;
	}
	for (i = 0; i < c->ndirty && !c->broken; i++)
		mirror_read(c, c->dirty[i]);
	c->ndirty = 0;
}

static void
mark_dirty(struct cluster *c, const char *host)
{
	size_t i;

	if (c->dirty_all)
		return;
	for (i = 0; i < c->ndirty; i++)
		if (strcmp(c->dirty[i], host) == 0)
			return;
	if (c->ndirty == DIRTY_MAX || strlen(host) > CLUSTER_NAME_MAX) {
		c->dirty_all = true;
		return;
	}
	memcpy(c->dirty[c->ndirty++], host, strlen(host) + 1);
}

/* --- the thread: claims ------------------------------------------------ */

static void
say_lost(struct cluster *c, const char *host, uint64_t session, int64_t epoch,
    const char *why)
{
	struct cluster_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = CLUSTER_EV_LOST;
	(void)snprintf(ev.host_id, sizeof(ev.host_id), "%s", host);
	ev.session = session;
	ev.epoch = epoch;
	fmt_cut(ev.why, sizeof(ev.why), "%s", why);
	emit(c, &ev);
}

/* Marks e lost (c->mu held); says so once the lock is left. */
static void
lose(struct cluster *c, struct claim *e)
{
	if (!e->lost)
		atomic_fetch_add(&c->claims_lost, 1);
	e->lost = true;
	e->want_claim = false;
	e->dirty = false;
}

/* A claim made for (host, session): its epoch, or nothing. */
static void
do_claim(struct cluster *c, const char *host, uint64_t session)
{
	struct cluster_event ev;
	struct err_msg msg;
	struct claim *e;
	int64_t epoch = 0, sent = clock_mono_ms();
	bool granted = false;
	int r;

	err_clear(&msg);
	r = cluster_db_claim(c->db, host, c->replica, c->ttl_ms, &epoch, &msg);
	note_db(c, r, &msg, "claiming a host");
	(void)pthread_mutex_lock(&c->mu);
	e = claim_get(c, host);
	if (e != NULL && e->session == session && !e->released) {
		if (r == 0) {
			e->epoch = epoch;
			e->valid_until = sent + c->ttl_ms;
			granted = true;
		} else {
			/* Tried again after the next (re)connection. */
			e->want_claim = true;
		}
	}
	(void)pthread_mutex_unlock(&c->mu);
	if (r == 0 && !granted) {
		/* The session ended meanwhile: give it up again. */
		err_clear(&msg);
		r = cluster_db_release(c->db, host, c->replica, epoch, &msg);
		note_db(c, r, &msg, "releasing a host");
		return;
	}
	if (!granted)
		return;
	log_info("cluster: host %s claimed by replica %s, epoch %lld", host,
	    c->replica, (long long)epoch);
	memset(&ev, 0, sizeof(ev));
	ev.type = CLUSTER_EV_CLAIMED;
	(void)snprintf(ev.host_id, sizeof(ev.host_id), "%s", host);
	ev.session = session;
	ev.epoch = epoch;
	emit(c, &ev);
	seen_forget(c, host);
}

/* Writes the registry's state of (host, session) at epoch. */
static void
do_put(struct cluster *c, const char *host, uint64_t session, int64_t epoch)
{
	struct err_msg msg;
	struct claim *e;
	char *info = NULL, *inv = NULL;
	bool stale = false;
	int r;

	r = registry_host_texts(c->reg, host, session, &info, &inv);
	if (r != 0) {
		if (r == SIGNET_ERR_ALLOC)
			log_error("cluster: host %s: out of memory writing its "
			          "state",
			    host);
		return;
	}
	err_clear(&msg);
	r = cluster_db_put_host(c->db, host, c->replica, epoch, info, inv,
	    &msg);
	note_db(c, r, &msg, "storing a host");
	(void)pthread_mutex_lock(&c->mu);
	e = claim_get(c, host);
	if (e != NULL && e->session == session && e->epoch == epoch) {
		if (r == SIGNET_ERR_STALE && !e->lost) {
			lose(c, e);
			stale = true;
		} else if (r != 0 && r != SIGNET_ERR_STALE) {
			e->dirty = true; /* again after the reconnection */
		}
	}
	(void)pthread_mutex_unlock(&c->mu);
	if (stale) {
		log_warn(
		    "cluster: host %s: the write at epoch %lld was fenced: "
		    "another replica claimed it; closing its connection",
		    host, (long long)epoch);
		say_lost(c, host, session, epoch,
		    "a newer claim of another replica fenced this one's "
		    "write");
	}
	free(info);
	free(inv);
}

static void
do_release(struct cluster *c, const char *host, int64_t epoch)
{
	struct err_msg msg;
	int r;

	err_clear(&msg);
	r = cluster_db_release(c->db, host, c->replica, epoch, &msg);
	note_db(c, r, &msg, "releasing a host");
	seen_forget(c, host);
	mark_dirty(c, host);
}

/* The work list, one host at a time, while the connection holds. */
static void
run_work(struct cluster *c, int64_t until_ms)
{
	struct claim *e;
	char host[CLUSTER_NAME_MAX + 1];
	uint64_t session;
	int64_t epoch;
	bool claim, put, release;

	while (!c->broken) {
		/*
		 * The renewal first: thousands of hellos at once (a replica
		 * died, its agents came here) must not keep this replica's
		 * claims from being renewed in time. The rest waits for the
		 * next turn of the loop, which does not sleep (wake).
		 */
		if (clock_mono_ms() >= until_ms) {
			wake(c);
			return;
		}
		(void)pthread_mutex_lock(&c->mu);
		e = c->work_head;
		if (e == NULL) {
			(void)pthread_mutex_unlock(&c->mu);
			return;
		}
		c->work_head = e->wnext;
		if (c->work_head == NULL)
			c->work_tail = NULL;
		e->queued = false;
		memcpy(host, e->host_id, sizeof(host));
		session = e->session;
		epoch = e->epoch;
		release = e->released;
		claim = !release && e->want_claim;
		put = !release && !e->lost && e->dirty && (claim || epoch > 0);
		e->want_claim = false;
		if (put)
			e->dirty = false;
		if (release)
			claim_remove(c, e);
		(void)pthread_mutex_unlock(&c->mu);
		if (release) {
			if (epoch > 0)
				do_release(c, host, epoch);
			continue;
		}
		if (claim)
			do_claim(c, host, session);
		if (put && !c->broken) {
			(void)pthread_mutex_lock(&c->mu);
			e = claim_get(c, host);
			epoch = e != NULL && e->session == session ? e->epoch :
			                                             0;
			(void)pthread_mutex_unlock(&c->mu);
			if (epoch > 0)
				do_put(c, host, session, epoch);
		}
	}
}

static int
cmp_held(const void *a, const void *b)
{
	return strcmp(((const struct cluster_db_held *)a)->host_id,
	    ((const struct cluster_db_held *)b)->host_id);
}

/* A claim to look at after a renew (copied out of the table). */
struct verdict {
	char host_id[CLUSTER_NAME_MAX + 1];
	uint64_t session;
	int64_t epoch;
	bool lost_before;
};

/*
 * Asks who holds a host the renew did not return: nobody (lapsed while
 * the database was away) → claimed again; another replica → lost.
 */
static void
recheck(struct cluster *c, const struct verdict *v)
{
	char holder[CLUSTER_NAME_MAX + 1], why[CLUSTER_WHY_MAX];
	struct err_msg msg;
	struct claim *e;
	int64_t epoch = 0;
	bool again = false, lost = false;
	int r;

	err_clear(&msg);
	holder[0] = '\0';
	r = cluster_db_holder(c->db, v->host_id, holder, sizeof(holder), &epoch,
	    &msg);
	note_db(c, r, &msg, "reading a claim");
	if (r < 0)
		return;
	(void)pthread_mutex_lock(&c->mu);
	e = claim_get(c, v->host_id);
	if (e != NULL && e->session == v->session && e->epoch == v->epoch &&
	    !e->released && !e->lost) {
		if (r == 0 ||
		    (strcmp(holder, c->replica) == 0 && epoch == v->epoch)) {
			e->epoch = 0;
			e->want_claim = true;
			e->dirty = true;
			claim_queue(c, e);
			again = true;
		} else {
			lose(c, e);
			lost = true;
		}
	}
	(void)pthread_mutex_unlock(&c->mu);
	if (again)
		log_warn("cluster: the claim on host %s (epoch %lld) lapsed "
		         "while the database was away; nobody else holds it: "
		         "claiming it again",
		    v->host_id, (long long)v->epoch);
	if (lost) {
		fmt_cut(why, sizeof(why),
		    "host %s is now held by replica %s (epoch %lld)",
		    v->host_id, text_valid_name(holder) ? holder : "?",
		    (long long)epoch);
		log_warn("cluster: claim lost: %s; closing its connection",
		    why);
		say_lost(c, v->host_id, v->session, v->epoch, why);
		seen_forget(c, v->host_id);
	}
}

/*
 * Removes actions ended over keep_ms ago (every replica does, a batch per
 * renew: the database stays bounded by the rate of actions, not their
 * count since the start). Uses the wall clock: actions carry unix ms.
 */
static void
prune(struct cluster *c)
{
	struct err_msg msg;
	size_t n = 0;
	int64_t before = clock_wall_ms() - c->keep_ms;
	int r;

	if (c->broken || before <= 0)
		return;
	err_clear(&msg);
	r = cluster_db_prune(c->db, before, CLUSTER_PRUNE_BATCH, &n, &msg);
	note_db(c, r, &msg, "removing old actions");
	if (r == 0 && n > 0) {
		atomic_fetch_add(&c->pruned, n);
		log_debug("cluster: removed %zu actions ended before %lld", n,
		    (long long)before);
	}
}

/* Renews every claim; what is missing is rechecked, lost ones said again. */
static void
do_renew(struct cluster *c)
{
	struct verdict *vs = NULL;
	struct cluster_db_held key, *hit;
	struct err_msg msg;
	struct claim *e;
	size_t n = 0, i, nv = 0, cap = 0;
	int64_t sent = clock_mono_ms();
	bool mine;
	int r;

	err_clear(&msg);
	r = cluster_db_replica_seen(c->db, c->replica, &msg);
	note_db(c, r, &msg, "recording this replica alive");
	if (c->broken)
		return;
	err_clear(&msg);
	r = cluster_db_renew(c->db, c->replica, c->ttl_ms, c->held,
	    CLUSTER_HOSTS_MAX, &n, &msg);
	note_db(c, r, &msg, "renewing the claims");
	if (r != 0)
		return;
	qsort(c->held, n, sizeof(*c->held), cmp_held);
	(void)pthread_mutex_lock(&c->mu);
	for (i = 0; i < CLAIM_BUCKETS; i++)
		for (e = c->buckets[i]; e != NULL; e = e->hnext)
			cap += e->epoch > 0 && !e->released ? 1 : 0;
	if (cap > 0)
		vs = calloc(cap, sizeof(*vs));
	for (i = 0; i < CLAIM_BUCKETS; i++) {
		for (e = c->buckets[i]; e != NULL; e = e->hnext) {
			if (e->epoch <= 0 || e->released)
				continue;
			memcpy(key.host_id, e->host_id, sizeof(key.host_id));
			hit = bsearch(&key, c->held, n, sizeof(*c->held),
			    cmp_held);
			if (hit != NULL && hit->epoch == e->epoch && !e->lost) {
				e->valid_until = sent + c->ttl_ms;
				continue;
			}
			if (vs == NULL || nv == cap)
				continue; /* out of memory: next renew */
			memcpy(vs[nv].host_id, e->host_id,
			    sizeof(vs[nv].host_id));
			vs[nv].session = e->session;
			vs[nv].epoch = e->epoch;
			vs[nv].lost_before = e->lost;
			nv++;
		}
	}
	(void)pthread_mutex_unlock(&c->mu);
	for (i = 0; i < nv && !c->broken; i++) {
		if (vs[i].lost_before)
			say_lost(c, vs[i].host_id, vs[i].session, vs[i].epoch,
			    "the claim was lost");
		else
			recheck(c, &vs[i]);
	}
	free(vs);
	prune(c);
	/* Held in the database but by no session here (an earlier run). */
	for (i = 0; i < n && !c->broken; i++) {
		(void)pthread_mutex_lock(&c->mu);
		e = claim_get(c, c->held[i].host_id);
		mine = e != NULL && e->epoch == c->held[i].epoch &&
		    !e->released;
		(void)pthread_mutex_unlock(&c->mu);
		if (mine)
			continue;
		log_info("cluster: host %s held at epoch %lld by no connection "
		         "here: released",
		    c->held[i].host_id, (long long)c->held[i].epoch);
		do_release(c, c->held[i].host_id, c->held[i].epoch);
	}
}

/* --- the thread: connection and loop ----------------------------------- */

static void
listen_all(struct cluster *c)
{
	char ch[CLUSTER_CHANNELS_MAX][32];
	struct err_msg msg;
	size_t n, i;
	int r;

	(void)pthread_mutex_lock(&c->mu);
	n = c->nchannels;
	memcpy(ch, c->channels, sizeof(ch));
	(void)pthread_mutex_unlock(&c->mu);
	for (i = 0; i < n && !c->broken; i++) {
		err_clear(&msg);
		r = cluster_db_listen(c->db, ch[i], &msg);
		note_db(c, r, &msg, "listening");
	}
	if (!c->broken) {
		(void)pthread_mutex_lock(&c->mu);
		c->nlistened = n;
		(void)pthread_mutex_unlock(&c->mu);
	}
}

/* (Re)connects. 0 when the connection holds now. */
static int
connect_db(struct cluster *c)
{
	struct cluster_event ev;
	struct err_msg msg;
	int r, secs = (c->timeout_ms + 999) / 1000;

	err_clear(&msg);
	if (secs < 2)
		secs = 2; /* libpq's least connect_timeout */
	if (c->db == NULL)
		r = cluster_db_open(c->conninfo, secs, c->timeout_ms, &c->db,
		    &msg);
	else
		r = cluster_db_reset(c->db, &msg);
	c->broken = false;
	note_db(c, r, &msg, "connecting");
	if (r != 0) {
		c->broken = true;
		return r;
	}
	log_info("cluster: connected to the database as replica %s",
	    c->replica);
	listen_all(c);
	c->dirty_all = true;
	c->next_renew_ms = 0;
	if (c->broken)
		return SIGNET_ERR_UNAVAILABLE;
	memset(&ev, 0, sizeof(ev));
	ev.type = CLUSTER_EV_CONNECTED;
	emit(c, &ev);
	return 0;
}

/* Every notification waiting on the socket. */
static void
drain_notifications(struct cluster *c)
{
	struct cluster_event ev;
	struct err_msg msg;
	int r;

	while (!c->broken) {
		memset(&ev, 0, sizeof(ev));
		err_clear(&msg);
		r = cluster_db_notification(c->db, ev.channel,
		    sizeof(ev.channel), ev.payload, sizeof(ev.payload), &msg);
		if (r < 0) {
			note_db(c, r, &msg, "reading notifications");
			return;
		}
		if (r == 0)
			return;
		if (strcmp(ev.channel, CLUSTER_CHANNEL_HOSTS) == 0) {
			mark_dirty(c, ev.payload);
			continue;
		}
		ev.type = CLUSTER_EV_NOTIFY;
		emit(c, &ev);
	}
}

static void
run_calls(struct cluster *c, bool with_db)
{
	struct call *k;

	for (;;) {
		(void)pthread_mutex_lock(&c->mu);
		k = c->calls_head;
		if (k != NULL) {
			c->calls_head = k->next;
			if (c->calls_head == NULL)
				c->calls_tail = NULL;
			c->ncalls--;
		}
		(void)pthread_mutex_unlock(&c->mu);
		if (k == NULL)
			return;
		k->fn(k->arg, with_db && !c->broken ? c->db : NULL);
		free(k);
		if (with_db && c->broken)
			return;
	}
}

/* Waits up to ms for a post, a notification or the stop. */
static void
wait_for(struct cluster *c, int64_t ms)
{
	struct pollfd p[2];
	uint64_t v;
	nfds_t n = 1;

	if (ms < 0)
		ms = 0;
	if (ms > 60000)
		ms = 60000;
	p[0].fd = c->wake_fd;
	p[0].events = POLLIN;
	p[0].revents = 0;
	if (!c->broken && c->db != NULL && cluster_db_socket(c->db) >= 0) {
		p[1].fd = cluster_db_socket(c->db);
		p[1].events = POLLIN;
		p[1].revents = 0;
		n = 2;
	}
	if (poll(p, n, (int)ms) > 0 && (p[0].revents & POLLIN) != 0 &&
	    read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("cluster wake-up: %s", strerror(errno));
}

static bool
stopping(struct cluster *c)
{
	bool s;

	(void)pthread_mutex_lock(&c->mu);
	s = c->stop;
	(void)pthread_mutex_unlock(&c->mu);
	return s;
}

/* The claims this replica holds, given up as it stops. */
static void
release_all(struct cluster *c)
{
	struct claim *e;
	char host[CLUSTER_NAME_MAX + 1];
	int64_t epoch;
	size_t i;

	for (i = 0; i < CLAIM_BUCKETS; i++) {
		for (;;) {
			(void)pthread_mutex_lock(&c->mu);
			e = c->buckets[i];
			if (e != NULL) {
				memcpy(host, e->host_id, sizeof(host));
				epoch = e->lost ? 0 : e->epoch;
				c->buckets[i] = e->hnext;
				free(e);
			}
			(void)pthread_mutex_unlock(&c->mu);
			if (e == NULL)
				break;
			if (epoch > 0 && !c->broken && c->db != NULL)
				do_release(c, host, epoch);
		}
	}
}

static void *
cluster_main(void *arg)
{
	struct cluster *c = arg;
	int64_t now, backoff = BACKOFF_MIN_MS, renew_every = c->ttl_ms / 3;
	int64_t retry_at = 0;
	bool said_down = false;
	size_t want;

	while (!stopping(c)) {
		if (c->db == NULL || c->broken) {
			/* Posts wake us: they wait for the retry all the same. */
			now = clock_mono_ms();
			if (now < retry_at) {
				run_calls(c, false);
				wait_for(c, retry_at - now);
				continue;
			}
			if (connect_db(c) != 0) {
				char why[CLUSTER_WHY_MAX];

				if (!said_down) {
					(void)cluster_up(c, why, sizeof(why));
					log_warn("cluster: the database is "
					         "unreachable (%s); serving "
					         "the agents connected here, "
					         "refusing new actions, "
					         "retrying",
					    why);
					said_down = true;
				}
				run_calls(c, false);
				/* Full jitter: replicas do not retry as one. */
				retry_at = clock_mono_ms() +
				    BACKOFF_MIN_MS / 2 +
				    (int64_t)randombytes_uniform(
				        (uint32_t)backoff);
				if (backoff < BACKOFF_MAX_MS)
					backoff *= 2;
				continue;
			}
			if (said_down)
				log_info("cluster: the database answers again");
			said_down = false;
			backoff = BACKOFF_MIN_MS;
		}
		(void)pthread_mutex_lock(&c->mu);
		want = c->nchannels;
		(void)pthread_mutex_unlock(&c->mu);
		if (want != c->nlistened)
			listen_all(c);
		now = clock_mono_ms();
		if (!c->broken && now >= c->next_renew_ms) {
			c->next_renew_ms = now + renew_every;
			do_renew(c);
			c->dirty_all = true;
		}
		if (!c->broken)
			run_work(c, c->next_renew_ms);
		if (!c->broken)
			drain_notifications(c);
		if (!c->broken)
			mirror_dirty(c);
		if (!c->broken)
			run_calls(c, true);
		/*
		 * A NOTIFY that came in while a call's statement ran is in
		 * libpq's queue now, not on the socket: poll() would not see
		 * it until the next renew (the action relay's wake-ups).
		 */
		if (!c->broken)
			drain_notifications(c);
		if (c->broken)
			continue;
		(void)pthread_mutex_lock(&c->mu);
		want = c->work_head != NULL || c->calls_head != NULL ? 1 : 0;
		(void)pthread_mutex_unlock(&c->mu);
		if (want == 0 && c->ndirty == 0 && !c->dirty_all)
			wait_for(c, c->next_renew_ms - clock_mono_ms());
	}
	release_all(c);
	run_calls(c, false);
	return NULL;
}

/* --- public: life ------------------------------------------------------ */

int
cluster_new(const struct cluster_config *cfg, struct registry *reg,
    struct cluster **out, struct err_msg *msg)
{
	struct cluster *c = NULL;
	struct err_msg m;
	int r, secs;

	*out = NULL;
	err_clear(&m);
	if (cfg == NULL || reg == NULL || cfg->conninfo == NULL ||
	    cfg->replica == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "cluster: missing configuration");
	if (strlen(cfg->replica) > CLUSTER_NAME_MAX ||
	    !text_valid_name(cfg->replica)) {
		char esc[96];

		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "replica: \"%s\" is not a name (1 to %d letters, digits, "
		    "'.', '-', '_')",
		    text_escape_str(cfg->replica, esc, sizeof(esc)),
		    CLUSTER_NAME_MAX);
	}
	if (cfg->claim_ttl_ms < CLUSTER_TTL_MS_MIN ||
	    cfg->claim_ttl_ms > CLUSTER_TTL_MS_MAX ||
	    cfg->db_timeout_ms < CLUSTER_DB_TIMEOUT_MS_MIN ||
	    cfg->db_timeout_ms > CLUSTER_DB_TIMEOUT_MS_MAX ||
	    cfg->queue_lease_ms < CLUSTER_LEASE_MS_MIN ||
	    cfg->queue_lease_ms > CLUSTER_LEASE_MS_MAX ||
	    (cfg->actions_keep_ms != 0 &&
	        (cfg->actions_keep_ms < CLUSTER_KEEP_MS_MIN ||
	            cfg->actions_keep_ms > CLUSTER_KEEP_MS_MAX)))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "cluster: claim_ttl_ms, db_timeout_ms, queue_lease_ms or "
		    "actions_keep_ms out of range");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	c->wake_fd = -1;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		return err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a lock");
	}
	if (pthread_mutex_init(&c->notify_mu, NULL) != 0) {
		(void)pthread_mutex_destroy(&c->mu);
		free(c);
		return err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a lock");
	}
	atomic_init(&c->last_ok_ms, 0);
	atomic_init(&c->claims_lost, 0);
	atomic_init(&c->db_errors, 0);
	memcpy(c->replica, cfg->replica, strlen(cfg->replica) + 1);
	c->ttl_ms = cfg->claim_ttl_ms;
	c->lease_ms = cfg->queue_lease_ms;
	c->keep_ms = cfg->actions_keep_ms > 0 ? cfg->actions_keep_ms :
	                                        CLUSTER_KEEP_MS_DEFAULT;
	c->timeout_ms = cfg->db_timeout_ms;
	c->reg = reg;
	memcpy(c->channels[0], CLUSTER_CHANNEL_HOSTS,
	    sizeof(CLUSTER_CHANNEL_HOSTS));
	c->nchannels = 1;
	c->conninfo = strdup(cfg->conninfo);
	c->held = calloc(CLUSTER_HOSTS_MAX, sizeof(*c->held));
	c->hosts = calloc(CLUSTER_HOSTS_MAX, sizeof(*c->hosts));
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->conninfo == NULL || c->held == NULL || c->hosts == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (c->wake_fd < 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "eventfd: %s",
		    strerror(errno));
		goto out;
	}
	/* Once now: a configuration libpq or we refuse stops the start. */
	secs = (c->timeout_ms + 999) / 1000;
	r = cluster_db_open(c->conninfo, secs < 2 ? 2 : secs, c->timeout_ms,
	    &c->db, &m);
	if (r == SIGNET_ERR_INVALID_ARG || r == SIGNET_ERR_FORMAT) {
		r = err_set(msg, r, "cluster database: %s", m.text);
		goto out;
	}
	if (r != 0) {
		char esc[ERR_MSG_MAX];

		c->broken = true;
		atomic_fetch_add(&c->db_errors, 1);
		(void)text_vis_str(m.text, esc, sizeof(esc));
		fmt_cut(c->why, sizeof(c->why), "connecting: %s", esc);
		log_warn("cluster: the database is unreachable at start (%s): "
		         "starting anyway; the agents are served, new actions "
		         "are refused (503) until it answers",
		    esc);
	} else {
		atomic_store(&c->last_ok_ms, (long long)clock_mono_ms());
		c->dirty_all = true;
		c->nlistened = 0;
	}
	registry_set_replica(reg, c->replica);
	*out = c;
	c = NULL;
	r = 0;
out:
	cluster_free(c);
	return r;
}

void
cluster_set_notify(struct cluster *c, cluster_notify_fn fn, void *arg)
{
	if (c == NULL)
		return;
	(void)pthread_mutex_lock(&c->notify_mu);
	c->notify = fn;
	c->notify_arg = fn != NULL ? arg : NULL;
	(void)pthread_mutex_unlock(&c->notify_mu);
}

int
cluster_start(struct cluster *c, struct err_msg *msg)
{
	if (c == NULL || c->started)
		return err_set(msg, SIGNET_ERR_INTERNAL, "cluster: bad start");
	if (pthread_create(&c->tid, NULL, cluster_main, c) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL,
		    "cannot start the cluster thread");
	c->started = true;
	return 0;
}

void
cluster_free(struct cluster *c)
{
	struct claim *e;
	struct seen *s;
	struct call *k;
	size_t i;

	if (c == NULL)
		return;
	if (c->started) {
		(void)pthread_mutex_lock(&c->mu);
		c->stop = true;
		(void)pthread_mutex_unlock(&c->mu);
		wake(c);
		(void)pthread_join(c->tid, NULL);
	}
	for (i = 0; i < CLAIM_BUCKETS; i++) {
		while ((e = c->buckets[i]) != NULL) {
			c->buckets[i] = e->hnext;
			free(e);
		}
		while ((s = c->seen[i]) != NULL) {
			c->seen[i] = s->next;
			free(s);
		}
	}
	while ((k = c->calls_head) != NULL) {
		c->calls_head = k->next;
		k->fn(k->arg, NULL);
		free(k);
	}
	cluster_db_close(c->db);
	if (c->wake_fd >= 0)
		(void)close(c->wake_fd);
	if (c->conninfo != NULL) {
		sodium_memzero(c->conninfo, strlen(c->conninfo));
		free(c->conninfo);
	}
	free(c->held);
	free(c->hosts);
	(void)pthread_mutex_destroy(&c->notify_mu);
	(void)pthread_mutex_destroy(&c->mu);
	free(c);
}
