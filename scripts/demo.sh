#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The newcomer's demo: installs what is missing, builds, makes a demo PKI
# with a signed operator roster, starts a private dockerd if none runs, a
# signet-server and a signet-agent on loopback, shows the inventory
# through the operator API, restarts a container with alice's signed
# request, has alice's STOP wait for a second pair of eyes until bob
# approves it, shows the host refusing an action signed by the relay
# alone, has the auditor witness (cosign) the server's signed checkpoint,
# verifies both audit logs, reconciles them action by action into the
# reviewer's HTML report (kept as build/demo-report.html), and catches a
# tampered log. Prints each step; cleans up after itself.
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
keep_report=$top/build/demo-report.html
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

step "2. a demo PKI: CA, server, agent web-01, operators alice and bob, auditor carol"
run "$PKI" init "$SIGNET_PKI" --nopass >/dev/null
run "$PKI" server localhost --dns localhost --ip 127.0.0.1 >/dev/null
run "$PKI" agent web-01 >/dev/null
run "$PKI" operator alice >/dev/null
run "$PKI" operator bob >/dev/null
run "$PKI" auditor carol >/dev/null
run "$PKI" list

step "2b. alice and bob make signing keys on their machines; the admin signs the roster"
# A real operator's key is sealed with a passphrase (signetctl keygen asks);
# the demo's are not, so that it runs unattended.
(cd "$demo" && run "$SIGNETCTL" keygen --no-passphrase alice && run "$SIGNETCTL" keygen --no-passphrase bob)
run "$PKI" roster add alice --key "$demo/alice.pub" --groups sre
run "$PKI" roster add bob --key "$demo/bob.pub" --groups sre
run "$PKI" roster sign
run "$PKI" roster list
# carol, the auditor, keeps a witness key too; the server will know it.
(cd "$demo" && run "$SIGNETCTL" keygen --raw carol-witness >/dev/null &&
	"$SIGNETCTL" audit witness-key --signing-key carol-witness.key --name carol >carol.vkey &&
	cp carol.vkey witnesses && chmod 0600 witnesses)

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

step "4. the host's policy: default deny; operators sign; STOP needs a second operator"
cat >"$demo/policy.json" <<'JSON'
{
  "host_id": "web-01",
  "rules": [
    { "match": { "name": "signet-demo-*", "labels": { "tier": "frontend" } },
      "actions": ["RESTART"], "operators": ["alice"], "min_reason_length": 10 },
    { "match": { "name": "signet-demo-*", "labels": { "tier": "frontend" } },
      "actions": ["STOP"], "operators": ["alice", "bob"],
      "approvals": [ { "group": "sre", "count": 1 } ], "approval_wait": 600 }
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
[roster]
keys = $SIGNET_PKI/roster/pinned.pub
file = $SIGNET_PKI/roster/roster.json
[audit]
path = $demo/server-audit.log
checkpoint_interval = 1
witness_keys = $demo/witnesses
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
[roster]
keys = $SIGNET_PKI/roster/pinned.pub
file = $demo/agent-roster.json
[audit]
path = $demo/agent-audit.log
checkpoint_interval = 1
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

step "6. what operators see (signetctl with alice's certificate), and the roster each host holds"
run "$SIGNETCTL" hosts
run "$SIGNETCTL" containers --host web-01
for _ in $(seq 1 50); do
	curl -sS --cacert "$SIGNET_CA" --cert "$SIGNET_CERT" --key "$SIGNET_KEY" \
		"$SIGNET_SERVER/api/roster" | grep -q '"roster_version":1' && break
	sleep 0.1
done
printf '$ curl .../api/roster\n'
curl -sS --cacert "$SIGNET_CA" --cert "$SIGNET_CERT" --key "$SIGNET_KEY" \
	"$SIGNET_SERVER/api/roster" | python3 -c 'import json,sys; d=json.load(sys.stdin)
print("server holds roster version", d["roster"]["version"], "operators", [o["name"] for o in d["roster"]["operators"]])
for h in d["hosts"]: print("host", h["host_id"], "holds roster version", h["roster_version"])'

step "7. alice restarts the container: she signs the request, the host checks her signature"
before=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
run "$SIGNETCTL" action "${cid:0:12}" restart --reason "demo: rolling restart after config change" \
	--signing-key "$demo/alice.key"
after=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
echo "dockerd says StartedAt went from $before to $after"

step "8. alice's STOP needs a second pair of eyes: it waits until bob approves"
out=$("$SIGNETCTL" action "${cid:0:12}" stop --reason "demo: stop for maintenance" \
	--valid 600 --signing-key "$demo/alice.key" 2>&1) || true
printf '$ signetctl action %s stop --reason "demo: stop for maintenance" --valid 600 --signing-key alice.key\n%s\n' "${cid:0:12}" "$out"
aid=$(sed -n 's/^action_id: *//p' <<<"$out")
echo "the container still runs: $(docker inspect -f '{{.State.Running}}' "$cid")"
export SIGNET_CERT=$SIGNET_PKI/issued/bob.pem SIGNET_KEY=$SIGNET_PKI/private/bob.key
run "$SIGNETCTL" approvals
run "$SIGNETCTL" approval show "$aid"
run "$SIGNETCTL" approve "$aid" --signing-key "$demo/bob.key" --wait 30
echo "the container runs: $(docker inspect -f '{{.State.Running}}' "$cid") (the host counted bob's approval itself)"
export SIGNET_CERT=$SIGNET_PKI/issued/alice.pem SIGNET_KEY=$SIGNET_PKI/private/alice.key

step "9. an action the server forges (signed with its action key alone) is refused by the host"
run docker start "$cid" >/dev/null
run "$SIGNETCTL" action "${cid:0:12}" restart --reason "demo: relay-signed, no operator signature" || true
SIGNET_CERT=$SIGNET_PKI/issued/carol.pem SIGNET_KEY=$SIGNET_PKI/private/carol.key \
	run "$SIGNETCTL" action "${cid:0:12}" restart --reason "demo: auditors cannot act" || true
run "$SIGNETCTL" audit tail --limit 4

step "9b. carol witnesses the server's log: she cosigns its latest signed checkpoint"
sleep 2 # a checkpoint of the records above (one a second here; 10 s by default)
SIGNET_CERT=$SIGNET_PKI/issued/carol.pem SIGNET_KEY=$SIGNET_PKI/private/carol.key \
	run "$SIGNETCTL" audit witness --signing-key "$demo/carol-witness.key" --name carol \
	--state "$demo/witness" --log-key "$SIGNET_PKI/keys/audit.pub" --out "$demo/witnessed.cp"
cat "$demo/witnessed.cp"

step "10. stop both, then verify both audit logs offline"
for p in "${pids[@]}"; do kill "$p"; done
wait
pids=()
keys=$SIGNET_PKI/keys
run "$SIGNETCTL" audit verify "$demo/server-audit.log" --key "$keys/audit.pub" \
	--action-key "$keys/action.pub" --agent-keys "$keys/agents"
run "$SIGNETCTL" audit verify "$demo/agent-audit.log" --key "$keys/agents/web-01.pub" \
	--action-key "$keys/action.pub" --agent-keys "$keys/agents"

step "10b. a reviewer reconciles the two logs action by action, with carol's checkpoint"
run "$SIGNETCTL" audit reconcile --server "$demo/server-audit.log" --agent "$demo/agent-audit.log" \
	--key "$keys/audit.pub" --action-key "$keys/action.pub" --agent-keys "$keys/agents" \
	--checkpoint "$demo/witnessed.cp" --witness-key "$demo/carol.vkey"
run "$SIGNETCTL" audit reconcile --server "$demo/server-audit.log" --agent "$demo/agent-audit.log" \
	--key "$keys/audit.pub" --action-key "$keys/action.pub" --agent-keys "$keys/agents" \
	-o html --out "$demo/report.html" && echo "the reviewer's report: $demo/report.html (kept: $keep_report)"
cp "$demo/report.html" "$keep_report"

step "11. tampering is caught: one byte of the server's log changed"
cp "$demo/server-audit.log" "$demo/tampered.log"
sed -i '2s/"ts":1/"ts":2/' "$demo/tampered.log"
run "$SIGNETCTL" audit verify "$demo/tampered.log" --key "$keys/audit.pub" || true

step "done: container, processes and demo files removed"
