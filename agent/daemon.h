/* SPDX-License-Identifier: ISC */
/*
 * signet-agent --config FILE: the daemon's wiring. Loads the configuration,
 * the agent's identity (the CN of its certificate), its result key, the
 * pinned action keys and the host policy, opens its audit log, and then
 * keeps three things going until SIGTERM/SIGINT:
 *
 *   the channel (service thread, the main one): hello on every connect,
 *     then inventory snapshots and the action results the server has not
 *     acknowledged yet (executor.h's outbox); frames from the server are
 *     read strictly; "action" frames go to the executor's queue, anything
 *     else is refused, logged, counted and audited (frame.refused);
 *   the action worker (executor.h, its own thread): verifies, decides,
 *     records and runs one action at a time against dockerd, with its own
 *     docker client, waiting up to [agent] stop_timeout for STOP/RESTART;
 *   the docker event stream (its own thread): every container event that
 *     can change the inventory asks for a snapshot;
 *   the snapshot worker (its own thread): GET /containers/json and the
 *     inventory frame, at most one per DAEMON_SNAPSHOT_GAP_MS, within
 *     about a second of an event, at least every DAEMON_SNAPSHOT_PERIOD_MS,
 *     and retried with backoff while dockerd fails.
 *
 * SIGHUP reloads the policy (a bad file keeps the old one). SIGTERM lets
 * the action under way finish (and be recorded) before the agent stops.
 * Audit records (actor "agent"; signed with the result key), besides the
 * executor's (action.received, action.executed, action.rejected,
 * policy.denied, frame.refused: see executor.h):
 *   agent.started     host_id, agent_version, docker_version, server,
 *                     result_key_id, action_key_ids, policy_rules
 *   agent.stopped     host_id, signal, uptime_s, connects, snapshots_sent,
 *                     actions_succeeded, actions_failed, actions_denied,
 *                     actions_rejected, frames_refused,
 *                     results_unacknowledged
 *   policy.reloaded   host_id, policy_rules, generation
 *   policy.reload_refused  host_id, error
 *
 * The code: daemon.c (start, loop, signals, stop), daemon_snapshot.c,
 * daemon_exec.c; daemon_int.h says which is which.
 */
#ifndef SIGNET_AGENT_DAEMON_H
#define SIGNET_AGENT_DAEMON_H

#include <stddef.h>

#define DAEMON_SNAPSHOT_GAP_MS 250      /* at most one snapshot per gap */
#define DAEMON_SNAPSHOT_PERIOD_MS 30000 /* and at least one per period */
#define DAEMON_LIST_RETRY_FIRST_MS 1000 /* a failed list: retried after */
#define DAEMON_LIST_RETRY_MAX_MS 16000
#define DAEMON_SHUTDOWN_GRACE_MS 2000
#define DAEMON_DOCKER_VERSION_UNKNOWN "unknown"

/*
 * Runs the agent with the configuration at config_path until SIGTERM or
 * SIGINT. Returns the process exit code: 0 after a signal, 2 when the
 * configuration file is refused (message "FILE:LINE: why" on stderr), 1
 * when anything else keeps it from starting (certificate, keys, policy,
 * audit log) or fails while running.
 */
int daemon_run(const char *config_path);

#endif
