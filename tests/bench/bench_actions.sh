#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark (not a test): sets up a PKI, a private dockerd with two busybox
# containers, a real signet-server and signet-agent on loopback, then runs
# bench_actions (START of a running container: dockerd's cheap 304 round
# trip, through signet and straight to dockerd; throughput at 1, 16, 64
# concurrent requests; one RESTART each way; then the CPU time per action
# of each process at 64 in flight). Every action is durable in both audit
# logs before it is answered.
#   [BASELINE=OLD_BUILD_DIR [ROUNDS=N]] [PERF=DIR] tests/bench/bench_actions.sh [BUILD_DIR] [COUNT]
# With BASELINE, the same runs go first through OLD_BUILD_DIR's server and
# agent (same dockerd, containers, PKI and load generator, one after the
# other), and a table puts the two builds' figures side by side; with
# ROUNDS=N the two take turns N times and the table holds medians. Last,
# with BUILD_DIR's server and agent holding an operator roster, START
# requests signed by the operator (docs/operators.md) and signed by the
# relay alone, alternated three times each: sequential p50 and 16 in
# flight, medians of the three, and what the operator's signature adds.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
count=${2:-2000}
export SIGNET_SOURCE_DIR=$src SIGNET_BUILD_DIR
SIGNET_BUILD_DIR=$(mktemp -d /tmp/signet-bench-actions.XXXXXX)
# shellcheck disable=SC1091
. "$src/tests/integration/lib.sh"
SIGNETCTL=$build/cli/signetctl
export SIGNETCTL
# relay.sh finds the binaries under SIGNET_BUILD_DIR; point it at build.
bench_state=$SIGNET_BUILD_DIR
# shellcheck disable=SC1091
. "$src/tests/integration/relay.sh"
SERVER_BIN=$build/server/signet-server
AGENT_BIN=$build/agent/signet-agent
stop_docker() { bash "$src/tests/integration/dockerd.sh" stop >/dev/null 2>&1 || true; rm -rf "$bench_state"; }
keep_logs() { [ -z "${BENCH_LOG:-}" ] || { mkdir -p "$BENCH_LOG"; cp "$T_DIR"/*.log "$BENCH_LOG/" 2>/dev/null || true; }; }
trap 'keep_logs; r_cleanup; stop_docker' EXIT
bash "$src/tests/integration/dockerd.sh" start
need_docker
make_pki
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "bench-*" },
               "actions": ["START", "RESTART"], "accept_relay_signed": true } ] }
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
# A build from before operator signing refuses accept_relay_signed.
cp "$T_DIR/policy.json" "$T_DIR/policy-new.json"
sed 's/, "accept_relay_signed": true//' "$T_DIR/policy-new.json" >"$T_DIR/policy-old.json"
chmod 0644 "$T_DIR/policy-new.json" "$T_DIR/policy-old.json"
# BENCH_LOG=DIR: info-level logs of server and agent, kept in DIR.
level=warn; [ -n "${BENCH_LOG:-}" ] && level=info
sed -i "s/^\[server\]/[server]\nlog_level = $level/" "$T_DIR/server.conf"
sed -i "s/^\[agent\]/[agent]\nlog_level = $level/" "$T_DIR/agent-web-01.conf"
# The agent's /metrics: its audit counters (records, fdatasync calls).
AGENT_METRICS_PORT=$(free_port)
sed -i "s/^\[agent\]/[agent]\nmetrics_listen = 127.0.0.1:$AGENT_METRICS_PORT/" "$T_DIR/agent-web-01.conf"
c1=$(docker run -d --network none --stop-timeout 1 --name bench-start "$SIGNET_TEST_IMAGE" sleep 100000)
# The concurrent runs spread their requests over SPREAD containers (default
# 16; 1 = all on bench-start): one container's actions run one at a time.
spread_n=${SPREAD:-16}
spread=$c1; spread_ids=()
for i in $(seq 2 "$spread_n"); do
	id=$(docker run -d --network none --stop-timeout 1 --name "bench-start-$i" "$SIGNET_TEST_IMAGE" sleep 100000)
	spread="$spread,$id"; spread_ids+=("$id")
done
c2=$(docker run -d --network none --stop-timeout 1 --name bench-restart "$SIGNET_TEST_IMAGE" sleep 100000)
known() { api_get "/api/containers/$c2" >/dev/null 2>&1; }
# audit_counts: "RECORDS SYNCS" of the server and of the agent (0 0 where
# a build has no such counters).
audit_counts() {
	local m a
	m=$(api_get /metrics 2>/dev/null || true)
	a=$(curl -sS --max-time 5 "http://127.0.0.1:$AGENT_METRICS_PORT/metrics" 2>/dev/null || true)
	printf '%s %s %s %s\n' \
		"$(awk '$1 == "signet_audit_records_total" {print $2}' <<<"$m" | grep . || echo 0)" \
		"$(awk '$1 == "signet_audit_syncs_total" {print $2}' <<<"$m" | grep . || echo 0)" \
		"$(awk '$1 == "signet_agent_audit_records_total" {print $2}' <<<"$a" | grep . || echo 0)" \
		"$(awk '$1 == "signet_agent_audit_syncs_total" {print $2}' <<<"$a" | grep . || echo 0)"
}
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
dockerd_pid=$(cat "$(dirname "${DOCKER_HOST#unix://}")/dockerd.pid" 2>/dev/null ||
	pgrep -o -x dockerd || echo 0)

# run_build DIR LABEL: the server and agent of build DIR, fresh audit logs,
# every phase with this build's load generator; output in bench-LABEL.out.
run_build() {
	local dir=$1 label=$2 out s0 a0 d0 s1 a1 d1 client sr0 ss0 ar0 as0 sr1 ss1 ar1 as1
	# shellcheck disable=SC2034 # read by relay.sh's start_server/start_agent
	SERVER_BIN=$dir/server/signet-server
	# shellcheck disable=SC2034

	AGENT_BIN=$dir/agent/signet-agent
	if "$AGENT_BIN" --check-policy "$T_DIR/policy-new.json" --host-id web-01 >/dev/null 2>&1; then
		cp "$T_DIR/policy-new.json" "$T_DIR/policy.json"
	else
		cp "$T_DIR/policy-old.json" "$T_DIR/policy.json"
	fi
	rm -f "$T_DIR"/server-audit.log* "$T_DIR"/agent-web-01-audit.log*
	start_server
	start_agent web-01
	wait_for 10 known || { echo "bench: $label: the agent's inventory never came"; return 1; }
	echo "== $label ($dir)"
	stdbuf -oL "$build/tests/bench_actions" --api "https://localhost:$API_PORT" \
		--ca "$SIGNET_PKI/ca.pem" --cert "$SIGNET_PKI/issued/alice.pem" \
		--key "$SIGNET_PKI/private/alice.key" \
		--docker-socket "${DOCKER_HOST#unix://}" --container "$c1" \
		--restart-container "$c2" --count "$count" --spread "$spread" |
		tee "$T_DIR/bench-$label.out"
	# Where the CPU goes: each process's CPU time per action over one
	# more run at 64 in flight (the cores are shared by all of them).
	# shellcheck disable=SC2153 # set by relay.sh's start_server/start_agent
	read -r sr0 ss0 ar0 as0 < <(audit_counts)
	{ s0=$(proc_cpu "$SERVER_PID"); a0=$(proc_cpu "$AGENT_PID"); d0=$(proc_cpu "$dockerd_pid"); }
	# PERF=DIR: a perf profile of server and agent over this run, kept in
	# DIR/perf-LABEL.data; PERF_CG holds perf record's call-graph options
	# (default -g: frame pointers, so build with -fno-omit-frame-pointer;
	# "--call-graph dwarf,8192" sees through the libraries too).
	local perf_pid=
	if [ -n "${PERF:-}" ]; then
		mkdir -p "$PERF"
		read -ra perf_cg <<<"${PERF_CG:--g}"
		perf record -q "${perf_cg[@]}" -o "$PERF/perf-$label.data" -p "$SERVER_PID,$AGENT_PID" >/dev/null 2>&1 &
		perf_pid=$!
		sleep 1
	fi
	out=$("$build/tests/bench_actions" --api "https://localhost:$API_PORT" \
		--ca "$SIGNET_PKI/ca.pem" --cert "$SIGNET_PKI/issued/alice.pem" \
		--key "$SIGNET_PKI/private/alice.key" \
		--docker-socket "${DOCKER_HOST#unix://}" --container "$c1" \
		--count "$count" --spread "$spread" --profile 64)
	s1=$(proc_cpu "$SERVER_PID"); a1=$(proc_cpu "$AGENT_PID"); d1=$(proc_cpu "$dockerd_pid")
	if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
	client=$(sed -n 's/.*CPU \([0-9.]*\) ms\/action.*/\1/p' <<<"$out")
	echo "CPU per action at 64 in flight ($out):"
	awk -v t="$(getconf CLK_TCK)" -v n="$count" -v s=$((s1 - s0)) -v a=$((a1 - a0)) \
		-v d=$((d1 - d0)) -v c="$client" 'BEGIN {
		k = 1000 / t / n
		printf "  signet-server %.3f ms, signet-agent %.3f ms, dockerd %.3f ms, " \
		    "this client %.3f ms: %.3f ms in all\n", s * k, a * k, d * k, c,
		    (s + a + d) * k + c }' | tee -a "$T_DIR/bench-$label.out"
	read -r sr1 ss1 ar1 as1 < <(audit_counts)
	if [ "$ss1" != 0 ] && [ "$as1" != 0 ]; then
		awk -v n="$count" -v sr=$((sr1 - sr0)) -v ss=$((ss1 - ss0)) \
			-v ar=$((ar1 - ar0)) -v as=$((as1 - as0)) 'BEGIN {
			printf "  audit per action at 64 in flight: server %.2f records, " \
			    "%.2f fdatasync; agent %.2f records, %.2f fdatasync\n",
			    sr / n, ss / n, ar / n, as / n }' | tee -a "$T_DIR/bench-$label.out"
	fi
	kill "$AGENT_PID" "$SERVER_PID" 2>/dev/null
	wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null || true
	R_PIDS=()                      # gone: the exit trap must not kill them
}

if [ -n "${BASELINE:-}" ]; then
	if [ ! -x "$BASELINE/server/signet-server" ] || [ ! -x "$BASELINE/agent/signet-agent" ]; then
		echo "bench: BASELINE=$BASELINE holds no signet-server and signet-agent"
		exit 2
	fi
fi
# ROUNDS=N (default 1): the builds take turns N times, so that neither
# always runs first on a machine that warms up; the table shows medians.
rounds=${ROUNDS:-1}
for round in $(seq 1 "$rounds"); do
	[ -z "${BASELINE:-}" ] || run_build "$BASELINE" "baseline-$round"
	run_build "$build" "this-$round"
done
if [ -n "${BASELINE:-}" ]; then
	# The two builds' figures side by side: medians over the rounds.
	python3 - "$T_DIR" "$rounds" <<'PY'
import re, statistics, sys
def figures(path):
    t = open(path).read()
    f = {}
    m = re.search(r"straight to dockerd: p50 ([\d.]+) ms  p90 ([\d.]+) ms  p99 ([\d.]+)", t)
    if m: f["sequential p50, dockerd straight (ms)"] = float(m.group(1))
    m = re.search(r"through signet:\s+p50 ([\d.]+) ms  p90 ([\d.]+) ms  p99 ([\d.]+)", t)
    if m:
        f["sequential p50 (ms)"] = float(m.group(1))
        f["sequential p99 (ms)"] = float(m.group(3))
    for n, d, s in re.findall(r"(\d+) in flight: straight to dockerd (\d+)/s, through signet (\d+)", t):
        f["%s in flight (actions/s)" % n] = float(s)
    m = re.search(r"RESTART \(stop timeout 1 s\): straight ([\d.]+) ms, through signet ([\d.]+)", t)
    if m: f["RESTART through signet (ms)"] = float(m.group(2))
    m = re.search(r"server ([\d.]+) records, ([\d.]+) fdatasync; agent ([\d.]+) records, ([\d.]+) fdatasync", t)
    if m:
        f["fdatasync/action at 64, server"] = float(m.group(2))
        f["fdatasync/action at 64, agent"] = float(m.group(4))
    m = re.search(r"signet-server ([\d.]+) ms, signet-agent ([\d.]+) ms", t)
    if m:
        f["CPU/action at 64, server (ms)"] = float(m.group(1))
        f["CPU/action at 64, agent (ms)"] = float(m.group(2))
    return f
def medians(label):
    runs = [figures("%s/bench-%s-%d.out" % (sys.argv[1], label, i))
            for i in range(1, int(sys.argv[2]) + 1)]
    keys = [k for k in runs[-1] if all(k in r for r in runs)]
    return {k: statistics.median(r[k] for r in runs) for k in keys}
old, new = medians("baseline"), medians("this")
print("\n| measure (median of %s) | baseline | this build | this / baseline |" % sys.argv[2])
print("| --- | --- | --- | --- |")
for k in new:
    if k not in old:
        print("| %s | - | %g | - |" % (k, new[k]))
    elif old[k]:
        print("| %s | %g | %g | %.2f |" % (k, old[k], new[k], new[k] / old[k]))
PY
fi
# Operator-signed against relay-signed, same build, same run.
(cd "$T_DIR" && "$SIGNETCTL" keygen --no-passphrase alice-signing >/dev/null)
"$PKI_SCRIPT" roster add alice --key "$T_DIR/alice-signing.pub" >/dev/null
"$PKI_SCRIPT" roster sign >/dev/null
add_server_roster
add_agent_roster web-01
SERVER_BIN=$build/server/signet-server
AGENT_BIN=$build/agent/signet-agent
cp "$T_DIR/policy-new.json" "$T_DIR/policy.json"
rm -f "$T_DIR"/server-audit.log* "$T_DIR"/agent-web-01-audit.log*
start_server
start_agent web-01
wait_for 10 known || { echo "bench: the agent's inventory never came"; exit 1; }
holds() { api_get /api/roster | grep -q '"roster_version":1'; }
wait_for 10 holds || { echo "bench: the agent never took the roster"; exit 1; }
echo "== operator-signed START against relay-signed ($build), alternated 3 times"
b() {
	"$build/tests/bench_actions" --api "https://localhost:$API_PORT" \
		--ca "$SIGNET_PKI/ca.pem" --cert "$SIGNET_PKI/issued/alice.pem" \
		--key "$SIGNET_PKI/private/alice.key" \
		--docker-socket "${DOCKER_HOST#unix://}" --container "$c1" \
		--count "$count" --spread "$spread" "$@"
}
signing=(--signing-key "$T_DIR/alice-signing.key" --signer alice --host web-01 --roster-version 1)
for i in 1 2 3; do
	b --profile seq | sed "s/^/relay-signed seq $i: /"
	b --profile seq "${signing[@]}" | sed "s/^/operator-signed seq $i: /"
	b --profile 16 | sed "s/^/relay-signed 16 $i: /"
	b --profile 16 "${signing[@]}" | sed "s/^/operator-signed 16 $i: /"
done | tee "$T_DIR/bench-signed.out"
python3 - "$T_DIR/bench-signed.out" <<'PY'
import re, statistics, sys
t = open(sys.argv[1]).read()
def med(kind, pat):
    v = [float(x) for x in re.findall(r"^%s \d: .*?%s" % (re.escape(kind), pat), t, re.M)]
    return statistics.median(v) if v else float("nan")
rows = [("sequential START p50 (ms)", r"p50 ([\d.]+) ms", "seq"),
        ("sequential START p99 (ms)", r"p99 ([\d.]+) ms", "seq"),
        ("16 in flight (actions/s)", r"through signet (\d+) actions/s", "16")]
print("\n| measure (median of 3) | relay-signed | operator-signed | difference | ratio |")
print("| --- | --- | --- | --- | --- |")
for name, pat, kind in rows:
    r = med("relay-signed " + kind, pat)
    o = med("operator-signed " + kind, pat)
    print("| %s | %g | %g | %+.3f | %.2f |" % (name, r, o, o - r, o / r))
PY
kill "$AGENT_PID" "$SERVER_PID" 2>/dev/null
wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null || true
R_PIDS=()
docker rm -f "$c1" "$c2" "${spread_ids[@]}" >/dev/null
