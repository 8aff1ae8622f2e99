#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd postgres
# Faults of a cluster (issue 16), every part real: three replicas r1 r2
# r3 on the test suite's PostgreSQL, a real signet-agent given all three
# URLs (r1 up first, alone), the private dockerd, TLS on loopback with certificates
# from signet-pki. One block of named checks per fault:
# 1. kill -9 of the holder (r1) while an action posted on r3 runs (a STOP
#    the container makes slow): the agent fails over to r2, delivers the
#    result there, r2 stores it, r3 (the origin) verifies it and ends the
#    action SUCCESS; docker stopped the container once; r2 holds the host.
# 2. a stale holder (SIGSTOP until another replica holds the host, then
#    SIGCONT): it closes its stale connection (claim_lost), relays nothing
#    for the host and its writes are fenced.
# 3. the database restarted during an action: 503 while it is down, the
#    action ends with its result, its audit records are there, a POST
#    works again once it is back.
# After each block every replica's and the agent's log verify.
# Timings are polled with generous limits, never bounded from above.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_need
need_docker
cd "$T_DIR" || exit 1

. "$(dirname "$0")/cluster_lib.sh"
cluster_init faults || { not_ok "database and PKI"; finish; exit 1; }
REPLICAS=(r1 r2 r3)
# conf_fast NAME: short claims and leases, so that faults play out quickly.
conf_fast() { conf "$1" "claim_ttl_ms = 1500" "queue_lease_ms = 2000"; }

# count_of LOG EVENT ID: how many EVENT records of action ID LOG holds
# (LOG: r1..r3 or agent).
count_of() {
	local f=$T_DIR/$1-audit.log
	[ "$1" = agent ] && f=$T_DIR/agent-web-01-audit.log
	grep "\"event\":\"$2\"" "$f" 2>/dev/null | grep -c "\"action_id\":\"$3\""
}
event_of() { [ "$(count_of "$1" "$2" "$3")" -ge 1 ]; }
# served_by ON R: replica ON's /api/hosts shows web-01 connected, held by R.
served_by() {
	rget "$1" /api/hosts 2>/dev/null |
		pyq "[h for h in d['hosts'] if h['host_id']=='web-01' and h['connected'] and h['replica']=='$2'] != []" |
		grep -q true
}
# verify_all WHEN: signetctl audit verify on every replica's and the
# agent's log.
verify_all() {
	local r out rc
	for r in "${REPLICAS[@]}"; do
		[ -f "$T_DIR/$r-audit.log" ] || continue
		out=$("$SIGNETCTL" audit verify "$T_DIR/$r-audit.log" --key "$K/audit.pub" \
			--action-key "$K/action.pub" --agent-keys "$K/agents" 2>&1); rc=$?
		check "$1: $r's audit log verifies" test "$rc" -eq 0 ||
			printf '%s\n' "$out" | tail -n 5
	done
	out=$("$SIGNETCTL" audit verify "$T_DIR/agent-web-01-audit.log" \
		--key "$K/agents/web-01.pub" --action-key "$K/action.pub" \
		--agent-keys "$K/agents" 2>&1); rc=$?
	check "$1: the agent's audit log verifies" test "$rc" -eq 0 ||
		printf '%s\n' "$out" | tail -n 5
}
# slow_container NAME: a container whose STOP takes about 6 s (its shell
# traps TERM, sleeps, then exits); prints its id.
slow_container() {
	docker run -d --network none --name "$1-$$" "$SIGNET_TEST_IMAGE" \
		sh -c 'trap "sleep 6; exit 0" TERM; while :; do sleep 1; done'
}
# dies_of CID SINCE UNTIL: how many "die" events docker recorded for CID
# between SINCE and UNTIL (unix seconds).
dies_of() {
	docker events --since "$2" --until "$3" --filter "container=$1" \
		--filter event=die --format '{{.Action}}' | grep -c '^die$'
}

cluster_policy "fault-*"

# r1 first, alone: the agent, which starts at a random URL of its list,
# can reach only r1; r2 and r3 join once r1 holds web-01.
for r in "${REPLICAS[@]}"; do conf_fast "$r"; done
start r1 || { not_ok "replica r1 started"; finish; exit 1; }
check "r1 is up in the cluster" wait_for 60 metric_is r1 signet_cluster_up 1

# The agent knows all three.
cluster_agent_conf r1 r2 r3
start_agent web-01
check "r1 holds web-01 (the only replica up)" wait_for 60 holder_is r1
for r in r2 r3; do
	start "$r" || { not_ok "replica $r started"; finish; exit 1; }
done
ok "replicas r1 r2 r3 started on one database"
for r in r2 r3; do
	check "$r is up in the cluster" wait_for 60 metric_is "$r" signet_cluster_up 1
done

# ======== 1. kill -9 of the holder while an action is in flight ========
cid=$(slow_container fault-kill) || not_ok "fault 1: container started"
seen_on() { rget "$1" "/api/containers/$cid" 2>/dev/null | pyq 'd["host_id"]' | grep -qx web-01; }
check "fault 1: r3 sees the container, on r1's host" wait_for 60 seen_on r3
since=$(date +%s)
got=$(rpost r3 "/api/containers/$cid/actions?wait=0" '{"action":"STOP","reason":"the holder dies while it runs"}')
check "fault 1: STOP posted on r3 (202)" test "$got" = 202
aid=$(body 'd["action_id"]')
# The agent is mid-action once docker sent the container its TERM.
killed() {
	docker events --since "$since" --until "$(date +%s)" --filter "container=$cid" \
		--filter event=kill --format '{{.Action}}' | grep -q kill
}
check "fault 1: r1 relayed the action to the agent" wait_for 60 event_of r1 action.relayed "$aid"
check "fault 1: docker is stopping the container (the agent is mid-action)" wait_for 60 killed
check "fault 1: the action is still PENDING at its origin" status_is r3 "$aid" PENDING
kill -9 "${SPID[r1]}"
wait "${SPID[r1]}" 2>/dev/null
ok "fault 1: r1 killed (-9) while the STOP runs"
check "fault 1: the agent failed over: r2 holds web-01" wait_for 60 holder_is r2
check "fault 1: the action ends SUCCESS at its origin r3" wait_for 120 status_is r3 "$aid" SUCCESS
check "fault 1: the container really stopped" test "$(running "$cid")" = false
check "fault 1: the result was delivered to r2 (not the origin): action.result in r2's log" \
	event_of r2 action.result "$aid"
check "fault 1: r2 did not send it (no action.requested nor action.relayed in r2's log)" \
	test "$(count_of r2 action.requested "$aid")$(count_of r2 action.relayed "$aid")" = 00
row_is() { [ "$(pg_sql "$DB" "SELECT status || '|' || origin || '|' || result_by FROM signet_actions WHERE action_id='$1'")" = "$2" ]; }
check "fault 1: the database holds the result, stored by r2, origin r3" \
	wait_for 60 row_is "$aid" "SUCCESS|r3|r2"
check "fault 1: r3 verified and recorded it (action.result in r3's log)" \
	event_of r3 action.result "$aid"
check "fault 1: r3 shows it verified" \
	test "$(rget r3 "/api/actions/$aid" | pyq 'd["status"]+"|"+str(d.get("docker_status"))')" = "SUCCESS|204"
check "fault 1: the agent ran it once (one action.executed in its log)" \
	test "$(count_of agent action.executed "$aid")" = 1
sleep 1
check "fault 1: docker stopped the container once (one die event)" \
	test "$(dies_of "$cid" "$since" "$(date +%s)")" = 1
check "fault 1: r3 shows web-01 served by r2" wait_for 60 served_by r3 r2
check "fault 1: r2 shows web-01 served by itself" wait_for 60 served_by r2 r2
got=$(rpost r3 "/api/containers/$cid/actions" '{"action":"START","reason":"served again"}')
check "fault 1: a new action through r2 works (200 SUCCESS)" \
	test "$got|$(body 'd["status"]')" = "200|SUCCESS"
verify_all "fault 1"

# ======== 2. a stale holder comes back ========
# r1 again, then the agent moved back to it: stop r2's holding by
# SIGSTOP; the agent times the silent r2 out (ping) and moves to r3 (its
# next URL), which claims the host with a newer epoch.
start r1 || not_ok "fault 2: r1 started again"
check "fault 2: r2 still holds web-01" holder_is r2
r2pid=${SPID[r2]}
kill -STOP "$r2pid"
ok "fault 2: r2 stopped (SIGSTOP)"
moved() { holder | grep -qv '^r2$'; }
check "fault 2: another replica holds web-01 while r2 sleeps (the agent timed r2 out)" \
	wait_for 180 moved
newh=$(holder)
ep_new=$(pg_sql "$DB" "SELECT epoch FROM signet_claims WHERE host_id='web-01'")
stale_at=$(wc -l <"$T_DIR/r2-audit.log")
kill -CONT "$r2pid"
ok "fault 2: r2 resumed (SIGCONT), web-01 held by $newh"
closed_stale() {
	tail -n +"$((stale_at + 1))" "$T_DIR/r2-audit.log" |
		grep '"event":"agent.disconnected"' | grep -q '"host_id":"web-01"'
}
check "fault 2: r2 closed its stale connection to web-01" wait_for 60 closed_stale
# The reason: claim_lost when r2 learns of the newer claim first, or the
# socket's own end when the agent's close reached it first; both are
# recorded, and r2 must not keep the host.
tail -n +"$((stale_at + 1))" "$T_DIR/r2-audit.log" | grep '"event":"agent.disconnected"' |
	grep -o '"reason":"[a-z_]*"' | sed 's/^/  r2 after SIGCONT: /'
check "fault 2: the claim stays with $newh at its epoch" \
	test "$(pg_sql "$DB" "SELECT replica || '|' || epoch FROM signet_claims WHERE host_id='web-01'")" = "$newh|$ep_new"
hosts_row_is() { [ "$(pg_sql "$DB" "SELECT replica || '|' || epoch FROM signet_hosts WHERE host_id='web-01'")" = "$1" ]; }
check "fault 2: signet_hosts names $newh at that epoch, not r2" \
	wait_for 60 hosts_row_is "$newh|$ep_new"
got=$(rpost r1 "/api/containers/$cid/actions" '{"action":"RESTART","reason":"after the stale holder came back"}')
check "fault 2: an action through the new holder works (200 SUCCESS)" \
	test "$got|$(body 'd["status"]')" = "200|SUCCESS"
rid=$(body 'd["action_id"]')
check "fault 2: the new holder relayed it" event_of "$newh" action.relayed "$rid"
check "fault 2: r2 relayed nothing after it came back" \
	test "$(tail -n +"$((stale_at + 1))" "$T_DIR/r2-audit.log" | grep -c '"event":"action.relayed"')" = 0
sleep 2
check "fault 2: signet_hosts still names $newh (r2's writes fenced)" \
	test "$(pg_sql "$DB" "SELECT replica || '|' || epoch FROM signet_hosts WHERE host_id='web-01'")" = "$newh|$ep_new"
verify_all "fault 2"

# ======== 3. the database restarted during an action ========
hold=$(holder)
origin=r1
[ "$hold" = r1 ] && origin=r2
cid3=$(slow_container fault-db) || not_ok "fault 3: container started"
seen3() { rget "$origin" "/api/containers/$cid3" 2>/dev/null | pyq 'd["host_id"]' | grep -qx web-01; }
check "fault 3: $origin sees the container" wait_for 60 seen3
got=$(rpost "$origin" "/api/containers/$cid3/actions?wait=0" '{"action":"STOP","reason":"the database restarts while it runs"}')
check "fault 3: STOP posted on $origin (202)" test "$got" = 202
did=$(body 'd["action_id"]')
check "fault 3: $hold relayed it" wait_for 60 event_of "$hold" action.relayed "$did"
(cd / && pg_server_stop) || { not_ok "fault 3: database stopped"; finish; exit 1; }
ok "fault 3: database stopped while the STOP runs"
down503() {
	[ "$(rpost "$origin" "/api/containers/$cid3/actions" '{"action":"START","reason":"the database is down"}')" = 503 ] &&
		grep -q "cluster database" "$T_DIR/body"
}
check "fault 3: database down: a POST answers 503, saying why" wait_for 120 down503
check "fault 3: the holder's agent stays connected (its log: no disconnect of web-01 since)" \
	served_by "$hold" "$hold"
check "fault 3: the agent ran the STOP (its action.executed)" \
	wait_for 120 event_of agent action.executed "$did"
(cd / && pg_server_start) || not_ok "fault 3: database started again"
check "fault 3: the action ends SUCCESS at its origin once the database is back" \
	wait_for 120 status_is "$origin" "$did" SUCCESS
check "fault 3: the holder recorded the relay and the result" \
	test "$(count_of "$hold" action.relayed "$did")$(count_of "$hold" action.result "$did")" = 11
check "fault 3: the origin recorded the request and the result" \
	test "$(count_of "$origin" action.requested "$did")$(count_of "$origin" action.result "$did")" = 11
check "fault 3: the agent ran it once" test "$(count_of agent action.executed "$did")" = 1
# Nothing the agent executed lacks its record: every action.executed in
# the agent's log is of an action some replica requested.
unrecorded() {
	local id n=0
	while read -r id; do
		grep -h '"event":"action.requested"' "$T_DIR"/r?-audit.log |
			grep -q "\"action_id\":\"$id\"" || n=$((n + 1))
	done < <(grep '"event":"action.executed"' "$T_DIR/agent-web-01-audit.log" |
		grep -o '"action_id":"[0-9a-f]*"' | cut -d'"' -f4 | sort -u)
	echo "$n"
}
check "fault 3: every action the agent ran has its action.requested in a replica's log" \
	test "$(unrecorded)" = 0
up_again() {
	[ "$(rpost "$origin" "/api/containers/$cid3/actions" '{"action":"START","reason":"the database is back"}')" = 200 ] &&
		[ "$(body 'd["status"]')" = SUCCESS ]
}
check "fault 3: the cluster recovers by itself (a POST works again)" wait_for 120 up_again
verify_all "fault 3"

for r in "${REPLICAS[@]}"; do
	check "$r's log holds no sanitizer report" \
		test "$(grep -c 'Sanitizer' "$T_DIR/$r.log")" = 0
done
check "the logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR"/r?-audit.log
docker rm -f "$cid" "$cid3" >/dev/null
finish
