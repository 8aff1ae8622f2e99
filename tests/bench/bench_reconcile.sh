#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark (not a test): signetctl audit reconcile over consistent,
# really signed logs that audit_tool gen writes (one server log, HOSTS
# agent logs, ACTIONS actions: five records and four signed envelopes
# each). Prints the time and the peak RSS (getrusage of the child, as
# /usr/bin/time reports it) of the generator and of reconcile, and the
# size of the logs. BENCH_KEEP=1 keeps the work directory.
#   tests/bench/bench_reconcile.sh [BUILD_DIR] [HOSTS ACTIONS]...
#   (default: 20 100000)
# Measured 2026-12-05 on the shared 2-core build machine (Debug build,
# other jobs running, so wall times are inflated; user time is the
# figure): 20 hosts, 100,000 actions (437 MB of logs): 186.7 s wall,
# 64.8 s user, peak RSS 106 MiB; 100 hosts, 1,000,000 actions (4.4 GB):
# 1721 s wall, 629.5 s user, peak RSS 792 MiB. The peak is audit_verify's
# tie table while the server's log verifies (about 0.75 KiB per action);
# the join itself stayed near 10 MiB. About 88% of the user time is the
# verification of the logs, the rest the join.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}; shift || true
[ $# -ge 2 ] || set -- 20 100000
work=$(mktemp -d "${TMPDIR:-/tmp}/signet-bench-reconcile.XXXXXX")
cleanup() {
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
while [ $# -ge 2 ]; do
	hosts=$1 actions=$2; shift 2
	dir=$work/h$hosts-a$actions
	/usr/bin/time -f "gen: %e s, peak RSS %M KiB" \
		"$build/tests/audit_tool" gen "$dir" "$hosts" "$actions"
	echo "logs: $(du -sh "$dir/server.log" | cut -f1) server, $(du -sh "$dir/logs" | cut -f1) in $hosts agent logs"
	args=()
	for f in "$dir"/logs/*.log; do args+=(--agent "$f"); done
	set +e
	/usr/bin/time -f "reconcile $hosts hosts, $actions actions: %e s (user %U s, sys %S s), peak RSS %M KiB" \
		"$build/cli/signetctl" audit reconcile --server "$dir/server.log" \
		"${args[@]}" --key "$dir/keys/audit.pub" \
		--agent-keys "$dir/agents" --action-key "$dir/keys/action.pub" \
		-o json --out "$dir/report.json"
	rc=$?
	set -e
	echo "exit $rc; summary: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print({k: s[k] for k in ("actions","ok","with_problems","problems_by_kind")})' "$dir/report.json")"
	rm -rf "$dir"
done
