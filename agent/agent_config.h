/* SPDX-License-Identifier: ISC */
/*
 * The keys of agent.conf (signet.conf(5), AGENT CONFIGURATION): the schema
 * signet-agent loads its configuration against. It lives with the agent,
 * not in the shared library, so that the library knows no binary.
 */
#ifndef SIGNET_AGENT_CONFIG_H
#define SIGNET_AGENT_CONFIG_H

#include <stddef.h>

#include "config.h"

/* Every key of agent.conf, for config_load(); agent_config_schema_len
 * entries. */
extern const struct config_key agent_config_schema[];
extern const size_t agent_config_schema_len;

#endif
