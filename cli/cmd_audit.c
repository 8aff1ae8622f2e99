/* SPDX-License-Identifier: ISC */
/* signetctl audit ...: offline checks of audit logs. */
#include <stdio.h>

#include "cmd.h"

int
cmd_audit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "signetctl audit: not built yet\n");
	return CMD_USAGE;
}
