#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 14, item 1, with every real part: a real signet-server, a real
# signet-agent against the private dockerd (one dockerd: a second agent
# would see the same containers), certificates from pki/signet-pki. A
# mixed workload — successes, a policy denial, a four-eyes request
# approved at the server, the agent killed while dockerd stops a container
# (UNKNOWN, then its outcome), the server restarted while an action runs,
# an action that never reaches its host (frozen, then killed: timeout) —
# and `signetctl audit reconcile` finds no problem, its JSON valid against
# docs/schema. Then each
# tampering is caught and named: a line deleted from an agent log
# (re-chained and re-signed with the agent's result key, as a stolen agent
# could), an action injected into an agent log (re-signed likewise), the
# server's log rewritten consistently from a point with its own key (an
# action dropped; an approval dropped), a result swapped. The rosters are
# given, so the four-eyes request and its approval are checked too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
SCHEMA="$SIGNET_SOURCE_DIR/tests/integration/reconcile_schema.py"
cd "$T_DIR" || exit 1

make_pki || { not_ok "PKI"; finish; exit 1; }
"$PKI_SCRIPT" operator bob >/dev/null
check "alice enrolled (sre)" enroll alice sre
check "bob enrolled (dba)" enroll bob dba
check "roster signed" quiet "$PKI_SCRIPT" roster sign
write_server_conf
add_server_roster
h="web-01"
cat >"$T_DIR/policy-$h.json" <<JSON
{ "host_id": "$h",
  "rules": [ { "match": { "name": "rc-$h-4eyes" }, "actions": ["STOP"],
               "approvals": [ { "group": "dba", "count": 1 } ],
               "approval_wait": 600 },
             { "match": { "name": "rc-$h-*" },
               "actions": ["START", "STOP", "RESTART"],
               "accept_relay_signed": true, "operators": ["alice"],
               "min_reason_length": 10 } ] }
JSON
chmod 0644 "$T_DIR/policy-$h.json"
write_agent_conf "$h" "$T_DIR/policy-$h.json"
add_agent_roster "$h"
sed -i 's/^stop_timeout  = 1$/stop_timeout  = 3/' "$T_DIR/agent-web-01.conf"
check "server starts" start_server
start_agent web-01; WEB_PID=$AGENT_PID
connected() { api_get /api/hosts | pyq '[h["host_id"] for h in d["hosts"] if h["connected"]]' | grep -q "$1"; }
check "web-01 connects" wait_for 10 connected web-01

mk() { docker run -d --network none --stop-timeout 1 --name "$1" "$SIGNET_TEST_IMAGE" sleep 100000; }
web=$(mk "rc-web-01-a")
slow=$(mk "rc-web-01-slow")
db=$(mk "rc-web-01-b")
eyes=$(mk "rc-web-01-4eyes")
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
check "containers in the inventory" wait_for 10 known "$db"
status_of() { tail -n 1 <<<"$1" | sed 's/^HTTP //'; }
body_of() { sed '$d' <<<"$1"; }
act() { api_post "/api/containers/$1/actions${3:-}" "$2"; }

# Successes.
out=$(act "$web" '{"action":"RESTART","reason":"rolling restart for reconcile"}')
check "RESTART web succeeds" test "$(status_of "$out")" = 200
out=$(act "$db" '{"action":"STOP","reason":"maintenance for reconcile"}')
check "STOP db succeeds" test "$(status_of "$out")" = 200
out=$(act "$db" '{"action":"START","reason":"maintenance is over now"}')
check "START db succeeds" test "$(status_of "$out")" = 200
# A policy denial.
out=$(act "$web" '{"action":"RESTART","reason":"short"}')
check "a short reason is denied" test "$(status_of "$out")" = 403

# Four eyes: alice's signed STOP waits for bob's approval, then runs.
shares() { grep -q "agent web-01 shares its policy" "$T_DIR/server.log"; }
check "web-01 shares its policy" wait_for 10 shares
ctl() {
	local user=$1; shift
	"$SIGNETCTL" --server "https://localhost:$API_PORT" --ca "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/$user.pem" --key "$SIGNET_PKI/private/$user.key" "$@"
}
out=$(ctl alice action "${eyes:0:12}" stop --reason "four eyes for reconcile" \
	--valid 600 --signing-key "$T_DIR/alice.key" 2>&1)
check "the signed STOP waits" grep -q '^status: *AWAITING_APPROVAL' <<<"$out"
eid=$(sed -n 's/^action_id: *//p' <<<"$out")
out=$(ctl bob approve "$eid" --signing-key "$T_DIR/bob.key" --wait 60 2>&1)
check "bob approves: relayed and run" grep -q '^status: *SUCCESS' <<<"$out"

# The agent killed while dockerd stops a container: UNKNOWN, its outcome.
out=$(act "$slow" '{"action":"STOP","reason":"drain and stop slowly"}' '?wait=0')
sid=$(body_of "$out" | pyq 'd["action_id"]')
check "the slow STOP was dispatched" wait_for 10 grep -q "\"event\":\"action.dispatched\".*$sid" "$T_DIR/agent-web-01-audit.log"
kill -9 "$WEB_PID"; wait "$WEB_PID" 2>/dev/null
start_agent web-01; WEB_PID=$AGENT_PID
check "web-01 back after kill -9" wait_for 15 connected web-01
check "the killed action's outcome reaches the server" \
	wait_for 30 grep -q "\"event\":\"action.outcome\".*$sid" "$T_DIR/server-audit.log"

# The server restarted while an action runs.
out=$(act "$web" '{"action":"RESTART","reason":"restart across a server restart"}' '?wait=0')
rid=$(body_of "$out" | pyq 'd["action_id"]')
check "web-01 got it" wait_for 10 grep -q "\"event\":\"action.received\".*$rid" "$T_DIR/agent-web-01-audit.log"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the server restarts" start_server
check "its result reaches the new server" \
	wait_for 30 grep -q "\"event\":\"action.result\".*$rid" "$T_DIR/server-audit.log"
check "web-01 reconnects" wait_for 20 connected web-01

# An action that never reaches its host: web-01 frozen, then killed.
kill -STOP "$WEB_PID"
out=$(act "$db" '{"action":"RESTART","reason":"to a frozen host, never run"}' '?wait=1')
tid=$(body_of "$out" | pyq 'd.get("action_id","")')
check "the server ends it (timeout or undelivered)" \
	wait_for 90 grep -Eq "\"event\":\"action.(timeout|undelivered)\".*$tid" "$T_DIR/server-audit.log"
kill -9 "$WEB_PID"; wait "$WEB_PID" 2>/dev/null
check "web-01 never recorded it" sh -c "! grep -q '$tid' '$T_DIR/agent-web-01-audit.log'"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
docker rm -f "$web" "$slow" "$db" "$eyes" >/dev/null

K=$SIGNET_PKI/keys
mkdir orig && cp server-audit.log agent-web-01-audit.log orig/
rc() {
	"$SIGNETCTL" audit reconcile --server server-audit.log \
		--agent agent-web-01-audit.log \
		--key "$K/audit.pub" --agent-keys "$K/agents" \
		--action-key "$K/action.pub" --roster "$SIGNET_PKI/roster/roster.json" \
		--roster-keys "$SIGNET_PKI/roster/pinned.pub" "$@"
}
restore() { cp orig/* .; }
kinds() {
	python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["summary"]["problems_by_kind"])))'
}
expect() {
	local name=$1 want=$2 out code=0 wantcode=1
	[ -z "$want" ] && wantcode=0
	out=$(rc -o json) || code=$?
	check "$name: exit $wantcode" test "$code" -eq "$wantcode"
	check "$name: report valid" "$SCHEMA" - <<<"$out"
	check "$name: kinds \"$want\"" test "$(kinds <<<"$out")" = "$want"
	[ "$(kinds <<<"$out")" = "$want" ] || rc | grep -v '^ok ' | head -20
}

expect "the real logs" ""
out=$(rc)
check "every action accounted for" grep -q '^actions: 8, ok: 8, with problems: 0$' <<<"$out"
check "the four-eyes action is there" grep -Eq "^ok $eid web-01 STOP rc-web-01-4eyes by alice \(verified\): server result SUCCESS, host allowed SUCCESS" <<<"$out"
check "the denial is there" grep -Eq "^ok [0-9a-f]{32} web-01 RESTART rc-web-01-a by alice \(server-asserted\): server result DENIED, host denied" <<<"$out"
check "the killed agent's action is there" grep -Eq "^ok $sid web-01 STOP rc-web-01-slow by alice \(server-asserted\): server (result UNKNOWN|outcome)" <<<"$out"
check "the never-delivered action is there" grep -Eq "^ok $tid web-01 RESTART [^ ]+ by alice \(server-asserted\): server (timeout|undelivered)" <<<"$out"

# A stolen web-01 key: the restart's action.executed deleted, re-signed.
n=$(grep -n "\"event\":\"action.executed\".*$rid" agent-web-01-audit.log | cut -d: -f1)
sed -i "${n}d" agent-web-01-audit.log
check "re-chain web-01's log from line $n" "$TOOL" rechain agent-web-01-audit.log "$K/agents/web-01.key" "$n"
check "the re-signed log verifies alone" "$SIGNETCTL" audit verify agent-web-01-audit.log \
	--key "$K/agents/web-01.pub" --action-key "$K/action.pub" --agent-keys "$K/agents"
expect "an agent line deleted, re-signed" "agent_log_short"
out=$(rc) || true
check "named with its action" grep -q "^PROBLEM $rid web-01 RESTART rc-web-01-a by alice (server-asserted): agent_log_short" <<<"$out"
restore

# A stolen web-01 key: an action it never got, "executed" and re-signed.
id=00112233445566778899aabbccddeeff
zeros=0000000000000000000000000000000000000000000000000000000000000000
cid=$(sed -n 's/.*"event":"action.executed".*"container_id":"\([0-9a-f]\{64\}\)".*/\1/p' agent-web-01-audit.log | head -1)
env=$("$TOOL" sign-result "$K/agents/web-01.key" "{\"v\":1,\"action_id\":\"$id\",\"host_id\":\"web-01\",\"container_id\":\"$cid\",\"action\":\"STOP\",\"status\":\"SUCCESS\",\"error\":null,\"docker_status\":204,\"started_at\":1,\"finished_at\":2,\"request_sha256\":\"$zeros\"}")
n=$(grep -c . agent-web-01-audit.log)
echo "{\"seq\":0,\"ts\":1,\"prev\":\"$zeros\",\"event\":\"action.executed\",\"actor\":\"agent\",\"data\":{\"host_id\":\"web-01\",\"action_id\":\"$id\",\"expires_at\":99,\"container_id\":\"$cid\",\"action_name\":\"STOP\",\"status\":\"SUCCESS\",\"docker_status\":204,\"error\":null,\"duration_ms\":1,\"result\":$env},\"sig\":\"x\"}" >>agent-web-01-audit.log
check "re-chain web-01's log from line $((n + 1))" "$TOOL" rechain agent-web-01-audit.log "$K/agents/web-01.key" "$((n + 1))"
expect "an action injected into an agent log" "not_requested"
restore

# The server rewrites its log from the first successful RESTART on, with
# its own key: that action's requested and result records dropped.
aid=$(sed -n 's/.*"event":"action.requested".*"action_id":"\([0-9a-f]\{32\}\)".*/\1/p' server-audit.log | head -1)
n=$(grep -n "\"action_id\":\"$aid\"" server-audit.log | head -1 | cut -d: -f1)
grep -v "\"action_id\":\"$aid\"" orig/server-audit.log >server-audit.log
check "re-chain the server log from line $n" "$TOOL" rechain server-audit.log "$K/audit.key" "$n"
check "the rewritten server log verifies alone" "$SIGNETCTL" audit verify server-audit.log \
	--key "$K/audit.pub" --action-key "$K/action.pub" --agent-keys "$K/agents"
# The agent's records name the server's heads: the rewrite shows there too.
expect "the server log rewritten" "foreign_head_mismatch,not_requested"
restore

# A result swapped: the two first recorded results (both genuinely signed
# by web-01) trade places, the log re-signed from the first.
a=$(grep -n '"event":"action.result"' server-audit.log | sed -n 1p | cut -d: -f1)
b=$(grep -n '"event":"action.result"' server-audit.log | sed -n 2p | cut -d: -f1)
python3 - "$a" "$b" <<'PY'
import json, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
lines = open("server-audit.log").read().splitlines()
ra, rb = json.loads(lines[a - 1]), json.loads(lines[b - 1])
ra["data"]["result"], rb["data"]["result"] = rb["data"]["result"], ra["data"]["result"]
lines[a - 1] = json.dumps(ra, separators=(",", ":"))
lines[b - 1] = json.dumps(rb, separators=(",", ":"))
open("server-audit.log", "w").write("\n".join(lines) + "\n")
PY
check "re-chain the server log from line $a" "$TOOL" rechain server-audit.log "$K/audit.key" "$a"
expect "a result swapped" "foreign_head_mismatch,log_invalid,result_differs"
restore

# The server's log rewritten without bob's approval: the host's signed
# action still carries it.
n=$(grep -n "\"event\":\"action.approved\".*$eid" server-audit.log | cut -d: -f1)
sed -i "${n}d" server-audit.log
check "re-chain the server log from line $n" "$TOOL" rechain server-audit.log "$K/audit.key" "$n"
expect "an approval removed from the server log" "approvals_differ,foreign_head_mismatch"
restore

# The host's log left out: said once, its actions unchecked.
out=$("$SIGNETCTL" audit reconcile --server server-audit.log \
	--key "$K/audit.pub" --agent-keys "$K/agents" --action-key "$K/action.pub") && code=0 || code=$?
check "web-01's log missing: exit 1" test "$code" -eq 1
check "web-01's log missing: said once" test "$(grep -c '^host_log_missing web-01' <<<"$out")" -eq 1
finish
