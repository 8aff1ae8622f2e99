#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Agents with several servers (issue 16, "Agents fail over"): real
# signet-agent processes and two real signet-server processes (replicas
# without a database) over real TLS, on loopback.
#   - an agent given two URLs, one down, connects to the other; when
#     that server stops (drain_ms 0: closed at once, as before) it dials
#     the next URL, and connects once its server is up; its metrics name
#     the URL it is on;
#   - agents start at a random URL of their list: of 16 agents started
#     with the same two URLs, both servers get some;
#   - a server with [cluster] drain_ms sends every agent a drain frame on
#     SIGTERM and waits: its three agents leave by themselves (close code
#     1001, not "shutdown"), each at a moment of its own, for the other
#     server, and the server stops once they are gone;
#   - bad configurations are refused at start with a clear error: a bad
#     URL in the list (named), more than 16, reconnect_min_ms over
#     reconnect_max_ms, drain_ms out of range.
# Checked on the processes' own logs and audit logs, never on a clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }

make_pki || { not_ok "pki setup"; finish; exit 1; }
for h in web-02 web-03; do
	"$PKI_SCRIPT" agent "$h" >/dev/null || { not_ok "pki agent $h"; finish; exit 1; }
done

# server_conf NAME DRAIN_MS: $T_DIR/NAME.conf on fresh ports (NAME_AGENT,
# NAME_API), its audit log $T_DIR/NAME-audit.log.
server_conf() {
	local name=$1 agent api
	agent=$(free_port)
	api=$(free_port)
	printf -v "${name}_AGENT" '%s' "$agent"
	printf -v "${name}_API" '%s' "$api"
	cat >"$T_DIR/$name.conf" <<CONF
[server]
agent_listen = 127.0.0.1:$agent
api_listen   = 127.0.0.1:$api
[tls]
ca   = $SIGNET_PKI/ca.pem
crl  = $SIGNET_PKI/crl.pem
cert = $SIGNET_PKI/issued/localhost.pem
key  = $SIGNET_PKI/private/localhost.key
[keys]
action     = $SIGNET_PKI/keys/action.key
audit      = $SIGNET_PKI/keys/audit.key
agents_dir = $SIGNET_PKI/keys/agents
[audit]
path = $T_DIR/$name-audit.log
[cluster]
drain_ms = $2
CONF
}

# run_server NAME: starts it (log $T_DIR/NAME.log); NAME_PID.
run_server() {
	local api_var="${1}_API" pid
	"$SERVER_BIN" --config "$T_DIR/$1.conf" >>"$T_DIR/$1.log" 2>&1 &
	pid=$!
	R_PIDS+=("$pid")
	printf -v "${1}_PID" '%s' "$pid"
	for _ in $(seq 1 100); do
		API_PORT=${!api_var} api_get /healthz >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "# server $1 did not come up:"; tail -n 20 "$T_DIR/$1.log"
	return 1
}

# agent_conf HOST "URLS" [EXTRA...]: $T_DIR/agent-HOST.conf; EXTRA lines
# go into [agent].
agent_conf() {
	local host=$1 urls=$2
	shift 2
	echo "{ \"host_id\": \"$host\", \"rules\": [ { \"match\": { \"name\": \"none-*\" }, \"actions\": [\"START\"] } ] }" >"$T_DIR/policy-$host.json"
	chmod 0644 "$T_DIR/policy-$host.json"
	{
		echo "[agent]"
		echo "server = $urls"
		echo "docker_socket = $T_DIR/no-dockerd.sock"
		echo "policy        = $T_DIR/policy-$host.json"
		for l in "$@"; do echo "$l"; done
		cat <<CONF
[tls]
ca   = $SIGNET_PKI/ca.pem
cert = $SIGNET_PKI/issued/$host.pem
key  = $SIGNET_PKI/private/$host.key
[keys]
action_pub = $SIGNET_PKI/keys/action.pub
result     = $SIGNET_PKI/keys/agents/$host.key
[audit]
path = $T_DIR/agent-$host-audit.log
CONF
	} >"$T_DIR/agent-$host.conf"
}

# opens HOST PORT: the agent's "channel open" lines naming that server.
opens() { grep -c "channel open: server=wss://localhost:$2 " "$T_DIR/agent-$1.log"; }
# on HOST PORT N: HOST opened a channel to PORT at least N times.
on() { [ "$(opens "$1" "$2")" -ge "$3" ]; }
# disconnects NAME HOST REASON: agent.disconnected records in NAME's log.
disconnects() {
	jq -c --arg h "$2" --arg r "$3" \
		'select(.event == "agent.disconnected" and .data.host_id == $h and .data.reason == $r)' \
		"$T_DIR/$1-audit.log" | wc -l
}

# ---- bad configurations: refused at start, naming what is wrong ----
server_conf A 0
server_conf B 0
# refused NAME WANT EXTRA...: the agent (web-01's config, [agent] server
# and EXTRA lines as given) exits 2, its stderr naming WANT.
refused() {
	local name=$1 urls=$2 want=$3
	shift 3
	agent_conf web-01 "$urls" "$@"
	"$AGENT_BIN" --config "$T_DIR/agent-web-01.conf" >"$T_DIR/bad.out" 2>&1
	local rc=$?
	check "$name: refused (exit $rc)" test "$rc" -eq 2
	check "$name: says why" grep -qF -- "$want" "$T_DIR/bad.out"
}
refused "a bad second URL" "wss://localhost:$A_AGENT ws://localhost:$B_AGENT" \
	"URL 2 \"ws://localhost:$B_AGENT\" must be a wss:// URL"
refused "a second URL without a port" "wss://localhost:$A_AGENT wss://localhost" \
	"URL 2 \"wss://localhost\""
many=""
for i in $(seq 1 17); do many="$many wss://h:$i"; done
refused "17 URLs" "$many" "holds more than 16 URLs"
refused "reconnect_min_ms over reconnect_max_ms" "wss://localhost:$A_AGENT" \
	"reconnect_min_ms (5000) is over reconnect_max_ms (1000)" \
	"reconnect_min_ms = 5000" "reconnect_max_ms = 1000"
refused "reconnect_min_ms 0" "wss://localhost:$A_AGENT" \
	"reconnect_min_ms = \"0\" must be an integer from 1" "reconnect_min_ms = 0"
# server_refused NAME VALUE: signet-server with drain_ms VALUE exits non-zero.
server_refused() {
	sed -i "s/^drain_ms = .*/drain_ms = $2/" "$T_DIR/A.conf"
	"$SERVER_BIN" --config "$T_DIR/A.conf" >"$T_DIR/bad.out" 2>&1
	local rc=$?
	check "$1: refused (exit $rc)" test "$rc" -ne 0
	check "$1: says why" grep -q "drain_ms = \"$2\" must be an integer from 0 to 600000" "$T_DIR/bad.out"
}
server_refused "drain_ms negative" -1
server_refused "drain_ms over ten minutes" 600001
sed -i "s/^drain_ms = .*/drain_ms = 0/" "$T_DIR/A.conf"

# ---- the first URL down: the second; its server stops: the other ----
MPORT=$(free_port)
# A is not running yet: the first URL is down.
agent_conf web-01 "wss://localhost:$A_AGENT wss://localhost:$B_AGENT" \
	"metrics_listen = 127.0.0.1:$MPORT" "reconnect_min_ms = 100" "reconnect_max_ms = 1000"
run_server B || { finish; exit 1; }
start_agent web-01
# It starts at a random one of its URLs; either way it reaches B.
check "the agent connects to the URL that is up" wait_for 20 on web-01 "$B_AGENT" 1
check "server B records it connected" wait_for 10 sh -c \
	"jq -e 'select(.event == \"agent.connected\" and .data.host_id == \"web-01\")' '$T_DIR/B-audit.log' >/dev/null"
check "its metrics name the URL it is on" wait_for 10 sh -c \
	"curl -sS --max-time 5 http://127.0.0.1:$MPORT/metrics | grep -qx 'signet_agent_server_connected{url=\"wss://localhost:$B_AGENT\"} 1'"
check "...and the other as 0" sh -c \
	"curl -sS --max-time 5 http://127.0.0.1:$MPORT/metrics | grep -qx 'signet_agent_server_connected{url=\"wss://localhost:$A_AGENT\"} 0'"
kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null
check "B stopped without drain: the agent closed at shutdown" \
	test "$(disconnects B web-01 shutdown)" -eq 1
check "a URL that is down: the dial fails and names the next" \
	wait_for 20 grep -q "channel dial failed: server=wss://localhost:$A_AGENT .* next=wss://localhost:$B_AGENT" "$T_DIR/agent-web-01.log"
run_server A || { finish; exit 1; }
check "the agent goes to the other server, A" wait_for 30 on web-01 "$A_AGENT" 1
check "its metrics follow" wait_for 10 sh -c \
	"curl -sS --max-time 5 http://127.0.0.1:$MPORT/metrics | grep -qx 'signet_agent_server_connected{url=\"wss://localhost:$A_AGENT\"} 1'"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# ---- a fleet with one list spreads over the servers ----
run_server B || { finish; exit 1; }
: >"$T_DIR/spread.txt"
for i in $(seq 1 16); do
	: >"$T_DIR/agent-web-01.log"
	agent_conf web-01 "wss://localhost:$A_AGENT wss://localhost:$B_AGENT" \
		"reconnect_min_ms = 100" "reconnect_max_ms = 1000"
	start_agent web-01
	wait_for 20 grep -q "channel open: server=" "$T_DIR/agent-web-01.log" &&
		sed -n 's/.*channel open: server=\([^ ]*\).*/\1/p' "$T_DIR/agent-web-01.log" |
		head -n 1 >>"$T_DIR/spread.txt"
	kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
done
check "16 agents with one list: all connected" test "$(wc -l <"$T_DIR/spread.txt")" -eq 16
check "... and not all to the first URL (a random start)" \
	test "$(sort -u "$T_DIR/spread.txt" | wc -l)" -eq 2
kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null

# ---- drain: A stops with drain_ms; its agents leave, each in its time ----
kill -TERM "$A_PID"; wait "$A_PID" 2>/dev/null
sed -i "s/^drain_ms = .*/drain_ms = 4000/" "$T_DIR/A.conf"
: >"$T_DIR/A.log"
run_server A || { finish; exit 1; }
APIDS=()
for h in web-01 web-02 web-03; do
	: >"$T_DIR/agent-$h.log"
	agent_conf "$h" "wss://localhost:$A_AGENT wss://localhost:$B_AGENT" \
		"reconnect_min_ms = 100" "reconnect_max_ms = 1000"
	start_agent "$h"
	APIDS+=("$AGENT_PID")
done
for h in web-01 web-02 web-03; do
	check "$h connects to A" wait_for 20 on "$h" "$A_AGENT" 1
done
# Every agent in session on A (its hello recorded) before the stop.
check "A has the three in session" wait_for 10 sh -c \
	"[ \$(jq -c 'select(.event == \"agent.connected\")' '$T_DIR/A-audit.log' | wc -l) -ge 4 ]"
run_server B || { finish; exit 1; }
kill -TERM "$A_PID"
for h in web-01 web-02 web-03; do
	check "$h is asked to leave, and plans its moment" wait_for 10 \
		grep -q "channel: server=wss://localhost:$A_AGENT drains its agents: leaving in [0-9]* ms (of [0-9]*), then next=wss://localhost:$B_AGENT" "$T_DIR/agent-$h.log"
done
check "A says it asked them" wait_for 10 grep -q "draining: asked 3 agent(s) to leave" "$T_DIR/A.log"
for h in web-01 web-02 web-03; do
	check "$h reconnects to B" wait_for 30 on "$h" "$B_AGENT" 1
done
wait "$A_PID" 2>/dev/null
check "A waited for them: it drained before stopping" grep -q "drained: no agent left in session" "$T_DIR/A.log"
check "A did not cut anyone off at the end of the drain" \
	test "$(grep -c "drain over" "$T_DIR/A.log")" -eq 0
for h in web-01 web-02 web-03; do
	check "$h left A by itself (peer_closed, 1001), not at shutdown" sh -c \
		"[ $(disconnects A "$h" peer_closed) -ge 1 ] && [ $(disconnects A "$h" shutdown) -eq 0 ]"
done
delays=$(for h in web-01 web-02 web-03; do
	sed -n "s/.*drains its agents: leaving in \([0-9]*\) ms.*/\1/p" "$T_DIR/agent-$h.log" | tail -n 1
done | sort -u | wc -l)
check "each at a moment of its own ($delays distinct delays of 3)" test "$delays" -ge 2
check "the drained agents come back after a first, short redial" sh -c \
	"grep -h 'channel closed: server=wss://localhost:$A_AGENT' '$T_DIR'/agent-web-0*.log | grep -c 'attempt=1 ' | grep -qx 3"
for p in "${APIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
[ "$T_FAIL" -eq 0 ] || {
	echo "# A:"; tail -n 15 "$T_DIR/A.log"
	for h in web-01 web-02 web-03; do echo "# $h:"; grep channel "$T_DIR/agent-$h.log" | tail -n 8; done
}
finish
