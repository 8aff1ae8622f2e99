/* SPDX-License-Identifier: ISC */
/*
 * signet-agent: a thin dispatcher: --config runs the daemon (daemon.c),
 * --check-policy the admin's policy tools (policy_cli.c).
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "policy_cli.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-agent --config FILE\n"
	    "       signet-agent --check-policy FILE [options]\n"
	    "       signet-agent -h | --help | --version\n"
	    "\n"
	    "  --config FILE\n"
	    "        run the agent with this configuration (SPEC section 8)\n"
	    "        until SIGTERM or SIGINT; SIGHUP reloads the policy,\n"
	    "        SIGUSR1 rotates the audit log.\n"
	    "        Exit codes: 0 stopped by a signal, 1 could not start or\n"
	    "        failed, 2 configuration file refused\n");
	policy_cli_usage(f);
	fprintf(f,
	    "\n"
	    "exit codes of --check-policy: 0 valid or allowed, 1 policy "
	    "refused or\ndenied, 2 usage\n");
}

int
main(int argc, char **argv)
{
	int i;

	log_init("signet-agent", LOG_LVL_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/* Only argv[1] selects these: a --reason may well say "--help". */
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 && argc == 2) {
		printf("signet-agent %s\n", SIGNET_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--config") == 0) {
		if (argc != 3) {
			fprintf(stderr, "signet-agent: --config takes one "
			    "FILE and nothing else; see --help\n");
			return 2;
		}
		return daemon_run(argv[2]);
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-policy") == 0)
			return policy_cli_main(argc, argv);
	}
	fprintf(stderr, "signet-agent: unknown command line; see --help\n");
	usage(stderr);
	return 2;
}
