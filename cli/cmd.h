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
/* cmd_action.c: exit 0 for a 2xx answer, 1 otherwise, 2 usage. */
int cmd_action(int argc, char **argv);
int cmd_action_status(int argc, char **argv);
int cmd_audit_tail(int argc, char **argv);

#endif
