/* SPDX-License-Identifier: ISC */
/* signetctl hosts: the agents the server knows, as a table or JSON. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"

static void
usage_hosts(FILE *f)
{
	fprintf(f, "usage: signetctl hosts [--json] [--server URL] "
	    "[--cert FILE] [--key FILE] [--ca FILE]\n");
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
cmd_hosts(int argc, char **argv)
{
	static const char *const headers[] = { "HOST", "CONNECTED",
	    "LAST SEEN", "AGENT", "DOCKER", "CONTAINERS", "CERT EXPIRES" };
	static const char *const keys[] = { "host_id", "connected",
	    "last_seen", "agent_version", "docker_version",
	    "container_count", "cert_not_after" };
	struct http_opts o;
	struct http_table t;
	struct err_msg msg;
	const cJSON *list, *row;
	cJSON *doc = NULL;
	bool json = false;
	size_t r, c;
	int i, rc;

	memset(&o, 0, sizeof(o));
	memset(&t, 0, sizeof(t));
	err_clear(&msg);
	for (i = 0; i < argc; i++) {
		rc = http_opts_arg(&o, argc, argv, &i, &msg);
		if (rc < 0) {
			fprintf(stderr, "signetctl hosts: %s\n", msg.text);
			return CMD_USAGE;
		}
		if (rc == 1)
			continue;
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage_hosts(stdout);
			return CMD_OK;
		} else {
			fprintf(stderr, "signetctl hosts: unexpected argument "
			    "\"%s\"\n", argv[i]);
			usage_hosts(stderr);
			return CMD_USAGE;
		}
	}
	if (http_opts_finish(&o, &msg) != 0) {
		fprintf(stderr, "signetctl hosts: %s\n", msg.text);
		return CMD_USAGE;
	}
	rc = http_get_list("hosts", &o, "/api/hosts", json, "hosts", &doc,
	    &list);
	if (rc != 0 || json)
		goto out;
	if (http_table_init(&t, 7, (size_t)cJSON_GetArraySize(list), 72) !=
	    0) {
		fprintf(stderr, "signetctl hosts: too many hosts for a table; "
		    "use --json\n");
		rc = CMD_FAIL;
		goto out;
	}
	r = 0;
	cJSON_ArrayForEach(row, list) {
		for (c = 0; c < 7; c++)
			(void)http_json_cell(row, keys[c],
			    http_table_cell(&t, r, c), t.cell);
		short_time(http_table_cell(&t, r, 2));
		short_time(http_table_cell(&t, r, 6));
		r++;
	}
	http_table_print(stdout, &t, headers);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	http_table_free(&t);
	cJSON_Delete(doc);
	return rc;
}
