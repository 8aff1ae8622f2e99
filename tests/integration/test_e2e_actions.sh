#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 5 end to end with every real part: operator -> signet-server ->
# signed action over WSS -> signet-agent -> policy -> private dockerd ->
# signed result -> HTTP answer. START, STOP and RESTART succeed on busybox
# containers (docker inspect confirms, RESTART's StartedAt changes); 304 is
# SUCCESS; each policy rule kind denies with the container untouched; both
# audit logs verify with their embedded envelopes, hold every action's
# reason, operator and result, and match docs/schema (audit_schema.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1

make_pki || { not_ok "PKI"; finish; exit 1; }
"$PKI_SCRIPT" operator bob >/dev/null
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{
  "host_id": "web-01",
  "rules": [
    { "match": { "name": "act-web-*", "image": "signet-test/*",
                 "labels": { "tier": "frontend" } },
      "actions": ["START", "STOP", "RESTART"], "accept_relay_signed": true,
      "operators": ["alice"],
      "min_reason_length": 10 },
    { "match": { "name": "act-rl" },
      "actions": ["START"], "accept_relay_signed": true,
      "rate_limit": { "max": 2, "per_seconds": 3600 } }
  ]
}
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
check "server starts" start_server
start_agent web-01
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
check "agent connects" wait_for 10 connected

mk() { docker run -d --network none --stop-timeout 1 --name "$1" "${@:2}" "$SIGNET_TEST_IMAGE" sleep 100000; }
web=$(mk act-web-1 --label tier=frontend)
other=$(mk act-db-1 --label tier=frontend)
nolabel=$(mk act-web-2 --label tier=backend)
rl=$(mk act-rl)
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
check "containers in the inventory" wait_for 5 known "$rl"

status_of() { tail -n 1 <<<"$1" | sed 's/^HTTP //'; }
body_of() { sed '$d' <<<"$1"; }
started_at() { docker inspect -f '{{.State.StartedAt}}' "$1"; }
running() { docker inspect -f '{{.State.Running}}' "$1"; }

# RESTART: 200, SUCCESS, a new StartedAt.
before=$(started_at "$web")
out=$(api_post "/api/containers/${web:0:12}/actions" '{"action":"RESTART","reason":"rolling restart for e2e"}')
check "RESTART answers 200" test "$(status_of "$out")" = 200
check "RESTART status SUCCESS" test "$(body_of "$out" | pyq 'd["status"]')" = SUCCESS
aid=$(body_of "$out" | pyq 'd["action_id"]')
check "RESTART gave a new StartedAt" test "$(started_at "$web")" != "$before"
check "RESTART's container runs" test "$(running "$web")" = true
st=$(api_get "/api/actions/$aid")
check "GET /api/actions shows SUCCESS, operator and reason" \
	test "$(pyq 'd["status"]+"|"+d["requested_by"]+"|"+d["reason"]' <<<"$st")" = "SUCCESS|alice|rolling restart for e2e"

# STOP then START, confirmed by dockerd; START of a running one is 304.
out=$(api_post "/api/containers/$web/actions" '{"action":"STOP","reason":"maintenance window"}')
check "STOP answers 200" test "$(status_of "$out")" = 200
check "STOP stopped it" test "$(running "$web")" = false
out=$(api_post "/api/containers/$web/actions" '{"action":"STOP","reason":"maintenance window again"}')
check "STOP of a stopped container is SUCCESS (dockerd 304)" \
	test "$(body_of "$out" | pyq 'str(d["status"])')" = SUCCESS
out=$(api_post "/api/containers/$web/actions" '{"action":"START","reason":"maintenance is over"}')
check "START answers 200" test "$(status_of "$out")" = 200
check "START started it" test "$(running "$web")" = true
out=$(api_post "/api/containers/$web/actions" '{"action":"START","reason":"start it once more"}')
check "START of a running container is SUCCESS (dockerd 304)" test "$(status_of "$out")" = 200
check "...with docker_status 304" test "$(api_get "/api/actions/$(body_of "$out" | pyq 'd["action_id"]')" | pyq 'd["docker_status"]')" = 304

# Denials, one per rule kind; each leaves the container untouched.
deny() { # NAME CONTAINER BODY USER WORDS
	local b a out
	b=$(started_at "$2"); a=$(running "$2")
	out=$(api_post "/api/containers/$2/actions" "$3" "$4")
	check "denied: $1 answers 403" test "$(status_of "$out")" = 403
	check "denied: $1 says why" grep -Eq -- "$5" <<<"$(body_of "$out" | pyq 'd.get("error") or ""')"
	check "denied: $1 left the container untouched" \
		test "$(started_at "$2")|$(running "$2")" = "$b|$a"
}
deny "action not listed" "$rl" '{"action":"STOP","reason":"not on the list"}' alice "not listed|no rule"
deny "name mismatch" "$other" '{"action":"RESTART","reason":"wrong name here"}' alice "does not match"
deny "label mismatch" "$nolabel" '{"action":"RESTART","reason":"wrong label here"}' alice 'tier'
deny "operator not listed" "$web" '{"action":"RESTART","reason":"bob may not do this"}' bob "operator"
deny "reason too short" "$web" '{"action":"RESTART","reason":"short"}' alice "reason"
docker stop "$rl" >/dev/null
out=$(api_post "/api/containers/$rl/actions" '{"action":"START","reason":"x"}'); docker stop "$rl" >/dev/null
out=$(api_post "/api/containers/$rl/actions" '{"action":"START","reason":"x"}'); docker stop "$rl" >/dev/null
deny "rate limit" "$rl" '{"action":"START","reason":"third in the window"}' alice "rate limit"

# The server restarts while the agent runs an action: the agent's result
# comes to the new server, which put the open action back from its audit
# log, so the result is still checked, recorded and reported.
out=$(api_post "/api/containers/${web:0:12}/actions?wait=0" '{"action":"RESTART","reason":"restart across a server restart"}')
check "wait=0 answers 202" test "$(status_of "$out")" = 202
rid=$(body_of "$out" | pyq 'd["action_id"]')
check "the agent got the action" wait_for 10 grep -q "action received: action_id=$rid" "$T_DIR/agent-web-01.log"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the server restarts" start_server
check "the restarted server put the open action back" grep -q "put back 1 action" "$T_DIR/server.log"
late_done() { api_get "/api/actions/$rid" | pyq 'd["status"]' | grep -qx SUCCESS; }
check "the result sent after the restart is accepted" wait_for 20 late_done
check "... and recorded by the new server" grep -q "\"event\":\"action.result\".*$rid" "$T_DIR/server-audit.log"
check "server.started counts the action put back" grep -q '"event":"server.started".*"actions_reloaded":1' "$T_DIR/server-audit.log"
check "an action that ended before the restart still shows how it ended" \
	test "$(api_get "/api/actions/$aid" | pyq 'd["status"]+"|"+d["requested_by"]+"|"+d["reason"]')" = "SUCCESS|alice|rolling restart for e2e"

# signetctl drives the same path and its exit code follows the answer.
export SIGNET_SERVER="https://localhost:$API_PORT" SIGNET_CA="$SIGNET_PKI/ca.pem"
export SIGNET_CERT="$SIGNET_PKI/issued/alice.pem" SIGNET_KEY="$SIGNET_PKI/private/alice.key"
check "signetctl action restart succeeds" quiet "$SIGNETCTL" action "${web:0:12}" restart --reason "via signetctl e2e"
check_fails_with "signetctl action denied exits non-zero" 'DENIED|403' \
	"$SIGNETCTL" action "${other:0:12}" restart --reason "denied via signetctl"

# Both logs verify, embedded envelopes included, and hold the story.
kill "$AGENT_PID" "$SERVER_PID"; wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null
K=$SIGNET_PKI/keys
out=$("$SIGNETCTL" audit verify "$T_DIR/server-audit.log" --key "$K/audit.pub" \
	--action-key "$K/action.pub" --agent-keys "$K/agents"); rc=$?
check "server audit log verifies with envelopes" test $rc -eq 0
check "server log: actions verified" grep -Eq '^actions: [1-9][0-9]* verified, 0 not checked' <<<"$out"
check "server log: results verified" grep -Eq '^results: [1-9][0-9]* verified, 0 not checked' <<<"$out"
out=$("$SIGNETCTL" audit verify "$T_DIR/agent-web-01-audit.log" --key "$K/agents/web-01.pub" \
	--action-key "$K/action.pub" --agent-keys "$K/agents"); rc=$?
check "agent audit log verifies with envelopes" test $rc -eq 0
check "agent log: actions verified" grep -Eq '^actions: [1-9][0-9]* verified, 0 not checked' <<<"$out"
check "server log holds the reason and operator" grep -q '"reason":"rolling restart for e2e".*"requested_by":"alice"\|"requested_by":"alice".*"reason":"rolling restart for e2e"' "$T_DIR/server-audit.log"
check "server log holds the result" grep -q "\"event\":\"action.result\".*$aid" "$T_DIR/server-audit.log"
check "agent log holds the execution" grep -q "\"event\":\"action.executed\".*$aid" "$T_DIR/agent-web-01-audit.log"
check "agent log holds the denials" grep -q '"event":"policy.denied"' "$T_DIR/agent-web-01-audit.log"
check "both audit logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/server-audit.log" "$T_DIR/agent-web-01-audit.log"
check "the logs anchor each other: every head names a line of the other log" \
	"$SIGNET_SOURCE_DIR/tests/integration/anchors.py" \
	"$T_DIR/server-audit.log" "$T_DIR/agent-web-01-audit.log"
docker rm -f "$web" "$other" "$nolabel" "$rl" >/dev/null
finish
