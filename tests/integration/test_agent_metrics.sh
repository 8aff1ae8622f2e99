#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The agent's own metrics listener ([agent] metrics_listen): off by
# default (the real agent, connected to a real server and the test
# dockerd, listens on no TCP port); refused, exit 2, when set to an address
# that is not loopback; on when set to 127.0.0.1:PORT, where GET /metrics
# answers Prometheus text with the agent's build info, queued and running
# actions, outbox results by state, dockerd request latency (a histogram
# the snapshot worker's real calls fill) and the audit writer's state, and
# anything else is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v ss >/dev/null || { echo "SKIP: no ss (iproute2)"; exit 77; }

make_pki || { not_ok "pki setup"; finish; exit 1; }
write_server_conf
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >"$T_DIR/policy.json"
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
CONF=$T_DIR/agent-web-01.conf
LOG=$T_DIR/agent-web-01.log
start_server || { not_ok "server started"; finish; exit 1; }
connected() { api_get /api/hosts | pyq "any(h['host_id']=='web-01' and h['connected'] for h in d['hosts'])" | grep -qx true; }
# listens PID: the TCP ports PID listens on, one a line.
listens() { ss -ltnpH | grep "pid=$1," | awk '{print $4}'; }

# ---- off by default ----
start_agent web-01
check "agent connected (metrics off)" wait_for 30 connected
check "says its metrics are off" grep -q 'metrics: off' "$LOG"
check "no TCP listener by default ($(listens "$AGENT_PID" | tr '\n' ' '))" test -z "$(listens "$AGENT_PID")"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null

# ---- loopback only ----
PORT=$(free_port)
for addr in "0.0.0.0:$PORT" "[::]:$PORT" "192.0.2.1:$PORT" "localhost:$PORT" "127.0.0.1"; do
	sed -i '/^metrics_listen/d' "$CONF"
	sed -i "s|^\\[agent\\]$|[agent]\\nmetrics_listen = $addr|" "$CONF"
	check_fails_with "metrics_listen = $addr refused" 'metrics_listen.*(loopback|HOST:PORT)' \
		"$AGENT_BIN" --config "$CONF"
	"$AGENT_BIN" --config "$CONF" >/dev/null 2>&1
	check "... with exit 2" test $? = 2
done

# ---- on: 127.0.0.1:PORT ----
sed -i '/^metrics_listen/d' "$CONF"
sed -i "s|^\\[agent\\]$|[agent]\\nmetrics_listen = 127.0.0.1:$PORT|" "$CONF"
: >"$LOG"
start_agent web-01
check "agent connected (metrics on)" wait_for 30 connected
check "listens on 127.0.0.1:$PORT only" test "$(listens "$AGENT_PID")" = "127.0.0.1:$PORT"
check "says where" grep -q "metrics: listening on 127.0.0.1:$PORT" "$LOG"
get() { curl -sS --max-time 10 -o "$T_DIR/m.txt" -D "$T_DIR/m.hdr" -w '%{http_code}' "$@"; }
mval() { awk -v k="$1" '$1 == k {print $2}' "$T_DIR/m.txt"; }
observed() { get "http://127.0.0.1:$PORT/metrics" >/dev/null && [ "$(mval signet_agent_dockerd_request_duration_seconds_count)" -ge 1 ]; }
check "dockerd latency observed (snapshots)" wait_for 30 observed
check "GET /metrics: 200" test "$(get "http://127.0.0.1:$PORT/metrics")" = 200
check "Prometheus text" grep -qi '^content-type: text/plain; version=0.0.4' "$T_DIR/m.hdr"
VERSION=$("$AGENT_BIN" --version | awk '{print $2}')
check "build info" test "$(mval "signet_agent_build_info{version=\"$VERSION\"}")" = 1
check "nothing queued" test "$(mval signet_agent_actions_queued)" = 0
check "nothing running" test "$(mval signet_agent_actions_running)" = 0
check "outbox: none unacknowledged" test "$(mval 'signet_agent_outbox_results{state="unacknowledged"}')" = 0
check "outbox: acknowledged row" test -n "$(mval 'signet_agent_outbox_results{state="acknowledged"}')"
check "audit writer ok" test "$(mval 'signet_agent_audit_state{state="ok"}')" = 1
# The audit state rows' values, sorted, on one line: one 1, three 0.
audit_states() { sed -n 's/^signet_agent_audit_state{[^}]*} //p' "$T_DIR/m.txt" | sort | tr '\n' ' '; }
check "audit states: exactly one is 1" test "$(audit_states)" = "0 0 0 1 "
check "histogram +Inf = count" test "$(mval 'signet_agent_dockerd_request_duration_seconds_bucket{le="+Inf"}')" = "$(mval signet_agent_dockerd_request_duration_seconds_count)"
for fam in signet_agent_build_info signet_agent_actions_queued signet_agent_actions_running \
	signet_agent_outbox_results signet_agent_dockerd_request_duration_seconds signet_agent_audit_state; do
	check "TYPE of $fam" grep -q "^# TYPE $fam " "$T_DIR/m.txt"
done
check "another path: 404" test "$(get "http://127.0.0.1:$PORT/")" = 404
check "POST: 405" test "$(get -X POST "http://127.0.0.1:$PORT/metrics")" = 405
kill "$AGENT_PID"; wait "$AGENT_PID"; rc=$?
check "agent stopped cleanly ($rc)" test "$rc" = 0
gone() { ! curl -s --max-time 2 "http://127.0.0.1:$PORT/metrics" >/dev/null; }
check "the listener is gone" gone
[ "$T_FAIL" -eq 0 ] || tail -n 10 "$LOG"
finish
