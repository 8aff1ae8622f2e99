#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 12, item 10: dockerd freezes (SIGSTOP) while it restarts a
# container for the agent. The agent's call to dockerd is bounded by the
# action's own expiry (not its 60 s stop margin), and a call that got no
# answer is reported UNKNOWN, never a plain FAILURE: dockerd may still act
# once it runs again, and does. Real server, agent and dockerd; the action
# lives wait + 10 s (docs/http-api.md), so the call gives up at expires_at.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1

DOCKERD_PID=$(cat "$DOCKER_DIR/dockerd.pid" 2>/dev/null)
[ -n "$DOCKERD_PID" ] || { not_ok "dockerd pid in $DOCKER_DIR"; finish; exit 1; }
# dockerd runs again whatever happens here: other tests share it.
thaw() { kill -CONT "$DOCKERD_PID" 2>/dev/null; }
trap 'thaw; r_cleanup' EXIT

make_pki || { not_ok "PKI"; finish; exit 1; }
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "stall-*" }, "actions": ["RESTART"] } ] }
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
# dockerd waits 5 s for the TERM-ignoring sleep: time to freeze it mid-way.
sed -i 's/^stop_timeout .*/stop_timeout  = 5/' "$T_DIR/agent-web-01.conf"
check "server starts" start_server
start_agent web-01
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
check "agent connects" wait_for 10 connected

cid=$(docker run -d --network none --name stall-1 "$SIGNET_TEST_IMAGE" sleep 100000)
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
check "container in the inventory" wait_for 10 known "$cid"
before=$(docker inspect -f '{{.State.StartedAt}}' "$cid")

out=$(api_post "/api/containers/$cid/actions?wait=1" '{"action":"RESTART","reason":"restart while dockerd stalls"}')
aid=$(sed '$d' <<<"$out" | pyq 'd["action_id"]')
check "the action was sent" test -n "$aid"
check "the agent asks dockerd to restart" \
	wait_for 20 grep -q "action received: action_id=$aid" "$T_DIR/agent-web-01.log"
kill -STOP "$DOCKERD_PID"
act() { api_get "/api/actions/$aid"; }
ended() { act | pyq 'd["status"]' | grep -Eqx 'SUCCESS|FAILURE|UNKNOWN|REJECTED|DENIED'; }
# The call ends at expires_at (about 11 s); before the fix it took 65 s.
check "the agent answers while dockerd is still frozen" wait_for 120 ended
st=$(act)
echo "# action: $st"
check "the result is UNKNOWN, not FAILURE" test "$(pyq 'd["status"]' <<<"$st")" = UNKNOWN
check "the error says the call was cut at the action's expiry" \
	grep -q "expires_at" <<<"$(pyq 'd.get("error") or ""' <<<"$st")"
thaw
check "dockerd answers again" wait_for 30 quiet docker version
restarted() { test "$(docker inspect -f '{{.State.StartedAt}}' "$cid")" != "$before"; }
check "dockerd restarts the container once it runs again" wait_for 30 restarted
check "the agent's log records UNKNOWN" \
	grep -q "\"event\":\"action.executed\".*\"action_id\":\"$aid\".*\"status\":\"UNKNOWN\"" "$T_DIR/agent-web-01-audit.log"
check "the server's log records UNKNOWN" \
	grep -q "\"event\":\"action.result\".*\"action_id\":\"$aid\".*\"status\":\"UNKNOWN\"" "$T_DIR/server-audit.log"
kill "$AGENT_PID" "$SERVER_PID"; wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null
check "both audit logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/server-audit.log" "$T_DIR/agent-web-01-audit.log"
docker rm -f "$cid" >/dev/null
finish
