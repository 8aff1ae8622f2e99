#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The agent's audit volume is bounded (issue 12, item 7): the real
# signet-agent against tests/tools/fake_server (which forges frames) and
# the private test dockerd. 30 frames with a bad signature write
# [audit] limit_burst frame.refused records (default 10); a SIGHUP storm
# (12 reloads, each waited for) writes 10 policy.reloaded records. When
# the agent stops, one audit.suppressed record per event counts the rest
# of the window by reason, before agent.stopped. The log verifies and
# matches docs/schema.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }

LOG="$T_DIR/agent-web-01-audit.log"
ALOG="$T_DIR/agent-web-01.log"
OUT="$T_DIR/fake.out"
CID=$(printf 'c%.0s' $(seq 1 64))

cleanup() {
	exec 9>&- 2>/dev/null
	local p
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	t_cleanup
}
trap cleanup EXIT

. "$(dirname "$0")/fake.sh"

# records EVENT: how many EVENT records the agent's log holds.
records() { jq -c "select(.event == \"$1\")" "$LOG" | wc -l; }
# summary EVENT JQ: the audit.suppressed summaries of EVENT hold for JQ.
summary() {
	jq -e -s --arg e "$1" "[.[] | select(.event == \"audit.suppressed\" and .data.event == \$e) | .data] | $2" "$LOG" >/dev/null
}

make_pki || { echo "FAIL: PKI"; exit 1; }
AGENT_PORT=$(free_port)
cat >"$T_DIR/policy.json" <<EOF
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "nothing-*" }, "actions": ["START"],
               "operators": ["alice"] } ] }
EOF
chmod 644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
start_fake || exit 1
start_agent web-01
check "agent says hello" wait_hello 1

# ---- 30 frames with a bad signature ----
for _ in $(seq 1 30); do
	send_action "$CID" RESTART --bad-sig >/dev/null
done
check "the agent refused all 30 frames" wait_for 30 sh -c \
	"[ \$(grep -c 'frame from the server refused' '$ALOG') -ge 30 ]"
n=$(records frame.refused)
check "bad signatures: 10 frame.refused records (the default limit_burst), not $n" test "$n" -eq 10
check "bad signatures: no result for any of them" sh -c "! grep -q '^result ' '$OUT'"

# ---- a SIGHUP storm, each reload waited for ----
for i in $(seq 1 12); do
	kill -HUP "$AGENT_PID"
	wait_for 10 sh -c "[ \$(grep -c 'policy reloaded: rules=' '$ALOG') -ge $i ]" ||
		{ not_ok "SIGHUP $i was not handled"; break; }
done
n=$(records policy.reloaded)
check "storm: 10 policy.reloaded records, not $n" test "$n" -eq 10
check "no summary while the windows are open" test "$(records audit.suppressed)" -eq 0

# ---- the agent stops: the counts are written ----
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "stop: the frame.refused summary counts the other 20 as unverified" \
	summary frame.refused 'length == 1 and .[0].counts == {"unverified": 20} and .[0].limit == 10'
check "stop: the policy.reloaded summary counts the other 2" \
	summary policy.reloaded 'length == 1 and .[0].counts == {"sighup": 2}'
check "stop: summaries written before agent.stopped" sh -c \
	"jq -r .event '$LOG' | tail -n 3 | tr '\n' ' ' | grep -qx 'audit.suppressed audit.suppressed agent.stopped '"
check "agent.stopped still counts all 30 refused frames" \
	test "$(tail -n 1 "$LOG" | jq .data.frames_refused)" -eq 30
check "the agent's log verifies" quiet "$SIGNETCTL" audit verify "$LOG" \
	--key "$SIGNET_PKI/keys/agents/web-01.pub"
check "every record matches docs/schema" \
	python3 "$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$LOG"
stop_fake

# ---- a bad bound is refused at start ----
printf 'limit_window = 0\n' >>"$T_DIR/agent-web-01.conf"
check_fails_with "limit_window = 0 is refused" "limit_window = \"0\" must be an integer from 1" \
	"$AGENT_BIN" --config "$T_DIR/agent-web-01.conf"

finish
