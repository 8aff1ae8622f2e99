/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit verify: offline check of a signed, chained audit log,
 * one file or the files of a rotated log in order (their links checked),
 * and, with the roster files, each action's operator request (one line per
 * action), and, with --checkpoint, that signed checkpoints hold for the
 * log and which known witnesses cosigned them (cli/witness.h).
 * Exit 0 when it verifies, 1 when the log is bad, 2 for usage and for
 * keys or files that cannot be read.
 */
#include <inttypes.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_request.h"
#include "clock.h"
#include "cmd.h"
#include "keys.h"
#include "keyset.h"
#include "roster.h"
#include "text.h"
#include "witness.h"

enum {
	OPT_KEY = CMD_OPT_FIRST_OWN,
	OPT_ACTION_KEY,
	OPT_AGENT_KEYS,
	OPT_EXPECT_HEAD,
	OPT_ROSTER,
	OPT_ROSTER_KEYS,
	OPT_ROSTER_THRESHOLD,
	OPT_CHECKPOINT,
	OPT_WITNESS_KEY,
	OPT_JOBS,
	OPT_AGENT_HOST,
};

/* Keys of the log's own records: --key repeated, or a host's key set. */
#define LOG_KEYS_MAX (1 + KEYSET_RETIRED_MAX)

static void
usage_verify(FILE *f)
{
	fprintf(f,
	    "usage: signetctl audit verify FILE... (--key AUDIT.pub... | "
	    "--agent-keys DIR --agent-host HOST)\n"
	    "       [--action-key A.pub] [--agent-keys DIR] "
	    "[--expect-head SEQ:HASH] [--roster ROSTER.json... --roster-keys "
	    "ROSTER.pub [--roster-threshold K]] [--jobs N]\n"
	    "       [--checkpoint FILE... [--witness-key VKEY-FILE...]] "
	    "[-o table|json]\n"
	    "  -o, --output table|json  a report in lines (default) or a JSON "
	    "object;\n"
	    "                           --json is -o json\n"
	    "  --key FILE               the key the log is signed with; an "
	    "agent's log\n"
	    "                           across a result key rotation: repeat "
	    "it with each\n"
	    "                           key (the log changes key at its "
	    "agent.started)\n"
	    "  --agent-host HOST        an agent's log: its keys are HOST's in "
	    "--agent-keys\n"
	    "                           DIR (HOST.pub and retired/HOST.*.pub), "
	    "not --key\n"
	    "  several FILEs: the files of a rotated log, oldest first, e.g.\n"
	    "  audit.log.[0-9]* audit.log\n"
	    "  --roster FILE            a signed roster in force over the log's "
	    "time\n"
	    "                           (repeat it; needs --action-key): checks "
	    "each\n"
	    "                           action's operator request and "
	    "approvals\n"
	    "  --roster-keys FILE       the pinned roster public keys\n"
	    "  --roster-threshold K     roster signatures required (1 to %d, "
	    "default 1)\n"
	    "  --checkpoint FILE        a signed checkpoint of this log "
	    "(repeat it): checks\n"
	    "                           the log's signature and that the "
	    "log's first SIZE\n"
	    "                           records have its root\n"
	    "  --witness-key FILE       a witness's verifier key text (repeat "
	    "it; audit\n"
	    "                           witness-key prints one): reports who "
	    "cosigned\n"
	    "  --jobs N                 threads checking signatures (1 to %d; "
	    "default:\n"
	    "                           the CPUs online; 1: one thread); the "
	    "report is\n"
	    "                           the same whatever N\n",
	    ROSTER_THRESHOLD_MAX, AUDIT_VERIFY_JOBS_MAX);
}

/* The CPUs online, at most AUDIT_VERIFY_JOBS_MAX; 1 if unknown. */
static int64_t
default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > AUDIT_VERIFY_JOBS_MAX ? AUDIT_VERIFY_JOBS_MAX : n;
}

/* The exit code of a verification that returned r. */
static int
verdict(int r, const struct audit_verify_report *rep)
{
	if (r == 0)
		return rep->requests_failed > 0 ? CMD_FAIL : CMD_OK;
	return rep->bad_line > 0 || r == SIGNET_ERR_CHAIN ? CMD_FAIL :
	                                                    CMD_USAGE;
}

/* What the text report's action lines and the JSON report gather. */
struct request_sink {
	bool json;
	bool all;       /* rosters given: every action; else failures only */
	cJSON *actions; /* JSON: the findings, in log order */
	bool failed;    /* JSON: a finding could not be added */
};

/* Prints one finding as its line. */
static void
print_finding(const struct audit_request_finding *f)
{
	size_t i, nvalid = 0;

	printf("action %s (seq %" PRIu64 ", %s): ", f->action_id, f->seq,
	    f->event);
	switch (f->verdict) {
	case AUDIT_REQUEST_VERIFIED:
		printf("requester %s verified (key %s, roster v%" PRId64 ")",
		    f->requester, f->key_id, f->roster_version);
		break;
	case AUDIT_REQUEST_SERVER_ASSERTED:
		printf("requester %s server-asserted (no operator "
		       "signature)\n",
		    f->requester);
		return;
	case AUDIT_REQUEST_UNVERIFIED:
		printf("requester not verified, as the host recorded (key "
		       "%s): %s\n",
		    f->key_id, f->why);
		return;
	case AUDIT_REQUEST_UNCHECKED:
		printf("operator request not checked (give --roster)\n");
		return;
	case AUDIT_REQUEST_FAILED:
	default:
		printf("FAILED: requester %s (key %s", f->requester,
		    f->key_id[0] != '\0' ? f->key_id : "none");
		if (f->roster_version > 0)
			printf(", roster v%" PRId64, f->roster_version);
		printf("): %s\n", f->why);
		return;
	}
	for (i = 0; i < f->napprovals; i++) {
		if (!f->approvals[i].counted)
			continue;
		printf("%s%s", nvalid == 0 ? "; approvers " : ", ",
		    f->approvals[i].name);
		nvalid++;
	}
	if (nvalid > 0)
		printf(" verified");
	else if (f->napprovals == 0)
		printf("; no approvals");
	else
		printf("; no approver verified");
	for (i = 0; i < f->napprovals; i++) {
		const struct audit_request_approval *a = &f->approvals[i];

		if (a->counted)
			continue;
		if (a->name[0] != '\0')
			printf("; %s not counted: %s", a->name, a->why);
		else
			printf("; an approval not counted: %s", a->why);
	}
	printf("\n");
}

/* One finding as a JSON object. */
static cJSON *
finding_json(const struct audit_request_finding *f)
{
	cJSON *o = cJSON_CreateObject(), *arr, *e;
	size_t i;
	bool ok;

	ok = o != NULL &&
	    cJSON_AddStringToObject(o, "action_id", f->action_id) != NULL &&
	    cJSON_AddNumberToObject(o, "seq", (double)f->seq) != NULL &&
	    cJSON_AddStringToObject(o, "event", f->event) != NULL &&
	    cJSON_AddStringToObject(o, "verdict",
	        audit_request_verdict_name(f->verdict)) != NULL &&
	    cJSON_AddStringToObject(o, "requester", f->requester) != NULL &&
	    (f->key_id[0] == '\0' ||
	        cJSON_AddStringToObject(o, "key_id", f->key_id) != NULL) &&
	    (f->roster_version == 0 ||
	        cJSON_AddNumberToObject(o, "roster_version",
	            (double)f->roster_version) != NULL) &&
	    (f->verdict == AUDIT_REQUEST_VERIFIED ||
	        cJSON_AddStringToObject(o, "why", f->why) != NULL) &&
	    (arr = cJSON_AddArrayToObject(o, "approvals")) != NULL;
	for (i = 0; ok && i < f->napprovals; i++) {
		const struct audit_request_approval *a = &f->approvals[i];

		ok = (e = cJSON_CreateObject()) != NULL &&
		    cJSON_AddItemToArray(arr, e) &&
		    cJSON_AddStringToObject(e, "key_id", a->key_id) != NULL &&
		    (a->name[0] == '\0' ||
		        cJSON_AddStringToObject(e, "name", a->name) != NULL) &&
		    cJSON_AddBoolToObject(e, "counted", a->counted) != NULL &&
		    (a->counted ||
		        cJSON_AddStringToObject(e, "why", a->why) != NULL);
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static void
on_request(const struct audit_request_finding *f, void *arg)
{
	struct request_sink *sink = arg;
	cJSON *o;

	if (!sink->all && f->verdict != AUDIT_REQUEST_FAILED)
		return;
	if (!sink->json) {
		print_finding(f);
		return;
	}
	o = finding_json(f);
	if (o == NULL || !cJSON_AddItemToArray(sink->actions, o)) {
		cJSON_Delete(o);
		sink->failed = true;
	}
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
 * "operator_requests":{"verified","server_asserted","unverified",
 * "failed","not_checked","actions":[...]}, "torn_tails", "rotations"} or
 * {"ok":false, "error", "bad_line", "records_verified"}. A log whose
 * chain holds but whose operator requests failed is the full report with
 * "ok": false and "error". Takes sink->actions. Returns the exit code of
 * the verification, or CMD_FAIL when the report cannot be written.
 */
static int
report_json(const char **files, size_t nfiles,
    const struct audit_verify_file_info *info,
    const struct audit_verify_report *rep, int r, const struct err_msg *msg,
    struct request_sink *sink, cJSON *checkpoints, const char *cp_failed)
{
	cJSON *actions = sink->actions;
	char failed[80];
	bool written = false;

	cJSON *doc = cJSON_CreateObject(), *arr, *o;
	char *text = NULL;
	size_t k;
	int rc = CMD_FAIL;

	sink->actions = NULL;
	if (doc == NULL || sink->failed ||
	    cJSON_AddBoolToObject(doc, "ok",
	        r == 0 && rep->requests_failed == 0 && cp_failed == NULL) ==
	        NULL)
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
	o = cJSON_AddObjectToObject(doc, "operator_requests");
	if (o == NULL || !add_num(o, "verified", rep->requests_verified) ||
	    !add_num(o, "server_asserted", rep->requests_server_asserted) ||
	    !add_num(o, "unverified", rep->requests_unverified) ||
	    !add_num(o, "failed", rep->requests_failed) ||
	    !add_num(o, "not_checked", rep->requests_unchecked) ||
	    !cJSON_AddItemToObject(o, "actions", actions))
		goto out;
	actions = NULL;
	if (checkpoints != NULL) {
		if (!cJSON_AddItemToObject(doc, "checkpoints", checkpoints))
			goto out;
		checkpoints = NULL;
	}
	if (cp_failed != NULL && rep->requests_failed == 0 &&
	    cJSON_AddStringToObject(doc, "error", cp_failed) == NULL)
		goto out;
	if (rep->requests_failed > 0) {
		(void)snprintf(failed, sizeof(failed),
		    "%" PRIu64 " operator request check(s) failed",
		    rep->requests_failed);
		if (cJSON_AddStringToObject(doc, "error", failed) == NULL)
			goto out;
	}
print:
	text = cJSON_PrintUnformatted(doc);
	if (text == NULL || printf("%s\n", text) < 0 || fflush(stdout) != 0)
		goto out;
	rc = verdict(r, rep);
	if (rc == CMD_OK && cp_failed != NULL)
		rc = CMD_FAIL;
	written = true;
out:
	if (!written && r == 0)
		fprintf(stderr,
		    "signetctl audit verify: cannot write the "
		    "report\n");
	free(text);
	cJSON_Delete(checkpoints);
	cJSON_Delete(actions);
	cJSON_Delete(doc);
	return rc;
}

/* A checkpoint's root in base64. */
static const char *
root_b64(const uint8_t root[static MERKLE_HASH_LEN], char *out, size_t size)
{
	return sodium_bin2base64(out, size, root, MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

/*
 * The checkpoints' report as a JSON array: [{"file","origin","size",
 * "root","holds","witnessed","witnesses":[{"name","key_id","time"}],
 * "error"}] ("error" only when the check failed). NULL when out of memory.
 */
static cJSON *
checkpoints_json(const struct witness_cp_report *cps, size_t n)
{
	cJSON *arr = cJSON_CreateArray(), *o, *ws, *e;
	char b64[64], id[NOTE_KEY_ID_HEX + 1];
	size_t i, k;
	bool ok = arr != NULL;

	for (i = 0; ok && i < n; i++) {
		const struct witness_cp_report *c = &cps[i];

		ok = (o = cJSON_CreateObject()) != NULL &&
		    cJSON_AddItemToArray(arr, o) &&
		    cJSON_AddStringToObject(o, "file", c->file) != NULL &&
		    cJSON_AddStringToObject(o, "origin", c->cp.origin) !=
		        NULL &&
		    add_num(o, "size", c->cp.size) &&
		    cJSON_AddStringToObject(o, "root",
		        root_b64(c->cp.root, b64, sizeof(b64))) != NULL &&
		    cJSON_AddBoolToObject(o, "holds", c->holds) != NULL &&
		    cJSON_AddBoolToObject(o, "witnessed",
		        !c->failed && c->nwitnessed > 0) != NULL &&
		    (ws = cJSON_AddArrayToObject(o, "witnesses")) != NULL &&
		    (!c->failed ||
		        cJSON_AddStringToObject(o, "error", c->why) != NULL);
		for (k = 0; ok && k < c->nwitnessed; k++) {
			(void)snprintf(id, sizeof(id), "%08" PRIx32,
			    c->witnessed[k].key_id);
			ok = (e = cJSON_CreateObject()) != NULL &&
			    cJSON_AddItemToArray(ws, e) &&
			    cJSON_AddStringToObject(e, "name",
			        c->witnessed[k].name) != NULL &&
			    cJSON_AddStringToObject(e, "key_id", id) != NULL &&
			    add_num(e, "time", c->witnessed[k].time);
		}
	}
	if (!ok) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

/*
 * Prints one line per checkpoint: "checkpoint SIZE ROOT: holds,
 * witnessed by NAME (time T), ..." or "..., NOT witnessed", or "FAILED:
 * checkpoint FILE: why". Returns the number that failed.
 */
static size_t
print_checkpoints(const struct witness_cp_report *cps, size_t n)
{
	char b64[64], esc[200], when[32], name[160];
	size_t i, k, failed = 0;

	for (i = 0; i < n; i++) {
		const struct witness_cp_report *c = &cps[i];

		if (c->failed) {
			printf("FAILED: checkpoint %s: %s\n",
			    text_escape_str(c->file, esc, sizeof(esc)), c->why);
			failed++;
			continue;
		}
		printf("checkpoint %" PRIu64 " %s: holds", c->cp.size,
		    root_b64(c->cp.root, b64, sizeof(b64)));
		if (c->nwitnessed == 0)
			printf(", NOT witnessed");
		for (k = 0; k < c->nwitnessed; k++) {
			uint64_t t = c->witnessed[k].time;

			printf("%s%s (time %s)",
			    k == 0 ? ", witnessed by " : ", ",
			    text_escape_str(c->witnessed[k].name, name,
			        sizeof(name)),
			    t <= (uint64_t)INT64_MAX / 1000 ?
			        clock_format((int64_t)t * 1000, false, when,
			            sizeof(when)) :
			        "?");
		}
		printf("\n");
	}
	return failed;
}

int
cmd_audit_verify(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "key", required_argument,
		                                      NULL, OPT_KEY },
		{ "action-key", required_argument, NULL, OPT_ACTION_KEY },
		{ "agent-keys", required_argument, NULL, OPT_AGENT_KEYS },
		{ "expect-head", required_argument, NULL, OPT_EXPECT_HEAD },
		{ "roster", required_argument, NULL, OPT_ROSTER },
		{ "roster-keys", required_argument, NULL, OPT_ROSTER_KEYS },
		{ "roster-threshold", required_argument, NULL,
		    OPT_ROSTER_THRESHOLD },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "witness-key", required_argument, NULL, OPT_WITNESS_KEY },
		{ "jobs", required_argument, NULL, OPT_JOBS },
		{ "agent-host", required_argument, NULL, OPT_AGENT_HOST },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, CMD_OPT_JSON },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *key_paths[LOG_KEYS_MAX], *action_path = NULL;
	const char *agent_host = NULL;
	struct keys_public log_keys[LOG_KEYS_MAX];
	struct keyset host_ks;
	size_t nkeys = 0, nlog = 0;
	const char *roster_keys_path = NULL, *threshold_text = NULL;
	const char *jobs_text = NULL;
	const char **files = NULL, **rosters = NULL;
	const char **cp_files = NULL, **wkey_files = NULL;
	struct note_verifier wkeys[WITNESS_KEYS_MAX];
	struct witness_cp_report *cps = NULL;
	size_t ncps = 0, nwkeys = 0, cp_nfailed = 0;
	cJSON *cp_json = NULL;
	char cp_failed[80];
	struct audit_request_rosters *rs = NULL;
	struct request_sink sink;
	struct keys_pubset roster_keys;
	int64_t threshold = 1, jobs = 0;
	size_t nrosters = 0;
	struct audit_verify_file_info *info = NULL;
	struct audit_verify_opts opts;
	struct audit_verify_report rep;
	struct keys_pubset action_keys;
	struct err_msg msg;
	char esc[160];
	size_t nfiles = 0, k;
	int opt, r, rc = CMD_USAGE;

	(void)ctx;
	memset(&opts, 0, sizeof(opts));
	memset(&rep, 0, sizeof(rep));
	memset(&sink, 0, sizeof(sink));
	err_clear(&msg);
	files = calloc((size_t)argc + 1, sizeof(*files));
	info = calloc((size_t)argc + 1, sizeof(*info));
	rosters = calloc((size_t)argc + 1, sizeof(*rosters));
	cp_files = calloc((size_t)argc + 1, sizeof(*cp_files));
	wkey_files = calloc((size_t)argc + 1, sizeof(*wkey_files));
	cps = calloc((size_t)argc + 1, sizeof(*cps));
	if (files == NULL || info == NULL || rosters == NULL ||
	    cp_files == NULL || wkey_files == NULL || cps == NULL) {
		fprintf(stderr, "signetctl audit verify: out of memory\n");
		goto out;
	}
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_verify(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_KEY:
			if (nkeys >= LOG_KEYS_MAX) {
				fprintf(stderr,
				    "signetctl audit verify: over %d --key\n",
				    LOG_KEYS_MAX);
				goto out;
			}
			key_paths[nkeys++] = optarg;
			break;
		case OPT_AGENT_HOST: agent_host = optarg; break;
		case OPT_ACTION_KEY: action_path = optarg; break;
		case OPT_AGENT_KEYS: opts.agent_keys_dir = optarg; break;
		case OPT_ROSTER: rosters[nrosters++] = optarg; break;
		case OPT_ROSTER_KEYS: roster_keys_path = optarg; break;
		case OPT_ROSTER_THRESHOLD: threshold_text = optarg; break;
		case OPT_CHECKPOINT: cp_files[ncps++] = optarg; break;
		case OPT_WITNESS_KEY:
			if (nwkeys >= WITNESS_KEYS_MAX) {
				fprintf(stderr,
				    "signetctl audit verify: over %d "
				    "--witness-key\n",
				    WITNESS_KEYS_MAX);
				goto out;
			}
			wkey_files[nwkeys++] = optarg;
			break;
		case OPT_JOBS: jobs_text = optarg; break;
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
	if (nfiles == 0 || (nkeys == 0 && agent_host == NULL)) {
		fprintf(stderr, "signetctl audit verify: %s\n",
		    nfiles == 0 ? "no log file given" :
		                  "--key AUDIT.pub (or, for an agent's log, "
		                  "--agent-keys DIR --agent-host HOST) is "
		                  "required");
		usage_verify(stderr);
		goto out;
	}
	if (agent_host != NULL && (nkeys > 0 || opts.agent_keys_dir == NULL)) {
		fprintf(stderr, "signetctl audit verify: --agent-host %s\n",
		    nkeys > 0 ? "gives the log's keys: not with --key" :
		                "needs --agent-keys DIR");
		goto out;
	}
	if (threshold_text != NULL &&
	    text_to_int64(threshold_text, 1, ROSTER_THRESHOLD_MAX,
	        &threshold) != 0) {
		fprintf(stderr,
		    "signetctl audit verify: --roster-threshold \"%s\": give "
		    "1 to %d\n",
		    text_escape_str(threshold_text, esc, sizeof(esc)),
		    ROSTER_THRESHOLD_MAX);
		goto out;
	}
	if (jobs_text != NULL &&
	    text_to_int64(jobs_text, 1, AUDIT_VERIFY_JOBS_MAX, &jobs) != 0) {
		fprintf(stderr,
		    "signetctl audit verify: --jobs \"%s\": give 1 to %d\n",
		    text_escape_str(jobs_text, esc, sizeof(esc)),
		    AUDIT_VERIFY_JOBS_MAX);
		goto out;
	}
	if (jobs_text == NULL)
		jobs = default_jobs();
	opts.jobs = (unsigned)jobs;
	if (nrosters > 0 && (roster_keys_path == NULL || action_path == NULL)) {
		fprintf(stderr, "signetctl audit verify: --roster needs %s\n",
		    roster_keys_path == NULL ?
		        "--roster-keys ROSTER.pub (the pinned roster keys)" :
		        "--action-key (the requests travel inside the signed "
		        "actions)");
		goto out;
	}
	if (nrosters == 0 &&
	    (roster_keys_path != NULL || threshold_text != NULL)) {
		fprintf(stderr,
		    "signetctl audit verify: --roster-keys and "
		    "--roster-threshold need --roster FILE\n");
		goto out;
	}
	if (nwkeys > 0 && ncps == 0) {
		fprintf(stderr,
		    "signetctl audit verify: --witness-key needs --checkpoint "
		    "FILE\n");
		goto out;
	}
	r = 0;
	for (k = 0; r == 0 && k < nkeys; k++)
		r = keys_load_public(key_paths[k], &log_keys[nlog++], &msg);
	if (r == 0 && agent_host != NULL) {
		/* The current key first, then the retired, newest first. */
		r = keyset_load(opts.agent_keys_dir, agent_host, false,
		    &host_ks, &msg);
		for (k = 0; r == 0 && k < host_ks.count; k++)
			log_keys[nlog++] = host_ks.keys[k].pub;
	}
	for (k = 0; r == 0 && k < nwkeys; k++)
		r = witness_vkey_load(wkey_files[k], &wkeys[k], &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl audit verify: %s\n", msg.text);
		goto out;
	}
	opts.audit_key = &log_keys[0];
	opts.more_keys = nlog > 1 ? &log_keys[1] : NULL;
	opts.n_more_keys = nlog - 1;
	if (action_path != NULL) {
		r = keys_load_pubset(action_path, &action_keys, &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl audit verify: %s\n",
			    msg.text);
			goto out;
		}
		opts.action_keys = &action_keys;
	}
	if (nrosters > 0) {
		r = keys_load_pubset(roster_keys_path, &roster_keys, &msg);
		if (r == 0)
			r = audit_request_rosters_load(rosters, nrosters,
			    &roster_keys, (unsigned)threshold, &rs, &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl audit verify: %s\n",
			    msg.text);
			goto out;
		}
		opts.rosters = rs;
	}
	sink.json = ctx->output == CMD_OUTPUT_JSON;
	if (sink.json) {
		sink.actions = cJSON_CreateArray();
		if (sink.actions == NULL) {
			fprintf(stderr,
			    "signetctl audit verify: out of memory\n");
			goto out;
		}
	}
	sink.all = rs != NULL;
	opts.on_request = on_request;
	opts.on_request_arg = &sink;
	r = audit_verify_files(files, nfiles, &opts, info, &rep, &msg);
	if (r == 0 && ncps > 0) {
		struct err_msg cmsg;

		err_clear(&cmsg);
		if (rep.continues) {
			fprintf(stderr,
			    "signetctl audit verify: --checkpoint needs the "
			    "log from its first record: give its first file "
			    "(%s) and the ones after it\n",
			    rep.continues_from.previous);
			goto out;
		}
		if (witness_check_checkpoints(cp_files, ncps, &log_keys[0],
		        wkeys, nwkeys, files, nfiles, cps, &cmsg) != 0) {
			fprintf(stderr, "signetctl audit verify: %s\n",
			    cmsg.text);
			goto out;
		}
		for (k = 0; k < ncps; k++)
			cp_nfailed += cps[k].failed ? 1 : 0;
		(void)snprintf(cp_failed, sizeof(cp_failed),
		    "%zu checkpoint(s) do not hold", cp_nfailed);
		if (sink.json) {
			cp_json = checkpoints_json(cps, ncps);
			if (cp_json == NULL) {
				fprintf(stderr,
				    "signetctl audit verify: out of "
				    "memory\n");
				goto out;
			}
		}
	}
	if (sink.json) {
		rc = report_json(files, nfiles, info, &rep, r, &msg, &sink,
		    cp_json, cp_nfailed > 0 ? cp_failed : NULL);
		cp_json = NULL;
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
	if (action_path == NULL)
		printf("operator requests: not checked (give --action-key and "
		       "--roster)\n");
	else if (rs == NULL)
		printf("operator requests: %" PRIu64 " not checked (give "
		       "--roster), %" PRIu64 " server-asserted, %" PRIu64
		       " failed\n",
		    rep.requests_unchecked, rep.requests_server_asserted,
		    rep.requests_failed);
	else
		printf("operator requests: %" PRIu64 " verified, %" PRIu64
		       " server-asserted, %" PRIu64 " failed\n",
		    rep.requests_verified, rep.requests_server_asserted,
		    rep.requests_failed);
	if (rs != NULL && rep.requests_unverified > 0)
		printf("operator requests the hosts recorded unverified (and "
		       "refused): %" PRIu64 "\n",
		    rep.requests_unverified);
	if (rep.torn_tails > 0)
		printf("torn writes recorded: %" PRIu64 " (see the "
		       "audit.torn_tail records)\n",
		    rep.torn_tails);
	if (rep.rotations > 0)
		printf("rotations: %" PRIu64 " (audit.rotated records)\n",
		    rep.rotations);
	(void)print_checkpoints(cps, ncps);
	if (rep.requests_failed > 0) {
		printf("FAILED: %" PRIu64 " operator request check(s) failed "
		       "(see the action lines)\n",
		    rep.requests_failed);
		rc = CMD_FAIL;
		goto out;
	}
	if (cp_nfailed > 0) {
		printf("FAILED: %s (see the checkpoint lines)\n", cp_failed);
		rc = CMD_FAIL;
		goto out;
	}
	rc = CMD_OK;
out:
	cJSON_Delete(cp_json);
	free(cps);
	free(cp_files);
	free(wkey_files);
	audit_request_rosters_free(rs);
	cJSON_Delete(sink.actions);
	free(rosters);
	free(files);
	free(info);
	return rc;
}
