/* SPDX-License-Identifier: ISC */
/*
 * Tests of the policy store (agent/policy_store.c): reload keeping the
 * old policy on every refusal, rate-limit windows carried over, SIGHUP,
 * and concurrent decisions with reloads.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "policy_fixtures.h"
#include "policy_store.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/signet-policy-test.XXXXXX";

#define GOOD_SPACED                                                            \
	"{ 'host_id': 'h1',\n  'rules': [ { 'match': "                         \
	"{'name':'web-*'},\n 'actions':['RESTART','STOP'],'rate_limit':"       \
	"{'max':1,'per_seconds':3600} } ] }\n"
#define OTHER                                                                  \
	"{'host_id':'h1','rules':[{'match':{'name':'db-*'},"                   \
	"'actions':['RESTART']}]}"

static struct policy_store *sighup_store;

static void
on_sighup(int sig)
{
	(void)sig;
	policy_store_request_reload(sighup_store);
}

static bool
store_allows(struct policy_store *s, const char *name, const char *cid,
    enum envelope_action act, int64_t now)
{
	struct policy_request req;
	struct policy_decision dec;

	memset(&req, 0, sizeof(req));
	req.container_id = cid;
	req.name = name;
	req.action = act;
	req.now_ms = now;
	req.operator_signed = true;
	return policy_store_decide(s, &req, &dec) == 0 && dec.allow;
}

static void
test_reload(void)
{
	struct policy_store *s = NULL;
	struct err_msg msg;
	char path[256], path2[256];
	struct sigaction sa;
	int r;

	(void)snprintf(path, sizeof(path), "%s/reload.json", tmpdir);
	(void)snprintf(path2, sizeof(path2), "%s/other.json", tmpdir);
	/* A bad file at start: refused, no store. */
	write_file(path, "{'host_id':'h1','rules':[]}", 0644);
	r = policy_store_open(path, "h1", &s, &msg);
	CHECK(r == SIGNET_ERR_POLICY && s == NULL);
	CHECK_CONTAINS(msg.text, "empty rules");

	write_file(path, GOOD, 0644);
	r = policy_store_open(path, "h1", &s, &msg);
	CHECKF(r == 0 && s != NULL, "%s", msg.text);
	if (s == NULL)
		return;
	CHECK(policy_store_generation(s) == 1);
	CHECK(store_allows(s, "web-1", "c1", ENVELOPE_ACTION_RESTART, 0));
	CHECK(!store_allows(s, "web-1", "c1", ENVELOPE_ACTION_RESTART, 1));
	CHECK(!store_allows(s, "web-2", "c2", ENVELOPE_ACTION_STOP, 1));

	/* Bad new files: each keeps the old policy in force. */
	replace_file(path,
	    "{'host_id':'h1','rules':[{'match':{'name':'db-*'},"
	    "'actions':['RESTART'],'bogus':1}]}",
	    0644);
	r = policy_store_reload(s, NULL, &msg);
	CHECK(r == SIGNET_ERR_POLICY);
	CHECK_CONTAINS(msg.text, "unknown key \"bogus\" at rules[0]");
	CHECK(policy_store_generation(s) == 1);
	CHECK(store_allows(s, "web-2", "c2", ENVELOPE_ACTION_RESTART, 2));
	CHECK(!store_allows(s, "db-1", "c3", ENVELOPE_ACTION_RESTART, 2));

	replace_file(path, OTHER, 0666);
	r = policy_store_reload(s, NULL, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK(!store_allows(s, "db-1", "c3", ENVELOPE_ACTION_RESTART, 3));

	replace_file(path,
	    "{'host_id':'h2','rules':[{'match':{'name':'db-*'},"
	    "'actions':['RESTART']}]}",
	    0644);
	r = policy_store_reload(s, NULL, &msg);
	CHECK(r == SIGNET_ERR_POLICY);
	CHECK_CONTAINS(msg.text, "is not this agent's host id \"h1\"");
	CHECK(!store_allows(s, "db-1", "c3", ENVELOPE_ACTION_RESTART, 3));

	unlink(path);
	r = policy_store_reload(s, NULL, &msg);
	CHECK(r == SIGNET_ERR_NOT_FOUND);
	CHECK(store_allows(s, "web-3", "c4", ENVELOPE_ACTION_RESTART, 4));

	/*
	 * A good file with the same match (other spacing, one more action):
	 * swapped in, and the rate-limit window carried over.
	 */
	replace_file(path, GOOD_SPACED, 0644);
	r = policy_store_reload(s, NULL, &msg);
	CHECKF(r == 0, "%s", msg.text);
	CHECK(policy_store_generation(s) == 2);
	CHECK(!store_allows(s, "web-1", "c1", ENVELOPE_ACTION_RESTART, 5));
	CHECK(!store_allows(s, "web-1", "c1", ENVELOPE_ACTION_STOP, 5));
	CHECK(store_allows(s, "web-5", "c5", ENVELOPE_ACTION_STOP, 5));

	/* A different match starts with an empty window. */
	replace_file(path,
	    "{'host_id':'h1','rules':[{'match':{'name':'web-?'},"
	    "'actions':['RESTART'],'rate_limit':{'max':1,'per_seconds':3600}}"
	    "]}",
	    0644);
	r = policy_store_reload(s, NULL, &msg);
	CHECKF(r == 0, "%s", msg.text);
	CHECK(store_allows(s, "web-1", "c1", ENVELOPE_ACTION_RESTART, 6));

	/* Reload from another path; the store then follows it. */
	write_file(path2, OTHER, 0644);
	r = policy_store_reload(s, path2, &msg);
	CHECKF(r == 0, "%s", msg.text);
	CHECK(store_allows(s, "db-1", "c3", ENVELOPE_ACTION_RESTART, 7));
	CHECK(!store_allows(s, "web-1", "c9", ENVELOPE_ACTION_RESTART, 7));
	CHECK(policy_store_rule_count(s) == 1);

	/* SIGHUP: the handler only marks; the main loop reloads. */
	sighup_store = s;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGHUP, &sa, NULL) == 0);
	CHECK(policy_store_reload_if_requested(s, &msg) == 0);
	replace_file(path2, GOOD, 0644);
	CHECK(raise(SIGHUP) == 0);
	CHECK(policy_store_reload_if_requested(s, &msg) == 1);
	CHECK(policy_store_reload_if_requested(s, &msg) == 0);
	CHECK(store_allows(s, "web-1", "c1", ENVELOPE_ACTION_RESTART, 8));
	replace_file(path2, "not json", 0644);
	CHECK(raise(SIGHUP) == 0);
	CHECK(policy_store_reload_if_requested(s, &msg) == SIGNET_ERR_POLICY);
	CHECK_CONTAINS(msg.text, "JSON syntax error at line 1, column 1");
	CHECK(store_allows(s, "web-7", "c7", ENVELOPE_ACTION_RESTART, 9));
	signal(SIGHUP, SIG_DFL);
	sighup_store = NULL;

	policy_store_free(s);
	unlink(path);
	unlink(path2);
}

/* Many deciders and a reloader: the count of allowed actions is exact. */
struct hammer {
	struct policy_store *s;
	int allowed;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	int i;

	for (i = 0; i < 2000; i++) {
		if (store_allows(h->s, "web-1", "c1", ENVELOPE_ACTION_RESTART,
		        1000 + i))
			h->allowed++;
	}
	return NULL;
}

static void
test_concurrency(void)
{
	struct policy_store *s = NULL;
	struct hammer h[4];
	pthread_t t[4];
	struct err_msg msg;
	char path[256];
	int i, total = 0;

	(void)snprintf(path, sizeof(path), "%s/conc.json", tmpdir);
	write_file(path,
	    "{'host_id':'h1','rules':[{'match':{'name':'web-*'},"
	    "'actions':['RESTART'],'rate_limit':{'max':100,"
	    "'per_seconds':3600}}]}",
	    0644);
	if (policy_store_open(path, "h1", &s, &msg) != 0) {
		CHECKF(0, "%s", msg.text);
		return;
	}
	for (i = 0; i < 4; i++) {
		h[i].s = s;
		h[i].allowed = 0;
		CHECK(pthread_create(&t[i], NULL, hammer_run, &h[i]) == 0);
	}
	for (i = 0; i < 50; i++)
		CHECK(policy_store_reload(s, NULL, &msg) == 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += h[i].allowed;
	}
	CHECKF(total == 100, "allowed %d", total);
	policy_store_free(s);
	unlink(path);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_reload();
	test_concurrency();
	(void)rmdir(tmpdir);
	return test_finish("test_policy_store");
}
