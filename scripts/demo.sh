#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The newcomer's demo: installs what is missing, builds, makes a demo PKI,
# starts a private dockerd if none runs, a signet-server and a signet-agent
# on loopback, shows the inventory through the operator API, restarts a
# container through signet, shows a denial by policy, and verifies both
# audit logs. Prints each step; cleans up after itself.
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. install missing Debian packages and build"
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "built build/server/signet-server, build/agent/signet-agent, build/cli/signetctl"
export SIGNETCTL=$top/build/cli/signetctl
PKI=$top/pki/signet-pki
demo=$(mktemp -d /tmp/signet-demo.XXXXXX)
pids=()
docker_dir=""
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${cid:-}" ]; then docker rm -f "$cid" >/dev/null 2>&1 || true; fi
	if [ -n "$docker_dir" ]; then
		SIGNET_BUILD_DIR=$demo bash tests/integration/dockerd.sh stop >/dev/null || true
	fi
	rm -rf "$demo"
}
trap cleanup EXIT
export SIGNET_PKI=$demo/pki

step "2. a demo PKI: CA, server, agent web-01, operator alice, auditor carol"
run "$PKI" init "$SIGNET_PKI" >/dev/null
run "$PKI" server localhost --dns localhost --ip 127.0.0.1 >/dev/null
run "$PKI" agent web-01 >/dev/null
run "$PKI" operator alice >/dev/null
run "$PKI" auditor carol >/dev/null
run "$PKI" list

step "3. a dockerd: the system's if one answers, else a private one"
if docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
	export DOCKER_HOST=unix:///var/run/docker.sock
	echo "using the running dockerd at /var/run/docker.sock"
else
	SIGNET_BUILD_DIR=$demo bash tests/integration/dockerd.sh start
	docker_dir=yes
	# shellcheck disable=SC1091
	. "$demo/dockerd.env"
	export DOCKER_HOST
fi
image=signet-demo/busybox:1
if ! docker image inspect "$image" >/dev/null 2>&1; then
	root=$demo/rootfs; mkdir -p "$root/bin"; cp /bin/busybox "$root/bin/"
	for l in sh sleep; do ln -s busybox "$root/bin/$l"; done
	tar -C "$root" -c . | docker import - "$image" >/dev/null
fi
cid=$(docker run -d --network none --stop-timeout 1 --name signet-demo-web \
	--label tier=frontend "$image" sleep 100000)
echo "container signet-demo-web ${cid:0:12} runs with label tier=frontend"

step "4. the host's policy: default deny; alice may restart signet-demo-* frontends, with a reason"
cat >"$demo/policy.json" <<'JSON'
{
  "host_id": "web-01",
  "rules": [
    { "match": { "name": "signet-demo-*", "labels": { "tier": "frontend" } },
      "actions": ["RESTART"], "operators": ["alice"], "min_reason_length": 10,
      "accept_relay_signed": true }
  ]
}
JSON
chmod 0644 "$demo/policy.json"
run build/agent/signet-agent --check-policy "$demo/policy.json" --host-id web-01

step "5. signet-server and signet-agent on loopback, mutual TLS both ways"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
agent_port=$(port); api_port=$(port)
cat >"$demo/server.conf" <<CONF
[server]
agent_listen = 127.0.0.1:$agent_port
api_listen   = 127.0.0.1:$api_port
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
path = $demo/server-audit.log
CONF
cat >"$demo/agent.conf" <<CONF
[agent]
server        = wss://localhost:$agent_port
docker_socket = ${DOCKER_HOST#unix://}
policy        = $demo/policy.json
stop_timeout  = 1
[tls]
ca   = $SIGNET_PKI/ca.pem
cert = $SIGNET_PKI/issued/web-01.pem
key  = $SIGNET_PKI/private/web-01.key
[keys]
action_pub = $SIGNET_PKI/keys/action.pub
result     = $SIGNET_PKI/keys/agents/web-01.key
[audit]
path = $demo/agent-audit.log
CONF
build/server/signet-server --config "$demo/server.conf" 2>"$demo/server.log" &
pids+=($!)
build/agent/signet-agent --config "$demo/agent.conf" 2>"$demo/agent.log" &
pids+=($!)
export SIGNET_SERVER=https://localhost:$api_port SIGNET_CA=$SIGNET_PKI/ca.pem
export SIGNET_CERT=$SIGNET_PKI/issued/alice.pem SIGNET_KEY=$SIGNET_PKI/private/alice.key
for _ in $(seq 1 100); do
	"$SIGNETCTL" containers 2>/dev/null | grep -q signet-demo-web && break
	sleep 0.1
done
echo "server log:"; sed 's/^/  /' "$demo/server.log" | head -n 6

step "6. what operators see (signetctl with alice's certificate)"
run "$SIGNETCTL" hosts
run "$SIGNETCTL" containers --host web-01

step "7. alice restarts the container through signet (signed, relayed, checked, run)"
before=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
run "$SIGNETCTL" action "${cid:0:12}" restart --reason "demo: rolling restart after config change"
after=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
echo "dockerd says StartedAt went from $before to $after"

step "8. the host's policy says no: STOP is not allowed, and carol is an auditor"
run "$SIGNETCTL" action "${cid:0:12}" stop --reason "demo: this host allows only RESTART" || true
SIGNET_CERT=$SIGNET_PKI/issued/carol.pem SIGNET_KEY=$SIGNET_PKI/private/carol.key \
	run "$SIGNETCTL" action "${cid:0:12}" restart --reason "demo: auditors cannot act" || true
run "$SIGNETCTL" audit tail --limit 4

step "9. stop both, then verify both audit logs offline"
for p in "${pids[@]}"; do kill "$p"; done
wait
pids=()
keys=$SIGNET_PKI/keys
run "$SIGNETCTL" audit verify "$demo/server-audit.log" --key "$keys/audit.pub" \
	--action-key "$keys/action.pub" --agent-keys "$keys/agents"
run "$SIGNETCTL" audit verify "$demo/agent-audit.log" --key "$keys/agents/web-01.pub" \
	--action-key "$keys/action.pub" --agent-keys "$keys/agents"

step "10. tampering is caught: one byte of the server's log changed"
cp "$demo/server-audit.log" "$demo/tampered.log"
sed -i '2s/"ts":1/"ts":2/' "$demo/tampered.log"
run "$SIGNETCTL" audit verify "$demo/tampered.log" --key "$keys/audit.pub" || true

step "done: container, processes and demo files removed"
