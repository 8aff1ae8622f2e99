/* SPDX-License-Identifier: ISC */
/* libFuzzer harness for the INI configuration parser, both schemas. */
#include <stdint.h>
#include <stdlib.h>

#include "agent_config.h"
#include "config.h"
#include "server_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	struct err_msg msg;

	if (size > CONFIG_FILE_MAX)
		return 0;
	if (config_parse("fuzz", (const char *)data, size, server_config_schema,
	        server_config_schema_len, &cfg, &msg) == 0)
		(void)config_get(cfg, "server", "agent_listen");
	config_free(cfg);
	cfg = NULL;
	if (config_parse("fuzz", (const char *)data, size, agent_config_schema,
	        agent_config_schema_len, &cfg, &msg) == 0)
		(void)config_get_int(cfg, "agent", "stop_timeout", 0);
	config_free(cfg);
	return 0;
}
