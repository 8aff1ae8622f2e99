#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark (not a test): N simulated agents, each with its own real
# certificate, a real TLS 1.3 handshake, hello and an inventory, against a
# real signet-server on loopback. Prints the time until all are connected
# (as the server counts them), the server's RSS per connected agent, and
# its CPU use while the agents sit idle. agent_sim keeps at most
# SIM_INFLIGHT (default 64) connections between connect and open, so it
# goes as fast as the server takes agents; SIM_RATE caps connections/s.
# BENCH_KEEP=1 keeps the work directory (logs) for a look afterwards.
# With BASELINE=OLD_BUILD_DIR, the same runs go first through the old
# build's server and agent_sim, and a table puts the two side by side.
#   [BASELINE=OLD_BUILD_DIR] [PERF=DIR] tests/bench/bench_agents.sh [BUILD_DIR] N...
#   (default N: 1000 10000)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}; shift || true
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(1000 10000)
work=$(mktemp -d /tmp/signet-bench-agents.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
export SIGNETCTL=$build/cli/signetctl
pki=$work/pki
"$src/pki/signet-pki" init "$pki" --nopass >/dev/null
SIGNET_PKI=$pki "$src/pki/signet-pki" server localhost --dns localhost --ip 127.0.0.1 >/dev/null
SIGNET_PKI=$pki "$src/pki/signet-pki" operator bench >/dev/null
max=0; for n in "${counts[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
t0=$(date +%s.%N)
"$build/tests/certgen" "$pki" "$work/agents" a "$max" >/dev/null
echo "issued $max agent identities in $(echo "$(date +%s.%N) - $t0" | bc) s (certgen)"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() {
	curl -sS --max-time 5 --cacert "$pki/ca.pem" --cert "$pki/issued/bench.pem" \
		--key "$pki/private/bench.key" "https://localhost:$api/metrics" |
		awk -v m="$1" '$1 == m {print $2}'
}

run_build() {
	local dir=$1 label=$2 n
	for n in "${counts[@]}"; do
		agent=$(port); api=$(port)
		cat >"$work/server.conf" <<CONF
[server]
agent_listen = 127.0.0.1:$agent
api_listen   = 127.0.0.1:$api
log_level    = warn
[tls]
ca   = $pki/ca.pem
crl  = $pki/crl.pem
cert = $pki/issued/localhost.pem
key  = $pki/private/localhost.key
[keys]
action     = $pki/keys/action.key
audit      = $pki/keys/audit.key
agents_dir = $work/agents/keys/agents
[audit]
path = $work/audit-$label-$n.log
CONF
		"$dir/server/signet-server" --config "$work/server.conf" 2>"$work/server-$label-$n.log" &
		spid=$!; pids+=("$spid")
		for _ in $(seq 1 100); do metric signet_agents_connected >/dev/null 2>&1 && break; sleep 0.1; done
		rss0=$(rss_kib "$spid")
		"$dir/tests/agent_sim" --url "wss://localhost:$agent" --ca "$pki/ca.pem" \
			--pki "$work/agents" --prefix a- --count "$n" --containers 5 --quiet ${SIM_RATE:+--rate "$SIM_RATE"} \
			--inflight "${SIM_INFLIGHT:-64}" \
			>"$work/sim-$label-$n.log" 2>&1 &
		simpid=$!; pids+=("$simpid")
		# The clock starts once agent_sim has loaded its N keys and connects.
		until grep -q '^ready ' "$work/sim-$label-$n.log"; do
			kill -0 "$simpid" 2>/dev/null || { echo "agent_sim died:"; cat "$work/sim-$label-$n.log"; exit 1; }
			sleep 0.05
		done
		# PERF=DIR: a perf profile of server and agent_sim while the agents connect, kept
		# in DIR/perf-agents-LABEL-N.data; PERF_CG as in bench_actions.sh.
		perf_pid=
		if [ -n "${PERF:-}" ]; then
			mkdir -p "$PERF"
			read -ra perf_cg <<<"${PERF_CG:--g}"
			perf record -q "${perf_cg[@]}" -o "$PERF/perf-agents-$label-$n.data" -p "$spid,$simpid" >/dev/null 2>&1 &
			perf_pid=$!
		fi
		start=$(date +%s.%N)
		sc0=$(cpu_ticks "$spid"); mc0=$(cpu_ticks "$simpid")
		connected=0
		while :; do
			connected=$(metric signet_agents_connected || echo 0)
			[ "${connected:-0}" -ge "$n" ] && break
			if [ "$(echo "$(date +%s.%N) - $start > 120" | bc)" = 1 ]; then
				echo "N=$n: only $connected connected after 120 s"; break
			fi
			sleep 0.2
		done
		elapsed=$(echo "$(date +%s.%N) - $start" | bc)
		sc1=$(cpu_ticks "$spid"); mc1=$(cpu_ticks "$simpid")
		if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
		sleep 2  # let inventories land
		rss1=$(rss_kib "$spid")
		c0=$(cpu_ticks "$spid"); sleep 10; c1=$(cpu_ticks "$spid")
		hz=$(getconf CLK_TCK)
		printf '%s N=%d: %d connected in %.2f s; server RSS %d KiB -> %d KiB = %.1f KiB per agent; idle CPU %.2f%% of one core (10 s)\n' \
			"$label" "$n" "$connected" "$elapsed" "$rss0" "$rss1" \
			"$(echo "($rss1 - $rss0) / $n" | bc -l)" \
			"$(echo "($c1 - $c0) * 100 / $hz / 10" | bc -l)"
		printf '%s   CPU while connecting: server %.2f s (%.2f ms per agent), agent_sim %.2f s\n' \
			"$label" "$(echo "($sc1 - $sc0) / $hz" | bc -l)" \
			"$(echo "($sc1 - $sc0) * 1000 / $hz / $n" | bc -l)" \
			"$(echo "($mc1 - $mc0) / $hz" | bc -l)"
		kill "$simpid" "$spid" 2>/dev/null || true
		wait "$simpid" "$spid" 2>/dev/null || true
	done
}

if [ -n "${BASELINE:-}" ]; then
	if [ ! -x "$BASELINE/server/signet-server" ] || [ ! -x "$BASELINE/tests/agent_sim" ]; then
		echo "bench: BASELINE=$BASELINE holds no signet-server and agent_sim"
		exit 2
	fi
	run_build "$BASELINE" baseline | tee "$work/bench-baseline.out"
fi
run_build "$build" this | tee "$work/bench-this.out"
if [ -n "${BASELINE:-}" ]; then
	python3 - "$work/bench-baseline.out" "$work/bench-this.out" <<'PY'
import re, sys
def figures(path):
    f = {}
    for line in open(path):
        m = re.search(r"N=(\d+): \d+ connected in ([\d.]+) s; .* = ([\d.]+) KiB per agent; idle CPU ([\d.]+)%", line)
        if m:
            n = m.group(1)
            f["%s agents: connected in (s)" % n] = float(m.group(2))
            f["%s agents: server RSS per agent (KiB)" % n] = float(m.group(3))
            f["%s agents: idle CPU (%% of a core)" % n] = float(m.group(4))
        m = re.search(r"CPU while connecting: server [\d.]+ s \(([\d.]+) ms per agent\), agent_sim ([\d.]+) s", line)
        if m:
            f["%s agents: server CPU per agent (ms)" % n] = float(m.group(1))
            f["%s agents: agent_sim CPU (s)" % n] = float(m.group(2))
    return f
old, new = figures(sys.argv[1]), figures(sys.argv[2])
print("\n| measure | baseline | this build | this / baseline |")
print("| --- | --- | --- | --- |")
for k in old:
    if k in new:
        print("| %s | %g | %g | %s |" % (k, old[k], new[k], "%.2f" % (new[k] / old[k]) if old[k] else "-"))
PY
fi
