/* SPDX-License-Identifier: ISC */
/*
 * The keys of server.conf (signet.conf(5), SERVER CONFIGURATION): the
 * schema signet-server loads its configuration against. It lives with the
 * server, not in the shared library, so that the library knows no binary.
 */
#ifndef SIGNET_SERVER_CONFIG_H
#define SIGNET_SERVER_CONFIG_H

#include <stddef.h>

#include "config.h"

/* Every key of server.conf, for config_load(); server_config_schema_len
 * entries. */
extern const struct config_key server_config_schema[];
extern const size_t server_config_schema_len;

#endif
