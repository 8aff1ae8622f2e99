#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Year two of a deployment, as pki/README.md walks the admin through it,
# with every real part: a PKI from signet-pki, the real signet-server and
# signet-agents over TLS on loopback, the private test dockerd. Host web-01
# (keys made in the PKI) and host web-02 (enrolled by CSR: signet-agent
# enroll on the host, signet-pki sign-req at the CA, a bundle with no
# private key) run actions; then the server, both agents and the operator
# are renewed under the same names (web-01 with --new-key and
# --revoke-old, web-02 by a new CSR from the host) and the CRL is renewed.
# Both agents reconnect under the same host ids with new serials, the
# revoked old certificate of web-01 is refused with the reason, actions go
# on, and every audit log verifies as one unbroken chain across the
# renewal (audit verify and audit reconcile).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }
cd "$T_DIR" || exit 1

TAG="sy2$$"
cleanup() {
	docker ps -aq --filter "label=signet.test=$TAG" |
		xargs -r docker rm -f >/dev/null 2>&1
	r_cleanup
}
trap cleanup EXIT

make_pki || { not_ok "PKI"; finish; exit 1; }
P=$SIGNET_PKI
write_server_conf

# ---- web-02 enrolled by CSR: its keys never leave the host ----
H2=$T_DIR/host-web-02
check "signet-agent enroll makes a key, a CSR and a result key" \
	quiet "$AGENT_BIN" enroll --host-id web-02 --out "$H2"
check "sign-req signs the host's CSR with its result key" \
	quiet "$PKI_SCRIPT" sign-req agent web-02 "$H2/agent.csr" \
	--result-pub "$H2/result.pub"
check "the PKI holds no private key of web-02" \
	test ! -e "$P/private/web-02.key" -a ! -e "$P/keys/agents/web-02.key"
check "the keyless bundle" quiet "$PKI_SCRIPT" bundle web-02 \
	--server "wss://localhost:$AGENT_PORT" --out "$T_DIR/web-02.tar.gz"
check "the keyless bundle holds no private key" \
	sh -c "! tar -xzOf '$T_DIR/web-02.tar.gz' | grep -q 'PRIVATE KEY'"

for h in web-01 web-02; do
	cat >"$T_DIR/policy-$h.json" <<EOF
{ "host_id": "$h",
  "rules": [ { "match": { "name": "$TAG-$h", "labels": { "signet.test": "$TAG" } },
               "actions": ["RESTART"], "accept_relay_signed": true } ] }
EOF
	chmod 644 "$T_DIR/policy-$h.json"
	write_agent_conf "$h" "$T_DIR/policy-$h.json"
done
sed -i -e "s|^cert = .*|cert = $P/issued/web-02.pem|" \
	-e "s|^key  = .*|key  = $H2/agent.key|" \
	-e "s|^result     = .*|result     = $H2/result.key|" "$T_DIR/agent-web-02.conf"

declare -A CID
for h in web-01 web-02; do
	CID[$h]=$(docker run -d --network none --stop-timeout 1 --name "$TAG-$h" \
		--label "signet.test=$TAG" "$SIGNET_TEST_IMAGE" sleep 100000)
done

check "server starts" start_server
# Both agents talk to the one test dockerd and see the same containers;
# the server keeps a container with the first connected host that reports
# it (inventory.conflict), so the hosts are served one at a time.
# serve HOST: HOST's agent runs and holds its container in the inventory.
serve() {
	start_agent "$1"
	APID[$1]=$AGENT_PID
	check "$1 connects" wait_for 30 is_connected "$1"
	check "$1 holds its container" wait_for 30 holds "$1"
}
# unserve HOST: HOST's agent stopped and seen gone.
unserve() {
	kill -TERM "${APID[$1]}" 2>/dev/null
	wait "${APID[$1]}" 2>/dev/null
	check "$1 disconnected" wait_for 30 not_connected "$1"
}
declare -A APID
is_connected() {
	api_get /api/hosts | pyq '[h["host_id"] for h in d["hosts"] if h["connected"]]' |
		grep -q "\"$1\""
}
not_connected() { ! is_connected "$1"; }
holds() {
	[ "$(api_get "/api/containers/${CID[$1]}" 2>/dev/null | pyq 'd["host_id"]')" = "$1" ]
}
# connected_serial HOST: the serial of HOST's newest agent.connected.
connected_serial() {
	jq -r --arg h "$1" 'select(.event == "agent.connected" and .data.host_id == $h) | .data.serial' \
		"$T_DIR/server-audit.log" | tail -n 1
}
n_connected() {
	jq -c --arg h "$1" 'select(.event == "agent.connected" and .data.host_id == $h)' \
		"$T_DIR/server-audit.log" | wc -l
}
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
# restart HOST WHY: a RESTART of HOST's container answers SUCCESS.
restart() {
	local out
	out=$(api_post "/api/containers/${CID[$1]:0:12}/actions" \
		"{\"action\":\"RESTART\",\"reason\":\"$2\"}")
	if [ "$(sed '$d' <<<"$out" | pyq 'd["status"]')" = SUCCESS ]; then
		ok "$1: RESTART ($2) answers SUCCESS"
	else
		not_ok "$1: RESTART ($2) answers SUCCESS"
		printf '# %s\n' "$out"
	fi
}

serve web-01
restart web-01 "year one on web-01"
unserve web-01
serve web-02
restart web-02 "year one on web-02"
unserve web-02
OLD1=$(serial_of "$P/issued/web-01.pem")
OLD2=$(serial_of "$P/issued/web-02.pem")
check "web-01 connected with its first certificate" \
	test "$(connected_serial web-01 | tr a-f A-F)" = "$(tr a-f A-F <<<"$OLD1")"
cp "$P/issued/web-01.pem" "$T_DIR/web-01-old.pem"
cp "$P/private/web-01.key" "$T_DIR/web-01-old.key"
KEY1=$(sha256sum <"$P/private/web-01.key")

# ---- year two: the server, the agents, the operator, the CRL ----
check "renew the server (same name, same SANs)" quiet "$PKI_SCRIPT" renew localhost
check "renew web-01 with a new key, revoking the old certificate" \
	quiet "$PKI_SCRIPT" renew web-01 --new-key --revoke-old
check "web-01 has a new key" test "$(sha256sum <"$P/private/web-01.key")" != "$KEY1"
check "renew the operator alice" quiet "$PKI_SCRIPT" renew alice
mv "$H2/agent.key" "$H2/agent.key.year-one"
mv "$H2/agent.csr" "$H2/agent.csr.year-one"
check "web-02 makes a new key and CSR, keeping its result key" \
	quiet "$AGENT_BIN" enroll --host-id web-02 --out "$H2"
check "sign-req of a live name renews it" \
	quiet "$PKI_SCRIPT" sign-req agent web-02 "$H2/agent.csr"
check "renew the CRL" quiet "$PKI_SCRIPT" crl
NEW1=$(serial_of "$P/issued/web-01.pem")
NEW2=$(serial_of "$P/issued/web-02.pem")
check "new serials ($NEW1, $NEW2)" test "$NEW1" != "$OLD1" -a "$NEW2" != "$OLD2"
"$PKI_SCRIPT" list >"$T_DIR/list.out"
check "list shows web-01's old and new serials" \
	sh -c "grep -qi '$OLD1' '$T_DIR/list.out' && grep -qi '$NEW1' '$T_DIR/list.out'"
check "list shows web-01's old certificate revoked" \
	sh -c "grep -i '$OLD1' '$T_DIR/list.out' | grep -q revoked"

# The server takes its renewed certificate and the CRL at a restart.
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "server restarts with its renewed certificate" start_server
check "the server presents the new certificate" sh -c \
	"openssl s_client -connect 127.0.0.1:$API_PORT -servername localhost </dev/null 2>/dev/null |
	 openssl x509 -noout -serial | grep -qix 'serial=$(serial_of "$P/issued/localhost.pem")'"
c1=$(n_connected web-01)
c2=$(n_connected web-02)
serve web-01
check "web-01 connected again, with the renewed certificate" \
	test "$(n_connected web-01)" -gt "$c1"
check "web-01's new serial is the one in agent.connected" \
	test "$(connected_serial web-01 | tr a-f A-F)" = "$(tr a-f A-F <<<"$NEW1")"
restart web-01 "year two on web-01"
unserve web-01
serve web-02
check "web-02 connected again, with the renewed certificate" \
	test "$(n_connected web-02)" -gt "$c2"
check "web-02's new serial is the one in agent.connected" \
	test "$(connected_serial web-02 | tr a-f A-F)" = "$(tr a-f A-F <<<"$NEW2")"
restart web-02 "year two on web-02"
unserve web-02

# The revoked year-one certificate of web-01 no longer gets in.
sed -e "s|^cert = .*|cert = $T_DIR/web-01-old.pem|" \
	-e "s|^key  = .*|key  = $T_DIR/web-01-old.key|" \
	"$T_DIR/agent-web-01.conf" >"$T_DIR/agent-old.conf"
"$AGENT_BIN" --config "$T_DIR/agent-old.conf" >>"$T_DIR/agent-old.log" 2>&1 &
OLDPID=$!
R_PIDS+=("$OLDPID")
check "the revoked certificate is refused as revoked" wait_for 30 sh -c \
	"jq -r 'select(.event == \"auth.rejected\") | .data.reason' '$T_DIR/server-audit.log' | grep -q revoked"
kill -TERM "$OLDPID"; wait "$OLDPID" 2>/dev/null
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# ---- one unbroken chain per log, across the renewal ----
for h in web-01 web-02; do
	check "$h: one log with two agent.started, one host id" sh -c \
		"[ \$(jq -c 'select(.event == \"agent.started\")' '$T_DIR/agent-$h-audit.log' | wc -l) -ge 2 ] &&
		 [ \$(jq -r 'select(.event == \"agent.started\") | .data.host_id' '$T_DIR/agent-$h-audit.log' | sort -u) = $h ]"
	check "$h: its audit log verifies across the renewal" \
		quiet "$SIGNETCTL" audit verify "$T_DIR/agent-$h-audit.log" \
		--key "$P/keys/agents/$h.pub" --action-key "$P/keys/action.pub"
done
check "the server's audit log verifies with the results" \
	quiet "$SIGNETCTL" audit verify "$T_DIR/server-audit.log" \
	--key "$P/keys/audit.pub" --action-key "$P/keys/action.pub" \
	--agent-keys "$P/keys/agents"
check "reconcile: every action of both years in all three logs" \
	"$SIGNETCTL" audit reconcile --server "$T_DIR/server-audit.log" \
	--agent "$T_DIR/agent-web-01-audit.log" --agent "$T_DIR/agent-web-02-audit.log" \
	--key "$P/keys/audit.pub" --action-key "$P/keys/action.pub" \
	--agent-keys "$P/keys/agents" --out "$T_DIR/reconcile.txt"
[ "$T_FAIL" -eq 0 ] || {
	echo "# server log:"; tail -n 30 "$T_DIR/server.log"
	head -n 20 "$T_DIR/reconcile.txt" 2>/dev/null
}
finish
