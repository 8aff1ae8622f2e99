/* SPDX-License-Identifier: ISC */
/*
 * reconcile_html_tool: renders a reconcile document as the reviewer's
 * HTML report (cli/reconcile_html.c) without the engine, so that a test
 * can open a fixture, or an engine's -o json output, in a browser.
 *
 *   reconcile_html_tool IN.json OUT.html
 *
 * IN.json is {"summary": SUMMARY, "actions": [ACTION...]} (docs/audit.md);
 * the actions are written in the order given (problems first is the
 * caller's job, as it is the engine's). Parsed strictly (jsonx), at most
 * 64 MiB. exit: 0 written, 1 refused or a write failed, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "fileio.h"
#include "jsonx.h"
#include "reconcile_html.h"

#define RHT_FILE_MAX (64u * 1024 * 1024)
#define RHT_DEPTH 16

int
main(int argc, char **argv)
{
	struct err_msg msg;
	char *buf = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	const cJSON *actions, *it;
	FILE *out = NULL;
	int r, rc = 1;

	if (argc != 3) {
		fprintf(stderr,
		    "usage: reconcile_html_tool IN.json OUT.html\n");
		return 2;
	}
	err_clear(&msg);
	r = fileio_read_alloc(argv[1], RHT_FILE_MAX, &buf, &len, &msg);
	if (r != 0) {
		fprintf(stderr, "reconcile_html_tool: %s: %s\n", argv[1],
		    msg.text[0] != '\0' ? msg.text : err_str(r));
		goto out;
	}
	r = jsonx_parse_object(argv[1], buf, len, RHT_DEPTH, &doc, &msg);
	if (r != 0) {
		fprintf(stderr, "reconcile_html_tool: %s\n", msg.text);
		goto out;
	}
	actions = cJSON_GetObjectItemCaseSensitive(doc, "actions");
	if (actions != NULL && !cJSON_IsArray(actions)) {
		fprintf(stderr,
		    "reconcile_html_tool: %s: \"actions\" is not "
		    "an array\n",
		    argv[1]);
		goto out;
	}
	out = fopen(argv[2], "w");
	if (out == NULL) {
		perror(argv[2]);
		goto out;
	}
	r = reconcile_html_begin(out,
	    cJSON_GetObjectItemCaseSensitive(doc, "summary"));
	cJSON_ArrayForEach(it, actions)
	{
		if (r != 0)
			break;
		r = reconcile_html_action(out, it);
	}
	if (r == 0)
		r = reconcile_html_end(out);
	if (fclose(out) != 0 && r == 0)
		r = SIGNET_ERR_IO;
	out = NULL;
	if (r != 0) {
		fprintf(stderr, "reconcile_html_tool: %s: %s\n", argv[2],
		    err_str(r));
		goto out;
	}
	rc = 0;
out:
	if (out != NULL)
		fclose(out);
	cJSON_Delete(doc);
	free(buf);
	return rc;
}
