#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 13's hostile cases about requests and approvals, against the real
# signet-agent and the private dockerd, with tests/tools/fake_server playing
# a COMPROMISED server: it holds the real action key, so every action it
# sends verifies, and it relays operators' requests and approvals forged or
# tampered with by tests/tools/request_tool. Each time the container is
# untouched, the agent's answer says why and its audit log records why
# (action.rejected or policy.denied): a request by a key not in the roster;
# by an operator the newer roster removed; a reason, container, action or
# host changed after the operator signed; a request's window extended by
# the relay; a request living longer than the rule allows; one signed
# under a roster newer than the host holds; a replay of one that ran (its
# first result again: delivered again, never run twice); an
# approval by the requester; one key approving twice; an approval over
# other bytes; an approval replayed onto another request; approvals
# arriving after the request expired; too few approvals; approvals
# withheld; a relay-only action to a rule that wants an operator's
# signature. Controls: a signed request runs, so does one with its two
# approvals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }

TAG="soh$$"
LOG="$T_DIR/agent-web-01-audit.log"
OUT="$T_DIR/fake.out"
. "$(dirname "$0")/fake.sh"
. "$(dirname "$0")/hostile.sh"
trap cleanup EXIT

# ---- setup: PKI and roster, policy, containers, fake server, agent ----
make_pki || { echo "FAIL: PKI"; exit 1; }
check "alice enrolled (sre)" enroll alice sre
check "bob enrolled (dba)" enroll bob dba
check "dave enrolled (dba)" enroll dave dba
check "oscar enrolled (sre)" enroll oscar sre
(cd "$T_DIR" && "$SIGNETCTL" keygen --no-passphrase mallory >/dev/null)
check "roster version 1 signed" quiet "$PKI_SCRIPT" roster sign
cp "$SIGNET_PKI/roster/roster.json" "$T_DIR/roster-v1.json"
quiet "$PKI_SCRIPT" roster remove oscar
check "roster version 2 (oscar removed) signed" quiet "$PKI_SCRIPT" roster sign
cp "$SIGNET_PKI/roster/roster.json" "$T_DIR/roster-v2.json"

AGENT_PORT=$(free_port)
cat >"$T_DIR/policy.json" <<EOF
{ "host_id": "web-01",
  "rules": [
    { "match": { "name": "$TAG-plain-*" }, "actions": ["START", "STOP", "RESTART"] },
    { "match": { "name": "$TAG-4eyes-*" }, "actions": ["RESTART"],
      "approvals": [ { "group": "dba", "count": 2 } ], "approval_wait": 600 } ] }
EOF
chmod 644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
add_agent_roster web-01
PLAIN=$(run_c plain-1)
PLAIN2=$(run_c plain-2)
FOUR=$(run_c 4eyes-1)
check "test containers run" test -n "$PLAIN" -a -n "$PLAIN2" -a -n "$FOUR"
WATCH=("$PLAIN" "$PLAIN2" "$FOUR")

start_fake || exit 1
start_agent web-01
check "agent says hello to the (fake) server" wait_hello 1
line=$(push_roster "$T_DIR/roster-v1.json")
check "the agent takes roster version 1 ($line)" grep -q "version=1 .*refused=\"\"" <<<"$line"

# ---- controls: what a faithful server relays runs ----
opreq "$T_DIR/ok.req" oscar "$PLAIN" RESTART
s0=$(snap "$PLAIN")
sleep 1.1
"$RT" action --request "$T_DIR/ok.req" >"$T_DIR/action.json"
send_file signed "$T_DIR/action.json"
line=$(result "$(req_id "$T_DIR/ok.req")" 1 20)
check "control: oscar's signed RESTART (roster 1) runs ($line)" grep -q 'status=SUCCESS' <<<"$line"
check "control: the container restarted" test "$(snap "$PLAIN")" != "$s0"
check "control: audited as a verified requester" \
	sh -c "jq -c 'select(.event == \"action.received\" and .data.action_id == \"$(req_id "$T_DIR/ok.req")\") | .data.requester' '$LOG' | grep -qx '\"verified\"'"
# The server sends the very action that ran again.
s0=$(snap "${WATCH[@]}")
send_file signed "$T_DIR/action.json"
line=$(result "$(req_id "$T_DIR/ok.req")" 2 20)
check "a replay of the operator-signed action that ran: the first SUCCESS is sent again ($line)" \
	grep -q 'status=SUCCESS' <<<"$line"
check "a replay: audited as delivered again, answer resent (issue 16)" \
	sh -c "jq -e --arg id $(req_id "$T_DIR/ok.req") 'select(.event == \"action.redelivered\" and .data.action_id == \$id and .data.answer == \"resent\")' '$LOG' >/dev/null"
check "a replay: executed once only" \
	test "$(audit_for "$(req_id "$T_DIR/ok.req")" | grep -c '"action.executed"')" = 1
check "a replay: the containers are untouched" test "$(snap "${WATCH[@]}")" = "$s0"
opreq "$T_DIR/ok4.req" alice "$FOUR" RESTART
approve "$T_DIR/ok4.bob" bob "$T_DIR/ok4.req"
approve "$T_DIR/ok4.dave" dave "$T_DIR/ok4.req"
s0=$(snap "$FOUR")
sleep 1.1
"$RT" action --request "$T_DIR/ok4.req" --approval "$T_DIR/ok4.bob" \
	--approval "$T_DIR/ok4.dave" >"$T_DIR/action.json"
send_file signed "$T_DIR/action.json"
line=$(result "$(req_id "$T_DIR/ok4.req")" 1 20)
check "control: alice's RESTART with bob's and dave's approvals runs ($line)" \
	grep -q 'status=SUCCESS' <<<"$line"
check "control: the four-eyes container restarted" test "$(snap "$FOUR")" != "$s0"

line=$(push_roster "$T_DIR/roster-v2.json")
check "the agent takes roster version 2, without oscar ($line)" grep -q "version=2 .*refused=\"\"" <<<"$line"

# ---- the request ----
opreq "$T_DIR/r.req" mallory "$PLAIN" RESTART
relayed "a request signed by a key not in the roster" REJECTED action.rejected \
	"is not in roster version 2" "$T_DIR/r.req"
opreq "$T_DIR/r.req" oscar "$PLAIN" RESTART
relayed "a request by a removed operator (the agent holds the newer roster)" \
	REJECTED action.rejected "is not in roster version 2" "$T_DIR/r.req"
opreq "$T_DIR/r.req" alice "$PLAIN" RESTART --reason "routine restart"
relayed "the reason changed by the server after alice signed" REJECTED action.rejected \
	"changed the request: reason" "$T_DIR/r.req" --reason "emergency: restart now"
opreq "$T_DIR/r.req" alice "$PLAIN" RESTART
relayed "the container changed by the server after alice signed" REJECTED action.rejected \
	"changed the request: container_id" "$T_DIR/r.req" --container "$PLAIN2"
opreq "$T_DIR/r.req" alice "$PLAIN" STOP
relayed "the action changed by the server after alice signed (STOP signed, RESTART sent)" \
	REJECTED action.rejected "changed the request: action" "$T_DIR/r.req" --action RESTART
opreq "$T_DIR/r.req" alice "$PLAIN" RESTART --host web-02
relayed "a request alice signed for another host, relayed to this one" REJECTED \
	action.rejected "changed the request: host_id" "$T_DIR/r.req" --host web-01
opreq "$T_DIR/r.req" alice "$PLAIN" RESTART --lifetime 60
relayed "the request's window extended by the relay (action outlives it)" REJECTED \
	action.rejected "expires_at .* is after the request's" "$T_DIR/r.req" \
	--expires-at "$(($(req_field "$T_DIR/r.req" expires_at) + 60000))"
opreq "$T_DIR/r.req" alice "$PLAIN" RESTART --lifetime 400
relayed "a request that lives longer than the rule allows (400 s > 300 s)" DENIED \
	policy.denied "lifetime|lives|too long" "$T_DIR/r.req" \
	--expires-at "$(($(req_field "$T_DIR/r.req" issued_at) + 120000))"
opreq "$T_DIR/r.req" alice "$PLAIN" RESTART --roster-version 3
relayed "a request signed under a roster newer than the host holds" REJECTED \
	action.rejected "roster version 3; this host holds 2" "$T_DIR/r.req" \
	--expires-at "$(($(req_field "$T_DIR/r.req" issued_at) + 120000))"
send_action "$PLAIN" RESTART --reason '"relay only, no operator"'
id=$(last_id)
expect "a relay-only action to a rule that requires an operator's signature" \
	"$id" DENIED policy.denied "requires an operator-signed request" "$(snap "${WATCH[@]}")"

# ---- approvals (the rule wants 2 of dba besides the requester) ----
opreq "$T_DIR/r.req" bob "$FOUR" RESTART
approve "$T_DIR/a.bob" bob "$T_DIR/r.req"
approve "$T_DIR/a.dave" dave "$T_DIR/r.req"
relayed "an approval by the requester" DENIED policy.denied \
	"dba.* needed, 1 counted \(dave\)" "$T_DIR/r.req" \
	--approval "$T_DIR/a.bob" --approval "$T_DIR/a.dave"
check "an approval by the requester: the audit says why it did not count" \
	audit_has "$(req_id "$T_DIR/r.req")" policy.denied "the requester cannot approve"

opreq "$T_DIR/r.req" alice "$FOUR" RESTART
approve "$T_DIR/a.dave" dave "$T_DIR/r.req"
relayed "the same key approving twice" DENIED policy.denied \
	"dba.* needed, 1 counted \(dave\)" "$T_DIR/r.req" \
	--approval "$T_DIR/a.dave" --approval "$T_DIR/a.dave"
check "the same key approving twice: the audit says it approved already" \
	audit_has "$(req_id "$T_DIR/r.req")" policy.denied "approved already"

opreq "$T_DIR/r.req" alice "$FOUR" RESTART --reason "rotate logs"
approve "$T_DIR/a.bob" bob "$T_DIR/r.req"
# dave signed the same action id with another reason: other bytes.
"$RT" sign --key "$T_DIR/alice.key" --action-id "$(req_id "$T_DIR/r.req")" \
	--host web-01 --container "$FOUR" --action RESTART --reason "rotate logs, then wipe" \
	--requested-by alice --roster-version 1 >"$T_DIR/other.req"
approve "$T_DIR/a.dave" dave "$T_DIR/other.req"
relayed "an approval over different bytes" DENIED policy.denied \
	"dba.* needed, 1 counted \(bob\)" "$T_DIR/r.req" \
	--approval "$T_DIR/a.bob" --approval "$T_DIR/a.dave"
check "an approval over different bytes: the audit says bad signature" \
	audit_has "$(req_id "$T_DIR/r.req")" policy.denied "bad signature"

opreq "$T_DIR/r.req" alice "$FOUR" RESTART
relayed "approvals replayed from another request (the one that ran)" DENIED policy.denied \
	"dba.* needed, 0 counted" "$T_DIR/r.req" \
	--approval "$T_DIR/ok4.bob" --approval "$T_DIR/ok4.dave"

opreq "$T_DIR/r.req" alice "$FOUR" RESTART --issued-ago 400 --lifetime 300
approve "$T_DIR/a.bob" bob "$T_DIR/r.req"
approve "$T_DIR/a.dave" dave "$T_DIR/r.req"
relayed "approvals arriving after the request expired (a fresh action)" REJECTED \
	action.rejected "expires_at .* is after the request's" "$T_DIR/r.req" \
	--approval "$T_DIR/a.bob" --approval "$T_DIR/a.dave" \
	--issued-at "$(now_ms)" --expires-at "$(($(now_ms) + 60000))"
opreq "$T_DIR/r.req" alice "$FOUR" RESTART --issued-ago 400 --lifetime 300
approve "$T_DIR/a.bob" bob "$T_DIR/r.req"
approve "$T_DIR/a.dave" dave "$T_DIR/r.req"
relayed "approvals arriving after the request expired (the request's window)" REJECTED \
	action.rejected "expired" "$T_DIR/r.req" \
	--approval "$T_DIR/a.bob" --approval "$T_DIR/a.dave" \
	--issued-at "$(($(req_field "$T_DIR/r.req" expires_at) - 60000))"

opreq "$T_DIR/r.req" alice "$FOUR" RESTART
approve "$T_DIR/a.bob" bob "$T_DIR/r.req"
relayed "a server that relays before the requirement is met (too few approvals)" \
	DENIED policy.denied "dba.* needed, 1 counted \(bob\)" "$T_DIR/r.req" \
	--approval "$T_DIR/a.bob"
opreq "$T_DIR/r.req" alice "$FOUR" RESTART
relayed "a server that withholds the approvals" DENIED policy.denied \
	"dba.* needed, 0 counted" "$T_DIR/r.req"
# The same request relayed again, now with its approvals: its action id
# was answered already (other action bytes: REJECTED as a replay) and
# nothing runs; the operator signs a new request.
approve "$T_DIR/a.bob" bob "$T_DIR/r.req"
approve "$T_DIR/a.dave" dave "$T_DIR/r.req"
s0=$(snap "${WATCH[@]}")
"$RT" action --request "$T_DIR/r.req" --approval "$T_DIR/a.bob" \
	--approval "$T_DIR/a.dave" >"$T_DIR/action.json"
send_file signed "$T_DIR/action.json"
line=$(result "$(req_id "$T_DIR/r.req")" 2 20)
check "the approvals sent after a DENIED: REJECTED, a replay ($line)" \
	grep -q 'status=REJECTED error="replay' <<<"$line"
check "the approvals sent after a DENIED: audited as a replay" \
	audit_has "$(req_id "$T_DIR/r.req")" action.rejected "replay"
check "the approvals sent after a DENIED: nothing ran" test "$(snap "${WATCH[@]}")" = "$s0"

# ---- a request that outlives its action, relayed again ----
# A request may live approval_wait + 300 s (here 900 s) while an action
# lives at most 300 s. The first action for it runs and expires; the
# server then sends the same request in a fresh action (and again after
# the agent restarted): the id is remembered for the request's life, so
# both are replays and the container restarts once only.
opreq "$T_DIR/long.req" alice "$FOUR" RESTART --lifetime 900
approve "$T_DIR/l.bob" bob "$T_DIR/long.req"
approve "$T_DIR/l.dave" dave "$T_DIR/long.req"
LONG=$(req_id "$T_DIR/long.req")
long_action() {
	"$RT" action --request "$T_DIR/long.req" --approval "$T_DIR/l.bob" \
		--approval "$T_DIR/l.dave" --issued-at "$1" --expires-at "$2" >"$T_DIR/action.json"
}
s0=$(snap "$FOUR")
sleep 1.1
t=$(now_ms)
long_action $((t - 250000)) $((t + 8000))
send_file signed "$T_DIR/action.json"
line=$(result "$LONG" 1 20)
check "a 900 s request with its approvals runs ($line)" grep -q 'status=SUCCESS' <<<"$line"
check "the container restarted" test "$(snap "$FOUR")" != "$s0"
# Past the first action's expiry and the skew the agent allows.
while [ "$(now_ms)" -le $((t + 8000 + 31000)) ]; do sleep 1; done
s0=$(snap "${WATCH[@]}")
t=$(now_ms)
long_action "$t" $((t + 60000))
send_file signed "$T_DIR/action.json"
line=$(result "$LONG" 2 20)
check "the same request in a fresh action after the first expired: a replay ($line)" \
	grep -q 'status=REJECTED error="replay' <<<"$line"
check "the same request in a fresh action: nothing ran" test "$(snap "${WATCH[@]}")" = "$s0"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
start_agent web-01
check "the agent restarts and says hello" wait_hello 2
t=$(now_ms)
long_action "$t" $((t + 60000))
send_file signed "$T_DIR/action.json"
# (the agent may first send its last results again: the replay's answer
# is the first REJECTED after them)
replayed_again() {
	grep "^result action_id=$LONG " "$OUT" | sed -n '3,$p' | grep -q 'status=REJECTED error="replay'
}
check "and again after the agent restarted: a replay" wait_for 20 replayed_again
check "after the restart: nothing ran" test "$(snap "${WATCH[@]}")" = "$s0"
check "the 900 s request ran once only" \
	test "$(audit_for "$LONG" | grep -c '"action.executed"')" = 1

# ---- the log ----
check "no result the fake server got failed to verify" \
	test "$(grep -c '^result sig=BAD' "$OUT")" -eq 0
stop_fake
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "the agent's audit log verifies" \
	quiet "$SIGNETCTL" audit verify "$LOG" --key "$SIGNET_PKI/keys/agents/web-01.pub" \
	--action-key "$SIGNET_PKI/keys/action.pub" --agent-keys "$SIGNET_PKI/keys/agents"
check "the agent's audit records match the schemas" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$LOG"
[ "$T_FAIL" -eq 0 ] || { echo "# agent log:"; grep -E " (warn|error) " "$T_DIR/agent-web-01.log" | tail -n 40; }
finish
