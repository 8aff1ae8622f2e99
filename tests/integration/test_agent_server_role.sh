#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The agent accepts as its server only a certificate of the server role:
# one issued by the signet CA for another role (here OU=operator, no
# extended key usage, but naming the host the agent dials) is refused at
# the TLS handshake, so the agent never says hello to it; the PKI's real
# server certificate is accepted by the same agent afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
OUT="$T_DIR/fake.out"
. "$(dirname "$0")/fake.sh"

make_pki || { not_ok "pki setup"; finish; exit 1; }
AGENT_PORT=$(free_port)
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >"$T_DIR/policy.json"
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"

# A certificate of the CA for the operator role, naming localhost.
R=$T_DIR/rogue
printf '%s\n' 'subjectAltName = DNS:localhost, IP:127.0.0.1' \
	'basicConstraints = critical, CA:FALSE' \
	'keyUsage = critical, digitalSignature' \
	'subjectKeyIdentifier = hash' \
	'authorityKeyIdentifier = keyid' >"$R.ext"
if openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$R.key" -subj "/CN=localhost/OU=operator" -out "$R.csr" 2>/dev/null &&
	openssl x509 -req -in "$R.csr" -CA "$SIGNET_PKI/ca.pem" \
		-CAkey "$SIGNET_PKI/private/ca.key" -set_serial 4242 -days 30 \
		-sha256 -extfile "$R.ext" -out "$R.pem" 2>/dev/null; then
	ok "a CA-signed operator certificate naming localhost"
else
	not_ok "a CA-signed operator certificate naming localhost"; finish; exit 1
fi
chmod 0600 "$R.key"

# fake_server with the rogue certificate; the agent dials it.
"$FAKE" --port "$AGENT_PORT" --ca "$SIGNET_PKI/ca.pem" --cert "$R.pem" \
	--key "$R.key" --action-key "$SIGNET_PKI/keys/action.key" \
	--agent-pub "$SIGNET_PKI/keys/agents/web-01.pub" --max-seconds 600 \
	>>"$OUT" 2>>"$T_DIR/fake.err" &
ROGUE_PID=$!
R_PIDS+=("$ROGUE_PID")
check "the rogue listener is up" wait_for 10 grep -q "^listening port=$AGENT_PORT" "$OUT"
start_agent web-01
refused() { grep -q "channel: certificate .*localhost.* has no extended key usage extension; operator certificates need clientAuth; refusing it" "$T_DIR/agent-web-01.log"; }
check "the agent refuses the operator certificate, saying why" wait_for 120 refused
check "the agent never said hello to it" test "$(hellos)" -eq 0
kill "$ROGUE_PID" 2>/dev/null
wait "$ROGUE_PID" 2>/dev/null

# The same agent and the PKI's server certificate: accepted.
start_fake || { finish; exit 1; }
check "the agent says hello to the real server" wait_hello 1 120
[ "$T_FAIL" -eq 0 ] || { echo "# agent log:"; tail -n 15 "$T_DIR/agent-web-01.log"; echo "# fake:"; tail -n 5 "$OUT"; }
finish
