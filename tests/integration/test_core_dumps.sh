#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Secrets stay out of core dumps: both daemons, started from a shell that
# allows core files of any size, run with RLIMIT_CORE 0 (soft and hard,
# as /proc/PID/limits shows) and not dumpable. Dumpability is read from
# outside: run as an unprivileged user (nobody), a dumpable process owns
# its /proc/PID/environ, a non-dumpable one's belongs to root. The daemons
# also say at start that core dumps are off and how large OpenSSL's
# secure heap (where the TLS private keys live) is. Both systemd units
# carry LimitCORE=0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker

NOBODY=65534
if ! ulimit -c unlimited 2>/dev/null; then
	echo "SKIP: cannot raise RLIMIT_CORE here (hard limit $(ulimit -Hc))"
	exit 77
fi
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "SKIP: needs root and setpriv to run the daemons as nobody"
	exit 77
fi

make_pki || { not_ok "pki setup"; finish; exit 1; }
write_server_conf
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >"$T_DIR/policy.json"
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
# nobody owns the test's files, so it can run both daemons.
chown -R "$NOBODY:$NOBODY" "$T_DIR"

# An array, not a function: "$!" must be the daemon itself.
AS_NOBODY=(setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups)

"${AS_NOBODY[@]}" "$SERVER_BIN" --config "$T_DIR/server.conf" >>"$T_DIR/server.log" 2>&1 &
SERVER_PID=$!
R_PIDS+=("$SERVER_PID")
"${AS_NOBODY[@]}" "$AGENT_BIN" --config "$T_DIR/agent-web-01.conf" >>"$T_DIR/agent-web-01.log" 2>&1 &
AGENT_PID=$!
R_PIDS+=("$AGENT_PID")
check "the server comes up (as nobody)" wait_for 30 quiet api_get /healthz
check "the agent runs (as nobody)" wait_for 30 \
	grep -q "hello sent\|agent started\|signet-agent.*started" "$T_DIR/agent-web-01.log"

# core_limit PID: prints "SOFT HARD" of the process's RLIMIT_CORE.
core_limit() { awk '/^Max core file size/ { print $5, $6 }' "/proc/$1/limits"; }
# environ_owner PID: the uid owning /proc/PID/environ.
environ_owner() { stat -c %u "/proc/$1/environ"; }
# real_uid PID: the process's real uid (from status, readable by all).
real_uid() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }

for who in server:"$SERVER_PID" agent:"$AGENT_PID"; do
	name=${who%%:*} pid=${who#*:}
	lim=$(core_limit "$pid")
	check "$name: RLIMIT_CORE is 0 0 (was unlimited in its parent; got ${lim:-?})" \
		test "$lim" = "0 0"
	owner=$(environ_owner "$pid")
	check "$name: not dumpable (/proc/PID/environ owned by root, got uid ${owner:-?}; runs as $NOBODY)" \
		test "$owner" = 0
	check "$name: runs as nobody" test "$(real_uid "$pid")" = "$NOBODY"
done
grep -h "core dumps" "$T_DIR/server.log" "$T_DIR/agent-web-01.log" | sed 's/^/    /'
check "server: says core dumps are off and sizes the secure heap" \
	grep -Eq "core dumps off .*secure_heap=[1-9][0-9]* secure_heap_used=[1-9]" "$T_DIR/server.log"
check "agent: says core dumps are off and sizes the secure heap" \
	grep -Eq "core dumps off .*secure_heap=[1-9][0-9]* secure_heap_used=[1-9]" "$T_DIR/agent-web-01.log"

# A control: the same user's process without the hardening is dumpable and
# keeps the limit, so the checks above can tell the difference.
"${AS_NOBODY[@]}" sleep 30 &
CTRL=$!
R_PIDS+=("$CTRL")
sleep 0.2
check "control: a plain process of nobody owns its environ" test "$(environ_owner "$CTRL")" = "$NOBODY"
check "control: runs as nobody" test "$(real_uid "$CTRL")" = "$NOBODY"
check "control: and keeps RLIMIT_CORE unlimited" test "$(core_limit "$CTRL")" = "unlimited unlimited"

UNITS=$SIGNET_SOURCE_DIR/packaging/systemd
check "signet-server.service: LimitCORE=0" grep -qx "LimitCORE=0" "$UNITS/signet-server.service"
check "signet-agent.service: LimitCORE=0" grep -qx "LimitCORE=0" "$UNITS/signet-agent.service"
finish
