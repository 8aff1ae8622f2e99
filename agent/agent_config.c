/* SPDX-License-Identifier: ISC */
/* The configuration keys of signet-agent (signet.conf(5)). */
#include "agent_config.h"

#include "audit_limit.h"
#include "cert_expiry.h"
#include "channel.h"

const struct config_key agent_config_schema[] = {
	/* one or more wss URLs (replicas), tried in turn (channel.h) */
	{ "agent", "server", CONFIG_WSS_URLS, true, NULL, 0, 0 },
	/* the redial delay's ceiling: its first step and its cap */
	{ "agent", "reconnect_min_ms", CONFIG_INT, false, "500", 1,
	    CHANNEL_RECONNECT_LIMIT_MS },
	{ "agent", "reconnect_max_ms", CONFIG_INT, false, "30000", 1,
	    CHANNEL_RECONNECT_LIMIT_MS },
	{ "agent", "docker_socket", CONFIG_PATH, false, "/var/run/docker.sock",
	    0, 0 },
	{ "agent", "policy", CONFIG_PATH, true, NULL, 0, 0 },
	{ "agent", "log_level", CONFIG_STRING, false, "info", 0, 0 },
	{ "agent", "stop_timeout", CONFIG_INT, false, "10", 0, 600 },
	/* "" off; else a loopback HOST:PORT (agent_metrics_parse_listen). */
	{ "agent", "metrics_listen", CONFIG_STRING, false, "", 0, 0 },
	{ "tls", "ca", CONFIG_PATH, true, NULL, 0, 0 },
	{ "tls", "cert", CONFIG_PATH, true, NULL, 0, 0 },
	{ "tls", "key", CONFIG_PATH, true, NULL, 0, 0 },
	/* warn of the agent's own certificate this many days before it
	 * expires (cert_expiry.h) */
	{ "tls", "expiry_warn_days", CONFIG_INT, false, "30",
	    CERT_EXPIRY_WARN_DAYS_MIN, CERT_EXPIRY_WARN_DAYS_MAX },
	{ "keys", "action_pub", CONFIG_PATH, true, NULL, 0, 0 },
	{ "keys", "result", CONFIG_PATH, true, NULL, 0, 0 },
	/* The result keys "result" replaced (public, one per line). */
	{ "keys", "result_retired", CONFIG_PATH, false, NULL, 0, 0 },
	/* The operator roster (docs/operators.md): off when keys is absent. */
	{ "roster", "keys", CONFIG_PATH, false, NULL, 0, 0 },
	{ "roster", "threshold", CONFIG_INT, false, "1", 1, 8 },
	{ "roster", "file", CONFIG_PATH, false, NULL, 0, 0 },
	AUDIT_CONFIG_SCHEMA_ROWS,
};
const size_t agent_config_schema_len = sizeof(agent_config_schema) /
    sizeof(agent_config_schema[0]);
