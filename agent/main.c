/* SPDX-License-Identifier: ISC */
/*
 * signet-agent: a thin dispatcher. This build carries the admin's policy
 * tools; the daemon (--config: WSS channel, dockerd) comes later and is
 * refused clearly rather than pretended.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "policy_cli.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: signet-agent --check-policy FILE [options]\n"
	    "       signet-agent --config FILE   (not in this build yet)\n"
	    "       signet-agent --help | --version\n"
	    "\n");
	policy_cli_usage(f);
	fprintf(f,
	    "\n"
	    "exit codes: 0 valid or allowed, 1 policy refused or denied, "
	    "2 usage\n");
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
		fprintf(stderr,
		    "signet-agent: running the agent daemon "
		    "(--config) is not part of this build yet; only "
		    "--check-policy and --explain are available\n");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-policy") == 0)
			return policy_cli_main(argc, argv);
	}
	fprintf(stderr, "signet-agent: unknown command line; see --help\n");
	usage(stderr);
	return 2;
}
