/* SPDX-License-Identifier: ISC */
/*
 * The signetctl subcommands, their exit codes and what they share: the
 * options every command takes (connection, context, output, help), the
 * context-aware resolution of the connection, and the mapping of server
 * answers to exit codes. Each subcommand lives in cli/cmd_NAME.c, is
 * listed in signetctl.c's table, takes argv with argv[0] its own name
 * (getopt_long parses from argv[1]) and returns one of enum cmd_exit.
 */
#ifndef SIGNETCTL_CMD_H
#define SIGNETCTL_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "http.h"

/* signetctl's exit codes, documented in --help and signetctl(1). */
enum cmd_exit {
	CMD_OK = 0,          /* success */
	CMD_FAIL = 1,        /* refused or failed (FAILURE, REJECTED, 4xx,
	                          a bad audit log, cannot write output) */
	CMD_USAGE = 2,       /* usage, configuration or a local file */
	CMD_DENIED = 3,      /* 403: the host's policy or the role */
	CMD_TIMEOUT = 4,     /* 504: no result in time, or no answer */
	CMD_UNREACHABLE = 5, /* cannot connect, TLS failure, 503 */
};

enum cmd_output {
	CMD_OUTPUT_TABLE = 0,
	CMD_OUTPUT_JSON,
};

struct context_file;

/* The options every command takes, wherever they stand. */
struct cmd_ctx {
	struct http_opts conn; /* from the command line; borrowed */
	const char *config;    /* --config FILE */
	const char *context;   /* --context NAME */
	enum cmd_output output;
	struct context_file *loaded; /* what conn borrows from; free() */
};

/*
 * getopt_long values of the common options (beyond any short option
 * character), and the long options themselves, for a subcommand's table:
 * { CMD_COMMON_LONGOPTS, { its own }, { NULL, 0, NULL, 0 } }. The short
 * options of every optstring start with CMD_COMMON_SHORTOPTS.
 */
enum {
	CMD_OPT_SERVER = 0x100,
	CMD_OPT_CERT,
	CMD_OPT_KEY,
	CMD_OPT_CA,
	CMD_OPT_CONFIG,
	CMD_OPT_CONTEXT,
	CMD_OPT_JSON,
	CMD_OPT_FIRST_OWN = 0x200, /* a subcommand's own options */
};

#define CMD_COMMON_SHORTOPTS ":ho:"
#define CMD_COMMON_LONGOPTS                                                    \
	{ "server", required_argument, NULL, CMD_OPT_SERVER },                 \
	    { "cert", required_argument, NULL, CMD_OPT_CERT },                 \
	    { "key", required_argument, NULL, CMD_OPT_KEY },                   \
	    { "ca", required_argument, NULL, CMD_OPT_CA },                     \
	    { "config", required_argument, NULL, CMD_OPT_CONFIG },             \
	    { "context", required_argument, NULL, CMD_OPT_CONTEXT },           \
	    { "output", required_argument, NULL, 'o' },                        \
	    { "json", no_argument, NULL, CMD_OPT_JSON },                       \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}

/*
 * Handles getopt_long's answer c (with optarg) for a common option or an
 * error ('?', ':'), on behalf of command cmd ("hosts", "audit tail").
 * Returns 1 (c was a common option, stored in ctx), 0 (not one: the
 * subcommand's own), or -1 after saying why on stderr (unknown option,
 * missing value, bad -o value): the command then exits CMD_USAGE.
 * 'h' is not handled here: each command prints its own usage.
 */
int cmd_common_opt(struct cmd_ctx *ctx, const char *cmd, int c, char **argv);

/*
 * Resets getopt for a new argument vector (a subcommand's).
 */
void cmd_getopt_reset(void);

/*
 * Completes ctx->conn for a command that talks to the server: each of
 * --server, --cert, --key, --ca from the command line, else from
 * SIGNET_SERVER, SIGNET_CERT, SIGNET_KEY, SIGNET_CA, else from the
 * selected context of the configuration file (cli/context.h), then checks
 * them. ctx->conn may then borrow from ctx->loaded (the caller frees it
 * after the last request). Returns CMD_OK or CMD_USAGE (said on stderr,
 * naming what is missing and where it may come from).
 */
int cmd_conn_finish(struct cmd_ctx *ctx, const char *cmd);

/*
 * Whether argv[first..argc) holds words a command does not take: if so,
 * says "signetctl CMD: unexpected argument" (the first, escaped) and
 * prints the command's usage on stderr.
 */
bool cmd_too_many_args(const char *cmd, int argc, char **argv, int first,
    void (*usage)(FILE *));

/*
 * The exit code for an HTTP status: 2xx CMD_OK, 403 and 401 CMD_DENIED,
 * 504 CMD_TIMEOUT, 503 CMD_UNREACHABLE, anything else CMD_FAIL.
 */
int cmd_exit_of_status(long status);

/*
 * The exit code for a request that got no answer: HTTP_FAIL_UNREACHABLE
 * CMD_UNREACHABLE, HTTP_FAIL_TIMEOUT CMD_TIMEOUT, HTTP_FAIL_ABORTED
 * CMD_OK (the user asked to stop), HTTP_FAIL_LOCAL CMD_USAGE.
 */
int cmd_exit_of_failure(enum http_failure f);

/*
 * Writes the answer body to stdout as it came, with a final newline.
 * Returns CMD_OK or CMD_FAIL (cannot write).
 */
int cmd_print_raw(const struct http_response *resp);

/* The exit codes as --help prints them. */
void cmd_print_exit_codes(FILE *f);

/* The subcommands (cmd_NAME.c); each returns an enum cmd_exit. */
int cmd_hosts(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_containers(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_action(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_action_status(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_audit_tail(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_audit_verify(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_audit_export(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_audit_witness(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_audit_witness_key(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_audit_reconcile(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_keygen(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_enroll(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_approvals(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_approval_show(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_approve(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_refuse(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_roster_show(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_roster_edit(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_roster_sign(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_context_list(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_context_show(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_version(struct cmd_ctx *ctx, int argc, char **argv);

/*
 * cmd_action.c, shared with action-status: reports one action answer,
 * a 2xx one on stdout, any other on stderr with the server's message.
 * Returns cmd_exit_of_status(resp->status), or CMD_FAIL when a 2xx
 * answer is not an action or cannot be written.
 */
int cmd_report_action(const char *cmd, const struct http_response *resp,
    enum cmd_output output);

#endif
