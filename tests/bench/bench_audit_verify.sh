#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark (not a test): records verified per second and peak memory of
# `signetctl audit verify` over a large signed log of what a busy server
# writes (bench_audit_log: per action an action.requested embedding the
# signed action and an action.result embedding the agent-signed result,
# 20 hosts, one agent.connected in 50 records). Two ways: every key given
# (the line's signature and each embedded one: about two Ed25519
# verifications per record) and the audit key alone (one per record).
# Each with --jobs 1 and --jobs $(nproc), the median of 3 runs (elapsed
# time and peak RSS from /usr/bin/time).
#   [BASELINE=OLD_BUILD_DIR] tests/bench/bench_audit_verify.sh [BUILD_DIR] [RECORDS]
# RECORDS defaults to 1000000 (a log of about 1 GB, in a temporary
# directory under TMPDIR, removed at the end). With BASELINE, the same
# runs go through OLD_BUILD_DIR's signetctl first (with --jobs only if it
# knows the option), and the ratio of each figure to the baseline's is
# printed. Every run's report must be the same as the first one's.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
records=${2:-1000000}
cpus=$(nproc)
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)"; exit 2; }
for b in "$build" ${BASELINE:+"$BASELINE"}; do
	[ -x "$b/cli/signetctl" ] || { echo "bench: no signetctl in $b/cli"; exit 2; }
done
[ -x "$build/tests/bench_audit_log" ] || { echo "bench: no $build/tests/bench_audit_log"; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/signet-bench-verify.XXXXXX")
chmod 0700 "$dir"
trap 'rm -rf "$dir"' EXIT

echo "== writing $records records into $dir/audit.log"
"$build/tests/bench_audit_log" "$dir" "$records"
ls -l "$dir/audit.log"

# run LABEL SIGNETCTL KEYS JOBS: three runs; prints LABEL, the median
# records/s, the median peak RSS in MiB, the median elapsed seconds and
# the median CPU seconds (user + system, all threads).
run() {
	local label=$1 ctl=$2 keys=$3 jobs=$4 t rss u s secs=() kbs=() cpu=() jobarg=()
	[ "$jobs" = - ] || jobarg=(--jobs "$jobs")
	for _ in 1 2 3; do
		# shellcheck disable=SC2086 # KEYS is a list of options
		/usr/bin/time -f '%e %M %U %S' -o "$dir/time" "$ctl" audit verify \
			"$dir/audit.log" $keys "${jobarg[@]}" >"$dir/out" 2>&1 ||
			{ cat "$dir/out"; echo "bench: $label: verify failed"; exit 1; }
		if [ -f "$dir/out.first" ]; then
			cmp -s "$dir/out" "$dir/out.first" ||
				{ diff "$dir/out.first" "$dir/out"; echo "bench: $label: another report"; exit 1; }
		else
			cp "$dir/out" "$dir/out.first"
		fi
		read -r t rss u s <"$dir/time"
		secs+=("$t"); kbs+=("$rss"); cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')")
	done
	python3 - "$label" "$records" "${secs[@]}" "${kbs[@]}" "${cpu[@]}" <<'PY'
import statistics, sys
label, n = sys.argv[1], int(sys.argv[2])
v = [float(x) for x in sys.argv[3:]]
s = statistics.median(v[:3])
print("%s %.0f %.1f %.2f %.2f" % (label, n / s, statistics.median(v[3:6]) / 1024,
      s, statistics.median(v[6:9])))
PY
}

keys_of() {
	if [ "$1" = all ]; then
		echo "--key $dir/audit.pub --action-key $dir/action.pub --agent-keys $dir/agents"
	else
		echo "--key $dir/audit.pub"
	fi
}
: >"$dir/results"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for what in all line; do
	keys=$(keys_of "$what")
	rm -f "$dir/out.first"
	if [ -n "${BASELINE:-}" ]; then
		base=$BASELINE/cli/signetctl
		if "$base" audit verify --help | grep -q -- --jobs; then
			run "baseline/$what/1" "$base" "$keys" 1 | tee -a "$dir/results"
			run "baseline/$what/$cpus" "$base" "$keys" "$cpus" | tee -a "$dir/results"
		else
			run "baseline/$what/1" "$base" "$keys" - | tee -a "$dir/results"
		fi
	fi
	run "this/$what/1" "$build/cli/signetctl" "$keys" 1 | tee -a "$dir/results"
	run "this/$what/$cpus" "$build/cli/signetctl" "$keys" "$cpus" | tee -a "$dir/results"
done

echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$dir/results" "$records" "$cpus" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    label, rate, rss, secs, cpu = line.split()
    rows[label] = (float(rate), float(rss), float(secs), float(cpu))
n, cpus = int(sys.argv[2]), sys.argv[3]
print("\n%d records; %s CPUs online; median of 3 runs" % (n, cpus))
print("| keys | --jobs | records/s | peak RSS (MiB) | seconds | CPU us/record | records/s vs baseline |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for what, name in (("all", "all (line + embedded)"), ("line", "audit key only")):
    base = rows.get("baseline/%s/1" % what)
    for who in ("baseline", "this"):
        for jobs in ("1", cpus):
            r = rows.get("%s/%s/%s" % (who, what, jobs))
            if r is None:
                continue
            ratio = "%.2f" % (r[0] / base[0]) if base else "-"
            print("| %s | %s%s | %.0f | %.1f | %.1f | %.1f | %s |" % (name,
                jobs, " (baseline)" if who == "baseline" else "", r[0],
                r[1], r[2], r[3] * 1e6 / n, ratio))
PY
