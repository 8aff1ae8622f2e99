#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The whole test suite: installs missing Debian packages, configures,
# builds and runs ctest. With --sanitize, the same under AddressSanitizer
# and UndefinedBehaviorSanitizer (build directory build-asan/).
#   scripts/test.sh [--sanitize]
# SIGNET_REQUIRE_DOCKER=1 turns tests that would skip without dockerd
# into failures (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
flags=()
case "${1:-}" in
	"") ;;
	--sanitize) build="build-asan"; flags=(-DSIGNET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
	*) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
esac

scripts/deps.sh
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure -j "$(nproc)"
