/* SPDX-License-Identifier: ISC */
/*
 * What every signetctl subcommand shares (cmd.h): the common options, the
 * connection settings resolved from the command line, the environment and
 * the selected context, and server answers turned into exit codes.
 */
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "text.h"

int
cmd_common_opt(struct cmd_ctx *ctx, const char *cmd, int c, char **argv)
{
	const char *sp = cmd[0] != '\0' ? " " : "";
	char esc[160];

	switch (c) {
	case CMD_OPT_SERVER: ctx->conn.server = optarg; return 1;
	case CMD_OPT_CERT: ctx->conn.cert = optarg; return 1;
	case CMD_OPT_KEY: ctx->conn.key = optarg; return 1;
	case CMD_OPT_CA: ctx->conn.ca = optarg; return 1;
	case CMD_OPT_CONFIG: ctx->config = optarg; return 1;
	case CMD_OPT_CONTEXT: ctx->context = optarg; return 1;
	case CMD_OPT_JSON: ctx->output = CMD_OUTPUT_JSON; return 1;
	case 'o':
		if (strcmp(optarg, "table") == 0) {
			ctx->output = CMD_OUTPUT_TABLE;
		} else if (strcmp(optarg, "json") == 0) {
			ctx->output = CMD_OUTPUT_JSON;
		} else {
			fprintf(stderr,
			    "signetctl%s%s: -o \"%s\": the "
			    "output is table or json\n",
			    sp, cmd, text_escape_str(optarg, esc, sizeof(esc)));
			return -1;
		}
		return 1;
	case ':':
		fprintf(stderr, "signetctl%s%s: %s needs a value\n", sp, cmd,
		    text_escape_str(argv[optind - 1], esc, sizeof(esc)));
		return -1;
	case '?':
		if (optopt != 0 && optopt < 0x100)
			fprintf(stderr,
			    "signetctl%s%s: unknown option "
			    "\"-%c\" (signetctl%s%s --help lists them)\n",
			    sp, cmd,
			    optopt >= 0x20 && optopt < 0x7f ? optopt : '?', sp,
			    cmd);
		else
			fprintf(stderr,
			    "signetctl%s%s: unknown option \"%s\" "
			    "(signetctl%s%s --help lists them)\n",
			    sp, cmd,
			    text_escape_str(argv[optind - 1], esc, sizeof(esc)),
			    sp, cmd);
		return -1;
	default: return 0;
	}
}

void
cmd_getopt_reset(void)
{
	optind = 0; /* glibc: a full reinitialisation */
	opterr = 0; /* cmd_common_opt says what failed */
}

bool
cmd_too_many_args(const char *cmd, int argc, char **argv, int first,
    void (*usage)(FILE *))
{
	char esc[128];

	if (first >= argc)
		return false;
	fprintf(stderr, "signetctl %s: unexpected argument \"%s\"\n", cmd,
	    text_escape_str(argv[first], esc, sizeof(esc)));
	usage(stderr);
	return true;
}

int
cmd_conn_finish(struct cmd_ctx *ctx, const char *cmd)
{
	static const char *const envs[CONTEXT_NFIELDS] = { "SIGNET_SERVER",
		"SIGNET_CA", "SIGNET_CERT", "SIGNET_KEY" };
	const char **fields[CONTEXT_NFIELDS];
	struct context_file *cf = NULL;
	const struct context *c = NULL;
	const char *name = ctx->context, *v;
	char path[CONTEXT_PATH_MAX];
	struct err_msg msg;
	bool chosen;
	size_t f;
	int r, rc = CMD_USAGE;

	err_clear(&msg);
	fields[CONTEXT_SERVER] = &ctx->conn.server;
	fields[CONTEXT_CA] = &ctx->conn.ca;
	fields[CONTEXT_CERT] = &ctx->conn.cert;
	fields[CONTEXT_KEY] = &ctx->conn.key;
	if (name == NULL) {
		v = getenv("SIGNET_CONTEXT");
		if (v != NULL && v[0] != '\0')
			name = v;
	}
	cf = calloc(1, sizeof(*cf));
	if (cf == NULL) {
		fprintf(stderr, "signetctl %s: out of memory\n", cmd);
		goto out;
	}
	r = context_path(ctx->config, path, sizeof(path), &chosen, &msg);
	if (r == SIGNET_ERR_NOT_FOUND && name == NULL) {
		path[0] = '\0'; /* no HOME: no default file */
	} else if (r != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		goto out;
	}
	if (path[0] != '\0') {
		r = context_load(cf, path, chosen, &msg);
		if (r == 0)
			r = context_select(cf, name, &c, &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
			goto out;
		}
	}
	for (f = 0; f < CONTEXT_NFIELDS; f++) {
		const char **field = fields[f];

		if (*field != NULL && **field == '\0')
			*field = NULL;
		if (*field == NULL) {
			v = getenv(envs[f]);
			if (v != NULL && v[0] != '\0')
				*field = v;
		}
		if (*field == NULL && c != NULL && c->value[f][0] != '\0') {
			/* Borrowed from a loaded context: keep cf. */
			*field = c->value[f];
		}
		if (*field == NULL) {
			fprintf(stderr,
			    "signetctl %s: no %s: give --%s or "
			    "set %s, or add %s to %s\n",
			    cmd, context_field_names[f], context_field_names[f],
			    envs[f], context_field_names[f],
			    c != NULL ?
			        "the context in use" :
			        "a context of the "
			        "configuration file (signetctl(1), CONTEXTS)");
			goto out;
		}
	}
	if (http_opts_check(&ctx->conn, &msg) != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		goto out;
	}
	rc = CMD_OK;
	/*
	 * The process keeps the contexts it borrows from until it ends: one
	 * small allocation, released at exit.
	 */
	if (c != NULL) {
		ctx->loaded = cf;
		cf = NULL;
	}
out:
	free(cf);
	return rc;
}

int
cmd_exit_of_status(long status)
{
	if (status >= 200 && status <= 299)
		return CMD_OK;
	switch (status) {
	case 401:
	case 403: return CMD_DENIED;
	case 503: return CMD_UNREACHABLE;
	case 504: return CMD_TIMEOUT;
	default: return CMD_FAIL;
	}
}

int
cmd_exit_of_failure(enum http_failure f)
{
	switch (f) {
	case HTTP_FAIL_NONE:
	case HTTP_FAIL_ABORTED: return CMD_OK;
	case HTTP_FAIL_UNREACHABLE: return CMD_UNREACHABLE;
	case HTTP_FAIL_TIMEOUT: return CMD_TIMEOUT;
	case HTTP_FAIL_LOCAL:
	default: return CMD_USAGE;
	}
}

int
cmd_print_raw(const struct http_response *resp)
{
	if (fwrite(resp->body, 1, resp->len, stdout) != resp->len ||
	    (resp->len > 0 && resp->body[resp->len - 1] != '\n' &&
	        putchar('\n') == EOF) ||
	    fflush(stdout) != 0)
		return CMD_FAIL;
	return CMD_OK;
}

void
cmd_print_exit_codes(FILE *f)
{
	fprintf(f,
	    "exit codes:\n"
	    "  0  success\n"
	    "  1  the action failed or was refused (FAILURE, REJECTED, an\n"
	    "     unknown container, a bad request...), or audit verify\n"
	    "     found a bad log\n"
	    "  2  usage error: bad arguments, configuration or local file\n"
	    "  3  denied (403): the host's policy or your role\n"
	    "  4  timeout (504): no result in time; the action may still\n"
	    "     finish (see action-status)\n"
	    "  5  unreachable: cannot connect, TLS failure, or 503 (the host\n"
	    "     is offline or the server cannot write its audit log)\n");
}
