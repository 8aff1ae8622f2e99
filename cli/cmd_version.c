/* SPDX-License-Identifier: ISC */
/*
 * signetctl version (and --version): "signetctl VERSION", the version the
 * build took from CMake's PROJECT_VERSION (SIGNET_VERSION).
 */
#include <stdio.h>

#include "cmd.h"

#ifndef SIGNET_VERSION
#error "SIGNET_VERSION must come from the build (cli/CMakeLists.txt)"
#endif

static void
usage_version(FILE *f)
{
	fprintf(f,
	    "usage: signetctl version\n"
	    "       signetctl --version\n");
}

int
cmd_version(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	int opt;

	/* --version before any command: nothing more to read. */
	if (argc > 1) {
		while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) !=
		    -1) {
			if (opt == 'h') {
				usage_version(stdout);
				return CMD_OK;
			}
			(void)cmd_common_opt(ctx, "version", opt, argv);
			usage_version(stderr);
			return CMD_USAGE;
		}
		if (optind < argc) {
			fprintf(stderr,
			    "signetctl version: takes no "
			    "arguments\n");
			usage_version(stderr);
			return CMD_USAGE;
		}
	}
	if (printf("signetctl %s\n", SIGNET_VERSION) < 0 || fflush(stdout) != 0)
		return CMD_FAIL;
	return CMD_OK;
}
