# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# The scaffolding the signet-pki tests share (test_pki*.sh that need no
# server): where the script and signetctl are, a private work directory
# removed on exit, and the checks: each prints "ok   - NAME" or
# "FAIL - NAME" with what the command said, and the counts decide the exit
# status (see the end of each test). Source it first.
set -u

SRC=${SIGNET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
PKI_SH=$SRC/pki/signet-pki
export SIGNETCTL=${SIGNETCTL:-$BUILD/cli/signetctl}

for tool in openssl python3 setsid; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found"
		exit 77
	fi
done
if [ ! -x "$SIGNETCTL" ]; then
	echo "SKIP: $SIGNETCTL not built"
	exit 77
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
unset SIGNET_PKI

PASS=0
FAIL=0
ok() {
	PASS=$((PASS + 1))
	echo "ok   - $1"
}
# not_ok NAME: a failure, with what the last command said ($WORK/out).
not_ok() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $1"
	if [ -s "$WORK/out" ]; then
		sed 's/^/       | /' "$WORK/out" | head -20
	fi
}
# check NAME CMD...: the command succeeds.
check() {
	local name=$1
	shift
	if "$@" >"$WORK/out" 2>&1; then ok "$name"; else not_ok "$name"; fi
}
# refute NAME CMD...: the command fails.
refute() {
	local name=$1
	shift
	if "$@" >"$WORK/out" 2>&1; then not_ok "$name"; else ok "$name"; fi
}
# refute_with NAME TEXT CMD...: the command fails and says TEXT (a fixed
# string).
refute_with() {
	local name=$1 text=$2
	shift 2
	if "$@" >"$WORK/out" 2>&1; then
		not_ok "$name (it succeeded)"
	elif grep -qF -- "$text" "$WORK/out"; then
		ok "$name"
	else
		not_ok "$name (no \"$text\")"
	fi
}
# pki ARGS...: the script without a terminal (setsid: no controlling
# terminal, so nothing can be asked); its output also in $WORK/last.
pki() {
	local rc=0
	setsid -w sh "$PKI_SH" "$@" >"$WORK/last" 2>&1 || rc=$?
	cat "$WORK/last"
	return "$rc"
}
# tree_sum DIR: a checksum of a whole tree: names, contents and modes.
tree_sum() {
	(
		cd "$1" &&
		    find . -printf '%y %m %p\n' | sort &&
		    find . -type f -print0 | sort -z | xargs -0 sha256sum
	) | sha256sum
}
# tty_run ANSWERS CMD...: CMD on a new pseudo-terminal, each prompt (a
# line ending in ":") answered by the next of the |-separated ANSWERS; the
# transcript on stdout and in $WORK/tty.out; CMD's exit status.
tty_run() {
	local rc=0
	python3 "$SRC/tests/integration/tty_run.py" "$@" >"$WORK/tty.out" || rc=$?
	cat "$WORK/tty.out"
	return "$rc"
}
