/* SPDX-License-Identifier: ISC */
/*
 * Test-only: loads FILE with the server or agent schema, as the daemons
 * will, and prints "ok" or the error.   config_check server|agent FILE
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct err_msg msg;
	int r;

	if (argc != 3 || (strcmp(argv[1], "server") != 0 &&
	    strcmp(argv[1], "agent") != 0)) {
		fprintf(stderr, "usage: config_check server|agent FILE\n");
		return 2;
	}
	if (strcmp(argv[1], "server") == 0)
		r = config_load(argv[2], config_server_schema,
		    config_server_schema_len, &cfg, &msg);
	else
		r = config_load(argv[2], config_agent_schema,
		    config_agent_schema_len, &cfg, &msg);
	if (r != 0) {
		printf("%s\n", msg.text);
		return 1;
	}
	config_free(cfg);
	printf("ok\n");
	return 0;
}
