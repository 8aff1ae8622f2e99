#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The newcomer's demo: installs what is missing, builds, makes a demo PKI
# and walks through what signet does today, printing each step. It works
# in a temporary directory and removes it at the end.
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
echo "built: build/cli/signetctl build/agent/signet-agent"
export SIGNETCTL=$top/build/cli/signetctl
PKI=$top/pki/signet-pki
demo=$(mktemp -d /tmp/signet-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
export SIGNET_PKI=$demo/pki

step "2. a demo PKI: CA, server, agent web-01, operator alice, auditor carol"
run "$PKI" init "$SIGNET_PKI"
run "$PKI" server relay --dns localhost --ip 127.0.0.1
run "$PKI" agent web-01
run "$PKI" operator alice
run "$PKI" auditor carol
run "$PKI" operator mallory
run "$PKI" revoke mallory
run "$PKI" list

step "3. the certificate check both listeners run (chain, dates, EKU, role, CRL)"
idt=$top/build/tests/identity_tool
for who in "web-01 agent" "alice operator,auditor" "carol operator,auditor" \
	"alice agent" "mallory operator,auditor"; do
	set -- $who
	printf '%-8s as %-17s -> ' "$1" "$2"
	"$idt" "$SIGNET_PKI/ca.pem" "$SIGNET_PKI/crl.pem" \
		"$SIGNET_PKI/issued/$1.pem" "$2" || true
done

step "4. the host policy: validate an example and explain two decisions"
pol=$demo/policy.json
sed 's/"host_id": *"[^"]*"/"host_id": "web-01"/' policy/examples/web-tier.json >"$pol"
chmod 0644 "$pol"
run build/agent/signet-agent --check-policy "$pol" --host-id web-01
run build/agent/signet-agent --check-policy "$pol" --explain --name web-1 \
	--image nginx:1.25 --label tier=frontend --action RESTART \
	--operator alice --reason "rolling restart for config 42" || true
run build/agent/signet-agent --check-policy "$pol" --explain --name db-1 \
	--image postgres:16 --action STOP --operator alice \
	--reason "not allowed here" || true

step "5. a signed, hash-chained audit log with embedded signed actions and results"
cd "$demo"
keys=$SIGNET_PKI/keys
run "$top/build/tests/audit_tool" append audit.log "$keys/audit.key" 40 \
	"$keys/action.key" "$keys/agents/web-01.key" web-01
run "$SIGNETCTL" audit verify audit.log --key "$keys/audit.pub" \
	--action-key "$keys/action.pub" --agent-keys "$keys/agents"
head=$("$SIGNETCTL" audit verify audit.log --key "$keys/audit.pub" | sed -n 's/^head: //p')
echo "(keep the head $head elsewhere: it catches truncation later)"

step "6. tampering is caught: one byte changed, then the log truncated"
cp audit.log tampered.log
sed -i '17s/"ts":1/"ts":2/' tampered.log
run "$SIGNETCTL" audit verify tampered.log --key "$keys/audit.pub" || true
head -n 30 audit.log >truncated.log
run "$SIGNETCTL" audit verify truncated.log --key "$keys/audit.pub" \
	--expect-head "$head" || true

step "done: demo files removed. The relay itself (server, agent, actions"
echo "on a real dockerd) joins this demo as it is built; see README.md."
