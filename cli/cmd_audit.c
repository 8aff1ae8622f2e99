/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit verify: offline check of a signed, chained audit log,
 * one file or the files of a rotated log in order (their links checked).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cmd.h"
#include "keys.h"

static void
usage_verify(FILE *f)
{
	fprintf(f, "usage: signetctl audit verify FILE... --key AUDIT.pub "
	    "[--action-key A.pub] [--agent-keys DIR] "
	    "[--expect-head SEQ:HASH]\n"
	    "  several FILEs: the files of a rotated log, oldest first, e.g.\n"
	    "  audit.log.[0-9]* audit.log\n");
}

static int
cmd_audit_verify(int argc, char **argv)
{
	const char *key_path = NULL, *action_path = NULL;
	const char **files = NULL;
	struct audit_verify_file_info *info = NULL;
	struct audit_verify_opts opts;
	struct audit_verify_report rep;
	struct keys_public audit_key;
	struct keys_pubset action_keys;
	struct err_msg msg;
	size_t nfiles = 0, k;
	int i, r, rc = CMD_USAGE;

	memset(&opts, 0, sizeof(opts));
	memset(&rep, 0, sizeof(rep));
	err_clear(&msg);
	files = calloc((size_t)argc + 1, sizeof(*files));
	info = calloc((size_t)argc + 1, sizeof(*info));
	if (files == NULL || info == NULL) {
		fprintf(stderr, "signetctl audit verify: out of memory\n");
		goto out;
	}
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--key") == 0 || strcmp(a, "--action-key") == 0 ||
		    strcmp(a, "--agent-keys") == 0 ||
		    strcmp(a, "--expect-head") == 0) {
			if (v == NULL) {
				fprintf(stderr, "signetctl audit verify: %s "
				    "needs a value\n", a);
				goto out;
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
				goto out;
			} else {
				opts.has_expect_head = true;
			}
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_verify(stdout);
			rc = CMD_OK;
			goto out;
		} else if (a[0] == '-') {
			fprintf(stderr, "signetctl audit verify: unknown "
			    "option %s\n", a);
			usage_verify(stderr);
			goto out;
		} else {
			files[nfiles++] = a;
		}
	}
	if (nfiles == 0 || key_path == NULL) {
		usage_verify(stderr);
		goto out;
	}
	r = keys_load_public(key_path, &audit_key, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl audit verify: %s\n", msg.text);
		goto out;
	}
	opts.audit_key = &audit_key;
	if (action_path != NULL) {
		r = keys_load_pubset(action_path, &action_keys, &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl audit verify: %s\n",
			    msg.text);
			goto out;
		}
		opts.action_keys = &action_keys;
	}
	r = audit_verify_files(files, nfiles, &opts, info, &rep, &msg);
	if (r != 0) {
		printf("FAILED: %s\n", msg.text);
		if (rep.bad_line > 0)
			printf("records before the bad line verified: %" PRIu64
			    "\n", rep.records);
		rc = rep.bad_line > 0 || r == SIGNET_ERR_CHAIN ? CMD_FAIL :
		    CMD_USAGE;
		goto out;
	}
	if (nfiles == 1) {
		printf("ok: %s: %" PRIu64 " records\n", files[0], rep.records);
	} else {
		for (k = 0; k < nfiles; k++) {
			printf("file: %s: %" PRIu64 " records", files[k],
			    info[k].records);
			if (info[k].records > 0)
				printf(", seq %" PRIu64 "..%" PRIu64,
				    info[k].first_seq, info[k].last_seq);
			printf("%s\n", info[k].linked ? ", linked to the file "
			    "before" : "");
		}
		printf("ok: %zu files: %" PRIu64 " records\n", nfiles,
		    rep.records);
	}
	if (rep.continues)
		printf("continues: %s at %" PRIu64 ":%s (not checked: give "
		    "that file first to check the link)\n",
		    rep.continues_from.previous, rep.continues_from.head.seq,
		    rep.continues_from.head.hash);
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
	if (rep.rotations > 0)
		printf("rotations: %" PRIu64 " (audit.rotated records)\n",
		    rep.rotations);
	rc = CMD_OK;
out:
	free(files);
	free(info);
	return rc;
}

int
cmd_audit(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "verify") == 0)
		return cmd_audit_verify(argc - 1, argv + 1);
	fprintf(stderr, "usage: signetctl audit verify FILE... --key AUDIT.pub "
	    "...\n");
	return CMD_USAGE;
}
