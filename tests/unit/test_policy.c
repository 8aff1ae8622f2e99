/* SPDX-License-Identifier: ISC */
/*
 * Tests of the host policy parser (agent/policy_parse.c and the helpers
 * it uses): every parse refusal with its message, the size and count
 * limits, glob and UTF-8 validity and action names. Decisions are tested
 * in test_policy_eval.c, files on disk in test_policy_file.c, the store
 * and its reloads in test_policy_store.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_fixtures.h"
#include "testlib.h"

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
	{ "{'host_id':'h1','rules':[" RULE "],'extra':1}", NULL,
	    SIGNET_ERR_POLICY,
	    "t.json: unknown key \"extra\" at top level; "
	    "allowed: host_id, rules, comment" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],'action':'STOP'}"),
	    NULL, SIGNET_ERR_POLICY, "unknown key \"action\" at rules[0]" },
	{ WRAP(RULE ",{'match':{'imgae':'a'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "unknown key \"imgae\" at rules[1].match; "
	    "allowed: name, image, labels" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':1,'window':5}}"),
	    NULL, SIGNET_ERR_POLICY,
	    "unknown key \"window\" at rules[0].rate_limit" },
	/* wrong types */
	{ "{'host_id':7,'rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
	    "expected a string, found a number at host_id" },
	{ "{'host_id':'h1','rules':{}}", NULL, SIGNET_ERR_POLICY,
	    "expected an array, found an object at rules" },
	{ WRAP("{'match':{'name':'a'},'actions':'START'}"), NULL,
	    SIGNET_ERR_POLICY,
	    "expected an array, found a string at "
	    "rules[0].actions" },
	{ WRAP("{'match':{'name':'a'},'actions':[true]}"), NULL,
	    SIGNET_ERR_POLICY,
	    "expected a string, found a boolean at "
	    "rules[0].actions[0]" },
	{ WRAP("{'match':{'labels':{'tier':1}},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "expected a string, found a number at "
	    "rules[0].match.labels.tier" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'min_reason_length':'10'}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected an integer, found a string at rules[0].min_reason_length" },
	{ WRAP("{'match':{'name':null},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "found null at rules[0].match.name" },
	{ WRAP("[]"), NULL, SIGNET_ERR_POLICY,
	    "expected an object (a rule), found an array at rules[0]" },
	{ "[]", NULL, SIGNET_ERR_POLICY,
	    "expected an object, found an array at top level" },
	{ "{'host_id':'h1','rules':[" RULE "],'comment':5}", NULL,
	    SIGNET_ERR_POLICY, "expected a string, found a number at comment" },
	/* missing and empty */
	{ "{'rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
	    "missing required key \"host_id\" at top level" },
	{ "{'host_id':'h1'}", NULL, SIGNET_ERR_POLICY,
	    "missing required key \"rules\" at top level" },
	{ "{'host_id':'h1','rules':[]}", NULL, SIGNET_ERR_POLICY,
	    "empty rules at rules" },
	{ WRAP("{'actions':['START']}"), NULL, SIGNET_ERR_POLICY,
	    "missing required key \"match\" at rules[0]" },
	{ WRAP("{'match':{'name':'a'}}"), NULL, SIGNET_ERR_POLICY,
	    "missing required key \"actions\" at rules[0]" },
	{ WRAP("{'match':{},'actions':['START']}"), NULL, SIGNET_ERR_POLICY,
	    "empty match at rules[0].match; use \"name\": \"*\"" },
	{ WRAP("{'match':{'labels':{}},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "empty labels at rules[0].match.labels" },
	{ WRAP("{'match':{'name':'a'},'actions':[]}"), NULL, SIGNET_ERR_POLICY,
	    "empty actions at rules[0].actions" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],'operators':[]}"),
	    NULL, SIGNET_ERR_POLICY, "empty operators at rules[0].operators" },
	{ WRAP("{'match':{'name':''},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "empty string at rules[0].match.name" },
	{ WRAP("{'match':{'image':''},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "empty string at rules[0].match.image" },
	{ WRAP("{'match':{'labels':{'':'x'}},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "empty label key at rules[0].match.labels" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':1}}"),
	    NULL, SIGNET_ERR_POLICY,
	    "missing required key \"per_seconds\" at rules[0].rate_limit" },
	/* actions */
	{ WRAP("{'match':{'name':'a'},'actions':['START','REBOOT']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "unknown action \"REBOOT\" at rules[0].actions[1]"
	    "; use START, STOP or RESTART" },
	{ WRAP("{'match':{'name':'a'},'actions':['start']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "unknown action \"start\" at rules[0].actions[0]" },
	{ WRAP("{'match':{'name':'a'},'actions':['START','STOP','START']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "duplicate action \"START\" at rules[0].actions[2]" },
	/* globs */
	{ WRAP("{'match':{'name':'/web-*'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "name glob \"/web-*\" can never match: names are matched without "
	    "dockerd's leading '/' at rules[0].match.name; write \"web-*\"" },
	{ WRAP("{'match':{'name':'web-['},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "bad glob \"web-[\": unbalanced '[' (write \\[ "
	    "for a literal bracket) at rules[0].match.name" },
	{ WRAP("{'match':{'image':'nginx:1\\\\'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "bad glob \"nginx:1\\\\\": trailing backslash "
	    "at rules[0].match.image" },
	{ WRAP("{'match':{'name':'a[[:foo:]]'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "unknown or unterminated [:class:] at "
	    "rules[0].match.name" },
	{ WRAP("{'match':{'name':'a[z-a]'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "reversed range at rules[0].match.name" },
	{ WRAP("{'match':{'name':'a[]'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "unbalanced '['" },
	{ WRAP("{'match':{'name':'caf\xc3\xa9'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "only printable ASCII is allowed in a glob" },
	/* host_id */
	{ "{'host_id':'h1','rules':[" RULE "]}", "web-02", SIGNET_ERR_POLICY,
	    "t.json: host_id \"h1\" is not this agent's host id \"web-02\" at "
	    "host_id" },
	{ "{'host_id':'Web_01','rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
	    "bad host id \"Web_01\" at host_id" },
	{ "{'host_id':'','rules':[" RULE "]}", NULL, SIGNET_ERR_POLICY,
	    "empty string at host_id" },
	/* operators */
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'operators':['Alice']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "bad operator name \"Alice\" at rules[0].operators[0]; names match "
	    "[a-z0-9][a-z0-9._-]{0,62}" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'operators':['bob','']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "bad operator name \"\" at rules[0].operators[1]" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'operators':['bob','bob']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "duplicate operator \"bob\" at rules[0].operators[1]" },
	/* numbers: negative, absurd, zero max, floats */
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'min_reason_length':-1}"),
	    NULL, SIGNET_ERR_POLICY,
	    "value -1 out of range 0..512 at rules[0].min_reason_length" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'min_reason_length':513}"),
	    NULL, SIGNET_ERR_POLICY, "value 513 out of range 0..512" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':0,'per_seconds':60}}"),
	    NULL, SIGNET_ERR_POLICY,
	    "value 0 out of range 1..10000 at rules[0].rate_limit.max" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':10001,'per_seconds':60}}"),
	    NULL, SIGNET_ERR_POLICY, "value 10001 out of range 1..10000" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':5,'per_seconds':86401}}"),
	    NULL, SIGNET_ERR_POLICY,
	    "value 86401 out of range 1..86400 at "
	    "rules[0].rate_limit.per_seconds" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':5,'per_seconds':-60}}"),
	    NULL, SIGNET_ERR_POLICY, "value -60 out of range 1..86400" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':5,'per_seconds':99999999999999999999}}"),
	    NULL, SIGNET_ERR_POLICY, "out of range 1..86400" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':1.5,'per_seconds':60}}"),
	    NULL, SIGNET_ERR_POLICY,
	    "number 1.5 is not a plain integer at "
	    "rules[0].rate_limit.max" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':5.0,'per_seconds':60}}"),
	    NULL, SIGNET_ERR_POLICY, "number 5.0 is not a plain integer" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'rate_limit':{'max':5,'per_seconds':6e1}}"),
	    NULL, SIGNET_ERR_POLICY,
	    "number 6e1 is not a plain integer at "
	    "rules[0].rate_limit.per_seconds" },
	/* duplicate keys */
	{ "{'host_id':'h1','rules':[" RULE "],'rules':[" RULE "]}", NULL,
	    SIGNET_ERR_POLICY, "duplicate key \"rules\" at top level" },
	{ WRAP("{'match':{'name':'a','name':'*'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "duplicate key \"name\" at rules[0].match" },
	{ WRAP("{'match':{'labels':{'a':'1','a':'2'}},'actions':['START']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "duplicate key \"a\" at rules[0].match.labels" },
	{ WRAP(RULE ",{'match':{'name':'a'},'actions':['START'],"
	            "'operators':['x'],'operators':['y']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "duplicate key \"operators\" at rules[1]" },
	/* accept_relay_signed, approvals, approval_wait */
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'accept_relay_signed':1}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected true or false, found a number at "
	    "rules[0].accept_relay_signed" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'accept_relay_signed':'yes'}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected true or false, found a string at "
	    "rules[0].accept_relay_signed" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'accept_relay_signed':null}"),
	    NULL, SIGNET_ERR_POLICY, "found null at rules[0].accept_relay" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],'approvals':{}}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected an array, found an object at rules[0].approvals" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],'approvals':[]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "empty approvals at rules[0].approvals; leave \"approvals\" out "
	    "when none are needed" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],'approvals':["
	       "{'group':'g1','count':1},{'group':'g2','count':1},"
	       "{'group':'g3','count':1},{'group':'g4','count':1},"
	       "{'group':'g5','count':1},{'group':'g6','count':1},"
	       "{'group':'g7','count':1},{'group':'g8','count':1},"
	       "{'group':'g9','count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "9 approvals, more than the 8 allowed at rules[0].approvals" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':['dba']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected an object (an approval term), found a string at "
	    "rules[0].approvals[0]" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':1,'of':3}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "unknown key \"of\" at rules[0].approvals[0]; allowed: group, "
	    "count" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "missing required key \"group\" at rules[0].approvals[0]" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba'}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "missing required key \"count\" at rules[0].approvals[0]" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'DBA','count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "bad group name \"DBA\" at rules[0].approvals[0].group; groups "
	    "match [a-z0-9][a-z0-9._-]{0,62}" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'-dba','count':1}]}"),
	    NULL, SIGNET_ERR_POLICY, "bad group name \"-dba\"" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'','count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "empty string at rules[0].approvals[0].group" },
	{ WRAP(
	      "{'match':{'name':'a'},'actions':['START'],"
	      "'approvals':[{'group':'"
	      "g123456789012345678901234567890123456789012345678901234567890123"
	      "','count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "string of 64 bytes, more than the 63 allowed at "
	    "rules[0].approvals[0].group" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':7,'count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected a string, found a number at rules[0].approvals[0].group" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':0}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "value 0 out of range 1..16 at rules[0].approvals[0].count" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':17}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "value 17 out of range 1..16 at rules[0].approvals[0].count" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':'1'}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected an integer, found a string at "
	    "rules[0].approvals[0].count" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':1.5}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "number 1.5 is not a plain integer at "
	    "rules[0].approvals[0].count" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':1},"
	       "{'group':'sre','count':1},{'group':'dba','count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "group \"dba\" given twice at rules[0].approvals[2].group" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':1}],"
	       "'accept_relay_signed':true}"),
	    NULL, SIGNET_ERR_POLICY,
	    "approvals need an operator-signed request at "
	    "rules[0].accept_relay_signed" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approval_wait':600}"),
	    NULL, SIGNET_ERR_POLICY,
	    "approval_wait without approvals at rules[0].approval_wait" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'accept_relay_signed':true,'approval_wait':600}"),
	    NULL, SIGNET_ERR_POLICY, "approval_wait without approvals" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':1}],'approval_wait':59}"),
	    NULL, SIGNET_ERR_POLICY,
	    "value 59 out of range 60..86400 at rules[0].approval_wait" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':1}],"
	       "'approval_wait':86401}"),
	    NULL, SIGNET_ERR_POLICY, "value 86401 out of range 60..86400" },
	{ WRAP("{'match':{'name':'a'},'actions':['START'],"
	       "'approvals':[{'group':'dba','count':1}],"
	       "'approval_wait':'1h'}"),
	    NULL, SIGNET_ERR_POLICY,
	    "expected an integer, found a string at rules[0].approval_wait" },
	{ WRAP(RULE ",{'match':{'name':'a'},'actions':['START'],"
	            "'approvals':[{'group':'dba','count':1}],"
	            "'approvals':[{'group':'sre','count':1}]}"),
	    NULL, SIGNET_ERR_POLICY,
	    "duplicate key \"approvals\" at rules[1]" },
	/* deep nesting */
	{ WRAP("{'match':{'labels':{'a':[[[[1]]]]}},'actions':['START']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "nesting deeper than 8 levels at "
	    "rules[0].match.labels.a[0][0][0]" },
	{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", NULL, SIGNET_ERR_POLICY,
	    "nesting deeper than 8 levels at [0][0][0][0][0][0][0]" },
	/* syntax, trailing garbage, bytes cJSON would accept */
	{ "{'host_id':'h1',\n'rules':[" RULE ",]}", NULL, SIGNET_ERR_POLICY,
	    "t.json: JSON syntax error at line 2" },
	{ "{'host_id':'h1','rules':[" RULE "]}\n\n  x", NULL, SIGNET_ERR_POLICY,
	    "trailing data after the JSON document at "
	    "line 3, column 3" },
	{ "{'host_id':'h1','rules':[" RULE "]}{}", NULL, SIGNET_ERR_POLICY,
	    "trailing data" },
	{ "", NULL, SIGNET_ERR_POLICY,
	    "JSON syntax error at line 1, column 1" },
	{ WRAP("{'match':{'name':'a\xff'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY,
	    "string is not valid UTF-8 at rules[0].match.name" },
	{ WRAP("{'match':{'labels':{'k\xc0\x80':'v'}},'actions':['START']}"),
	    NULL, SIGNET_ERR_POLICY,
	    "key \"k\\xc0\\x80\" is not valid UTF-8 at rules[0].match.labels" },
	{ "{'host_id':'h1','rules':[" RULE "],'comment':'\xed\xa0\x80'}", NULL,
	    SIGNET_ERR_POLICY, "string is not valid UTF-8 at comment" },
	{ WRAP("{'match':{'name':'web-\\u0000x'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "\\u0000 in a string at rules[0].match.name" },
	{ WRAP("{'match':{'name':'a\tb'},'actions':['START']}"), NULL,
	    SIGNET_ERR_POLICY, "control character 0x09 in a string" },
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
		r = policy_parse(json, strlen(json), "t.json", prows[i].host_id,
		    &p, &msg);
		CHECKF(r == prows[i].code, "row %zu: r=%d (%s)", i, r,
		    msg.text);
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
	CHECK_CONTAINS(msg.text,
	    "t.json: 1048577 bytes, more than the "
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
	CHECK_CONTAINS(msg.text,
	    "1001 rules, more than the 1000 allowed at "
	    "rules");
	/* An object with too many keys (bounds the duplicate check). */
	i = (size_t)snprintf(s, n,
	    "{\"host_id\":\"h1\",\"rules\":[{\"match\":"
	    "{\"labels\":{");
	for (r = 0; r < 65; r++)
		i += (size_t)snprintf(s + i, n - i, "%s\"k%d\":\"v\"",
		    r ? "," : "", r);
	i += (size_t)snprintf(s + i, n - i, "}},\"actions\":[\"START\"]}]}");
	r = policy_parse(s, i, "t.json", NULL, &p, &msg);
	CHECK(r == SIGNET_ERR_POLICY);
	CHECK_CONTAINS(msg.text,
	    "object with 65 keys, more than the 64 "
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
		{ "*", true },
		{ "?", true },
		{ "web-*", true },
		{ "[abc]", true },
		{ "[!abc]", true },
		{ "[^a]", true },
		{ "[]]", true },
		{ "[]a]", true },
		{ "[a-]", true },
		{ "[-a]", true },
		{ "[[:alpha:][:digit:]_]", true },
		{ "\\[literal\\]", true },
		{ "a\\*", true },
		{ "[\\]]", true },
		{ "nginx@sha256:*", true },
		{ "[0-9a-f]", true },
		{ "", false },
		{ "[", false },
		{ "a[b", false },
		{ "[]", false },
		{ "[!]", false },
		{ "a\\", false },
		{ "[a\\", false },
		{ "[z-a]", false },
		{ "[[:nope:]]", false },
		{ "[[:alpha:]", false },
		{ "[[=a=]]", false },
		{ "[[.a.]]", false },
		{ "[a-[:digit:]]", false },
		{ "tab\there", false },
		{ "\x7f", false },
	};
	static const struct {
		const char *s;
		long chars;
	} utf8[] = {
		{ "", 0 },
		{ "abc", 3 },
		{ "\xc3\xa9", 1 },
		{ "\xe2\x82\xac", 1 },
		{ "\xf0\x9f\x99\x82", 1 },
		{ "\xf4\x8f\xbf\xbf", 1 },
		{ "\xf4\x90\x80\x80", -1 },
		{ "\xc0\x80", -1 },
		{ "\xe0\x80\x80", -1 },
		{ "\xed\xa0\x80", -1 },
		{ "\xc3", -1 },
		{ "\x80", -1 },
		{ "\xf8\x88\x80\x80\x80", -1 },
		{ "a\xe2\x82", -1 },
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
	CHECK(
	    policy_action_parse("STOP", &a) == 0 && a == ENVELOPE_ACTION_STOP);
	CHECK(policy_action_parse("stop", &a) == SIGNET_ERR_FORMAT);
	CHECK(policy_action_parse(NULL, &a) == SIGNET_ERR_FORMAT);
	CHECK(strcmp(policy_action_name(ENVELOPE_ACTION_RESTART), "RESTART") ==
	    0);
	CHECK(strcmp(policy_action_name(ENVELOPE_ACTION_NONE), "?") == 0);
}

/* The new members parsed, read back and described. */
static void
test_parse_signing(void)
{
	static const char json_sq[] =
	    "{'host_id':'h1','rules':["
	    "{'match':{'name':'a'},'actions':['START']},"
	    "{'match':{'name':'b'},'actions':['STOP'],"
	    "'accept_relay_signed':true,'operators':['bot']},"
	    "{'match':{'name':'c'},'actions':['STOP','RESTART'],"
	    "'approvals':[{'group':'dba','count':1},{'group':'sre','count':2}],"
	    "'accept_relay_signed':false},"
	    "{'match':{'name':'d'},'actions':['STOP'],"
	    "'approvals':[{'group':'ops.eu-1','count':16}],"
	    "'approval_wait':86400},"
	    "{'match':{'name':'e'},'actions':['STOP'],"
	    "'approvals':[{'group':'x','count':1}],'approval_wait':60}"
	    "]}";
	struct policy_approval_term terms[POLICY_TERMS_MAX];
	struct policy *p = NULL;
	struct err_msg msg;
	char *json = dq(json_sq), line[1024];
	int64_t wait = -1;
	size_t n = 99;
	int r;

	r = policy_parse(json, strlen(json), "t.json", "h1", &p, &msg);
	free(json);
	CHECKF(r == 0 && p != NULL, "%s", msg.text);
	if (p == NULL)
		return;
	CHECK(!policy_rule_accepts_relay(p, 0));
	CHECK(policy_rule_accepts_relay(p, 1));
	CHECK(!policy_rule_accepts_relay(p, 2));
	CHECK(!policy_rule_accepts_relay(p, 5));
	CHECK(!policy_rule_accepts_relay(NULL, 0));
	CHECK(policy_rule_approvals(p, 0, terms, POLICY_TERMS_MAX, &n, &wait) ==
	        0 &&
	    n == 0 && wait == 0);
	CHECK(policy_rule_approvals(p, 1, NULL, 0, &n, &wait) == 0 && n == 0 &&
	    wait == 0);
	memset(terms, 0x55, sizeof(terms));
	CHECK(policy_rule_approvals(p, 2, terms, POLICY_TERMS_MAX, &n, &wait) ==
	        0 &&
	    n == 2 && wait == 3600000);
	CHECK(strcmp(terms[0].group, "dba") == 0 && terms[0].count == 1);
	CHECK(strcmp(terms[1].group, "sre") == 0 && terms[1].count == 2);
	CHECK(policy_rule_approvals(p, 2, terms, 1, &n, &wait) ==
	        SIGNET_ERR_TOO_LARGE &&
	    n == 2 && wait == 3600000 && strcmp(terms[0].group, "dba") == 0);
	CHECK(policy_rule_approvals(p, 3, terms, POLICY_TERMS_MAX, &n, &wait) ==
	        0 &&
	    n == 1 && wait == 86400000 && terms[0].count == 16 &&
	    strcmp(terms[0].group, "ops.eu-1") == 0);
	CHECK(policy_rule_approvals(p, 4, terms, POLICY_TERMS_MAX, &n, &wait) ==
	        0 &&
	    n == 1 && wait == 60000);
	CHECK(policy_rule_approvals(p, 5, terms, POLICY_TERMS_MAX, &n, &wait) ==
	        SIGNET_ERR_INVALID_ARG &&
	    n == 0 && wait == 0);
	CHECK(policy_rule_approvals(p, 0, terms, 1, NULL, &wait) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(policy_rule_approvals(p, 0, NULL, 1, &n, &wait) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK_CONTAINS(policy_rule_describe(p, 0, line, sizeof(line)),
	    "match name=\"a\"; actions START; operator signature required; "
	    "any operator");
	CHECK_CONTAINS(policy_rule_describe(p, 1, line, sizeof(line)),
	    "match name=\"b\"; actions STOP; relay-signed accepted; "
	    "operators bot");
	CHECK_CONTAINS(policy_rule_describe(p, 2, line, sizeof(line)),
	    "; actions STOP,RESTART; operator signature required; any "
	    "operator; approvals 1 of \"dba\" and 2 of \"sre\", wait up to "
	    "3600 s");
	CHECK_CONTAINS(policy_rule_describe(p, 3, line, sizeof(line)),
	    "approvals 16 of \"ops.eu-1\", wait up to 86400 s");
	policy_free(p);
}

int
main(void)
{
	test_helpers();
	test_parse_errors();
	test_parse_signing();
	test_parse_limits();
	return test_finish("test_policy");
}
