/* SPDX-License-Identifier: ISC */
/*
 * Tests of the host policy's decisions (agent/policy_eval.c): the
 * table-driven decisions and their explanations, what is not an action,
 * and rate limits.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_fixtures.h"
#include "testlib.h"

static struct policy *
parse_ok(const char *json_sq, const char *host_id)
{
	struct policy *p = NULL;
	struct err_msg msg;
	char *json = dq(json_sq);
	int r;

	r = policy_parse(json, strlen(json), "t.json", host_id, &p, &msg);
	CHECKF(r == 0 && p != NULL, "policy refused: %s", msg.text);
	free(json);
	return p;
}

/* ---- decisions ---- */

static const char *const policies[] = {
	/* 0: name globs */
	"{'host_id':'h1','rules':["
	"{'match':{'name':'web-*'},'actions':['START']},"
	"{'match':{'name':'api-?'},'actions':['START']},"
	"{'match':{'name':'cache-[ab]'},'actions':['START']},"
	"{'match':{'name':'job-[!0-9]*'},'actions':['START']},"
	"{'match':{'name':'app.v2-blue_1'},'actions':['START']},"
	"{'match':{'name':'lit\\\\*star'},'actions':['START']},"
	"{'match':{'name':'n[[:digit:]]'},'actions':['START']}"
	"]}",
	/* 1: images, labels, combined matchers */
	"{'host_id':'h1','rules':["
	"{'match':{'image':'nginx:1.2?'},'actions':['STOP']},"
	"{'match':{'image':'registry.example.org/team/*'},'actions':['STOP']},"
	"{'match':{'image':'redis@sha256:*'},'actions':['STOP']},"
	"{'match':{'labels':{'tier':'frontend','team':'edge'}},"
	"'actions':['RESTART']},"
	"{'match':{'name':'db-*','image':'postgres:15',"
	"'labels':{'role':'primary'}},'actions':['RESTART']}"
	"]}",
	/* 2: operators and reasons */
	"{'host_id':'h1','rules':["
	"{'match':{'name':'db-*'},'actions':['RESTART'],"
	"'operators':['alice','bob'],'min_reason_length':10},"
	"{'match':{'name':'ops-*'},'actions':['START','STOP'],"
	"'min_reason_length':5},"
	"{'match':{'name':'free-*'},'actions':['START']}"
	"]}",
	/* 3: everything, by one operator */
	"{'host_id':'h1','rules':["
	"{'match':{'name':'*'},'actions':['STOP'],'operators':['root-op']}"
	"]}",
};

struct drow {
	int pol;
	const char *name, *image, *labels, *action, *op, *reason;
	int allow;
	int rule;
	enum policy_stage stage;
	const char *text; /* substring of dec.text, or NULL */
};

#define N POLICY_STAGE_NAME
#define I POLICY_STAGE_IMAGE
#define L POLICY_STAGE_LABELS
#define A POLICY_STAGE_ACTION
#define O POLICY_STAGE_OPERATOR
#define R POLICY_STAGE_REASON
#define OK POLICY_STAGE_ALLOWED

static const struct drow drows[] = {
	/* name alone: '*', '?', '[...]', '[!...]', classes, literals */
	{ 0, "web-1", "x", "", "START", "u", "r", 1, 0, OK,
	    "allowed by rule 0" },
	{ 0, "/web-1", "x", "", "START", "u", "r", 1, 0, OK, NULL },
	{ 0, "//web-1", "x", "", "START", "u", "r", 0, -1, N,
	    "name \"/web-1\" does not match \"web-*\"" },
	{ 0, "web-", "x", "", "START", "u", "r", 1, 0, OK, NULL },
	{ 0, "web-a.b-c", "x", "", "START", "u", "r", 1, 0, OK, NULL },
	{ 0, "webx1", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "WEB-1", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "api-1", "x", "", "START", "u", "r", 1, 1, OK, NULL },
	{ 0, "api-12", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "api-", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "cache-a", "x", "", "START", "u", "r", 1, 2, OK, NULL },
	{ 0, "cache-b", "x", "", "START", "u", "r", 1, 2, OK, NULL },
	{ 0, "cache-c", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "job-x1", "x", "", "START", "u", "r", 1, 3, OK, NULL },
	{ 0, "job-1x", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "app.v2-blue_1", "x", "", "START", "u", "r", 1, 4, OK, NULL },
	{ 0, "appXv2-blue_1", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "lit*star", "x", "", "START", "u", "r", 1, 5, OK, NULL },
	{ 0, "litXstar", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "n7", "x", "", "START", "u", "r", 1, 6, OK, NULL },
	{ 0, "nx", "x", "", "START", "u", "r", 0, -1, N, NULL },
	{ 0, "", "x", "", "START", "u", "r", 0, -1, N, NULL },
	/* '*' matches any name, but the operator list still holds */
	{ 3, "anything", "x", "", "STOP", "root-op", "r", 1, 0, OK, NULL },
	{ 3, "", "", "", "STOP", "root-op", "r", 1, 0, OK, NULL },
	{ 3, "anything", "x", "", "STOP", "alice", "r", 0, 0, O,
	    "operator not listed: \"alice\" (nearest rule 0)" },
	{ 3, "anything", "x", "", "START", "root-op", "r", 0, 0, A,
	    "no rule lists this action for this container: START" },
	{ 0, "web-1", "x", "", "RESTART", "u", "r", 0, 0, A,
	    "no rule lists this action for this container: RESTART "
	    "(nearest rule 0)" },
	/* image alone: tags, '?', '/' spanned by '*', digests */
	{ 1, "c", "nginx:1.25", "", "STOP", "u", "r", 1, 0, OK, NULL },
	{ 1, "c", "nginx:1.3", "", "STOP", "u", "r", 0, -1, I, NULL },
	{ 1, "c", "nginx:1.25-alpine", "", "STOP", "u", "r", 0, -1, I, NULL },
	{ 1, "c", "nginx", "", "STOP", "u", "r", 0, -1, I, NULL },
	{ 1, "c", "registry.example.org/team/app:3", "", "STOP", "u", "r", 1, 1,
	    OK, NULL },
	{ 1, "c", "registry.example.org/team/sub/app@sha256:00ff", "", "STOP",
	    "u", "r", 1, 1, OK, NULL },
	{ 1, "c", "registry.example.org/other/app", "", "STOP", "u", "r", 0, -1,
	    I, NULL },
	{ 1, "c",
	    "redis@sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "", "STOP", "u", "r", 1, 2, OK, NULL },
	{ 1, "c", "redis:7", "", "STOP", "u", "r", 0, 0, I,
	    "image \"redis:7\" does not match \"nginx:1.2?\" (nearest rule 0)" },
	/* labels alone: all equal, extra labels fine, missing or different */
	{ 1, "c", "i", "tier=frontend;team=edge", "RESTART", "u", "r", 1, 3, OK,
	    NULL },
	{ 1, "c", "i", "x=1;team=edge;tier=frontend", "RESTART", "u", "r", 1, 3,
	    OK, NULL },
	{ 1, "c", "i", "team=edge", "RESTART", "u", "r", 0, 3, L,
	    "label \"tier\" is missing, rule wants \"frontend\" (nearest rule 3)" },
	{ 1, "c", "i", "tier=frontend;team=core", "RESTART", "u", "r", 0, 3, L,
	    "label \"team\" is \"core\", rule wants \"edge\"" },
	{ 1, "c", "i", "tier=Frontend;team=edge", "RESTART", "u", "r", 0, 3, L,
	    NULL },
	{ 1, "c", "i", "tier=frontend ;team=edge", "RESTART", "u", "r", 0, 3, L,
	    NULL },
	{ 1, "c", "i", "tier=;team=edge", "RESTART", "u", "r", 0, 3, L,
	    "label \"tier\" is \"\", rule wants \"frontend\"" },
	/* combined: each matcher failing alone names the nearest rule 4 */
	{ 1, "db-1", "postgres:15", "role=primary", "RESTART", "u", "r", 1, 4,
	    OK, NULL },
	{ 1, "/db-1", "postgres:15", "role=primary;x=y", "RESTART", "u", "r", 1,
	    4, OK, NULL },
	{ 1, "cache-1", "postgres:15", "role=primary", "RESTART", "u", "r", 0,
	    4, N, "name \"cache-1\" does not match \"db-*\" (nearest rule 4)" },
	{ 1, "db-1", "postgres:16", "role=primary", "RESTART", "u", "r", 0, 4,
	    I, "image \"postgres:16\" does not match \"postgres:15\"" },
	{ 1, "db-1", "postgres:15", "role=replica", "RESTART", "u", "r", 0, 4,
	    L, "label \"role\" is \"replica\", rule wants \"primary\"" },
	{ 1, "db-1", "postgres:15", "role=primary", "START", "u", "r", 0, 4, A,
	    "no rule lists this action for this container: START" },
	/* operators */
	{ 2, "db-1", "i", "", "RESTART", "alice", "0123456789", 1, 0, OK,
	    NULL },
	{ 2, "db-1", "i", "", "RESTART", "bob", "0123456789", 1, 0, OK, NULL },
	{ 2, "db-1", "i", "", "RESTART", "mallory", "0123456789", 0, 0, O,
	    "operator not listed: \"mallory\" (nearest rule 0)" },
	{ 2, "db-1", "i", "", "RESTART", "Alice", "0123456789", 0, 0, O, NULL },
	{ 2, "db-1", "i", "", "RESTART", "", "0123456789", 0, 0, O, NULL },
	{ 2, "db-1", "i", "", "RESTART", "alice2", "0123456789", 0, 0, O,
	    NULL },
	{ 2, "ops-1", "i", "", "START", "anyone", "hello", 1, 1, OK, NULL },
	/* reason length in characters, not bytes */
	{ 2, "db-1", "i", "", "RESTART", "alice", "012345678", 0, 0, R,
	    "reason shorter than 10 characters: 9 given (nearest rule 0)" },
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	    0, 0, R, "9 given" },
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	    1, 0, OK, NULL },
	/* 10 CJK characters, 30 bytes; then 3 characters, 9 bytes */
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86"
	    "\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99",
	    1, 0, OK, NULL },
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0, 0, R, "3 given" },
	/* 4-byte emoji: 10 allowed, 9 (36 bytes) not */
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
	    "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
	    "\xf0\x9f\x99\x82\xf0\x9f\x99\x82",
	    1, 0, OK, NULL },
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
	    "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
	    "\xf0\x9f\x99\x82",
	    0, 0, R, "9 given" },
	/* surrounding white space does not count */
	{ 2, "db-1", "i", "", "RESTART", "alice", "   abc      \t\n", 0, 0, R,
	    "3 given" },
	{ 2, "db-1", "i", "", "RESTART", "alice", "  two words here ", 1, 0, OK,
	    NULL },
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xff\xfe"
	    "0123456789",
	    0, 0, R, "reason is not valid UTF-8" },
	{ 2, "db-1", "i", "", "RESTART", "alice",
	    "\xc0\xaf\xc0\xaf\xc0\xaf\xc0\xaf\xc0\xaf", 0, 0, R, "UTF-8" },
	{ 2, "db-1", "i", "", "RESTART", "alice", "", 0, 0, R, "0 given" },
	{ 2, "ops-1", "i", "", "STOP", "x", "hey", 0, 1, R,
	    "reason shorter than 5 characters: 3 given (nearest rule 1)" },
	{ 2, "ops-1", "i", "", "RESTART", "x", "hello", 0, 1, A,
	    "no rule lists this action" },
	{ 2, "free-1", "i", "", "START", "x", "", 1, 2, OK, NULL },
	{ 2, "nothing", "i", "", "START", "x", "whatever", 0, 0, N, NULL },
};

/* Splits "k=v;k2=v2" into labels (pointers into buf). */
static size_t
split_labels(const char *spec, char *buf, size_t buflen,
    struct policy_label *out, size_t max)
{
	size_t n = 0;
	char *tok, *next, *eq;

	(void)snprintf(buf, buflen, "%s", spec);
	for (tok = buf; *tok != '\0' && n < max; tok = next) {
		next = strchr(tok, ';');
		if (next != NULL)
			*next++ = '\0';
		else
			next = tok + strlen(tok);
		eq = strchr(tok, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		out[n].key = tok;
		out[n].value = eq + 1;
		n++;
	}
	return n;
}

static void
test_decisions(void)
{
	struct policy *ps[sizeof(policies) / sizeof(policies[0])];
	size_t i;

	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		ps[i] = parse_ok(policies[i], "h1");
	for (i = 0; i < sizeof(drows) / sizeof(drows[0]); i++) {
		const struct drow *d = &drows[i];
		struct policy_label labels[8];
		struct policy_request req;
		struct policy_decision dec;
		char lbuf[256];
		int r;

		if (ps[d->pol] == NULL)
			continue;
		memset(&req, 0, sizeof(req));
		req.container_id = "c0ffee";
		req.name = d->name;
		req.image = d->image;
		req.nlabels = split_labels(d->labels, lbuf, sizeof(lbuf),
		    labels, 8);
		req.labels = labels;
		CHECK(policy_action_parse(d->action, &req.action) == 0);
		req.operator_name = d->op;
		req.reason = d->reason;
		req.now_ms = 1000;
		req.operator_signed = true;
		r = policy_decide(ps[d->pol], &req, &dec);
		CHECKF(r == 0, "row %zu: r=%d", i, r);
		CHECKF(dec.allow == (d->allow != 0),
		    "row %zu (%s %s %s): "
		    "allow=%d, %s",
		    i, d->name, d->image, d->action, dec.allow, dec.text);
		if (d->rule >= 0)
			CHECKF(dec.rule == d->rule,
			    "row %zu: rule %d, want %d "
			    "(%s)",
			    i, dec.rule, d->rule, dec.text);
		CHECKF(dec.stage == d->stage, "row %zu: stage %d, want %d (%s)",
		    i, (int)dec.stage, (int)d->stage, dec.text);
		if (d->text != NULL)
			CHECK_CONTAINS(dec.text, d->text);
	}
	printf("decision rows: %zu\n", sizeof(drows) / sizeof(drows[0]));
	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		policy_free(ps[i]);
}

/* ---- rate limits ---- */

struct rstep {
	const char *container;
	const char *op;
	int64_t now_ms;
	int allow;
	int rule;
};

static void
run_steps(struct policy *p, const struct rstep *s, size_t n, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct policy_request req;
		struct policy_decision dec;

		memset(&req, 0, sizeof(req));
		req.container_id = s[i].container;
		req.name = "web-1";
		req.image = "nginx:1";
		req.action = ENVELOPE_ACTION_RESTART;
		req.operator_name = s[i].op;
		req.reason = "a good reason";
		req.now_ms = s[i].now_ms;
		req.operator_signed = true;
		CHECK(policy_decide(p, &req, &dec) == 0);
		CHECKF(dec.allow == (s[i].allow != 0),
		    "%s step %zu (t=%lld "
		    "%s): allow=%d %s",
		    what, i, (long long)s[i].now_ms, s[i].container, dec.allow,
		    dec.text);
		if (s[i].allow)
			CHECKF(dec.rule == s[i].rule, "%s step %zu: rule %d",
			    what, i, dec.rule);
		else
			CHECKF(dec.stage == POLICY_STAGE_RATE,
			    "%s step %zu: "
			    "stage %d %s",
			    what, i, (int)dec.stage, dec.text);
	}
}

static void
test_rate_limits(void)
{
	static const struct rstep basic[] = {
		{ "c1", "u", 0, 1, 0 }, /* below the limit */
		{ "c1", "u", 1000, 1, 0 },
		{ "c1", "u", 2000, 1, 0 },   /* at the limit: 3rd allowed */
		{ "c1", "u", 3000, 0, 0 },   /* above: denied */
		{ "c1", "u", 3001, 0, 0 },   /* denials do not count... */
		{ "c2", "u", 3000, 1, 0 },   /* per container */
		{ "c1", "u", 59999, 0, 0 },  /* t=0 still inside (t-60s, t] */
		{ "c1", "u", 60000, 1, 0 },  /* t=0 left the window */
		{ "c1", "u", 60000, 0, 0 },  /* 1000, 2000, 60000 */
		{ "c1", "u", 62000, 1, 0 },  /* 1000 and 2000 left */
		{ "c1", "u", 500000, 1, 0 }, /* long after the window */
		{ "c1", "u", 500001, 1, 0 }, { "c1", "u", 500002, 1, 0 },
		{ "c1", "u", 500003, 0, 0 },
		{ "c1", "u", 100, 0, 0 }, /* clock stepped back: denied */
	};
	static const struct rstep fallthrough[] = {
		{ "c1", "alice", 0, 1, 0 },
		{ "c1", "alice", 10, 1, 1 }, /* rule 0 full; rule 1 allows */
		{ "c1", "alice", 20, 1, 1 },
		{ "c1", "alice", 30, 0, 0 }, /* both full */
		{ "c1", "bob", 40, 0, 0 },   /* rule 1's count is shared */
		{ "c1", "alice", 3600000, 1, 0 },
	};
	struct policy_request req;
	struct policy_decision dec;
	struct policy *p;

	p = parse_ok(
	    "{'host_id':'h1','rules':[{'match':{'name':'web-*'},"
	    "'actions':['RESTART'],'rate_limit':{'max':3,'per_seconds':60}}]}",
	    NULL);
	if (p != NULL) {
		run_steps(p, basic, sizeof(basic) / sizeof(basic[0]), "basic");
		/* The deny names the limit. */
		memset(&req, 0, sizeof(req));
		req.container_id = "c1";
		req.name = "web-1";
		req.action = ENVELOPE_ACTION_RESTART;
		req.now_ms = 500004;
		req.operator_signed = true;
		CHECK(policy_decide(p, &req, &dec) == 0 && !dec.allow);
		CHECK_CONTAINS(dec.text,
		    "rate limit: 3 in 60 s reached for "
		    "this container (nearest rule 0)");
		/* policy_evaluate judges but does not count. */
		req.container_id = "c3";
		CHECK(policy_evaluate(p, &req, &dec) == 0 && dec.allow);
		CHECK(policy_evaluate(p, &req, &dec) == 0 && dec.allow);
		CHECK(policy_evaluate(p, &req, &dec) == 0 && dec.allow);
		CHECK(policy_evaluate(p, &req, &dec) == 0 && dec.allow);
		/* A container id is required to count. */
		req.container_id = NULL;
		CHECK(policy_decide(p, &req, &dec) == SIGNET_ERR_INVALID_ARG &&
		    !dec.allow);
		policy_free(p);
	}
	p = parse_ok(
	    "{'host_id':'h1','rules':["
	    "{'match':{'name':'web-*'},'actions':['RESTART'],"
	    "'operators':['alice'],'rate_limit':{'max':1,'per_seconds':3600}},"
	    "{'match':{'name':'*'},'actions':['RESTART'],"
	    "'rate_limit':{'max':2,'per_seconds':3600}}]}",
	    NULL);
	if (p != NULL) {
		run_steps(p, fallthrough,
		    sizeof(fallthrough) / sizeof(fallthrough[0]),
		    "fallthrough");
		policy_free(p);
	}
	/* The window holds at most max entries, even at the largest max. */
	p = parse_ok("{'host_id':'h1','rules':[{'match':{'name':'*'},"
	             "'actions':['RESTART'],'rate_limit':{'max':10000,"
	             "'per_seconds':86400}}]}",
	    NULL);
	if (p != NULL) {
		int i, allowed = 0;

		memset(&req, 0, sizeof(req));
		req.container_id = "c1";
		req.name = "x";
		req.action = ENVELOPE_ACTION_RESTART;
		for (i = 0; i < 10005; i++) {
			req.now_ms = i;
			req.operator_signed = true;
			if (policy_decide(p, &req, &dec) == 0 && dec.allow)
				allowed++;
		}
		CHECKF(allowed == 10000, "allowed %d", allowed);
		policy_free(p);
	}
}

/*
 * ENVELOPE_ACTION_NONE and values past RESTART are no actions: denied
 * before any rule, even by a rule that allows every action to everyone,
 * and never counted in a rate-limit window.
 */
static void
test_not_an_action(void)
{
	static const struct {
		int action;
		const char *text;
	} rows[] = {
		{ ENVELOPE_ACTION_NONE,
		    "denied: action value 0 is not START, STOP or RESTART "
		    "(NONE: no action)" },
		{ ENVELOPE_ACTION_RESTART + 1,
		    "denied: action value 4 is not START, STOP or RESTART" },
		{ -1, "denied: action value -1 is not START, STOP or RESTART" },
		{ 1 << 20,
		    "denied: action value 1048576 is not START, STOP or RESTART" },
	};
	struct policy *p = parse_ok("{'host_id':'h1','rules':["
	                            "{'match':{'name':'*'},"
	                            "'actions':['START','STOP','RESTART'],"
	                            "'rate_limit':{'max':1,'per_seconds':60}}"
	                            "]}",
	    NULL);
	struct policy_request req;
	struct policy_decision dec;
	enum envelope_action a = ENVELOPE_ACTION_STOP;
	char why[ERR_MSG_MAX];
	size_t i;

	CHECK(policy_action_parse("NONE", &a) == SIGNET_ERR_FORMAT &&
	    a == ENVELOPE_ACTION_STOP);
	CHECK(policy_action_parse("", &a) == SIGNET_ERR_FORMAT);
	CHECK(
	    strcmp(policy_action_name(ENVELOPE_ACTION_RESTART + 1), "?") == 0);
	CHECK(strcmp(policy_action_name((enum envelope_action) - 1), "?") == 0);
	if (p == NULL)
		return;
	memset(&req, 0, sizeof(req));
	req.container_id = "c1";
	req.name = "web-1";
	req.image = "nginx:1";
	req.operator_name = "alice";
	req.reason = "a good reason";
	req.now_ms = 1000;
	req.operator_signed = true;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		req.action = (enum envelope_action)rows[i].action;
		memset(&dec, 0, sizeof(dec));
		dec.allow = true;
		CHECKF(policy_decide(p, &req, &dec) == 0 && !dec.allow &&
		        dec.rule == -1 && dec.stage == POLICY_STAGE_ACTION,
		    "row %zu: allow=%d rule=%d stage=%d %s", i, dec.allow,
		    dec.rule, (int)dec.stage, dec.text);
		CHECKF(strcmp(dec.text, rows[i].text) == 0, "row %zu: %s", i,
		    dec.text);
		dec.allow = true;
		CHECK(policy_evaluate(p, &req, &dec) == 0 && !dec.allow &&
		    dec.stage == POLICY_STAGE_ACTION);
		CHECK(policy_rule_check(p, 0, &req, why, sizeof(why)) ==
		    POLICY_STAGE_ACTION);
		CHECK_CONTAINS(why, "action ? not listed");
	}
	/* Nothing was counted: the one allowed action is still there. */
	req.action = ENVELOPE_ACTION_START;
	CHECK(policy_decide(p, &req, &dec) == 0 && dec.allow && dec.rule == 0);
	CHECK(policy_decide(p, &req, &dec) == 0 && !dec.allow &&
	    dec.stage == POLICY_STAGE_RATE);
	policy_free(p);
}

/* ---- operator signatures, request lifetimes, approvals ---- */

static const char signing_policy[] =
    "{'host_id':'h1','rules':["
    /* 0 */ "{'match':{'name':'db-*'},'actions':['STOP'],"
    "'approvals':[{'group':'dba','count':1},{'group':'sre','count':1}],"
    "'approval_wait':600},"
    /* 1 */ "{'match':{'name':'web-*'},'actions':['RESTART'],"
    "'accept_relay_signed':true},"
    /* 2 */ "{'match':{'name':'api-*'},'actions':['RESTART']},"
    /* 3 */ "{'match':{'name':'pair-*'},'actions':['STOP'],"
    "'approvals':[{'group':'dba','count':2}]},"
    /* 4 */ "{'match':{'name':'auto-*'},'actions':['START'],"
    "'accept_relay_signed':false},"
    /* 5 */ "{'match':{'name':'mix-*'},'actions':['RESTART'],"
    "'operators':['bob'],'accept_relay_signed':true},"
    /* 6 */ "{'match':{'name':'mix-*'},'actions':['RESTART'],"
    "'approvals':[{'group':'dba','count':1}]}"
    "]}";

struct srow {
	const char *name, *action, *op;
	bool sig;
	int64_t life_ms;
	/* "name[@key]:group,group;..." (key defaults to the name) */
	const char *approvers;
	int allow;
	int rule;
	enum policy_stage stage;
	const char *text; /* the whole dec.text, or NULL */
};

#define SG POLICY_STAGE_SIGNED
#define LT POLICY_STAGE_LIFETIME
#define AP POLICY_STAGE_APPROVALS

static const struct srow srows[] = {
	/* an operator signature is required by default */
	{ "api-1", "RESTART", "alice", false, 0, "", 0, 2, SG,
	    "rule requires an operator-signed request; this action is "
	    "signed by the relay only (nearest rule 2)" },
	{ "auto-1", "START", "alice", false, 0, "", 0, 4, SG, NULL },
	{ "api-1", "RESTART", "alice", true, 0, "", 1, 2, OK,
	    "allowed by rule 2" },
	{ "auto-1", "START", "alice", true, 120000, "", 1, 4, OK, NULL },
	/* ... unless the rule accepts relay-signed actions */
	{ "web-1", "RESTART", "alice", false, 0, "", 1, 1, OK,
	    "allowed by rule 1" },
	{ "web-1", "RESTART", "alice", true, 300000, "", 1, 1, OK, NULL },
	/* an operator's request lives at most 300 s without approvals */
	{ "api-1", "RESTART", "alice", true, 300000, "", 1, 2, OK, NULL },
	{ "api-1", "RESTART", "alice", true, 300001, "", 0, 2, LT,
	    "request lives 301 s; rule allows at most 300 s (nearest rule 2)" },
	{ "web-1", "RESTART", "alice", true, 4000000, "", 0, 1, LT,
	    "request lives 4000 s; rule allows at most 300 s (nearest rule 1)" },
	{ "api-1", "RESTART", "alice", true, -1, "", 0, 2, LT,
	    "request expires before it was issued (lifetime -1 ms) "
	    "(nearest rule 2)" },
	/* ... and approval_wait + 300 s with approvals */
	{ "db-1", "STOP", "alice", true, 900000, "dan:dba;sam:sre", 1, 0, OK,
	    NULL },
	{ "db-1", "STOP", "alice", true, 900001, "dan:dba;sam:sre", 0, 0, LT,
	    "request lives 901 s; rule allows at most 900 s (nearest rule 0)" },
	{ "pair-1", "STOP", "alice", true, 3900000, "dan:dba;dora:dba", 1, 3,
	    OK, NULL },
	{ "pair-1", "STOP", "alice", true, 3900001, "dan:dba;dora:dba", 0, 3,
	    LT, "rule allows at most 3900 s" },
	/* approvals need an operator signature first */
	{ "db-1", "STOP", "alice", false, 0, "dan:dba;sam:sre", 0, 0, SG,
	    NULL },
	/* none given, one short, satisfied */
	{ "db-1", "STOP", "alice", true, 60000, "", 0, 0, AP,
	    "approvals: 1 of \"dba\" needed, 0 counted; 1 of \"sre\" needed, "
	    "0 counted (nearest rule 0)" },
	{ "db-1", "STOP", "alice", true, 60000, "sam:sre", 0, 0, AP,
	    "approvals: 1 of \"dba\" needed, 0 counted; 1 of \"sre\" needed, "
	    "1 counted (sam) (nearest rule 0)" },
	{ "db-1", "STOP", "alice", true, 60000, "dan:dba;sam:sre", 1, 0, OK,
	    "allowed by rule 0" },
	{ "db-1", "STOP", "alice", true, 60000, "sam:sre;dan:dba;zed:web", 1, 0,
	    OK, NULL },
	/* one person in both groups cannot fill two terms */
	{ "db-1", "STOP", "alice", true, 60000, "carol:dba,sre", 0, 0, AP,
	    "approvals: 1 of \"dba\" needed, 1 counted (carol); 1 of \"sre\" "
	    "needed, 0 counted (nearest rule 0)" },
	/* two people each in both groups can */
	{ "db-1", "STOP", "alice", true, 60000, "carol:dba,sre;dave:sre,dba", 1,
	    0, OK, NULL },
	/* carol is first put in dba, then moved to sre to make room for dan */
	{ "db-1", "STOP", "alice", true, 60000, "carol:dba,sre;dan:dba", 1, 0,
	    OK, NULL },
	{ "db-1", "STOP", "alice", true, 60000, "carol:sre,dba;sam:sre", 1, 0,
	    OK, NULL },
	/* one key counts once, even under two names; one name once */
	{ "db-1", "STOP", "alice", true, 60000, "dan@k1:dba;sam@k1:sre", 0, 0,
	    AP,
	    "approvals: 1 of \"dba\" needed, 1 counted (dan); 1 of \"sre\" "
	    "needed, 0 counted (nearest rule 0)" },
	{ "db-1", "STOP", "alice", true, 60000, "dan@k1:dba;dan@k2:sre", 0, 0,
	    AP, NULL },
	/* the requester never counts, nor an approver without a key */
	{ "db-1", "STOP", "alice", true, 60000, "alice:sre;dan:dba", 0, 0, AP,
	    "approvals: 1 of \"dba\" needed, 1 counted (dan); 1 of \"sre\" "
	    "needed, 0 counted (nearest rule 0)" },
	{ "db-1", "STOP", "alice", true, 60000, "sam@:sre;dan:dba", 0, 0, AP,
	    NULL },
	/* count 2 of one group */
	{ "pair-1", "STOP", "alice", true, 60000, "dan:dba", 0, 3, AP,
	    "approvals: 2 of \"dba\" needed, 1 counted (dan) (nearest rule 3)" },
	{ "pair-1", "STOP", "alice", true, 60000, "dan:dba;sam:sre", 0, 3, AP,
	    NULL },
	{ "pair-1", "STOP", "alice", true, 60000, "dan:dba;dora:dba,sre", 1, 3,
	    OK, NULL },
	{ "pair-1", "STOP", "alice", true, 60000, "dan:dba;dan@k2:dba", 0, 3,
	    AP, NULL },
	/* the nearest rule: the later stage wins, ties go to the earlier */
	{ "mix-1", "RESTART", "alice", false, 0, "", 0, 5,
	    POLICY_STAGE_OPERATOR,
	    "operator not listed: \"alice\" (nearest rule 5)" },
	{ "mix-1", "RESTART", "alice", true, 60000, "", 0, 6, AP,
	    "approvals: 1 of \"dba\" needed, 0 counted (nearest rule 6)" },
	{ "mix-1", "RESTART", "bob", true, 400000, "", 0, 6, AP, NULL },
	{ "mix-1", "RESTART", "bob", true, 4000000, "", 0, 5, LT,
	    "request lives 4000 s; rule allows at most 300 s (nearest rule 5)" },
	{ "mix-1", "RESTART", "bob", false, 0, "", 1, 5, OK, NULL },
	{ "mix-1", "RESTART", "alice", true, 60000, "dan:dba", 1, 6, OK, NULL },
};

#define APPROVERS_T 8
#define GROUPS_T 4

/* Splits an approver spec of struct srow into ap (pointers into buf). */
static size_t
split_approvers(const char *spec, char *buf, size_t buflen,
    struct policy_approver *ap, const char *groups[][GROUPS_T])
{
	char *tok, *next, *colon, *at, *g, *comma;
	size_t n = 0;

	(void)snprintf(buf, buflen, "%s", spec);
	for (tok = buf; *tok != '\0' && n < APPROVERS_T; tok = next) {
		next = strchr(tok, ';');
		if (next != NULL)
			*next++ = '\0';
		else
			next = tok + strlen(tok);
		colon = strchr(tok, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		memset(&ap[n], 0, sizeof(ap[n]));
		ap[n].name = tok;
		ap[n].key_id = tok;
		at = strchr(tok, '@');
		if (at != NULL) {
			*at = '\0';
			ap[n].key_id = at + 1;
		}
		for (g = colon + 1; g != NULL && ap[n].ngroups < GROUPS_T;
		     g = comma) {
			comma = strchr(g, ',');
			if (comma != NULL)
				*comma++ = '\0';
			groups[n][ap[n].ngroups++] = g;
		}
		ap[n].groups = groups[n];
		n++;
	}
	return n;
}

static void
test_signing(void)
{
	struct policy *p = parse_ok(signing_policy, "h1");
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < sizeof(srows) / sizeof(srows[0]); i++) {
		const struct srow *d = &srows[i];
		struct policy_approver ap[APPROVERS_T];
		const char *groups[APPROVERS_T][GROUPS_T];
		struct policy_request req;
		struct policy_decision dec;
		char abuf[256], why[ERR_MSG_MAX];
		enum policy_stage st;

		memset(&req, 0, sizeof(req));
		req.container_id = "c0ffee";
		req.name = d->name;
		req.image = "i";
		CHECK(policy_action_parse(d->action, &req.action) == 0);
		req.operator_name = d->op;
		req.reason = "a reason";
		req.now_ms = 1000;
		req.operator_signed = d->sig;
		req.request_lifetime_ms = d->life_ms;
		req.napprovers = split_approvers(d->approvers, abuf,
		    sizeof(abuf), ap, groups);
		req.approvers = req.napprovers > 0 ? ap : NULL;
		CHECKF(policy_decide(p, &req, &dec) == 0, "srow %zu", i);
		CHECKF(dec.allow == (d->allow != 0) && dec.rule == d->rule &&
		        dec.stage == d->stage,
		    "srow %zu (%s %s): allow=%d rule=%d stage=%d: %s", i,
		    d->name, d->approvers, dec.allow, dec.rule, (int)dec.stage,
		    dec.text);
		if (d->text != NULL && strstr(d->text, "(nearest") == NULL &&
		    strncmp(d->text, "allowed", 7) != 0)
			CHECK_CONTAINS(dec.text, d->text);
		else if (d->text != NULL)
			CHECKF(strcmp(dec.text, d->text) == 0,
			    "srow %zu: \"%s\", want \"%s\"", i, dec.text,
			    d->text);
		/* The nearest rule's own judgement says the same. */
		st = policy_rule_check(p, (size_t)d->rule, &req, why,
		    sizeof(why));
		CHECKF(st == d->stage, "srow %zu: rule_check stage %d", i,
		    (int)st);
		if (!d->allow)
			CHECKF(strncmp(dec.text, why, strlen(why)) == 0,
			    "srow %zu: \"%s\" vs \"%s\"", i, why, dec.text);
	}
	printf("signing rows: %zu\n", sizeof(srows) / sizeof(srows[0]));
	policy_free(p);
}

/*
 * Approvers past POLICY_APPROVERS_MAX are not judged; a NULL list with a
 * count is none; groups and names may be NULL.
 */
static void
test_approver_edges(void)
{
	static const char *const dba[] = { "dba" };
	static const char *const odd[] = { NULL, "dba" };
	struct policy *p = parse_ok(
	    "{'host_id':'h1','rules':[{'match':{'name':'*'},"
	    "'actions':['STOP'],'approvals':[{'group':'dba','count':1}]}]}",
	    "h1");
	struct policy_approver *many = NULL;
	struct policy_request req;
	struct policy_decision dec;
	char(*keys)[16] = NULL;
	size_t i;

	if (p == NULL)
		return;
	memset(&req, 0, sizeof(req));
	req.container_id = "c1";
	req.name = "x";
	req.action = ENVELOPE_ACTION_STOP;
	req.operator_name = "alice";
	req.operator_signed = true;
	req.napprovers = 3;
	CHECK(policy_decide(p, &req, &dec) == 0 && !dec.allow &&
	    dec.stage == POLICY_STAGE_APPROVALS);
	many = calloc(POLICY_APPROVERS_MAX + 1, sizeof(*many));
	keys = calloc(POLICY_APPROVERS_MAX + 1, sizeof(*keys));
	CHECK(many != NULL && keys != NULL);
	if (many == NULL || keys == NULL)
		goto out;
	for (i = 0; i <= POLICY_APPROVERS_MAX; i++) {
		(void)snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		many[i].name = keys[i];
		many[i].key_id = keys[i];
	}
	many[POLICY_APPROVERS_MAX].groups = dba;
	many[POLICY_APPROVERS_MAX].ngroups = 1;
	req.approvers = many;
	req.napprovers = POLICY_APPROVERS_MAX + 1;
	CHECK(policy_decide(p, &req, &dec) == 0 && !dec.allow &&
	    dec.stage == POLICY_STAGE_APPROVALS);
	many[POLICY_APPROVERS_MAX - 1].groups = odd;
	many[POLICY_APPROVERS_MAX - 1].ngroups = 2;
	many[0].name = NULL;
	CHECK(policy_decide(p, &req, &dec) == 0 && dec.allow);
out:
	free(many);
	free(keys);
	policy_free(p);
}

int
main(void)
{
	test_decisions();
	test_signing();
	test_approver_edges();
	test_not_an_action();
	test_rate_limits();
	return test_finish("test_policy_eval");
}
