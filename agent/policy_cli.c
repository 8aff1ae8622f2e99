/* SPDX-License-Identifier: ISC */
/* signet-agent --check-policy FILE [--explain ...]: the admin's view. */
#include "policy_cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "text.h"

#define CLI_LABELS_MAX 256
#define CLI_APPROVERS_MAX 64
#define CLI_GROUPS_MAX 64                /* per --approver */
#define CLI_LIFETIME_MAX (366LL * 86400) /* --lifetime, seconds */

/* One --approver NAME:GROUP[,GROUP...]: buf holds the cut-up text. */
struct cli_approver {
	char *buf;
	const char *groups[CLI_GROUPS_MAX];
};

struct cli_args {
	const char *file;
	const char *host_id;
	bool explain;
	const char *container_id;
	const char *name;
	const char *image;
	const char *action;
	const char *operator_name;
	const char *reason;
	const char *lifetime;
	bool relay_signed;
	struct policy_approver approvers[CLI_APPROVERS_MAX];
	struct cli_approver approver_bufs[CLI_APPROVERS_MAX];
	size_t napprovers;
	struct policy_label labels[CLI_LABELS_MAX];
	char *label_bufs[CLI_LABELS_MAX];
	size_t nlabels;
};

void
policy_cli_usage(FILE *f)
{
	fprintf(f,
	    "  --check-policy FILE [--host-id H]\n"
	    "        validate a policy file (signet-policy(5)) and summarise "
	    "its\n"
	    "        rules; with --host-id, its host_id must be H\n"
	    "  --check-policy FILE --explain --name N --image I [--label "
	    "K=V]...\n"
	    "        --action START|STOP|RESTART --operator U --reason R\n"
	    "        [--container ID] [--host-id H] [--relay-signed]\n"
	    "        [--lifetime SECONDS] [--approver NAME:GROUP[,GROUP...]]...\n"
	    "        say which rule allows this request, or why none does\n"
	    "        (judged on a fresh rate-limit window); the request is\n"
	    "        operator-signed unless --relay-signed, lives SECONDS\n"
	    "        (default 0), and is approved by each --approver\n");
}

static void
cli_free(struct cli_args *a)
{
	size_t i;

	for (i = 0; i < a->nlabels; i++)
		free(a->label_bufs[i]);
	a->nlabels = 0;
	for (i = 0; i < a->napprovers; i++)
		free(a->approver_bufs[i].buf);
	a->napprovers = 0;
}

/* Takes the value of option argv[*i]; NULL (and a message) if missing. */
static const char *
opt_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "signet-agent: %s needs a value\n", argv[*i]);
		return NULL;
	}
	(*i)++;
	return argv[*i];
}

static int
add_label(struct cli_args *a, const char *kv)
{
	char esc[160], *buf, *eq;
	size_t i;

	if (a->nlabels == CLI_LABELS_MAX) {
		fprintf(stderr, "signet-agent: more than %d --label options\n",
		    CLI_LABELS_MAX);
		return -1;
	}
	eq = strchr(kv, '=');
	if (eq == NULL || eq == kv) {
		fprintf(stderr,
		    "signet-agent: --label \"%s\": write KEY=VALUE\n",
		    text_escape_str(kv, esc, sizeof(esc)));
		return -1;
	}
	buf = strdup(kv);
	if (buf == NULL) {
		fprintf(stderr, "signet-agent: out of memory\n");
		return -1;
	}
	buf[eq - kv] = '\0';
	for (i = 0; i < a->nlabels; i++) {
		if (strcmp(a->labels[i].key, buf) == 0) {
			fprintf(stderr,
			    "signet-agent: --label \"%s\" given "
			    "twice\n",
			    text_escape_str(buf, esc, sizeof(esc)));
			free(buf);
			return -1;
		}
	}
	a->label_bufs[a->nlabels] = buf;
	a->labels[a->nlabels].key = buf;
	a->labels[a->nlabels].value = buf + (eq - kv) + 1;
	a->nlabels++;
	return 0;
}

/* --approver NAME:GROUP[,GROUP...]: names and groups as in the roster. */
static int
add_approver(struct cli_args *a, const char *spec)
{
	struct cli_approver *ab = &a->approver_bufs[a->napprovers];
	struct policy_approver *ap = &a->approvers[a->napprovers];
	char esc[160], *buf = NULL, *colon, *g, *comma;
	size_t i, n = 0;
	int r = -1;

	if (a->napprovers == CLI_APPROVERS_MAX) {
		fprintf(stderr,
		    "signet-agent: more than %d --approver options\n",
		    CLI_APPROVERS_MAX);
		goto out;
	}
	buf = strdup(spec);
	if (buf == NULL) {
		fprintf(stderr, "signet-agent: out of memory\n");
		goto out;
	}
	colon = strchr(buf, ':');
	if (colon == NULL) {
		fprintf(stderr,
		    "signet-agent: --approver \"%s\": write "
		    "NAME:GROUP[,GROUP...]\n",
		    text_escape_str(spec, esc, sizeof(esc)));
		goto out;
	}
	*colon = '\0';
	if (!text_valid_name(buf)) {
		fprintf(stderr,
		    "signet-agent: --approver \"%s\": not a name "
		    "([a-z0-9][a-z0-9._-]{0,62})\n",
		    text_escape_str(spec, esc, sizeof(esc)));
		goto out;
	}
	for (i = 0; i < a->napprovers; i++) {
		if (strcmp(a->approvers[i].name, buf) == 0) {
			fprintf(stderr,
			    "signet-agent: --approver %s given twice\n", buf);
			goto out;
		}
	}
	for (g = colon + 1; g != NULL; g = comma) {
		comma = strchr(g, ',');
		if (comma != NULL)
			*comma++ = '\0';
		if (!text_valid_name(g) || n == CLI_GROUPS_MAX) {
			fprintf(stderr,
			    "signet-agent: --approver \"%s\": groups are "
			    "1 to %d names ([a-z0-9][a-z0-9._-]{0,62}) "
			    "separated by ','\n",
			    text_escape_str(spec, esc, sizeof(esc)),
			    CLI_GROUPS_MAX);
			goto out;
		}
		ab->groups[n++] = g;
	}
	ab->buf = buf;
	buf = NULL;
	/* The name stands for the key: --explain has no keys. */
	ap->name = ab->buf;
	ap->key_id = ab->buf;
	ap->groups = ab->groups;
	ap->ngroups = n;
	a->napprovers++;
	r = 0;
out:
	free(buf);
	return r;
}

static int
parse_args(int argc, char **argv, struct cli_args *a)
{
	struct {
		const char *opt;
		const char **dst;
	} vals[] = {
		{ "--check-policy", &a->file },
		{ "--host-id", &a->host_id },
		{ "--container", &a->container_id },
		{ "--name", &a->name },
		{ "--image", &a->image },
		{ "--action", &a->action },
		{ "--operator", &a->operator_name },
		{ "--reason", &a->reason },
		{ "--lifetime", &a->lifetime },
	};
	char esc[160];
	size_t k;
	int i;

	for (i = 1; i < argc; i++) {
		bool done = false;

		if (strcmp(argv[i], "--explain") == 0) {
			a->explain = true;
			continue;
		}
		if (strcmp(argv[i], "--relay-signed") == 0) {
			a->relay_signed = true;
			continue;
		}
		if (strcmp(argv[i], "--approver") == 0) {
			const char *v = opt_value(argc, argv, &i);
			if (v == NULL || add_approver(a, v) != 0)
				return -1;
			continue;
		}
		if (strcmp(argv[i], "--label") == 0) {
			const char *v = opt_value(argc, argv, &i);
			if (v == NULL || add_label(a, v) != 0)
				return -1;
			continue;
		}
		for (k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
			if (strcmp(argv[i], vals[k].opt) != 0)
				continue;
			if (*vals[k].dst != NULL) {
				fprintf(stderr,
				    "signet-agent: %s given "
				    "twice\n",
				    vals[k].opt);
				return -1;
			}
			*vals[k].dst = opt_value(argc, argv, &i);
			if (*vals[k].dst == NULL)
				return -1;
			done = true;
			break;
		}
		if (!done) {
			fprintf(stderr,
			    "signet-agent: unknown or misplaced "
			    "option \"%s\"\n",
			    text_escape_str(argv[i], esc, sizeof(esc)));
			return -1;
		}
	}
	if (a->file == NULL) {
		fprintf(stderr,
		    "signet-agent: --check-policy FILE is required\n");
		return -1;
	}
	if (!a->explain) {
		if (a->name != NULL || a->image != NULL || a->action != NULL ||
		    a->operator_name != NULL || a->reason != NULL ||
		    a->container_id != NULL || a->nlabels > 0 ||
		    a->relay_signed || a->lifetime != NULL ||
		    a->napprovers > 0) {
			fprintf(stderr,
			    "signet-agent: request options need "
			    "--explain\n");
			return -1;
		}
		return 0;
	}
	if (a->name == NULL || a->image == NULL || a->action == NULL ||
	    a->operator_name == NULL || a->reason == NULL) {
		fprintf(stderr,
		    "signet-agent: --explain needs --name, --image, "
		    "--action, --operator and --reason\n");
		return -1;
	}
	return 0;
}

static void
print_summary(const struct policy *p, const char *file)
{
	char esc[512], line[1024];
	size_t i, n = policy_rule_count(p);

	printf("%s: valid, host_id %s, %zu rule%s\n",
	    text_escape_str(file, esc, sizeof(esc)), policy_host_id(p), n,
	    n == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		printf("  rule %zu: %s\n", i,
		    policy_rule_describe(p, i, line, sizeof(line)));
}

static int
explain(struct policy *p, const struct cli_args *a)
{
	struct policy_request req;
	struct policy_decision dec;
	char why[ERR_MSG_MAX], esc[160];
	size_t i;
	int r;

	memset(&req, 0, sizeof(req));
	if (policy_action_parse(a->action, &req.action) != 0) {
		fprintf(stderr,
		    "signet-agent: --action \"%s\": use START, STOP "
		    "or RESTART\n",
		    text_escape_str(a->action, esc, sizeof(esc)));
		return POLICY_CLI_USAGE;
	}
	req.container_id = a->container_id != NULL ? a->container_id :
	                                             "explain";
	req.name = a->name;
	req.image = a->image;
	req.labels = a->labels;
	req.nlabels = a->nlabels;
	req.operator_name = a->operator_name;
	req.reason = a->reason;
	req.now_ms = policy_now_ms();
	req.operator_signed = !a->relay_signed;
	if (a->lifetime != NULL) {
		int64_t secs = 0;

		if (text_to_int64(a->lifetime, 0, CLI_LIFETIME_MAX, &secs) !=
		    0) {
			fprintf(stderr,
			    "signet-agent: --lifetime \"%s\": seconds, "
			    "0..%lld\n",
			    text_escape_str(a->lifetime, esc, sizeof(esc)),
			    CLI_LIFETIME_MAX);
			return POLICY_CLI_USAGE;
		}
		req.request_lifetime_ms = secs * 1000;
	}
	if (a->relay_signed && (a->lifetime != NULL || a->napprovers > 0)) {
		fprintf(stderr,
		    "signet-agent: --relay-signed: a relay-signed action has "
		    "no request lifetime or approvals\n");
		return POLICY_CLI_USAGE;
	}
	req.approvers = a->approvers;
	req.napprovers = a->napprovers;
	for (i = 0; i < policy_rule_count(p); i++) {
		(void)policy_rule_check(p, i, &req, why, sizeof(why));
		printf("rule %zu: %s\n", i, why);
	}
	r = policy_evaluate(p, &req, &dec);
	if (r != 0 || !dec.allow) {
		printf("deny: %s\n", r != 0 ? err_str(r) : dec.text);
		return POLICY_CLI_FAIL;
	}
	printf("allow: rule %d\n", dec.rule);
	return POLICY_CLI_OK;
}

int
policy_cli_main(int argc, char **argv)
{
	struct cli_args a;
	struct policy *p = NULL;
	struct err_msg msg;
	int r;

	memset(&a, 0, sizeof(a));
	err_clear(&msg);
	if (parse_args(argc, argv, &a) != 0) {
		r = POLICY_CLI_USAGE;
		goto out;
	}
	if (a.host_id != NULL && !text_valid_name(a.host_id)) {
		fprintf(stderr,
		    "signet-agent: --host-id: not a host id "
		    "([a-z0-9][a-z0-9._-]{0,62})\n");
		r = POLICY_CLI_USAGE;
		goto out;
	}
	if (policy_load(a.file, a.host_id, &p, &msg) != 0) {
		fprintf(stderr, "signet-agent: policy refused: %s\n", msg.text);
		r = POLICY_CLI_FAIL;
		goto out;
	}
	if (a.explain)
		r = explain(p, &a);
	else {
		print_summary(p, a.file);
		r = POLICY_CLI_OK;
	}
out:
	policy_free(p);
	cli_free(&a);
	return r;
}
