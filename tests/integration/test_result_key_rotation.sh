#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# An agent's result key rotated (issue 15, item 6), with the real server,
# agent and dockerd. The agent runs an action and is stopped with the
# result of a second one undelivered (signed with its old key); its key is
# rotated as an admin does it: a new pair from `signetctl keygen --raw`,
# the old public key moved to agents_dir/retired/HOST.STAMP.pub, the new
# one installed, the agent pointed at the new key (and told its old public
# key, [keys] result_retired, so that its own log goes on). It comes back
# under the same host id: the hello proves the new key, the old result is
# taken (the action was sent before the key was retired) and recorded with
# the old key's id, a new action is answered under the new key. Both logs
# verify with --agent-keys DIR (the agent's chain unbroken across the
# rotation); without the retired key they do not, naming its id. Bad
# input: a retired key file others may write (the hello is refused,
# naming it), a retired name that is no name (ignored, said).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }
cd "$T_DIR" || exit 1
TAG="sgrk$$"
SLOG="$T_DIR/server-audit.log"
ALOG="$T_DIR/agent-web-01-audit.log"

cleanup() {
	local p
	[ -n "${SERVER_PID:-}" ] && kill -CONT "$SERVER_PID" 2>/dev/null
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${SIGNET_TEST_KEEP:-}" ] && cp "$T_DIR"/*.log "${SIGNET_TEST_KEEP}/" 2>/dev/null
	docker ps -aq --filter "label=signet.test=$TAG" |
		xargs -r docker rm -f >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

export SIGNET_PKI="$T_DIR/pki"
{ "$PKI_SCRIPT" init "$SIGNET_PKI" --nopass &&
	"$PKI_SCRIPT" server localhost --dns localhost --ip 127.0.0.1 &&
	"$PKI_SCRIPT" agent web-01 && "$PKI_SCRIPT" operator alice; } >/dev/null ||
	{ not_ok "PKI"; finish; exit 1; }
K=$SIGNET_PKI/keys
AK=$K/agents
# The agent's checkpoints go to the server every second (audit_extra).
CHECKPOINT_INTERVAL=1
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "rk-*" }, "actions": ["RESTART"], "accept_relay_signed": true } ] }
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
check "server starts" start_server
start_agent web-01
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
check "agent connects" wait_for 10 connected
# sleep as PID 1 ignores SIGTERM: a RESTART waits the agent's stop_timeout.
cid=$(docker run -d --network none --label "signet.test=$TAG" --name "rk-$TAG" \
	"$SIGNET_TEST_IMAGE" sleep 100000)
known() { api_get "/api/containers/$cid" >/dev/null 2>&1; }
check "container in the inventory" wait_for 10 known

restart() { api_post "/api/containers/$cid/actions?wait=0" "{\"action\":\"RESTART\",\"reason\":\"$1\"}" | sed '$d' | pyq 'd["action_id"]'; }
status() { api_get "/api/actions/$1" | pyq 'd["status"]'; }
is_success() { [ "$(status "$1")" = SUCCESS ]; }
rec() { jq -c --arg id "$1" 'select(.event == "action.result" and .data.action_id == $id)' "$SLOG"; }
executed() { jq -e --arg id "$1" 'select(.event == "action.executed" and .data.action_id == $id)' "$ALOG" >/dev/null 2>&1; }
old_id=$(jq -r 'select(.event == "agent.started") | .data.result_key_id' "$ALOG" | tail -n 1)

# The size of the agent checkpoint the server holds (none: empty).
cp_size() { api_get "/api/audit/checkpoint?log=agent/web-01" 2>/dev/null | sed -n 2p; }
cp_held() { [ -n "$(cp_size)" ]; }
cp_above() { [ "$(cp_size)" -gt "$1" ] 2>/dev/null; }

a1=$(restart "before the rotation")
check "an action under the old key succeeds" wait_for 30 is_success "$a1"
check "the server holds an agent checkpoint (the old key's)" wait_for 20 cp_above 1
check "...its result recorded with the old key's id" \
	test "$(rec "$a1" | jq -r '.data.result_key_id')" = "$old_id"

# The result of a2 never reaches a server that reads: frozen once the
# action is out, killed once the agent ran it; the agent stops too.
a2=$(restart "answered across the rotation")
check "the server sent a2" wait_for 10 grep -q "action sent: action_id=$a2" "$T_DIR/server.log"
kill -STOP "$SERVER_PID"
check "the agent ran a2" wait_for 20 executed "$a2"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "a2's result was never recorded" test -z "$(rec "$a2")"

# The rotation, as an admin does it.
sleep 1 # the STAMP is after a2 was sent, to the second
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$T_DIR/newkey" "$AK/retired"
chmod 0755 "$AK/retired"
(cd "$T_DIR/newkey" && "$SIGNETCTL" keygen --raw web-01 >/dev/null)
new_id=$(cd "$T_DIR/newkey" && python3 -c '
import base64,hashlib,sys
print(hashlib.sha256(base64.b64decode(open(sys.argv[1]).read().strip())).hexdigest()[:16])' web-01.pub)
mv "$AK/web-01.pub" "$AK/retired/web-01.$STAMP.pub"
cp "$T_DIR/newkey/web-01.pub" "$AK/web-01.pub"
chmod 0644 "$AK/web-01.pub"
cp "$AK/retired/web-01.$STAMP.pub" "$T_DIR/agent-retired.pub"
sed -i "s|^result .*|result     = $T_DIR/newkey/web-01.key\nresult_retired = $T_DIR/agent-retired.pub|" \
	"$T_DIR/agent-web-01.conf"
# A name that is not a retired key's: ignored, and said.
cp "$AK/web-01.pub" "$AK/retired/web-01.old.pub"

check "server restarts" start_server
s1=$(cp_size)
check "the checkpoints kept under the old key verify with the retired key at start (held $s1)" \
	test -n "$s1"
check "...none refused" grep -q "1 host(s) read back from .*, 0 refused" "$T_DIR/server.log"
start_agent web-01
check "the agent comes back under the same host id" wait_for 15 connected
check "...its hello proves the new key" \
	test "$(jq -r 'select(.event == "agent.connected") | .data.result_key_id' "$SLOG" | tail -n 1)" = "$new_id"
check "...and its log says so" \
	test "$(jq -r 'select(.event == "agent.started") | .data.result_key_id' "$ALOG" | tail -n 1)" = "$new_id"
check "the old-key result of a2 is taken" wait_for 20 is_success "$a2"
check "...recorded with the retired key's id" \
	test "$(rec "$a2" | jq -r '.data.result_key_id')" = "$old_id"
check "the malformed retired name was ignored and said" \
	grep -q "retired/web-01.old.pub: ignored" "$T_DIR/server.log"
rm "$AK/retired/web-01.old.pub"
a3=$(restart "after the rotation")
check "an action under the new key succeeds" wait_for 30 is_success "$a3"
check "...recorded with the new key's id" \
	test "$(rec "$a3" | jq -r '.data.result_key_id')" = "$new_id"
check "a checkpoint under the new key extends them" wait_for 20 cp_above "${s1:-0}"

kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "the server's log verifies with --agent-keys" \
	quiet "$SIGNETCTL" audit verify "$SLOG" --key "$K/audit.pub" \
	--action-key "$K/action.pub" --agent-keys "$AK"
check "the agent's log verifies across the rotation (--agent-keys, --agent-host)" \
	quiet "$SIGNETCTL" audit verify "$ALOG" --agent-keys "$AK" --agent-host web-01 \
	--action-key "$K/action.pub"
check "...and with --key given twice" \
	quiet "$SIGNETCTL" audit verify "$ALOG" --key "$AK/web-01.pub" \
	--key "$T_DIR/agent-retired.pub" --action-key "$K/action.pub" --agent-keys "$AK"
check_fails_with "the agent's log with the new key alone names the old one" "$old_id" \
	"$SIGNETCTL" audit verify "$ALOG" --key "$AK/web-01.pub" --action-key "$K/action.pub"
rc_out=$("$SIGNETCTL" audit reconcile --server "$SLOG" --agent "$ALOG" \
	--key "$K/audit.pub" --agent-keys "$AK" --action-key "$K/action.pub" -o json 2>"$T_DIR/reconcile-err.log")
check "reconcile joins the two logs across the rotation" test $? -eq 0 -a ! -s "$T_DIR/reconcile-err.log"
check "...with no problem" test "$(jq -r '.summary.with_problems' <<<"$rc_out" 2>/dev/null)" = 0
check "both logs match docs/schema" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$SLOG" "$ALOG"

mv "$AK/retired/web-01.$STAMP.pub" "$T_DIR/"
check_fails_with "without the retired key the server's log fails, naming it" "$old_id" \
	"$SIGNETCTL" audit verify "$SLOG" --key "$K/audit.pub" \
	--action-key "$K/action.pub" --agent-keys "$AK"
check_fails_with "...and so does the agent's" "$old_id" \
	"$SIGNETCTL" audit verify "$ALOG" --agent-keys "$AK" --agent-host web-01
check_fails_with "...and reconcile" "$old_id" \
	"$SIGNETCTL" audit reconcile --server "$SLOG" --agent "$ALOG" \
	--key "$K/audit.pub" --agent-keys "$AK" --action-key "$K/action.pub"
mv "$T_DIR/web-01.$STAMP.pub" "$AK/retired/"

# A retired key file others may write: the hello is refused, naming it.
chmod 0666 "$AK/retired/web-01.$STAMP.pub"
start_agent web-01
refused() { grep -q "web-01.$STAMP.pub.*writable\|writable.*web-01.$STAMP.pub" "$T_DIR/server.log"; }
check "a retired key others may write refuses the agent, naming the file" wait_for 15 refused
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
finish
