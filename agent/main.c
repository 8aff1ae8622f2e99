/* SPDX-License-Identifier: ISC */
/*
 * signet-agent: a thin dispatcher: --config runs the daemon (daemon.c),
 * --check-policy the admin's policy tools (policy_cli.c), enroll the
 * host's own key and certificate request (enroll.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "enroll.h"
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
	    "       signet-agent enroll --host-id H --out DIR "
	    "[--new-result-key]\n"
	    "       signet-agent -h | --help | --version\n"
	    "\n"
	    "  --config FILE\n"
	    "        run the agent with this configuration (signet.conf(5))\n"
	    "        until SIGTERM or SIGINT; SIGHUP reloads the policy,\n"
	    "        SIGUSR1 rotates the audit log.\n"
	    "        Exit codes: 0 stopped by a signal, 1 could not start or\n"
	    "        failed, 2 configuration file refused\n");
	policy_cli_usage(f);
	fprintf(f, "\n");
	enroll_usage(f);
	fprintf(f,
	    "\n"
	    "exit codes of --check-policy: 0 valid or allowed, 1 policy "
	    "refused or\ndenied, 2 usage\n"
	    "\n"
	    "See man signet-agent, and docs/ in the source tree.\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i;

	log_init("signet-agent", LOG_LVL_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/* A command word first: nothing else starts with one. */
	if (strcmp(argv[1], "enroll") == 0)
		return enroll_main(argc - 1, argv + 1);
	/*
	 * The first option alone picks these: the policy tools' options come
	 * in any order, and a --reason may well say "--help". "+": stop at
	 * the first word that is not an option; ":": a missing FILE is ours
	 * to report.
	 */
	opterr = 0;
	c = getopt_long(argc, argv, "+:h", opts, NULL);
	switch (c) {
	case 'h': usage(stdout); return 0;
	case 'V':
		if (optind != argc)
			break;
		printf("signet-agent %s\n", SIGNET_VERSION);
		return 0;
	case 'c':
	case ':':
		if (c == ':' && optopt != 'c')
			break;
		if (c == ':' || optind != argc) {
			fprintf(stderr,
			    "signet-agent: --config takes one "
			    "FILE and nothing else; see --help\n");
			return 2;
		}
		return daemon_run(optarg);
	default: break;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-policy") == 0)
			return policy_cli_main(argc, argv);
	}
	fprintf(stderr, "signet-agent: unknown command line; see --help\n");
	usage(stderr);
	return 2;
}
