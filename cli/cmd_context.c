/* SPDX-License-Identifier: ISC */
/*
 * signetctl context list and context show: the named contexts of the
 * configuration file (cli/context.h), the one in use marked, and one
 * context's settings. They read the file only; nothing is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "context.h"
#include "http.h"
#include "text.h"

static void
usage_list(FILE *f)
{
	fprintf(f,
	    "usage: signetctl context list [-o table|json] [--json] "
	    "[--config FILE]\n"
	    "  the contexts of the configuration file; \"*\" marks the one "
	    "in use\n"
	    "  (--context, else $SIGNET_CONTEXT, else the file's current)\n"
	    "  -o, --output table|json  a table (default) or JSON; --json is "
	    "-o json\n");
}

static void
usage_show(FILE *f)
{
	fprintf(f,
	    "usage: signetctl context show [NAME] [-o table|json] "
	    "[--json] [--config FILE]\n"
	    "  one context (default: the one in use) and its settings\n"
	    "  -o, --output table|json  lines (default) or JSON; --json is "
	    "-o json\n");
}

/*
 * Reads the common options and at most max_args words; loads the file.
 * Returns CMD_OK with *cf (free() it) or an exit code; *help set when
 * --help was printed.
 */
static int
context_args(struct cmd_ctx *ctx, const char *cmd, int argc, char **argv,
    int max_args, void (*usage)(FILE *), struct context_file **cf,
    const char **name)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	char path[CONTEXT_PATH_MAX];
	struct err_msg msg;
	bool chosen;
	int opt, r;

	*cf = NULL;
	*name = NULL;
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return -1;
		}
		if (cmd_common_opt(ctx, cmd, opt, argv) != 1) {
			usage(stderr);
			return CMD_USAGE;
		}
	}
	if (cmd_too_many_args(cmd, argc, argv, optind + max_args, usage))
		return CMD_USAGE;
	if (optind < argc)
		*name = argv[optind];
	if (context_path(ctx->config, path, sizeof(path), &chosen, &msg) != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		return CMD_USAGE;
	}
	*cf = calloc(1, sizeof(**cf));
	if (*cf == NULL) {
		fprintf(stderr, "signetctl %s: out of memory\n", cmd);
		return CMD_FAIL;
	}
	r = context_load(*cf, path, chosen, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		free(*cf);
		*cf = NULL;
		return CMD_USAGE;
	}
	return CMD_OK;
}

/* The context in use: --context, SIGNET_CONTEXT, or the file's current. */
static const char *
in_use(const struct cmd_ctx *ctx, const struct context_file *cf)
{
	const char *v = getenv("SIGNET_CONTEXT");

	if (ctx->context != NULL)
		return ctx->context;
	if (v != NULL && v[0] != '\0')
		return v;
	return cf->current[0] != '\0' ? cf->current : NULL;
}

static cJSON *
context_json(const struct context *c)
{
	cJSON *o = cJSON_CreateObject();
	size_t f;

	if (o == NULL || cJSON_AddStringToObject(o, "name", c->name) == NULL)
		goto fail;
	for (f = 0; f < CONTEXT_NFIELDS; f++) {
		if (c->value[f][0] == '\0') {
			if (cJSON_AddNullToObject(o, context_field_names[f]) ==
			    NULL)
				goto fail;
		} else if (cJSON_AddStringToObject(o, context_field_names[f],
		               c->value[f]) == NULL) {
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* Prints doc on a line; CMD_OK or CMD_FAIL. */
static int
print_json(cJSON *doc)
{
	char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
	int rc = CMD_FAIL;

	if (text != NULL && printf("%s\n", text) >= 0 && fflush(stdout) == 0)
		rc = CMD_OK;
	free(text);
	return rc;
}

int
cmd_context_list(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "CURRENT", "NAME", "SERVER" };
	struct context_file *cf = NULL;
	struct http_table t;
	const char *name, *use;
	cJSON *doc = NULL, *arr, *o;
	size_t k;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = context_args(ctx, "context list", argc, argv, 0, usage_list, &cf,
	    &name);
	if (rc != CMD_OK) {
		rc = rc < 0 ? CMD_OK : rc;
		goto out;
	}
	use = in_use(ctx, cf);
	if (use != NULL && context_find(cf, use) == NULL) {
		fprintf(stderr,
		    "signetctl context list: the context in use, "
		    "\"%s\", is not in %s\n",
		    use, cf->path);
		rc = CMD_USAGE;
		goto out;
	}
	if (!cf->exists)
		fprintf(stderr,
		    "signetctl context list: no configuration "
		    "file %s\n",
		    cf->path);
	if (ctx->output == CMD_OUTPUT_JSON) {
		rc = CMD_FAIL;
		doc = cJSON_CreateObject();
		if (doc == NULL ||
		    cJSON_AddStringToObject(doc, "config", cf->path) == NULL ||
		    (use != NULL ?
		            cJSON_AddStringToObject(doc, "current", use) :
		            cJSON_AddNullToObject(doc, "current")) == NULL)
			goto out;
		arr = cJSON_AddArrayToObject(doc, "contexts");
		if (arr == NULL)
			goto out;
		for (k = 0; k < cf->n; k++) {
			o = context_json(&cf->ctx[k]);
			if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				goto out;
			}
		}
		rc = print_json(doc);
		goto out;
	}
	rc = CMD_FAIL;
	if (http_table_init(&t, 3, cf->n, 200) != 0)
		goto out;
	for (k = 0; k < cf->n; k++) {
		const struct context *c = &cf->ctx[k];

		(void)snprintf(http_table_cell(&t, k, 0), t.cell, "%s",
		    use != NULL && strcmp(use, c->name) == 0 ? "*" : "");
		(void)snprintf(http_table_cell(&t, k, 1), t.cell, "%s",
		    c->name);
		(void)text_vis_str(c->value[CONTEXT_SERVER][0] != '\0' ?
		        c->value[CONTEXT_SERVER] :
		        "-",
		    http_table_cell(&t, k, 2), t.cell);
	}
	http_table_print(stdout, &t, headers);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	http_table_free(&t);
	cJSON_Delete(doc);
	free(cf);
	return rc;
}

int
cmd_context_show(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct context_file *cf = NULL;
	const struct context *c;
	const char *name;
	struct err_msg msg;
	cJSON *doc = NULL;
	char cell[CONTEXT_VALUE_MAX * 4];
	size_t f;
	int rc;

	err_clear(&msg);
	rc = context_args(ctx, "context show", argc, argv, 1, usage_show, &cf,
	    &name);
	if (rc != CMD_OK) {
		rc = rc < 0 ? CMD_OK : rc;
		goto out;
	}
	rc = CMD_USAGE;
	if (name == NULL)
		name = in_use(ctx, cf);
	if (name == NULL) {
		fprintf(stderr,
		    "signetctl context show: no context in use: "
		    "give NAME or --context, or set \"current\" in %s\n",
		    cf->path);
		goto out;
	}
	if (context_select(cf, name, &c, &msg) != 0) {
		fprintf(stderr, "signetctl context show: %s\n", msg.text);
		goto out;
	}
	if (ctx->output == CMD_OUTPUT_JSON) {
		doc = context_json(c);
		rc = print_json(doc);
		goto out;
	}
	printf("%-7s %s\n", "name:", c->name);
	for (f = 0; f < CONTEXT_NFIELDS; f++)
		printf("%s:%*s %s\n", context_field_names[f],
		    (int)(6 - strlen(context_field_names[f])), "",
		    text_vis_str(c->value[f][0] != '\0' ? c->value[f] : "-",
		        cell, sizeof(cell)));
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	cJSON_Delete(doc);
	free(cf);
	return rc;
}
