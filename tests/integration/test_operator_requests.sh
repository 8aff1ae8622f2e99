#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 13 end to end with every real part: signet-pki's roster, operator
# keys from signetctl keygen, the real server holding the roster and
# handing it to the real agent, and signetctl action --signing-key. An
# operator-signed STOP runs and both logs say the requester was verified;
# a relay-signed request to a rule that wants the operator's signature is
# DENIED with the container untouched; the server refuses early what the
# host would refuse (a key not in the roster, another operator's request,
# a wrong passphrase, a key file others may read); GET /api/roster shows
# which version each host holds; a newer roster reaches the agent on
# SIGHUP, and an older one is refused by the server and by the agent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1

make_pki || { not_ok "PKI"; finish; exit 1; }
"$PKI_SCRIPT" operator bob >/dev/null
"$PKI_SCRIPT" operator mallory >/dev/null
# alice's key is sealed with a passphrase; bob's is not (automation).
printf 'correct horse\n' >"$T_DIR/pass"
(cd "$T_DIR" && "$SIGNETCTL" keygen --passphrase-fd 3 alice 3<"$T_DIR/pass" >/dev/null)
check "alice enrolled" quiet "$PKI_SCRIPT" roster add alice --key "$T_DIR/alice.pub" --groups sre
check "bob enrolled" enroll bob dba
check "roster signed" quiet "$PKI_SCRIPT" roster sign
(cd "$T_DIR" && "$SIGNETCTL" keygen --no-passphrase mallory >/dev/null)
write_server_conf
add_server_roster
cat >"$T_DIR/policy.json" <<'JSON'
{
  "host_id": "web-01",
  "rules": [
    { "match": { "name": "op-signed-*" }, "actions": ["START", "STOP"],
      "operators": ["alice", "bob"] }
  ]
}
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
add_agent_roster web-01
check "server starts" start_server
start_agent web-01
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
check "agent connects" wait_for 10 connected

# The roster reaches the agent and the agent says which it holds.
holds() { api_get /api/roster | pyq "[h['roster_version'] for h in d['hosts'] if h['host_id']=='web-01']" 2>/dev/null | grep -qx "\[$1\]"; }
check "the server holds roster version 1" test "$(api_get /api/roster | pyq 'd["roster"]["version"]')" = 1
roster_ops=$(api_get /api/roster carol | pyq '[o["name"] for o in d["roster"]["operators"]]')
check "GET /api/roster (auditor) lists alice and bob" test "$roster_ops" = '["alice", "bob"]'
check "web-01 holds roster version 1" wait_for 10 holds 1
check "the agent kept the roster on disk" test -s "$T_DIR/roster-web-01.json"
check "agent audit: roster.accepted" grep -q '"event":"roster.accepted"' "$T_DIR/agent-web-01-audit.log"

mk() { docker run -d --network none --stop-timeout 1 --name "$1" "$SIGNET_TEST_IMAGE" sleep 100000; }
c1=$(mk op-signed-1)
c2=$(mk op-signed-2)
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
check "containers in the inventory" wait_for 5 known "$c2"
running() { docker inspect -f '{{.State.Running}}' "$1"; }
ctl() {
	local user=$1; shift
	"$SIGNETCTL" --server "https://localhost:$API_PORT" --ca "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/$user.pem" --key "$SIGNET_PKI/private/$user.key" "$@"
}

# An operator-signed STOP runs.
out=$(ctl alice action "${c1:0:12}" stop --reason "drill: stop one" \
	--signing-key "$T_DIR/alice.key" --passphrase-fd 3 3<"$T_DIR/pass" 2>&1)
check "signed STOP: SUCCESS" grep -q '^status: *SUCCESS' <<<"$out"
check "signed STOP: shown as operator-signed" grep -q '^signed: *yes' <<<"$out"
check "signed STOP: the container stopped" test "$(running "$c1")" = false
aid=$(sed -n 's/^action_id: *//p' <<<"$out")
check "server audit: action.requested by a verified requester" \
	grep -q "\"action.requested\".*\"action_id\":\"$aid\".*\"requester\":\"verified\"" "$T_DIR/server-audit.log"
check "agent audit: action.received from a verified requester" \
	grep -q "\"action.received\".*\"action_id\":\"$aid\".*\"requester\":\"verified\"" "$T_DIR/agent-web-01-audit.log"

# bob's unsealed key; alice's sealed key refused without its passphrase.
out=$(ctl bob action "${c1:0:12}" start --reason "drill: start again" \
	--signing-key "$T_DIR/bob.key" 2>&1)
check "unsealed key: SUCCESS" grep -q '^status: *SUCCESS' <<<"$out"
printf 'wrong\n' >"$T_DIR/wrong"
check_fails_with "sealed key, wrong passphrase: refused, nothing sent" "wrong passphrase" \
	ctl alice action "${c2:0:12}" stop --reason "must not run" \
	--signing-key "$T_DIR/alice.key" --passphrase-fd 3 3<"$T_DIR/wrong"
chmod 0644 "$T_DIR/bob.key"
check_fails_with "a key file others may read: refused" "0600|chmod 600" \
	ctl bob action "${c2:0:12}" stop --reason "must not run" --signing-key "$T_DIR/bob.key"
chmod 0600 "$T_DIR/bob.key"

# What the server refuses before anything is relayed.
check_fails_with "a key not in the roster: refused" "not in the server's roster" \
	ctl mallory action "${c2:0:12}" stop --reason "must not run" --signing-key "$T_DIR/mallory.key"
check_fails_with "bob sending alice's signed request: 403" "403.*operators send their own" \
	ctl bob action "${c2:0:12}" stop --reason "must not run" \
	--signing-key "$T_DIR/alice.key" --passphrase-fd 3 3<"$T_DIR/pass"
check "the container was not touched" test "$(running "$c2")" = true

# Relay-signed (no operator signature) to a rule that wants one: DENIED.
out=$(api_post "/api/containers/${c2:0:12}/actions" '{"action":"STOP","reason":"relay only"}')
check "relay-signed: 403 DENIED" test "$(tail -n 1 <<<"$out")" = "HTTP 403"
check "relay-signed: the reason names the operator signature" \
	grep -q "requires an operator-signed request" <<<"$out"
check "relay-signed: the container was not touched" test "$(running "$c2")" = true
check "agent audit: policy.denied, requester server-asserted" \
	grep -q '"policy.denied".*"requester":"server-asserted"' "$T_DIR/agent-web-01-audit.log"

# A newer roster (bob removed) reaches the agent on SIGHUP.
cp "$SIGNET_PKI/roster/roster.json" "$T_DIR/roster-v1.json"
quiet "$PKI_SCRIPT" roster remove bob
quiet "$PKI_SCRIPT" roster sign
kill -HUP "$SERVER_PID"
check "after SIGHUP web-01 holds roster version 2" wait_for 10 holds 2
check_fails_with "bob, removed, cannot sign any more" "not in the server's roster" \
	ctl bob action "${c2:0:12}" stop --reason "must not run" --signing-key "$T_DIR/bob.key"

# An older roster is refused by the server (it keeps version 2).
cp "$SIGNET_PKI/roster/roster.json" "$T_DIR/roster-v2.json"
cp "$T_DIR/roster-v1.json" "$SIGNET_PKI/roster/roster.json"
kill -HUP "$SERVER_PID"
refused_log() { grep -q "roster not reloaded, keeping version 2" "$T_DIR/server.log"; }
check "server: an older roster file is refused on SIGHUP" wait_for 10 refused_log
check "web-01 still holds version 2" holds 2

# Both logs verify.
check "server log verifies" quiet "$SIGNETCTL" audit verify "$T_DIR/server-audit.log" \
	--key "$SIGNET_PKI/keys/audit.pub" --action-key "$SIGNET_PKI/keys/action.pub" \
	--agent-keys "$SIGNET_PKI/keys/agents"
check "agent log verifies" quiet "$SIGNETCTL" audit verify "$T_DIR/agent-web-01-audit.log" \
	--key "$SIGNET_PKI/keys/agents/web-01.pub" --action-key "$SIGNET_PKI/keys/action.pub" \
	--agent-keys "$SIGNET_PKI/keys/agents"
# Offline, against the roster versions in force (the files are inputs):
# every operator's request and approval in both logs.
verify_ops() {
	"$SIGNETCTL" audit verify "$1" --key "$2" \
		--action-key "$SIGNET_PKI/keys/action.pub" \
		--roster "$T_DIR/roster-v1.json" --roster "$T_DIR/roster-v2.json" \
		--roster-keys "$SIGNET_PKI/roster/pinned.pub" >"$3"
}
check "server log: operator requests verify offline (exit 0)" \
	verify_ops "$T_DIR/server-audit.log" "$SIGNET_PKI/keys/audit.pub" "$T_DIR/ops-server.out"
check "server log: 2 operator requests verified, 1 server-asserted" \
	grep -qx "operator requests: 2 verified, 1 server-asserted, 0 failed" "$T_DIR/ops-server.out"
check "server log: alice's STOP verified under roster v1" \
	grep -q "^action $aid (seq [0-9]*, action.requested): requester alice verified (key [0-9a-f]*, roster v1)" \
	"$T_DIR/ops-server.out"
check "agent log: operator requests verify offline (exit 0)" \
	verify_ops "$T_DIR/agent-web-01-audit.log" "$SIGNET_PKI/keys/agents/web-01.pub" "$T_DIR/ops-agent.out"
check "agent log: 2 operator requests verified, 1 server-asserted" \
	grep -qx "operator requests: 2 verified, 1 server-asserted, 0 failed" "$T_DIR/ops-agent.out"
check "agent log: alice's STOP verified under roster v1" \
	grep -q "^action $aid (seq [0-9]*, action.received): requester alice verified (key [0-9a-f]*, roster v1)" \
	"$T_DIR/ops-agent.out"
check "audit records match the schemas" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/server-audit.log" "$T_DIR/agent-web-01-audit.log"
docker rm -f "$c1" "$c2" >/dev/null
finish
