/* SPDX-License-Identifier: ISC */
/*
 * cluster_db_tool: drives server/cluster_db.c against a real PostgreSQL
 * for tests/integration/test_cluster_db.sh.
 *
 *   cluster_db_tool open CONNINFO
 *           opens (creating the schema) and prints "ok", or the refusal
 *   cluster_db_tool hosts CONNINFO
 *           prints each stored host: "HOST REPLICA EPOCH HELD INFO_LEN
 *           INVENTORY_LEN", or the refusal
 *   cluster_db_tool get CONNINFO ACTION_ID
 *           prints "ACTION_ID STATUS RESULT_BY", or the refusal
 *   cluster_db_tool bench CONNINFO N
 *           N action cycles (add queued, take, done, end, get): prints
 *           the statements and milliseconds per action (a figure)
 *   cluster_db_tool suite CONNINFO_R1 CONNINFO_R2
 *           every function with two replicas r1 and r2 on a fresh
 *           database: one "ok - ..." or "NOT OK - ..." line per check
 *
 * Waits (a claim's lapse, a lease, a notification) loop until the state
 * is reached, without an upper bound of their own: ctest's timeout is
 * the bound. exit: 0 done, 1 refused or a check failed, 2 usage.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "cluster_db.h"
#include "text.h"

static int fails;

static bool
check(bool cond, const char *what, const struct err_msg *msg)
{
	if (cond) {
		printf("ok - %s\n", what);
	} else {
		fails++;
		printf("NOT OK - %s%s%s\n", what, msg != NULL ? ": " : "",
		    msg != NULL ? msg->text : "");
	}
	fflush(stdout);
	return cond;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		abort();
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

static int
open_db(const char *conninfo, struct cluster_db **db, struct err_msg *msg)
{
	return cluster_db_open(conninfo, 10, 5000, db, msg);
}

/* Waits until channel/payload arrives on db (others are skipped). */
static bool
wait_notification(struct cluster_db *db, const char *channel,
    const char *payload, struct err_msg *msg)
{
	char ch[32], pl[80];
	struct pollfd pfd;
	int r;

	for (;;) {
		r = cluster_db_notification(db, ch, sizeof(ch), pl, sizeof(pl),
		    msg);
		if (r < 0)
			return false;
		if (r == 1 && strcmp(ch, channel) == 0 &&
		    strcmp(pl, payload) == 0)
			return true;
		if (r == 1)
			continue;
		pfd.fd = cluster_db_socket(db);
		pfd.events = POLLIN;
		if (pfd.fd < 0)
			return false;
		(void)poll(&pfd, 1, 200);
	}
}

/* Waits for the next notification the layer returns on db. */
static bool
next_notification(struct cluster_db *db, char ch[static 32], char pl[static 80],
    struct err_msg *msg)
{
	struct pollfd pfd;
	int r;

	for (;;) {
		r = cluster_db_notification(db, ch, 32, pl, 80, msg);
		if (r < 0)
			return false;
		if (r == 1)
			return true;
		pfd.fd = cluster_db_socket(db);
		pfd.events = POLLIN;
		if (pfd.fd < 0)
			return false;
		(void)poll(&pfd, 1, 200);
	}
}

static bool
held_has(const struct cluster_db_held *h, size_t n, const char *host,
    int64_t epoch)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(h[i].host_id, host) == 0 && h[i].epoch == epoch)
			return true;
	return false;
}

static void
action_init(struct cluster_db_action *a, const char *id, const char *host,
    int64_t expires_at, char *info, char *frame)
{
	memset(a, 0, sizeof(*a));
	(void)snprintf(a->action_id, sizeof(a->action_id), "%s", id);
	(void)snprintf(a->host_id, sizeof(a->host_id), "%s", host);
	(void)snprintf(a->origin, sizeof(a->origin), "r2");
	a->requested_at_ms = 1000;
	a->expires_at_ms = expires_at;
	a->deadline_ms = expires_at;
	a->info = info;
	a->frame = frame;
}

#define ID1 "00000000000000000000000000000001"
#define ID2 "00000000000000000000000000000002"
#define ID3 "00000000000000000000000000000003"
#define ID4 "00000000000000000000000000000004"
#define FAR 253402300799999LL

/* The claims, as two replicas see them. */
static void
suite_claims(struct cluster_db *d1, struct cluster_db *d2)
{
	struct cluster_db_held held[8];
	struct cluster_db_host hosts[4];
	struct err_msg msg;
	char rep[CLUSTER_NAME_MAX + 1];
	int64_t e1 = 0, e2 = 0, e = 0, e5 = 0;
	size_t n = 0, i;
	int r;
	char *big = NULL;

	r = cluster_db_replica_seen(d1, "r1", &msg);
	check(r == 0, "replica_seen r1", &msg);
	r = cluster_db_claim(d1, "h1", "r1", 60000, &e1, &msg);
	check(r == 0 && e1 > 0, "r1 claims h1", &msg);
	r = cluster_db_holder(d2, "h1", rep, sizeof(rep), &e, &msg);
	check(r == 1 && strcmp(rep, "r1") == 0 && e == e1,
	    "r2 sees r1 holding h1 at its epoch", &msg);
	r = cluster_db_claim(d2, "h1", "r2", 60000, &e2, &msg);
	check(r == 0 && e2 > e1, "r2 claims h1: a newer epoch", &msg);
	r = cluster_db_holder(d1, "h1", rep, sizeof(rep), &e, &msg);
	check(r == 1 && strcmp(rep, "r2") == 0 && e == e2,
	    "the newer claim wins", &msg);
	r = cluster_db_renew(d1, "r1", 60000, held, 8, &n, &msg);
	check(r == 0 && !held_has(held, n, "h1", e1) &&
	        !held_has(held, n, "h1", e2),
	    "r1's renewal no longer returns h1", &msg);
	r = cluster_db_renew(d2, "r2", 60000, held, 8, &n, &msg);
	check(r == 0 && n == 1 && held_has(held, n, "h1", e2),
	    "r2's renewal returns h1 at its epoch", &msg);
	r = cluster_db_renew(d2, "r2", 60000, held, 0, &n, &msg);
	check(r == SIGNET_ERR_TOO_LARGE && n == 1,
	    "a renewal with no room: TOO_LARGE, the count", &msg);
	r = cluster_db_release(d1, "h1", "r1", e1, &msg);
	check(r == 0, "r1 releases its stale epoch of h1: 0", &msg);
	r = cluster_db_holder(d1, "h1", rep, sizeof(rep), &e, &msg);
	check(r == 1 && strcmp(rep, "r2") == 0 && e == e2,
	    "a release of a stale epoch changes nothing", &msg);

	/* Fenced host writes. */
	r = cluster_db_put_host(d1, "h1", "r1", e1, "{}", "[]", &msg);
	check(r == SIGNET_ERR_STALE, "put_host with the lost epoch: STALE",
	    &msg);
	r = cluster_db_hosts(d1, "h1", hosts, 4, &n, &msg);
	check(r == 0 && n == 0, "nothing written by the stale put_host", &msg);
	r = cluster_db_put_host(d2, "h1", "r1", e2, "{}", "[]", &msg);
	check(r == SIGNET_ERR_STALE,
	    "put_host with the epoch but another replica: STALE", &msg);
	r = cluster_db_put_host(d2, "h1", "r2", e2,
	    "{\"v\":\"\\u00e9 \xc3\xa9\"}", "[{\"id\":\"c1\"}]", &msg);
	check(r == 0, "put_host by the holder", &msg);
	check(wait_notification(d1, CLUSTER_CHANNEL_HOSTS, "h1", &msg),
	    "signet_hosts h1 notified", &msg);
	r = cluster_db_put_host(d2, "h1", "r2", e2, NULL, NULL, &msg);
	check(r == 0, "put_host keeping both", &msg);
	r = cluster_db_hosts(d1, NULL, hosts, 4, &n, &msg);
	check(r == 0 && n == 1 && strcmp(hosts[0].host_id, "h1") == 0 &&
	        strcmp(hosts[0].replica, "r2") == 0 && hosts[0].epoch == e2 &&
	        hosts[0].held && hosts[0].updated_at_ms > 0 &&
	        hosts[0].info != NULL &&
	        strcmp(hosts[0].info, "{\"v\":\"\\u00e9 \xc3\xa9\"}") == 0 &&
	        hosts[0].inventory != NULL &&
	        strcmp(hosts[0].inventory, "[{\"id\":\"c1\"}]") == 0,
	    "hosts: h1 held by r2, info and inventory byte for byte", &msg);
	for (i = 0; i < n; i++)
		cluster_db_host_free(&hosts[i]);

	r = cluster_db_release(d2, "h1", "r2", e2, &msg);
	check(r == 0, "r2 releases h1", &msg);
	r = cluster_db_holder(d1, "h1", rep, sizeof(rep), &e, &msg);
	check(r == 0 && rep[0] == '\0' && e == 0, "h1 held by nobody", &msg);
	r = cluster_db_hosts(d1, "h1", hosts, 4, &n, &msg);
	check(r == 0 && n == 1 && !hosts[0].held &&
	        hosts[0].replica[0] == '\0' && hosts[0].epoch == 0,
	    "hosts: h1 stored, not held", &msg);
	for (i = 0; i < n; i++)
		cluster_db_host_free(&hosts[i]);

	/* A claim lapses unless renewed. */
	r = cluster_db_claim(d1, "h2", "r1", 300, &e5, &msg);
	check(r == 0, "r1 claims h2 for 300 ms", &msg);
	do {
		sleep_ms(50);
		r = cluster_db_holder(d2, "h2", rep, sizeof(rep), &e, &msg);
	} while (r == 1);
	check(r == 0, "h2's claim lapses", &msg);
	r = cluster_db_renew(d1, "r1", 60000, held, 8, &n, &msg);
	check(r == 0 && !held_has(held, n, "h2", e5),
	    "a lapsed claim is not renewed", &msg);
	r = cluster_db_put_host(d1, "h2", "r1", e5, "{}", "[]", &msg);
	check(r == SIGNET_ERR_STALE, "put_host on a lapsed claim: STALE", &msg);

	/* Bad arguments, refused before the database. */
	r = cluster_db_claim(d1, "Bad Host", "r1", 1000, &e, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "claim of an invalid host_id", &msg);
	r = cluster_db_claim(d1, "h3", "r1/x", 1000, &e, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "claim by an invalid replica", &msg);
	r = cluster_db_claim(d1, "h3", "r1", 0, &e, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "claim with ttl 0", &msg);
	big = malloc((size_t)CLUSTER_DB_TEXT_MAX + 2);
	if (big != NULL) {
		memset(big, 'x', (size_t)CLUSTER_DB_TEXT_MAX + 1);
		big[CLUSTER_DB_TEXT_MAX + 1] = '\0';
		r = cluster_db_put_host(d2, "h1", "r2", e2, NULL, big, &msg);
		check(r == SIGNET_ERR_INVALID_ARG &&
		        strstr(msg.text, "over") != NULL,
		    "an overlong inventory refused", &msg);
		free(big);
	}
	r = cluster_db_listen(d1, "signet_other", &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "LISTEN on an unknown channel",
	    &msg);
}

static void
suite_actions(struct cluster_db *d1, struct cluster_db *d2)
{
	struct cluster_db_action a, got[4];
	struct err_msg msg;
	int64_t e3 = 0, e4 = 0;
	size_t n = 0, i;
	char info[] = "{\"action_id\":\"" ID1 "\",\"status\":\"PENDING\"}";
	char frame[] = "{\"type\":\"action\",\"payload\":\"e30=\"}";
	bool ok;
	int r;

	r = cluster_db_claim(d1, "h3", "r1", 60000, &e3, &msg);
	check(r == 0, "r1 claims h3", &msg);
	action_init(&a, ID1, "h3", FAR, info, frame);
	r = cluster_db_action_add(d2, &a, true, &msg);
	check(r == 0, "r2 adds an action for h3, queued", &msg);
	check(wait_notification(d1, CLUSTER_CHANNEL_QUEUE, "h3", &msg),
	    "signet_queue h3 notified", &msg);
	r = cluster_db_action_add(d2, &a, true, &msg);
	check(r == SIGNET_ERR_EXISTS, "the same action_id again: EXISTS", &msg);
	r = cluster_db_queue_take(d2, "r2", 100, now_ms(), got, 4, &n, &msg);
	check(r == 0 && n == 0, "r2 (not the holder) takes nothing", &msg);
	r = cluster_db_queue_take(d1, "r1", 100, now_ms(), got, 4, &n, &msg);
	check(r == 0 && n == 1 && strcmp(got[0].action_id, ID1) == 0 &&
	        strcmp(got[0].frame, frame) == 0 &&
	        strcmp(got[0].info, info) == 0 &&
	        strcmp(got[0].status, "PENDING") == 0 &&
	        strcmp(got[0].origin, "r2") == 0 && got[0].result == NULL &&
	        got[0].expires_at_ms == FAR,
	    "the holder r1 takes it, frame byte for byte", &msg);
	for (i = 0; i < n; i++)
		cluster_db_action_free(&got[i]);
	sleep_ms(300);
	r = cluster_db_queue_take(d1, "r1", 100, now_ms(), got, 4, &n, &msg);
	check(r == 0 && n == 0,
	    "not taken again by the epoch that holds it, lease or not", &msg);

	/* The host moves to r2: after the lease, r2 takes it again. */
	r = cluster_db_claim(d2, "h3", "r2", 60000, &e4, &msg);
	check(r == 0 && e4 > e3, "r2 claims h3", &msg);
	r = cluster_db_queue_take(d1, "r1", 100, now_ms(), got, 4, &n, &msg);
	check(r == 0 && n == 0, "r1 (no longer the holder) takes nothing",
	    &msg);
	r = cluster_db_queue_take(d2, "r2", 60000, now_ms(), got, 4, &n, &msg);
	check(r == 0 && n == 0, "not re-taken within its lease", &msg);
	/* (Without a new epoch this would wait forever: checked above.) */
	n = 0;
	while (e4 > e3) {
		sleep_ms(50);
		r = cluster_db_queue_take(d2, "r2", 200, now_ms(), got, 4, &n,
		    &msg);
		if (r != 0 || n != 0)
			break;
	}
	check(r == 0 && n == 1 && strcmp(got[0].action_id, ID1) == 0,
	    "re-taken by the new holder once the lease ran out", &msg);
	for (i = 0; i < n; i++)
		cluster_db_action_free(&got[i]);
	r = cluster_db_queue_done(d2, ID1, &msg);
	check(r == 0, "queue_done", &msg);

	/* Ends. */
	r = cluster_db_action_end(d2, ID1, "SUCCESS", "{\"s\":1}",
	    "{\"type\":\"result\"}", "r2", 5000, &msg);
	check(r == 0, "the holder ends it SUCCESS with the result", &msg);
	check(wait_notification(d1, CLUSTER_CHANNEL_DONE, ID1, &msg),
	    "signet_done notified", &msg);
	r = cluster_db_action_end(d1, ID1, "TIMEOUT", "{}", NULL, "r1", 6000,
	    &msg);
	check(r == SIGNET_ERR_EXISTS, "an ended action does not end again",
	    &msg);
	r = cluster_db_action_get(d1, ID1, &a, &msg);
	check(r == 0 && strcmp(a.status, "SUCCESS") == 0 &&
	        strcmp(a.result_by, "r2") == 0 && a.result != NULL &&
	        strcmp(a.result, "{\"type\":\"result\"}") == 0 &&
	        strcmp(a.info, "{\"s\":1}") == 0 && a.finished_at_ms == 5000,
	    "action_get: SUCCESS, the result byte for byte", &msg);
	cluster_db_action_free(&a);

	action_init(&a, ID2, "h3", FAR, info, frame);
	r = cluster_db_action_add(d1, &a, false, &msg);
	check(r == 0, "an action not queued", &msg);
	r = cluster_db_action_end(d1, ID2, "TIMEOUT", "{}", NULL, "r1", 7000,
	    &msg);
	check(r == 0, "PENDING -> TIMEOUT", &msg);
	r = cluster_db_action_end(d1, ID2, "FAILURE", "{}", NULL, "r1", 7000,
	    &msg);
	check(r == SIGNET_ERR_EXISTS, "TIMEOUT -> no result: EXISTS", &msg);
	r = cluster_db_action_end(d2, ID2, "SUCCESS", "{}", "{\"late\":1}",
	    "r2", 8000, &msg);
	check(r == 0, "TIMEOUT -> a late result replaces it", &msg);
	r = cluster_db_action_end(d2, ID2, "SUCCESS", "{}", "{\"late\":2}",
	    "r2", 8000, &msg);
	check(r == SIGNET_ERR_EXISTS, "a second result: EXISTS", &msg);
	r = cluster_db_action_get(d1, ID2, &a, &msg);
	check(r == 0 && strcmp(a.status, "SUCCESS") == 0 &&
	        strcmp(a.result, "{\"late\":1}") == 0,
	    "the late result kept", &msg);
	cluster_db_action_free(&a);
	r = cluster_db_action_end(d2, "0000000000000000000000000000ffff",
	    "SUCCESS", "{}", NULL, "r2", 8000, &msg);
	check(r == SIGNET_ERR_NOT_FOUND, "ending an unknown action", &msg);
	r = cluster_db_action_end(d2, ID2, "PENDING", "{}", NULL, "r2", 8000,
	    &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "ending as PENDING refused", &msg);
	r = cluster_db_action_get(d1, "0000000000000000000000000000ffff", &a,
	    &msg);
	check(r == SIGNET_ERR_NOT_FOUND, "action_get of an unknown id", &msg);

	/* A frame that expired in the queue ends UNDELIVERED. */
	action_init(&a, ID3, "h3", 2000, info, frame);
	r = cluster_db_action_add(d1, &a, true, &msg);
	check(r == 0, "an action expiring at 2000 queued", &msg);
	r = cluster_db_queue_take(d2, "r2", 100, 3000, got, 4, &n, &msg);
	check(r == 0 && n == 0, "its frame is not taken", &msg);
	r = cluster_db_action_get(d1, ID3, &a, &msg);
	check(r == 0 && strcmp(a.status, "PENDING") == 0,
	    "the take alone leaves it PENDING (one statement, no writes)",
	    &msg);
	if (r == 0)
		cluster_db_action_free(&a);
	r = cluster_db_queue_expire(d2, "bad name!", 100, 3000, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "expire: a bad replica refused",
	    &msg);
	r = cluster_db_queue_expire(d2, "r2", 100, -1, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "expire: a negative time refused",
	    &msg);
	r = cluster_db_queue_expire(d1, "r1", 100, 3000, &msg);
	check(r == 0, "expire by r1, which does not hold h3", &msg);
	r = cluster_db_action_get(d1, ID3, &a, &msg);
	check(r == 0 && strcmp(a.status, "PENDING") == 0,
	    "... changes nothing of h3's queue", &msg);
	if (r == 0)
		cluster_db_action_free(&a);
	r = cluster_db_queue_expire(d2, "r2", 100, 3000, &msg);
	check(r == 0, "expire by r2, h3's holder", &msg);
	r = cluster_db_action_get(d1, ID3, &a, &msg);
	ok = check(r == 0 && strcmp(a.status, "UNDELIVERED") == 0 &&
	        a.finished_at_ms == 3000 &&
	        strstr(a.info, "\"status\":\"UNDELIVERED\"") != NULL &&
	        strstr(a.info, "the action expired in the queue") != NULL,
	    "it ended UNDELIVERED, expired in the queue", &msg);
	cluster_db_action_free(&a);
	/* (Waits only when it ended: else it would wait forever.) */
	check(ok && wait_notification(d1, CLUSTER_CHANNEL_DONE, ID3, &msg),
	    "signet_done notified for the expired action", &msg);

	action_init(&a, "not-hex", "h3", FAR, info, frame);
	r = cluster_db_action_add(d1, &a, true, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "an invalid action_id refused",
	    &msg);
	action_init(&a, ID3, "h3", FAR, NULL, frame);
	r = cluster_db_action_add(d1, &a, true, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "an action without info refused",
	    &msg);

	/*
	 * Pruning: ID1 ended at 5000, ID2 at 8000 (deadlines far off), ID3
	 * at 3000; ID4 is PENDING, queued, its deadline 4000 (an origin
	 * that died).
	 */
	action_init(&a, ID4, "h3", 4000, info, frame);
	r = cluster_db_action_add(d1, &a, true, &msg);
	check(r == 0, "an action with deadline 4000 queued", &msg);
	r = cluster_db_prune(d1, 7500, 0, &n, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "prune: a limit of 0 refused", &msg);
	r = cluster_db_prune(d1, -1, 10, &n, &msg);
	check(r == SIGNET_ERR_INVALID_ARG, "prune: a negative time refused",
	    &msg);
	r = cluster_db_prune(d1, 2000, 10, &n, &msg);
	check(r == 0 && n == 0, "prune before 2000: nothing", &msg);
	r = cluster_db_prune(d1, 7500, 1, &n, &msg);
	check(r == 0 && n == 1, "prune before 7500, limit 1: one", &msg);
	r = cluster_db_prune(d1, 7500, 10, &n, &msg);
	check(r == 0 && n == 2, "prune before 7500 again: the other two", &msg);
	r = cluster_db_action_get(d1, ID1, &a, &msg);
	check(r == SIGNET_ERR_NOT_FOUND, "ID1 (ended at 5000) is gone", &msg);
	r = cluster_db_action_get(d1, ID4, &a, &msg);
	check(r == SIGNET_ERR_NOT_FOUND, "ID4 (PENDING past its deadline) too",
	    &msg);
	r = cluster_db_queue_take(d1, "r1", 100, 3000, got, 4, &n, &msg);
	check(r == 0 && n == 0, "ID4's queue row went with it", &msg);
	r = cluster_db_action_get(d1, ID2, &a, &msg);
	check(r == 0, "ID2 (ended at 8000) stays", &msg);
	if (r == 0)
		cluster_db_action_free(&a);
}

/* Runs sql on a plain libpq connection (user signet); its row count. */
static int
raw_sql(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *res = NULL;
	int n = -1;

	if (c == NULL || PQstatus(c) != CONNECTION_OK)
		goto out;
	res = PQexec(c, sql);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		n = PQntuples(res);
out:
	PQclear(res);
	PQfinish(c);
	return n;
}

/* Notifications the layer must drop: only the last one is returned. */
static void
suite_hostile_notifications(const char *c1)
{
	struct cluster_db *d = NULL;
	struct err_msg msg;
	char ch[32], pl[80];
	size_t i;
	int r;

	r = open_db(c1, &d, &msg);
	check(r == 0, "a third connection", &msg);
	if (d == NULL)
		return;
	for (i = 0; i < 3; i++) {
		static const char *const chs[] = { CLUSTER_CHANNEL_QUEUE,
			CLUSTER_CHANNEL_DONE, CLUSTER_CHANNEL_HOSTS };

		r = cluster_db_listen(d, chs[i], &msg);
		check(r == 0, chs[i], &msg);
	}
	r = raw_sql(c1,
	    "SELECT pg_notify('signet_done', 'h1'),"
	    " pg_notify('signet_done', upper(repeat('a', 32))),"
	    " pg_notify('signet_hosts', '../x'),"
	    " pg_notify('signet_hosts', repeat('a', 100)),"
	    " pg_notify('signet_queue', ''),"
	    " pg_notify('signet_queue', 'h9')");
	check(r == 1, "hostile notifications sent", NULL);
	check(r == 1 && next_notification(d, ch, pl, &msg) &&
	        strcmp(ch, CLUSTER_CHANNEL_QUEUE) == 0 && strcmp(pl, "h9") == 0,
	    "bad payloads dropped: the next one is signet_queue h9", &msg);
	cluster_db_close(d);
}

/* A statement held up past statement_timeout: UNAVAILABLE, then fine. */
static void
suite_timeout(const char *c1)
{
	struct cluster_db *d = NULL;
	struct err_msg msg;
	PGconn *c = NULL;
	PGresult *res = NULL;
	int64_t e = 0;
	int r;

	r = cluster_db_open(c1, 10, 300, &d, &msg);
	check(r == 0, "a connection with a 300 ms statement_timeout", &msg);
	if (d == NULL)
		return;
	r = cluster_db_claim(d, "h8", "r1", 60000, &e, &msg);
	check(r == 0, "r1 claims h8", &msg);
	c = PQconnectdb(c1);
	res = PQexec(c, "BEGIN");
	PQclear(res);
	res = PQexec(c,
	    "SELECT 1 FROM signet_claims WHERE host_id = 'h8' "
	    "FOR UPDATE");
	check(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1,
	    "another session locks h8's claim", NULL);
	PQclear(res);
	r = cluster_db_claim(d, "h8", "r1", 60000, &e, &msg);
	check(r == SIGNET_ERR_UNAVAILABLE &&
	        strstr(msg.text, "statement timeout") != NULL,
	    "a claim held up past statement_timeout: UNAVAILABLE", &msg);
	res = PQexec(c, "ROLLBACK");
	PQclear(res);
	r = cluster_db_claim(d, "h8", "r1", 60000, &e, &msg);
	check(r == 0, "the same connection claims once the lock is gone", &msg);
	PQfinish(c);
	cluster_db_close(d);
}

static int
suite(const char *c1, const char *c2)
{
	struct cluster_db *d1 = NULL, *d2 = NULL;
	struct err_msg msg;
	char rep[CLUSTER_NAME_MAX + 1];
	int64_t e = 0;
	uint64_t before;
	size_t i;
	int r;

	r = open_db(c1, &d1, &msg);
	check(r == 0, "r1 opens (creates the schema)", &msg);
	r = open_db(c2, &d2, &msg);
	check(r == 0, "r2 opens (finds the schema)", &msg);
	if (d1 == NULL || d2 == NULL)
		goto out;
	for (i = 0; i < 3; i++) {
		static const char *const ch[] = { CLUSTER_CHANNEL_QUEUE,
			CLUSTER_CHANNEL_DONE, CLUSTER_CHANNEL_HOSTS };

		r = cluster_db_listen(d1, ch[i], &msg);
		check(r == 0, ch[i], &msg);
	}
	before = cluster_db_statements(d1);
	suite_claims(d1, d2);
	suite_actions(d1, d2);
	check(cluster_db_statements(d1) > before,
	    "the statement counter counts", NULL);

	/* A broken connection, then reset (and LISTEN again). */
	suite_hostile_notifications(c1);
	suite_timeout(c1);
	check(raw_sql(c1,
	          "SELECT pg_terminate_backend(pid) FROM "
	          "pg_stat_activity WHERE application_name = "
	          "'signet-server'") == 2,
	    "both sessions terminated", NULL);
	r = cluster_db_holder(d1, "h3", rep, sizeof(rep), &e, &msg);
	check(r == SIGNET_ERR_UNAVAILABLE &&
	        strstr(msg.text, "unreachable") != NULL &&
	        strchr(msg.text, '\n') == NULL,
	    "a broken connection: UNAVAILABLE, one line", &msg);
	r = cluster_db_reset(d1, &msg);
	check(r == 0, "r1 reconnects", &msg);
	r = cluster_db_reset(d2, &msg);
	check(r == 0, "r2 reconnects", &msg);
	r = cluster_db_holder(d1, "h3", rep, sizeof(rep), &e, &msg);
	check(r == 1 && strcmp(rep, "r2") == 0, "r1 reads after reconnecting",
	    &msg);
	r = cluster_db_put_host(d2, "h3", "r2", e, "{}", "[]", &msg);
	check(r == 0, "r2 writes after reconnecting", &msg);
	check(wait_notification(d1, CLUSTER_CHANNEL_HOSTS, "h3", &msg),
	    "r1 LISTENs again after reconnecting", &msg);
out:
	cluster_db_close(d1);
	cluster_db_close(d2);
	cluster_db_close(NULL);
	printf("%d failed\n", fails);
	return fails == 0 ? 0 : 1;
}

static int
cmd_hosts(const char *conninfo)
{
	struct cluster_db *db = NULL;
	struct cluster_db_host hosts[16];
	struct err_msg msg;
	size_t n = 0, i;
	int r;

	r = open_db(conninfo, &db, &msg);
	if (r == 0)
		r = cluster_db_hosts(db, NULL, hosts, 16, &n, &msg);
	if (r != 0) {
		printf("refused: %s: %s\n", err_str(r), msg.text);
		cluster_db_close(db);
		return 1;
	}
	for (i = 0; i < n; i++) {
		printf("%s %s %" PRId64 " %d %zu %zu\n", hosts[i].host_id,
		    hosts[i].replica[0] != '\0' ? hosts[i].replica : "-",
		    hosts[i].epoch, hosts[i].held ? 1 : 0,
		    hosts[i].info != NULL ? strlen(hosts[i].info) : 0,
		    hosts[i].inventory != NULL ? strlen(hosts[i].inventory) :
		                                 0);
		cluster_db_host_free(&hosts[i]);
	}
	cluster_db_close(db);
	return 0;
}

static int
cmd_get(const char *conninfo, const char *id)
{
	struct cluster_db *db = NULL;
	struct cluster_db_action a;
	struct err_msg msg;
	int r;

	memset(&a, 0, sizeof(a));
	r = open_db(conninfo, &db, &msg);
	if (r == 0)
		r = cluster_db_action_get(db, id, &a, &msg);
	if (r != 0) {
		printf("refused: %s: %s\n", err_str(r), msg.text);
		cluster_db_close(db);
		return 1;
	}
	printf("%s %s %s\n", a.action_id, a.status,
	    a.result_by[0] != '\0' ? a.result_by : "-");
	cluster_db_action_free(&a);
	cluster_db_close(db);
	return 0;
}

/*
 * N cross-replica action cycles on one connection (add queued, take,
 * done, end with a result, the origin's get): statements and time per
 * action. A figure, not a test.
 */
static int
cmd_bench(const char *conninfo, const char *count)
{
	struct cluster_db *db = NULL;
	struct cluster_db_action a, got[1];
	struct err_msg msg;
	char id[CLUSTER_ACTION_ID_LEN + 1], info[] = "{}",
	                                    frame[] = "{\"type\":\"action\"}";
	int64_t e = 0, t0, n = 0, i;
	uint64_t s0;
	size_t k = 0;
	int r;

	if (text_to_int64(count, 1, 10000000, &n) != 0) {
		fprintf(stderr, "bench: N must be in [1, 10000000]\n");
		return 2;
	}
	r = open_db(conninfo, &db, &msg);
	if (r == 0)
		r = cluster_db_claim(db, "bench", "r1", 600000, &e, &msg);
	s0 = cluster_db_statements(db);
	t0 = now_ms();
	for (i = 0; r == 0 && i < n; i++) {
		(void)snprintf(id, sizeof(id), "%016llx%016llx",
		    (unsigned long long)t0, (unsigned long long)i);
		action_init(&a, id, "bench", FAR, info, frame);
		r = cluster_db_action_add(db, &a, true, &msg);
		if (r == 0)
			r = cluster_db_queue_take(db, "r1", 5000, now_ms(), got,
			    1, &k, &msg);
		if (r == 0 && k == 1)
			cluster_db_action_free(&got[0]);
		if (r == 0)
			r = cluster_db_queue_done(db, id, &msg);
		if (r == 0)
			r = cluster_db_action_end(db, id, "SUCCESS", "{}",
			    "{\"type\":\"result\"}", "r1", now_ms(), &msg);
		if (r == 0)
			r = cluster_db_action_get(db, id, &a, &msg);
		if (r == 0)
			cluster_db_action_free(&a);
	}
	if (r != 0) {
		printf("refused: %s: %s\n", err_str(r), msg.text);
		cluster_db_close(db);
		return 1;
	}
	printf("%" PRId64 " actions: %.1f statements and %.3f ms each\n", n,
	    (double)(cluster_db_statements(db) - s0) / (double)n,
	    (double)(now_ms() - t0) / (double)n);
	cluster_db_close(db);
	return 0;
}

int
main(int argc, char **argv)
{
	struct cluster_db *db = NULL;
	struct err_msg msg;
	int r;

	if (argc == 3 && strcmp(argv[1], "open") == 0) {
		r = open_db(argv[2], &db, &msg);
		cluster_db_close(db);
		if (r != 0) {
			printf("refused: %s: %s\n", err_str(r), msg.text);
			return 1;
		}
		printf("ok\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "hosts") == 0)
		return cmd_hosts(argv[2]);
	if (argc == 4 && strcmp(argv[1], "get") == 0)
		return cmd_get(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "bench") == 0)
		return cmd_bench(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "suite") == 0)
		return suite(argv[2], argv[3]);
	fprintf(stderr,
	    "usage: cluster_db_tool open|hosts CONNINFO | get "
	    "CONNINFO ID | suite CONNINFO_R1 CONNINFO_R2\n");
	return 2;
}
