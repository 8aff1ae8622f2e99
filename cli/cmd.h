/* SPDX-License-Identifier: ISC */
/*
 * The signetctl subcommands. Each takes the arguments after its own name
 * and returns the process exit code: 0 success, 1 the thing checked is bad
 * (a refused verify), 2 usage or environment errors.
 */
#ifndef SIGNETCTL_CMD_H
#define SIGNETCTL_CMD_H

#define CMD_OK 0
#define CMD_FAIL 1
#define CMD_USAGE 2

int cmd_keygen(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_containers(int argc, char **argv);

#endif
