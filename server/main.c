/* SPDX-License-Identifier: ISC */
/*
 * signet-server: parses the command line and runs the server
 * (server_run in server.c). Exit codes: those of server_run, 0 for --help
 * and --version, 2 for a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "text.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

#define PROG "signet-server"
#define EXIT_USAGE 2

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " --config FILE\n"
	    "       " PROG " -h | --help | --version\n"
	    "\n"
	    "The signet relay server: agents connect to [server] agent_listen\n"
	    "(WSS, mutual TLS), operators and auditors to [server] api_listen\n"
	    "(HTTPS, mutual TLS). Logs go to stderr, one line per event.\n"
	    "\n"
	    "signals: SIGHUP reloads the CA and CRL and drops agents whose\n"
	    "certificates were revoked; SIGUSR1 rotates the audit log;\n"
	    "SIGTERM and SIGINT stop the server.\n"
	    "exit codes: 0 clean stop, 1 cannot start, 2 usage or "
	    "configuration error\n"
	    "\n"
	    "See man signet-server and man signet.conf (man/ and docs/ in the\n"
	    "source tree).\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	char esc[96];
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (config_path != NULL) {
				fprintf(stderr,
				    PROG ": --config given "
				         "twice\n");
				usage(stderr);
				return EXIT_USAGE;
			}
			config_path = optarg;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " %s\n", SIGNET_VERSION); return 0;
		case ':':
			fprintf(stderr, PROG ": \"%s\" needs a value\n",
			    text_escape_str(argv[optind - 1], esc,
			        sizeof(esc)));
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, PROG ": unexpected argument \"%s\"\n",
			    text_escape_str(argv[optind - 1], esc,
			        sizeof(esc)));
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n",
		    text_escape_str(argv[optind], esc, sizeof(esc)));
		usage(stderr);
		return EXIT_USAGE;
	}
	if (config_path == NULL || config_path[0] == '\0') {
		fprintf(stderr, PROG ": --config FILE is required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return server_run(config_path);
}
