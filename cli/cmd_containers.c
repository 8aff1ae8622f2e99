/* SPDX-License-Identifier: ISC */
/*
 * signetctl containers: inventory rows over all hosts (GET
 * /api/containers), filtered by host or state, as a table or JSON.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "text.h"

enum {
	OPT_HOST = CMD_OPT_FIRST_OWN,
	OPT_STATE,
};

static void
usage_containers(FILE *f)
{
	fprintf(f,
	    "usage: signetctl containers [--host HOST-ID] "
	    "[--state STATE] [-o table|json] [--json]\n"
	    "       [CONNECTION OPTIONS]\n"
	    "  --host HOST-ID           only this host's containers\n"
	    "  --state STATE            only containers in this state "
	    "(running, exited...)\n"
	    "  -o, --output table|json  a table (default) or the server's "
	    "JSON;\n"
	    "                           --json is -o json\n"
	    "connection options: signetctl --help\n");
}

/* The first name without dockerd's leading "/", terminal-safe. */
static void
name_cell(const cJSON *row, char *out, size_t outlen)
{
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(row, "names");
	const cJSON *first = cJSON_GetArrayItem(names, 0);
	const char *s;

	if (!cJSON_IsArray(names) || !cJSON_IsString(first)) {
		(void)snprintf(out, outlen, "-");
		return;
	}
	s = first->valuestring;
	(void)text_vis_str(s[0] == '/' ? s + 1 : s, out, outlen);
}

/* Docker's short id (the first 12 hex digits), else the escaped value. */
static void
id_cell(const cJSON *row, char *out, size_t outlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id");
	size_t i;

	if (cJSON_IsString(id) && outlen > 12) {
		for (i = 0; i < 12; i++) {
			char c = id->valuestring[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				break;
		}
		if (i == 12) {
			memcpy(out, id->valuestring, 12);
			out[12] = '\0';
			return;
		}
	}
	(void)http_json_cell(row, "id", out, outlen);
}

int
cmd_containers(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ "host", required_argument, NULL, OPT_HOST },
		{ "state", required_argument, NULL, OPT_STATE },
		{ NULL, 0, NULL, 0 } };
	static const char *const headers[] = { "ID", "HOST", "NAME", "IMAGE",
		"STATE", "STATUS" };
	char path[512] = "/api/containers";
	const char *host = NULL, *state = NULL;
	struct http_table t;
	const cJSON *list, *row;
	cJSON *doc = NULL;
	size_t r;
	int opt, rc = CMD_USAGE;

	memset(&t, 0, sizeof(t));
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (opt == 'h') {
			usage_containers(stdout);
			rc = CMD_OK;
			goto out;
		} else if (opt == OPT_HOST) {
			host = optarg;
		} else if (opt == OPT_STATE) {
			state = optarg;
		} else if (cmd_common_opt(ctx, "containers", opt, argv) != 1) {
			usage_containers(stderr);
			goto out;
		}
	}
	if (cmd_too_many_args("containers", argc, argv, optind,
	        usage_containers))
		goto out;
	rc = cmd_conn_finish(ctx, "containers");
	if (rc != CMD_OK)
		goto out;
	rc = CMD_USAGE;
	/* The server validates both; here they are only encoded. */
	if ((host != NULL &&
	        http_path_add_query(path, sizeof(path), "host", host) != 0) ||
	    (state != NULL &&
	        http_path_add_query(path, sizeof(path), "state", state) != 0)) {
		fprintf(stderr,
		    "signetctl containers: --host or --state "
		    "too long\n");
		goto out;
	}
	rc = http_get_list("containers", &ctx->conn, path,
	    ctx->output == CMD_OUTPUT_JSON, "containers", &doc, &list);
	if (rc != CMD_OK || ctx->output == CMD_OUTPUT_JSON)
		goto out;
	if (http_table_init(&t, 6, (size_t)cJSON_GetArraySize(list), 48) != 0) {
		fprintf(stderr,
		    "signetctl containers: too many containers "
		    "for a table; use -o json\n");
		rc = CMD_FAIL;
		goto out;
	}
	r = 0;
	cJSON_ArrayForEach(row, list)
	{
		id_cell(row, http_table_cell(&t, r, 0), t.cell);
		(void)http_json_cell(row, "host_id", http_table_cell(&t, r, 1),
		    t.cell);
		name_cell(row, http_table_cell(&t, r, 2), t.cell);
		(void)http_json_cell(row, "image", http_table_cell(&t, r, 3),
		    t.cell);
		(void)http_json_cell(row, "state", http_table_cell(&t, r, 4),
		    t.cell);
		(void)http_json_cell(row, "status", http_table_cell(&t, r, 5),
		    t.cell);
		r++;
	}
	http_table_print(stdout, &t, headers);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	http_table_free(&t);
	cJSON_Delete(doc);
	return rc;
}
