# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Shared helpers for the shell tests: a scratch directory removed on exit,
# named assertions, and the "N passed, N failed" summary.
set -u
: "${SIGNET_BUILD_DIR:?run through ctest (SIGNET_BUILD_DIR unset)}"
: "${SIGNET_SOURCE_DIR:?run through ctest (SIGNET_SOURCE_DIR unset)}"
SIGNETCTL="$SIGNET_BUILD_DIR/cli/signetctl"
export SIGNETCTL
T_PASS=0
T_FAIL=0
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/signet-test.XXXXXX")
t_cleanup() { [ -n "${SIGNET_KEEP_TDIR:-}" ] || rm -rf "$T_DIR"; }
trap t_cleanup EXIT

ok() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); echo "NOT OK - $*"; }

# check NAME CMD...: passes when CMD exits 0.
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# quiet CMD...: runs CMD with its standard output discarded.
quiet() { "$@" >/dev/null; }

# check_fails_with NAME PATTERN CMD...: CMD must exit non-zero and print
# (stdout or stderr) a line matching the extended regex PATTERN.
check_fails_with() {
	local name=$1 pattern=$2 out rc; shift 2
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
		ok "$name"
	else
		not_ok "$name (rc=$rc, wanted /$pattern/, got: $(printf '%s' "$out" | head -c 400))"
	fi
}

# pki_revoke_keep PKI_SH NAME: "signet-pki revoke NAME" in $SIGNET_PKI,
# then copies of the files revoke archives under revoked/ put back in
# issued/, private/ and keys/agents/, so that a test can still present the
# revoked certificate (by its path, or --pki DIR --name NAME).
pki_revoke_keep() {
	local d=$SIGNET_PKI s
	s=$(openssl x509 -in "$d/issued/$2.pem" -noout -serial) || return 1
	s=${s#serial=}
	"$1" revoke "$2" || return 1
	cp -p "$d/revoked/certs_by_serial/$s.crt" "$d/issued/$2.pem" &&
	    cp -p "$d/revoked/private_by_serial/$s.key" "$d/private/$2.key" ||
	    return 1
	if [ -f "$d/revoked/keys_by_serial/$s.result.pub" ]; then
		cp -p "$d/revoked/keys_by_serial/$s.result.pub" \
		    "$d/keys/agents/$2.pub" &&
		    cp -p "$d/revoked/keys_by_serial/$s.result.key" \
		    "$d/keys/agents/$2.key" || return 1
	fi
}

finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# need_docker: loads the private dockerd's settings (tests/integration/
# dockerd.sh) and skips (77) when there is none, or fails when CI requires it.
need_docker() {
	local env="$SIGNET_BUILD_DIR/dockerd.env"
	if [ -f "$env" ]; then
		# shellcheck disable=SC1090
		. "$env"
	fi
	if [ "${SIGNET_DOCKER_STATE:-}" != up ]; then
		echo "no dockerd: ${SIGNET_DOCKER_WHY:-fixture did not run}"
		if [ "${SIGNET_REQUIRE_DOCKER:-0}" = 1 ]; then exit 1; fi
		exit 77
	fi
	export DOCKER_HOST
}
