#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The systemd units of packaging/systemd: `systemd-analyze security
# --offline=yes` exposure at most 2.0 for the server and 3.0 for the agent
# (the scores are printed), the sandbox settings the packaging README
# promises are all there, and `systemd-analyze verify` finds nothing wrong
# (run on copies whose ExecStart names the binaries of this build, since
# /usr/sbin/signet-* is not installed here).
# The checks run small "sh -c '...' sh ARG" scripts that get their values
# as $1 and expand them themselves: single quotes on purpose.
# shellcheck disable=SC2016
. "$SIGNET_SOURCE_DIR/tests/integration/lib.sh"

if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not found (apt-get install systemd)"
	exit 77
fi
UNITS=$SIGNET_SOURCE_DIR/packaging/systemd

# score UNIT: prints the overall exposure, e.g. 1.2.
score() {
	systemd-analyze security --offline=yes --no-pager "$1" 2>&1 |
		sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}
# check_score UNIT MAX
check_score() {
	local unit=$1 max=$2 s
	s=$(score "$UNITS/$unit")
	echo "    systemd-analyze security --offline=yes $unit: ${s:-?} (target <= $max)"
	if [ -n "$s" ] && awk -v s="$s" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
		ok "$unit exposure $s <= $max"
	else
		not_ok "$unit exposure ${s:-unknown} > $max"
		systemd-analyze security --offline=yes --no-pager "$UNITS/$unit" 2>&1 |
			grep '✗' | sed 's/^/    /'
	fi
}
check_score signet-server.service 2.0
check_score signet-agent.service 3.0

# A score alone could be kept low by settings that lie; these are the ones
# the packaging README promises, word for word.
has() {	# has UNIT LINE...: every LINE is a line of UNIT
	local unit=$1 l miss=""; shift
	for l in "$@"; do
		grep -qxF -- "$l" "$UNITS/$unit" || miss="$miss [$l]"
	done
	[ -z "$miss" ] || { echo "    $unit lacks:$miss"; return 1; }
}
COMMON=(
	"Type=notify" "NotifyAccess=main"
	"ExecReload=/bin/kill -HUP \$MAINPID" "Restart=on-failure"
	"UMask=0077" "CapabilityBoundingSet=" "AmbientCapabilities="
	"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes"
	"PrivateTmp=yes" "PrivateDevices=yes" "ProtectKernelTunables=yes"
	"ProtectKernelModules=yes" "ProtectKernelLogs=yes"
	"ProtectControlGroups=yes" "ProtectClock=yes" "ProtectHostname=yes"
	"RestrictNamespaces=yes" "RestrictRealtime=yes" "RestrictSUIDSGID=yes"
	"LockPersonality=yes" "MemoryDenyWriteExecute=yes"
	"SystemCallArchitectures=native" "SystemCallFilter=@system-service"
	"SystemCallFilter=~@privileged @resources"
	"ConfigurationDirectory=signet" "ConfigurationDirectoryMode=0750")
check "server unit: sandbox settings" has signet-server.service "${COMMON[@]}" \
	"User=signet" "Group=signet" "StateDirectory=signet" \
	"StateDirectoryMode=0700" "PrivateUsers=yes" \
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"
check "agent unit: sandbox settings" has signet-agent.service "${COMMON[@]}" \
	"User=signet-agent" "Group=signet-agent" \
	"SupplementaryGroups=signet docker" "StateDirectory=signet-agent" \
	"StateDirectoryMode=0700" \
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"
# Nothing but the state directory may be writable.
check "no ReadWritePaths= in either unit" sh -c \
	'! grep -q "^ReadWritePaths=" "$1"/signet-server.service "$1"/signet-agent.service' \
	sh "$UNITS"
# (AF_UNIX in the server's unit is for sd_notify alone: the server opens
# no other local socket, and the listeners stay TCP.)

# systemd-analyze verify on copies that run this build's binaries.
verify_unit() {
	local unit=$1 bin=$2 out
	[ -x "$bin" ] || { echo "    $bin not built"; return 1; }
	sed "s|^ExecStart=/usr/sbin/[a-z-]*|ExecStart=$bin|" "$UNITS/$unit" >"$T_DIR/$unit"
	out=$(systemd-analyze verify --man=no "$T_DIR/$unit" 2>&1)
	if [ -n "$out" ]; then
		printf '%s\n' "$out" | sed 's/^/    /'
		return 1
	fi
}
check "systemd-analyze verify signet-server.service" \
	verify_unit signet-server.service "$SIGNET_BUILD_DIR/server/signet-server"
check "systemd-analyze verify signet-agent.service" \
	verify_unit signet-agent.service "$SIGNET_BUILD_DIR/agent/signet-agent"
finish
