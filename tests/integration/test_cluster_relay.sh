#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd postgres
# Actions across replicas (docs/cluster.md), every part real: two
# replicas r1 and r2 on the test suite's PostgreSQL, a real signet-agent
# connected to r1, the private dockerd. A POST on r2 for a container of
# r1's host is queued in the database, relayed by r1 (action.relayed),
# run by the agent (the container really changes state), and r2 answers
# with the agent's verdict, verified from the stored result; both logs
# hold the action_id and verify. wait=0 answers 202 and any replica shows
# the action. Results forged in the database (not a frame, a bad
# signature, a valid result of another action) are refused by the
# origin, counted, and complete nothing. The database stopped: a POST for
# a host held elsewhere answers 503 with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_need
need_docker
cd "$T_DIR" || exit 1

. "$(dirname "$0")/cluster_lib.sh"
cluster_init relay || { not_ok "database and PKI"; finish; exit 1; }

cluster_policy "relay-*"

conf r1
conf r2
start r1 || { not_ok "replica r1 started"; finish; exit 1; }
start r2 || { not_ok "replica r2 started"; finish; exit 1; }
ok "replicas r1 and r2 started on one database"
check "r1 is up in the cluster" wait_for 60 metric_is r1 signet_cluster_up 1
check "r2 is up in the cluster" wait_for 60 metric_is r2 signet_cluster_up 1

AGENT_PORT=${HPORT[r1]}
write_agent_conf web-01 "$T_DIR/policy.json"
start_agent web-01
cid=$(docker run -d --network none --stop-timeout 1 --name "relay-web-$$" \
	"$SIGNET_TEST_IMAGE" sleep 100000)
seen_on() { rget "$1" "/api/containers/$cid" 2>/dev/null | pyq 'd["host_id"]' | grep -qx web-01; }
check "r1 sees the agent's container" wait_for 60 seen_on r1
check "r2 sees the container, on r1's host" wait_for 60 seen_on r2

# ---- a POST on r2, run by the agent on r1 ----
got=$(rpost r2 "/api/containers/$cid/actions" '{"action":"STOP","reason":"stop it from the other replica"}')
check "STOP on r2 answers 200" test "$got" = 200
check "STOP on r2: the agent's verdict SUCCESS" test "$(body 'd["status"]')" = SUCCESS
check "STOP on r2: docker_status 204" test "$(body 'd["docker_status"]')" = 204
aid=$(body 'd["action_id"]')
check "STOP on r2: the container really stopped" test "$(running "$cid")" = false
check "r2's log: action.requested" event_of r2 action.requested "$aid"
check "r2's log: action.result" event_of r2 action.result "$aid"
check "r1's log: action.relayed" event_of r1 action.relayed "$aid"
check "r1's log: action.relayed names the origin r2" \
	grep -q "\"event\":\"action.relayed\".*\"origin\":\"r2\"" "$T_DIR/r1-audit.log"
check "r1's log: action.result" event_of r1 action.result "$aid"
check "r1's log: no action.requested of it" \
	test "$(grep -c "\"event\":\"action.requested\".*$aid" "$T_DIR/r1-audit.log")" = 0
check "r2 counted one queued action" metric_is r2 signet_cluster_actions_queued_total 1
check "r1 counted one relayed action" metric_is r1 signet_cluster_actions_relayed_total 1
check "the database holds the result, stored by r1" \
	test "$(pg_sql "$DB" "SELECT status || '|' || origin || '|' || result_by FROM signet_actions WHERE action_id='$aid'")" = "SUCCESS|r2|r1"
check "the queue is empty again" \
	wait_for 60 sql_is "0" "SELECT count(*) FROM signet_queue"

got=$(rpost r2 "/api/containers/$cid/actions" '{"action":"START","reason":"start it from the other replica"}')
check "START on r2 answers 200" test "$got" = 200
check "START on r2: the container runs again" test "$(running "$cid")" = true

# ---- wait=0 on r2: 202, shown by r1 (which relayed it) ----
got=$(rpost r2 "/api/containers/$cid/actions?wait=0" '{"action":"RESTART","reason":"restart without waiting"}')
check "wait=0 on r2 answers 202" test "$got" = 202
wid=$(body 'd["action_id"]')
check "r1 shows the wait=0 action SUCCESS" wait_for 60 status_is r1 "$wid" SUCCESS
check "r2 shows the wait=0 action SUCCESS" wait_for 60 status_is r2 "$wid" SUCCESS

# ---- an action of r1's own host, shown by r2 from the database ----
got=$(rpost r1 "/api/containers/$cid/actions" '{"action":"RESTART","reason":"restart on the holder"}')
check "RESTART on r1 answers 200" test "$got" = 200
lid=$(body 'd["action_id"]')
check "r1 recorded its own action in the database" \
	wait_for 60 sql_is "SUCCESS|r1" "SELECT status || '|' || origin FROM signet_actions WHERE action_id='$lid'"
rget r2 "/api/actions/$lid" >"$T_DIR/lget" 2>&1 || cat "$T_DIR/lget"
check "r2 shows r1's action from the database, verified" \
	test "$(pyq 'd["status"]+"|"+d["replica"]+"|"+str(d["verified"])+"|"+d["reason"]' <"$T_DIR/lget")" = "SUCCESS|r1|True|restart on the holder"
check "an unknown action is 404 on r2" \
	test "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" "https://localhost:${APORT[r2]}/api/actions/0123456789abcdef0123456789abcdef")" = 404

# ---- forged results in the database ----
# r1 and its agent go; web-01 is then claimed by a replica r3 that never
# runs, so an action r2 queues for it stays PENDING at r2.
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null
stop r1
released() { test "$(pg_sql "$DB" "SELECT count(*) FROM signet_claims WHERE host_id='web-01' AND expires_at > now()")" = 0; }
check "r1's claim on web-01 released" wait_for 60 released
pg_sql "$DB" "INSERT INTO signet_claims (host_id, replica, epoch, claimed_at, expires_at) VALUES ('web-01', 'r3', nextval('signet_claim_epoch'), now(), now() + interval '1 hour') ON CONFLICT (host_id) DO UPDATE SET replica = 'r3', epoch = nextval('signet_claim_epoch'), claimed_at = now(), expires_at = now() + interval '1 hour'; UPDATE signet_hosts SET replica = 'r3', epoch = (SELECT epoch FROM signet_claims WHERE host_id = 'web-01'), updated_at = now() WHERE host_id = 'web-01'; NOTIFY signet_hosts, 'web-01'" ||
	not_ok "the claim of r3 written"
held_by_r3() { rget r2 /api/hosts 2>/dev/null | pyq "[h for h in d['hosts'] if h['host_id']=='web-01' and h['connected'] and h['replica']=='r3'] != []" | grep -q true; }
check "r2 shows web-01 held by r3" wait_for 60 held_by_r3
got=$(rpost r2 "/api/containers/$cid/actions?wait=0" '{"action":"STOP","reason":"never taken by anyone"}')
check "an action for r3's host is queued on r2 (202)" test "$got" = 202
fid=$(body 'd["action_id"]')
check "it waits in the queue" \
	test "$(pg_sql "$DB" "SELECT count(*) FROM signet_queue WHERE action_id='$fid'")" = 1
good=$(pg_sql "$DB" "SELECT result FROM signet_actions WHERE action_id='$aid'")
# forge RESULT: the row of fid says SUCCESS with RESULT, ended now (an
# older end would be pruned after actions_keep_ms), and r2 is told.
forge() {
	local q
	q=$(printf '%s' "$1" | sed "s/'/''/g")
	pg_sql "$DB" "UPDATE signet_actions SET status = 'SUCCESS', result_by = 'r3', finished_at = (extract(epoch FROM now()) * 1000)::bigint, result = '$q' WHERE action_id = '$fid'; NOTIFY signet_done, '$fid'"
}
refused_is() { metric_is r2 signet_cluster_results_refused_total "$1"; }
forge 'not a frame at all'
check "a result that is no frame is refused and counted" wait_for 60 refused_is 1
bad=$(printf '%s' "$good" | python3 -c 'import json,sys
f=json.load(sys.stdin); s=f["sig"]; f["sig"]=("A" if s[0]!="A" else "B")+s[1:]
print(json.dumps(f,separators=(",",":")))')
forge "$bad"
check "a result with a bad signature is refused and counted" wait_for 60 refused_is 2
forge "$good"
check "a valid result of another action is refused and counted" wait_for 60 refused_is 3
check "the origin did not complete the action" status_is r2 "$fid" PENDING
check "no action.result of it in r2's log" \
	test "$(grep -c "\"event\":\"action.result\".*$fid" "$T_DIR/r2-audit.log")" = 0
check "r2's log says why" grep -q "action $fid: the result the cluster database holds.*refused" "$T_DIR/r2.log"

# The origin's deadline: TIMEOUT, answered and written to the database.
got=$(rpost r2 "/api/containers/$cid/actions?wait=1" '{"action":"STOP","reason":"nobody takes this one"}')
check "an action nobody takes ends TIMEOUT at its origin (504)" test "$got" = 504
tid=$(body 'd["action_id"]')
check "the origin wrote the TIMEOUT to the database" \
	wait_for 60 sql_is "TIMEOUT" "SELECT status FROM signet_actions WHERE action_id='$tid'"

# r1 again, without its agent: it holds neither action in its table and
# reads them from the database; only the verified one is shown as such.
start r1 || not_ok "replica r1 started again"
rget r1 "/api/actions/$fid" >"$T_DIR/fget" 2>&1 || cat "$T_DIR/fget"
check "r1 shows the forged row's status as the database's word only (verified false)" \
	test "$(pyq 'd["status"]+"|"+str(d["verified"])+"|"+str(d["docker_status"])+"|"+d["replica"]' <"$T_DIR/fget")" = "SUCCESS|False|None|r2"
check "... and counted the refused result" metric_is r1 signet_cluster_results_refused_total 1
rget r1 "/api/actions/$aid" >"$T_DIR/aget" 2>&1 || cat "$T_DIR/aget"
check "r1 shows the relayed action from the database, verified" \
	test "$(pyq 'd["status"]+"|"+str(d["verified"])+"|"+str(d["docker_status"])' <"$T_DIR/aget")" = "SUCCESS|True|204"
pg_sql "$DB" "UPDATE signet_actions SET frame = regexp_replace(frame, '\"sig\":\"(.)', '\"sig\":\"\\1\\1') WHERE action_id = '$fid'" ||
	not_ok "the action frame forged"
check "a row whose action frame does not verify is refused by GET (502)" \
	test "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" "https://localhost:${APORT[r1]}/api/actions/$fid")" = 502
stop r1

# ---- the database stopped: 503 for a host held elsewhere ----
# An action that ends (TIMEOUT after 5 s) while the database is down
# (usually: the database goes down at once): its end is written once the
# database is back.
curl -sS --max-time 130 --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
	--key "$P/private/alice.key" -o "$T_DIR/body2" \
	-H 'Content-Type: application/json' \
	--data-binary '{"action":"STOP","reason":"ends while the database is down"}' \
	"https://localhost:${APORT[r2]}/api/containers/$cid/actions?wait=5" 2>/dev/null &
late=$!
wait_for 60 grep -q "action requested: .*wait=5" "$T_DIR/r2.log" ||
	not_ok "the action that ends while the database is down was requested"
did=$(sed -n 's/.*action requested: action_id=\([0-9a-f]*\) .*wait=5$/\1/p' "$T_DIR/r2.log")
check "it is in the database before the database stops" \
	wait_for 60 sql_is "PENDING" "SELECT status FROM signet_actions WHERE action_id='$did'"
(cd / && pg_server_stop) || { not_ok "database stopped"; finish; exit 1; }
down503() {
	[ "$(rpost r2 "/api/containers/$cid/actions" '{"action":"START","reason":"the database is down"}')" = 503 ] &&
		grep -q "cluster database" "$T_DIR/body"
}
check "database down: a POST for a host held elsewhere answers 503, saying why" \
	wait_for 120 down503
(cd / && pg_server_start) || not_ok "database started again"
wait "$late"
check "... and it ended TIMEOUT at its origin" \
	test "$(pyq 'd["action_id"]+"|"+d["status"]' <"$T_DIR/body2")" = "$did|TIMEOUT"
check "database back: the end made while it was down is written" \
	wait_for 120 sql_is "TIMEOUT" "SELECT status FROM signet_actions WHERE action_id='$did'"

stop r2
for r in r1 r2; do
	out=$("$SIGNETCTL" audit verify "$T_DIR/$r-audit.log" --key "$K/audit.pub" \
		--action-key "$K/action.pub" --agent-keys "$K/agents" 2>&1); rc=$?
	check "$r's audit log verifies (actions and results tied)" test "$rc" -eq 0
	check "$r's log: results tied" grep -Eq 'results tied to their action.requested: [1-9]' <<<"$out"
done
for r in r1 r2; do
	check "$r's log holds no sanitizer report" \
		test "$(grep -c 'Sanitizer' "$T_DIR/$r.log")" = 0
done
check "both logs hold only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/r1-audit.log" "$T_DIR/r2-audit.log"
docker rm -f "$cid" >/dev/null
finish
