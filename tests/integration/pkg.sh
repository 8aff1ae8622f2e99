# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Helpers for the tests of the Debian packages: skip in sanitized or fuzz
# builds, and build the three .debs once per build directory (under a lock,
# since ctest may run two package tests at once) with scripts/package.sh.
# Source after lib.sh.

# pkg_need_plain_build: exits 77 when the build under test is sanitized or
# a fuzz build. The packages hold release binaries, built separately; CI's
# plain pass builds and checks them, so the sanitized pass need not.
pkg_need_plain_build() {
	local cache="$SIGNET_BUILD_DIR/CMakeCache.txt"
	if grep -Eq '^SIGNET_(SANITIZE|FUZZ):BOOL=(ON|1|TRUE)' "$cache" 2>/dev/null; then
		echo "SKIP: $SIGNET_BUILD_DIR is a sanitized or fuzz build; the" \
			"packages are built and checked in the plain build's run"
		exit 77
	fi
}

# pkg_build: makes $SIGNET_BUILD_DIR/pkg-out/signet-{server,agent,tools}_*.deb
# (release build in $SIGNET_BUILD_DIR/pkg-build, kept between runs so an
# unchanged tree costs seconds) and sets PKG_OUT; the output of the build
# goes to $T_DIR/package.log.
pkg_build() {
	PKG_OUT="$SIGNET_BUILD_DIR/pkg-out"
	local rc=0
	(
		flock 9
		"$SIGNET_SOURCE_DIR/scripts/package.sh" \
			--build-dir "$SIGNET_BUILD_DIR/pkg-build" --out "$PKG_OUT"
	) 9>"$SIGNET_BUILD_DIR/pkg.lock" >"$T_DIR/package.log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "scripts/package.sh failed (rc=$rc):"
		tail -n 30 "$T_DIR/package.log"
		return 1
	fi
	return 0
}

# pkg_deb NAME: prints the path of the built package NAME (signet-server...).
pkg_deb() {
	local f
	for f in "$PKG_OUT/$1"_*.deb; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}
