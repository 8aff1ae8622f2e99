/* SPDX-License-Identifier: ISC */
/*
 * signet-server --config FILE: the server's wiring, as a library call that
 * main.c (argument parsing only) and tests can make. Loads server.conf
 * (server_config.h), the keys, the audit log and the CA + CRL, starts the
 * agent hub (hub.h) and the operator API (api.h), and serves on the
 * calling thread until SIGTERM or SIGINT. SIGHUP reloads the CA and CRL,
 * SIGUSR1 rotates the audit log; those four signals are blocked in every
 * thread of the process and taken by a thread of server_run's own, so call
 * it before starting any other thread, and once per process.
 *
 * Audit records written here (actor "server"; the hub's and the API's are
 * listed in hub.h and api.h):
 *   server.started  version, pid, agent_listen, api_listen, api_port,
 *                   action_key_id, audit_key_id, crl_next_update,
 *                   actions_reloaded
 *   server.stopped  reason: SIGTERM, SIGINT or "agent listener failed"
 */
#ifndef SIGNET_SERVER_H
#define SIGNET_SERVER_H

/* The process exit codes server_run returns. */
#define SERVER_EXIT_OK 0     /* stopped by SIGTERM or SIGINT */
#define SERVER_EXIT_FAIL 1   /* could not load or start, or failed */
#define SERVER_EXIT_CONFIG 2 /* configuration refused ("FILE:LINE: why") */

/*
 * Runs the server with the configuration at config_path until SIGTERM or
 * SIGINT; messages go to stderr. Returns SERVER_EXIT_OK after a clean
 * stop; SERVER_EXIT_CONFIG when config_path is NULL or empty or the file
 * is refused (unknown or repeated key, value out of range, a path too
 * long); SERVER_EXIT_FAIL when anything else keeps it from starting (keys,
 * audit log, CA or CRL, a listener, memory, signals) or when the agent
 * listener's loop fails while serving.
 */
int server_run(const char *config_path);

#endif
