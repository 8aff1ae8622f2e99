/* SPDX-License-Identifier: ISC */
/* signetctl containers: inventory rows over all hosts, filtered. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"

static void
usage_containers(FILE *f)
{
	fprintf(f, "usage: signetctl containers [--host HOST-ID] "
	    "[--state STATE] [--json] [--server URL] [--cert FILE] "
	    "[--key FILE] [--ca FILE]\n");
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
	(void)http_term_safe(s[0] == '/' ? s + 1 : s, out, outlen);
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
cmd_containers(int argc, char **argv)
{
	static const char *const headers[] = { "ID", "HOST", "NAME", "IMAGE",
	    "STATE", "STATUS" };
	char path[512] = "/api/containers";
	const char *host = NULL, *state = NULL;
	struct http_opts o;
	struct http_table t;
	struct err_msg msg;
	const cJSON *list, *row;
	cJSON *doc = NULL;
	bool json = false;
	size_t r;
	int i, rc;

	memset(&o, 0, sizeof(o));
	memset(&t, 0, sizeof(t));
	err_clear(&msg);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		rc = http_opts_arg(&o, argc, argv, &i, &msg);
		if (rc < 0) {
			fprintf(stderr, "signetctl containers: %s\n",
			    msg.text);
			return CMD_USAGE;
		}
		if (rc == 1)
			continue;
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--host") == 0 ||
		    strcmp(a, "--state") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "signetctl containers: %s "
				    "needs a value\n", a);
				return CMD_USAGE;
			}
			if (strcmp(a, "--host") == 0)
				host = argv[++i];
			else
				state = argv[++i];
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_containers(stdout);
			return CMD_OK;
		} else {
			fprintf(stderr, "signetctl containers: unexpected "
			    "argument \"%s\"\n", a);
			usage_containers(stderr);
			return CMD_USAGE;
		}
	}
	if (http_opts_finish(&o, &msg) != 0) {
		fprintf(stderr, "signetctl containers: %s\n", msg.text);
		return CMD_USAGE;
	}
	/* The server validates both; here they are only encoded. */
	if ((host != NULL &&
	    http_path_add_query(path, sizeof(path), "host", host) != 0) ||
	    (state != NULL &&
	    http_path_add_query(path, sizeof(path), "state", state) != 0)) {
		fprintf(stderr, "signetctl containers: --host or --state "
		    "too long\n");
		return CMD_USAGE;
	}
	rc = http_get_list("containers", &o, path, json, "containers", &doc,
	    &list);
	if (rc != 0 || json)
		goto out;
	if (http_table_init(&t, 6, (size_t)cJSON_GetArraySize(list), 48) !=
	    0) {
		fprintf(stderr, "signetctl containers: too many containers "
		    "for a table; use --json\n");
		rc = CMD_FAIL;
		goto out;
	}
	r = 0;
	cJSON_ArrayForEach(row, list) {
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
