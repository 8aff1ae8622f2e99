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
#include "harden.h"
#include "log.h"
#include "text.h"

static const struct {
	const char *name; /* one word, or two: "audit tail" */
	int (*fn)(struct cmd_ctx *, int, char **);
	const char *description;
} subcommands[] = {
	{ "hosts", cmd_hosts, "the agents the server knows" },
	{ "containers", cmd_containers, "containers over all hosts" },
	{ "action", cmd_action,
	    "start, stop or restart a container and wait "
	    "for the result" },
	{ "action-status", cmd_action_status, "an action and its status" },
	{ "audit tail", cmd_audit_tail,
	    "the server's latest audit records; "
	    "--follow for new ones" },
	{ "audit verify", cmd_audit_verify,
	    "check a signed, hash-chained "
	    "audit log offline" },
	{ "audit export", cmd_audit_export,
	    "an audit log's records as JSON lines "
	    "for SIEMs" },
	{ "audit witness", cmd_audit_witness,
	    "check a log's checkpoint against the last one cosigned; "
	    "cosign it" },
	{ "audit witness-key", cmd_audit_witness_key,
	    "a witness's verifier key text" },
	{ "audit reconcile", cmd_audit_reconcile,
	    "join the server's and the agents' audit logs per action "
	    "and name each mismatch" },
	{ "approvals", cmd_approvals,
	    "the signed requests waiting for "
	    "approvals" },
	{ "approval show", cmd_approval_show,
	    "one waiting request as its operator "
	    "signed it" },
	{ "approve", cmd_approve,
	    "approve a request: sign its exact "
	    "bytes" },
	{ "refuse", cmd_refuse,
	    "refuse a request waiting for "
	    "approvals" },
	{ "keygen", cmd_keygen,
	    "write an Ed25519 key pair NAME.key, NAME.pub "
	    "(operator or daemon)" },
	{ "enroll", cmd_enroll,
	    "make your TLS key USER.key and a certificate request "
	    "USER.csr" },
	{ "roster show", cmd_roster_show,
	    "a signed roster or a draft; --keys checks "
	    "its signatures" },
	{ "roster edit", cmd_roster_edit,
	    "add or remove an operator in a roster "
	    "draft" },
	{ "roster sign", cmd_roster_sign,
	    "sign a roster draft, or add a signature "
	    "(k-of-n)" },
	{ "context list", cmd_context_list,
	    "the contexts of the "
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
		fprintf(f, "  %-18s %s\n", subcommands[k].name,
		    subcommands[k].description);
	fprintf(f,
	    "  help               this text\n"
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
	fprintf(f,
	    "\nsee signetctl(1); the API is described in "
	    "docs/http-api.md\n");
}

/*
 * Whether argv word a is an option whose value is the next word: the
 * options of every command that take one, written out in full.
 */
static bool
takes_next(const char *a)
{
	static const char *const valued[] = { "-o", "--server", "--cert",
		"--key", "--ca", "--config", "--context", "--output", "--host",
		"--state", "--reason", "--wait", "--after", "--limit",
		"--interval", "--action-key", "--agent-keys", "--expect-head",
		"--passphrase-fd", "--signing-key", "--valid", "--keys",
		"--threshold", "--groups", "--not-after-days", "--signed",
		"--out", "--days", "--name", "--log-key", "--log", "--origin",
		"--checkpoint", "--proof", "--witness-key", NULL };
	size_t k;

	for (k = 0; valued[k] != NULL; k++)
		if (strcmp(a, valued[k]) == 0)
			return true;
	return false;
}

/*
 * The index in argv[1..argc) of the next word at or after from that is
 * neither an option nor an option's value; argc when none.
 */
static int
next_word(int argc, char **argv, int from)
{
	int i;

	for (i = from; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1 < argc ? i + 1 : argc;
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			return i;
		if (takes_next(argv[i]))
			i++;
	}
	return argc;
}

/*
 * The table entry for the command words of argv, found wherever the
 * options put them; *w1 and *w2 their indices (*w2 0 for a one-word
 * command). -1 when there is none (*w1 argc when no word at all).
 */
static int
find_subcommand(int argc, char **argv, int *w1, int *w2)
{
	size_t k, n;

	*w1 = next_word(argc, argv, 1);
	*w2 = 0;
	if (*w1 >= argc)
		return -1;
	for (k = 0; k < NSUBCOMMANDS; k++) {
		const char *name = subcommands[k].name;
		const char *sp = strchr(name, ' ');

		if (sp == NULL) {
			if (strcmp(argv[*w1], name) == 0)
				return (int)k;
			continue;
		}
		n = (size_t)(sp - name);
		if (strncmp(argv[*w1], name, n) != 0 || argv[*w1][n] != '\0')
			continue;
		*w2 = next_word(argc, argv, *w1 + 1);
		if (*w2 < argc && strcmp(argv[*w2], sp + 1) == 0)
			return (int)k;
		*w2 = 0;
	}
	return -1;
}

/* Whether word is the first word of a two-word command ("audit"). */
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

/*
 * No command word: the options alone, for --help, --version or an error.
 */
static int
options_only(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 } };
	int c;

	cmd_getopt_reset();
	while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
		}
		if (c == 'V')
			return cmd_version(ctx, 1, argv);
		if (cmd_common_opt(ctx, "", c, argv) != 1)
			return CMD_USAGE;
	}
	fprintf(stderr,
	    "signetctl: no command given (signetctl --help lists "
	    "them)\n");
	return CMD_USAGE;
}

int
main(int argc, char **argv)
{
	struct cmd_ctx ctx;
	struct err_msg msg;
	char esc[160], **sub = NULL;
	int k, w1, w2, i, n, rc = CMD_USAGE;

	memset(&ctx, 0, sizeof(ctx));
	log_init("signetctl", LOG_LVL_WARN);
	/* It may hold an operator's TLS key or a new secret key. */
	if (harden_process(HARDEN_HEAP_CLI, NULL, &msg) != 0) {
		fprintf(stderr, "signetctl: %s\n", msg.text);
		rc = CMD_FAIL;
		goto out;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "signetctl: cannot initialise libsodium\n");
		goto out;
	}
	k = find_subcommand(argc, argv, &w1, &w2);
	if (w1 >= argc) {
		rc = options_only(&ctx, argc, argv);
		goto out;
	}
	if (strcmp(argv[w1], "help") == 0) {
		usage(stdout);
		rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
		goto out;
	}
	if (k < 0) {
		if (is_group(argv[w1]))
			fprintf(stderr,
			    "signetctl: \"%s\" needs a second "
			    "word: %s\n",
			    argv[w1],
			    next_word(argc, argv, w1 + 1) < argc ?
			        "that one is unknown" :
			        "none given");
		else
			fprintf(stderr, "signetctl: unknown command \"%s\"\n",
			    text_escape_str(argv[w1], esc, sizeof(esc)));
		fprintf(stderr, "signetctl --help lists the commands\n");
		goto out;
	}
	/*
	 * The command's argv: its last word as argv[0], then every other
	 * word in order, so options before the command reach it too.
	 */
	sub = calloc((size_t)argc + 1, sizeof(*sub));
	if (sub == NULL) {
		fprintf(stderr, "signetctl: out of memory\n");
		goto out;
	}
	n = 0;
	sub[n++] = argv[w2 != 0 ? w2 : w1];
	for (i = 1; i < argc; i++)
		if (i != w1 && i != w2)
			sub[n++] = argv[i];
	sub[n] = NULL;
	cmd_getopt_reset();
	rc = subcommands[k].fn(&ctx, n, sub);
out:
	free(sub);
	free(ctx.loaded);
	return rc;
}
