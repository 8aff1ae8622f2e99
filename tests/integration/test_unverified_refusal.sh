#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# An action frame the agent cannot verify gets an answer that names no
# action (issue 12, item 1): a frame_refused with the SHA-256 of the frame
# and of its payload bytes. The server ends the PENDING action it sent to
# that very host with those payload bytes as REJECTED (no result, its
# error saying why), after recording action.unverified; the container is
# untouched. First with every real part (an agent that pins another key
# than the server's); then with simulated agents: another host's refusal
# naming web-01's action changes nothing, and web-01's own does end it.
# Both audit logs verify and match docs/schema.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/sim.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }
sim_begin
trap 'docker rm -f "unv-web-$$" >/dev/null 2>&1; sim_cleanup_all' EXIT
S_LOG=$T_DIR/server-audit.log
A_LOG=$T_DIR/agent-web-01-audit.log
K=$P/keys

# The SHA-256 of the payload bytes of action ID in the server's log.
payload_sha() {
	jq -r --arg id "$1" 'select(.event == "action.requested" and .data.action_id == $id) | .data.action.payload' "$S_LOG" |
		base64 -d | sha256sum | cut -c1-64
}
action_field() { api_get "/api/actions/$1" | pyq "d['$2']"; }

# ---- a real agent that pins a key the server does not sign with ----
write_server_conf
start_server || { not_ok "server started"; finish; exit 1; }
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "unv-*" }, "actions": ["START", "STOP", "RESTART"], "accept_relay_signed": true } ] }
JSON
chmod 644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
(cd "$T_DIR" && "$SIGNETCTL" keygen --raw stranger >/dev/null) && chmod 644 "$T_DIR/stranger.pub"
sed -i "s|^action_pub = .*|action_pub = $T_DIR/stranger.pub|" "$T_DIR/agent-web-01.conf"
start_agent web-01
web=$(docker run -d --network none --stop-timeout 1 --name "unv-web-$$" "$SIGNET_TEST_IMAGE" sleep 100000)
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
check "the container is in the inventory" wait_for 15 known "$web"
before=$(docker inspect -f '{{.State.StartedAt}}' "$web")

out=$(api_post "/api/containers/${web:0:12}/actions?wait=60" '{"action":"RESTART","reason":"signed with a key the agent does not pin"}')
status=$(tail -n 1 <<<"$out" | sed 's/^HTTP //')
body=$(sed '$d' <<<"$out")
aid=$(pyq 'd["action_id"]' <<<"$body")
check "answered 502, not at the wait's end (status $status)" test "$status" = 502
check "REJECTED, saying the agent refused the frame unverified" \
	test "$(pyq 'd["status"] == "REJECTED" and "the agent refused the frame unverified; not run: unverified frame: unknown key" in d["error"] and d.get("result") is None' <<<"$body")" = true
check "the container is untouched" test "$(docker inspect -f '{{.State.StartedAt}}' "$web")" = "$before"
psha=$(payload_sha "$aid")
unv=$(jq -c --arg id "$aid" 'select(.event == "action.unverified" and .data.action_id == $id) | .data' "$S_LOG")
check "the server recorded action.unverified for it" test -n "$unv"
check "... bound to the payload bytes it signed" test "$(jq -r .request_sha256 <<<"$unv")" = "$psha"
fsha=$(jq -r .frame_sha256 <<<"$unv")
check "... and to the frame the agent refused (its frame.refused)" \
	test "$(jq -r 'select(.event == "frame.refused") | .data.frame_sha256' "$A_LOG" | tail -n 1)" = "$fsha"
check "the agent's log never names the action_id" sh -c "! grep -q '$aid' '$A_LOG'"
check "no action.timeout for it" \
	test "$(jq -r 'select(.event == "action.timeout") | .data.action_id' "$S_LOG" | grep -c "$aid")" = 0
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
docker rm -f "$web" >/dev/null

# ---- simulated agents: a refusal binds only the host's own actions ----
ID=cccccccccccc3333333333333333333333333333333333333333333333333333
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID sim-c)]}" >inv1.json
echo '{"type":"inventory","containers":[]}' >inv2.json
sim silent web-01 || not_ok "sim web-01 started"
out=$(api_post "/api/containers/$ID/actions?wait=0" '{"action":"START","reason":"left pending by a silent agent"}')
aid2=$(sed '$d' <<<"$out" | pyq 'd["action_id"]')
check "the action waits (PENDING)" test "$(action_field "$aid2" status)" = PENDING
psha2=$(payload_sha "$aid2")
refusal() {
	printf '{"type":"frame_refused","frame_sha256":"%s","request_sha256":"%s","reason":"unverified frame: %s"}' \
		"$(printf x | sha256sum | cut -c1-64)" "$psha2" "$1" >"$T_DIR/refusal.json"
}
refusal "claimed by web-02"
"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$CA" --pki "$P" --name web-02 \
	--inventory inv2.json --raw "$T_DIR/refusal.json" >sim-web02.out 2>&1 &
SIM_PIDS+=("$!")
check "web-02's refusal reached the server" wait_for 10 grep -q "agent web-02 refused a frame unverified .* names no pending action of its own" "$T_DIR/server.log"
check "web-01's action is still PENDING" test "$(action_field "$aid2" status)" = PENDING
check "nothing recorded for it" sh -c "! jq -r 'select(.event == \"action.unverified\") | .data.action_id' '$S_LOG' | grep -q '$aid2'"
refusal "bad signature: from web-01 itself"
stop_sim
"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$CA" --pki "$P" --name web-01 \
	--inventory inv1.json --raw "$T_DIR/refusal.json" >sim-web01.out 2>&1 &
SIM_PIDS+=("$!")
own_rejected() { [ "$(action_field "$aid2" status)" = REJECTED ]; }
check "web-01's own refusal ends it REJECTED" wait_for 10 own_rejected
check "... saying why" grep -q 'bad signature: from web-01 itself' <<<"$(action_field "$aid2" error)"

# A refusal that is not one: refused as a bad frame, nothing changes.
printf '{"type":"frame_refused","frame_sha256":"XYZ","reason":"x"}' >"$T_DIR/bad.json"
"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$CA" --pki "$P" --name web-02 \
	--inventory inv2.json --raw "$T_DIR/bad.json" >sim-web02b.out 2>&1 &
SIM_PIDS+=("$!")
check "a malformed frame_refused drops that session, saying why" \
	wait_for 10 grep -q 'agent web-02 sent a bad frame .*frame_sha256 "XYZ" is not a SHA-256' "$T_DIR/server.log"

kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the server's log verifies" quiet "$SIGNETCTL" audit verify "$S_LOG" \
	--key "$K/audit.pub" --action-key "$K/action.pub" --agent-keys "$K/agents"
check "both audit logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$S_LOG" "$A_LOG"
finish
