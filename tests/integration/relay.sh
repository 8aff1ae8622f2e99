# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Helpers for end-to-end tests with the real parts: a PKI from
# pki/signet-pki, a real signet-server and signet-agent on loopback (the
# agent against the private test dockerd), stopped by pid on exit.
# Source after lib.sh.

PKI_SCRIPT="$SIGNET_SOURCE_DIR/pki/signet-pki"
SERVER_BIN="$SIGNET_BUILD_DIR/server/signet-server"
AGENT_BIN="$SIGNET_BUILD_DIR/agent/signet-agent"
R_PIDS=()

r_cleanup() {
	local p
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	t_cleanup
}
trap r_cleanup EXIT

# free_port: prints a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# make_pki: PKI in $T_DIR/pki with server "localhost", agent web-01,
# operator alice, auditor carol; exports SIGNET_PKI.
make_pki() {
	export SIGNET_PKI="$T_DIR/pki"
	"$PKI_SCRIPT" init "$SIGNET_PKI" --nopass >/dev/null &&
	"$PKI_SCRIPT" server localhost --dns localhost --ip 127.0.0.1 >/dev/null &&
	"$PKI_SCRIPT" agent web-01 >/dev/null &&
	"$PKI_SCRIPT" operator alice >/dev/null &&
	"$PKI_SCRIPT" auditor carol >/dev/null
}

# audit_extra FILE: with CHECKPOINT_INTERVAL set, FILE's [audit] section
# (its last so far) gets checkpoint_interval = CHECKPOINT_INTERVAL.
audit_extra() {
	if [ -n "${CHECKPOINT_INTERVAL:-}" ]; then
		echo "checkpoint_interval = $CHECKPOINT_INTERVAL" >>"$1"
	fi
}

# write_server_conf: $T_DIR/server.conf with fresh ports in AGENT_PORT and
# API_PORT; the audit log at $T_DIR/server-audit.log (checkpoints every
# CHECKPOINT_INTERVAL s when set: audit_extra).
write_server_conf() {
	AGENT_PORT=$(free_port)
	API_PORT=$(free_port)
	cat >"$T_DIR/server.conf" <<CONF
[server]
agent_listen = 127.0.0.1:$AGENT_PORT
api_listen   = 127.0.0.1:$API_PORT
[tls]
ca   = $SIGNET_PKI/ca.pem
crl  = $SIGNET_PKI/crl.pem
cert = $SIGNET_PKI/issued/localhost.pem
key  = $SIGNET_PKI/private/localhost.key
[keys]
action     = $SIGNET_PKI/keys/action.key
audit      = $SIGNET_PKI/keys/audit.key
agents_dir = $SIGNET_PKI/keys/agents
[audit]
path = $T_DIR/server-audit.log
CONF
	audit_extra "$T_DIR/server.conf"
}

# add_server_roster: the server holds the PKI's published roster.
add_server_roster() {
	cat >>"$T_DIR/server.conf" <<CONF
[roster]
keys = $SIGNET_PKI/roster/pinned.pub
file = $SIGNET_PKI/roster/roster.json
CONF
}

# add_agent_roster HOST: HOST pins the roster keys and keeps its roster in
# $T_DIR/roster-HOST.json.
add_agent_roster() {
	cat >>"$T_DIR/agent-$1.conf" <<CONF
[roster]
keys = $SIGNET_PKI/roster/pinned.pub
file = $T_DIR/roster-$1.json
CONF
}

# enroll NAME GROUPS: an unsealed operator key $T_DIR/NAME.key for NAME,
# added to the roster draft with GROUPS (comma-separated, may be "").
enroll() {
	(cd "$T_DIR" && "$SIGNETCTL" keygen --no-passphrase "$1" >/dev/null) &&
	if [ -n "$2" ]; then
		"$PKI_SCRIPT" roster add "$1" --key "$T_DIR/$1.pub" --groups "$2" >/dev/null
	else
		"$PKI_SCRIPT" roster add "$1" --key "$T_DIR/$1.pub" >/dev/null
	fi
}

# write_agent_conf HOST POLICY: $T_DIR/agent-HOST.conf against the server
# (checkpoints every CHECKPOINT_INTERVAL s when set: audit_extra).
write_agent_conf() {
	local host=$1 policy=$2
	cat >"$T_DIR/agent-$host.conf" <<CONF
[agent]
server        = wss://localhost:$AGENT_PORT
docker_socket = ${DOCKER_HOST#unix://}
policy        = $policy
stop_timeout  = 1
[tls]
ca   = $SIGNET_PKI/ca.pem
cert = $SIGNET_PKI/issued/$host.pem
key  = $SIGNET_PKI/private/$host.key
[keys]
action_pub = $SIGNET_PKI/keys/action.pub
result     = $SIGNET_PKI/keys/agents/$host.key
[audit]
path = $T_DIR/agent-$host-audit.log
CONF
	audit_extra "$T_DIR/agent-$host.conf"
}

# start_server: runs signet-server in the background (log in
# $T_DIR/server.log), waits until the API answers /healthz; SERVER_PID.
start_server() {
	"$SERVER_BIN" --config "$T_DIR/server.conf" >>"$T_DIR/server.log" 2>&1 &
	SERVER_PID=$!
	R_PIDS+=("$SERVER_PID")
	for _ in $(seq 1 100); do
		api_get /healthz >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server did not come up:"; tail -n 20 "$T_DIR/server.log"
	return 1
}

# start_agent HOST: runs signet-agent in the background; AGENT_PID.
start_agent() {
	local host=$1
	"$AGENT_BIN" --config "$T_DIR/agent-$host.conf" >>"$T_DIR/agent-$host.log" 2>&1 &
	AGENT_PID=$!
	R_PIDS+=("$AGENT_PID")
}

# api_get PATH [USER]: GET with USER's client certificate (default alice);
# prints the body; fails on a non-2xx answer.
api_get() {
	local user=${2:-alice}
	curl -sS --fail --max-time 10 --cacert "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/$user.pem" \
		--key "$SIGNET_PKI/private/$user.key" \
		"https://localhost:$API_PORT$1"
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
	local secs=$1; shift
	for _ in $(seq 1 $((secs * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# pyq EXPR: evaluates a Python expression over the JSON on stdin (as d)
# and prints the result; fails when the JSON does not parse.
pyq() {
	python3 -c 'import json,sys
d=json.load(sys.stdin)
r=eval(sys.argv[1])
print(json.dumps(r) if isinstance(r,(dict,list,bool)) or r is None else r)' "$1"
}

# api_post PATH BODY [USER]: POST JSON with USER's certificate (default
# alice); prints the body, then a last line "HTTP NNN".
api_post() {
	local user=${3:-alice}
	curl -sS --max-time 130 --cacert "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/$user.pem" \
		--key "$SIGNET_PKI/private/$user.key" \
		-H 'Content-Type: application/json' --data-binary "$2" \
		-w '\nHTTP %{http_code}\n' "https://localhost:$API_PORT$1"
}
