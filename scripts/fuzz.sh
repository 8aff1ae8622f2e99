#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Builds the libFuzzer harnesses with clang (build-fuzz/) and runs each
# for SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/.
# Fails if any harness finds a crash, leak or sanitizer report.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
case "$secs" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac

scripts/deps.sh
CC=clang cmake -S . -B build-fuzz -DSIGNET_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for bin in build-fuzz/tests/fuzz_*; do
	name=$(basename "$bin"); name=${name#fuzz_}
	mkdir -p "$work/$name"
	seeds=tests/fuzz/corpus/$name
	[ -d "$seeds" ] || seeds=""
	echo "fuzz: $name for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -max_len=70000 -timeout=10 \
		-artifact_prefix="$work/$name-" -print_final_stats=1 \
		"$work/$name" ${seeds:+"$seeds"} >"$work/$name.log" 2>&1; then
		echo "fuzz: $name FAILED"; tail -n 40 "$work/$name.log"
		ls "$work"/"$name"-* 2>/dev/null && for a in "$work"/"$name"-*; do
			echo "--- $a (base64)"; base64 -w0 "$a"; echo; done
		status=1
	else
		grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$work/$name.log" | tail -n 2
	fi
done
[ $status -eq 0 ] && echo "fuzz: all harnesses ran ${secs}s without a finding"
exit $status
