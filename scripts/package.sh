#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Builds the Debian packages signet-server, signet-agent and signet-tools
# (CPack, cmake/Packaging.cmake) from a plain release build with the
# packages' prefix /usr, and copies them to OUT (default out/).
#   scripts/package.sh [--build-dir DIR] [--out DIR]
# The build directory (default build-pkg/) is kept, so a second run only
# rebuilds what changed. Needs the packages of scripts/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

build=$src/build-pkg
out=$src/out
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) [ $# -ge 2 ] || { echo "package: --build-dir DIR" >&2; exit 2; }
		build=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || { echo "package: --out DIR" >&2; exit 2; }
		out=$2; shift 2 ;;
	-h|--help)
		echo "usage: scripts/package.sh [--build-dir DIR] [--out DIR]"
		exit 0 ;;
	*) echo "package: unexpected argument \"$1\"; see --help" >&2; exit 2 ;;
	esac
done

for tool in cmake cpack dpkg-deb dpkg-shlibdeps scdoc gzip; do
	if ! command -v "$tool" >/dev/null; then
		echo "package: $tool not found; run scripts/deps.sh" >&2
		exit 1
	fi
done

# Release, never sanitized: these binaries are what gets installed.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX=/usr -DSIGNET_SANITIZE=OFF -DSIGNET_FUZZ=OFF \
	>/dev/null
cmake --build "$build" -j "$(nproc)"
rm -rf "$build/deb"
(cd "$build" && cpack -G DEB >/dev/null)

mkdir -p "$out"
rm -f "$out"/signet-server_*.deb "$out"/signet-agent_*.deb \
	"$out"/signet-tools_*.deb
n=0
for deb in "$build"/deb/signet-*.deb; do
	[ -f "$deb" ] || continue
	cp "$deb" "$out/"
	echo "package: $out/$(basename "$deb")"
	n=$((n + 1))
done
if [ "$n" -ne 3 ]; then
	echo "package: expected 3 packages, cpack made $n" >&2
	exit 1
fi
