#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# agent_sim's reconnection (tests/tools/agent_sim/redial.c), on which
# tests/bench/bench_cluster.sh counts: with two --url, a simulated agent
# drained by the first server (tests/tools/fake_server sends the drain
# frame) leaves within the drain's window and says hello and sends its
# inventory at the next URL (a real signet-server); that server killed,
# it goes back to the first; with both gone, its redials back off with
# full jitter up to --reconnect-max-ms. The status line (SIGUSR1,
# --status-file) follows; bad options are refused. And the synthetic
# containers of two agents (--containers) have ids of their own.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
OUT="$T_DIR/fake.out"
. "$(dirname "$0")/fake.sh"
SIM="$SIGNET_BUILD_DIR/tests/agent_sim"
if [ ! -x "$SIM" ] || [ ! -x "$FAKE" ] || [ ! -x "$SERVER_BIN" ]; then
	echo "agent_sim, fake_server or signet-server not built"; exit 1
fi
cd "$T_DIR" || exit 1
touch "$OUT"
make_pki || exit 1
"$PKI_SCRIPT" agent web-02 >/dev/null || exit 1
write_server_conf
B_PORT=$AGENT_PORT
start_server || exit 1

# Two agents' synthetic containers: four rows, no inventory conflict.
"$SIM" --url "wss://localhost:$B_PORT" --ca "$SIGNET_PKI/ca.pem" --pki "$SIGNET_PKI" \
	--prefix web-0 --first 1 --count 2 --containers 2 --duration 3 >two.out 2>&1 &
two=$!
# count_containers N [HOST]: /api/containers lists N (of HOST).
count_containers() { [ "$(api_get "/api/containers${2:+?host=$2}" | pyq 'len(d["containers"])' 2>/dev/null)" = "$1" ]; }
check "two agents' synthetic containers are four rows" wait_for 10 count_containers 4
check "... with ids of their own (no inventory.conflict)" \
	test "$(grep -c '"event":"inventory.conflict"' "$T_DIR/server-audit.log")" -eq 0
wait "$two"
check "... and without --url twice the agents do not redial" \
	grep -q '^summary agents=2 connected=2 closed=2 errors=0$' two.out
AGENT_PORT=$(free_port)
A_PORT=$AGENT_PORT
start_fake || exit 1
A="wss://localhost:$A_PORT"
B="wss://localhost:$B_PORT"
printf '{"type":"drain","within_ms":300}' >drain.json

"$SIM" --url "$A" --url "$B" --ca "$SIGNET_PKI/ca.pem" --pki "$SIGNET_PKI" \
	--name web-01 --containers 2 --reconnect-min-ms 50 --reconnect-max-ms 400 \
	--status-file sim.status >sim.out 2>&1 &
SIM_PID=$!
R_PIDS+=("$SIM_PID")
status_has() { grep -q -- "$1" sim.status 2>/dev/null; }

check "the agent says hello at its first URL" wait_hello 1
check "... and sends its inventory there" wait_for 5 grep -q '^inventory containers=2 ' "$OUT"
send raw "$T_DIR/drain.json"
check "drained, it reconnects at the next URL" \
	wait_for 10 grep -q "^reconnected 0 url=$B after_ms=[0-9]* attempts=1\$" sim.out
leave=$(sed -n 's/^drain 0 within_ms=300 leave_in_ms=\([0-9]*\)$/\1/p' sim.out)
check "it heard the drain and left within its window (${leave:-none} ms)" \
	test -n "$leave" -a "${leave:-999}" -lt 300
check "it closed the drained connection itself" grep -q '^closed 0 code=1000 by=drain$' sim.out
check "the first server saw it go" wait_for 5 grep -q '^closed' "$OUT"
hosts_has() { api_get /api/hosts | grep -q '"host_id":"web-01"'; }
check "the next server holds it (hello accepted)" wait_for 10 hosts_has
check "... and its inventory" wait_for 10 count_containers 2 web-01
check "the status file: one open, hello out, one reconnection, one drain" \
	wait_for 5 status_has 'agents=1 open=1 hello=1 accepted=0 connecting=0 waiting=0 done=0 reconnects=1 drains=1$'
kill -USR1 "$SIM_PID"
check "SIGUSR1 prints the status line" wait_for 5 grep -q '^status ms=[0-9]* agents=1 open=1 ' sim.out

kill -9 "$SERVER_PID"
check "the next server killed, it goes back to the first: hello again" wait_hello 2
inventories() { [ "$(grep -c '^inventory containers=2 ' "$OUT")" -ge "$1" ]; }
check "... with its inventory again" wait_for 5 inventories 2
check "the loss is reported with the time since it" \
	grep -q "^reconnected 0 url=$A after_ms=[0-9]* attempts=[0-9]*\$" sim.out
check "status: two reconnections" wait_for 5 status_has ' open=1 hello=1 .* reconnects=2 '

stop_fake
sleep 3
redials() { sed -n 's/^redial 0 from=[^ ]* next=[^ ]* in_ms=\([0-9]*\) ceiling_ms=\([0-9]*\) fails=\([0-9]*\)$/\1 \2 \3/p' sim.out; }
check "with both servers gone it keeps redialling" test "$(redials | awk '$3 >= 5' | wc -l)" -ge 1
check "each redial waits less than its ceiling (full jitter)" \
	test "$(redials | awk '$1 >= $2' | wc -l)" -eq 0
check "the ceiling doubles each round of URLs (50, 100, 200) and stops at 400" \
	test "$(redials | awk '{ w = 50; for (i = 1; i <= int(($3 - 1) / 2); i++) w *= 2; if (w > 400) w = 400; if (w != $2) print }' | wc -l)" -eq 0
check "... which it reached" test "$(redials | awk '$2 == 400' | wc -l)" -ge 1
check "status: it waits or dials, none open" status_has ' open=0 hello=0 '
kill "$SIM_PID"
wait "$SIM_PID"
rc=$?
check "on SIGTERM it ends with the summary (exit $rc: it opened)" test "$rc" -eq 0
check "the summary counts the reconnections" grep -q '^summary agents=1 connected=1 closed=[0-9]* errors=[0-9]* reconnects=2$' sim.out

# Bad options.
base=(--ca "$SIGNET_PKI/ca.pem" --pki "$SIGNET_PKI" --name web-01)
check_fails_with "--reconnect-min-ms 0: refused" 'expected a number in 1\.\.3600000' \
	"$SIM" --url "$A" --reconnect-min-ms 0 "${base[@]}"
check_fails_with "--reconnect-max-ms over an hour: refused" 'expected a number in 1\.\.3600000' \
	"$SIM" --url "$A" --reconnect-max-ms 3600001 "${base[@]}"
check_fails_with "min over max: refused" 'is over --reconnect-max-ms' \
	"$SIM" --url "$A" --reconnect-min-ms 500 --reconnect-max-ms 100 "${base[@]}"
many=(); for _ in 1 2 3 4 5 6 7 8 9; do many+=(--url "$A"); done
check_fails_with "a ninth --url: refused" 'at most 8' "$SIM" "${many[@]}" "${base[@]}"
check_fails_with "a second URL that is not wss: refused" '"http://localhost:1": expected wss' \
	"$SIM" --url "$A" --url http://localhost:1 "${base[@]}"
check_fails_with "a port out of range: refused" 'expected wss' \
	"$SIM" --url "$A" --url wss://localhost:65536 "${base[@]}"
check_fails_with "--url without a value: refused" '--url needs a value' "$SIM" "${base[@]}" --url
finish
