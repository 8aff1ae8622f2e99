#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 13's four eyes with every real part: a rule of the host's policy
# wants 1 of dba AND 1 of sre; alice's signed STOP waits at the server
# (AWAITING_APPROVAL, what it needs shown), the requester's own approval,
# a second approval by the same key and an approval sent with another
# operator's key are refused, bob (dba) and erin (sre) approve, the
# request is relayed with both approvals and the host, counting them
# itself, runs it (a server restart between the approvals loses neither
# the request nor bob's approval); a refused request is never relayed; a request whose
# approvals do not come in time expires, untouched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1

make_pki || { not_ok "PKI"; finish; exit 1; }
for u in bob erin; do "$PKI_SCRIPT" operator "$u" >/dev/null; done
check "alice enrolled (sre)" enroll alice sre
check "bob enrolled (dba)" enroll bob dba
check "erin enrolled (sre)" enroll erin sre
check "roster signed" quiet "$PKI_SCRIPT" roster sign
write_server_conf
add_server_roster
cat >"$T_DIR/policy.json" <<'JSON'
{
  "host_id": "web-01",
  "rules": [
    { "match": { "name": "four-eyes-*" }, "actions": ["STOP"],
      "approvals": [ { "group": "dba", "count": 1 }, { "group": "sre", "count": 1 } ],
      "approval_wait": 600 }
  ]
}
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
add_agent_roster web-01
check "server starts" start_server
start_agent web-01
holds() { api_get /api/roster | pyq "[h['roster_version'] for h in d['hosts'] if h['host_id']=='web-01']" 2>/dev/null | grep -qx '\[1\]'; }
check "web-01 holds the roster" wait_for 10 holds
shares() { grep -q "agent web-01 shares its policy" "$T_DIR/server.log"; }
check "web-01 shares its policy with the server" wait_for 10 shares

mk() { docker run -d --network none --stop-timeout 1 --name "$1" "$SIGNET_TEST_IMAGE" sleep 100000; }
c1=$(mk four-eyes-1)
c2=$(mk four-eyes-2)
c3=$(mk four-eyes-3)
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
check "containers in the inventory" wait_for 5 known "$c3"
running() { docker inspect -f '{{.State.Running}}' "$1"; }
ctl() {
	local user=$1; shift
	"$SIGNETCTL" --server "https://localhost:$API_PORT" --ca "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/$user.pem" --key "$SIGNET_PKI/private/$user.key" "$@"
}
request() { ctl alice action "${1:0:12}" stop --reason "$2" --valid "${3:-600}" \
	--signing-key "$T_DIR/alice.key" 2>&1; }

# alice's STOP waits.
out=$(request "$c1" "failover drill, four eyes")
check "the request waits: AWAITING_APPROVAL" grep -q '^status: *AWAITING_APPROVAL' <<<"$out"
aid=$(sed -n 's/^action_id: *//p' <<<"$out")
check "the container was not touched" test "$(running "$c1")" = true
list=$(ctl bob approvals -o json)
check "signetctl approvals lists it" grep -q "$aid" <<<"$list"
check "what it needs: 1 of dba, 1 of sre" test \
	"$(pyq '[(t["group"],t["count"]) for a in d["approvals"] for t in a["needs"]]' <<<"$list")" \
	= '[["dba", 1], ["sre", 1]]'
show=$(ctl bob approval show "$aid")
check "approval show decodes the signed bytes" grep -q '^reason: *failover drill, four eyes' <<<"$show"
check "server audit: action.awaiting_approval" \
	grep -q "\"action.awaiting_approval\".*\"action_id\":\"$aid\"" "$T_DIR/server-audit.log"

# Approvals the server refuses, with the reason.
check_fails_with "the requester cannot approve" "requester cannot approve" \
	ctl alice approve "$aid" --signing-key "$T_DIR/alice.key"
check_fails_with "an approval sent with another operator's key" "operators send their own approvals" \
	ctl erin approve "$aid" --signing-key "$T_DIR/bob.key"
out=$(ctl bob approve "$aid" --signing-key "$T_DIR/bob.key" 2>&1)
check "bob approves: still waiting (sre missing)" grep -q '^status: *AWAITING_APPROVAL' <<<"$out"
check_fails_with "bob approving twice" "approved already" \
	ctl bob approve "$aid" --signing-key "$T_DIR/bob.key"
check "the container still runs" test "$(running "$c1")" = true

# A restart of the server loses nothing: the waiting request and bob's
# approval come back from its audit log.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the server starts again" start_server
shares_again() { [ "$(grep -c "agent web-01 shares its policy" "$T_DIR/server.log")" -ge 2 ]; }
check "web-01 is back and shares its policy again" wait_for 60 shares_again
list=$(ctl bob approvals -o json)
check "after the restart the request still waits, with bob's approval" test \
	"$(pyq "[[x['name'] for x in a['approvals']] for a in d['approvals'] if a['action_id']=='$aid']" <<<"$list")" \
	= '[["bob"]]'
check "server audit: server.started counts it" \
	grep -q '"server.started".*"approvals_reloaded":1' "$T_DIR/server-audit.log"

# erin completes the requirement: relayed, run by the host.
out=$(ctl erin approve "$aid" --signing-key "$T_DIR/erin.key" --wait 60 2>&1)
check "erin approves: relayed and run (SUCCESS)" grep -q '^status: *SUCCESS' <<<"$out"
check "the container stopped" test "$(running "$c1")" = false
check "server audit: two action.approved" \
	test "$(grep -c "\"action.approved\".*\"action_id\":\"$aid\"" "$T_DIR/server-audit.log")" = 2
rec=$(grep "\"action.received\".*\"action_id\":\"$aid\"" "$T_DIR/agent-web-01-audit.log")
check "the host counted bob's and erin's approvals itself" test \
	"$(pyq '[(a["name"],a["counted"]) for a in d["data"]["approvals"]]' <<<"$rec")" \
	= '[["bob", true], ["erin", true]]'

# A refused request is never relayed.
out=$(request "$c2" "drill two, to be refused")
aid2=$(sed -n 's/^action_id: *//p' <<<"$out")
out=$(ctl bob refuse "$aid2" --reason "not during the freeze" 2>&1)
check "bob refuses: REFUSED" grep -q '^status: *REFUSED' <<<"$out"
check_fails_with "approving a refused request: 409" "no longer waits" \
	ctl erin approve "$aid2" --signing-key "$T_DIR/erin.key"
check "the refused request's container was not touched" test "$(running "$c2")" = true
check "server audit: action.approval_refused" \
	grep -q "\"action.approval_refused\".*\"action_id\":\"$aid2\".*\"refused_by\":\"bob\"" "$T_DIR/server-audit.log"

# Approvals that do not come in time: the request expires (after the
# clock skew), untouched, and later approvals are refused.
out=$(request "$c3" "drill three, left to expire" 1)
aid3=$(sed -n 's/^action_id: *//p' <<<"$out")
check "a short-lived request waits too" grep -q '^status: *AWAITING_APPROVAL' <<<"$out"
expired() { ctl bob action-status "$aid3" -o json 2>/dev/null | grep -q '"status":"EXPIRED"'; }
check "it expires awaiting approvals" wait_for 90 expired
check_fails_with "approving it after it expired: refused" "no longer waits|expired" \
	ctl bob approve "$aid3" --signing-key "$T_DIR/bob.key"
check "its container was not touched" test "$(running "$c3")" = true
check "server audit: action.approval_expired" \
	grep -q "\"action.approval_expired\".*\"action_id\":\"$aid3\"" "$T_DIR/server-audit.log"

check "audit records match the schemas" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/server-audit.log" "$T_DIR/agent-web-01-audit.log"
docker rm -f "$c1" "$c2" "$c3" >/dev/null
finish
