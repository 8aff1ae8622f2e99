#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# A result the server does not know is recorded, not acknowledged and lost
# (issue 12, item 9), with the real server, agent and dockerd. The agent
# runs a RESTART while the server is frozen (its result cannot be
# acknowledged), the server is killed and comes back with a reload window
# of 0 (as after an outage longer than the window): the agent sends the
# result again on its new connection and the server records it as
# action.result with "action_known": false and the signed result, and
# acknowledges it only then. A later restart with the usual window puts
# the action back from action.requested and completes it from that record:
# SUCCESS, not PENDING or TIMEOUT. Both logs verify and match docs/schema.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }
cd "$T_DIR" || exit 1
TAG="sgru$$"
SLOG="$T_DIR/server-audit.log"
ALOG="$T_DIR/agent-web-01-audit.log"

cleanup() {
	local p
	[ -n "${SERVER_PID:-}" ] && kill -CONT "$SERVER_PID" 2>/dev/null
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${SIGNET_TEST_KEEP:-}" ] && cp "$T_DIR"/*.log "${SIGNET_TEST_KEEP}/" 2>/dev/null
	docker ps -aq --filter "label=signet.test=$TAG" |
		xargs -r docker rm -f >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

make_pki || { not_ok "PKI"; finish; exit 1; }
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "ru-*" }, "actions": ["RESTART"], "accept_relay_signed": true } ] }
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
# The agent says when a result is acknowledged (a debug line).
sed -i 's/^stop_timeout .*/&\nlog_level     = debug/' "$T_DIR/agent-web-01.conf"
check "server starts" start_server
start_agent web-01
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
check "agent connects" wait_for 10 connected
# sleep as PID 1 ignores SIGTERM: a RESTART waits the agent's stop_timeout.
cid=$(docker run -d --network none --label "signet.test=$TAG" --name "ru-$TAG" \
	"$SIGNET_TEST_IMAGE" sleep 100000)
known() { api_get "/api/containers/$cid" >/dev/null 2>&1; }
check "container in the inventory" wait_for 10 known

# stop_server: kills the server (also when frozen) and waits for it.
stop_server() {
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
}
# window N: sets [server] action_reload_window to N seconds.
window() {
	sed -i '/^action_reload_window/d' "$T_DIR/server.conf"
	sed -i "s/^\[server\]$/&\naction_reload_window = $1/" "$T_DIR/server.conf"
}
acks() { grep -c "result of action $1 acknowledged" "$T_DIR/agent-web-01.log"; }
executed() { jq -e --arg id "$1" 'select(.event == "action.executed" and .data.action_id == $id)' "$ALOG" >/dev/null 2>&1; }

out=$(api_post "/api/containers/$cid/actions?wait=0" '{"action":"RESTART","reason":"restart before an outage"}')
aid=$(sed '$d' <<<"$out" | pyq 'd["action_id"]')
check "RESTART accepted (202)" test "$(tail -n 1 <<<"$out")" = "HTTP 202"
# Frozen as soon as the frame is out: dockerd needs stop_timeout (1 s)
# before the result exists, so the result reaches a server that no longer
# reads.
check "the server sent the action" wait_for 10 grep -q "action sent: action_id=$aid" "$T_DIR/server.log"
kill -STOP "$SERVER_PID"
check "the agent ran it" wait_for 20 executed "$aid"
stop_server
rec() { jq -c --arg id "$aid" 'select(.event == "action.result" and .data.action_id == $id)' "$SLOG"; }
recorded() { [ -n "$(rec)" ]; }
check "the first server never took the result" test -z "$(rec)"
check "...nor acknowledged it" test "$(acks "$aid")" -eq 0

# Back after "the window": the action is unknown to this server.
window 0
check "server restarts with a reload window of 0" start_server
check "...and puts nothing back" \
	test "$(jq -r 'select(.event == "server.started") | .data.actions_reloaded' "$SLOG" | tail -n 1)" = 0
check "the agent sends the result again; the server records it" wait_for 20 recorded
r=$(rec | head -n 1)
check "...as action_known false" test "$(jq -r '.data.action_known' <<<"$r")" = false
check "...with the status the agent signed" test "$(jq -r '.data.status' <<<"$r")" = SUCCESS
check "...and the signed result embedded" \
	test "$(jq -r '.data.result.payload | @base64d | fromjson | .action_id' <<<"$r")" = "$aid"
acked() { [ "$(acks "$aid")" -ge 1 ]; }
check "the agent was acknowledged" wait_for 10 acked
check "the server logged it as unknown, recorded" grep -q "unknown action_id=$aid.*recorded" "$T_DIR/server.log"
ack_line=$(grep -n "result of action $aid acknowledged" "$T_DIR/agent-web-01.log" | head -n 1 | cut -d: -f1)
resend_line=$(grep -n "channel open" "$T_DIR/agent-web-01.log" | tail -n 1 | cut -d: -f1)
check "...after the agent reconnected" test "${ack_line:-0}" -gt "${resend_line:-0}"

# A later restart with the usual window: action.requested is put back
# and the recorded result completes it.
stop_server
window 600
check "server restarts with the usual window" start_server
st=$(api_get "/api/actions/$aid" | pyq 'd["status"]')
check "the action is SUCCESS after the restart (got $st)" test "$st" = SUCCESS
check "no action.timeout for it" \
	test "$(jq -c --arg id "$aid" 'select(.event == "action.timeout" and .data.action_id == $id)' "$SLOG" | wc -l)" -eq 0
check "recorded once" test "$(rec | wc -l)" -eq 1

kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
K=$SIGNET_PKI/keys
check "the server's log verifies, the unknown result's signature too" \
	quiet "$SIGNETCTL" audit verify "$SLOG" --key "$K/audit.pub" \
	--action-key "$K/action.pub" --agent-keys "$K/agents"
check "the agent's log verifies" quiet "$SIGNETCTL" audit verify "$ALOG" \
	--key "$K/agents/web-01.pub" --action-key "$K/action.pub" --agent-keys "$K/agents"
check "both logs match docs/schema" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$SLOG" "$ALOG"
finish
