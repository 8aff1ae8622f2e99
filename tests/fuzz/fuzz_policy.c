/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the policy parser: any bytes either parse into a
 * policy that then decides without crashing, or are refused with a
 * message. Also checks that every glob the validator accepts is one
 * fnmatch(3) takes without error.
 */
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static void
exercise(struct policy *p)
{
	static const struct policy_label labels[] = {
		{ "tier", "frontend" },
		{ "role", "primary" },
		{ "a", "" },
	};
	static const char *const names[] = { "/web-1", "db-1", "", "a" };
	static const char *const images[] = { "nginx:1.25", "redis@sha256:00ff",
		"registry.example.org/team/app:3", "" };
	static const char *const ops[] = { "alice", "bob", "" };
	static const char *const both[] = { "dba", "sre" };
	static const char *const sre[] = { "sre" };
	static const struct policy_approver approvers[] = {
		{ "carol", "k1", both, 2 },
		{ "bob", "k2", sre, 1 },
		{ "dan", "k1", both, 2 },
		{ "alice", "k3", both, 2 },
	};
	struct policy_request req;
	struct policy_decision dec;
	char line[1024], why[ERR_MSG_MAX];
	size_t i, n = policy_rule_count(p);
	int k;

	for (i = 0; i < n; i++) {
		struct policy_approval_term terms[POLICY_TERMS_MAX];
		size_t nterms;
		int64_t wait;

		(void)policy_rule_describe(p, i, line, sizeof(line));
		if (policy_rule_approvals(p, i, terms, POLICY_TERMS_MAX,
		        &nterms, &wait) != 0 ||
		    nterms > POLICY_TERMS_MAX)
			abort();
		if (nterms > 0 && policy_rule_accepts_relay(p, i))
			abort();
	}
	memset(&req, 0, sizeof(req));
	req.labels = labels;
	req.nlabels = sizeof(labels) / sizeof(labels[0]);
	for (k = 0; k < 24; k++) {
		req.container_id = (k & 1) ? "c1" : "c2";
		req.name = names[k % 4];
		req.image = images[(k / 2) % 4];
		req.operator_name = ops[k % 3];
		req.reason = (k & 4) ? "a reason of some length \xc3\xa9" : "x";
		/* 0 is NONE, 4 past RESTART: both must be denied. */
		req.action = (enum envelope_action)(k % 5);
		req.now_ms = (int64_t)k * 1000;
		req.operator_signed = (k & 8) == 0;
		req.request_lifetime_ms = (int64_t)(k % 7) * 600000 - 1;
		req.approvers = approvers;
		req.napprovers = (size_t)k % 5;
		if (policy_decide(p, &req, &dec) != 0)
			abort();
		if (dec.text[0] == '\0')
			abort();
		if (dec.allow && (dec.rule < 0 || (size_t)dec.rule >= n))
			abort();
		if (dec.allow &&
		    (req.action == ENVELOPE_ACTION_NONE ||
		        req.action > ENVELOPE_ACTION_RESTART))
			abort();
		(void)policy_rule_check(p, (size_t)k % n, &req, why,
		    sizeof(why));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const subjects[] = { "", "a", "web-1", "[", "\\",
		"nginx:1.25", "a/b/c", "-]!^" };
	struct policy *p = NULL;
	struct err_msg msg;
	char glob[POLICY_GLOB_MAX + 1];
	size_t i, gl;
	int r;

	r = policy_parse((const char *)data, size, "fuzz", NULL, &p, &msg);
	if (r == 0) {
		if (p == NULL)
			abort();
		exercise(p);
		policy_free(p);
	} else if (p != NULL || msg.text[0] == '\0' ||
	    memchr(msg.text, '\0', sizeof(msg.text)) == NULL) {
		abort();
	}

	/* The glob validator and fnmatch(3) agree. */
	gl = size < POLICY_GLOB_MAX ? size : POLICY_GLOB_MAX;
	memcpy(glob, data, gl);
	glob[gl] = '\0';
	if (policy_glob_valid(glob, NULL)) {
		for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
			r = fnmatch(glob, subjects[i], 0);
			if (r != 0 && r != FNM_NOMATCH)
				abort();
		}
	}
	return 0;
}
