#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd postgres
# One replica cut from the database while the others still reach it
# (docs/cluster.md, "Failures"), every part real: replicas r1 and r2 on
# the test suite's PostgreSQL, r2 through a TCP relay the test cuts
# (tcp_cut.py), a real signet-agent, the private dockerd.
#   Fault 5: r2 holds web-01 and is cut. It goes down in the cluster,
#   refuses new actions with 503, lets its claim lapse, keeps its agent
#   connected and its inventory; once the link is back it claims web-01
#   again and acts.
#   Late results: an action POSTed on r2 and relayed by r1 ends TIMEOUT at
#   r2; the agent's result, stored by r1 while r2 was cut (its NOTIFY
#   lost to r2), reaches r2 once the link is back, whether r2's TIMEOUT
#   was written to the database before the cut or could not be.
# The containers' STOP lasts until the test says so (a TERM trap that
# waits for a file), so every step is ordered, not timed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_need
need_docker
cd "$T_DIR" || exit 1

. "$(dirname "$0")/cluster_lib.sh"
cluster_init cut || { not_ok "database and PKI"; finish; exit 1; }

# ---- r2's link to the database: a relay the test can cut ----
python3 "$SIGNET_SOURCE_DIR/tests/integration/tcp_cut.py" "$SIGNET_PG_PORT" \
	"$T_DIR/cut.port" >"$T_DIR/cut.log" 2>&1 &
CUT_PID=$!
R_PIDS+=("$CUT_PID")
wait_for 60 test -s "$T_DIR/cut.port" || { not_ok "the relay started"; finish; exit 1; }
CUT_PORT=$(cat "$T_DIR/cut.port")
cut_link() { kill -USR1 "$CUT_PID"; }
mend_link() { kill -USR2 "$CUT_PID"; }
# unreachable_logged: how many times r2 said the database is unreachable.
unreachable_logged() { grep -c "cluster: the database is unreachable" "$T_DIR/r2.log"; }
said_unreachable_after() { [ "$(unreachable_logged)" -gt "$1" ]; }

cluster_policy "cut-*"

conf r1 "claim_ttl_ms = 1500"
conf r2 "claim_ttl_ms = 1500"
sed -i "s/ port=$SIGNET_PG_PORT / port=$CUT_PORT /" "$T_DIR/r2.conf"
check "r2 reaches the database through the relay" grep -q "port=$CUT_PORT " "$T_DIR/r2.conf"
start r1 || { not_ok "replica r1 started"; finish; exit 1; }
start r2 || { not_ok "replica r2 started"; finish; exit 1; }
check "r1 is up in the cluster" wait_for 60 metric_is r1 signet_cluster_up 1
check "r2 is up in the cluster" wait_for 60 metric_is r2 signet_cluster_up 1

# held_container NAME: a container whose STOP lasts until the file
# /released exists in it (release CID); prints its id.
held_container() {
	docker run -d --network none --name "$1-$$" "$SIGNET_TEST_IMAGE" \
		sh -c 'trap "while [ ! -e /released ]; do sleep 0.1; done; exit 0" TERM; while :; do sleep 1; done'
}
release() { docker exec "$1" sh -c ": >/released"; }
running() { docker inspect -f '{{.State.Running}}' "$1"; }
seen_on() { rget "$1" "/api/containers/$2" 2>/dev/null | pyq 'd["host_id"]' | grep -qx web-01; }

# ======== fault 5: r2, the holder, cut from the database ========
cluster_agent_conf r2
start_agent web-01
check "fault 5: r2 holds web-01" wait_for 60 holder_is r2
cid=$(docker run -d --network none --name "cut-plain-$$" "$SIGNET_TEST_IMAGE" \
	sh -c 'trap "exit 0" TERM; while :; do sleep 1; done')
check "fault 5: r1 sees the container, on r2's host" wait_for 60 seen_on r1 "$cid"
# hosts_on R: signetctl hosts against replica R's API.
hosts_on() {
	SIGNET_SERVER="https://localhost:${APORT[$1]}" SIGNET_CA="$P/ca.pem" \
		SIGNET_CERT="$P/issued/alice.pem" SIGNET_KEY="$P/private/alice.key" \
		"$SIGNETCTL" hosts
}
out=$(hosts_on r1)
check "fault 5: signetctl hosts on r1 has a REPLICA column" \
	grep -Eq '^HOST +CONNECTED +LAST SEEN +AGENT +DOCKER +CONTAINERS +CERT EXPIRES +DAYS +REPLICA$' <<<"$out"
check "fault 5: ... naming r2 for web-01" grep -Eq '^web-01 +yes .* r2$' <<<"$out"
before=$(unreachable_logged)
cut_link
check "fault 5: r2 says the database is unreachable" wait_for 60 said_unreachable_after "$before"
check "fault 5: r2 is down in the cluster" wait_for 60 metric_is r2 signet_cluster_up 0
check "fault 5: r1 is still up" metric_is r1 signet_cluster_up 1
refused503() {
	[ "$(rpost r2 "/api/containers/$cid/actions" '{"action":"STOP","reason":"r2 is cut"}')" = 503 ] &&
		grep -q "cluster database" "$T_DIR/body"
}
check "fault 5: a POST on r2 answers 503, saying why" wait_for 60 refused503
check "fault 5: ... and the container was not touched" test "$(running "$cid")" = true
check "fault 5: r2's claim on web-01 lapses (it stops claiming)" wait_for 60 holder_is ""
held_by_none() {
	local out
	out=$(hosts_on r1) && grep -Eq '^web-01 +no ' <<<"$out" && ! grep -q ' r2$' <<<"$out"
}
check "fault 5: signetctl hosts on r1: web-01 not connected, r2 not named" wait_for 60 held_by_none
check "fault 5: r2 still serves its agent's inventory" seen_on r2 "$cid"
check "fault 5: the agent stayed connected to r2" \
	test "$(grep -c '"event":"agent.disconnected"' "$T_DIR/r2-audit.log")" = 0
check "fault 5: r2 shows web-01 connected" \
	test "$(rget r2 /api/hosts | pyq "[h['connected'] for h in d['hosts'] if h['host_id']=='web-01']")" = "[true]"
mend_link
check "fault 5: link back, r2 is up again" wait_for 60 metric_is r2 signet_cluster_up 1
check "fault 5: r2 claims web-01 again" wait_for 60 holder_is r2
got=$(rpost r1 "/api/containers/$cid/actions" '{"action":"STOP","reason":"r2 answers again"}')
check "fault 5: a STOP on r1, relayed by r2, answers 200" test "$got" = 200
check "fault 5: ... SUCCESS, the container stopped" \
	test "$(body 'd["status"]')|$(running "$cid")" = "SUCCESS|false"
check "fault 5: still one agent connection on r2" \
	test "$(grep -c '"event":"agent.connected"' "$T_DIR/r2-audit.log")" = 1
docker rm -f "$cid" >/dev/null

# ======== late results: the agent on r1, actions POSTed on r2 ========
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null
cluster_agent_conf r1
start_agent web-01
check "late: r1 holds web-01" wait_for 60 holder_is r1

# post_held CID: a STOP of CID on r2 (wait=5) in the background; sets
# HELD_PID, its answer in $T_DIR/held.body, and AID once r2 requested it.
post_held() {
	local n
	n=$(grep -c "action requested: .*wait=5$" "$T_DIR/r2.log")
	curl -sS --max-time 130 --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" -o "$T_DIR/held.body" -w '%{http_code}' \
		-H 'Content-Type: application/json' \
		--data-binary '{"action":"STOP","reason":"its result comes late"}' \
		"https://localhost:${APORT[r2]}/api/containers/$1/actions?wait=5" \
		>"$T_DIR/held.code" 2>/dev/null &
	HELD_PID=$!
	requested_more() { [ "$(grep -c "action requested: .*wait=5$" "$T_DIR/r2.log")" -gt "$n" ]; }
	wait_for 60 requested_more || return 1
	AID=$(sed -n 's/.*action requested: action_id=\([0-9a-f]*\) .*wait=5$/\1/p' "$T_DIR/r2.log" | tail -n 1)
}
relayed_by_r1() { event_of r1 action.relayed "$AID"; }

# ---- r2's TIMEOUT written, then r2 cut: the result's NOTIFY is lost ----
cid=$(held_container cut-late-b)
check "late B: r2 sees the container" wait_for 60 seen_on r2 "$cid"
post_held "$cid" || not_ok "late B: the action requested on r2"
check "late B: r1 relayed it" wait_for 60 relayed_by_r1
wait "$HELD_PID"
check "late B: r2 answers 504, TIMEOUT" \
	test "$(cat "$T_DIR/held.code")|$(pyq 'd["status"]' <"$T_DIR/held.body")" = "504|TIMEOUT"
check "late B: r2 wrote the TIMEOUT to the database" \
	wait_for 60 sql_is "TIMEOUT" "SELECT status FROM signet_actions WHERE action_id='$AID'"
before=$(unreachable_logged)
cut_link
check "late B: r2 is cut" wait_for 60 said_unreachable_after "$before"
release "$cid" || not_ok "late B: container released"
check "late B: r1 stored the agent's result over the TIMEOUT" \
	wait_for 60 sql_is "SUCCESS|r2|r1" "SELECT status || '|' || origin || '|' || result_by FROM signet_actions WHERE action_id='$AID'"
check "late B: r2 did not hear of it while cut" status_is r2 "$AID" TIMEOUT
mend_link
check "late B: link back, r2 records the agent's result" wait_for 60 event_of r2 action.result "$AID"
check "late B: r2 shows SUCCESS" wait_for 60 status_is r2 "$AID" SUCCESS
check "late B: r2 says it came after its deadline" \
	grep -q "action_id=$AID .*(after its deadline)" "$T_DIR/r2.log"
docker rm -f "$cid" >/dev/null

# ---- r2 cut before its deadline: its TIMEOUT cannot be written ----
cid=$(held_container cut-late-a)
check "late A: r2 sees the container" wait_for 60 seen_on r2 "$cid"
check "late A: r2 is up" wait_for 60 metric_is r2 signet_cluster_up 1
post_held "$cid" || not_ok "late A: the action requested on r2"
check "late A: r1 relayed it" wait_for 60 relayed_by_r1
before=$(unreachable_logged)
cut_link
check "late A: r2 is cut" wait_for 60 said_unreachable_after "$before"
wait "$HELD_PID"
check "late A: r2 answers 504, TIMEOUT" \
	test "$(cat "$T_DIR/held.code")|$(pyq 'd["status"]' <"$T_DIR/held.body")" = "504|TIMEOUT"
check "late A: the database still says PENDING" \
	sql_is "PENDING" "SELECT status FROM signet_actions WHERE action_id='$AID'"
release "$cid" || not_ok "late A: container released"
check "late A: r1 stored the agent's result" \
	wait_for 60 sql_is "SUCCESS|r2|r1" "SELECT status || '|' || origin || '|' || result_by FROM signet_actions WHERE action_id='$AID'"
mend_link
check "late A: link back, r2 records the agent's result" wait_for 60 event_of r2 action.result "$AID"
check "late A: r2 shows SUCCESS" wait_for 60 status_is r2 "$AID" SUCCESS
check "late A: the database keeps the result (r2's TIMEOUT did not replace it)" \
	sql_is "SUCCESS|r1" "SELECT status || '|' || result_by FROM signet_actions WHERE action_id='$AID'"
docker rm -f "$cid" >/dev/null

kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null
stop r1
stop r2
for r in r1 r2; do
	out=$("$SIGNETCTL" audit verify "$T_DIR/$r-audit.log" --key "$K/audit.pub" \
		--action-key "$K/action.pub" --agent-keys "$K/agents" 2>&1); rc=$?
	check "$r's audit log verifies" test "$rc" -eq 0 || printf '%s\n' "$out" | tail -n 5
	check "$r's log holds no sanitizer report" \
		test "$(grep -c 'Sanitizer' "$T_DIR/$r.log")" = 0
done
check "both logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/r1-audit.log" "$T_DIR/r2-audit.log"
finish
