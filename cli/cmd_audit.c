/* SPDX-License-Identifier: ISC */
/* signetctl audit verify: offline check of a signed, chained audit log. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "cmd.h"
#include "keys.h"

static void
usage_verify(void)
{
	fprintf(stderr, "usage: signetctl audit verify FILE --key AUDIT.pub "
	    "[--action-key A.pub] [--agent-keys DIR] "
	    "[--expect-head SEQ:HASH]\n");
}

static int
cmd_audit_verify(int argc, char **argv)
{
	const char *file = NULL, *key_path = NULL, *action_path = NULL;
	struct audit_verify_opts opts;
	struct audit_verify_report rep;
	struct keys_public audit_key;
	struct keys_pubset action_keys;
	struct err_msg msg;
	int i, r;

	memset(&opts, 0, sizeof(opts));
	err_clear(&msg);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--key") == 0 || strcmp(a, "--action-key") == 0 ||
		    strcmp(a, "--agent-keys") == 0 ||
		    strcmp(a, "--expect-head") == 0) {
			if (v == NULL) {
				fprintf(stderr, "signetctl audit verify: %s "
				    "needs a value\n", a);
				return CMD_USAGE;
			}
			i++;
			if (strcmp(a, "--key") == 0) {
				key_path = v;
			} else if (strcmp(a, "--action-key") == 0) {
				action_path = v;
			} else if (strcmp(a, "--agent-keys") == 0) {
				opts.agent_keys_dir = v;
			} else if (audit_head_parse(v, &opts.expect_head) != 0) {
				fprintf(stderr, "signetctl audit verify: "
				    "--expect-head wants SEQ:HASH (a decimal "
				    "seq and 64 lowercase hex digits)\n");
				return CMD_USAGE;
			} else {
				opts.has_expect_head = true;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "signetctl audit verify: unknown "
			    "option %s\n", a);
			usage_verify();
			return CMD_USAGE;
		} else if (file == NULL) {
			file = a;
		} else {
			usage_verify();
			return CMD_USAGE;
		}
	}
	if (file == NULL || key_path == NULL) {
		usage_verify();
		return CMD_USAGE;
	}
	r = keys_load_public(key_path, &audit_key, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl audit verify: %s\n", msg.text);
		return CMD_USAGE;
	}
	opts.audit_key = &audit_key;
	if (action_path != NULL) {
		r = keys_load_pubset(action_path, &action_keys, &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl audit verify: %s\n",
			    msg.text);
			return CMD_USAGE;
		}
		opts.action_keys = &action_keys;
	}
	r = audit_verify_file(file, &opts, &rep, &msg);
	if (r != 0) {
		printf("FAILED: %s\n", msg.text);
		if (rep.bad_line > 0)
			printf("records before the bad line verified: %" PRIu64
			    "\n", rep.records);
		return rep.bad_line > 0 || r == SIGNET_ERR_CHAIN ? CMD_FAIL :
		    CMD_USAGE;
	}
	printf("ok: %s: %" PRIu64 " records\n", file, rep.records);
	if (rep.head.empty)
		printf("head: none (empty log)\n");
	else
		printf("head: %" PRIu64 ":%s\n", rep.head.seq, rep.head.hash);
	printf("actions: %" PRIu64 " verified, %" PRIu64
	    " not checked%s\n", rep.actions_checked, rep.actions_unchecked,
	    rep.actions_unchecked > 0 ? " (give --action-key)" : "");
	printf("results: %" PRIu64 " verified, %" PRIu64
	    " not checked%s\n", rep.results_checked, rep.results_unchecked,
	    rep.results_unchecked > 0 ? " (give --agent-keys)" : "");
	if (rep.torn_tails > 0)
		printf("torn writes recorded: %" PRIu64 " (see the "
		    "audit.torn_tail records)\n", rep.torn_tails);
	return CMD_OK;
}

int
cmd_audit(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "verify") == 0)
		return cmd_audit_verify(argc - 1, argv + 1);
	fprintf(stderr, "usage: signetctl audit verify FILE --key AUDIT.pub "
	    "...\n");
	return CMD_USAGE;
}
