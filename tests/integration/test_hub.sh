#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The agent listener of a real signet-server with real certificates from
# signet-pki: every hostile peer is refused (as the simulated agent sees it
# and as the server's audit log records it) and a good agent still gets in
# after each; sessions are replaced, dropped on revocation + SIGHUP, and
# closed on SIGTERM; the audit log verifies at the end. Nothing here is
# a claim about wall-clock time: the server runs with short liveness
# timings, and every check waits for what it expects (the reason and the
# order of the audit records) for as long as a loaded machine may need,
# WAIT seconds, or LIVENESS_WAIT for the silent peer.
. "$(dirname "$0")/lib.sh"
PKI_SH="$SIGNET_SOURCE_DIR/pki/signet-pki"
SERVER="$SIGNET_BUILD_DIR/server/signet-server"
SIM="$SIGNET_BUILD_DIR/tests/agent_sim"
command -v openssl >/dev/null || { echo "openssl missing"; exit 77; }
if [ ! -x "$SERVER" ] || [ ! -x "$SIM" ]; then
	echo "signet-server or agent_sim not built"; exit 1
fi
cd "$T_DIR" || exit 1
export SIGNET_PKI="$T_DIR/pki"
P=$SIGNET_PKI
AUDIT=$T_DIR/audit.log
LOG=$T_DIR/server.log
SERVER_PID=""
WAIT=60                 # bound on each wait: a hang fails, a slow run not
LIVENESS_WAIT=300

stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	SERVER_PID=""
}
# Background sims still running (after a failure) are stopped too.
BG_SIMS=""
stop_sims() {
	local p
	for p in $BG_SIMS; do
		kill -TERM "$p" 2>/dev/null
	done
	BG_SIMS=""
}
trap 'stop_sims; stop_server; t_cleanup' EXIT

# A port nothing listens on (a connect to it fails), in 20000..59999.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
	local n=$(($1 * 10)); shift
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# audit_count EVENT [PATTERN]: records of EVENT (whose line matches PATTERN).
audit_count() {
	grep -F "\"event\":\"$1\"" "$AUDIT" | grep -cF -- "${2:-}" || true
}
# audit_grew EVENT PATTERN BEFORE: there are now more such records.
audit_grew() { [ "$(audit_count "$1" "$2")" -gt "$3" ]; }

# --- the PKI: a CA, the server, agents, an operator, foreign and old certs
"$PKI_SH" init "$P" --nopass >/dev/null || { not_ok "signet-pki init"; finish; exit 1; }
"$PKI_SH" server relay --dns localhost --ip 127.0.0.1 >/dev/null
for a in web-01 web-02 web-03 web-04 rev-01 live-01 nokey-01 repl-01 \
    quiet-01 steady-01 proof-01; do
	"$PKI_SH" agent "$a" >/dev/null || not_ok "issue agent $a"
done
"$PKI_SH" operator alice >/dev/null
pki_revoke_keep "$PKI_SH" rev-01 >/dev/null
rm -f "$P/keys/agents/nokey-01.pub"
"$PKI_SH" init "$T_DIR/other" --nopass >/dev/null
SIGNET_PKI="$T_DIR/other" "$PKI_SH" agent web-01 >/dev/null
# An agent certificate of our CA that expired in 2020, issued the way
# signet-pki issues (openssl ca, its configuration, the agent extensions).
cat >ext.cnf <<'EOF'
[ ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
extendedKeyUsage = clientAuth
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out old.key 2>/dev/null
openssl req -new -key old.key -subj "/CN=old-01/OU=agent" -out old.csr \
	2>/dev/null
SIGNET_PKI_DIR=$P openssl ca -batch -config "$P/openssl.cnf" -in old.csr \
	-out old.pem -startdate 20200101000000Z -enddate 20200102000000Z \
	-extfile ext.cnf -extensions ext -notext >/dev/null 2>&1
check "an expired agent certificate was issued" \
	grep -q "notAfter=Jan  2 00:00:00 2020 GMT" <(openssl x509 -in old.pem -noout -enddate)
cp "$P/crl.pem" "$T_DIR/crl.pem"     # the server's copy, replaced by hand

# --- the server
AGENT_PORT=$(free_port)
API_PORT=$(free_port)
while [ "$API_PORT" = "$AGENT_PORT" ]; do API_PORT=$(free_port); done
cat >server.conf <<EOF
[server]
agent_listen = 127.0.0.1:$AGENT_PORT
api_listen = 127.0.0.1:$API_PORT
log_level = debug
hello_timeout = 2
agent_ping_interval = 2
agent_timeout = 10
[tls]
ca = $P/ca.pem
crl = $T_DIR/crl.pem
cert = $P/issued/relay.pem
key = $P/private/relay.key
[keys]
action = $P/keys/action.key
audit = $P/keys/audit.key
agents_dir = $P/keys/agents
[audit]
path = $AUDIT
EOF
"$SERVER" --config server.conf 2>"$LOG" &
SERVER_PID=$!
started() { grep -q "started: agents on" "$LOG"; }
if ! wait_for $WAIT started; then
	not_ok "server started (log: $(tail -5 "$LOG"))"
	finish
	exit 1
fi
ok "server started on agent port $AGENT_PORT"
check "server.started audited" test "$(audit_count server.started)" -eq 1

SIM_ARGS=(--url "wss://localhost:$AGENT_PORT" --address 127.0.0.1 --ca "$P/ca.pem")
# -k: a sim that does not end on SIGTERM (seen once under LeakSanitizer,
# whose exit-time scan hung) is killed rather than hanging the test.
sim() { timeout -k 5 60 "$SIM" "${SIM_ARGS[@]}" "$@"; }
# long_sim OUT SIM-ARGS...: a sim in the background, output to OUT, that
# runs until it is told to stop, bounded; $! is timeout(1)'s, which passes
# a SIGTERM on to the sim. Stopped on exit (a failure) if still running.
long_sim() {
	local out=$1; shift
	timeout -k 5 $((LIVENESS_WAIT + 30)) "$SIM" "${SIM_ARGS[@]}" "$@" \
		>"$out" &
	BG_SIMS="$BG_SIMS $!"
}

# good NAME: a good agent connects, says hello, sends an inventory and is
# not closed by the server.
good() {
	local out rc
	out=$(sim --pki "$P" --name "${1:-web-03}" --containers 2 --duration 1)
	rc=$?
	[ $rc -eq 0 ] && grep -q '^connected 0 ' <<<"$out" &&
		grep -q '^sent 0 inventory' <<<"$out" &&
		grep -q '^closed 0 code=1000 by=client' <<<"$out"
}

# refused_tls NAME REASON ALERT SIM-ARGS...: the handshake fails (with the
# TLS alert, when the client gets to read it: in TLS 1.3 the server judges
# the client certificate after the client has finished, so the alert races
# the reset of the connection), auth.rejected with REASON is audited, and
# a good agent gets in.
refused_tls() {
	local name=$1 reason=$2 alert=$3 out rc before; shift 3
	before=$(audit_count auth.rejected "\"reason\":\"$reason\"")
	out=$(sim "$@" --duration 5); rc=$?
	if [ $rc -eq 1 ] && grep -q "^error 0 " <<<"$out" &&
	    { ! grep -q 'alert=' <<<"$out" ||
	    grep -q "^error 0 .*alert=\"$alert\"" <<<"$out"; }; then
		ok "$name: handshake refused ($alert)"
	else
		not_ok "$name: handshake refused (rc=$rc: $out)"
	fi
	check "$name: auth.rejected reason $reason audited" \
		wait_for $WAIT audit_grew auth.rejected "\"reason\":\"$reason\"" "$before"
	check "$name: a good agent still connects" good
}

# closed NAME CODE EVENT REASON SIM-ARGS...: the WebSocket opens, then the
# server closes it with CODE and audits EVENT with REASON. The sim gives up
# by itself (code 1000 by=client, a failure here) only after 50 s.
closed() {
	local name=$1 code=$2 event=$3 reason=$4 out before; shift 4
	before=$(audit_count "$event" "\"reason\":\"$reason\"")
	out=$(sim "$@" --duration 50)
	if grep -q "^connected 0 " <<<"$out" &&
	    grep -q "^closed 0 code=$code " <<<"$out"; then
		ok "$name: closed by the server with $code"
	else
		not_ok "$name: closed by the server with $code (got: $out)"
	fi
	check "$name: $event reason $reason audited" \
		wait_for $WAIT audit_grew "$event" "\"reason\":\"$reason\"" "$before"
	check "$name: a good agent still connects" good
}

# --- liveness (agent_ping_interval 2, agent_timeout 10): a peer that stops
# answering (no reads, no pongs) is dropped as ping_timeout, and a peer
# that answers the pings is not, though it sends nothing else. Both run in
# the background while the other cases go on. The answering one connects
# first, so it has been silent longer than the silent one when that one is
# dropped. The silent one stays frozen until it is stopped (SIGTERM) once
# its drop has been seen.
long_sim steady.out --pki "$P" --name steady-01
steady=$!
wait_for $WAIT grep -q '"event":"agent.connected".*"host_id":"steady-01"' "$AUDIT"
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
	long_sim quiet.out --pki "$P" --name quiet-01 --freeze $LIVENESS_WAIT
quiet=$!

# --- only WebSocket upgrades to signet.v1 (checked with openssl s_client
# and a valid agent certificate, so that only the request differs)
raw_request() {
	{ printf '%b' "$1"; sleep 1; } | timeout 10 openssl s_client -quiet \
		-connect "127.0.0.1:$AGENT_PORT" -servername localhost \
		-CAfile "$P/ca.pem" -cert "$P/issued/web-03.pem" \
		-key "$P/private/web-03.key" 2>/dev/null | head -c 200
}
UPGRADE='GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
check "upgrade with subprotocol signet.v1 is answered 101 (control)" \
	grep -q '^HTTP/1.1 101' <(raw_request "${UPGRADE}Sec-WebSocket-Protocol: signet.v1\r\n\r\n")
check "upgrade without a subprotocol is refused" \
	test -z "$(raw_request "${UPGRADE}\r\n" | grep '101')"
check "upgrade to another subprotocol is refused" \
	test -z "$(raw_request "${UPGRADE}Sec-WebSocket-Protocol: chat\r\n\r\n" | grep '101')"
check "plain HTTP on the agent port is refused" \
	test -z "$(raw_request 'GET /api/hosts HTTP/1.1\r\nHost: localhost\r\n\r\n' | grep 'HTTP/1.1 [0-9]')"

# --- a good agent
out=$(sim --pki "$P" --name web-01 --containers 3 --duration 4 &
	wait_for $WAIT grep -q "inventory: host=web-01 containers=3" "$LOG"
	curl -s --max-time 5 --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" \
		"https://localhost:$API_PORT/api/hosts" >hosts.json
	wait)
check "good agent: connected, hello and inventory sent" \
	grep -q '^sent 0 inventory bytes=' <<<"$out"
check "good agent: agent.connected audited with version and serial" \
	grep -q '"event":"agent.connected".*"host_id":"web-01".*"serial":"[0-9A-F]*".*"agent_version":"0.0.0-sim"' "$AUDIT"
check "good agent: its inventory reached the registry (API /api/hosts)" \
	grep -q '"host_id":"web-01","connected":true.*"container_count":3' hosts.json
check "good agent: agent.disconnected peer_closed when it left" \
	wait_for $WAIT audit_grew agent.disconnected '"reason":"peer_closed"' 0
out=$(sim --pki "$P" --prefix web-0 --first 1 --count 4 --containers 5 --duration 2)
check "four agents from one sim process all connect" \
	grep -q '^summary agents=4 connected=4 closed=4 errors=0' <<<"$out"

# --- refused during the TLS handshake
refused_tls "no client certificate" no_client_cert "certificate required" \
	--no-cert
refused_tls "certificate of another CA" untrusted "unknown CA" \
	--cert "$T_DIR/other/issued/web-01.pem" --key "$T_DIR/other/private/web-01.key" \
	--hello-sig none
refused_tls "expired certificate" expired "certificate expired" \
	--cert old.pem --key old.key --result-key-id 0123456789abcdef \
	--hello-sig none
refused_tls "revoked certificate" revoked "certificate revoked" \
	--pki "$P" --name rev-01
refused_tls "operator certificate on the agent port" role "bad certificate" \
	--cert "$P/issued/alice.pem" --key "$P/private/alice.key" \
	--result-key-id 0123456789abcdef --hello-sig none
out=$(sim --pki "$P" --name web-02 --tls12 --duration 5); rc=$?
check "TLS 1.2 refused (TLS 1.3 only)" \
	test $rc -eq 1 -a -n "$(grep '^error 0 .*alert="protocol version"' <<<"$out")"
check "TLS 1.2: a good agent still connects" good
# Issue 17: the server sends its certificate alone (the agents hold the CA;
# each certificate sent is one more for every agent to decode).
server_certs() {
	echo | openssl s_client -connect "127.0.0.1:$AGENT_PORT" -CAfile "$P/ca.pem" \
		-cert "$P/issued/web-01.pem" -key "$P/private/web-01.key" -showcerts \
		2>/dev/null | grep -c 'BEGIN CERTIFICATE'
}
check "the agent port sends the server's certificate alone" test "$(server_certs)" = 1

# --- refused at the hello
closed "hello host_id is not the certificate CN" 1008 auth.rejected \
	host_mismatch --pki "$P" --name web-02 --host-id web-01
check "host_mismatch: the claimed host_id is recorded" \
	grep -q '"reason":"host_mismatch".*"host_id":"web-01"' "$AUDIT"
closed "wrong result_key_id" 1008 auth.rejected key_mismatch \
	--pki "$P" --name web-02 --result-key-id 0123456789abcdef
closed "no result key registered" 1008 auth.rejected no_key \
	--pki "$P" --name nokey-01 --result-key-id 0123456789abcdef
printf '{not json' >bad.json
closed "hello that is not JSON" 1008 auth.rejected bad_hello \
	--pki "$P" --name web-02 --no-hello --raw bad.json
printf '{"type":"hello","host_id":"web-02","agent_version":"1","docker_version":"1","result_key_id":"0123456789abcdef","extra":1}' >hello_extra.json
closed "hello with an unknown member" 1008 auth.rejected bad_hello \
	--pki "$P" --name web-02 --no-hello --raw hello_extra.json
# The hello proves the result key (issue 12, item 3): a valid certificate
# alone, with the key id (public), does not get in.
PROOF_KID=$(python3 -c 'import base64,hashlib,sys; print(hashlib.sha256(base64.b64decode(open(sys.argv[1]).read().strip())).hexdigest()[:16])' "$P/keys/agents/proof-01.pub")
printf '{"type":"hello","host_id":"proof-01","agent_version":"1","docker_version":"1","result_key_id":"%s"}' "$PROOF_KID" >hello_noproof.json
closed "hello without a proof of the result key (the key id only)" 1008 \
	auth.rejected bad_hello --pki "$P" --name proof-01 --no-hello \
	--raw hello_noproof.json
check "no proof: the agent did not get a session" \
	test -z "$(grep '"event":"agent.connected".*"host_id":"proof-01"' "$AUDIT")"
closed "hello signed with another key than the registered one" 1008 \
	auth.rejected bad_proof --pki "$P" --name proof-01 --hello-sig wrong
check "wrong key: the reason names the registered key" \
	grep -q "\"reason\":\"bad_proof\",\"detail\":\"hello: the signature does not verify under the result key registered for this host ($PROOF_KID)\"" "$AUDIT"
closed "hello without a signature" 1008 auth.rejected bad_proof \
	--pki "$P" --name proof-01 --hello-sig none
closed "hello signed for another challenge (replayed)" 1008 auth.rejected \
	bad_proof --pki "$P" --name proof-01 --hello-sig stale
check "bad proofs: the agent never got a session" \
	test -z "$(grep '"event":"agent.connected".*"host_id":"proof-01"' "$AUDIT")"
closed "peer that never says hello" 1008 auth.rejected hello_timeout \
	--pki "$P" --name web-02 --no-hello
check "never says hello: refused for the configured 2 s timeout" \
	grep -q '"reason":"hello_timeout","detail":"no hello within 2 s"' "$AUDIT"

# --- bad frames after the hello: that one agent is dropped
closed "malformed JSON frame" 1008 agent.disconnected bad_frame \
	--pki "$P" --name web-02 --raw bad.json
printf '{"type":"inventory","containers":[{"id":5,"names":"x"}]}' >badinv.json
closed "inventory with wrong types" 1008 agent.disconnected bad_frame \
	--pki "$P" --name web-02 --raw badinv.json
printf '{"type":"action_result","payload":"eA==","sig":"eA=="}' >ar.json
closed "action_result (not accepted yet)" 1008 agent.disconnected bad_frame \
	--pki "$P" --name web-02 --raw ar.json
closed "binary frame" 1003 agent.disconnected binary_frame \
	--pki "$P" --name web-02 --raw bad.json --binary
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >big.json
closed "message over 1 MiB in one frame" 1009 agent.disconnected too_big \
	--pki "$P" --name web-02 --raw big.json
closed "message over 1 MiB in 64 KiB fragments" 1009 agent.disconnected \
	too_big --pki "$P" --name web-02 --raw big.json --fragment 65536
check "oversize messages counted as such (metrics)" \
	grep -q 'signet_agent_frames_rejected_total{reason="oversize"} 2' \
	<(curl -s --max-time 5 --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" "https://localhost:$API_PORT/metrics")
# Exactly 1 MiB is within the limit: refused as bad JSON, not as too big.
head -c $((1024 * 1024)) /dev/zero | tr '\0' ' ' >mib.json
closed "message of exactly 1 MiB (not too big, but not JSON)" 1008 \
	agent.disconnected bad_frame --pki "$P" --name web-02 --raw mib.json \
	--fragment 300000
# A 1,000-container inventory fits.
out=$(sim --pki "$P" --name web-04 --containers 1000 --duration 2)
check "an inventory of 1,000 containers is accepted" \
	wait_for $WAIT grep -q "inventory: host=web-04 containers=1000" "$LOG"

# --- a second connection of a host replaces the first
before=$(audit_count agent.replaced)
sim --pki "$P" --name repl-01 --duration 20 >first.out &
first=$!
wait_for $WAIT grep -q '^sent 0 hello' first.out
wait_for $WAIT grep -q '"event":"agent.connected".*"host_id":"repl-01"' "$AUDIT"
out=$(sim --pki "$P" --name repl-01 --duration 2)
wait "$first"
check "replaced: the second connection was accepted" \
	grep -q '^closed 0 code=1000 by=client' <<<"$out"
check "replaced: the first was closed with 4000" \
	grep -q '^closed 0 code=4000 reason="replaced by a newer connection"' first.out
check "replaced: agent.replaced audited" \
	test "$(audit_count agent.replaced '"host_id":"repl-01"')" -gt "$before"
check "replaced: the old session's end audited as replaced" \
	grep -q '"event":"agent.disconnected".*"host_id":"repl-01".*"reason":"replaced"' "$AUDIT"

# --- revoked while connected, then SIGHUP
sim --pki "$P" --name live-01 --duration 30 >live.out &
live=$!
sim --pki "$P" --name web-04 --duration 30 >bystander.out &
bystander=$!
wait_for $WAIT grep -q '^sent 0 hello' live.out
wait_for $WAIT grep -q '^sent 0 hello' bystander.out
wait_for $WAIT grep -q '"event":"agent.connected".*"host_id":"live-01"' "$AUDIT"
pki_revoke_keep "$PKI_SH" live-01 >/dev/null
cp "$P/crl.pem" "$T_DIR/crl.pem"
kill -HUP "$SERVER_PID"
wait_for $WAIT grep -q '^closed 0' live.out
check "SIGHUP: the revoked agent was closed with 1008" \
	grep -q '^closed 0 code=1008 reason="certificate revoked"' live.out
check "SIGHUP: agent.disconnected reason revoked audited" \
	wait_for $WAIT grep -q '"event":"agent.disconnected".*"host_id":"live-01".*"reason":"revoked"' "$AUDIT"
check "SIGHUP: server.reloaded ok audited" \
	grep -q '"event":"server.reloaded".*"ok":true.*"dropped":1' "$AUDIT"
check "SIGHUP: the other agent stayed connected" \
	test -z "$(grep '^closed' bystander.out)"
kill -TERM "$live" "$bystander" 2>/dev/null
wait "$live" "$bystander"
refused_tls "revoked after SIGHUP, on reconnect" revoked \
	"certificate revoked" --pki "$P" --name live-01
# A broken CRL on SIGHUP keeps the one in use.
cp "$T_DIR/crl.pem" crl.good
echo garbage >"$T_DIR/crl.pem"
kill -HUP "$SERVER_PID"
check "SIGHUP with a broken CRL: server.reloaded ok false audited" \
	wait_for $WAIT grep -q '"event":"server.reloaded".*"ok":false' "$AUDIT"
check "SIGHUP with a broken CRL: the server still serves" good
refused_tls "broken CRL kept out: the old CRL still refuses" revoked \
	"certificate revoked" --pki "$P" --name live-01
cp crl.good "$T_DIR/crl.pem"

# --- liveness, the result
if wait_for $LIVENESS_WAIT grep -q '"event":"agent.disconnected".*"host_id":"quiet-01".*"reason":"ping_timeout"' "$AUDIT"; then
	ok "silent peer: dropped with reason ping_timeout"
else
	not_ok "silent peer: never dropped (no agent.disconnected reason" \
	    "ping_timeout for quiet-01)"
fi
check "answering peer: still connected after the silent one was dropped" \
	test -z "$(grep '^closed' steady.out)"
kill -TERM "$quiet" "$steady" 2>/dev/null
wait "$quiet" "$steady"
check "answering peer: closed by itself, never by the server" \
	grep -q '^closed 0 code=1000 by=client' steady.out
wait_for $WAIT grep -q '"event":"agent.disconnected".*"host_id":"steady-01"' "$AUDIT"
# In the audit log: each connected once, the silent one ended as
# ping_timeout after its agent.connected (same session), the answering one
# as peer_closed, and after the silent one's end.
if python3 - "$AUDIT" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def of(host, event):
    return [(i, r["data"]) for i, r in enumerate(recs)
            if r["event"] == event and r["data"].get("host_id") == host]
qc, qd = of("quiet-01", "agent.connected"), of("quiet-01", "agent.disconnected")
sc, sd = of("steady-01", "agent.connected"), of("steady-01", "agent.disconnected")
assert len(qc) == 1 and len(qd) == 1 and len(sc) == 1 and len(sd) == 1, (qc, qd, sc, sd)
assert qd[0][1]["reason"] == "ping_timeout", qd
assert qc[0][0] < qd[0][0] and qc[0][1]["session"] == qd[0][1]["session"], (qc, qd)
assert sd[0][1]["reason"] == "peer_closed", sd
assert sc[0][0] < qc[0][0] < qd[0][0] < sd[0][0], (sc, qc, qd, sd)
EOF
then ok "liveness: the audit records, their reasons and order"
else not_ok "liveness: the audit records, their reasons and order"; fi

# --- SIGTERM: connected agents are told, the server stops cleanly
sim --pki "$P" --name web-01 --duration 30 >last.out &
last=$!
wait_for $WAIT grep -q '^sent 0 hello' last.out
wait_for $WAIT grep -q "agent connected: host=web-01 .*" "$LOG"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
SERVER_PID=""
wait "$last"
check "SIGTERM: the server exited 0" test "$rc" -eq 0
check "SIGTERM: the agent was closed with 1001" \
	grep -q '^closed 0 code=1001 reason="server shutting down"' last.out
check "SIGTERM: agent.disconnected reason shutdown audited" \
	grep -q '"event":"agent.disconnected".*"host_id":"web-01".*"reason":"shutdown"' "$AUDIT"
check "SIGTERM: server.stopped audited last" \
	grep -q '"event":"server.stopped"' <(tail -1 "$AUDIT")
check "no errors logged but the broken CRL's, no lws errors" \
	test -z "$(grep -E ' error | warn signet-server: lws: ' "$LOG" | grep -v 'CA/CRL not reloaded')"

# --- the whole audit log verifies
check_out=$("$SIGNETCTL" audit verify "$AUDIT" --key "$P/keys/audit.pub" 2>&1)
check "signetctl audit verify passes ($(head -1 <<<"$check_out"))" \
	grep -q '^ok: ' <<<"$check_out"
schema=$(python3 "$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$AUDIT" 2>&1)
check "the audit log matches docs/schema, the refusals' reasons too ($schema)" \
	grep -q '^ok ' <<<"$schema"

# The server refuses to start with a bad configuration or an expired CRL.
sed 's/^hello_timeout = 2/hello_timeout = 500/' server.conf >bad.conf
out=$("$SERVER" --config bad.conf 2>&1); rc=$?
check "hello_timeout out of range: exit 2 naming the line ($out)" \
	test $rc -eq 2 -a -n "$(grep -E 'bad.conf:5: ' <<<"$out")"
cp server.conf bad2.conf
sed -i 's/^log_level = debug/log_level = chatty/' bad2.conf
out=$("$SERVER" --config bad2.conf 2>&1); rc=$?
check "bad log_level: exit 2 naming the line" \
	test $rc -eq 2 -a -n "$(grep -E 'bad2.conf:4: log_level' <<<"$out")"
sed 's/^agent_timeout = 10/agent_timeout = 2/' server.conf >bad3.conf
out=$("$SERVER" --config bad3.conf 2>&1); rc=$?
check "agent_timeout not over agent_ping_interval: exit 2 naming the line" \
	test $rc -eq 2 -a -n "$(grep -E 'bad3.conf:7: agent_timeout' <<<"$out")"
sed 's/^agent_ping_interval = 2/agent_ping_interval = 0/' server.conf >bad4.conf
out=$("$SERVER" --config bad4.conf 2>&1); rc=$?
check "agent_ping_interval out of range: exit 2 naming the line ($out)" \
	test $rc -eq 2 -a -n "$(grep -E 'bad4.conf:6: ' <<<"$out")"
sed "s#^crl = .*#crl = $T_DIR/other/crl.pem#" server.conf >foreign.conf
check_fails_with "CRL of another CA: refuses to start" 'refusing to start' \
	"$SERVER" --config foreign.conf
finish
