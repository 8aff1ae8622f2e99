#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The agent's TLS key must be a plain PEM key in a secret file: one with a
# passphrase is refused at start with a message that says so, and the
# agent never asks for the passphrase, even when started by hand on a
# terminal (a daemon that waits on a prompt would hang its start).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
command -v script >/dev/null || { echo "script(1) missing (bsdutils)"; exit 77; }

make_pki || { not_ok "pki setup"; finish; exit 1; }
AGENT_PORT=$(free_port)
DOCKER_HOST=unix://$T_DIR/no-dockerd.sock
echo '{ "host_id": "web-01", "rules": [] }' >"$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
openssl pkey -in "$SIGNET_PKI/private/web-01.key" -aes256 \
	-passout pass:secret -out "$T_DIR/encrypted.key" 2>/dev/null
chmod 0600 "$T_DIR/encrypted.key"
sed -i "s|^key  = .*web-01.key$|key  = $T_DIR/encrypted.key|" "$T_DIR/agent-web-01.conf"
check "the agent's configuration names the encrypted key" \
	grep -q "^key  = $T_DIR/encrypted.key$" "$T_DIR/agent-web-01.conf"

# On a terminal (script(1) gives the agent one). The timeout only keeps a
# prompt from hanging the test; the checks are on what the agent said.
out=$(timeout 300 script -qec "$AGENT_BIN --config $T_DIR/agent-web-01.conf" \
	/dev/null </dev/null 2>&1)
rc=$?
echo "# agent said: $(printf '%s' "$out" | tr -d '\r' | head -c 600)"
check "refused at start (rc=$rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "says the key is not usable" grep -q "encrypted.key: not a PEM private key (or one with a passphrase)" <<<"$out"
check "never asks for a passphrase" test -z "$(grep -i "pass phrase" <<<"$out")"
finish
