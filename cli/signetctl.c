/* SPDX-License-Identifier: ISC */
/* signetctl: dispatches to the subcommands in cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "log.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signetctl COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n"
	    "  keygen NAME        write an Ed25519 key pair NAME.key (0600) and\n"
	    "                     NAME.pub in the current directory\n"
	    "  audit verify FILE --key AUDIT.pub [--action-key A.pub]\n"
	    "               [--agent-keys DIR] [--expect-head SEQ:HASH]\n"
	    "                     check a signed, hash-chained audit log\n"
	    "  help               this text\n"
	    "\n"
	    "exit codes: 0 success, 1 check failed, 2 usage or I/O error\n");
}

int
main(int argc, char **argv)
{
	log_init("signetctl", LOG_LVL_WARN);
	if (sodium_init() < 0) {
		fprintf(stderr, "signetctl: cannot initialise libsodium\n");
		return CMD_USAGE;
	}
	if (argc < 2) {
		usage(stderr);
		return CMD_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return CMD_OK;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 2, argv + 2);
	if (strcmp(argv[1], "audit") == 0)
		return cmd_audit(argc - 2, argv + 2);
	fprintf(stderr, "signetctl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return CMD_USAGE;
}
