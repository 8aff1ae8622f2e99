#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark (not a test): three signet-server replicas (r1 r2 r3, cluster
# mode, docs/cluster.md) on one private PostgreSQL on loopback
# (tests/integration/postgres.sh, with pg_stat_statements loaded), all in
# a scratch directory. Prints:
#  (a) failover: N simulated agents (agent_sim, each its own certificate,
#      spread over the three URLs, the agent's reconnection: next URL,
#      full-jitter backoff) connect; then kill -9 of r1; the time from the
#      kill until every agent is served again: its claim held, unlapsed,
#      by a live replica (SELECT count(*) FROM signet_claims WHERE
#      expires_at > now() AND replica <> 'r1' reaches N), median of RUNS
#      runs; beside it the cold start of the same N (until all N claims are
#      held), the reference measured in the same run, and the spread of the
#      agents' own reconnection times (agent_sim's "reconnected" lines).
#  (b) with a real signet-agent (host web-01, held by one replica) and the private
#      dockerd of tests/integration/dockerd.sh: sequential START p50 with
#      the POST on the holder (same replica) and on the next (another: the
#      action is relayed through the database), alternated RUNS times,
#      medians, and the cross/same ratio and difference;
#  (c) throughput at 16 in flight: all on r1, all on r2, spread over
#      r1 r2 r3 (request slot i on replica i mod 3);
#  (d) database statements per action, from pg_stat_statements (calls of
#      every statement in the run's database, idle background — renewals,
#      the mirror — measured over as long with no action and subtracted),
#      same replica and cross, and the cross run's statements by kind.
#      (Not pg_stat_database's xact_commit: autovacuum's transactions count
#      there too, and backends report it late.)
#   tests/bench/bench_cluster.sh [BUILD_DIR] [N...]   (default: 1000 10000)
# Environment: RUNS (3), CLAIM_TTL_MS (10000, the default: how long a dead
# replica's claims last; the failover does not wait for them, a hello
# claims over them), SIM_INFLIGHT (128: agent_sim's dials in progress at once,
# first dials and redials), RECONNECT_MIN_MS / RECONNECT_MAX_MS (500 /
# 30000, the agent's defaults), COUNT (200 actions per measure), SKIP=a or
# SKIP=bcd (leave out parts), BENCH_KEEP=1 (keep the scratch directory).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd); shift || true
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(1000 10000)
runs=${RUNS:-3}
ttl=${CLAIM_TTL_MS:-10000}
inflight=${SIM_INFLIGHT:-128}
rmin=${RECONNECT_MIN_MS:-500}
rmax=${RECONNECT_MAX_MS:-30000}
count=${COUNT:-200}
skip=${SKIP:-}
work=$(mktemp -d /tmp/signet-bench-cluster.XXXXXX)
export SIGNET_SOURCE_DIR=$src SIGNET_BUILD_DIR=$work SIGNETCTL=$build/cli/signetctl
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	bash "$src/tests/integration/dockerd.sh" stop >/dev/null 2>&1 || true
	bash "$src/tests/integration/postgres.sh" stop >/dev/null 2>&1 || true
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
secs() { if [ "$1" = none ]; then echo "never (timeout)"; else printf '%.2f' "$1"; fi; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# The database, with pg_stat_statements (for (d)).
bash "$src/tests/integration/postgres.sh" start
# shellcheck disable=SC1091
. "$work/postgres.env"
[ "${SIGNET_PG_STATE:-}" = up ] || { echo "bench: no PostgreSQL: ${SIGNET_PG_WHY:-}"; exit 1; }
# shellcheck disable=SC1091
. "$src/tests/integration/pg_lib.sh"
printf "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n" \
	>>"$SIGNET_PG_DIR/data/postgresql.conf"
bash "$src/tests/integration/postgres.sh" halt
bash "$src/tests/integration/postgres.sh" resume
pg_sql postgres "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

# signet's PKI: the replicas share the server certificate and the action
# key; each keeps its own audit log.
pki=$work/pki
"$src/pki/signet-pki" init "$pki" --nopass >/dev/null
SIGNET_PKI=$pki "$src/pki/signet-pki" server localhost --dns localhost --ip 127.0.0.1 >/dev/null
SIGNET_PKI=$pki "$src/pki/signet-pki" operator alice >/dev/null
SIGNET_PKI=$pki "$src/pki/signet-pki" agent web-01 >/dev/null
max=0; for n in "${counts[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
if [[ $skip != *a* ]]; then
	"$build/tests/certgen" "$pki" "$work/agents" a "$max" >/dev/null
else
	mkdir -p "$work/agents/keys/agents"
fi
cp "$pki/keys/agents/web-01.pub" "$work/agents/keys/agents/"
echo "bench: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg); PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$SIGNET_PG_PORT; claim_ttl_ms=$ttl; agents reconnect_min_ms=$rmin reconnect_max_ms=$rmax; build $build"

declare -A APORT PPORT PID
# start_replicas DB: r1 r2 r3 on database DB, each with fresh ports and
# audit log; waits until each answers /healthz.
start_replicas() {
	local db=$1 r
	for r in r1 r2 r3; do
		APORT[$r]=$(port); PPORT[$r]=$(port)
		rm -f "$work/$r-audit.log"*
		cat >"$work/$r.conf" <<CONF
[server]
agent_listen = 127.0.0.1:${APORT[$r]}
api_listen   = 127.0.0.1:${PPORT[$r]}
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
path = $work/$r-audit.log
[cluster]
database     = host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$db user=signet sslmode=verify-full connect_timeout=5
sslrootcert  = $SIGNET_PG_PKI/ca.pem
sslcert      = $SIGNET_PG_PKI/issued/$r.pem
sslkey       = $SIGNET_PG_PKI/private/$r.key
replica      = $r
claim_ttl_ms = $ttl
CONF
		"$build/server/signet-server" --config "$work/$r.conf" >>"$work/$r.log" 2>&1 &
		PID[$r]=$!; pids+=("${PID[$r]}")
		disown "${PID[$r]}" # killed with -9 on purpose: no job report
	done
	for r in r1 r2 r3; do
		for _ in $(seq 1 100); do api "$r" /healthz >/dev/null 2>&1 && break; sleep 0.1; done
		api "$r" /healthz >/dev/null || { echo "bench: $r did not come up:"; tail -n 5 "$work/$r.log"; exit 1; }
	done
}
stop_replicas() {
	local r
	for r in r1 r2 r3; do
		kill -9 "${PID[$r]}" 2>/dev/null || true
		while kill -0 "${PID[$r]}" 2>/dev/null; do sleep 0.05; done
	done
}
# api R PATH: GET on replica R as alice.
api() {
	curl -sS --fail --max-time 5 --cacert "$pki/ca.pem" --cert "$pki/issued/alice.pem" \
		--key "$pki/private/alice.key" "https://localhost:${PPORT[$1]}$2"
}
# served DB DEAD: claims held, unlapsed, by a replica other than DEAD.
served() { pg_sql "$1" "SELECT count(*) FROM signet_claims WHERE expires_at > now() AND replica <> '$2'"; }
# cpu PID...: their CPU time (user + system), in clock ticks.
cpu() { local p s=0; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$s"; }
# alive PID...: those still running.
alive() { local p; for p in "$@"; do [ -e "/proc/$p/stat" ] && printf '%s ' "$p"; done; }
pg_pids() { local m; m=$(head -n 1 "$SIGNET_PG_DIR/data/postmaster.pid"); echo "$m $(pgrep -P "$m" | tr '\n' ' ')"; }
simstat() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$work/sim.status" 2>/dev/null || echo 0; }

# ---- (a) failover ------------------------------------------------------
failover() {
	local n=$1 run=$2 db t0 cold tk t s served_at=none open_at=none nrec
	db=$(pg_new_db "bench_fo")
	start_replicas "$db"
	rm -f "$work/sim.status"
	"$build/tests/agent_sim" --url "wss://localhost:${APORT[r1]}" \
		--url "wss://localhost:${APORT[r2]}" --url "wss://localhost:${APORT[r3]}" \
		--ca "$pki/ca.pem" --pki "$work/agents" --prefix a- --count "$n" \
		--containers 5 --quiet --inflight "$inflight" \
		--reconnect-min-ms "$rmin" --reconnect-max-ms "$rmax" \
		--status-file "$work/sim.status" >"$work/sim-$n-$run.log" 2>&1 &
	local simpid=$!; pids+=("$simpid")
	until grep -q '^ready ' "$work/sim-$n-$run.log" 2>/dev/null; do
		kill -0 "$simpid" 2>/dev/null || { echo "agent_sim died:"; tail "$work/sim-$n-$run.log"; exit 1; }
		sleep 0.05
	done
	t0=$(now)
	cold=none
	while :; do
		t=$(since "$t0")
		if [ "$(served "$db" -)" -ge "$n" ]; then cold=$t; break; fi
		if [ "$(echo "$t > 300" | bc)" = 1 ]; then
			echo "N=$n run $run: only $(served "$db" -) of $n claimed 300 s after the start"; break
		fi
		sleep 0.1
	done
	sleep 2 # inventories land; the cluster settles
	s=$(pg_sql "$db" "SELECT replica || '=' || count(*) FROM signet_claims GROUP BY replica ORDER BY replica" | tr '\n' ' ')
	local before on_r1 rec0
	before=$(grep -c '^reconnected ' "$work/sim-$n-$run.log" || true)
	on_r1=$(pg_sql "$db" "SELECT count(*) FROM signet_claims WHERE replica = 'r1'")
	rec0=$(simstat reconnects)
	local c0 c1 pgp p
	pgp=$(pg_pids)
	declare -A pg0=()
	for p in $pgp; do pg0[$p]=$(cpu "$p"); done
	cpu0() { local p s=0; for p in "$@"; do s=$((s + ${pg0[$p]:-0})); done; echo "$s"; }
	c0="$(cpu "${PID[r2]}") $(cpu "${PID[r3]}") $(cpu "$simpid") 0"
	tk=$(now)
	kill -9 "${PID[r1]}"
	while :; do
		t=$(since "$tk")
		# All open again: r1's agents have reconnected, every hello is out.
		if [ "$open_at" = none ] && [ $(($(simstat reconnects) - rec0)) -ge "$on_r1" ] &&
			[ "$(simstat hello)" -ge "$n" ]; then open_at=$t; fi
		if [ "$served_at" = none ] && [ "$(served "$db" r1)" -ge "$n" ]; then served_at=$t; fi
		# The status file is rewritten every 100 ms: both may take a poll.
		[ "$served_at" != none ] && [ "$open_at" != none ] && break
		if [ "$(echo "$t > 180" | bc)" = 1 ]; then
			echo "N=$n run $run: $(served "$db" r1) of $n served, $(simstat hello) open 180 s after the kill"; break
		fi
		sleep 0.1
	done
	# PostgreSQL: its processes that lived through (r1's backend died).
	# shellcheck disable=SC2086
	pgp=$(alive $pgp)
	# shellcheck disable=SC2086
	c0="${c0% *} $(cpu0 $pgp)"
	# shellcheck disable=SC2086
	c1="$(cpu "${PID[r2]}") $(cpu "${PID[r3]}") $(cpu "$simpid") $(cpu $pgp)"
	nrec=$(($(grep -c '^reconnected ' "$work/sim-$n-$run.log" || true) - before))
	# The agents' own view: each "reconnected" line after the kill.
	local spread
	spread=$(grep '^reconnected ' "$work/sim-$n-$run.log" | tail -n "$nrec" |
		sed 's/.* after_ms=\([0-9]*\).*/\1/' | sort -n |
		awk 'function at(p, i) { i = int(NR * p + 0.5); return v[i < 1 ? 1 : i] }
			{ v[NR] = $1 }
			END { if (NR) printf "p50 %d ms, p99 %d ms, max %d ms", at(0.5), at(0.99), v[NR] }')
	printf 'N=%d run %d: cold start %s s (claims before the kill: %s); kill -9 r1: all %d served again after %s s (all open with hello sent after %s s); %d agents reconnected (%s)\n' \
		"$n" "$run" "$(secs "$cold")" "$s" "$n" "$(secs "$served_at")" "$(secs "$open_at")" "$nrec" "$spread"
	echo "$n $run $cold $served_at $open_at $nrec" >>"$work/failover.dat"
	awk -v hz="$(getconf CLK_TCK)" -v a="$c0" -v b="$c1" -v w="$(since "$tk")" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "  CPU from the kill until both (%.1f s wall, %d cores): r2 %.1f s, r3 %.1f s, agent_sim %.1f s, postgres %.1f s\n",
		    w, '"$(nproc)"', (y[1] - x[1]) / hz, (y[2] - x[2]) / hz, (y[3] - x[3]) / hz, (y[4] - x[4]) / hz }'
	kill "$simpid" 2>/dev/null || true; wait "$simpid" 2>/dev/null || true
	stop_replicas
}

if [[ $skip != *a* ]]; then
	echo "== (a) failover: kill -9 of r1 with N agents spread over r1 r2 r3 ($runs runs each)"
	for n in "${counts[@]}"; do
		for run in $(seq 1 "$runs"); do failover "$n" "$run"; done
		awk -v n="$n" '$1 == n && $3 != "none" && $4 != "none" && $5 != "none" {c = c " " $3; s = s " " $4; o = o " " $5; k++}
			END {print c "|" s "|" o "|" k + 0}' \
			"$work/failover.dat" | {
			IFS='|' read -r c s o k
			if [ "$k" -eq 0 ]; then echo "N=$n: no run completed"; exit 0; fi
			mc=$(median <<<"$c"); ms=$(median <<<"$s"); mo=$(median <<<"$o")
			printf 'N=%d median of %d completed runs (of %d): failover %.2f s (served again), %.2f s (all open); cold start %.2f s; failover / cold start %.2f\n' \
				"$n" "$k" "$runs" "$ms" "$mo" "$mc" "$(echo "$ms / $mc" | bc -l)"
		}
	done
fi
[[ $skip != *b* ]] || exit 0

# ---- (b) (c) (d) actions with a real agent -----------------------------
bash "$src/tests/integration/dockerd.sh" start
# shellcheck disable=SC1091
. "$work/dockerd.env"
[ "${SIGNET_DOCKER_STATE:-}" = up ] || { echo "bench: no dockerd: ${SIGNET_DOCKER_WHY:-}"; exit 1; }
export DOCKER_HOST
db=$(pg_new_db "bench_act")
start_replicas "$db"
cat >"$work/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "bench-*" },
               "actions": ["START", "RESTART"], "accept_relay_signed": true } ] }
JSON
chmod 0644 "$work/policy.json"
cat >"$work/agent.conf" <<CONF
[agent]
server        = wss://localhost:${APORT[r1]} wss://localhost:${APORT[r2]} wss://localhost:${APORT[r3]}
docker_socket = ${DOCKER_HOST#unix://}
policy        = $work/policy.json
stop_timeout  = 1
log_level     = warn
[tls]
ca   = $pki/ca.pem
cert = $pki/issued/web-01.pem
key  = $pki/private/web-01.key
[keys]
action_pub = $pki/keys/action.pub
result     = $pki/keys/agents/web-01.key
[audit]
path = $work/agent-audit.log
CONF
c1=$(docker run -d --network none --stop-timeout 1 --name bench-start "$SIGNET_TEST_IMAGE" sleep 100000)
spread=$c1
for i in $(seq 2 16); do
	spread="$spread,$(docker run -d --network none --stop-timeout 1 --name "bench-start-$i" "$SIGNET_TEST_IMAGE" sleep 100000)"
done
"$build/agent/signet-agent" --config "$work/agent.conf" >>"$work/agent.log" 2>&1 &
apid=$!; pids+=("$apid")
disown "$apid" # killed at the end: no job report
known() { api "$1" "/api/containers/$c1" >/dev/null 2>&1; }
for r in r1 r2 r3; do
	for _ in $(seq 1 100); do known "$r" && break; sleep 0.1; done
	known "$r" || { echo "bench: $r never learnt web-01's containers"; tail -n 5 "$work/agent.log"; exit 1; }
done
holder=$(pg_sql "$db" "SELECT replica FROM signet_claims WHERE host_id = 'web-01'")
# The agent starts at a random URL: "same" is whichever replica holds
# web-01, "cross" the next one.
same=$holder
case $holder in r1) cross=r2 ;; r2) cross=r3 ;; r3) cross=r1 ;;
*) echo "bench: web-01 is held by no replica"; exit 1 ;; esac
echo "== (b) sequential START (dockerd 304), $count each, web-01 held by $holder; POST on $same (same) and $cross (cross), alternated $runs times"
ba() {
	"$build/tests/bench_actions" --ca "$pki/ca.pem" --cert "$pki/issued/alice.pem" \
		--key "$pki/private/alice.key" --docker-socket "${DOCKER_HOST#unix://}" \
		--container "$c1" --count "$count" --spread "$spread" "$@" 2>&1 || true
}
url() { echo "https://localhost:${PPORT[$1]}"; }
for i in $(seq 1 "$runs"); do
	ba --api "$(url "$same")" --profile seq | sed "s/^/same seq $i: /"
	ba --api "$(url "$cross")" --profile seq | sed "s/^/cross seq $i: /"
done | tee "$work/seq.out"
echo "== (c) $count START at 16 in flight (over 16 containers), alternated $runs times"
for i in $(seq 1 "$runs"); do
	ba --api "$(url "$same")" --profile 16 | sed "s/^/same 16 $i: /"
	ba --api "$(url "$cross")" --profile 16 | sed "s/^/cross 16 $i: /"
	ba --api "$(url r1)" --api "$(url r2)" --api "$(url r3)" --profile 16 | sed "s/^/spread 16 $i: /"
done | tee "$work/conc.out"
python3 - "$work/seq.out" "$work/conc.out" "$same" "$cross" <<'PY'
import re, statistics, sys
seq, conc = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def med(text, kind, pat):
    v = [float(x) for x in re.findall(r"^%s \d+: .*?%s" % (re.escape(kind), pat), text, re.M)]
    return statistics.median(v) if v else float("nan")
s50, c50 = med(seq, "same seq", r"p50 ([\d.]+) ms"), med(seq, "cross seq", r"p50 ([\d.]+) ms")
s99, c99 = med(seq, "same seq", r"p99 ([\d.]+) ms"), med(seq, "cross seq", r"p99 ([\d.]+) ms")
print("\n| measure (median of runs) | same replica (%s) | cross (%s) | difference | cross / same |" % (sys.argv[3], sys.argv[4]))
print("| --- | --- | --- | --- | --- |")
print("| sequential START p50 (ms) | %.3f | %.3f | %+.3f | %.2f |" % (s50, c50, c50 - s50, c50 / s50))
print("| sequential START p99 (ms) | %.3f | %.3f | %+.3f | %.2f |" % (s99, c99, c99 - s99, c99 / s99))
def rate(kind):
    # A run with failed requests does not count.
    runs = {}
    for i, line in re.findall(r"^%s (\d+): (.*)$" % re.escape(kind), conc, re.M):
        runs.setdefault(i, []).append(line)
    v = []
    for lines in runs.values():
        if any("failed" in l for l in lines):
            continue
        for l in lines:
            m = re.search(r"through signet (\d+) actions/s", l)
            if m: v.append(float(m.group(1)))
    return statistics.median(v) if v else float("nan")
t1, t2, t3 = rate("same 16"), rate("cross 16"), rate("spread 16")
print("| 16 in flight (actions/s) | %.0f | %.0f | %+.0f | %.2f |" % (t1, t2, t2 - t1, t2 / t1))
print("| 16 in flight spread over r1 r2 r3 (actions/s) | | %.0f | | %.2f (spread / same) |" % (t3, t3 / t1))
PY

# ---- (d) database statements per action ------------------------------
# pg_stat_statements counts each statement (BEGIN and COMMIT included)
# when it ends; the idle window (no action: renewals, the mirror) lasts as
# long as the measured one.
stmts() { pg_sql postgres "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db'"; }
echo "== (d) database statements per action ($count sequential START; the idle background over as long subtracted)"
measure() {
	local label=$1 r=$2 s0 t0 dt s1 s2
	sleep 2
	s0=$(stmts); t0=$(now)
	ba --api "$(url "$r")" --profile seq >/dev/null
	sleep 2
	dt=$(since "$t0")
	s1=$(stmts)
	sleep "$dt"
	s2=$(stmts)
	printf '%s (POST on %s): %.2f statements per action (%d in %.1f s, idle %d in as long)\n' \
		"$label" "$r" "$(echo "($s1 - $s0 - ($s2 - $s1)) / $count" | bc -l)" $((s1 - s0)) "$dt" $((s2 - s1))
}
measure same "$same"
measure cross "$cross"
pg_sql postgres "SELECT pg_stat_statements_reset()" >/dev/null
ba --api "$(url "$cross")" --profile seq >/dev/null
echo "  the cross run's statements, calls per action (top 12, the idle background included):"
pg_sql postgres "SELECT round(s.calls::numeric / $count, 2) || '  ' || regexp_replace(left(s.query, 110), '\s+', ' ', 'g') FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db' ORDER BY s.calls DESC LIMIT 12" | sed 's/^/    /'
kill "$apid" 2>/dev/null || true
stop_replicas
