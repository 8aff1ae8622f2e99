/* SPDX-License-Identifier: ISC */
/*
 * signet-agent's policy tools for admins: --check-policy validates a
 * policy file and summarises its rules; --explain says which rule would
 * allow a given request, or why none does.
 */
#ifndef SIGNET_AGENT_POLICY_CLI_H
#define SIGNET_AGENT_POLICY_CLI_H

#include <stdio.h>

/* Exit codes of the policy tools. */
#define POLICY_CLI_OK 0    /* policy valid; --explain: allowed */
#define POLICY_CLI_FAIL 1  /* policy refused; --explain: denied */
#define POLICY_CLI_USAGE 2 /* bad command line */

/* Prints the policy tools' part of --help to f. */
void policy_cli_usage(FILE *f);

/*
 * Runs the policy tools on the whole command line (argv[0] is the program;
 * the options may come in any order). Returns an exit code above.
 */
int policy_cli_main(int argc, char **argv);

#endif
