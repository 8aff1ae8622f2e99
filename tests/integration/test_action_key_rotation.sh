#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Rotating the server's action key, as the README tells the admin to: the
# real signet-agent against tests/tools/fake_server (which plays the server
# and signs with whichever key it is told) and the private test dockerd.
# A second action key from `signet-pki action-key`; the agent pins the old
# and the new one (one file, one key a line) and accepts RESTARTs signed by
# either, while a third key is refused (unknown key id), also when it
# claims either pinned key's id (bad signature), with the container left
# as it was, no result (the frame is unverified) and the agent's audit log
# saying why in a frame.refused record that names no action. Then the end of the
# rotation: the old key's line removed, the agent restarted; the old key
# is refused and the new one still accepted. A pinned file holding a
# secret key or a key twice keeps the agent from starting; `signet-pki
# bundle --action-pub` ships the pinned pair.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }

TAG="sgr$$"
LOG="$T_DIR/agent-web-01-audit.log"
OUT="$T_DIR/fake.out"

cleanup() {
	exec 9>&- 2>/dev/null
	local p
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	docker ps -aq --filter "label=signet.test=$TAG" |
		xargs -r docker rm -f >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

# ---- helpers ----

. "$(dirname "$0")/fake.sh"

started_at() { docker inspect -f '{{.State.StartedAt}}' "$1"; }
kid() { base64 -d <"$1" | sha256sum | cut -c1-16; }

# accepted NAME ARGS...: a RESTART (signed as ARGS say) runs: SUCCESS and
# a new StartedAt.
accepted() {
	local name=$1 s0 id line; shift
	s0=$(started_at "$WEB")
	sleep 1.1                   # StartedAt has 1 s resolution at worst
	send_action "$WEB" RESTART --reason '"key rotation"' "$@"
	id=$(last_id)
	line=$(result "$id" 1 20)
	check "$name: SUCCESS ($line)" grep -q 'status=SUCCESS error="" docker_status=204 .* sig=ok' <<<"$line"
	check "$name: the container restarted" test "$(started_at "$WEB")" != "$s0"
	check "$name: audited as executed" sh -c \
		"jq -r 'select(.data.action_id == \"$id\") | .event' '$LOG' | grep -qx action.executed"
}

# refused NAME PATTERN ARGS...: a RESTART signed as ARGS say is refused
# unverified: a frame.refused record whose reason matches PATTERN and
# that holds the frame's SHA-256, and a frame_refused to the server with
# the frame's and the payload's SHA-256; no result, even once the next action
# (a control START signed by the new key, which the policy denies: an
# answer, and nothing runs) has been answered; the container is untouched.
refused() {
	local name=$1 pattern=$2 s0 id sha psha n0 line; shift 2
	s0=$(started_at "$WEB")
	n0=$(jq -c 'select(.event == "frame.refused")' "$LOG" | wc -l)
	send_action "$WEB" RESTART --reason '"key rotation"' --save "$T_DIR/refused.frame" "$@"
	id=$(last_id)
	sha=$(tr -d '\n' <"$T_DIR/refused.frame" | sha256sum | cut -c1-64)
	check "$name: audited as frame.refused" wait_for 10 sh -c \
		"[ \$(jq -c 'select(.event == \"frame.refused\")' '$LOG' | wc -l) -gt $n0 ]"
	check "$name: unverified, says why, hashes the frame" sh -c \
		"jq -c 'select(.event == \"frame.refused\") | .data' '$LOG' | tail -n 1 |
		 jq -e --arg s $sha '(.reason | test(\"^unverified frame: .*($pattern)\")) and .frame_sha256 == \$s' >/dev/null"
	psha=$(jq -r .payload "$T_DIR/refused.frame" | base64 -d | sha256sum | cut -c1-64)
	check "$name: the server is told by the frame's and the payload's hashes, not the action" \
		wait_for 10 grep -Eq "^refused frame_sha256=$sha request_sha256=$psha reason=\"unverified frame: .*($pattern)" "$OUT"
	send_action "$WEB" START --reason '"control after a refusal"' --key "$P/keys/action-2.key"
	line=$(result "$(last_id)" 1 20)
	check "$name: the next action is answered ($line)" grep -q 'status=DENIED .* sig=ok' <<<"$line"
	check "$name: no result for the refused frame" \
		sh -c "! grep -q '^result action_id=$id ' '$OUT'"
	check "$name: the agent's log never names its action_id" \
		sh -c "! grep -q '$id' '$LOG'"
	check "$name: container untouched" test "$(started_at "$WEB")" = "$s0"
}

# restart_agent N: stops the agent, starts it again, waits for hello N.
restart_agent() {
	kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
	start_agent web-01
	wait_hello "$1"
}

# ---- setup ----
make_pki || { echo "FAIL: PKI"; exit 1; }
P=$SIGNET_PKI
check "signet-pki action-key makes a second action key" \
	quiet "$PKI_SCRIPT" action-key action-2
check "action-key: secret 0600, public 0644" \
	test "$(stat -c %a "$P/keys/action-2.key")/$(stat -c %a "$P/keys/action-2.pub")" = 600/644
check_fails_with "action-key refuses to overwrite" 'already exists' \
	"$PKI_SCRIPT" action-key action-2
(cd "$T_DIR" && "$SIGNETCTL" keygen --raw third >/dev/null)
OLD=$(kid "$P/keys/action.pub")
NEW=$(kid "$P/keys/action-2.pub")
THIRD=$(kid "$T_DIR/third.pub")
check "three different key ids" test "$OLD" != "$NEW" -a "$OLD" != "$THIRD" -a "$NEW" != "$THIRD"

# The agent's pinned file during the rotation: both keys, one a line.
PINNED=$T_DIR/pinned.pub
{
	echo "# action keys: old, then new (rotation in progress)"
	cat "$P/keys/action.pub"
	echo
	cat "$P/keys/action-2.pub"
} >"$PINNED"
chmod 644 "$PINNED"
cp "$PINNED" "$T_DIR/both.pub"

AGENT_PORT=$(free_port)
cat >"$T_DIR/policy.json" <<EOF
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "$TAG-web-*", "labels": { "signet.test": "$TAG" } },
               "actions": ["RESTART"], "accept_relay_signed": true, "operators": ["alice"], "min_reason_length": 5 } ] }
EOF
chmod 644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
sed -i "s|^action_pub = .*|action_pub = $PINNED|" "$T_DIR/agent-web-01.conf"
WEB=$(docker run -d --network none --stop-timeout 1 --name "$TAG-web-1" \
	--label "signet.test=$TAG" "$SIGNET_TEST_IMAGE" sleep 100000)
check "test container runs" test -n "$WEB"

# A bundle for a host enrolled mid-rotation carries both keys.
check "bundle --action-pub ships the pinned pair" \
	quiet "$PKI_SCRIPT" bundle web-01 --out "$T_DIR/web-01.tar.gz" --action-pub "$PINNED"
check "the bundle's keys/action.pub is that file" \
	sh -c "tar -xzOf '$T_DIR/web-01.tar.gz' keys/action.pub | cmp -s - '$PINNED'"
check_fails_with "bundle --action-pub refuses a secret key" 'never a .key' \
	"$PKI_SCRIPT" bundle web-01 --out "$T_DIR/bad.tar.gz" --action-pub "$P/keys/action-2.key"

start_fake || exit 1
start_agent web-01
check "agent says hello" wait_hello 1
check "agent.started lists both pinned key ids" sh -c \
	"jq -c 'select(.event == \"agent.started\") | .data.action_key_ids' '$LOG' | tail -n 1 | grep -qx '\\[\"$OLD\",\"$NEW\"\\]'"

# ---- during the rotation: either pinned key, never a third ----
accepted "signed by the old key"
accepted "signed by the new key" --key "$P/keys/action-2.key"
refused "signed by a third key" "unknown key" --key "$T_DIR/third.key"
refused "a third key claiming the old key's id" "bad signature" \
	--key "$T_DIR/third.key" --key-id "$OLD"
refused "a third key claiming the new key's id" "bad signature" \
	--key "$T_DIR/third.key" --key-id "$NEW"
refused "the old key claiming the new key's id" "bad signature" \
	--key-id "$NEW"

# ---- the rotation done: only the new key pinned, agent restarted ----
cp "$P/keys/action-2.pub" "$PINNED"
restart_agent 2 || not_ok "agent back after the restart"
check "agent.started lists the new key only" sh -c \
	"jq -c 'select(.event == \"agent.started\") | .data.action_key_ids' '$LOG' | tail -n 1 | grep -qx '\\[\"$NEW\"\\]'"
accepted "after the rotation: the new key" --key "$P/keys/action-2.key"
refused "after the rotation: the old key" "unknown key"
refused "after the rotation: a third key" "unknown key" --key "$T_DIR/third.key"

# ---- a bad pinned file keeps the agent from starting ----
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
cat "$P/keys/action-2.pub" "$P/keys/action-2.pub" >"$PINNED"
check_fails_with "a key pinned twice: the agent refuses to start" \
	'pinned action keys refused.*listed twice' \
	timeout 20 "$AGENT_BIN" --config "$T_DIR/agent-web-01.conf"
cp "$P/keys/action-2.key" "$PINNED"
chmod 644 "$PINNED"
check_fails_with "a secret key as pinned key: the agent refuses to start" \
	'pinned action keys refused' \
	timeout 20 "$AGENT_BIN" --config "$T_DIR/agent-web-01.conf"

check "the agent's audit log verifies, actions of both keys included" \
	quiet "$SIGNETCTL" audit verify "$LOG" --key "$P/keys/agents/web-01.pub" \
	--action-key "$T_DIR/both.pub" --agent-keys "$P/keys/agents"
[ "$T_FAIL" -eq 0 ] || { echo "# agent log:"; grep -E " (warn|error) " "$T_DIR/agent-web-01.log" | tail -n 40; }
finish
