#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark (not a test): the latency of an action when its host is held
# by the replica asked (r1) and when it is held by another one (r2 asks,
# r1 relays: docs/cluster.md, "Actions across replicas"), side by side in
# one run: two replicas on the test suite's private PostgreSQL
# (tests/integration/postgres.sh, started and stopped here), one
# simulated agent (agent_sim, answering SUCCESS at once) connected to r1.
# N rounds (default 400, the first 20 not counted), each one POST on r1
# then one on r2, over one kept-alive HTTPS connection per replica; prints
# p50, p90 and p99 of each and the relay counters.
#   tests/bench/bench_cluster_relay.sh [BUILD_DIR] [N]
set -uo pipefail
SIGNET_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
SIGNET_BUILD_DIR=$(cd "${1:-$SIGNET_SOURCE_DIR/build}" && pwd)
ROUNDS=${2:-400}
export SIGNET_SOURCE_DIR SIGNET_BUILD_DIR
# shellcheck source=tests/integration/lib.sh
. "$SIGNET_SOURCE_DIR/tests/integration/lib.sh"
# shellcheck source=tests/integration/relay.sh
. "$SIGNET_SOURCE_DIR/tests/integration/relay.sh"
# shellcheck source=tests/integration/sim.sh
. "$SIGNET_SOURCE_DIR/tests/integration/sim.sh"
# shellcheck source=tests/integration/pg_lib.sh
. "$SIGNET_SOURCE_DIR/tests/integration/pg_lib.sh"
bash "$SIGNET_SOURCE_DIR/tests/integration/postgres.sh" start >/dev/null || exit 1
pg_need
sim_begin
stop_pg() {
	cd / || true
	sim_cleanup_all
	bash "$SIGNET_SOURCE_DIR/tests/integration/postgres.sh" stop >/dev/null
}
trap stop_pg EXIT

DB=$(pg_new_db bench) || exit 1
ID_A=aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID_A web-a)]}" >inv1.json
declare -A APORT HPORT
for n in r1 r2; do
	HPORT[$n]=$(free_port)
	APORT[$n]=$(free_port)
	cat >"$T_DIR/$n.conf" <<CONF
[server]
agent_listen = 127.0.0.1:${HPORT[$n]}
api_listen   = 127.0.0.1:${APORT[$n]}
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
path = $T_DIR/$n-audit.log
[cluster]
database = host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$DB user=signet sslmode=verify-full connect_timeout=2
replica = $n
sslrootcert = $SIGNET_PG_PKI/ca.pem
sslcert = $SIGNET_PG_PKI/issued/$n.pem
sslkey = $SIGNET_PG_PKI/private/$n.key
CONF
	"$SERVER_BIN" --config "$T_DIR/$n.conf" >>"$T_DIR/$n.log" 2>&1 &
	R_PIDS+=($!)
done
"$SIM" --url "wss://localhost:${HPORT[r1]}" --ca "$CA" --pki "$P" --name web-01 \
	--inventory inv1.json --action-pub "$P/keys/action.pub" --answer SUCCESS \
	--quiet >sim.out 2>&1 &
SIM_PIDS+=($!)
seen() {
	curl -sS --fail --cacert "$CA" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" \
		"https://localhost:${APORT[r2]}/api/containers/$ID_A" >/dev/null 2>&1
}
wait_for 120 seen || { echo "r2 never saw web-01's container"; exit 1; }
python3 - "$P" "${APORT[r1]}" "${APORT[r2]}" "$ID_A" "$ROUNDS" <<'PY'
import http.client, json, ssl, statistics, sys, time
pki, p1, p2, cid, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/issued/alice.pem", pki + "/private/alice.key")
conns = {"r1 (holds the host)": http.client.HTTPSConnection("localhost", p1, context=ctx),
         "r2 (relayed by r1)": http.client.HTTPSConnection("localhost", p2, context=ctx)}
body = json.dumps({"action": "START", "reason": "bench"})
times = {k: [] for k in conns}
for i in range(rounds):
    for k, c in conns.items():
        t0 = time.perf_counter()
        c.request("POST", "/api/containers/%s/actions" % cid, body,
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        dt = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            sys.exit("%s answered %d" % (k, r.status))
        if i >= 20:
            times[k].append(dt)
for k, t in times.items():
    t.sort()
    print("%-20s n=%d p50=%.2f ms p90=%.2f ms p99=%.2f ms" % (
        k, len(t), statistics.median(t), t[int(len(t) * 0.9)], t[int(len(t) * 0.99)]))
PY
for n in r1 r2; do
	curl -sS --cacert "$CA" --cert "$P/issued/alice.pem" --key "$P/private/alice.key" \
		"https://localhost:${APORT[$n]}/metrics" |
		awk -v n="$n" '/^signet_cluster_(actions|results)/ {print n": "$0}'
done
