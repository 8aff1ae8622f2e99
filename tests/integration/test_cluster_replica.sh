#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: postgres
# Cluster mode, the replica side (docs/cluster.md), with real processes
# over real TLS and the test suite's real PostgreSQL: two replicas r1 and
# r2 on one database and simulated agents (agent_sim). A host connected
# to r1 shows on r2 (/api/hosts with "replica": "r1", its containers in
# /api/containers); the agent moving to r2 (a newer claim) makes r1 close
# its old connection (agent.disconnected reason claim_lost, audited); the
# database stopped: POST actions answer 503 with the reason, GETs still
# answer, the agents stay; the database back: the claims are renewed and
# actions run again. Bad [cluster] settings are refused at start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/sim.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_need
sim_begin

DB=$(pg_new_db replica) || { not_ok "database created"; finish; exit 1; }
DB_INFO="host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$DB user=signet sslmode=verify-full connect_timeout=2"

ID_A=aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111
ID_D=dddddddddddd4444444444444444444444444444444444444444444444444444
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID_A web-a)]}" >inv1.json
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID_D cache-d)]}" >inv2.json

declare -A APORT HPORT SPID

# conf NAME CLUSTER_LINES: $T_DIR/NAME.conf, a server whose [cluster]
# section holds CLUSTER_LINES (none when empty).
conf() {
	local name=$1 lines=$2
	HPORT[$name]=$(free_port)
	APORT[$name]=$(free_port)
	cat >"$T_DIR/$name.conf" <<CONF
[server]
agent_listen = 127.0.0.1:${HPORT[$name]}
api_listen   = 127.0.0.1:${APORT[$name]}
[tls]
ca   = $P/ca.pem
crl  = $P/crl.pem
cert = $P/issued/localhost.pem
key  = $P/private/localhost.key
[keys]
action     = $P/keys/action.key
audit      = $P/keys/audit.key
agents_dir = $P/keys/agents
[audit]
path = $T_DIR/$name-audit.log
CONF
	if [ -n "$lines" ]; then
		printf '[cluster]\n%s\n' "$lines" >>"$T_DIR/$name.conf"
	fi
}

# cluster_lines REPLICA: the [cluster] keys of replica r1|r2 on DB.
cluster_lines() {
	printf 'database = %s\nreplica = %s\nsslrootcert = %s\nsslcert = %s\nsslkey = %s\nclaim_ttl_ms = 3000\ndb_timeout_ms = 1000\n' \
		"$DB_INFO" "$1" "$SIGNET_PG_PKI/ca.pem" \
		"$SIGNET_PG_PKI/issued/$1.pem" "$SIGNET_PG_PKI/private/$1.key"
}

# rget NAME PATH: GET on replica NAME's API as alice; the body.
rget() {
	curl -sS --fail --max-time 10 --cacert "$CA" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" "https://localhost:${APORT[$1]}$2"
}
# rpost NAME CID BODY: POST an action on replica NAME; the status, the
# body in body.
rpost() {
	curl -sS --max-time 60 --cacert "$CA" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" -o body -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary "$3" \
		"https://localhost:${APORT[$1]}/api/containers/$2/actions" 2>curl.err
}

# start NAME: replica NAME in the background; waits for /healthz.
start() {
	"$SERVER_BIN" --config "$T_DIR/$1.conf" >>"$T_DIR/$1.log" 2>&1 &
	SPID[$1]=$!
	R_PIDS+=("${SPID[$1]}")
	wait_for 30 quiet rget "$1" /healthz && return 0
	echo "replica $1 did not come up:"; tail -n 20 "$T_DIR/$1.log"
	return 1
}

# simto NAME HOST REPLICA [args]: agent_sim for HOST against REPLICA
# (output in sim-NAME.out), left running; its pid in SIMPID_NAME.
declare -A SIMPID
simto() {
	local name=$1 host=$2 rep=$3 inv=inv1.json; shift 3
	[ "$host" = web-02 ] && inv=inv2.json
	"$SIM" --url "wss://localhost:${HPORT[$rep]}" --ca "$CA" --pki "$P" \
		--name "$host" --inventory "$inv" --action-pub "$P/keys/action.pub" \
		"$@" >"sim-$name.out" 2>&1 &
	SIMPID[$name]=$!
	SIM_PIDS+=("${SIMPID[$name]}")
}

# host_is NAME HOST PYEXPR: PYEXPR (over h, HOST's row) holds on replica
# NAME's /api/hosts.
host_is() {
	rget "$1" /api/hosts 2>/dev/null |
		pyq "[h for h in d['hosts'] if h['host_id']=='$2' and ($3)] != []" |
		grep -q true
}
containers_on() {
	rget "$1" "/api/containers" 2>/dev/null | pyq "$2" | grep -q true
}
metric_of() {
	rget "$1" /metrics 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'
}
metric_is() { [ "$(metric_of "$1" "$2")" = "$3" ]; }
# sql_is WANT SQL: the database answers SQL with WANT (as the superuser).
sql_is() { [ "$(pg_sql "$DB" "$2" 2>/dev/null)" = "$1" ]; }

START='{"action":"START","reason":"cluster test"}'

# ---- bad [cluster] settings, refused at start ----
refused() {
	local what=$1 pattern=$2 lines=$3
	conf bad "$lines"
	check_fails_with "refused at start: $what" "$pattern" \
		"$SERVER_BIN" --config "$T_DIR/bad.conf"
}
good=$(cluster_lines r1)
refused "database without replica" "needs replica" \
	"$(printf '%s\n' "$good" | grep -v '^replica')"
refused "a replica name that is not a name" 'replica: "bad name!" is not a name' \
	"$(printf '%s\n' "$good" | sed 's/^replica = .*/replica = bad name!/')"
refused "sslmode other than verify-full" "verify-full" \
	"$(printf '%s\n' "$good" | sed 's/sslmode=verify-full/sslmode=require/')"
refused "claim_ttl_ms under 500" "claim_ttl_ms" \
	"$(printf '%s\n' "$good" | sed 's/^claim_ttl_ms = .*/claim_ttl_ms = 499/')"
refused "claim_ttl_ms over 300000" "claim_ttl_ms" \
	"$(printf '%s\n' "$good" | sed 's/^claim_ttl_ms = .*/claim_ttl_ms = 300001/')"
refused "replica without database" "without database" "replica = r1"
refused "no certificate for the database" "sslcert|sslkey" \
	"$(printf '%s\n' "$good" | grep -v '^sslcert\|^sslkey')"

# ---- two replicas, a host on r1 seen from r2 ----
conf r1 "$(cluster_lines r1)"
conf r2 "$(cluster_lines r2)"
start r1 || { not_ok "replica r1 started"; finish; exit 1; }
start r2 || { not_ok "replica r2 started"; finish; exit 1; }
ok "replicas r1 and r2 started on one database"
check "r1 is up in the cluster" wait_for 60 metric_is r1 signet_cluster_up 1
check "r2 is up in the cluster" wait_for 60 metric_is r2 signet_cluster_up 1

simto a1 web-01 r1 --answer SUCCESS
check "web-01 connected to r1, with replica r1" \
	wait_for 60 host_is r1 web-01 "h['connected'] and h['replica']=='r1' and h['container_count']==1"
check "r2 shows web-01 connected to r1" \
	wait_for 60 host_is r2 web-01 "h['connected'] and h['replica']=='r1' and h['container_count']==1 and h['agent_version']=='0.0.0-sim'"
check "r2 lists web-01's containers" \
	containers_on r2 "[c for c in d['containers'] if c['id']=='$ID_A' and c['host_id']=='web-01'] != []"
check "r2's metrics do not count web-01 as its agent" metric_is r2 signet_agents_connected 0
check "r1 holds one claim" wait_for 30 metric_is r1 signet_cluster_claims_held 1
check "the database says r1 holds web-01" \
	sql_is r1 "SELECT replica FROM signet_claims WHERE host_id='web-01'"
got=$(rpost r2 "$ID_A" "$START")
# Actions across replicas (test_cluster_relay.sh): relayed through r1.
if [ "$got" = 200 ]; then ok "r2 acts for a host r1 holds, through r1 (200)"
else not_ok "r2 acts for a host r1 holds, through r1 (status $got: $(head -c 300 body))"; fi
got=$(rpost r1 "$ID_A" "$START")
if [ "$got" = 200 ]; then ok "r1 acts for web-01 (200)"
else not_ok "r1 acts for web-01 (status $got: $(head -c 300 body))"; fi

# ---- the agent moves to r2: r1 loses its claim and closes ----
simto b1 web-01 r2 --answer SUCCESS
check "web-01 connected to r2" \
	wait_for 60 host_is r2 web-01 "h['connected'] and h['replica']=='r2'"
check "r1 closed its old connection of web-01 (claim_lost)" \
	wait_for 60 grep -q '"event":"agent.disconnected".*"reason":"claim_lost"' "$T_DIR/r1-audit.log"
check "the old agent was told 4001" wait_for 30 grep -q "4001" sim-a1.out
check "r1 now shows web-01 held by r2" \
	wait_for 60 host_is r1 web-01 "h['connected'] and h['replica']=='r2'"
check "r1 counted a lost claim" metric_is r1 signet_cluster_claims_lost_total 1
check "r1 holds no claim" wait_for 30 metric_is r1 signet_cluster_claims_held 0
lost=$(grep '"event":"agent.disconnected"' "$T_DIR/r1-audit.log" | grep claim_lost | head -n 1)
if printf '%s' "$lost" | grep -q '"host_id":"web-01"' &&
	printf '%s' "$lost" | grep -q 'held by replica r2'; then
	ok "claim_lost names the host and the new holder"
else not_ok "claim_lost names the host and the new holder: $lost"; fi

# ---- a second host on r2: both replicas see both ----
simto b2 web-02 r2 --answer SUCCESS
check "r1 shows web-02 on r2 with its containers" \
	wait_for 60 containers_on r1 "[c for c in d['containers'] if c['id']=='$ID_D' and c['host_id']=='web-02'] != []"

# ---- the database stops: 503 for actions, GETs answer, agents stay ----
(cd / && pg_server_stop) || { not_ok "database stopped"; finish; exit 1; }
down503() {
	[ "$(rpost r2 "$ID_D" "$START")" = 503 ] &&
		grep -q "the cluster database is unreachable" body
}
check "database down: r2 refuses new actions (503, the reason)" wait_for 120 down503
check "database down: r2 says signet_cluster_up 0" metric_is r2 signet_cluster_up 0
check "database down: r2 takes its claims as lapsed after claim_ttl_ms" \
	wait_for 60 metric_is r2 signet_cluster_claims_held 0
check "database down: GET /api/hosts still answers on r2" \
	host_is r2 web-02 "h['connected'] and h['replica']=='r2'"
check "database down: GET /api/containers still answers on r2" \
	containers_on r2 "[c for c in d['containers'] if c['id']=='$ID_D'] != []"
check "database down: the agents stay connected" \
	kill -0 "${SIMPID[b2]}"
check "database down: no agent was closed" \
	test "$(grep -c closed sim-b2.out)" = 0

# ---- the database back: claims renewed, actions again ----
(cd / && pg_server_start) || { not_ok "database started again"; finish; exit 1; }
check "database back: r2 is up again" wait_for 120 metric_is r2 signet_cluster_up 1
check "database back: r2 holds its two claims" \
	wait_for 120 metric_is r2 signet_cluster_claims_held 2
check "database back: the claims are r2's and live" \
	wait_for 60 sql_is 2 "SELECT count(*) FROM signet_claims WHERE replica='r2' AND expires_at > now()"
check "database back: web-02 still connected to r2" \
	host_is r2 web-02 "h['connected'] and h['replica']=='r2'"
got=$(rpost r2 "$ID_D" "$START")
if [ "$got" = 200 ]; then ok "database back: POST answers 200 again"
else not_ok "database back: POST answers 200 again (status $got: $(head -c 300 body))"; fi

# ---- a host leaving: its claim is released, shown offline ----
kill "${SIMPID[b2]}" 2>/dev/null
wait "${SIMPID[b2]}" 2>/dev/null
check "web-02 gone: offline on r1 with its last inventory" \
	wait_for 60 host_is r1 web-02 "not h['connected'] and h['replica']=='' and h['container_count']==1"
check "web-02 gone: its claim released" \
	wait_for 60 sql_is 0 "SELECT count(*) FROM signet_claims WHERE host_id='web-02' AND expires_at > now()"

# ---- the database down at start: r3 starts, serves, claims later ----
(cd / && pg_server_stop) || { not_ok "database stopped again"; finish; exit 1; }
conf r3 "$(cluster_lines r3)"
start r3 || not_ok "r3 starts while the database is down"
check "r3 said the database is unreachable at start" \
	grep -q "unreachable at start" "$T_DIR/r3.log"
simto c2 web-02 r3 --answer SUCCESS
check "r3 serves web-02 without the database" \
	wait_for 60 host_is r3 web-02 "h['connected'] and h['replica']=='r3'"
got=$(rpost r3 "$ID_D" "$START")
if [ "$got" = 503 ] && grep -q "the cluster database is unreachable" body; then
	ok "r3 refuses actions until the database answers (503)"
else not_ok "r3 refuses actions until the database answers (status $got: $(head -c 300 body))"; fi
(cd / && pg_server_start) || { not_ok "database started"; finish; exit 1; }
check "r3 claims web-02 once the database answers" \
	wait_for 120 sql_is r3 "SELECT replica FROM signet_claims WHERE host_id='web-02' AND expires_at > now()"
check "r1 shows web-02 held by r3" \
	wait_for 60 host_is r1 web-02 "h['connected'] and h['replica']=='r3'"
got=$(rpost r3 "$ID_D" "$START")
if [ "$got" = 200 ]; then ok "r3 acts once the database answers (200)"
else not_ok "r3 acts once the database answers (status $got: $(head -c 300 body))"; fi

# ---- one server: no [cluster], no field but replica "" ----
conf solo ""
start solo || not_ok "a server without [cluster] starts"
check "without [cluster] no cluster metrics" \
	test -z "$(metric_of solo signet_cluster_up)"

kill "${SPID[r1]}" "${SPID[r2]}" "${SPID[r3]}" "${SPID[solo]}" 2>/dev/null
wait "${SPID[r1]}" "${SPID[r2]}" "${SPID[r3]}" "${SPID[solo]}" 2>/dev/null
for r in r1 r2 r3; do
	check "$r's audit log verifies" quiet "$SIGNETCTL" audit verify \
		--key "$P/keys/audit.pub" "$T_DIR/$r-audit.log"
done
if python3 "$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" \
	"$T_DIR/r1-audit.log" "$T_DIR/r2-audit.log" "$T_DIR/r3-audit.log" >schema.out 2>&1; then
	ok "the replicas' audit records match docs/schema"
else
	not_ok "the replicas' audit records match docs/schema: $(head -c 600 schema.out)"
fi
finish
