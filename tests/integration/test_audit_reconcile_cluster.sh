#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd postgres
# Issue 16, item 5 (docs/audit.md, "Reconciling"): `signetctl audit
# reconcile` over a cluster's logs, every part real. Two replicas r1 and
# r2 on the test suite's PostgreSQL, a real signet-agent on r1, the
# private dockerd: actions posted on r2 are relayed by r1 (action.relayed
# in r1's log, action.requested in r2's, action.result in both), one
# posted on r1 runs there. Reconciling both replicas' logs (one --server
# each) with the agent's finds no problem and says which replica
# requested, relayed and recorded each action; each replica's log copy
# then tampered with its own audit key (as a compromised replica could)
# is caught and named: a relayed action whose signed bytes differ, a
# relayed action requested nowhere, two replicas recording different
# results, one action requested in two replicas' logs, and a replica's
# log left out. An action posted on r2 for r1's agent carries r2's log
# head (server_head: r1's mirror of the host says its agent anchors), and
# reconcile checks it against r2's log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_need
need_docker
cd "$T_DIR" || exit 1

. "$(dirname "$0")/cluster_lib.sh"
cluster_init reconcile || { not_ok "database and PKI"; finish; exit 1; }

cluster_policy "relay-*"

conf r1
conf r2
start r1 || { not_ok "replica r1 started"; finish; exit 1; }
start r2 || { not_ok "replica r2 started"; finish; exit 1; }
check "r1 is up in the cluster" wait_for 60 metric_is r1 signet_cluster_up 1
check "r2 is up in the cluster" wait_for 60 metric_is r2 signet_cluster_up 1

AGENT_PORT=${HPORT[r1]}
write_agent_conf web-01 "$T_DIR/policy.json"
start_agent web-01
cid=$(docker run -d --network none --stop-timeout 1 --name "relay-rc-$$" \
	"$SIGNET_TEST_IMAGE" sleep 100000)
seen_on() { rget "$1" "/api/containers/$cid" 2>/dev/null | pyq 'd["host_id"]' | grep -qx web-01; }
check "r2 sees the container, on r1's host" wait_for 60 seen_on r2
check "r1 stored that web-01's agent anchors" \
	grep -q '"anchors":true' <<<"$(pg_sql "$DB" "SELECT info FROM signet_hosts WHERE host_id='web-01'")"

# Two actions posted on r2 (relayed by r1), one on r1 (its own host).
got=$(rpost r2 "/api/containers/$cid/actions" '{"action":"STOP","reason":"stop it from the other replica"}')
check "STOP on r2 answers 200" test "$got" = 200
aid=$(body 'd["action_id"]')
got=$(rpost r2 "/api/containers/$cid/actions" '{"action":"START","reason":"start it from the other replica"}')
check "START on r2 answers 200" test "$got" = 200
sid=$(body 'd["action_id"]')
got=$(rpost r1 "/api/containers/$cid/actions" '{"action":"RESTART","reason":"restart on the holder"}')
check "RESTART on r1 answers 200" test "$got" = 200
lid=$(body 'd["action_id"]')
check "r1's log: the STOP relayed" event_of r1 action.relayed "$aid"
check "r1's log: the START's result" event_of r1 action.result "$sid"
check "r2's log: the START's result" event_of r2 action.result "$sid"
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null
stop r1
stop r2
docker rm -f "$cid" >/dev/null

TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
SCHEMA="$SIGNET_SOURCE_DIR/tests/integration/reconcile_schema.py"
mkdir orig && cp r1-audit.log r2-audit.log agent-web-01-audit.log orig/
restore() { cp orig/* .; }

# ---- the anchors across replicas ----
# anchored ID LOG: the agent's action.received of ID carries server_head
# naming a line of LOG (its seq, the SHA-256 of its bytes): the head of
# the log of the replica that signed the action, relayed or not.
anchored() {
	python3 - agent-web-01-audit.log "$@" <<'PY'
import base64, hashlib, json, sys
agent, aid, log = sys.argv[1:4]
def payload(env):
    return json.loads(base64.b64decode(env["payload"]))
lines = {}
for raw in open(log, "rb"):
    line = raw.rstrip(b"\n")
    lines[json.loads(line)["seq"]] = hashlib.sha256(line).hexdigest()
heads = [payload(r["data"]["action"]).get("server_head")
         for r in map(json.loads, open(agent, "rb"))
         if r["event"] == "action.received" and r["data"].get("action_id") == aid]
if len(heads) != 1 or heads[0] is None:
    sys.exit(f"{aid}: the agent's action.received carries server_head {heads}")
seq, _, h = heads[0].partition(":")
if lines.get(int(seq)) != h:
    sys.exit(f"{aid}: server_head {heads[0]} names no line of {log}")
PY
}
# agent_headed LOG ID: LOG's action.result of ID holds a result whose
# payload carries agent_head (the answer to an action with server_head).
agent_headed() {
	python3 - "$@" <<'PY'
import base64, json, sys
log, aid = sys.argv[1:3]
got = [json.loads(base64.b64decode(r["data"]["result"]["payload"])).get("agent_head")
       for r in map(json.loads, open(log, "rb"))
       if r["event"] == "action.result" and r["data"].get("action_id") == aid]
if not got or None in got:
    sys.exit(f"{aid}: {log}'s action.result agent_head {got}")
PY
}
check "the STOP posted on r2, relayed by r1: the agent got r2's head" anchored "$aid" r2-audit.log
check "the START posted on r2, relayed by r1: the agent got r2's head" anchored "$sid" r2-audit.log
check "the RESTART posted on r1: the agent got r1's head" anchored "$lid" r1-audit.log
check "r2's result of the STOP carries the agent's head" agent_headed r2-audit.log "$aid"
check "r1's result of the STOP carries the agent's head" agent_headed r1-audit.log "$aid"
rc() {
	"$SIGNETCTL" audit reconcile --server r1-audit.log --server r2-audit.log \
		--agent agent-web-01-audit.log --key "$K/audit.pub" \
		--agent-keys "$K/agents" --action-key "$K/action.pub" "$@"
}
kinds() {
	python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["summary"]["problems_by_kind"])))'
}
# expect NAME KINDS [ARGS...]: reconcile (rc, or ARGS given) finds KINDS.
expect() {
	local name=$1 want=$2 out code=0 wantcode=1
	shift 2
	[ -z "$want" ] && wantcode=0
	if [ $# -gt 0 ]; then out=$("$@" -o json) || code=$?; else out=$(rc -o json) || code=$?; fi
	check "$name: exit $wantcode" test "$code" -eq "$wantcode"
	check "$name: report valid" "$SCHEMA" - <<<"$out"
	check "$name: kinds \"$want\"" test "$(kinds <<<"$out")" = "$want"
	[ "$(kinds <<<"$out")" = "$want" ] || rc | grep -v '^ok ' | head -20
}
# has EXPR: the list EXPR over the JSON on stdin is not empty.
has() { [ "$(pyq "$1")" != "[]" ]; }
# line_of LOG EVENT ID: the line number of LOG's EVENT record of ID.
line_of() { grep -n "\"event\":\"$2\".*\"action_id\":\"$3\"" "$1" | head -1 | cut -d: -f1; }

# ---- the clean cluster ----
expect "both replicas and the agent" ""
out=$(rc)
check "every action accounted for" grep -q '^actions: 3, ok: 3, with problems: 0$' <<<"$out"
check "each replica's log is named" grep -q '^log server r2: ' <<<"$out"
check "the STOP: requested on r2, relayed by r1, results in both" \
	grep -Eq "^ok $aid web-01 STOP [^ ]+ by [^ ]+ \([^)]*\) \[requested r2; relayed r1; results r1,r2\]: server result SUCCESS, host allowed SUCCESS" <<<"$out"
check "the RESTART: r1's own" \
	grep -Eq "^ok $lid web-01 RESTART .*\[requested r1; relayed -; results r1\]" <<<"$out"
rc -o json >clean.json
check "JSON: the START's replicas" test "$(pyq "[a['replicas'] for a in d['actions'] if a['action_id']=='$sid'][0]" <clean.json)" = \
	'{"requested": ["r2"], "relayed": ["r1"], "results": ["r1", "r2"]}'
check "JSON: each server log's replica" test "$(pyq "[l.get('replica') for l in d['summary']['logs']]" <clean.json)" = '["r1", "r2", null]'
rc -o html --out clean.html
check "HTML: which replica relayed" grep -q 'Relayed by replica' clean.html
check "HTML: each server log's replica" grep -q 'replica <code>r2</code>' clean.html
# --key repeated: a replica with a key of its own (here another key first).
rck() {
	"$SIGNETCTL" audit reconcile --server r1-audit.log --server r2-audit.log \
		--agent agent-web-01-audit.log --agent-keys "$K/agents" \
		--action-key "$K/action.pub" "$@"
}
expect "--key repeated, the right one second" "" rck --key "$K/agents/web-01.pub" --key "$K/audit.pub"
expect "--key repeated, neither right" "log_invalid" rck --key "$K/agents/web-01.pub" --key "$K/action.pub"
"$SIGNETCTL" audit reconcile --server r1-audit.log --agent agent-web-01-audit.log \
	--key "$K/audit.pub" --agent-keys "$K/agents" --action-key "$K/action.pub" \
	-o json --out one.json || true
check "a single --server: its actions carry no replicas" test "$(pyq "[a for a in d['actions'] if 'replicas' in a]" <one.json)" = "[]"

# A checkpoint of r2's log is checked against r2's log (its origin
# names the replica), one of r1's origin over r2's records does not hold.
check "a checkpoint of r2's log" "$TOOL" checkpoint r2-audit.log "$K/audit.key" \
	signet/server/localhost/r2 all cp-r2.note
check "a checkpoint under r1's origin of r2's records" "$TOOL" checkpoint \
	r2-audit.log "$K/audit.key" signet/server/localhost/r1 all cp-r1.note
out=$(rc --checkpoint cp-r2.note) && code=0 || code=$?
check "r2's checkpoint holds over r2's log: exit 0" test "$code" -eq 0
check "  said so" grep -q '^checkpoint signet/server/localhost/r2 .*: holds' <<<"$out"
out=$(rc --checkpoint cp-r1.note) && code=0 || code=$?
check "r2's records under r1's origin: exit 1" test "$code" -eq 1
check "  checked against r1's log" grep -q 'FAILED: checkpoint' <<<"$out"

# ---- a replica's log left out ----
# Without r2's: r1 relayed actions no log given requests, and the agent
# ran them; the heads the agent names of r2's log are not in r1's.
out=$("$SIGNETCTL" audit reconcile --server r1-audit.log --agent agent-web-01-audit.log \
	--key "$K/audit.pub" --agent-keys "$K/agents" --action-key "$K/action.pub") && code=0 || code=$?
check "r2's log left out: exit 1" test "$code" -eq 1
check "r2's log left out: the STOP unexplained" \
	grep -q "^PROBLEM $aid web-01 STOP .*not_requested (relayed by r1 (its log, seq [0-9]*, from origin r2)" <<<"$out"
check "r2's log left out: the head of r2's log the agent names is not in r1's" \
	grep -q "^PROBLEM $aid web-01 STOP .*foreign_head_mismatch" <<<"$out"
# Without r1's: the agent ran r1's RESTART, which no log given requests,
# and the head of r1's log it names is not in the one server log given.
expect "r1's log left out" "foreign_head_mismatch,not_requested" \
	"$SIGNETCTL" audit reconcile --server r2-audit.log \
	--agent agent-web-01-audit.log --key "$K/audit.pub" --agent-keys "$K/agents" \
	--action-key "$K/action.pub"

# ---- the agent's anchor checked against the replica that signed ----
# r1's key re-writes its log from line 2 (line 1 twice): the head of
# r1's log that r1's RESTART names (server_head) is no longer there.
{ head -n 1 orig/r1-audit.log; cat orig/r1-audit.log; } >r1-audit.log
check "re-chain r1's log from line 2" "$TOOL" rechain r1-audit.log "$K/audit.key" 2
expect "r1's log shifted under the agent's anchor" "foreign_head_mismatch"
out=$(rc -o json) || true
check "  named against r1's log, for r1's RESTART" \
	has "[p for a in d['actions'] if a['action_id']=='$lid' for p in a['problems'] if p['kind']=='foreign_head_mismatch' and 'replica r1' in p['detail']]" <<<"$out"
restore

# ---- a relayed action whose signed bytes differ ----
# r1's key rewrites its action.relayed of the STOP with the START's
# signed action (genuinely signed by the action key, for another id).
a=$(line_of r1-audit.log action.relayed "$aid")
b=$(line_of r1-audit.log action.relayed "$sid")
python3 - "$a" "$b" <<'PY'
import json, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
lines = open("r1-audit.log").read().splitlines()
ra, rb = json.loads(lines[a - 1]), json.loads(lines[b - 1])
ra["data"]["action"] = rb["data"]["action"]
ra["data"]["request_sha256"] = rb["data"]["request_sha256"]
lines[a - 1] = json.dumps(ra, separators=(",", ":"))
open("r1-audit.log", "w").write("\n".join(lines) + "\n")
PY
check "re-chain r1's log from line $a" "$TOOL" rechain r1-audit.log "$K/audit.key" "$a"
out=$(rc -o json) || true
check "a relayed action with other bytes: action_differs" \
	test "$(pyq "[p['kind'] for a in d['actions'] if a['action_id']=='$aid' for p in a['problems']]" <<<"$out" | grep -c action_differs)" = 1
check "  named with r1 and r2" has "[p for a in d['actions'] if a['action_id']=='$aid' for p in a['problems'] if p['kind']=='action_differs' and 'r1 relayed' in p['detail'] and 'r2 requested' in p['detail']]" <<<"$out"
code=0; rc >/dev/null || code=$?
check "  exit 1" test "$code" -eq 1
restore

# ---- a relayed action requested nowhere ----
# r2's key drops its records of the STOP (requested and result). The
# START that r1 relayed names (server_head) a line of r2's log from
# before the rewrite: the agent's log catches it too.
n=$(grep -n "\"action_id\":\"$aid\"" r2-audit.log | head -1 | cut -d: -f1)
grep -v "\"action_id\":\"$aid\"" orig/r2-audit.log >r2-audit.log
check "re-chain r2's log from line $n" "$TOOL" rechain r2-audit.log "$K/audit.key" "$n"
check "the rewritten r2 log verifies alone" "$SIGNETCTL" audit verify r2-audit.log \
	--key "$K/audit.pub" --action-key "$K/action.pub" --agent-keys "$K/agents"
expect "a relayed action requested nowhere" "foreign_head_mismatch,not_requested"
out=$(rc) || true
check "  the relay named" grep -q "^PROBLEM $aid web-01 STOP .*not_requested (relayed by r1 (its log, seq [0-9]*, from origin r2) but no action.requested in any server log given" <<<"$out"
check "  r2's rewrite under the relayed START's anchor named" \
	grep -q "^PROBLEM $sid web-01 START .*foreign_head_mismatch (the agent log of web-01 (seq [0-9]*) names the log of replica r2's head" <<<"$out"
restore

# ---- two replicas recording different results ----
# r1's key swaps its results of the STOP and the START (both genuinely
# signed by web-01): r2's results are the agent's.
a=$(line_of r1-audit.log action.result "$aid")
b=$(line_of r1-audit.log action.result "$sid")
python3 - "$a" "$b" <<'PY'
import json, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
lines = open("r1-audit.log").read().splitlines()
ra, rb = json.loads(lines[a - 1]), json.loads(lines[b - 1])
for k in ("result", "status", "docker_status"):
    ra["data"][k], rb["data"][k] = rb["data"].get(k), ra["data"].get(k)
lines[a - 1] = json.dumps(ra, separators=(",", ":"))
lines[b - 1] = json.dumps(rb, separators=(",", ":"))
open("r1-audit.log", "w").write("\n".join(lines) + "\n")
PY
check "re-chain r1's log from line $a" "$TOOL" rechain r1-audit.log "$K/audit.key" "$a"
out=$(rc -o json) || true
check "different results: result_differs for the STOP" \
	has "[p for a in d['actions'] if a['action_id']=='$aid' for p in a['problems'] if p['kind']=='result_differs' and 'r1 recorded the result' in p['detail'] and 'r2 recorded' in p['detail']]" <<<"$out"
check "  and for the START" \
	has "[p for a in d['actions'] if a['action_id']=='$sid' for p in a['problems'] if p['kind']=='result_differs']" <<<"$out"
check "  report valid" "$SCHEMA" - <<<"$out"
restore

# ---- one action requested in two replicas' logs ----
# r1's key appends r2's action.requested of the STOP to r1's log (the
# first --server's request is the one the others are held to).
grep "\"event\":\"action.requested\".*\"action_id\":\"$aid\"" orig/r2-audit.log >>r1-audit.log
n=$(grep -c . r1-audit.log)
check "re-chain r1's log from line $n" "$TOOL" rechain r1-audit.log "$K/audit.key" "$n"
out=$(rc -o json) || true
check "requested twice: requested_twice" \
	has "[p for a in d['actions'] if a['action_id']=='$aid' for p in a['problems'] if p['kind']=='requested_twice']" <<<"$out"
check "  both replicas listed as requesting" \
	test "$(pyq "[a['replicas']['requested'] for a in d['actions'] if a['action_id']=='$aid'][0]" <<<"$out")" = '["r1", "r2"]'
check "  report valid" "$SCHEMA" - <<<"$out"
restore
finish
