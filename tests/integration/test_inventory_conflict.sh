#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# One agent cannot block or take actions on another host's containers by
# listing their ids (issue 12, item 3): a real signet-server with
# simulated agents (tests/tools/agent_sim) of web-01 (A) and web-02 (B).
# A stale inventory of a disconnected host does not shadow a connected
# host's container; B's claim to A's full id is dropped from B's
# inventory (its other rows stay) and audited once as inventory.conflict,
# also when B reports it again; the action on the full id goes to A, and
# still does after B has left. The audit log validates against
# docs/schema.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/sim.sh"
sim_begin

write_server_conf
start_server || { not_ok "server started"; finish; exit 1; }
AUDIT=$T_DIR/server-audit.log

ID_A=aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111
ID_C=cccccccccccc3333333333333333333333333333333333333333333333333333
ID_D=dddddddddddd4444444444444444444444444444444444444444444444444444
ID_S=eeeeeeeeeeee5555555555555555555555555555555555555555555555555555
inv() {
	local rows="" id
	for id in "$@"; do rows="$rows${rows:+,}$(inventory_row "$id" "c-${id:0:4}")"; done
	echo "{\"type\":\"inventory\",\"containers\":[$rows]}"
}
inv "$ID_S" >b-old.json
inv "$ID_A" "$ID_C" "$ID_S" >a.json
inv "$ID_A" "$ID_D" >b.json

# agent NAME HOST INVENTORY [agent_sim options]: a simulated agent in the
# background (output in sim-NAME.out), its pid in AGENT_SIM.
agent() {
	local name=$1 host=$2 inv=$3; shift 3
	"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$CA" --pki "$P" \
		--name "$host" --inventory "$inv" --action-pub "$P/keys/action.pub" \
		--answer SUCCESS "$@" >"sim-$name.out" 2>&1 &
	AGENT_SIM=$!
	SIM_PIDS+=("$AGENT_SIM")
}
stop_agent() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
host_offline() {
	api_get /api/hosts | pyq "[h for h in d['hosts'] if h['host_id']=='$1' and not h['connected']] != []" | grep -q true
}
# count_is HOST N: HOST's inventory holds N rows on the server.
count_is() {
	api_get /api/hosts | pyq "[h['container_count'] for h in d['hosts'] if h['host_id']=='$1'] == [$2]" | grep -q true
}
# owner ID: the host the server resolves ID to (GET /api/containers/ID).
owner() { api_get "/api/containers/$1" | pyq "d['host_id']"; }
conflicts() {
	grep -F '"event":"inventory.conflict"' "$AUDIT" |
		grep -F "\"host_id\":\"$1\"" | grep -cF "\"container_id\":\"$2\"" || true
}
START='{"action":"START","reason":"inventory conflict test"}'
# act ID: POST a START of ID; the answer's status line and host in out.
act() {
	api_post "/api/containers/$1/actions?wait=20" "$START" >act.out
	tail -1 act.out
}
act_host() { head -1 act.out | pyq "d['host_id'] + ' ' + d['status']"; }

# ---- a disconnected host's stale inventory does not shadow
agent b_old web-02 b-old.json
b_old=$AGENT_SIM
check "B connected with its first inventory" wait_for 20 host_connected web-02
stop_agent "$b_old"
check "B is offline, its inventory kept" wait_for 20 host_offline web-02
agent a web-01 a.json
check "A connected with its inventory" wait_for 20 host_connected web-01
check "A's claim to an id B reported before leaving is taken: A has 3 rows" \
	count_is web-01 3
check "the full id B reported while connected resolves to A (connected)" \
	test "$(owner "$ID_S")" = web-01
check "action on that id: 200, not 409" test "$(act "$ID_S")" = "HTTP 200"
check "action on that id went to A" test "$(act_host)" = "web-01 SUCCESS"
check "B's stale report was no conflict (B was not connected)" \
	test "$(conflicts web-01 "$ID_S")" -eq 0

# ---- a connected host claims a full id that A holds
# B sends its inventory twice (the second as --raw): audited once.
agent b web-02 b.json --raw b.json
b=$AGENT_SIM
check "B connected" wait_for 20 host_connected web-02
check "B sent its inventory twice" wait_for 20 grep -q '^sent 0 raw' sim-b.out
check "B's claim to A's id dropped, its other row kept: B has 1 row" \
	wait_for 20 count_is web-02 1
check "B's own container resolves to B" test "$(owner "$ID_D")" = web-02
check "A's full id still resolves to A" test "$(owner "$ID_A")" = web-01
check "action on A's full id: 200, not 409" test "$(act "$ID_A")" = "HTTP 200"
check "action on A's full id went to A" test "$(act_host)" = "web-01 SUCCESS"
check "A got it, B did not" \
	test "$(grep -c "^action 0 .*container=$ID_A" sim-a.out)" = 1 -a \
	"$(grep -c '^action 0 ' sim-b.out)" = 0
check "inventory.conflict audited, naming both hosts and the id" \
	grep -qE "\"event\":\"inventory.conflict\",\"actor\":\"server\",\"data\":\\{\"host_id\":\"web-02\",\"container_id\":\"$ID_A\",\"held_by\":\"web-01\"" "$AUDIT"
check "inventory.conflict audited once for two inventories" \
	test "$(conflicts web-02 "$ID_A")" -eq 1

# ---- after B leaves, nothing changes
stop_agent "$b"
check "B is offline" wait_for 20 host_offline web-02
check "A's full id still resolves to A" test "$(owner "$ID_A")" = web-01
check "action on A's full id after B left: 200" test "$(act "$ID_A")" = "HTTP 200"
check "it went to A" test "$(act_host)" = "web-01 SUCCESS"
check "no further inventory.conflict" test "$(conflicts web-02 "$ID_A")" -eq 1

schema=$(python3 "$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$AUDIT" 2>&1)
check "audit log matches docs/schema ($schema)" grep -q '^ok ' <<<"$schema"
finish
