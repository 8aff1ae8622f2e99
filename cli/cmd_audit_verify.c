/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit verify: offline check of a signed, chained audit log,
 * one file or the files of a rotated log in order (their links checked).
 * Exit 0 when it verifies, 1 when the log is bad, 2 for usage and for
 * keys or files that cannot be read.
 */
#include <inttypes.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cmd.h"
#include "keys.h"
#include "text.h"

enum {
	OPT_KEY = CMD_OPT_FIRST_OWN,
	OPT_ACTION_KEY,
	OPT_AGENT_KEYS,
	OPT_EXPECT_HEAD,
};

static void
usage_verify(FILE *f)
{
	fprintf(f,
	    "usage: signetctl audit verify FILE... --key AUDIT.pub "
	    "[--action-key A.pub] [--agent-keys DIR] "
	    "[--expect-head SEQ:HASH] [-o table|json]\n"
	    "  -o, --output table|json  a report in lines (default) or a JSON "
	    "object;\n"
	    "                           --json is -o json\n"
	    "  several FILEs: the files of a rotated log, oldest first, e.g.\n"
	    "  audit.log.[0-9]* audit.log\n");
}

/* The exit code of a verification that returned r. */
static int
verdict(int r, const struct audit_verify_report *rep)
{
	if (r == 0)
		return CMD_OK;
	return rep->bad_line > 0 || r == SIGNET_ERR_CHAIN ? CMD_FAIL :
	                                                    CMD_USAGE;
}

static bool
add_num(cJSON *o, const char *name, uint64_t v)
{
	return cJSON_AddNumberToObject(o, name, (double)v) != NULL;
}

/* head as {"seq","hash"}, or null for an empty log. */
static bool
add_head(cJSON *o, const char *name, const struct audit_head *h)
{
	cJSON *j;

	if (h->empty)
		return cJSON_AddNullToObject(o, name) != NULL;
	j = cJSON_AddObjectToObject(o, name);
	return j != NULL && add_num(j, "seq", h->seq) &&
	    cJSON_AddStringToObject(j, "hash", h->hash) != NULL;
}

/*
 * The report as one JSON object on stdout: {"ok":true, "records",
 * "files":[{"file","records","first_seq","last_seq","linked"}], "head",
 * "continues", "actions":{"verified","unchecked"},
 * "results":{"verified","unchecked","tied","untied"},
 * "torn_tails", "rotations"} or {"ok":false, "error", "bad_line",
 * "records_verified"}. Returns the exit code of the verification, or
 * CMD_FAIL when the report cannot be written.
 */
static int
report_json(const char **files, size_t nfiles,
    const struct audit_verify_file_info *info,
    const struct audit_verify_report *rep, int r, const struct err_msg *msg)
{
	cJSON *doc = cJSON_CreateObject(), *arr, *o;
	char *text = NULL;
	size_t k;
	int rc = CMD_FAIL;

	if (doc == NULL || cJSON_AddBoolToObject(doc, "ok", r == 0) == NULL)
		goto out;
	if (r != 0) {
		if (cJSON_AddStringToObject(doc, "error", msg->text) == NULL ||
		    !add_num(doc, "bad_line", rep->bad_line) ||
		    !add_num(doc, "records_verified", rep->records))
			goto out;
		goto print;
	}
	arr = cJSON_AddArrayToObject(doc, "files");
	if (!add_num(doc, "records", rep->records) || arr == NULL)
		goto out;
	for (k = 0; k < nfiles; k++) {
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto out;
		}
		if (cJSON_AddStringToObject(o, "file", files[k]) == NULL ||
		    !add_num(o, "records", info[k].records) ||
		    (info[k].records > 0 &&
		        (!add_num(o, "first_seq", info[k].first_seq) ||
		            !add_num(o, "last_seq", info[k].last_seq))) ||
		    cJSON_AddBoolToObject(o, "linked", info[k].linked) == NULL)
			goto out;
	}
	if (!add_head(doc, "head", &rep->head))
		goto out;
	if (rep->continues) {
		o = cJSON_AddObjectToObject(doc, "continues");
		if (o == NULL ||
		    cJSON_AddStringToObject(o, "previous",
		        rep->continues_from.previous) == NULL ||
		    !add_head(o, "head", &rep->continues_from.head))
			goto out;
	} else if (cJSON_AddNullToObject(doc, "continues") == NULL) {
		goto out;
	}
	o = cJSON_AddObjectToObject(doc, "actions");
	if (o == NULL || !add_num(o, "verified", rep->actions_checked) ||
	    !add_num(o, "unchecked", rep->actions_unchecked))
		goto out;
	o = cJSON_AddObjectToObject(doc, "results");
	if (o == NULL || !add_num(o, "verified", rep->results_checked) ||
	    !add_num(o, "unchecked", rep->results_unchecked) ||
	    !add_num(o, "tied", rep->results_tied) ||
	    !add_num(o, "untied", rep->results_untied))
		goto out;
	o = cJSON_AddObjectToObject(doc, "outcomes");
	if (o == NULL || !add_num(o, "verified", rep->outcomes_checked) ||
	    !add_num(o, "unchecked", rep->outcomes_unchecked) ||
	    !add_num(doc, "torn_tails", rep->torn_tails) ||
	    !add_num(doc, "rotations", rep->rotations))
		goto out;
print:
	text = cJSON_PrintUnformatted(doc);
	if (text == NULL || printf("%s\n", text) < 0 || fflush(stdout) != 0)
		goto out;
	rc = verdict(r, rep);
out:
	if (rc == CMD_FAIL && r == 0)
		fprintf(stderr,
		    "signetctl audit verify: cannot write the "
		    "report\n");
	free(text);
	cJSON_Delete(doc);
	return rc;
}

int
cmd_audit_verify(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "key", required_argument,
		                                      NULL, OPT_KEY },
		{ "action-key", required_argument, NULL, OPT_ACTION_KEY },
		{ "agent-keys", required_argument, NULL, OPT_AGENT_KEYS },
		{ "expect-head", required_argument, NULL, OPT_EXPECT_HEAD },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, CMD_OPT_JSON },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *key_path = NULL, *action_path = NULL;
	const char **files = NULL;
	struct audit_verify_file_info *info = NULL;
	struct audit_verify_opts opts;
	struct audit_verify_report rep;
	struct keys_public audit_key;
	struct keys_pubset action_keys;
	struct err_msg msg;
	char esc[160];
	size_t nfiles = 0, k;
	int opt, r, rc = CMD_USAGE;

	(void)ctx;
	memset(&opts, 0, sizeof(opts));
	memset(&rep, 0, sizeof(rep));
	err_clear(&msg);
	files = calloc((size_t)argc + 1, sizeof(*files));
	info = calloc((size_t)argc + 1, sizeof(*info));
	if (files == NULL || info == NULL) {
		fprintf(stderr, "signetctl audit verify: out of memory\n");
		goto out;
	}
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_verify(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_KEY: key_path = optarg; break;
		case OPT_ACTION_KEY: action_path = optarg; break;
		case OPT_AGENT_KEYS: opts.agent_keys_dir = optarg; break;
		case OPT_EXPECT_HEAD:
			if (audit_head_parse(optarg, &opts.expect_head) != 0) {
				fprintf(stderr,
				    "signetctl audit verify: "
				    "--expect-head \"%s\": give SEQ:HASH (a "
				    "decimal seq and 64 lowercase hex "
				    "digits)\n",
				    text_escape_str(optarg, esc, sizeof(esc)));
				goto out;
			}
			opts.has_expect_head = true;
			break;
		default:
			if (cmd_common_opt(ctx, "audit verify", opt, argv) == 1)
				break; /* -o, --json */
			usage_verify(stderr);
			goto out;
		}
	}
	for (; optind < argc; optind++)
		files[nfiles++] = argv[optind];
	if (nfiles == 0 || key_path == NULL) {
		fprintf(stderr, "signetctl audit verify: %s\n",
		    nfiles == 0 ? "no log file given" :
		                  "--key AUDIT.pub is required");
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
	if (ctx->output == CMD_OUTPUT_JSON) {
		rc = report_json(files, nfiles, info, &rep, r, &msg);
		goto out;
	}
	if (r != 0) {
		printf("FAILED: %s\n", msg.text);
		if (rep.bad_line > 0)
			printf("records before the bad line verified: %" PRIu64
			       "\n",
			    rep.records);
		rc = verdict(r, &rep);
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
			printf("%s\n",
			    info[k].linked ? ", linked to the file "
			                     "before" :
			                     "");
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
	printf("actions: %" PRIu64 " verified, %" PRIu64 " not checked%s\n",
	    rep.actions_checked, rep.actions_unchecked,
	    rep.actions_unchecked > 0 ? " (give --action-key)" : "");
	printf("results: %" PRIu64 " verified, %" PRIu64 " not checked%s\n",
	    rep.results_checked, rep.results_unchecked,
	    rep.results_unchecked > 0 ? " (give --agent-keys)" : "");
	if (rep.outcomes_checked + rep.outcomes_unchecked > 0)
		printf("outcomes: %" PRIu64 " verified, %" PRIu64
		       " not checked%s\n",
		    rep.outcomes_checked, rep.outcomes_unchecked,
		    rep.outcomes_unchecked > 0 ? " (give --agent-keys)" : "");
	/* A result not tied to its action is said, never passed silently. */
	if (rep.results_checked > 0)
		printf("results tied to their action.requested: %" PRIu64
		       ", not tied: %" PRIu64 "%s\n",
		    rep.results_tied, rep.results_untied,
		    rep.results_untied > 0 ?
		        " (their action is in an earlier file not given, or "
		        "the server did not know it: \"action_known\": false)" :
		        "");
	if (rep.torn_tails > 0)
		printf("torn writes recorded: %" PRIu64 " (see the "
		       "audit.torn_tail records)\n",
		    rep.torn_tails);
	if (rep.rotations > 0)
		printf("rotations: %" PRIu64 " (audit.rotated records)\n",
		    rep.rotations);
	rc = CMD_OK;
out:
	free(files);
	free(info);
	return rc;
}
