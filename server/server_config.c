/* SPDX-License-Identifier: ISC */
/* The configuration keys of signet-server (signet.conf(5)). */
#include "server_config.h"

#include "audit_limit.h"
#include "cert_expiry.h"
#include "cluster.h"
#include "hub.h"
#include "wire.h"

#define STR(x) #x
#define XSTR(x) STR(x) /* a number macro as a string literal */

const struct config_key server_config_schema[] = {
	{ "server", "agent_listen", CONFIG_LISTEN, false, "0.0.0.0:8444", 0,
	    0 },
	{ "server", "api_listen", CONFIG_LISTEN, false, "127.0.0.1:8443", 0,
	    0 },
	{ "server", "log_level", CONFIG_STRING, false, "info", 0, 0 },
	/* seconds an agent has to send its hello after the upgrade */
	{ "server", "hello_timeout", CONFIG_INT, false, "10", 1, 120 },
	/* liveness: ping an agent after this many seconds of silence, and
	 * drop it after this many (the timeout must be longer than the
	 * interval: checked by server_run) */
	{ "server", "agent_ping_interval", CONFIG_INT, false,
	    XSTR(HUB_PING_SECS), HUB_PING_SECS_MIN, HUB_PING_SECS_MAX },
	{ "server", "agent_timeout", CONFIG_INT, false, XSTR(HUB_HANGUP_SECS),
	    HUB_HANGUP_SECS_MIN, HUB_HANGUP_SECS_MAX },
	/* seconds back a restart puts actions back from the audit log; only
	 * ever narrowed from the results window (tests) */
	{ "server", "action_reload_window", CONFIG_INT, false, "600", 0, 600 },
	/* oldest TLS version agents may use: "1.3" (default) or "1.2" */
	{ "server", "agent_tls_min_version", CONFIG_STRING, false, "1.3", 0,
	    0 },
	{ "tls", "ca", CONFIG_PATH, true, NULL, 0, 0 },
	{ "tls", "crl", CONFIG_PATH, true, NULL, 0, 0 },
	{ "tls", "cert", CONFIG_PATH, true, NULL, 0, 0 },
	{ "tls", "key", CONFIG_PATH, true, NULL, 0, 0 },
	/* warn of certificates that expire within this many days
	 * (cert_expiry.h); a warning refuses nothing */
	{ "tls", "expiry_warn_days", CONFIG_INT, false,
	    XSTR(CERT_EXPIRY_WARN_DAYS_DEFAULT), CERT_EXPIRY_WARN_DAYS_MIN,
	    CERT_EXPIRY_WARN_DAYS_MAX },
	{ "keys", "action", CONFIG_PATH, true, NULL, 0, 0 },
	{ "keys", "audit", CONFIG_PATH, true, NULL, 0, 0 },
	{ "keys", "agents_dir", CONFIG_PATH, true, NULL, 0, 0 },
	/* The operator roster (docs/operators.md): off when keys is absent. */
	{ "roster", "keys", CONFIG_PATH, false, NULL, 0, 0 },
	{ "roster", "threshold", CONFIG_INT, false, "1", 1, 8 },
	{ "roster", "file", CONFIG_PATH, false, NULL, 0, 0 },
	/* The checkpoints' origin: "signet/server/" and the certificate's CN
	 * unless set (docs/transparency.md). */
	{ "audit", "origin", CONFIG_STRING, false, NULL, 0, 0 },
	/* The witnesses whose cosignatures the server keeps (C2SP verifier
	 * keys, one per line): none when absent. */
	{ "audit", "witness_keys", CONFIG_PATH, false, NULL, 0, 0 },
	/*
	 * Cluster mode (docs/cluster.md): off without database. The
	 * certificate paths may be given here instead of in the conninfo,
	 * which one line of at most 199 bytes must hold.
	 */
	{ "cluster", "database", CONFIG_STRING, false, NULL, 0, 0 },
	{ "cluster", "replica", CONFIG_STRING, false, NULL, 0, 0 },
	{ "cluster", "sslrootcert", CONFIG_PATH, false, NULL, 0, 0 },
	{ "cluster", "sslcert", CONFIG_PATH, false, NULL, 0, 0 },
	{ "cluster", "sslkey", CONFIG_PATH, false, NULL, 0, 0 },
	{ "cluster", "claim_ttl_ms", CONFIG_INT, false,
	    XSTR(CLUSTER_TTL_MS_DEFAULT), CLUSTER_TTL_MS_MIN,
	    CLUSTER_TTL_MS_MAX },
	{ "cluster", "db_timeout_ms", CONFIG_INT, false,
	    XSTR(CLUSTER_DB_TIMEOUT_MS_DEFAULT), CLUSTER_DB_TIMEOUT_MS_MIN,
	    CLUSTER_DB_TIMEOUT_MS_MAX },
	{ "cluster", "queue_lease_ms", CONFIG_INT, false,
	    XSTR(CLUSTER_LEASE_MS_DEFAULT), CLUSTER_LEASE_MS_MIN,
	    CLUSTER_LEASE_MS_MAX },
	/* on stop, ms the agents get to leave for another replica (0: none) */
	{ "cluster", "drain_ms", CONFIG_INT, false, "0", 0, WIRE_DRAIN_MAX_MS },
	AUDIT_CONFIG_SCHEMA_ROWS,
};
const size_t server_config_schema_len = sizeof(server_config_schema) /
    sizeof(server_config_schema[0]);
