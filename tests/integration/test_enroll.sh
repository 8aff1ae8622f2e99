#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Keys made where they are used: signet-agent enroll and signetctl enroll
# write a P-256 key (0600) and a request openssl verifies, subject CN then
# OU and nothing else; the CA of signet-pki signs it (openssl ca with the
# PKI's own configuration, or signet-pki sign-req once it exists) and the
# certificate with the enrolled key passes a real TLS handshake: a real
# signet-server accepts the enrolled operator on its API and, with the
# test dockerd, the enrolled agent under its host id. A renewal keeps the
# result key, --new-result-key rotates it under a dated name; bad host
# ids, roles, a missing --out, a DIR others may write and existing files
# are refused with nothing written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"

CTL=$SIGNETCTL
E=$T_DIR/enroll

# ca_sign CSR ROLE OUT: signs CSR as signet-pki does for ROLE (its
# extensions, a random serial), with the PKI's openssl.cnf.
ca_sign() {
	{
		printf '[ ext ]\n'
		printf 'basicConstraints = critical, CA:FALSE\n'
		printf 'keyUsage = critical, digitalSignature\n'
		printf 'subjectKeyIdentifier = hash\n'
		printf 'authorityKeyIdentifier = keyid, issuer\n'
		printf 'extendedKeyUsage = clientAuth\n'
	} >"$T_DIR/ext.cnf"
	openssl rand -hex 16 >"$SIGNET_PKI/serial" &&
	SIGNET_PKI_DIR=$SIGNET_PKI openssl ca -batch \
		-config "$SIGNET_PKI/openssl.cnf" -in "$1" -out "$3" -days 30 \
		-extfile "$T_DIR/ext.cnf" -extensions ext -notext \
		>"$T_DIR/ca.out" 2>&1
}

# subject_of CSR: the request's subject, one line.
subject_of() { openssl req -in "$1" -noout -subject -nameopt compat; }

# ----------------------------------------------------------- the request
out=$("$AGENT_BIN" enroll --host-id web-02 --out "$E" 2>&1)
rc=$?
printf '# %s\n' "${out//$'\n'/$'\n'# }"
check "signet-agent enroll exits 0" test "$rc" -eq 0
check "DIR made 0700" test "$(stat -c %a "$E")" = 700
check "agent.key is 0600" test "$(stat -c %a "$E/agent.key")" = 600
check "result.key is 0600" test "$(stat -c %a "$E/result.key")" = 600
check "agent.csr and result.pub written" test -s "$E/agent.csr" -a -s "$E/result.pub"
check "four files, no temporary left" test "$(find "$E" -mindepth 1 | wc -l)" -eq 4
check "the key is PKCS#8 PEM" grep -qx -- '-----BEGIN PRIVATE KEY-----' "$E/agent.key"
check "the key is P-256" bash -c "openssl pkey -in '$E/agent.key' -noout -text | grep -q 'NIST CURVE: P-256'"
check "openssl req -verify accepts the request" \
	quiet openssl req -verify -noout -in "$E/agent.csr"
check "subject is /CN=web-02/OU=agent" test "$(subject_of "$E/agent.csr")" = "subject=/CN=web-02/OU=agent"
openssl req -in "$E/agent.csr" -noout -text >"$T_DIR/req.txt"
check "no attributes" bash -c "grep -A1 'Attributes:' '$T_DIR/req.txt' | grep -q '(none)'"
check "no requested extensions" bash -c "! grep -Eq 'X509v3|Subject Alternative|Basic Constraints|: critical' '$T_DIR/req.txt'"
check "signed ecdsa-with-SHA256" grep -q 'Signature Algorithm: ecdsa-with-SHA256' "$T_DIR/req.txt"
check "the request's key is agent.key's" test \
	"$(openssl req -in "$E/agent.csr" -noout -pubkey)" = \
	"$(openssl pkey -in "$E/agent.key" -pubout)"
rid=$(printf '%s\n' "$out" | sed -n 's/^result key .*, key id \([0-9a-f]\{16\}\) (new)$/\1/p')
check "prints the result key id" test -n "$rid"
check "prints the admin's next step" grep -qF \
	"signet-pki sign-req agent web-02 $E/agent.csr --result-pub $E/result.pub" <<<"$out"
check "never prints the private key" bash -c "! grep -q 'PRIVATE' <<<'$out' && ! grep -qF \"\$(sed -n 2p '$E/agent.key')\" <<<'$out'"
check "result.key is the raw format of signetctl keygen --raw" \
	grep -Eqx '[A-Za-z0-9+/]{86}==' "$E/result.key"

# --------------------------------------------------------- bad inputs
snap() { find "$1" -printf '%P %s %m\n' | sort | md5sum; }
before=$(snap "$E")
check_fails_with "existing agent.key refused, named" \
	"$E/agent.key already exists; refusing to overwrite" \
	"$AGENT_BIN" enroll --host-id web-02 --out "$E"
check "nothing changed" test "$(snap "$E")" = "$before"
"$AGENT_BIN" enroll --host-id Web_02 --out "$T_DIR/bad1" >/dev/null 2>"$T_DIR/err"
rc=$?
check "bad host id: exit 2" test "$rc" -eq 2
check "bad host id: says so, quoted" grep -q 'bad host id "Web_02"' "$T_DIR/err"
check "bad host id: nothing made" test ! -e "$T_DIR/bad1"
check_fails_with "host id with a slash" 'bad host id "\.\./x"' \
	"$AGENT_BIN" enroll --host-id ../x --out "$T_DIR/bad1"
check_fails_with "missing --out" 'give --host-id H and --out DIR' \
	"$AGENT_BIN" enroll --host-id web-02
check_fails_with "missing --host-id" 'give --host-id H and --out DIR' \
	"$AGENT_BIN" enroll --out "$T_DIR/bad1"
check_fails_with "unknown option" 'unknown option "--force"' \
	"$AGENT_BIN" enroll --host-id web-02 --out "$T_DIR/bad1" --force
check_fails_with "extra argument" 'unexpected argument "more"' \
	"$AGENT_BIN" enroll --host-id web-02 --out "$T_DIR/bad1" more
mkdir -m 0770 "$T_DIR/gw"
check_fails_with "group-writable DIR refused" \
	"$T_DIR/gw is writable by group or others" \
	"$AGENT_BIN" enroll --host-id web-02 --out "$T_DIR/gw"
check "nothing written in it" test -z "$(ls -A "$T_DIR/gw")"
mkdir -m 0700 "$T_DIR/pubonly"
cp "$E/result.pub" "$T_DIR/pubonly/"
check_fails_with "result.pub without result.key refused" \
	"result.pub exists without" \
	"$AGENT_BIN" enroll --host-id web-02 --out "$T_DIR/pubonly"
check "nothing added" test "$(ls -A "$T_DIR/pubonly")" = result.pub
mkdir -m 0700 "$T_DIR/norot"
check_fails_with "--new-result-key without a result key" \
	"no result key to rotate" \
	"$AGENT_BIN" enroll --host-id web-02 --out "$T_DIR/norot" --new-result-key
check "nothing written" test -z "$(ls -A "$T_DIR/norot")"

# --------------------------------------------- renewal and rotation
mkdir -m 0700 "$T_DIR/old"
mv "$E/agent.key" "$E/agent.csr" "$T_DIR/old/"
out=$("$AGENT_BIN" enroll --host-id web-02 --out "$E" 2>&1)
check "renewal into the DIR of result.key: exit 0" test $? -eq 0
check "renewal keeps the result key" grep -q "key id $rid (kept" <<<"$out"
check "renewal: no --result-pub in the next step" \
	grep -qx "  signet-pki sign-req agent web-02 $E/agent.csr" <<<"$out"
check "renewal: a new TLS key" bash -c "! cmp -s '$E/agent.key' '$T_DIR/old/agent.key'"
old_pub=$(cat "$E/result.pub")
rm -f "$E/agent.key" "$E/agent.csr"
cp -p "$E/result.key" "$T_DIR/old-result.key"
out=$("$AGENT_BIN" enroll --host-id web-02 --out "$E" --new-result-key 2>&1)
check "rotation: exit 0" test $? -eq 0
printf '# %s\n' "${out//$'\n'/$'\n'# }"
stamp=$(printf '%s\n' "$out" | sed -n 's/.*result\.key\.old-\([0-9]\{8\}T[0-9]\{6\}Z\).*/\1/p' | head -1)
check "rotation: a UTC stamp YYYYMMDDTHHMMSSZ" test -n "$stamp"
check "the old result.key kept under the dated name" \
	cmp -s "$E/result.key.old-$stamp" "$T_DIR/old-result.key"
check "the old result.pub kept under the dated name" \
	test "$(cat "$E/result.pub.old-$stamp")" = "$old_pub"
check "the new result.pub differs" test "$(cat "$E/result.pub")" != "$old_pub"
check "rotation: --result-pub in the next step" grep -q -- "--result-pub $E/result.pub" <<<"$out"
check "rotation: the new result.key is 0600" test "$(stat -c %a "$E/result.key")" = 600
check "rotation: a new request too" quiet openssl req -verify -noout -in "$E/agent.csr"

# ------------------------------------------------------ signetctl enroll
U=$T_DIR/user
out=$("$CTL" enroll dave --role operator --out "$U" 2>&1)
check "signetctl enroll exits 0" test $? -eq 0
check "dave.key 0600" test "$(stat -c %a "$U/dave.key")" = 600
check "dave.csr verifies" quiet openssl req -verify -noout -in "$U/dave.csr"
check "subject /CN=dave/OU=operator" test "$(subject_of "$U/dave.csr")" = "subject=/CN=dave/OU=operator"
check "two files, no result key" test "$(find "$U" -mindepth 1 -printf '%P\n' | sort | tr '\n' ' ')" = "dave.csr dave.key "
check "prints the next step" grep -qF "signet-pki sign-req operator dave $U/dave.csr" <<<"$out"
out=$("$CTL" enroll erin --role auditor --out "$U" 2>&1)
check "an auditor: exit 0" test $? -eq 0
check "subject /CN=erin/OU=auditor" test "$(subject_of "$U/erin.csr")" = "subject=/CN=erin/OU=auditor"
check_fails_with "bad role" 'role "agent": give operator or auditor' \
	"$CTL" enroll frank --role agent --out "$U"
check_fails_with "no role" 'give operator or auditor' \
	"$CTL" enroll frank --out "$U"
check_fails_with "missing --out" 'give --out DIR' \
	"$CTL" enroll frank --role operator
check_fails_with "bad user name" 'bad user name "Frank"' \
	"$CTL" enroll Frank --role operator --out "$U"
"$CTL" enroll frank --role operator >/dev/null 2>&1
check "usage errors exit 2" test $? -eq 2
before=$(snap "$U")
check_fails_with "signetctl: existing files refused, named" \
	"$U/dave.key already exists" "$CTL" enroll dave --role operator --out "$U"
"$CTL" enroll dave --role operator --out "$U" >/dev/null 2>&1
check "refusal exits 1" test $? -eq 1
check "nothing changed" test "$(snap "$U")" = "$before"
check_fails_with "signetctl: group-writable DIR refused" \
	"writable by group or others" \
	"$CTL" enroll frank --role operator --out "$T_DIR/gw"
check "frank never written" test ! -e "$U/frank.key" -a ! -e "$T_DIR/gw/frank.key"

# ------------------------------------------------ signed by the real CA
SIGNET_PKI=$T_DIR/pki
export SIGNET_PKI
if ! "$PKI_SCRIPT" init "$SIGNET_PKI" --nopass >/dev/null ||
	! "$PKI_SCRIPT" server localhost --dns localhost --ip 127.0.0.1 >/dev/null ||
	! "$PKI_SCRIPT" operator alice >/dev/null; then
	not_ok "pki setup"; finish; exit 1
fi
check "the CA signs the agent's request" ca_sign "$E/agent.csr" agent "$T_DIR/web-02.pem"
check "the CA signs the operator's request" ca_sign "$U/dave.csr" operator "$T_DIR/dave.pem"
check "the certificate is /CN=web-02/OU=agent" test \
	"$(openssl x509 -in "$T_DIR/web-02.pem" -noout -subject -nameopt compat)" = "subject=/CN=web-02/OU=agent"
check "it verifies against the CA" quiet openssl verify -CAfile "$SIGNET_PKI/ca.pem" "$T_DIR/web-02.pem"
check "it is agent.key's certificate" test \
	"$(openssl x509 -in "$T_DIR/web-02.pem" -noout -pubkey)" = \
	"$(openssl pkey -in "$E/agent.key" -pubout)"

# A TLS handshake with the enrolled key and certificate as the client
# that a server requiring a CA-signed client certificate accepts.
PORT=$(free_port)
openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet \
	-cert "$SIGNET_PKI/issued/localhost.pem" \
	-key "$SIGNET_PKI/private/localhost.key" -CAfile "$SIGNET_PKI/ca.pem" \
	-Verify 2 -verify_return_error >"$T_DIR/s_server.out" 2>&1 &
R_PIDS+=("$!")
wait_for 20 bash -c "ss -ltn | grep -q ':$PORT '"
echo ping | openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
	-CAfile "$SIGNET_PKI/ca.pem" -verify_return_error -verify 2 \
	-cert "$T_DIR/web-02.pem" -key "$E/agent.key" -quiet \
	>"$T_DIR/s_client.out" 2>&1
check "s_client with the enrolled key completes the handshake" test $? -eq 0
client_verified() {
	grep -A1 -x 'depth=0 CN = web-02, OU = agent' "$T_DIR/s_server.out" |
		grep -qx 'verify return:1'
}
check "s_server verified the enrolled client certificate" \
	wait_for 20 client_verified

# The real server: its API accepts the enrolled operator.
write_server_conf
cp "$E/result.pub" "$SIGNET_PKI/keys/agents/web-02.pub"
start_server || { finish; exit 1; }
api_dave() {
	curl -sS --fail --max-time 10 --cacert "$SIGNET_PKI/ca.pem" \
		--cert "$T_DIR/dave.pem" --key "$U/dave.key" \
		"https://localhost:$API_PORT$1"
}
check "the server's API accepts the enrolled operator" quiet api_dave /api/hosts

# signet-pki sign-req, when this tree has it.
if "$PKI_SCRIPT" --help | grep -q '^  sign-req '; then
	mkdir -m 0700 "$T_DIR/e3"
	quiet "$AGENT_BIN" enroll --host-id web-03 --out "$T_DIR/e3"
	check "signet-pki sign-req signs an enrolled agent" quiet \
		"$PKI_SCRIPT" sign-req agent web-03 "$T_DIR/e3/agent.csr" \
		--result-pub "$T_DIR/e3/result.pub"
	check "sign-req: issued/web-03.pem is agent.key's" test \
		"$(openssl x509 -in "$SIGNET_PKI/issued/web-03.pem" -noout -pubkey)" = \
		"$(openssl pkey -in "$T_DIR/e3/agent.key" -pubout)"
	check "sign-req: no private key for web-03 in the PKI" \
		test ! -e "$SIGNET_PKI/private/web-03.key"
	check "sign-req: the result pub registered" \
		cmp -s "$SIGNET_PKI/keys/agents/web-03.pub" "$T_DIR/e3/result.pub"
else
	echo "# signet-pki sign-req not in this tree: its part is skipped"
fi

# The real agent with the enrolled key, under its host id (needs dockerd).
env_file=$SIGNET_BUILD_DIR/dockerd.env
# shellcheck disable=SC1090
[ -f "$env_file" ] && . "$env_file"
if [ "${SIGNET_DOCKER_STATE:-}" = up ]; then
	export DOCKER_HOST
	echo '{ "host_id": "web-02", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >"$T_DIR/policy.json"
	chmod 0644 "$T_DIR/policy.json"
	write_agent_conf web-02 "$T_DIR/policy.json"
	sed -i -e "s|^cert = .*|cert = $T_DIR/web-02.pem|" \
		-e "s|^key  = .*|key  = $E/agent.key|" \
		-e "s|^result     = .*|result     = $E/result.key|" \
		"$T_DIR/agent-web-02.conf"
	start_agent web-02
	connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["host_id"]=="web-02" and h["connected"]]' | grep -q web-02; }
	# Until connected, or the agent gave up.
	seen=no
	for _ in $(seq 1 600); do
		if connected; then seen=yes; break; fi
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.2
	done
	check "the enrolled agent connects to the real server as web-02" \
		test "$seen" = yes
	[ "$T_FAIL" -eq 0 ] || { echo "# agent log:"; tail -n 15 "$T_DIR/agent-web-02.log"; echo "# server log:"; tail -n 15 "$T_DIR/server.log"; }
else
	echo "# no dockerd (${SIGNET_DOCKER_WHY:-fixture did not run}): the real agent part is skipped"
	[ "${SIGNET_REQUIRE_DOCKER:-0}" = 1 ] && not_ok "dockerd required"
fi
finish
