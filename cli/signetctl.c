/* SPDX-License-Identifier: ISC */
/*
 * signetctl: the operator's and auditor's command line. main() reads the
 * options given before the command word, finds the command in the table
 * below (like wireguard-tools' subcommands[]) and hands it the rest of
 * argv; each command, in cli/cmd_NAME.c, reads its own options and the
 * common ones again, so options may stand before or after the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "context.h"
#include "log.h"
#include "text.h"

static const struct {
	const char *name;              /* one word, or two: "audit tail" */
	int (*fn)(struct cmd_ctx *, int, char **);
	const char *description;
} subcommands[] = {
	{ "hosts", cmd_hosts, "the agents the server knows" },
	{ "containers", cmd_containers, "containers over all hosts" },
	{ "action", cmd_action, "start, stop or restart a container and wait "
	    "for the result" },
	{ "action-status", cmd_action_status, "an action and its status" },
	{ "audit tail", cmd_audit_tail, "the server's latest audit records; "
	    "--follow for new ones" },
	{ "audit verify", cmd_audit_verify, "check a signed, hash-chained "
	    "audit log offline" },
	{ "keygen", cmd_keygen, "write an Ed25519 key pair NAME.key and "
	    "NAME.pub" },
	{ "context list", cmd_context_list, "the contexts of the "
	    "configuration file" },
	{ "context show", cmd_context_show, "one context's settings" },
	{ "version", cmd_version, "print signetctl's version" },
};
#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void
usage(FILE *f)
{
	size_t k;

	fprintf(f,
	    "usage: signetctl [OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
	    "       signetctl COMMAND --help\n"
	    "\n"
	    "commands:\n");
	for (k = 0; k < NSUBCOMMANDS; k++)
		fprintf(f, "  %-15s %s\n", subcommands[k].name,
		    subcommands[k].description);
	fprintf(f,
	    "  help            this text\n"
	    "\n"
	    "options (before or after the command; a value as the next word "
	    "or after \"=\"):\n"
	    "  --server URL       the API, https://HOST:PORT "
	    "($SIGNET_SERVER)\n"
	    "  --cert FILE        client certificate, PEM ($SIGNET_CERT)\n"
	    "  --key FILE         its private key, mode 0600 ($SIGNET_KEY)\n"
	    "  --ca FILE          the signet CA certificate ($SIGNET_CA)\n"
	    "  --context NAME     a context of the configuration file "
	    "($SIGNET_CONTEXT;\n"
	    "                     default: its \"current\")\n"
	    "  --config FILE      the configuration file ($SIGNET_CONFIG;\n"
	    "                     default: $XDG_CONFIG_HOME/signet/"
	    "signetctl.conf or\n"
	    "                     ~/.config/signet/signetctl.conf)\n"
	    "  -o, --output FMT   table (default) or json; --json is -o json\n"
	    "  -h, --help         this text; COMMAND --help: that command's "
	    "usage\n"
	    "  --version          print signetctl's version\n"
	    "\n"
	    "Each of --server, --cert, --key and --ca comes from the command "
	    "line, else\nits environment variable, else the context.\n"
	    "\n");
	cmd_print_exit_codes(f);
	fprintf(f, "\nsee signetctl(1); the API is described in "
	    "docs/http-api.md\n");
}

/* The entry for argv[0] (and argv[1]); *words how many words it took. */
static int
find_subcommand(int argc, char **argv, int *words)
{
	size_t k, n;

	for (k = 0; k < NSUBCOMMANDS; k++) {
		const char *name = subcommands[k].name;
		const char *sp = strchr(name, ' ');

		if (sp == NULL) {
			if (strcmp(argv[0], name) == 0) {
				*words = 1;
				return (int)k;
			}
			continue;
		}
		n = (size_t)(sp - name);
		if (strncmp(argv[0], name, n) != 0 || argv[0][n] != '\0' ||
		    argc < 2 || strcmp(argv[1], sp + 1) != 0)
			continue;
		*words = 2;
		return (int)k;
	}
	return -1;
}

/* Whether argv[0] is the first word of a two-word command ("audit"). */
static bool
is_group(const char *word)
{
	size_t k, n = strlen(word);

	for (k = 0; k < NSUBCOMMANDS; k++)
		if (strncmp(subcommands[k].name, word, n) == 0 &&
		    subcommands[k].name[n] == ' ')
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx ctx;
	char esc[160];
	int c, k, words, r, rc = CMD_USAGE;

	memset(&ctx, 0, sizeof(ctx));
	log_init("signetctl", LOG_LVL_WARN);
	if (sodium_init() < 0) {
		fprintf(stderr, "signetctl: cannot initialise libsodium\n");
		goto out;
	}
	/* "+": stop at the command word; it reads the rest. */
	cmd_getopt_reset();
	while ((c = getopt_long(argc, argv, "+" CMD_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
			goto out;
		}
		if (c == 'V') {
			rc = cmd_version(&ctx, 1, argv);
			goto out;
		}
		r = cmd_common_opt(&ctx, "", c, argv);
		if (r != 1)
			goto out;
	}
	if (optind >= argc) {
		fprintf(stderr, "signetctl: no command given (signetctl "
		    "--help lists them)\n");
		goto out;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
		goto out;
	}
	k = find_subcommand(argc, argv, &words);
	if (k < 0) {
		if (is_group(argv[0]))
			fprintf(stderr, "signetctl: \"%s\" needs a second "
			    "word: %s\n", argv[0], argc > 1 ?
			    "that one is unknown" : "none given");
		else
			fprintf(stderr, "signetctl: unknown command \"%s\"\n",
			    text_escape_str(argv[0], esc, sizeof(esc)));
		fprintf(stderr, "signetctl --help lists the commands\n");
		goto out;
	}
	argc -= words - 1;
	argv += words - 1;
	cmd_getopt_reset();
	rc = subcommands[k].fn(&ctx, argc, argv);
out:
	free(ctx.loaded);
	return rc;
}
