#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The agent's action path end to end: the real signet-agent against
# tests/tools/fake_server (plays the server: signs actions with the PKI's
# action key, or forges them) and the private test dockerd with busybox
# containers. A valid RESTART runs (new StartedAt); every hostile action
# leaves the container as it was and the agent's audit log says why: bad
# signature, another key, an unknown key id (unverified: no result, and a
# frame.refused record that names no action), another host_id, expired,
# issued in the future, too long a lifetime, malformed JSON, wrong types, an unknown action, a frame over
# 64 KiB, a policy denial, a missing container. START of a running
# container is SUCCESS with dockerd's 304. The same signed frame delivered
# again (at-least-once delivery, issue 16) is never run twice: it gets the
# same signed result bytes again (also after the agent restarts), or
# nothing while it is still queued or running (its one result follows);
# another payload under a seen action_id is REJECTED "replay". An agent
# killed -9 while dockerd
# stops a container does not run the action again after a restart, and its
# answer (UNKNOWN: action.dispatched shows dockerd was asked) and then its
# observed outcome reach the server; a result made while the server is away is
# delivered after the agent reconnects. The audit log verifies with
# signetctl audit verify, embedded actions and results included.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }

TAG="sga$$"
LOG="$T_DIR/agent-web-01-audit.log"
OUT="$T_DIR/fake.out"

cleanup() {
	exec 9>&- 2>/dev/null
	r_cleanup_procs
	# SIGNET_TEST_KEEP=DIR keeps the logs for a look.
	[ -n "${SIGNET_TEST_KEEP:-}" ] && cp "$T_DIR"/*.log "$OUT" "$T_DIR/fake.err" "${SIGNET_TEST_KEEP}/" 2>/dev/null
	docker ps -aq --filter "label=signet.test=$TAG" |
		xargs -r docker rm -f >/dev/null 2>&1
	t_cleanup
}
r_cleanup_procs() {
	local p
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# ---- helpers ----

. "$(dirname "$0")/fake.sh"

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# audit_for ID: the agent's records about action ID as [event, why] lines.
audit_for() {
	jq -c --arg id "$1" 'select(.data.action_id == $id) |
		[.event, (.data.reason // ""), (.data.why // ""), (.data.error // "")]' "$LOG"
}

# redelivered ID ANSWER: an action.redelivered record for ID with ANSWER.
redelivered() {
	jq -e --arg id "$1" --arg a "$2" \
		'select(.event == "action.redelivered" and .data.action_id == $id and .data.answer == $a)' \
		"$LOG" >/dev/null
}
# nredelivered ID: how many action.redelivered records ID has.
nredelivered() {
	jq -c --arg id "$1" 'select(.event == "action.redelivered" and .data.action_id == $id)' "$LOG" | wc -l
}
# rsha ID N: the result_sha256 of ID's Nth result line (the signed bytes).
rsha() { field result_sha256 "$(result "$1" "$2")"; }

# audit_has ID EVENT PATTERN: some EVENT record for ID matches PATTERN.
audit_has() {
	audit_for "$1" | grep "^\[\"$2\"" | grep -Eq -- "$3"
}

started_at() { docker inspect -f '{{.State.StartedAt}}' "$1"; }
state() { docker inspect -f '{{.State.Status}}' "$1"; }
rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# hostile NAME CID STATUS PATTERN COMMAND...: sends COMMAND (an action),
# expects a result of STATUS whose error matches PATTERN, an audit record
# saying so, and the container CID untouched.
hostile() {
	local name=$1 cid=$2 status=$3 pattern=$4 s0 st0 id line; shift 4
	s0=$(started_at "$cid"); st0=$(state "$cid")
	shift                           # "action"
	send_action "$@"
	id=$(last_id)
	line=$(result "$id")
	if [ "$(field status "$line")" = "$status" ] &&
		grep -Eq -- "error=\".*($pattern)" <<<"$line" &&
		grep -q "sig=ok" <<<"$line"; then
		ok "$name: $status"
	else
		not_ok "$name: wanted $status /$pattern/, got: ${line:-no result}"
	fi
	if [ "$status" = DENIED ]; then
		check "$name: audited" audit_has "$id" policy.denied "$pattern"
	else
		check "$name: audited" audit_has "$id" action.rejected "$pattern"
	fi
	check "$name: container untouched" test "$(started_at "$cid")/$(state "$cid")" = "$s0/$st0"
	check "$name: never received for execution" \
		test -z "$(audit_for "$id" | grep '"action.received"')"
}

# unverified NAME PATTERN ARGS...: an action frame (ARGS) whose signature
# does not verify claims an action_id: the agent answers nothing signed
# for it, and its log records the refusal as unverified, with the SHA-256
# of the exact frame bytes and no action named (issue 12, item 1). The
# control action after it (START of a running container, 304) is answered,
# so the agent had its turn to answer the refused frame.
unverified() {
	local name=$1 pattern=$2 s0 id sha n0 line; shift 2
	s0=$(started_at "$WEB")
	n0=$(jq -c 'select(.event == "frame.refused")' "$LOG" | wc -l)
	send_action "$@" --save "$T_DIR/unverified.frame"
	id=$(last_id)
	sha=$(tr -d '\n' <"$T_DIR/unverified.frame" | sha256sum | cut -c1-64)
	if wait_for 5 sh -c "[ \$(jq -c 'select(.event == \"frame.refused\")' '$LOG' | wc -l) -gt $n0 ]"; then
		ok "$name: audited as frame.refused"
	else
		not_ok "$name: no frame.refused record"
	fi
	check "$name: the record is unverified, says why and hashes the frame" sh -c \
		"jq -c 'select(.event == \"frame.refused\") | .data' '$LOG' | tail -n 1 |
		 jq -e --arg s $sha '(.reason | test(\"^unverified frame: .*($pattern)\")) and .frame_sha256 == \$s' >/dev/null"
	send_action "$WEB" START --reason '"control after a refusal"'
	line=$(result "$(last_id)" 1 20)
	check "$name: the control action after it is answered ($line)" \
		grep -q 'status=SUCCESS' <<<"$line"
	check "$name: no result for the claimed action_id" \
		sh -c "! grep -q '^result action_id=$id ' '$OUT'"
	check "$name: the agent's log never names the claimed action_id" \
		sh -c "! grep -q '$id' '$LOG'"
	check "$name: container untouched" test "$(started_at "$WEB")" = "$s0"
}

# refused NAME PATTERN FILE: a frame with no readable action id (raw FILE)
# gets no result and a frame.refused record matching PATTERN.
refused() {
	local name=$1 pattern=$2 file=$3 n0 s0
	n0=$(jq -c 'select(.event == "frame.refused")' "$LOG" | wc -l)
	s0=$(started_at "$WEB")
	send raw "$file"
	if wait_for 5 sh -c "[ \$(jq -c 'select(.event == \"frame.refused\")' '$LOG' | wc -l) -gt $n0 ]"; then
		ok "$name: audited as frame.refused"
	else
		not_ok "$name: no frame.refused record"
	fi
	check "$name: says why" sh -c "jq -r 'select(.event == \"frame.refused\") | .data.reason' '$LOG' | tail -n 1 | grep -Eq -- '$pattern'"
	check "$name: container untouched" test "$(started_at "$WEB")" = "$s0"
}

# ---- setup: PKI, policy, containers, fake server, agent ----
make_pki || { echo "FAIL: PKI"; exit 1; }
AGENT_PORT=$(free_port)
cat >"$T_DIR/policy.json" <<EOF
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "$TAG-web-*", "labels": { "signet.test": "$TAG" } },
               "actions": ["START", "STOP", "RESTART"], "accept_relay_signed": true,
               "operators": ["alice"], "min_reason_length": 5 } ] }
EOF
chmod 644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
run_c() {
	docker run -d --network none --stop-timeout 1 --name "$TAG-$1" \
		--label "signet.test=$TAG" "$SIGNET_TEST_IMAGE" sleep 100000
}
WEB=$(run_c web-1)
DB=$(run_c db-1)
SLOW=$(run_c web-slow)
check "test containers run" test -n "$WEB" -a -n "$DB" -a -n "$SLOW"
(cd "$T_DIR" && "$SIGNETCTL" keygen --raw other >/dev/null)
kid() { base64 -d <"$1" | sha256sum | cut -c1-16; }
PINNED=$(kid "$SIGNET_PKI/keys/action.pub")

start_fake || exit 1
start_agent web-01
check "agent says hello to the (fake) server" wait_hello 1

# ---- the control: a valid RESTART runs ----
s0=$(started_at "$WEB")
sleep 1.1                       # StartedAt has 1 s resolution at worst
send_action "$WEB" RESTART --reason '"deploy fix 123"' --save "$T_DIR/valid.frame"
VALID=$(last_id)
line=$(result "$VALID" 1 20)
check "valid RESTART: SUCCESS 204, signed, for the request sent ($line)" \
	grep -q "status=SUCCESS error=\"\" docker_status=204 .* sig=ok request=match" <<<"$line"
check "valid RESTART: the container restarted (new StartedAt)" \
	test "$(started_at "$WEB")" != "$s0"
check "valid RESTART: running" test "$(state "$WEB")" = running
check "valid RESTART: audited received, dispatched, then executed" \
	test "$(audit_for "$VALID" | jq -r '.[0]' | tr '\n' ' ')" = "action.received action.dispatched action.executed "

# ---- hostile actions ----
unverified "bad signature" "bad signature" "$WEB" RESTART --bad-sig
unverified "another key (claiming the pinned id)" "bad signature" \
	"$WEB" RESTART --key "$T_DIR/other.key" --key-id "$PINNED"
unverified "an unknown key id" "unknown key" \
	"$WEB" RESTART --key "$T_DIR/other.key"
hostile "another host_id" "$WEB" REJECTED "wrong host" \
	action "$WEB" RESTART --host web-02
hostile "expired" "$WEB" REJECTED "expired" \
	action "$WEB" RESTART --expired
hostile "issued in the future" "$WEB" REJECTED "in the future" \
	action "$WEB" RESTART --future
hostile "lifetime over 300 s" "$WEB" REJECTED "lifetime" \
	action "$WEB" RESTART --lifetime 400
hostile "policy: a container no rule matches" "$DB" DENIED "does not match" \
	action "$DB" RESTART --reason '"deploy fix 123"'
hostile "policy: an operator not listed" "$WEB" DENIED "operator not listed" \
	action "$WEB" RESTART --operator mallory --reason '"deploy fix 123"'
hostile "policy: reason too short" "$WEB" DENIED "reason" \
	action "$WEB" RESTART --reason ab
GONE=$(rand_hex 32)
hostile "a container dockerd does not have" "$WEB" REJECTED "no such container" \
	action "$GONE" START

# Wrong types in a signed payload: REJECTED, named by its action id.
id=$(rand_hex 16)
now=$(date +%s%3N)
printf '{"v":1,"action_id":"%s","host_id":"web-01","container_id":"%s","action":"RESTART","reason":"deploy fix 123","requested_by":"alice","issued_at":"%s","expires_at":%s}' \
	"$id" "$WEB" "$now" "$((now + 60000))" >"$T_DIR/types.json"
s0=$(started_at "$WEB")
send signed "$T_DIR/types.json"
line=$(result "$id")
check "wrong types: REJECTED ($line)" grep -q "status=REJECTED error=\"malformed action" <<<"$line"
check "wrong types: audited" audit_has "$id" action.rejected "issued_at"
check "wrong types: container untouched" test "$(started_at "$WEB")" = "$s0"

# An unknown action: refused and audited; a result (docs/protocol.md)
# cannot carry it.
send_action "$WEB" KILL
id=$(last_id)
check "unknown action: audited" wait_for 5 audit_has "$id" action.rejected "unknown action"
check "unknown action: no result (it cannot name an action)" \
	sh -c "! grep -q '^result action_id=$id ' '$OUT'"
check "unknown action: container untouched" test "$(state "$WEB")" = running

# Frames with no readable action id: refused, counted, audited.
printf '{"type":"action","payload":' >"$T_DIR/malformed.json"
refused "malformed JSON" "malformed frame" "$T_DIR/malformed.json"
{ printf '{"type":"action","payload":"'; head -c 70000 /dev/zero | tr '\0' A; printf '"}'; } >"$T_DIR/big.json"
refused "an action frame over 64 KiB" "over the 65536 allowed" "$T_DIR/big.json"
{ printf '{"type":"action","payload":"'; head -c 400000 /dev/zero | tr '\0' A; printf '"}'; } >"$T_DIR/huge.json"
refused "a message over 384 KiB (dropped)" "over 384 KiB" "$T_DIR/huge.json"
check "the agent is still connected after the big frame" \
	test "$(grep -c '^closed' "$OUT")" -eq 0

# The captured valid action delivered again: the first result, not a run.
s0=$(started_at "$WEB")
send raw "$T_DIR/valid.frame"
line=$(result "$VALID" 2)
check "redelivered: the original SUCCESS is sent again ($line)" \
	grep -q "status=SUCCESS .* request=match" <<<"$line"
r1=$(rsha "$VALID" 1)
check "redelivered: the very same signed result bytes (${r1:-?})" \
	test -n "$r1" -a "$r1" = "$(rsha "$VALID" 2)"
check "redelivered: audited, answer resent" redelivered "$VALID" resent
check "redelivered: not rejected" \
	test "$(audit_for "$VALID" | grep -c '"action.rejected"')" -eq 0
check "redelivered: container untouched" test "$(started_at "$WEB")" = "$s0"
check "redelivered: received once only" \
	test "$(audit_for "$VALID" | grep -c '"action.received"')" -eq 1
# Another payload under that action_id: a replay, REJECTED.
send_action "$WEB" STOP --id "$VALID" --reason '"another payload"'
line=$(result "$VALID" 3)
check "another payload under a seen id: REJECTED replay ($line)" \
	grep -q 'status=REJECTED error="replay: action_id' <<<"$line"
check "another payload: audited as rejected" audit_has "$VALID" action.rejected "replay"
check "another payload: no redelivery recorded" test "$(nredelivered "$VALID")" -eq 1
check "another payload: container untouched" \
	test "$(started_at "$WEB")/$(state "$WEB")" = "$s0/running"

# ---- 304 is SUCCESS ----
send_action "$WEB" START --reason '"make sure it runs"'
line=$(result "$(last_id)")
check "START of a running container: SUCCESS with docker_status 304 ($line)" \
	grep -q "status=SUCCESS error=\"\" docker_status=304" <<<"$line"
# succeeded LINE STATE: a SUCCESS 204 result, and WEB in STATE.
succeeded() {
	grep -q 'status=SUCCESS error="" docker_status=204' <<<"$1" &&
		[ "$(state "$WEB")" = "$2" ]
}
send_action "$WEB" STOP --reason '"maintenance window"'
line=$(result "$(last_id)" 1 20)
check "STOP: SUCCESS 204, container exited" succeeded "$line" exited
send_action "$WEB" START --reason '"maintenance over"'
line=$(result "$(last_id)" 1 20)
check "START: SUCCESS 204, running again" succeeded "$line" running

# ---- delivered again after the agent restarts ----
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "agent stopped cleanly" test "$(tail -n 1 "$LOG" | jq -r .event)" = agent.stopped
start_agent web-01
check "agent back" wait_hello 2
s0=$(started_at "$WEB")
n0=$(grep -c "^result action_id=$VALID " "$OUT")
send raw "$T_DIR/valid.frame"
line=$(result "$VALID" $((n0 + 1)))
check "redelivered after restart: the result held since is sent again ($line)" \
	grep -q "status=SUCCESS .* request=match" <<<"$line"
check "redelivered after restart: the same signed bytes" \
	test -n "$r1" -a "$r1" = "$(rsha "$VALID" $((n0 + 1)))"
check "redelivered after restart: audited (2 resent)" \
	test "$(nredelivered "$VALID")" -eq 2
check "redelivered after restart: container untouched" test "$(started_at "$WEB")" = "$s0"
check "redelivered after restart: received once only" \
	test "$(audit_for "$VALID" | grep -c '"action.received"')" -eq 1

# ---- killed mid-action: not run twice, answered after the restart ----
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
sed -i 's/^stop_timeout  = 1$/stop_timeout  = 3/' "$T_DIR/agent-web-01.conf"
start_agent web-01
check "agent back with stop_timeout 3" wait_hello 3
t0=$(date +%s)
send_action "$SLOW" STOP --reason '"drain and stop"' --save "$T_DIR/slow.frame"
SLOWID=$(last_id)
check "slow STOP: received (recorded before dockerd is asked)" \
	wait_for 5 audit_has "$SLOWID" action.received ""
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "agent killed while dockerd stops the container" \
	test "$(audit_for "$SLOWID" | grep -c '"action.executed"')" -eq 0
check "dockerd finishes the stop by itself" wait_for 10 sh -c "[ \"\$(docker inspect -f '{{.State.Status}}' $SLOW)\" = exited ]"
start_agent web-01
check "agent back after kill -9" wait_hello 4
line=$(result "$SLOWID" 1 15)
# Issue 12, item 11: action.dispatched shows dockerd was asked, so the
# answer is UNKNOWN, and the follow-up finds out the STOP did happen.
check "the interrupted action is answered UNKNOWN after the restart ($line)" \
	grep -q "status=UNKNOWN error=\"outcome unknown: dockerd was asked" <<<"$line"
check "its outcome follows: the STOP ran" \
	wait_for 15 grep -q "^outcome action_id=$SLOWID observed=ran sig=ok" "$OUT"
# (jq 1.6's -e judges the last record only: the outcome follows now.)
check "answered as recovered in the audit log" sh -c \
	"jq -c --arg id $SLOWID 'select(.data.action_id == \$id and .event == \"action.executed\") | .data.recovered' '$LOG' | grep -qx true"
send raw "$T_DIR/slow.frame"
check "the interrupted action, sent again: its UNKNOWN again, not a run" \
	wait_for 5 redelivered "$SLOWID" resent
line=$(result "$SLOWID" 2 15)
check "...the same UNKNOWN result bytes ($line)" \
	test -n "$(rsha "$SLOWID" 1)" -a "$(rsha "$SLOWID" 1)" = "$(rsha "$SLOWID" 2)"
sleep 1
check "received once only" test "$(audit_for "$SLOWID" | grep -c '"action.received"')" -eq 1
stops=$(docker events --since "$t0" --until "$(($(date +%s) + 1))" \
	--filter "container=$SLOW" --filter event=stop --format '{{.Action}}' | wc -l)
check "dockerd stopped the container once ($stops stop events)" test "$stops" -eq 1
check "still exited (not started or stopped again)" test "$(state "$SLOW")" = exited

# ---- delivered again while it runs: nothing more, its one result ----
docker start "$SLOW" >/dev/null
t0=$(date +%s)
send_action "$SLOW" STOP --reason '"drain and stop"' --save "$T_DIR/running.frame"
RUNID=$(last_id)
check "slow STOP under way" wait_for 5 audit_has "$RUNID" action.received ""
send raw "$T_DIR/running.frame"
line=$(result "$RUNID" 1 20)
check "its result arrives ($line)" grep -q "status=SUCCESS .* docker_status=204" <<<"$line"
check "the copy sent while it ran: audited running" wait_for 10 redelivered "$RUNID" running
barrier_early() { refused "$1" "malformed frame" "$T_DIR/barrier.json" >/dev/null; }
printf '{"type":"action","payload":' >"$T_DIR/barrier.json"
barrier_early "running barrier"
check "the copy added no result: one result line" \
	test "$(grep -c "^result action_id=$RUNID " "$OUT")" -eq 1
stops=$(docker events --since "$t0" --until "$(($(date +%s) + 1))" \
	--filter "container=$SLOW" --filter event=stop --format '{{.Action}}' | wc -l)
check "dockerd stopped the container once ($stops stop events)" test "$stops" -eq 1
check "received once only" test "$(audit_for "$RUNID" | grep -c '"action.received"')" -eq 1

# ---- a result made while the server is away is delivered later ----
docker start "$SLOW" >/dev/null
send_action "$SLOW" STOP --reason '"drain and stop"'
AWAY=$(last_id)
check "STOP under way" wait_for 5 audit_has "$AWAY" action.received ""
stop_fake
check "the action finishes with the server away" wait_for 10 \
	sh -c "jq -e --arg id $AWAY 'select(.data.action_id == \$id and .event == \"action.executed\")' '$LOG' >/dev/null"
start_fake || exit 1
line=$(result "$AWAY" 1 20)
check "its result reaches the server after the reconnect ($line)" \
	grep -q "status=SUCCESS .* docker_status=204 .* sig=ok" <<<"$line"

# ---- results are kept until the server acknowledges them ----
# barrier: a frame the agent refuses on its channel thread, which handles
# frames in order: once it is audited, every frame before it (the acks
# included) has been handled.
printf '{"type":"action","payload":' >"$T_DIR/barrier.json"
barrier() { refused "$1" "malformed frame" "$T_DIR/barrier.json" >/dev/null; }
acks() { grep -c "^sent ack action_id=$1\$" "$OUT"; }
send acks off
send_action "$WEB" START --reason '"keep it running"'
KEPT=$(last_id)
check "unacknowledged: the result arrives" result "$KEPT" 1 >/dev/null
check "unacknowledged: the server sent no ack" test "$(acks "$KEPT")" -eq 0
send acks on
h0=$(hellos)
send close
check "unacknowledged: the agent reconnects" wait_hello $((h0 + 1)) 90
line=$(result "$KEPT" 2)
check "unacknowledged: the same result is sent again ($line)" \
	grep -q "status=SUCCESS .* docker_status=304 .* sig=ok" <<<"$line"
check "acknowledged once it came again" wait_for 30 sh -c "[ \$(grep -c '^sent ack action_id=$KEPT\$' '$OUT') -eq 1 ]"
barrier "ack barrier"
h0=$(hellos)
send close
check "acknowledged: the agent reconnects" wait_hello $((h0 + 1)) 90
send_action "$WEB" START --reason '"keep it running"'
NEXT=$(last_id)
check "the next action's result arrives" result "$NEXT" 1 >/dev/null
check "an acknowledged result is not sent again" \
	test "$(grep -c "^result action_id=$KEPT " "$OUT")" -eq 2

# ---- the log ----
barrier "final ack barrier"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "results are acknowledged by the server's result_acks" \
	grep -Eq "results_acked=[1-9]" "$T_DIR/agent-web-01.log"
check "nothing left unacknowledged at the end" \
	test "$(tail -n 1 "$LOG" | jq .data.results_unacknowledged)" = 0
# This last run: the recovered UNKNOWN, the STOP run once while a copy
# came, the STOP while away (the copies delivered again are no answers).
counts=$(tail -n 1 "$LOG" | jq -c '.data | [.actions_succeeded, .actions_failed, .actions_rejected, .actions_denied, .actions_unknown]')
check "agent.stopped counts this run's actions ($counts)" test "$counts" = "[4,0,0,0,1]"
check "the agent's audit log verifies, embedded actions and results included" \
	"$SIGNETCTL" audit verify "$LOG" --key "$SIGNET_PKI/keys/agents/web-01.pub" \
	--action-key "$SIGNET_PKI/keys/action.pub" --agent-keys "$SIGNET_PKI/keys/agents"
out=$("$SIGNETCTL" audit verify "$LOG" --key "$SIGNET_PKI/keys/agents/web-01.pub" \
	--action-key "$SIGNET_PKI/keys/action.pub" --agent-keys "$SIGNET_PKI/keys/agents" 2>&1)
echo "# verify: $out"
check "every result the server got verified" test "$(grep -c '^result sig=BAD' "$OUT")" -eq 0
[ "$T_FAIL" -eq 0 ] || { echo "# agent log:"; grep -E " (warn|error) " "$T_DIR/agent-web-01.log" | tail -n 40; }
finish
