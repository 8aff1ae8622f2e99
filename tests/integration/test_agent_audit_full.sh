#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 12, item 11: the agent's audit log is on a real filesystem that
# fills up (a small tmpfs, then a filler file). A result whose record
# cannot be written is not sent; after a restart (space freed) the agent
# tells from its log alone whether dockerd was asked:
#   A. action.received and action.dispatched are durable, action.executed
#      is not: dockerd was asked, so the answer is UNKNOWN, and the
#      follow-up finds out that the container did restart;
#   B. action.received is durable, action.dispatched is not: dockerd was
#      never asked, so the answer is FAILURE "not run", and the container
#      indeed did not restart.
# Which record fails is chosen by where the log ends in its last page:
# records of a known size (DENIED actions) are added until the free bytes
# of that page fit exactly the records that must succeed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (mount tmpfs)"; exit 77; }

MNT="$T_DIR/alog"
LOG="$MNT/agent-audit.log"
mkdir -p "$MNT" && chmod 0700 "$MNT"
mount -t tmpfs -o size=2m,mode=0700 signet-test-full "$MNT" ||
	{ not_ok "mount a tmpfs"; finish; exit 1; }
stop_all() { local p; for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done; }
trap 'stop_all; umount -l "$MNT" 2>/dev/null; r_cleanup' EXIT

make_pki || { not_ok "PKI"; finish; exit 1; }
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "full-*" }, "actions": ["RESTART"], "accept_relay_signed": true } ] }
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
sed -i "s|^path = .*agent-web-01-audit.log|path = $LOG|" "$T_DIR/agent-web-01.conf"
check "server starts" start_server
start_agent web-01
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
check "agent connects" wait_for 10 connected

cid=$(docker run -d --network none --stop-timeout 1 --name full-1 "$SIGNET_TEST_IMAGE" sleep 100000)
pad=$(docker run -d --network none --name pad-1 "$SIGNET_TEST_IMAGE" sleep 100000)
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
check "containers in the inventory" wait_for 10 known "$pad"
started_at() { docker inspect -f '{{.State.StartedAt}}' "$cid"; }
REASON='{"action":"RESTART","reason":"restart while the disk fills"}'
post() { api_post "/api/containers/$1/actions?wait=${2:-5}" "$REASON"; }
id_of() { sed '$d' <<<"$1" | pyq 'd["action_id"]'; }
act() { api_get "/api/actions/$1"; }
size() { stat -c %s "$LOG"; }
# The bytes of the log line recording EVENT for action ID (with its newline).
rec_len() { grep "\"event\":\"$1\".*\"action_id\":\"$2\"" "$LOG" | head -n 1 | wc -c; }

# One action that runs, to learn the sizes of its three records.
out=$(post "$cid"); a0=$(id_of "$out")
check "a RESTART runs while there is room" test "$(act "$a0" | pyq 'd["status"]')" = SUCCESS
RECV=$(rec_len action.received "$a0"); DISP=$(rec_len action.dispatched "$a0"); EXEC=$(rec_len action.executed "$a0")
echo "# record sizes: received=$RECV dispatched=$DISP executed=$EXEC"
check "the agent records action.dispatched before it asks dockerd" test "$DISP" -gt 1

# pad LOW HIGH: DENIED actions until the free bytes of the log's last
# page are in [LOW, HIGH); then the filesystem is filled.
pad() {
	local i slack
	for i in $(seq 1 60); do
		slack=$(( (4096 - $(size) % 4096) % 4096 ))
		if [ "$slack" -ge "$1" ] && [ "$slack" -lt "$2" ]; then
			head -c "$(df -B1 --output=avail "$MNT" | tail -n 1)" /dev/zero >"$MNT/filler" 2>/dev/null
			sync
			echo "# padded $i: slack $slack in [$1, $2)"
			return 0
		fi
		# Reasons of varied length: records of one size could step
		# over the window for ever.
		api_post "/api/containers/$pad/actions" \
			"{\"action\":\"STOP\",\"reason\":\"padding $(printf '%*s' $((i * 37 % 301)) '' | tr ' ' x)\"}" >/dev/null
	done
	return 1
}
restart_agent() {
	kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
	rm -f "$MNT/filler"
	start_agent web-01
	wait_for 20 connected
}

# A: received and dispatched fit, executed does not.
before=$(started_at)
check "A: the log's page is set up" pad $((RECV + DISP + 40)) $((RECV + DISP + EXEC - 40))
out=$(post "$cid" 3); a1=$(id_of "$out")
ended() { act "$1" | pyq 'd["status"]' | grep -qvx PENDING; }
check "A: the server gets no result (TIMEOUT)" test "$(act "$a1" | pyq 'd["status"]')" = TIMEOUT
check "A: dockerd did restart the container" test "$(started_at)" != "$before"
check "A: the agent says the result is not sent" \
	grep -q "result of action $a1 not sent" "$T_DIR/agent-web-01.log"
check "A: no action.result on the server" \
	test "$(grep -c "\"event\":\"action.result\".*$a1" "$T_DIR/server-audit.log")" = 0
check "A: the agent's log holds received and dispatched, no executed" \
	test "$(grep -c "\"action_id\":\"$a1\"" "$LOG")|$(grep -c "\"event\":\"action.executed\".*$a1" "$LOG")" = "2|0"
check "A: the agent restarts" restart_agent
unknown() { act "$a1" | pyq 'd["status"]' | grep -qx UNKNOWN; }
check "A: after the restart the answer is UNKNOWN" wait_for 20 unknown
check "A: ... saying dockerd was asked" \
	grep -q "dockerd was asked" <<<"$(act "$a1" | pyq 'd["error"]')"
has_outcome() { test "$(act "$1" | pyq '(d.get("outcome") or {}).get("observed") or ""')" = "$2"; }
check "A: the follow-up finds that it ran" wait_for 30 has_outcome "$a1" ran

# B: received fits, dispatched does not.
before=$(started_at)
check "B: the log's page is set up" pad $((RECV + 20)) $((RECV + DISP - 20))
out=$(post "$cid" 3); a2=$(id_of "$out")
check "B: the server gets no result (TIMEOUT)" test "$(act "$a2" | pyq 'd["status"]')" = TIMEOUT
check "B: the agent did not ask dockerd" \
	grep -q "action $a2 not run: .*dockerd was not called" "$T_DIR/agent-web-01.log"
check "B: the agent's log holds only action.received" \
	test "$(grep -c "\"action_id\":\"$a2\"" "$LOG")" = 1
check "B: the agent restarts" restart_agent
failed() { act "$a2" | pyq 'd["status"]' | grep -qx FAILURE; }
check "B: after the restart the answer is FAILURE" wait_for 20 failed
check "B: ... saying it was not run and dockerd was not called" \
	grep -q "not run: .*dockerd was not called" <<<"$(act "$a2" | pyq 'd["error"]')"
check "B: the container did not restart" test "$(started_at)" = "$before"
check "B: no outcome is looked for" \
	test "$(grep -c "\"event\":\"action.outcome\".*$a2" "$LOG")" = 0

stop_all
check "both audit logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/server-audit.log" "$LOG"
docker rm -f "$cid" "$pad" >/dev/null
finish
