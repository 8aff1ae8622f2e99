#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 12, item 10: dockerd freezes (SIGSTOP) while it restarts a
# container for the agent. The agent's call to dockerd is bounded by the
# action's own expiry (not its 60 s stop margin), and a call that got no
# answer is reported UNKNOWN, never a plain FAILURE: dockerd may still act
# once it runs again, and does. Once dockerd answers, the agent compares
# the container's state with the one before the call, records a signed
# action.outcome ("ran") and sends it; the server records it too and the
# API shows it. Real server, agent and dockerd; the action lives wait +
# 10 s (docs/http-api.md), so the call gives up at expires_at.
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
  "rules": [ { "match": { "name": "stall-*" }, "actions": ["RESTART"], "accept_relay_signed": true } ] }
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
outcome() { act | pyq '(d.get("outcome") or {}).get("observed") or ""'; }
has_outcome() { test -n "$(outcome)"; }
check "the API shows the outcome once dockerd answers" wait_for 60 has_outcome
st=$(act)
echo "# action: $st"
check "the outcome is: it ran" test "$(outcome)" = ran
check "the outcome says StartedAt changed" \
	grep -q "StartedAt changed" <<<"$(pyq 'd["outcome"]["detail"]' <<<"$st")"
check "the status stays UNKNOWN (the result is what was signed then)" \
	test "$(pyq 'd["status"]' <<<"$st")" = UNKNOWN
check "the agent's log records the outcome with both states" \
	grep -q "\"event\":\"action.outcome\".*\"action_id\":\"$aid\".*\"observed\":\"ran\".*\"state_before\":{.*\"state_after\":{" "$T_DIR/agent-web-01-audit.log"
check "the agent's before state is the StartedAt docker saw before" \
	grep -q "\"event\":\"action.outcome\".*\"started_at\":\"$before\"" "$T_DIR/agent-web-01-audit.log"
check "the server's log records the outcome" \
	grep -q "\"event\":\"action.outcome\".*\"action_id\":\"$aid\".*\"observed\":\"ran\"" "$T_DIR/server-audit.log"
ordered() { # the outcome comes after the result in both logs
	local f=$1 r o
	r=$(grep -n "\"action_id\":\"$aid\".*\"status\":\"UNKNOWN\"" "$f" | head -n 1 | cut -d: -f1)
	o=$(grep -n "\"event\":\"action.outcome\".*\"action_id\":\"$aid\"" "$f" | head -n 1 | cut -d: -f1)
	test -n "$r" && test -n "$o" && test "$r" -lt "$o"
}
check "agent log: UNKNOWN result, then the outcome" ordered "$T_DIR/agent-web-01-audit.log"
check "server log: UNKNOWN result, then the outcome" ordered "$T_DIR/server-audit.log"
check "the agent's log records UNKNOWN" \
	grep -q "\"event\":\"action.executed\".*\"action_id\":\"$aid\".*\"status\":\"UNKNOWN\"" "$T_DIR/agent-web-01-audit.log"
check "the server's log records UNKNOWN" \
	grep -q "\"event\":\"action.result\".*\"action_id\":\"$aid\".*\"status\":\"UNKNOWN\"" "$T_DIR/server-audit.log"
# Across a restart of both, the outcome is neither lost nor doubled.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the server restarts" start_server
check "the restarted server still shows the outcome" wait_for 10 has_outcome
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
start_agent web-01
check "the agent comes back" wait_for 20 connected
again() { grep -q "sent the outcome of action_id=$aid again" "$T_DIR/server.log"; }
check "the restarted agent sends the outcome again; the server keeps one" wait_for 20 again
check "the outcome is recorded once by the agent" \
	test "$(grep -c "\"event\":\"action.outcome\".*\"action_id\":\"$aid\"" "$T_DIR/agent-web-01-audit.log")" = 1
kill "$AGENT_PID" "$SERVER_PID"; wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null
K=$SIGNET_PKI/keys
out=$("$SIGNETCTL" audit verify "$T_DIR/agent-web-01-audit.log" \
	--key "$K/agents/web-01.pub" --action-key "$K/action.pub" --agent-keys "$K/agents" 2>&1); rc=$?
check "the agent's log verifies (rc $rc)" test "$rc" = 0
check "... its signed outcome too" grep -q '^outcomes: 1 verified, 0 not checked$' <<<"$out"
out=$("$SIGNETCTL" audit verify "$T_DIR/server-audit.log" \
	--key "$K/audit.pub" --action-key "$K/action.pub" --agent-keys "$K/agents" 2>&1); rc=$?
check "the server's log verifies (rc $rc)" test "$rc" = 0
check "... the agent-signed outcome it recorded too" grep -q '^outcomes: 1 verified, 0 not checked$' <<<"$out"
check "both audit logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/server-audit.log" "$T_DIR/agent-web-01-audit.log"
docker rm -f "$cid" >/dev/null
finish
