/* SPDX-License-Identifier: ISC */
/*
 * Test-only: loads FILE with the server or agent schema, as the daemons
 * will, and prints "ok" or the error.   config_check server|agent FILE
 * "config_check keys server|agent" lists the schema, one "SECTION KEY" a
 * line, so that tests can hold the documentation to it.
 */
#include <stdio.h>
#include <string.h>

#include "agent_config.h"
#include "config.h"
#include "server_config.h"

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct err_msg msg;
	int r;

	if (argc == 3 && strcmp(argv[1], "keys") == 0 &&
	    (strcmp(argv[2], "server") == 0 || strcmp(argv[2], "agent") == 0)) {
		const struct config_key *k = server_config_schema;
		size_t i, n = server_config_schema_len;

		if (strcmp(argv[2], "agent") == 0) {
			k = agent_config_schema;
			n = agent_config_schema_len;
		}
		for (i = 0; i < n; i++)
			printf("%s %s\n", k[i].section, k[i].name);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (argc != 3 ||
	    (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "agent") != 0)) {
		fprintf(stderr,
		    "usage: config_check server|agent FILE\n"
		    "       config_check keys server|agent\n");
		return 2;
	}
	if (strcmp(argv[1], "server") == 0)
		r = config_load(argv[2], server_config_schema,
		    server_config_schema_len, &cfg, &msg);
	else
		r = config_load(argv[2], agent_config_schema,
		    agent_config_schema_len, &cfg, &msg);
	if (r != 0) {
		printf("%s\n", msg.text);
		return 1;
	}
	config_free(cfg);
	printf("ok\n");
	return 0;
}
