#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 14, item 3: the agent's checkpoints travel to the server and are
# served too (docs/transparency.md, "Agents' checkpoints"). A real server
# and agent with checkpoints every second: after actions the server
# serves the agent's checkpoint, signed by the host's result key, and a
# larger one after more actions, with a consistency chain between them
# that verifies (tests/tools/audit_tool: shell cannot check Ed25519);
# the server's own checkpoint is served and its root is the root of the
# server log's lines; a restarted agent and a restarted server carry the
# chain on. Then a stolen agent key forges checkpoint frames (a split
# view, a rollback, another host's origin): each is refused, audited as
# audit.checkpoint_refused, not acknowledged, and the session stays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1

AT="$SIGNET_BUILD_DIR/tests/audit_tool"
SIM="$SIGNET_BUILD_DIR/tests/agent_sim"
make_pki || { not_ok "PKI"; finish; exit 1; }
K=$SIGNET_PKI/keys
ORIGIN=signet/agent/web-01
CHECKPOINT_INTERVAL=1
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "cp-*" }, "actions": ["RESTART"],
               "accept_relay_signed": true } ] }
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
check "server starts" start_server
start_agent web-01
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
check "agent connects" wait_for 10 connected
c=$(docker run -d --network none --stop-timeout 1 --name cp-web-1 "$SIGNET_TEST_IMAGE" sleep 100000)
known() { api_get "/api/containers/$c" >/dev/null 2>&1; }
check "the container is in the inventory" wait_for 10 known

# act N: N restarts, each answered SUCCESS.
act() {
	local i out
	for i in $(seq 1 "$1"); do
		out=$(api_post "/api/containers/${c:0:12}/actions" \
			"{\"action\":\"RESTART\",\"reason\":\"checkpoint test $i\"}")
		tail -n 1 <<<"$out" | grep -qx 'HTTP 200' || {
			echo "# act: RESTART $i answered: $out" | head -c 2000 >&2
			tail -n 30 "$T_DIR/server.log" "$T_DIR/agent-web-01.log" |
				sed 's/^/# /' >&2
			return 1
		}
	done
}
# verified FILE: "SIZE ROOT" of the agent's checkpoint note in FILE.
verified() { "$AT" checkpoint-verify "$1" "$ORIGIN" "$K/agents/web-01.pub"; }
# grown FILE MIN: the served agent checkpoint, into FILE, verifies and
# holds more than MIN records.
grown() {
	local s
	api_get "/api/audit/checkpoint?log=agent/web-01" >"$1" 2>/dev/null || return 1
	s=$(verified "$1" 2>/dev/null) || return 1
	[ "${s%% *}" -gt "$2" ]
}
size_of() { verified "$1" | cut -d' ' -f1; }
# consistent A B: the served steps from A's size to B's lead from A to B.
consistent() {
	api_get "/api/audit/proof/consistency?log=agent/web-01&old=$(size_of "$1")&new=$(size_of "$2")" \
		>"$T_DIR/steps.json" &&
		"$AT" consistency-verify "$1" "$2" "$T_DIR/steps.json" "$ORIGIN" "$K/agents/web-01.pub"
}
# status PATH: the HTTP status of a GET, body in $T_DIR/body.
status() {
	curl -sS --max-time 10 --cacert "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/alice.pem" --key "$SIGNET_PKI/private/alice.key" \
		-o "$T_DIR/body" -w '%{http_code}' "https://localhost:$API_PORT$1"
}

check "actions run" act 2
check "the server serves the agent's checkpoint, signed by its result key" \
	wait_for 30 grown cp1.note 0
s1=$(size_of cp1.note)
check "more actions run" act 2
check "... and a larger agent checkpoint is served" wait_for 30 grown cp2.note "$s1"
s2=$(size_of cp2.note)
check "the consistency chain from $s1 to $s2 verifies" quiet consistent cp1.note cp2.note
check "the steps of the chain come from the agent's proofs" \
	test "$(pyq 'len(d["steps"]) >= 1 and d["log"] == "agent/web-01"' <"$T_DIR/steps.json")" = true
cp cp2.note cp2-bad.note
sed -i '2s/.*/999999/' cp2-bad.note
check_fails_with "a note changed after signing does not verify" 'signature|verif' verified cp2-bad.note
check "the held file is the server's alone (0600)" \
	test "$(stat -c %a "$T_DIR/agent-checkpoints/web-01.jsonl")" = 600
check "the agent's own latest checkpoint is served as it is, in time" \
	wait_for 30 cmp -s "$T_DIR/agent-web-01-audit.log.checkpoint" \
	<(api_get "/api/audit/checkpoint?log=agent/web-01")

# The server's own checkpoint: its root is the root of its log's lines.
api_get /api/audit/checkpoint >server.note
sv=$("$AT" checkpoint-verify server.note signet/server/localhost "$K/audit.pub")
check "the server's own checkpoint is served and verifies" test -n "$sv"
check "... and its root is the root of the server log's first ${sv%% *} lines" \
	test "$("$AT" log-root "$T_DIR/server-audit.log" "${sv%% *}")" = "$sv"

# What the server does not hold is said.
check "an inclusion proof of an agent log: 404" \
	test "$(status "/api/audit/proof/inclusion?log=agent/web-01&seq=0&size=1")" = 404
check "... the server holds no agent log" grep -q 'holds no agent log' "$T_DIR/body"
check "a consistency proof to a size never accepted: 404" \
	test "$(status "/api/audit/proof/consistency?log=agent/web-01&old=0&new=$((s2 + 1000))")" = 404
check "... naming the sizes held" grep -q "size(s)[:,].*$s2" "$T_DIR/body"
check "a host with no checkpoint: 404" \
	test "$(status "/api/audit/checkpoint?log=agent/db-09")" = 404

# A restarted agent carries on the chain.
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
start_agent web-01
check "the agent reconnects" wait_for 20 connected
check "actions after the agent's restart run" act 1
check "... and a larger checkpoint is served" wait_for 30 grown cp3.note "$s2"
s3=$(size_of cp3.note)
check "the chain from $s2 to $s3 across the agent's restart verifies" quiet consistent cp2.note cp3.note

# A restarted server reads its held checkpoints back and carries on.
api_get "/api/audit/checkpoint?log=agent/web-01" >before.note
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the server restarts" start_server
check "... reading the agent's checkpoints back" \
	grep -q "agents' checkpoints: 1 host(s) read back from .*, 0 refused" "$T_DIR/server.log"
api_get "/api/audit/checkpoint?log=agent/web-01" >after.note
check "... and serving the last one held at once (or a newer one the agent sent)" \
	test "$(size_of after.note)" -ge "$(size_of before.note)"
check "the agent reconnects to it" wait_for 70 connected
check "actions after the server's restart run" act 1
check "... and a larger checkpoint is served" wait_for 30 grown cp4.note "$s3"
check "the chain from $s1 to $(size_of cp4.note) across both restarts verifies" \
	quiet consistent cp1.note cp4.note
check "nothing was refused on the way" \
	test "$(grep -c '"event":"audit.checkpoint_refused"' "$T_DIR/server-audit.log")" = 0

# A stolen agent key forges checkpoints: each refused and audited.
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
api_get "/api/audit/checkpoint?log=agent/web-01" >held.note
held=$(size_of held.note)
# forge NAME ORIGIN SIZE: sends a forged checkpoint as web-01 (old: held).
forge() {
	"$AT" forge-checkpoint "$K/agents/web-01.key" "$2" "$3" "$held" >"$1.json" &&
		"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$SIGNET_PKI/ca.pem" \
			--pki "$SIGNET_PKI" --name web-01 --raw "$1.json" --duration 3 \
			--audit-head "0:$(printf '%064d' 0)" \
			>"$1.out" 2>&1
}
refused() { grep -q "\"event\":\"audit.checkpoint_refused\".*\"reason\":\"$1\".*\"size\":$2,\"held_size\":$held" "$T_DIR/server-audit.log"; }
forge split "$ORIGIN" "$held"
check "a split view (size $held, another root) is refused and audited" wait_for 10 refused split_view "$held"
check "... the forger was told the held size after its hello" grep -qx "checkpoint_ack 0 size=$held" split.out
check "... and got no acknowledgement for it" \
	test "$(grep -c '^checkpoint_ack ' split.out)" = 1
check "... and its session stayed until the forger left" \
	grep -qx 'closed 0 code=1000 by=client' split.out
forge rollback "$ORIGIN" $((held - 1))
check "a rollback is refused and audited" wait_for 10 refused rollback $((held - 1))
forge origin signet/agent/web-02 $((held + 5))
check "another host's origin is refused and audited" wait_for 10 refused wrong_origin $((held + 5))
check "the checkpoint held did not change" \
	test "$(api_get "/api/audit/checkpoint?log=agent/web-01" | cmp -s - held.note && echo same)" = same
check "the server says so in its log" grep -q "checkpoint refused: reason=split_view" "$T_DIR/server.log"

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the server log verifies" quiet "$SIGNETCTL" audit verify "$T_DIR/server-audit.log" --key "$K/audit.pub"
check "both audit logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/server-audit.log" "$T_DIR/agent-web-01-audit.log"
docker rm -f "$c" >/dev/null
finish
