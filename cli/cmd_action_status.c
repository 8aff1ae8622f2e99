/* SPDX-License-Identifier: ISC */
/*
 * signetctl action-status: one action and its status (GET
 * /api/actions/ID), as lines or as the server's JSON. It exits 0 when the
 * server knows the action, whatever its status: read the status from the
 * output.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "text.h"

static void
usage_status(FILE *f)
{
	fprintf(f,
	    "usage: signetctl action-status ACTION-ID [-o table|json] "
	    "[--json] [CONNECTION OPTIONS]\n"
	    "  -o, --output table|json  the action as lines (default) or the "
	    "server's\n"
	    "                           JSON; --json is -o json\n"
	    "connection options: signetctl --help\n");
}

int
cmd_action_status(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	const char *id = NULL;
	char path[256], esc[160];
	struct http_response resp;
	struct err_msg msg;
	int opt, rc = CMD_USAGE;

	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (opt == 'h') {
			usage_status(stdout);
			rc = CMD_OK;
			goto out;
		}
		if (cmd_common_opt(ctx, "action-status", opt, argv) != 1) {
			usage_status(stderr);
			goto out;
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (id == NULL || optind < argc) {
		if (id != NULL)
			fprintf(stderr,
			    "signetctl action-status: unexpected "
			    "argument \"%s\"\n",
			    text_escape_str(argv[optind], esc, sizeof(esc)));
		else
			fprintf(stderr,
			    "signetctl action-status: an action "
			    "id is required\n");
		usage_status(stderr);
		goto out;
	}
	if (!text_is_hex(id, 32)) {
		fprintf(stderr,
		    "signetctl action-status: action id \"%s\": "
		    "an action id is 32 lowercase hex digits\n",
		    text_escape_str(id, esc, sizeof(esc)));
		goto out;
	}
	rc = cmd_conn_finish(ctx, "action-status");
	if (rc != CMD_OK)
		goto out;
	(void)snprintf(path, sizeof(path), "/api/actions/%s", id);
	if (http_request(&ctx->conn, "GET", path, NULL, 0, 0, &resp, &msg) !=
	    0) {
		fprintf(stderr, "signetctl action-status: %s\n", msg.text);
		rc = cmd_exit_of_failure(resp.failure);
		goto out;
	}
	rc = cmd_report_action("action-status", &resp, ctx->output);
out:
	http_response_free(&resp);
	return rc;
}
