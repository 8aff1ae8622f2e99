#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Trust files and audit logs are guarded. The server refuses to start
# with a CA or CRL writable by group or others, or in a directory others
# may write; an agent whose registered result key (agents/HOST.pub, read
# on every hello) became writable by others is refused at its hello,
# saying why, until the mode is fixed. The agent refuses to start with its
# pinned action keys or CA writable by others. Both refuse an audit log
# that another user created (a pre-created file in their place), or whose
# directory others may write, and then write nothing: the planted (empty)
# file stays empty and no log appears. Each refusal names the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker

NOBODY=65534
make_pki || { not_ok "pki setup"; finish; exit 1; }
write_server_conf
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >"$T_DIR/policy.json"
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
SLOG=$T_DIR/server-audit.log
ALOG=$T_DIR/agent-web-01-audit.log

# refuses NAME PATTERN BIN CONF: the daemon exits non-zero at once saying
# PATTERN (a guard of 30 s stops one that starts instead).
refuses() {
	local name=$1 pattern=$2 bin=$3 conf=$4
	check_fails_with "$name" "$pattern" timeout 30 "$bin" --config "$conf"
}
server_refuses() { refuses "server: $1" "$2" "$SERVER_BIN" "$T_DIR/server.conf"; }
agent_refuses() { refuses "agent: $1" "$2" "$AGENT_BIN" "$T_DIR/agent-web-01.conf"; }
no_log() { check "$1: no audit log written" test ! -e "$2"; }

# --- the server's trust files
chmod 0666 "$SIGNET_PKI/ca.pem"
server_refuses "a world-writable CA" "$SIGNET_PKI/ca.pem: writable by group or others"
no_log "world-writable CA" "$SLOG"
chmod 0644 "$SIGNET_PKI/ca.pem"
chmod 0664 "$SIGNET_PKI/crl.pem"
server_refuses "a group-writable CRL" "$SIGNET_PKI/crl.pem: writable by group or others"
no_log "group-writable CRL" "$SLOG"
chmod 0644 "$SIGNET_PKI/crl.pem"
chmod 0777 "$SIGNET_PKI"
server_refuses "a CA in a world-writable directory" \
	"$SIGNET_PKI/ca.pem: directory $SIGNET_PKI is writable by group or others"
no_log "CA in a world-writable directory" "$SLOG"
chmod 0755 "$SIGNET_PKI"

# --- the server's audit log
mkdir -m 0700 "$T_DIR/slogs"
sed -i "s|^path = .*|path = $T_DIR/slogs/audit.log|" "$T_DIR/server.conf"
# Empty, as a file planted to be written into would be.
: >"$T_DIR/slogs/audit.log"
chown "$NOBODY" "$T_DIR/slogs/audit.log"
chmod 0600 "$T_DIR/slogs/audit.log"
server_refuses "an audit log created by another user" \
	"$T_DIR/slogs/audit.log: .*owned by uid $NOBODY"
check "server: the planted log is still empty" test ! -s "$T_DIR/slogs/audit.log"
rm -f "$T_DIR/slogs/audit.log"
chmod 0777 "$T_DIR/slogs"
server_refuses "an audit log in a world-writable directory" \
	"$T_DIR/slogs/audit.log: directory $T_DIR/slogs is writable by group or others"
chmod 1777 "$T_DIR/slogs"
server_refuses "an audit log in a sticky world-writable directory" \
	"$T_DIR/slogs/audit.log: directory $T_DIR/slogs is writable by group or others"
no_log "audit log in a world-writable directory" "$T_DIR/slogs/audit.log"
chmod 0700 "$T_DIR/slogs"

# --- a result key that became world-writable: the hello is refused
check "the server starts with sound files" start_server
chmod 0666 "$SIGNET_PKI/keys/agents/web-01.pub"
start_agent web-01
refused() {
	grep -q "agent refused: reason=no_key .*$SIGNET_PKI/keys/agents/web-01.pub: writable by group or others" "$T_DIR/server.log"
}
check "server: the hello of an agent whose key others may write is refused, saying why" \
	wait_for 60 refused
hosts() { api_get /api/hosts | pyq 'len([h for h in d["hosts"] if h["host_id"] == "web-01" and h["connected"]])'; }
check "server: the host is not connected" test "$(hosts)" = 0
chmod 0644 "$SIGNET_PKI/keys/agents/web-01.pub"
connected() { [ "$(hosts)" = 1 ]; }
check "server: with the mode fixed, the agent's next hello is accepted" wait_for 120 connected
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null

# --- the agent's trust files
rm -f "$ALOG"
chmod 0666 "$SIGNET_PKI/keys/action.pub"
agent_refuses "world-writable pinned action keys" "$SIGNET_PKI/keys/action.pub: writable by group or others"
no_log "world-writable action keys" "$ALOG"
chmod 0644 "$SIGNET_PKI/keys/action.pub"
chmod 0646 "$SIGNET_PKI/ca.pem"
agent_refuses "a world-writable CA" "$SIGNET_PKI/ca.pem: writable by group or others"
no_log "agent, world-writable CA" "$ALOG"
chmod 0644 "$SIGNET_PKI/ca.pem"
: >"$ALOG"
chown "$NOBODY" "$ALOG"
agent_refuses "an audit log created by another user" "$ALOG: .*owned by uid $NOBODY"
check "agent: the planted log is still empty" test ! -s "$ALOG"
finish
