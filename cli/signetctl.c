/* SPDX-License-Identifier: ISC */
/* signetctl: dispatches to the subcommands in cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "http.h"
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
	    "  audit verify FILE... --key AUDIT.pub [--action-key A.pub]\n"
	    "               [--agent-keys DIR] [--expect-head SEQ:HASH]\n"
	    "                     check a signed, hash-chained audit log (a\n"
	    "                     rotated log: all its files, oldest first)\n"
	    "  hosts [--json]     the agents the server knows\n"
	    "  containers [--host HOST-ID] [--state STATE] [--json]\n"
	    "                     containers over all hosts\n"
	    "  action ID start|stop|restart --reason TEXT [--no-wait | --wait S]\n"
	    "                     [--json]  ask the container's agent to act and\n"
	    "                     wait (default 30 s, at most 120) for its result\n"
	    "  action-status ACTION-ID [--json]\n"
	    "                     an action and its status\n"
	    "  audit tail [--after SEQ] [--limit N] [--json]\n"
	    "                     the server's latest audit records\n"
	    "  help, -h, --help   this text (COMMAND --help: that command's "
	    "usage)\n"
	    "\n"
	    "hosts, containers, action, action-status and audit tail talk to\n"
	    "the server (options before or after the command):\n"
	    "--server https://HOST:PORT --cert FILE --key FILE --ca FILE,\n"
	    "or SIGNET_SERVER, SIGNET_CERT, SIGNET_KEY, SIGNET_CA.\n"
	    "\n"
	    "exit codes: 0 success (any 2xx answer), 1 check failed, or the\n"
	    "server refused (non-2xx: DENIED 403, FAILURE/REJECTED 502,\n"
	    "TIMEOUT 504, offline 503...) or could not be reached, 2 usage or\n"
	    "I/O error\n");
}

int
main(int argc, char **argv)
{
	int cmdi;

	log_init("signetctl", LOG_LVL_WARN);
	if (sodium_init() < 0) {
		fprintf(stderr, "signetctl: cannot initialise libsodium\n");
		return CMD_USAGE;
	}
	cmdi = http_command_index(argc, argv);
	/* Options before the command: move the command word to argv[1]. */
	if (cmdi > 1 && cmdi < argc) {
		char *word = argv[cmdi];

		memmove(&argv[2], &argv[1], (size_t)(cmdi - 1) * sizeof(*argv));
		argv[1] = word;
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
	if (strcmp(argv[1], "audit") == 0 && argc >= 3 &&
	    strcmp(argv[2], "tail") == 0)
		return cmd_audit_tail(argc - 3, argv + 3);
	if (strcmp(argv[1], "audit") == 0)
		return cmd_audit(argc - 2, argv + 2);
	if (strcmp(argv[1], "action") == 0)
		return cmd_action(argc - 2, argv + 2);
	if (strcmp(argv[1], "action-status") == 0)
		return cmd_action_status(argc - 2, argv + 2);
	if (strcmp(argv[1], "hosts") == 0)
		return cmd_hosts(argc - 2, argv + 2);
	if (strcmp(argv[1], "containers") == 0)
		return cmd_containers(argc - 2, argv + 2);
	fprintf(stderr, "signetctl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return CMD_USAGE;
}
