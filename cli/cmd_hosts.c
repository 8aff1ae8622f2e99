/* SPDX-License-Identifier: ISC */
/*
 * signetctl hosts: the agents the server knows (GET /api/hosts), as a
 * table or as the server's JSON. DAYS is the whole days left before the
 * host's certificate expires (cert_days_left: negative once it has, "-"
 * when the server does not say). REPLICA, the replica that holds the
 * host, is shown when the server is a replica of a cluster.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "text.h"

static void
usage_hosts(FILE *f)
{
	fprintf(f,
	    "usage: signetctl hosts [-o table|json] [--json] "
	    "[CONNECTION OPTIONS]\n"
	    "  -o, --output table|json  a table (default) or the server's "
	    "JSON;\n"
	    "                           --json is -o json\n"
	    "connection options: signetctl --help\n");
}

/* Trims "2026-11-23T23:15:00.123Z" to "2026-11-23T23:15:00Z" in place. */
static void
short_time(char *s)
{
	char *dot = strchr(s, '.');

	if (dot != NULL && strlen(s) == 24 && s[23] == 'Z') {
		dot[0] = 'Z';
		dot[1] = '\0';
	}
}

int
cmd_hosts(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	static const char *const headers[] = { "HOST", "CONNECTED", "LAST SEEN",
		"AGENT", "DOCKER", "CONTAINERS", "CERT EXPIRES", "DAYS",
		"REPLICA" };
	static const char *const keys[] = { "host_id", "connected", "last_seen",
		"agent_version", "docker_version", "container_count",
		"cert_not_after", "cert_days_left", "replica" };
	enum { NCOLS = sizeof(keys) / sizeof(keys[0]) };
	struct http_table t;
	const cJSON *list, *row;
	cJSON *doc = NULL;
	size_t r, c, ncols;
	int opt, rc = CMD_USAGE;

	memset(&t, 0, sizeof(t));
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (opt == 'h') {
			usage_hosts(stdout);
			rc = CMD_OK;
			goto out;
		}
		if (cmd_common_opt(ctx, "hosts", opt, argv) != 1) {
			usage_hosts(stderr);
			goto out;
		}
	}
	if (cmd_too_many_args("hosts", argc, argv, optind, usage_hosts))
		goto out;
	rc = cmd_conn_finish(ctx, "hosts");
	if (rc != CMD_OK)
		goto out;
	rc = http_get_list("hosts", &ctx->conn, "/api/hosts",
	    ctx->output == CMD_OUTPUT_JSON, "hosts", &doc, &list);
	if (rc != CMD_OK || ctx->output == CMD_OUTPUT_JSON)
		goto out;
	/* REPLICA only from a cluster: a single server names none. */
	ncols = NCOLS - 1;
	cJSON_ArrayForEach(row, list)
	{
		const cJSON *rep = cJSON_GetObjectItemCaseSensitive(row,
		    "replica");

		if (cJSON_IsString(rep) && rep->valuestring[0] != '\0')
			ncols = NCOLS;
	}
	if (http_table_init(&t, ncols, (size_t)cJSON_GetArraySize(list), 72) !=
	    0) {
		fprintf(stderr,
		    "signetctl hosts: too many hosts for a table; "
		    "use -o json\n");
		rc = CMD_FAIL;
		goto out;
	}
	r = 0;
	cJSON_ArrayForEach(row, list)
	{
		for (c = 0; c < ncols; c++)
			(void)http_json_cell(row, keys[c],
			    http_table_cell(&t, r, c), t.cell);
		short_time(http_table_cell(&t, r, 2));
		short_time(http_table_cell(&t, r, 6));
		if (ncols == NCOLS &&
		    http_table_cell(&t, r, NCOLS - 1)[0] == '\0')
			(void)snprintf(http_table_cell(&t, r, NCOLS - 1),
			    t.cell, "-"); /* held by no replica */
		r++;
	}
	http_table_print(stdout, &t, headers);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	http_table_free(&t);
	cJSON_Delete(doc);
	return rc;
}
