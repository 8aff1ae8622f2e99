/* SPDX-License-Identifier: ISC */
/*
 * signet-agent enroll: the host makes its own TLS key, a certificate
 * request for it and its result key (common/csr.h), so that the admin
 * signs the request and no private key ever travels.
 */
#ifndef SIGNET_AGENT_ENROLL_H
#define SIGNET_AGENT_ENROLL_H

#include <stdio.h>

/* Exit codes of signet-agent enroll. */
#define ENROLL_OK 0    /* everything written */
#define ENROLL_FAIL 1  /* refused or failed; nothing written */
#define ENROLL_USAGE 2 /* bad command line */

/* Prints enroll's part of signet-agent --help to f. */
void enroll_usage(FILE *f);

/*
 * Runs "signet-agent enroll ARGS": argv[0] is "enroll", its options
 * follow. Returns an exit code above.
 */
int enroll_main(int argc, char **argv);

#endif
