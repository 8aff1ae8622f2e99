/* SPDX-License-Identifier: ISC */
/*
 * signetctl action: ask the server to START, STOP or RESTART a container
 * (POST /api/containers/ID/actions) and wait for the agent's signed
 * result, with a progress line while it waits when standard error is a
 * terminal. Also the report of an action answer that action-status
 * shares.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "action_sign.h"
#include "cmd.h"
#include "http.h"
#include "opsign.h"
#include "request.h"
#include "text.h"

#define WAIT_DEFAULT 30
#define WAIT_MAX 120
#define HTTP_SLACK 30 /* seconds beyond the server's wait */

enum {
	OPT_REASON = CMD_OPT_FIRST_OWN,
	OPT_WAIT,
	OPT_NO_WAIT,
	OPT_SIGNING_KEY,
	OPT_PASSPHRASE_FD,
	OPT_VALID,
};

static void
usage_action(FILE *f)
{
	fprintf(f,
	    "usage: signetctl action CONTAINER-ID start|stop|restart "
	    "--reason TEXT\n"
	    "       [--no-wait | --wait SECONDS] [--signing-key FILE "
	    "[--passphrase-fd N]\n"
	    "       [--valid SECONDS]] [-o table|json] [--json] "
	    "[CONNECTION OPTIONS]\n"
	    "  --reason TEXT            why (1 to 512 characters); required\n"
	    "  --wait SECONDS           wait at most this long for the result "
	    "(0 to 120,\n"
	    "                           default 30)\n"
	    "  --no-wait                do not wait (--wait 0): follow it "
	    "with action-status\n"
	    "  --signing-key FILE       sign the request with this operator "
	    "key\n"
	    "                           ($SIGNET_SIGNING_KEY): the host "
	    "checks it\n"
	    "  --passphrase-fd N        read the key's passphrase from "
	    "descriptor N\n"
	    "  --valid SECONDS          how long the signed request stays "
	    "valid (default:\n"
	    "                           the wait + 10, at least 40)\n"
	    "  -o, --output table|json  the action as lines (default) or the "
	    "server's\n"
	    "                           JSON; --json is -o json\n"
	    "connection options: signetctl --help\n");
}

/* One "name: value" line of an action, terminal-safe. */
static void
field(FILE *f, const cJSON *a, const char *key, const char *label)
{
	char cell[1200];

	fprintf(f, "%-13s %s\n", label,
	    http_json_cell(a, key, cell, sizeof(cell)));
}

/* The whole action, one field per line. */
static void
print_action(FILE *f, const cJSON *a)
{
	field(f, a, "action_id", "action_id:");
	field(f, a, "status", "status:");
	field(f, a, "action", "action:");
	field(f, a, "container_id", "container:");
	field(f, a, "host_id", "host:");
	field(f, a, "requested_by", "requested_by:");
	field(f, a, "operator_signed", "signed:");
	field(f, a, "reason", "reason:");
	field(f, a, "requested_at", "requested_at:");
	field(f, a, "finished_at", "finished_at:");
	field(f, a, "docker_status", "docker_status:");
	field(f, a, "error", "error:");
}

int
cmd_report_action(const char *cmd, const struct http_response *resp,
    enum cmd_output output)
{
	cJSON *doc = NULL;
	const cJSON *id, *st, *er;
	char ids[80], sts[40], ers[1200];
	bool ok = resp->status >= 200 && resp->status <= 299;
	int rc = cmd_exit_of_status(resp->status);

	if (output == CMD_OUTPUT_JSON) {
		if (cmd_print_raw(resp) != CMD_OK)
			rc = CMD_FAIL;
		if (!ok)
			http_print_failure(cmd, resp);
		return rc;
	}
	doc = cJSON_ParseWithLength(resp->body, resp->len);
	id = cJSON_GetObjectItemCaseSensitive(doc, "action_id");
	st = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (!cJSON_IsString(id) || !cJSON_IsString(st)) {
		if (ok) {
			fprintf(stderr,
			    "signetctl %s: the server's answer is "
			    "not an action\n",
			    cmd);
			rc = CMD_FAIL;
		} else {
			http_print_failure(cmd, resp);
			if (cJSON_IsString(id))
				fprintf(stderr, "signetctl %s: action_id %s\n",
				    cmd,
				    text_vis_str(id->valuestring, ids,
				        sizeof(ids)));
		}
		goto out;
	}
	if (ok) {
		print_action(stdout, doc);
		if (resp->status == 202 &&
		    strcmp(st->valuestring, "AWAITING_APPROVAL") == 0)
			printf("(waiting for approvals: signetctl approval "
			       "show %s)\n",
			    text_vis_str(id->valuestring, ids, sizeof(ids)));
		else if (resp->status == 202)
			printf("(not waiting: see signetctl action-status "
			       "%s)\n",
			    text_vis_str(id->valuestring, ids, sizeof(ids)));
		if (fflush(stdout) != 0)
			rc = CMD_FAIL;
		goto out;
	}
	er = cJSON_GetObjectItemCaseSensitive(doc, "error");
	fprintf(stderr, "signetctl %s: server answered %ld: action %s %s%s%s\n",
	    cmd, resp->status, text_vis_str(id->valuestring, ids, sizeof(ids)),
	    text_vis_str(st->valuestring, sts, sizeof(sts)),
	    cJSON_IsString(er) ? ": " : "",
	    cJSON_IsString(er) ?
	        text_vis_str(er->valuestring, ers, sizeof(ers)) :
	        "");
	print_action(stderr, doc);
out:
	cJSON_Delete(doc);
	return rc;
}

int
cmd_action(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ "signing-key", required_argument, NULL, OPT_SIGNING_KEY },
		{ "passphrase-fd", required_argument, NULL, OPT_PASSPHRASE_FD },
		{ "valid", required_argument, NULL, OPT_VALID },
		{ NULL, 0, NULL, 0 } };
	const char *id = NULL, *verb = NULL, *reason = NULL, *action = NULL;
	char path[512], num[24], label[160], esc[160], *body = NULL;
	struct http_response resp;
	struct err_msg msg;
	int64_t wait = WAIT_DEFAULT, valid = 0;
	const char *signing_key = getenv("SIGNET_SIGNING_KEY");
	struct keys_secret *key = NULL;
	struct action_sign_args sa;
	char full_id[65];
	int passfd = -1;
	bool no_wait = false, has_wait = false;
	cJSON *doc = NULL;
	int opt, n, rc = CMD_USAGE;

	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (opt == 'h') {
			usage_action(stdout);
			rc = CMD_OK;
			goto out;
		} else if (opt == OPT_REASON) {
			reason = optarg;
		} else if (opt == OPT_NO_WAIT) {
			no_wait = true;
		} else if (opt == OPT_SIGNING_KEY) {
			signing_key = optarg;
		} else if (opt == OPT_PASSPHRASE_FD) {
			if (!opsign_parse_fd(optarg, &passfd)) {
				fprintf(stderr,
				    "signetctl action: --passphrase-fd "
				    "\"%s\": not an open descriptor\n",
				    text_escape_str(optarg, esc, sizeof(esc)));
				goto out;
			}
		} else if (opt == OPT_VALID) {
			if (text_to_int64(optarg, 1,
			        REQUEST_LIFETIME_MAX_MS / 1000, &valid) != 0) {
				fprintf(stderr,
				    "signetctl action: --valid \"%s\": give 1 "
				    "to %lld seconds\n",
				    text_escape_str(optarg, esc, sizeof(esc)),
				    (long long)(REQUEST_LIFETIME_MAX_MS /
				        1000));
				goto out;
			}
		} else if (opt == OPT_WAIT) {
			if (text_to_int64(optarg, 0, WAIT_MAX, &wait) != 0) {
				fprintf(stderr,
				    "signetctl action: --wait "
				    "\"%s\": give 0 to %d seconds\n",
				    text_escape_str(optarg, esc, sizeof(esc)),
				    WAIT_MAX);
				goto out;
			}
			has_wait = true;
		} else if (cmd_common_opt(ctx, "action", opt, argv) != 1) {
			usage_action(stderr);
			goto out;
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (optind < argc)
		verb = argv[optind++];
	if (cmd_too_many_args("action", argc, argv, optind, usage_action))
		goto out;
	if (id == NULL || verb == NULL || reason == NULL) {
		fprintf(stderr,
		    "signetctl action: a container id, an action "
		    "and --reason are required\n");
		usage_action(stderr);
		goto out;
	}
	if (strcmp(verb, "start") == 0)
		action = "START";
	else if (strcmp(verb, "stop") == 0)
		action = "STOP";
	else if (strcmp(verb, "restart") == 0)
		action = "RESTART";
	if (action == NULL) {
		fprintf(stderr,
		    "signetctl action: \"%s\": the action is "
		    "start, stop or restart\n",
		    text_escape_str(verb, esc, sizeof(esc)));
		usage_action(stderr);
		goto out;
	}
	if (no_wait && has_wait) {
		fprintf(stderr,
		    "signetctl action: give --no-wait or --wait, "
		    "not both\n");
		usage_action(stderr);
		goto out;
	}
	if (no_wait)
		wait = 0;
	/* The server checks the id; here it is only bounded and encoded. */
	if (strlen(id) > 128 ||
	    strspn(id, "0123456789abcdefABCDEF") != strlen(id) ||
	    id[0] == '\0') {
		fprintf(stderr,
		    "signetctl action: container id \"%s\": give "
		    "the full id or a prefix of at least 12 hex digits\n",
		    text_escape_str(id, esc, sizeof(esc)));
		goto out;
	}
	rc = cmd_conn_finish(ctx, "action");
	if (rc != CMD_OK)
		goto out;
	rc = CMD_USAGE;
	(void)snprintf(num, sizeof(num), "%" PRId64, wait);
	n = snprintf(path, sizeof(path), "/api/containers/%s/actions", id);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    http_path_add_query(path, sizeof(path), "wait", num) != 0) {
		fprintf(stderr, "signetctl action: container id too long\n");
		goto out;
	}
	rc = CMD_FAIL;
	if (signing_key != NULL && signing_key[0] != '\0') {
		key = sodium_malloc(sizeof(*key));
		if (key == NULL) {
			fprintf(stderr, "signetctl action: out of memory\n");
			goto out;
		}
		if (opsign_load(signing_key, passfd, key, &msg) != 0) {
			fprintf(stderr, "signetctl action: signing key: %s\n",
			    msg.text);
			rc = CMD_USAGE;
			goto out;
		}
		memset(&sa, 0, sizeof(sa));
		sa.container = id;
		sa.action = action;
		sa.reason = reason;
		sa.lifetime_s = valid > 0 ? valid :
		                            (wait + 10 > 40 ? wait + 10 : 40);
		sa.key = key;
		rc = action_sign_body(ctx, &sa, &body, full_id);
		if (rc != CMD_OK)
			goto out;
		rc = CMD_FAIL;
		n = snprintf(path, sizeof(path), "/api/containers/%s/actions",
		    full_id);
		if (n < 0 || (size_t)n >= sizeof(path) ||
		    http_path_add_query(path, sizeof(path), "wait", num) != 0) {
			fprintf(stderr, "signetctl action: path too long\n");
			goto out;
		}
	} else {
		doc = cJSON_CreateObject();
		if (doc == NULL ||
		    cJSON_AddStringToObject(doc, "action", action) == NULL ||
		    cJSON_AddStringToObject(doc, "reason", reason) == NULL) {
			fprintf(stderr, "signetctl action: out of memory\n");
			goto out;
		}
		body = cJSON_PrintUnformatted(doc);
		if (body == NULL) {
			fprintf(stderr, "signetctl action: out of memory\n");
			goto out;
		}
	}
	if (wait > 0) {
		(void)snprintf(label, sizeof(label),
		    "signetctl: waiting for "
		    "the result of %s on %.16s...",
		    action, id);
		ctx->conn.progress = label;
	}
	if (http_request(&ctx->conn, "POST", path, body, strlen(body),
	        (long)wait + HTTP_SLACK, &resp, &msg) != 0) {
		fprintf(stderr, "signetctl action: %s\n", msg.text);
		rc = cmd_exit_of_failure(resp.failure);
		goto out;
	}
	rc = cmd_report_action("action", &resp, ctx->output);
out:
	ctx->conn.progress = NULL;
	if (key != NULL)
		sodium_free(key); /* wipes it */
	http_response_free(&resp);
	cJSON_Delete(doc);
	free(body);
	return rc;
}
