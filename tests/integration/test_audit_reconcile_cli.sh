#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# signetctl audit reconcile on consistent, really signed logs that
# audit_tool gen writes (one server, three agents): no problem; then each
# tampering a holder of one key could make — a line deleted from an agent
# log and the log re-chained and re-signed with the agent's key, an
# action.executed injected the same way, the server's log rewritten
# consistently with its own key (an action.requested and its result
# dropped; a result's status swapped), a line deleted without re-signing,
# an agent log cut short — is caught and named. The JSON report is
# checked against docs/schema/reconcile.schema.json each time.
. "$(dirname "$0")/lib.sh"
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
SCHEMA="$SIGNET_SOURCE_DIR/tests/integration/reconcile_schema.py"
cd "$T_DIR" || exit 1

check "generate 3 hosts, 60 actions" "$TOOL" gen g 3 60
cd g || exit 1
cp -r logs logs.orig && cp server.log server.orig

rc() {
	"$SIGNETCTL" audit reconcile --server server.log \
		--agent logs/host-000.log --agent logs/host-001.log \
		--agent logs/host-002.log --key keys/audit.pub \
		--agent-keys agents --action-key keys/action.pub "$@"
}
restore() { cp logs.orig/* logs/ && cp server.orig server.log; }
# kinds: the sorted problem kinds of a JSON report on stdin.
kinds() {
	python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["summary"]["problems_by_kind"])))'
}
# expect NAME KINDS: reconcile exits 1 (0 when KINDS is empty), its JSON
# report is valid and names exactly KINDS.
expect() {
	local name=$1 want=$2 out code=0 wantcode=1
	[ -z "$want" ] && wantcode=0
	out=$(rc -o json) || code=$?
	check "$name: exit $wantcode" test "$code" -eq "$wantcode"
	check "$name: report valid" "$SCHEMA" - <<<"$out"
	check "$name: kinds \"$want\"" test "$(kinds <<<"$out")" = "$want"
}

expect "untouched logs" ""
out=$(rc)
check "text: summary first" grep -q '^actions: 60, ok: 60, with problems: 0$' <<<"$out"
check "text: one line per action" test "$(grep -c '^ok [0-9a-f]\{32\} host-' <<<"$out")" -eq 60
check "the server log is named verified" grep -q '^log server: 1 file(s), 120 records, head 119:[0-9a-f]\{64\}: verified$' <<<"$out"
mkdir d0 && cp logs/host-000.log d0/audit.log
check "a directory is one host's log" \
	"$SIGNETCTL" audit reconcile --server server.log --agent d0 \
	--agent logs/host-001.log --agent logs/host-002.log --key keys/audit.pub \
	--agent-keys agents --action-key keys/action.pub
# A rotated log in its directory: audit.log.FIRST-LAST, then audit.log.
mkdir d1 && chmod 0700 d1 && cp logs/host-001.log d1/audit.log && chmod 0600 d1/audit.log
check "rotate host-001's log" "$TOOL" rotate d1/audit.log agents/host-001.key
check "two files now" test "$(find d1 -name 'audit.log*' | wc -l)" -eq 2
out=$("$SIGNETCTL" audit reconcile --server server.log --agent logs/host-000.log \
	--agent d1 --agent logs/host-002.log --key keys/audit.pub \
	--agent-keys agents --action-key keys/action.pub)
check "a rotated log in a directory reconciles" test $? -eq 0
check "...as one log of two files" grep -q '^log agent host-001: 2 file(s), 62 records' <<<"$out"
check_fails_with "two logs of one host refused" "two logs of host" \
	rc --agent logs/host-000.log
check_fails_with "usage: --server missing" "--server FILE... is required" \
	"$SIGNETCTL" audit reconcile --agent logs/host-000.log --key keys/audit.pub
rc -o html --out report.html
check "-o html writes the report (exit 0: no problem)" test $? -eq 0
check "... one HTML document" grep -q '^<!DOCTYPE html>' report.html
check "... that says the logs agree" grep -q 'Actions in agreement' report.html
check_fails_with "unknown -o" "give text, json or html" rc -o yaml
check_fails_with "unreadable server log" "server.nope" \
	"$SIGNETCTL" audit reconcile --server server.nope --key keys/audit.pub \
	--agent-keys agents --action-key keys/action.pub
"$SIGNETCTL" audit reconcile --server server.nope --key keys/audit.pub \
	--agent-keys agents --action-key keys/action.pub 2>/dev/null
check "an unreadable log exits 2" test $? -eq 2
TMPDIR=/nonexistent rc >/dev/null 2>&1
check "no temporary directory: exit 2" test $? -eq 2
check_fails_with "missing host key" "the result key of host host-001" \
	"$SIGNETCTL" audit reconcile --server server.log --agent logs/host-001.log \
	--key keys/audit.pub --agent-keys keys --action-key keys/action.pub

# A stolen agent key: action.executed deleted, log re-chained and re-signed.
n=$(grep -n '"event":"action.executed"' logs/host-000.log | sed -n 3p | cut -d: -f1)
sed -i "${n}d" logs/host-000.log
check "re-chain host-000 from line $n" "$TOOL" rechain logs/host-000.log agents/host-000.key "$n"
check "the re-signed agent log verifies alone" "$SIGNETCTL" audit verify logs/host-000.log \
	--key agents/host-000.pub --action-key keys/action.pub --agent-keys agents
expect "executed deleted, re-signed" "agent_log_short"
out=$(rc) || true
check "named in its line" grep -q '^PROBLEM [0-9a-f]\{32\} host-000 RESTART web by alice (server-asserted): agent_log_short (the server holds a result host-000 signed' <<<"$out"
check "problems first" test "$(grep -m1 -E '^(ok|PROBLEM) ' <<<"$out" | cut -c1-7)" = "PROBLEM"
restore

# A stolen agent key: an action it never got, "executed" and re-signed.
id=00112233445566778899aabbccddeeff
zeros=0000000000000000000000000000000000000000000000000000000000000000
cid=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
env=$("$TOOL" sign-result agents/host-001.key "{\"v\":1,\"action_id\":\"$id\",\"host_id\":\"host-001\",\"container_id\":\"$cid\",\"action\":\"STOP\",\"status\":\"SUCCESS\",\"error\":null,\"docker_status\":204,\"started_at\":1,\"finished_at\":2,\"request_sha256\":\"$zeros\"}")
line="{\"seq\":0,\"ts\":1,\"prev\":\"$zeros\",\"event\":\"action.executed\",\"actor\":\"agent\",\"data\":{\"host_id\":\"host-001\",\"action_id\":\"$id\",\"expires_at\":99,\"container_id\":\"$cid\",\"action_name\":\"STOP\",\"status\":\"SUCCESS\",\"docker_status\":204,\"error\":null,\"duration_ms\":1,\"result\":$env},\"sig\":\"x\"}"
sed -i "10a\\$line" logs/host-001.log
check "re-chain host-001 from line 11" "$TOOL" rechain logs/host-001.log agents/host-001.key 11
expect "action injected, re-signed" "not_requested"
restore

# The server rewrites its log from an action on, with its own key: the
# action.requested and action.result of one action dropped.
id=$(sed -n '5s/.*"action_id":"\([0-9a-f]*\)".*/\1/p' server.log)
n=$(grep -n "\"action_id\":\"$id\"" server.log | head -1 | cut -d: -f1)
grep -v "\"action_id\":\"$id\"" server.orig >server.log
check "re-chain the server log from line $n" "$TOOL" rechain server.log keys/audit.key "$n"
check "the rewritten server log verifies alone" "$SIGNETCTL" audit verify server.log \
	--key keys/audit.pub --action-key keys/action.pub --agent-keys agents
expect "server log rewritten: an action dropped" "not_requested"
restore

# The server swaps a result's status and re-signs from there: its own
# verification fails (the record is not the signed result) and the
# result is named against the agent's.
n=$(grep -n '"event":"action.result"' server.log | sed -n 7p | cut -d: -f1)
sed -i "${n}s/\"status\":\"SUCCESS\"/\"status\":\"FAILURE\"/" server.log
check "re-chain the server log from line $n" "$TOOL" rechain server.log keys/audit.key "$n"
expect "result swapped" "log_invalid,result_differs"
restore

# The server holds another genuine result of host-002 for an action:
# result envelope of action A recorded for action B is refused by the
# tie (log_invalid); an envelope of A recorded twice shows too.
a=$(grep -n '"event":"action.result"' server.log | grep host-002 | sed -n 1p | cut -d: -f1)
b=$(grep -n '"event":"action.result"' server.log | grep host-002 | sed -n 2p | cut -d: -f1)
python3 - "$a" "$b" <<'PY'
import json, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
lines = open("server.log").read().splitlines()
ra, rb = json.loads(lines[a - 1]), json.loads(lines[b - 1])
rb["data"]["result"] = ra["data"]["result"]
lines[b - 1] = json.dumps(rb, separators=(",", ":"))
open("server.log", "w").write("\n".join(lines) + "\n")
PY
check "re-chain the server log from line $b" "$TOOL" rechain server.log keys/audit.key "$b"
expect "another action's result recorded" "log_invalid,result_differs"
restore

# A line deleted and not re-signed: the chain breaks there.
sed -i 20d logs/host-002.log
expect "line deleted, not re-signed" "log_invalid"
out=$(rc) || true
check "the bad file and line named" grep -q 'logs/host-002.log:20: seq is 20 where 19 was expected' <<<"$out"
restore

# An agent log cut short (an older copy): the server's later results.
head -n 30 logs.orig/host-001.log >logs/host-001.log
expect "agent log cut short" "agent_log_short"
restore

# A host whose log is not given: said once, not per action.
out=$("$SIGNETCTL" audit reconcile --server server.log --agent logs/host-000.log \
	--agent logs/host-001.log --key keys/audit.pub --agent-keys agents \
	--action-key keys/action.pub) && code=0 || code=$?
check "a missing host log exits 1" test "$code" -eq 1
check "said once" test "$(grep -c 'host_log_missing host-002' <<<"$out")" -eq 1
check "its actions are not problems" grep -q '^actions: 60, ok: 60, with problems: 0$' <<<"$out"

# Checkpoints: each checked against the log its origin names, witnesses
# reported; a log rewritten after its checkpoint fails it.
"$SIGNETCTL" keygen --raw wit >/dev/null
"$SIGNETCTL" audit witness-key --signing-key wit.key --name wit >wit.vkey
n=$(grep -c . server.log)
check "a checkpoint of the server's log" "$TOOL" checkpoint server.log keys/audit.key \
	signet/server/relay-1 "$n" cp-server
check "a checkpoint of host-001's log" "$TOOL" checkpoint logs/host-001.log \
	agents/host-001.key signet/agent/host-001 30 cp-agent
check "the witness cosigns the server's" quiet "$SIGNETCTL" audit witness \
	--signing-key wit.key --name wit --state wst --log-key keys/audit.pub \
	--checkpoint cp-server --no-submit --out cp-server.cosigned
out=$(rc --checkpoint cp-server.cosigned --checkpoint cp-agent --witness-key wit.vkey)
check "checkpoints that hold: exit 0" test $? -eq 0
check "... the server's witnessed" grep -q "^checkpoint signet/server/relay-1 $n .*: holds, witnessed by wit" <<<"$out"
check "... the agent's not" grep -q "^checkpoint signet/agent/host-001 30 .*: holds, NOT witnessed" <<<"$out"
out=$(rc -o json --checkpoint cp-server.cosigned --checkpoint cp-agent --witness-key wit.vkey)
check "... in the JSON report too" "$SCHEMA" - <<<"$out"
id=$(sed -n '5s/.*"action_id":"\([0-9a-f]*\)".*/\1/p' server.log)
m=$(grep -n "\"action_id\":\"$id\"" server.log | head -1 | cut -d: -f1)
grep -v "\"action_id\":\"$id\"" server.orig >server.log
"$TOOL" rechain server.log keys/audit.key "$m" >/dev/null
"$TOOL" append server.log keys/audit.key 2 >/dev/null # as long as before
out=$(rc --checkpoint cp-server.cosigned --witness-key wit.vkey) && code=0 || code=$?
check "the server's log rewritten after its checkpoint: exit 1" test "$code" -eq 1
check "... the checkpoint fails" grep -q "^FAILED: checkpoint cp-server.cosigned: .*rewritten" <<<"$out"
check "... a checkpoint_mismatch" grep -q "^problem checkpoint_mismatch: 1" <<<"$out"
out=$(rc -o json --checkpoint cp-server.cosigned --witness-key wit.vkey) || true
check "... the JSON report valid" "$SCHEMA" - <<<"$out"
restore
"$TOOL" checkpoint logs/host-001.log agents/host-001.key signet/agent/host-009 5 cp-none
check_fails_with "a checkpoint of no given log refused" "no log given" \
	rc --checkpoint cp-none
check_fails_with "--witness-key needs --checkpoint" "needs --checkpoint" rc --witness-key wit.vkey

finish
