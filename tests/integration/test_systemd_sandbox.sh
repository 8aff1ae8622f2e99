#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The sandbox of the packaged units does not break the binaries. systemd is
# not PID 1 on a test machine, so unit_sandbox.py rebuilds what each unit
# asks for (read-only system, private /tmp, /dev and /proc, no
# capabilities, no_new_privs, the units' system call, address family and
# W^X seccomp filters, umask, user and groups) and runs this build's
# signet-server and signet-agent inside it, laid out as the packages and
# packaging/README.md lay them out: configuration root:GROUP 0640 in a
# root:GROUP 0750 directory, keys 0600 owned by each service's user, state
# 0700. Then a real action goes operator -> server -> agent -> dockerd,
# whose socket the agent reaches only through its supplementary group; a
# SIGHUP (the units' ExecReload) reloads; and the sandbox is shown to bite:
# an audit log outside the state directory, and an agent without the
# docker group, fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/pkg.sh"
# Sanitizer runtimes need ptrace (LeakSanitizer) and more, which the
# units' filters refuse: this runs on the plain build only.
pkg_need_plain_build
need_docker
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (mount namespaces)"; exit 77; fi
if ! python3 -c 'import ctypes.util, sys; sys.exit(ctypes.util.find_library("seccomp") is None)'; then
	echo "SKIP: libseccomp not found (apt-get install libseccomp2)"; exit 77
fi
if ! unshare --mount true 2>/dev/null; then
	echo "SKIP: cannot make a mount namespace here"; exit 77
fi

SANDBOX=$SIGNET_SOURCE_DIR/tests/integration/unit_sandbox.py
UNITS=$SIGNET_SOURCE_DIR/packaging/systemd
# Outside /tmp (PrivateTmp hides it) and /root, /home (ProtectHome).
W=$(mktemp -d /run/signet-sandbox.XXXXXX)
sb_cleanup() { rm -rf "$W"; r_cleanup; }
trap sb_cleanup EXIT
chmod 0755 "$W"

# Stand-ins for the packages' users and groups (no passwd entries needed).
SRV_UID=64990 CONF_GID=64992 AGT_UID=64991 AGT_GID=64991
sock=${DOCKER_HOST#unix://}
DOCKER_GID=$(stat -c %g "$sock")
echo "    docker socket: $(stat -c '%a %U:%G' "$sock")"

make_pki || { not_ok "PKI"; finish; exit 1; }
AGENT_PORT=$(free_port)
API_PORT=$(free_port)

# The packages' layout under $W: bin/ (sbin), etc/ (/etc/signet),
# state-server and state-agent (/var/lib/signet, /var/lib/signet-agent).
E=$W/etc
mkdir -p "$W/bin" "$E/keys/agents" "$W/state-server" "$W/state-agent"
cp "$SIGNET_BUILD_DIR/server/signet-server" "$SIGNET_BUILD_DIR/agent/signet-agent" "$W/bin/"
cp "$SIGNET_PKI/ca.pem" "$SIGNET_PKI/crl.pem" "$E/"
cp "$SIGNET_PKI/issued/localhost.pem" "$E/server.pem"
cp "$SIGNET_PKI/private/localhost.key" "$E/server.key"
cp "$SIGNET_PKI/issued/web-01.pem" "$E/agent.pem"
cp "$SIGNET_PKI/private/web-01.key" "$E/agent.key"
cp "$SIGNET_PKI/keys/action.key" "$SIGNET_PKI/keys/action.pub" \
	"$SIGNET_PKI/keys/audit.key" "$E/keys/"
cp "$SIGNET_PKI/keys/agents/web-01.pub" "$E/keys/agents/"
cp "$SIGNET_PKI/keys/agents/web-01.key" "$E/keys/result.key"
cat >"$E/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "sbx-*" }, "actions": ["RESTART"], "accept_relay_signed": true } ] }
JSON
: >"$W/docker.sock"
write_confs() {	# write_confs SERVER-AUDIT-PATH
	cat >"$E/server.conf" <<CONF
[server]
agent_listen = 127.0.0.1:$AGENT_PORT
api_listen   = 127.0.0.1:$API_PORT
[tls]
ca   = $E/ca.pem
crl  = $E/crl.pem
cert = $E/server.pem
key  = $E/server.key
[keys]
action     = $E/keys/action.key
audit      = $E/keys/audit.key
agents_dir = $E/keys/agents
[audit]
path = $1
CONF
	cat >"$E/agent.conf" <<CONF
[agent]
server        = wss://localhost:$AGENT_PORT
docker_socket = $W/docker.sock
policy        = $E/policy.json
stop_timeout  = 1
[tls]
ca   = $E/ca.pem
cert = $E/agent.pem
key  = $E/agent.key
[keys]
action_pub = $E/keys/action.pub
result     = $E/keys/result.key
[audit]
path = $W/state-agent/audit.log
CONF
	chown root:$CONF_GID "$E/server.conf" "$E/agent.conf"
	chmod 0640 "$E/server.conf" "$E/agent.conf"
}
write_confs "$W/state-server/audit.log"
chown -R root:$CONF_GID "$E"
chmod 0750 "$E" "$E/keys" "$E/keys/agents"
chmod 0640 "$E/policy.json"
chmod 0644 "$E"/*.pem "$E/keys/action.pub" "$E/keys/agents/web-01.pub"
chown $SRV_UID:$CONF_GID "$E/server.key" "$E/keys/action.key" "$E/keys/audit.key"
chown $AGT_UID:$AGT_GID "$E/agent.key" "$E/keys/result.key"
chmod 0600 "$E/server.key" "$E"/keys/*.key
chown $SRV_UID:$CONF_GID "$W/state-server"
chown $AGT_UID:$AGT_GID "$W/state-agent"
chmod 0700 "$W/state-server" "$W/state-agent"

# sandboxed_server: the server under signet-server.service's sandbox. It
# execs (the PID stays the server's): run it in the background only.
sandboxed_server() {
	exec python3 "$SANDBOX" --unit "$UNITS/signet-server.service" \
		--state "$W/state-server" --uid $SRV_UID --gid $CONF_GID -- \
		"$W/bin/signet-server" --config "$E/server.conf"
}
# sandboxed_agent GROUPS: the agent under signet-agent.service's sandbox,
# with these supplementary groups. Execs: run it in the background only.
sandboxed_agent() {
	exec python3 "$SANDBOX" --unit "$UNITS/signet-agent.service" \
		--state "$W/state-agent" --uid $AGT_UID --gid $AGT_GID \
		--groups "$1" --bind "$sock:$W/docker.sock" -- \
		"$W/bin/signet-agent" --config "$E/agent.conf"
}

# The sandbox bites: an audit log outside the state directory cannot be
# written (ProtectSystem=strict), so the server refuses to start.
write_confs "$W/audit-elsewhere.log"
# The directory would allow it (the server's user owns it; one that group
# or others may write is refused before the sandbox is reached).
chown $SRV_UID "$W"
check_fails_with "server refuses an audit log outside its state directory" \
	'[Rr]ead-only file system' timeout 20 python3 "$SANDBOX" \
	--unit "$UNITS/signet-server.service" --state "$W/state-server" \
	--uid $SRV_UID --gid $CONF_GID -- "$W/bin/signet-server" --config "$E/server.conf"
check "...and wrote nothing there" test ! -e "$W/audit-elsewhere.log"
chown root "$W"
write_confs "$W/state-server/audit.log"

# The server under its sandbox serves both listeners, and tells "systemd"
# (notify.py on a socket the unit's user may write) that it is ready: its
# address-family and system-call filters let sd_notify through.
python3 "$SIGNET_SOURCE_DIR/tests/integration/notify.py" "$W/notify.sock" \
	"$T_DIR/notify.msgs" 666 2>>"$T_DIR/notify.err" &
R_PIDS+=("$!")
wait_for 10 grep -q '^listening$' "$T_DIR/notify.msgs" 2>/dev/null
NOTIFY_SOCKET=$W/notify.sock sandboxed_server >>"$T_DIR/server.log" 2>&1 &
SERVER_PID=$!
R_PIDS+=("$SERVER_PID")
check "sandboxed server answers /healthz" wait_for 15 quiet api_get /healthz
check "sandboxed server said READY=1 (sd_notify passes its filters)" \
	wait_for 10 grep -q '^READY=1' "$T_DIR/notify.msgs"
check "the sandboxed server's audit log is 0600 in its state directory" \
	test "$(stat -c '%a %u' "$W/state-server/audit.log" 2>/dev/null)" = "600 $SRV_UID"

# The agent without the docker group: it cannot reach the socket.
connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
known() { api_get "/api/containers/$1" >/dev/null 2>&1; }
unknown() { ! known "$1"; }
not_200() { ! tail -n 1 <<<"$1" | grep -q 'HTTP 200'; }
cid=$(docker run -d --network none --stop-timeout 1 --name "sbx-web-$$" "$SIGNET_TEST_IMAGE" sleep 100000)
if [ "$DOCKER_GID" != 0 ]; then
	sandboxed_agent "$CONF_GID" >>"$T_DIR/agent-nogroup.log" 2>&1 &
	nog=$!
	R_PIDS+=("$nog")
	check "the agent without the docker group connects" wait_for 15 connected
	sleep 2
	check "...but cannot list containers through the socket" \
		grep -q "container list failed: .*cannot connect to $W/docker.sock" \
		"$T_DIR/agent-nogroup.log"
	check "...so the server does not know the container" unknown "$cid"
	out=$(api_post "/api/containers/$cid/actions" '{"action":"RESTART","reason":"without the docker group"}')
	check "...and no action on it succeeds" not_200 "$out"
	kill "$nog" 2>/dev/null; wait "$nog" 2>/dev/null
	wait_for 10 eval '! connected'
else
	echo "    the test dockerd's socket is group root: no group-less check"
fi

# With its groups, the agent connects and runs a real action.
sandboxed_agent "$CONF_GID,$DOCKER_GID" >>"$T_DIR/agent.log" 2>&1 &
AGENT_PID=$!
R_PIDS+=("$AGENT_PID")
check "sandboxed agent connects to the sandboxed server" wait_for 15 connected
check "sandboxed agent reports the inventory through the Docker socket" wait_for 10 known "$cid"
before=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
out=$(api_post "/api/containers/${cid:0:12}/actions" '{"action":"RESTART","reason":"under the systemd sandbox"}')
check "RESTART through both sandboxes answers 200" grep -q 'HTTP 200' <<<"$(tail -n 1 <<<"$out")"
check "RESTART through both sandboxes is SUCCESS" \
	test "$(sed '$d' <<<"$out" | pyq 'd["status"]' 2>/dev/null)" = SUCCESS
check "dockerd restarted the container" \
	test "$(docker inspect -f '{{.State.StartedAt}}' "$cid")" != "$before"
check "the agent's audit log is 0600 in its state directory" \
	test "$(stat -c '%a %u' "$W/state-agent/audit.log" 2>/dev/null)" = "600 $AGT_UID"

# ExecReload=/bin/kill -HUP $MAINPID reloads inside the sandbox.
kill -HUP "$SERVER_PID"
check "SIGHUP reloads the sandboxed server" wait_for 10 grep -q 'SIGHUP' "$T_DIR/server.log"
check "the server is still up after SIGHUP" wait_for 5 quiet api_get /healthz
kill -HUP "$AGENT_PID"
sleep 1
check "the agent is still up after SIGHUP" kill -0 "$AGENT_PID"

# A clean stop: SIGTERM, exit 0 (no seccomp kill, no EPERM crash).
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; rc=$?
check "sandboxed agent stops cleanly on SIGTERM (rc=$rc)" test "$rc" = 0
kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; rc=$?
check "sandboxed server stops cleanly on SIGTERM (rc=$rc)" test "$rc" = 0
docker rm -f "$cid" >/dev/null 2>&1
if [ "$T_FAIL" -ne 0 ]; then
	echo "--- server log"; tail -n 30 "$T_DIR/server.log"
	echo "--- agent log"; tail -n 30 "$T_DIR/agent.log"
	[ -f "$T_DIR/agent-nogroup.log" ] && { echo "--- agent without docker"; tail -n 15 "$T_DIR/agent-nogroup.log"; }
fi
finish
