/* SPDX-License-Identifier: ISC */
/*
 * Tests of the host policy engine: decisions (table-driven), rate limits,
 * every parse refusal with its message, file permission refusals, reload
 * keeping the old policy, and concurrent decisions with reloads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "policy_store.h"
#include "testlib.h"

/* JSON in the tables is written with ' for " to stay readable. */
static char *
dq(const char *s)
{
	char *o = strdup(s);
	size_t i;

	if (o == NULL) {
		perror("strdup");
		exit(2);
	}
	for (i = 0; o[i] != '\0'; i++) {
		if (o[i] == '\'')
			o[i] = '"';
	}
	return o;
}

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
    {0, "web-1", "x", "", "START", "u", "r", 1, 0, OK, "allowed by rule 0"},
    {0, "/web-1", "x", "", "START", "u", "r", 1, 0, OK, NULL},
    {0, "//web-1", "x", "", "START", "u", "r", 0, -1, N,
        "name \"/web-1\" does not match \"web-*\""},
    {0, "web-", "x", "", "START", "u", "r", 1, 0, OK, NULL},
    {0, "web-a.b-c", "x", "", "START", "u", "r", 1, 0, OK, NULL},
    {0, "webx1", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "WEB-1", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "api-1", "x", "", "START", "u", "r", 1, 1, OK, NULL},
    {0, "api-12", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "api-", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "cache-a", "x", "", "START", "u", "r", 1, 2, OK, NULL},
    {0, "cache-b", "x", "", "START", "u", "r", 1, 2, OK, NULL},
    {0, "cache-c", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "job-x1", "x", "", "START", "u", "r", 1, 3, OK, NULL},
    {0, "job-1x", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "app.v2-blue_1", "x", "", "START", "u", "r", 1, 4, OK, NULL},
    {0, "appXv2-blue_1", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "lit*star", "x", "", "START", "u", "r", 1, 5, OK, NULL},
    {0, "litXstar", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "n7", "x", "", "START", "u", "r", 1, 6, OK, NULL},
    {0, "nx", "x", "", "START", "u", "r", 0, -1, N, NULL},
    {0, "", "x", "", "START", "u", "r", 0, -1, N, NULL},
    /* '*' matches any name, but the operator list still holds */
    {3, "anything", "x", "", "STOP", "root-op", "r", 1, 0, OK, NULL},
    {3, "", "", "", "STOP", "root-op", "r", 1, 0, OK, NULL},
    {3, "anything", "x", "", "STOP", "alice", "r", 0, 0, O,
        "operator not listed: \"alice\" (nearest rule 0)"},
    {3, "anything", "x", "", "START", "root-op", "r", 0, 0, A,
        "no rule lists this action for this container: START"},
    {0, "web-1", "x", "", "RESTART", "u", "r", 0, 0, A,
        "no rule lists this action for this container: RESTART "
        "(nearest rule 0)"},
    /* image alone: tags, '?', '/' spanned by '*', digests */
    {1, "c", "nginx:1.25", "", "STOP", "u", "r", 1, 0, OK, NULL},
    {1, "c", "nginx:1.3", "", "STOP", "u", "r", 0, -1, I, NULL},
    {1, "c", "nginx:1.25-alpine", "", "STOP", "u", "r", 0, -1, I, NULL},
    {1, "c", "nginx", "", "STOP", "u", "r", 0, -1, I, NULL},
    {1, "c", "registry.example.org/team/app:3", "", "STOP", "u", "r", 1, 1, OK,
        NULL},
    {1, "c", "registry.example.org/team/sub/app@sha256:00ff", "", "STOP", "u",
        "r", 1, 1, OK, NULL},
    {1, "c", "registry.example.org/other/app", "", "STOP", "u", "r", 0, -1, I,
        NULL},
    {1, "c",
        "redis@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "", "STOP", "u", "r", 1, 2, OK, NULL},
    {1, "c", "redis:7", "", "STOP", "u", "r", 0, 0, I,
        "image \"redis:7\" does not match \"nginx:1.2?\" (nearest rule 0)"},
    /* labels alone: all equal, extra labels fine, missing or different */
    {1, "c", "i", "tier=frontend;team=edge", "RESTART", "u", "r", 1, 3, OK,
        NULL},
    {1, "c", "i", "x=1;team=edge;tier=frontend", "RESTART", "u", "r", 1, 3, OK,
        NULL},
    {1, "c", "i", "team=edge", "RESTART", "u", "r", 0, 3, L,
        "label \"tier\" is missing, rule wants \"frontend\" (nearest rule 3)"},
    {1, "c", "i", "tier=frontend;team=core", "RESTART", "u", "r", 0, 3, L,
        "label \"team\" is \"core\", rule wants \"edge\""},
    {1, "c", "i", "tier=Frontend;team=edge", "RESTART", "u", "r", 0, 3, L,
        NULL},
    {1, "c", "i", "tier=frontend ;team=edge", "RESTART", "u", "r", 0, 3, L,
        NULL},
    {1, "c", "i", "tier=;team=edge", "RESTART", "u", "r", 0, 3, L,
        "label \"tier\" is \"\", rule wants \"frontend\""},
    /* combined: each matcher failing alone names the nearest rule 4 */
    {1, "db-1", "postgres:15", "role=primary", "RESTART", "u", "r", 1, 4, OK,
        NULL},
    {1, "/db-1", "postgres:15", "role=primary;x=y", "RESTART", "u", "r", 1, 4,
        OK, NULL},
    {1, "cache-1", "postgres:15", "role=primary", "RESTART", "u", "r", 0, 4, N,
        "name \"cache-1\" does not match \"db-*\" (nearest rule 4)"},
    {1, "db-1", "postgres:16", "role=primary", "RESTART", "u", "r", 0, 4, I,
        "image \"postgres:16\" does not match \"postgres:15\""},
    {1, "db-1", "postgres:15", "role=replica", "RESTART", "u", "r", 0, 4, L,
        "label \"role\" is \"replica\", rule wants \"primary\""},
    {1, "db-1", "postgres:15", "role=primary", "START", "u", "r", 0, 4, A,
        "no rule lists this action for this container: START"},
    /* operators */
    {2, "db-1", "i", "", "RESTART", "alice", "0123456789", 1, 0, OK, NULL},
    {2, "db-1", "i", "", "RESTART", "bob", "0123456789", 1, 0, OK, NULL},
    {2, "db-1", "i", "", "RESTART", "mallory", "0123456789", 0, 0, O,
        "operator not listed: \"mallory\" (nearest rule 0)"},
    {2, "db-1", "i", "", "RESTART", "Alice", "0123456789", 0, 0, O, NULL},
    {2, "db-1", "i", "", "RESTART", "", "0123456789", 0, 0, O, NULL},
    {2, "db-1", "i", "", "RESTART", "alice2", "0123456789", 0, 0, O, NULL},
    {2, "ops-1", "i", "", "START", "anyone", "hello", 1, 1, OK, NULL},
    /* reason length in characters, not bytes */
    {2, "db-1", "i", "", "RESTART", "alice", "012345678", 0, 0, R,
        "reason shorter than 10 characters: 9 given (nearest rule 0)"},
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        0, 0, R, "9 given"},
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        1, 0, OK, NULL},
    /* 10 CJK characters, 30 bytes; then 3 characters, 9 bytes */
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86"
        "\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99",
        1, 0, OK, NULL},
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0, 0, R, "3 given"},
    /* 4-byte emoji: 10 allowed, 9 (36 bytes) not */
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
        "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
        "\xf0\x9f\x99\x82\xf0\x9f\x99\x82",
        1, 0, OK, NULL},
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
        "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82"
        "\xf0\x9f\x99\x82",
        0, 0, R, "9 given"},
    /* surrounding white space does not count */
    {2, "db-1", "i", "", "RESTART", "alice", "   abc      \t\n", 0, 0, R,
        "3 given"},
    {2, "db-1", "i", "", "RESTART", "alice", "  two words here ", 1, 0, OK,
        NULL},
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xff\xfe"
        "0123456789",
        0, 0, R, "reason is not valid UTF-8"},
    {2, "db-1", "i", "", "RESTART", "alice",
        "\xc0\xaf\xc0\xaf\xc0\xaf\xc0\xaf\xc0\xaf", 0, 0, R, "UTF-8"},
    {2, "db-1", "i", "", "RESTART", "alice", "", 0, 0, R, "0 given"},
    {2, "ops-1", "i", "", "STOP", "x", "hey", 0, 1, R,
        "reason shorter than 5 characters: 3 given (nearest rule 1)"},
    {2, "ops-1", "i", "", "RESTART", "x", "hello", 0, 1, A,
        "no rule lists this action"},
    {2, "free-1", "i", "", "START", "x", "", 1, 2, OK, NULL},
    {2, "nothing", "i", "", "START", "x", "whatever", 0, 0, N, NULL},
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
		req.nlabels =
		    split_labels(d->labels, lbuf, sizeof(lbuf), labels, 8);
		req.labels = labels;
		CHECK(policy_action_parse(d->action, &req.action) == 0);
		req.operator_name = d->op;
		req.reason = d->reason;
		req.now_ms = 1000;
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
	    {"c1", "u", 0, 1, 0}, /* below the limit */
	    {"c1", "u", 1000, 1, 0},
	    {"c1", "u", 2000, 1, 0},   /* at the limit: 3rd allowed */
	    {"c1", "u", 3000, 0, 0},   /* above: denied */
	    {"c1", "u", 3001, 0, 0},   /* denials do not count... */
	    {"c2", "u", 3000, 1, 0},   /* per container */
	    {"c1", "u", 59999, 0, 0},  /* t=0 still inside (t-60s, t] */
	    {"c1", "u", 60000, 1, 0},  /* t=0 left the window */
	    {"c1", "u", 60000, 0, 0},  /* 1000, 2000, 60000 */
	    {"c1", "u", 62000, 1, 0},  /* 1000 and 2000 left */
	    {"c1", "u", 500000, 1, 0}, /* long after the window */
	    {"c1", "u", 500001, 1, 0}, {"c1", "u", 500002, 1, 0},
	    {"c1", "u", 500003, 0, 0},
	    {"c1", "u", 100, 0, 0}, /* clock stepped back: denied */
	};
	static const struct rstep fallthrough[] = {
	    {"c1", "alice", 0, 1, 0},
	    {"c1", "alice", 10, 1, 1}, /* rule 0 full; rule 1 allows */
	    {"c1", "alice", 20, 1, 1},
	    {"c1", "alice", 30, 0, 0}, /* both full */
	    {"c1", "bob", 40, 0, 0},   /* rule 1's count is shared */
	    {"c1", "alice", 3600000, 1, 0},
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
		CHECK(policy_decide(p, &req, &dec) == 0 && !dec.allow);
		CHECK_CONTAINS(dec.text, "rate limit: 3 in 60 s reached for "
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
			if (policy_decide(p, &req, &dec) == 0 && dec.allow)
				allowed++;
		}
		CHECKF(allowed == 10000, "allowed %d", allowed);
		policy_free(p);
	}
}

/* ---- parse refusals ---- */

struct prow {
	const char *json; /* ' for " */
	const char *host_id;
	int code;
	const char *want; /* substring of the message */
};

#define RULE "{'match':{'name':'a'},'actions':['START']}"
#define WRAP(r) "{'host_id':'h1','rules':[" r "]}"

static const struct prow prows[] = {
    /* unknown keys at every level */
    {"{'host_id':'h1','rules':[" RULE "],'extra':1}", NULL, SIGNET_ERR_POLICY,
        "t.json: unknown key \"extra\" at top level; "
        "allowed: host_id, rules, comment"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],'action':'STOP'}"), NULL,
        SIGNET_ERR_POLICY, "unknown key \"action\" at rules[0]"},
    {WRAP(RULE ",{'match':{'imgae':'a'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY,
        "unknown key \"imgae\" at rules[1].match; "
        "allowed: name, image, labels"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':1,'window':5}}"),
        NULL, SIGNET_ERR_POLICY,
        "unknown key \"window\" at rules[0].rate_limit"},
    /* wrong types */
    {"{'host_id':7,'rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
        "expected a string, found a number at host_id"},
    {"{'host_id':'h1','rules':{}}", NULL, SIGNET_ERR_POLICY,
        "expected an array, found an object at rules"},
    {WRAP("{'match':{'name':'a'},'actions':'START'}"), NULL, SIGNET_ERR_POLICY,
        "expected an array, found a string at "
        "rules[0].actions"},
    {WRAP("{'match':{'name':'a'},'actions':[true]}"), NULL, SIGNET_ERR_POLICY,
        "expected a string, found a boolean at "
        "rules[0].actions[0]"},
    {WRAP("{'match':{'labels':{'tier':1}},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY,
        "expected a string, found a number at "
        "rules[0].match.labels.tier"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'min_reason_length':'10'}"),
        NULL, SIGNET_ERR_POLICY,
        "expected an integer, found a string at rules[0].min_reason_length"},
    {WRAP("{'match':{'name':null},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "found null at rules[0].match.name"},
    {WRAP("[]"), NULL, SIGNET_ERR_POLICY,
        "expected an object (a rule), found an array at rules[0]"},
    {"[]", NULL, SIGNET_ERR_POLICY,
        "expected an object, found an array at top level"},
    {"{'host_id':'h1','rules':[" RULE "],'comment':5}", NULL, SIGNET_ERR_POLICY,
        "expected a string, found a number at comment"},
    /* missing and empty */
    {"{'rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
        "missing required key \"host_id\" at top level"},
    {"{'host_id':'h1'}", NULL, SIGNET_ERR_POLICY,
        "missing required key \"rules\" at top level"},
    {"{'host_id':'h1','rules':[]}", NULL, SIGNET_ERR_POLICY,
        "empty rules at rules"},
    {WRAP("{'actions':['START']}"), NULL, SIGNET_ERR_POLICY,
        "missing required key \"match\" at rules[0]"},
    {WRAP("{'match':{'name':'a'}}"), NULL, SIGNET_ERR_POLICY,
        "missing required key \"actions\" at rules[0]"},
    {WRAP("{'match':{},'actions':['START']}"), NULL, SIGNET_ERR_POLICY,
        "empty match at rules[0].match; use \"name\": \"*\""},
    {WRAP("{'match':{'labels':{}},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "empty labels at rules[0].match.labels"},
    {WRAP("{'match':{'name':'a'},'actions':[]}"), NULL, SIGNET_ERR_POLICY,
        "empty actions at rules[0].actions"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],'operators':[]}"), NULL,
        SIGNET_ERR_POLICY, "empty operators at rules[0].operators"},
    {WRAP("{'match':{'name':''},'actions':['START']}"), NULL, SIGNET_ERR_POLICY,
        "empty string at rules[0].match.name"},
    {WRAP("{'match':{'image':''},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "empty string at rules[0].match.image"},
    {WRAP("{'match':{'labels':{'':'x'}},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "empty label key at rules[0].match.labels"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':1}}"),
        NULL, SIGNET_ERR_POLICY,
        "missing required key \"per_seconds\" at rules[0].rate_limit"},
    /* actions */
    {WRAP("{'match':{'name':'a'},'actions':['START','REBOOT']}"), NULL,
        SIGNET_ERR_POLICY,
        "unknown action \"REBOOT\" at rules[0].actions[1]"
        "; use START, STOP or RESTART"},
    {WRAP("{'match':{'name':'a'},'actions':['start']}"), NULL,
        SIGNET_ERR_POLICY, "unknown action \"start\" at rules[0].actions[0]"},
    {WRAP("{'match':{'name':'a'},'actions':['START','STOP','START']}"), NULL,
        SIGNET_ERR_POLICY, "duplicate action \"START\" at rules[0].actions[2]"},
    /* globs */
    {WRAP("{'match':{'name':'web-['},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY,
        "bad glob \"web-[\": unbalanced '[' (write \\[ "
        "for a literal bracket) at rules[0].match.name"},
    {WRAP("{'match':{'image':'nginx:1\\\\'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY,
        "bad glob \"nginx:1\\\\\": trailing backslash "
        "at rules[0].match.image"},
    {WRAP("{'match':{'name':'a[[:foo:]]'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY,
        "unknown or unterminated [:class:] at "
        "rules[0].match.name"},
    {WRAP("{'match':{'name':'a[z-a]'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "reversed range at rules[0].match.name"},
    {WRAP("{'match':{'name':'a[]'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "unbalanced '['"},
    {WRAP("{'match':{'name':'caf\xc3\xa9'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "only printable ASCII is allowed in a glob"},
    /* host_id */
    {"{'host_id':'h1','rules':[" RULE "]}", "web-02", SIGNET_ERR_POLICY,
        "t.json: host_id \"h1\" is not this agent's host id \"web-02\" at "
        "host_id"},
    {"{'host_id':'Web_01','rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
        "bad host id \"Web_01\" at host_id"},
    {"{'host_id':'','rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
        "empty string at host_id"},
    /* operators */
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'operators':['Alice']}"),
        NULL, SIGNET_ERR_POLICY,
        "bad operator name \"Alice\" at rules[0].operators[0]; names match "
        "[a-z0-9][a-z0-9._-]{0,62}"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'operators':['bob','']}"),
        NULL, SIGNET_ERR_POLICY,
        "bad operator name \"\" at rules[0].operators[1]"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'operators':['bob','bob']}"),
        NULL, SIGNET_ERR_POLICY,
        "duplicate operator \"bob\" at rules[0].operators[1]"},
    /* numbers: negative, absurd, zero max, floats */
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'min_reason_length':-1}"),
        NULL, SIGNET_ERR_POLICY,
        "value -1 out of range 0..512 at rules[0].min_reason_length"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'min_reason_length':513}"),
        NULL, SIGNET_ERR_POLICY, "value 513 out of range 0..512"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':0,'per_seconds':60}}"),
        NULL, SIGNET_ERR_POLICY,
        "value 0 out of range 1..10000 at rules[0].rate_limit.max"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':10001,'per_seconds':60}}"),
        NULL, SIGNET_ERR_POLICY, "value 10001 out of range 1..10000"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':5,'per_seconds':86401}}"),
        NULL, SIGNET_ERR_POLICY,
        "value 86401 out of range 1..86400 at "
        "rules[0].rate_limit.per_seconds"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':5,'per_seconds':-60}}"),
        NULL, SIGNET_ERR_POLICY, "value -60 out of range 1..86400"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':5,'per_seconds':99999999999999999999}}"),
        NULL, SIGNET_ERR_POLICY, "out of range 1..86400"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':1.5,'per_seconds':60}}"),
        NULL, SIGNET_ERR_POLICY,
        "number 1.5 is not a plain integer at "
        "rules[0].rate_limit.max"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':5.0,'per_seconds':60}}"),
        NULL, SIGNET_ERR_POLICY, "number 5.0 is not a plain integer"},
    {WRAP("{'match':{'name':'a'},'actions':['START'],"
          "'rate_limit':{'max':5,'per_seconds':6e1}}"),
        NULL, SIGNET_ERR_POLICY,
        "number 6e1 is not a plain integer at "
        "rules[0].rate_limit.per_seconds"},
    /* duplicate keys */
    {"{'host_id':'h1','rules':[" RULE "],'rules':[" RULE "]}", NULL,
        SIGNET_ERR_POLICY, "duplicate key \"rules\" at top level"},
    {WRAP("{'match':{'name':'a','name':'*'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "duplicate key \"name\" at rules[0].match"},
    {WRAP("{'match':{'labels':{'a':'1','a':'2'}},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "duplicate key \"a\" at rules[0].match.labels"},
    {WRAP(RULE ",{'match':{'name':'a'},'actions':['START'],"
               "'operators':['x'],'operators':['y']}"),
        NULL, SIGNET_ERR_POLICY, "duplicate key \"operators\" at rules[1]"},
    /* deep nesting */
    {WRAP("{'match':{'labels':{'a':[[[[1]]]]}},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY,
        "nesting deeper than 8 levels at "
        "rules[0].match.labels.a[0][0][0]"},
    {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", NULL, SIGNET_ERR_POLICY,
        "nesting deeper than 8 levels at [0][0][0][0][0][0][0]"},
    /* syntax, trailing garbage, bytes cJSON would accept */
    {"{'host_id':'h1',\n'rules':[" RULE ",]}", NULL, SIGNET_ERR_POLICY,
        "t.json: JSON syntax error at line 2"},
    {"{'host_id':'h1','rules':[" RULE "]}\n\n  x", NULL, SIGNET_ERR_POLICY,
        "trailing data after the JSON document at "
        "line 3, column 3"},
    {"{'host_id':'h1','rules':[" RULE "]}{}", NULL, SIGNET_ERR_POLICY,
        "trailing data"},
    {"", NULL, SIGNET_ERR_POLICY, "JSON syntax error at line 1, column 1"},
    {WRAP("{'match':{'name':'a\xff'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "string is not valid UTF-8 at rules[0].match.name"},
    {WRAP("{'match':{'labels':{'k\xc0\x80':'v'}},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY,
        "key \"k\\xc0\\x80\" is not valid UTF-8 at rules[0].match.labels"},
    {"{'host_id':'h1','rules':[" RULE "],'comment':'\xed\xa0\x80'}", NULL,
        SIGNET_ERR_POLICY, "string is not valid UTF-8 at comment"},
    {WRAP("{'match':{'name':'web-\\u0000x'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "\\u0000 in a string at rules[0].match.name"},
    {WRAP("{'match':{'name':'a\tb'},'actions':['START']}"), NULL,
        SIGNET_ERR_POLICY, "control character 0x09 in a string"},
};

static void
test_parse_errors(void)
{
	size_t i;

	for (i = 0; i < sizeof(prows) / sizeof(prows[0]); i++) {
		struct policy *p = NULL;
		struct err_msg msg;
		char *json = dq(prows[i].json);
		int r;

		err_clear(&msg);
		r = policy_parse(
		    json, strlen(json), "t.json", prows[i].host_id, &p, &msg);
		CHECKF(
		    r == prows[i].code, "row %zu: r=%d (%s)", i, r, msg.text);
		CHECKF(p == NULL, "row %zu: policy returned", i);
		CHECKF(strstr(msg.text, prows[i].want) != NULL,
		    "row %zu: \"%s\" lacks \"%s\"", i, msg.text, prows[i].want);
		CHECKF(strncmp(msg.text, "t.json: ", 8) == 0, "row %zu: %s", i,
		    msg.text);
		policy_free(p);
		free(json);
	}
	printf("parse error rows: %zu\n", sizeof(prows) / sizeof(prows[0]));
}

static void
test_parse_limits(void)
{
	struct policy *p = NULL;
	struct err_msg msg;
	char *big = NULL, *s;
	size_t n, i;
	int r;

	/* Over 1 MiB: refused before parsing, even if it is all spaces. */
	n = POLICY_FILE_MAX + 1;
	big = malloc(n);
	if (big == NULL)
		return;
	memset(big, ' ', n);
	r = policy_parse(big, n, "t.json", NULL, &p, &msg);
	CHECK(r == SIGNET_ERR_TOO_LARGE && p == NULL);
	CHECK_CONTAINS(msg.text, "t.json: 1048577 bytes, more than the "
	                         "1048576 allowed");
	/* Exactly 1 MiB of valid policy padded with spaces is fine. */
	s = dq("{'host_id':'h1','rules':[" RULE "]}");
	memcpy(big, s, strlen(s));
	r = policy_parse(big, POLICY_FILE_MAX, "t.json", "h1", &p, &msg);
	CHECKF(r == 0, "%s", msg.text);
	policy_free(p);
	p = NULL;
	free(s);
	/* A NUL byte inside the document. */
	s = dq("{'host_id':'h1','rules':[" RULE "]}");
	s[10] = '\0';
	r = policy_parse(s, strlen(s + 11) + 11, "t.json", NULL, &p, &msg);
	CHECK(r == SIGNET_ERR_POLICY);
	CHECK_CONTAINS(msg.text, "NUL byte at line 1, column 11");
	free(s);
	/* More rules than allowed. */
	n = 64 + (POLICY_RULES_MAX + 1) * (strlen(RULE) + 1);
	s = big;
	i = (size_t)snprintf(s, n, "{\"host_id\":\"h1\",\"rules\":[");
	for (r = 0; r <= POLICY_RULES_MAX; r++) {
		char *rule = dq(RULE);
		i += (size_t)snprintf(s + i, n - i, "%s%s", r ? "," : "", rule);
		free(rule);
	}
	i += (size_t)snprintf(s + i, n - i, "]}");
	r = policy_parse(s, i, "t.json", NULL, &p, &msg);
	CHECK(r == SIGNET_ERR_POLICY);
	CHECK_CONTAINS(msg.text, "1001 rules, more than the 1000 allowed at "
	                         "rules");
	/* An object with too many keys (bounds the duplicate check). */
	i = (size_t)snprintf(s, n,
	    "{\"host_id\":\"h1\",\"rules\":[{\"match\":"
	    "{\"labels\":{");
	for (r = 0; r < 65; r++)
		i += (size_t)snprintf(
		    s + i, n - i, "%s\"k%d\":\"v\"", r ? "," : "", r);
	i += (size_t)snprintf(s + i, n - i, "}},\"actions\":[\"START\"]}]}");
	r = policy_parse(s, i, "t.json", NULL, &p, &msg);
	CHECK(r == SIGNET_ERR_POLICY);
	CHECK_CONTAINS(msg.text, "object with 65 keys, more than the 64 "
	                         "allowed at rules[0].match.labels");
	free(big);
}

static void
test_helpers(void)
{
	static const struct {
		const char *glob;
		bool ok;
	} globs[] = {
	    {"*", true},
	    {"?", true},
	    {"web-*", true},
	    {"[abc]", true},
	    {"[!abc]", true},
	    {"[^a]", true},
	    {"[]]", true},
	    {"[]a]", true},
	    {"[a-]", true},
	    {"[-a]", true},
	    {"[[:alpha:][:digit:]_]", true},
	    {"\\[literal\\]", true},
	    {"a\\*", true},
	    {"[\\]]", true},
	    {"nginx@sha256:*", true},
	    {"[0-9a-f]", true},
	    {"", false},
	    {"[", false},
	    {"a[b", false},
	    {"[]", false},
	    {"[!]", false},
	    {"a\\", false},
	    {"[a\\", false},
	    {"[z-a]", false},
	    {"[[:nope:]]", false},
	    {"[[:alpha:]", false},
	    {"[[=a=]]", false},
	    {"[[.a.]]", false},
	    {"[a-[:digit:]]", false},
	    {"tab\there", false},
	    {"\x7f", false},
	};
	static const struct {
		const char *s;
		long chars;
	} utf8[] = {
	    {"", 0},
	    {"abc", 3},
	    {"\xc3\xa9", 1},
	    {"\xe2\x82\xac", 1},
	    {"\xf0\x9f\x99\x82", 1},
	    {"\xf4\x8f\xbf\xbf", 1},
	    {"\xf4\x90\x80\x80", -1},
	    {"\xc0\x80", -1},
	    {"\xe0\x80\x80", -1},
	    {"\xed\xa0\x80", -1},
	    {"\xc3", -1},
	    {"\x80", -1},
	    {"\xf8\x88\x80\x80\x80", -1},
	    {"a\xe2\x82", -1},
	};
	enum envelope_action a;
	size_t i;
	char big[POLICY_GLOB_MAX + 2];

	for (i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
		const char *why = NULL;
		bool ok = policy_glob_valid(globs[i].glob, &why);
		CHECKF(ok == globs[i].ok, "glob \"%s\": %d (%s)", globs[i].glob,
		    ok, why != NULL ? why : "");
		CHECK(ok || why != NULL);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(!policy_glob_valid(big, NULL));
	big[POLICY_GLOB_MAX] = '\0';
	CHECK(policy_glob_valid(big, NULL));
	for (i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
		CHECKF(policy_utf8_chars(utf8[i].s, strlen(utf8[i].s)) ==
		           utf8[i].chars,
		    "utf8 row %zu", i);
	CHECK(policy_action_parse("STOP", &a) == 0 &&
	    a == ENVELOPE_ACTION_STOP);
	CHECK(policy_action_parse("stop", &a) == SIGNET_ERR_FORMAT);
	CHECK(policy_action_parse(NULL, &a) == SIGNET_ERR_FORMAT);
	CHECK(strcmp(policy_action_name(ENVELOPE_ACTION_RESTART),
	    "RESTART") == 0);
	CHECK(strcmp(policy_action_name(ENVELOPE_ACTION_NONE), "?") == 0);
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
	    {ENVELOPE_ACTION_NONE,
	        "denied: action value 0 is not START, STOP or RESTART "
	        "(NONE: no action)"},
	    {ENVELOPE_ACTION_RESTART + 1,
	        "denied: action value 4 is not START, STOP or RESTART"},
	    {-1, "denied: action value -1 is not START, STOP or RESTART"},
	    {1 << 20,
	        "denied: action value 1048576 is not START, STOP or RESTART"},
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
	CHECK(strcmp(policy_action_name(ENVELOPE_ACTION_RESTART + 1), "?") ==
	    0);
	CHECK(strcmp(policy_action_name((enum envelope_action)-1), "?") == 0);
	if (p == NULL)
		return;
	memset(&req, 0, sizeof(req));
	req.container_id = "c1";
	req.name = "web-1";
	req.image = "nginx:1";
	req.operator_name = "alice";
	req.reason = "a good reason";
	req.now_ms = 1000;
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

/* ---- files: permissions and reload ---- */

static char tmpdir[] = "/tmp/signet-policy-test.XXXXXX";

static void
write_file(const char *path, const char *content_sq, mode_t mode)
{
	char *c = dq(content_sq);
	FILE *f;

	(void)unlink(path);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(c, f);
	fclose(f);
	if (chmod(path, mode) != 0) {
		perror("chmod");
		exit(2);
	}
	free(c);
}

/* Replaces path atomically, as an admin's editor or tool would. */
static void
replace_file(const char *path, const char *content_sq, mode_t mode)
{
	char tmp[512];

	(void)snprintf(tmp, sizeof(tmp), "%s.new", path);
	write_file(tmp, content_sq, mode);
	if (rename(tmp, path) != 0) {
		perror("rename");
		exit(2);
	}
}

#define GOOD                                                                   \
	"{'host_id':'h1','rules':[{'match':{'name':'web-*'},"                  \
	"'actions':['RESTART'],'rate_limit':{'max':1,'per_seconds':3600}}]}"
#define GOOD_SPACED                                                            \
	"{ 'host_id': 'h1',\n  'rules': [ { 'match': "                         \
	"{'name':'web-*'},\n 'actions':['RESTART','STOP'],'rate_limit':"       \
	"{'max':1,'per_seconds':3600} } ] }\n"
#define OTHER                                                                  \
	"{'host_id':'h1','rules':[{'match':{'name':'db-*'},"                   \
	"'actions':['RESTART']}]}"

static void
test_permissions(void)
{
	char path[256], link[256], sub[256], fifo[256];
	struct policy *p = NULL;
	struct err_msg msg;
	int r;

	(void)snprintf(path, sizeof(path), "%s/policy.json", tmpdir);
	write_file(path, GOOD, 0644);
	r = policy_load(path, "h1", &p, &msg);
	CHECKF(r == 0, "%s", msg.text);
	policy_free(p);
	p = NULL;
	write_file(path, GOOD, 0600);
	r = policy_load(path, NULL, &p, &msg);
	CHECKF(r == 0, "%s", msg.text);
	policy_free(p);
	p = NULL;

	chmod(path, 0664);
	r = policy_load(path, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS && p == NULL);
	CHECK_CONTAINS(msg.text, "policy.json: writable by group or others "
	                         "(mode 0664); chmod go-w");
	chmod(path, 0646);
	r = policy_load(path, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "(mode 0646)");
	chmod(path, 0644);

	/* Another owner (needs root to arrange). */
	if (geteuid() == 0) {
		CHECK(chown(path, 12345, 12345) == 0);
		r = policy_load(path, "h1", &p, &msg);
		CHECK(r == SIGNET_ERR_PERMISSIONS);
		CHECK_CONTAINS(msg.text, "owned by uid 12345, not root or this "
		                         "program's user (uid 0); chown root");
		CHECK(chown(path, 0, 0) == 0);
	} else {
		printf("skipped: owner check (not root)\n");
	}

	/* Symbolic links, directories, FIFOs, missing files. */
	(void)snprintf(link, sizeof(link), "%s/link.json", tmpdir);
	CHECK(symlink(path, link) == 0);
	r = policy_load(link, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "link.json: is a symbolic link");
	(void)snprintf(sub, sizeof(sub), "%s/dir.json", tmpdir);
	CHECK(mkdir(sub, 0755) == 0);
	r = policy_load(sub, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "dir.json: not a regular file");
	(void)snprintf(fifo, sizeof(fifo), "%s/fifo.json", tmpdir);
	CHECK(mkfifo(fifo, 0600) == 0);
	r = policy_load(fifo, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "not a regular file");
	r = policy_load("/nonexistent/signet/policy.json", "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_NOT_FOUND);
	CHECK_CONTAINS(msg.text, "no such file");

	/* A directory others may write to lets them swap the file... */
	CHECK(chmod(tmpdir, 0777) == 0);
	r = policy_load(path, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "is writable by group or others (mode 0777), "
	                         "who could replace the policy; chmod go-w");
	/* ...unless it is sticky, like /tmp. */
	CHECK(chmod(tmpdir, 01777) == 0);
	r = policy_load(path, "h1", &p, &msg);
	CHECKF(r == 0, "%s", msg.text);
	policy_free(p);
	p = NULL;
	CHECK(chmod(tmpdir, 0700) == 0);

	/* Too large on disk. */
	{
		char bigpath[256];
		FILE *f;
		long k;

		(void)snprintf(bigpath, sizeof(bigpath), "%s/big.json", tmpdir);
		f = fopen(bigpath, "w");
		if (f != NULL) {
			for (k = 0; k <= POLICY_FILE_MAX; k++)
				fputc(' ', f);
			fclose(f);
			chmod(bigpath, 0644);
			r = policy_load(bigpath, "h1", &p, &msg);
			CHECK(r == SIGNET_ERR_TOO_LARGE);
			CHECK_CONTAINS(msg.text, "file is 1048577 bytes, more "
			                         "than the 1048576 allowed");
			unlink(bigpath);
		}
	}
	unlink(link);
	rmdir(sub);
	unlink(fifo);
	unlink(path);
}

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
		if (store_allows(
		        h->s, "web-1", "c1", ENVELOPE_ACTION_RESTART, 1000 + i))
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
	test_helpers();
	test_decisions();
	test_not_an_action();
	test_rate_limits();
	test_parse_errors();
	test_parse_limits();
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_permissions();
	test_reload();
	test_concurrency();
	(void)rmdir(tmpdir);
	return test_finish("test_policy");
}
