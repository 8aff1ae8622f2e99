#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Both daemons tell systemd their state (sd_notify, Type=notify): with
# NOTIFY_SOCKET naming a unix datagram socket (tests/integration/notify.py
# plays systemd's end), the real signet-server and signet-agent send
# READY=1 with a STATUS= once started (the server: listening, audit log
# open and server.started recorded), RELOADING=1 with MONOTONIC_USEC= and
# then READY=1 around a SIGHUP reload, and STOPPING=1 on SIGTERM, in that
# order. Their stderr is taken for the journal's stream (JOURNAL_STREAM =
# its dev:ino) and each line carries a <N> priority prefix; without
# NOTIFY_SOCKET and JOURNAL_STREAM nothing is sent and lines are as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
NPIDS=()
cleanup_all() {
	local p
	for p in "${R_PIDS[@]}" "${NPIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}" "${NPIDS[@]}"; do wait "$p" 2>/dev/null; done
	t_cleanup
}
trap cleanup_all EXIT

make_pki || { not_ok "pki setup"; finish; exit 1; }
write_server_conf
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >"$T_DIR/policy.json"
chmod 0644 "$T_DIR/policy.json"
# No dockerd is needed: the agent starts without one ("carrying on").
DOCKER_HOST=unix://$T_DIR/no-dockerd.sock write_agent_conf web-01 "$T_DIR/policy.json"

# listen NAME: a notification socket $T_DIR/NAME.sock whose messages go
# to $T_DIR/NAME.msgs, one a line.
listen() {
	python3 "$SIGNET_SOURCE_DIR/tests/integration/notify.py" \
		"$T_DIR/$1.sock" "$T_DIR/$1.msgs" 2>>"$T_DIR/$1.err" &
	NPIDS+=("$!")
	wait_for 10 grep -q '^listening$' "$T_DIR/$1.msgs"
}
# msgs NAME: the messages so far, without the "listening" line.
msgs() { grep -v '^listening$' "$T_DIR/$1.msgs"; }
# has_msg NAME N REGEX: message N (1-based) matches REGEX.
has_msg() { msgs "$1" | sed -n "$2p" | grep -Eq -- "$3"; }
count() { msgs "$1" | wc -l; }
# no_line_matches GREP-ARGS...: grep finds nothing.
no_line_matches() { ! grep -q "$@"; }
# journal_stream FILE: FILE's dev:ino as systemd sets JOURNAL_STREAM.
journal_stream() { stat -c '%d:%i' "$1"; }

# ---- the server ----
check "notification socket for the server" listen server
: >"$T_DIR/server.log"
NOTIFY_SOCKET=$T_DIR/server.sock JOURNAL_STREAM=$(journal_stream "$T_DIR/server.log") \
	start_server || { not_ok "server started"; finish; exit 1; }
check "server: READY=1 with a status" wait_for 10 has_msg server 1 '^READY=1\|STATUS=.*listening'
check "server: server.started recorded" \
	grep -q '"event":"server.started"' "$T_DIR/server-audit.log"
kill -HUP "$SERVER_PID"
check "server: RELOADING=1 with MONOTONIC_USEC on SIGHUP" \
	wait_for 10 has_msg server 2 '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|STATUS='
check "server: READY=1 once reloaded" wait_for 10 has_msg server 3 '^READY=1'
check "server: reload recorded before READY=1" \
	grep -q '"event":"server.reloaded"' "$T_DIR/server-audit.log"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"; src=$?
check "server exited 0 ($src)" test "$src" = 0
check "server: STOPPING=1 last" has_msg server 4 '^STOPPING=1'
check "server: four messages in all ($(count server))" test "$(count server)" = 4
check "server: info lines carry <6> for the journal" \
	grep -Eq '^<6>info signet-server: .*started' "$T_DIR/server.log"
check "server: every log line has a priority prefix" \
	no_line_matches -Ev '^<[0-7]>' "$T_DIR/server.log"

# Without NOTIFY_SOCKET and JOURNAL_STREAM: no message, no prefix.
: >"$T_DIR/server.log"
start_server || not_ok "server started without systemd"
kill -HUP "$SERVER_PID"
check "plain run: reloaded" wait_for 10 grep -q '"event":"server.reloaded".*' "$T_DIR/server-audit.log"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID"
check "plain run: nothing sent" test "$(count server)" = 4
check "plain run: lines start with the time" \
	grep -q '^20[0-9][0-9]-.*Z info signet-server: ' "$T_DIR/server.log"
check "plain run: no priority prefix" no_line_matches -E '^<' "$T_DIR/server.log"
check "plain run: no complaint about systemd" \
	no_line_matches -F systemd "$T_DIR/server.log"

# ---- the agent ----
start_server || { not_ok "server for the agent"; finish; exit 1; }
check "notification socket for the agent" listen agent
: >"$T_DIR/agent-web-01.log"
NOTIFY_SOCKET=$T_DIR/agent.sock JOURNAL_STREAM=$(journal_stream "$T_DIR/agent-web-01.log") \
	start_agent web-01
check "agent: READY=1 with a status" wait_for 30 has_msg agent 1 '^READY=1\|STATUS=.*'
check "agent: agent.started recorded" grep -q '"event":"agent.started"' "$T_DIR/agent-web-01-audit.log"
kill -HUP "$AGENT_PID"
check "agent: RELOADING=1 with MONOTONIC_USEC on SIGHUP" \
	wait_for 10 has_msg agent 2 '^RELOADING=1\|MONOTONIC_USEC=[0-9]+'
check "agent: READY=1 once the policy is reloaded" wait_for 10 has_msg agent 3 '^READY=1'
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"; arc=$?
check "agent exited 0 ($arc)" test "$arc" = 0
check "agent: STOPPING=1 last" has_msg agent 4 '^STOPPING=1'
check "agent: four messages in all ($(count agent))" test "$(count agent)" = 4
check "agent: info lines carry <6>" grep -Eq '^<6>info signet-agent: .*agent started' "$T_DIR/agent-web-01.log"
check "agent: warnings carry <4> (no dockerd)" grep -Eq '^<4>warn signet-agent: .*dockerd' "$T_DIR/agent-web-01.log"

# An error line: the agent refuses a certificate it cannot read.
sed -i "s|^cert = .*|cert = $T_DIR/missing.pem|" "$T_DIR/agent-web-01.conf"
: >"$T_DIR/agent-web-01.log"
JOURNAL_STREAM=$(journal_stream "$T_DIR/agent-web-01.log") start_agent web-01
wait "$AGENT_PID"
check "agent: errors carry <3>" grep -Eq '^<3>error signet-agent: .*certificate' "$T_DIR/agent-web-01.log"
[ "$T_FAIL" -eq 0 ] || { echo "# server msgs:"; cat "$T_DIR/server.msgs"; echo "# agent msgs:"; cat "$T_DIR/agent.msgs"; tail -n 5 "$T_DIR/server.log" "$T_DIR/agent-web-01.log"; }
finish
