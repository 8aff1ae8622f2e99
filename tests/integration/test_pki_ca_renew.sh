#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The CA's own end of life, `signet-pki renew-ca`, with the real parts: a
# PKI from signet-pki, the real signet-server and signet-agent over TLS on
# loopback, the private test dockerd. The renewed CA certificate has the
# same key and subject, so the certificates and the CRL issued before it
# verify under either: a server that took the new ca.pem serves an agent
# that still holds the old one and the other way round, and an operator
# gets in with a certificate from before the renewal. Bad input changes
# nothing: --days out of bounds, a CA key that is not the certificate's,
# no CA key, a PKI another signet-pki holds. signet-pki's LIB_FILES is
# exactly pki/lib/*.sh (what the packages install).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1

lib_files=$(sed -n 's/^LIB_FILES="\(.*\)"$/\1/p' "$PKI_SCRIPT" | tr ' ' '\n' | sort)
check "LIB_FILES is exactly pki/lib/*.sh" test "$lib_files" = \
	"$(cd "$SIGNET_SOURCE_DIR/pki/lib" && printf '%s\n' *.sh | sort)"

make_pki || { not_ok "PKI"; finish; exit 1; }
P=$SIGNET_PKI
tree_sum() { (cd "$P" && find . -path ./.lock -prune -o -type f -print | sort | xargs sha256sum); }
cp "$P/ca.pem" "$T_DIR/ca-year-one.pem"
old_serial=$(openssl x509 -in "$P/ca.pem" -noout -serial | sed 's/^serial=//')

# ---- bad input: nothing changes ----
sum=$(tree_sum)
check_fails_with "renew-ca --days 0 refused" 'not a positive whole number' \
	"$PKI_SCRIPT" renew-ca --days 0
check_fails_with "renew-ca --days 10951 refused" 'at most 10950 days' \
	"$PKI_SCRIPT" renew-ca --days 10951
check_fails_with "renew-ca takes no argument" 'takes no arguments' \
	"$PKI_SCRIPT" renew-ca extra
mv "$P/private/ca.key" "$T_DIR/ca.key.away"
check_fails_with "renew-ca without the CA key refused" 'ca.key is missing' \
	"$PKI_SCRIPT" renew-ca
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$P/private/ca.key" 2>/dev/null
chmod 600 "$P/private/ca.key"
cp "$P/private/ca.key" "$T_DIR/foreign.key"
check_fails_with "renew-ca with a key that is not the CA's refused" \
	'the CA key does not match' "$PKI_SCRIPT" renew-ca
mv "$T_DIR/ca.key.away" "$P/private/ca.key"
# A lock held by a live process (this test's sleep stands in for a
# signet-pki at work).
sleep 600 &
holder=$!
mkdir "$P/.lock" && echo "$holder" >"$P/.lock/pid"
check_fails_with "renew-ca while another signet-pki works refused" \
	"another signet-pki \\(pid $holder\\) is working on it" "$PKI_SCRIPT" renew-ca
rm -rf "$P/.lock"
kill "$holder"; wait "$holder" 2>/dev/null
check "the refused commands changed nothing" test "$(tree_sum)" = "$sum"
check "no ca-old/ after refusals" test ! -e "$P/ca-old"

# ---- renewed ----
"$PKI_SCRIPT" renew-ca --days 20 >"$T_DIR/renew.out" 2>"$T_DIR/renew.err"
check "renew-ca succeeds" test $? -eq 0
check "it warns the new certificate expires before the old one" \
	grep -q 'warning: the renewed CA certificate expires before the old one' "$T_DIR/renew.err"
check "the old certificate is kept in ca-old/SERIAL.pem" \
	cmp -s "$P/ca-old/$old_serial.pem" "$T_DIR/ca-year-one.pem"
check "ca.pem is new" sh -c "! cmp -s '$P/ca.pem' '$T_DIR/ca-year-one.pem'"
pub() { openssl x509 -in "$1" -noout -pubkey; }
check "same key" test "$(pub "$P/ca.pem")" = "$(pub "$T_DIR/ca-year-one.pem")"
subj() { openssl x509 -in "$1" -noout -subject; }
check "same subject" test "$(subj "$P/ca.pem")" = "$(subj "$T_DIR/ca-year-one.pem")"
check "a year-one certificate verifies under the new CA with the CRL" \
	quiet openssl verify -x509_strict -CAfile "$P/ca.pem" -CRLfile "$P/crl.pem" \
	-crl_check "$P/issued/web-01.pem"
check "renew-ca again keeps both old certificates" \
	quiet "$PKI_SCRIPT" renew-ca
check "two certificates in ca-old/" test "$(find "$P/ca-old" -type f | wc -l)" -eq 2

# ---- the parties take the new ca.pem at their own pace ----
cat >"$T_DIR/policy.json" <<'EOF2'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "no-such-container" }, "actions": ["START"],
               "accept_relay_signed": true } ] }
EOF2
chmod 644 "$T_DIR/policy.json"
write_server_conf
write_agent_conf web-01 "$T_DIR/policy.json"
connected() { api_get /api/hosts | pyq '[h["host_id"] for h in d["hosts"] if h["connected"]]' | grep -q web-01; }
n_conn() { grep -c '"event":"agent.connected"' "$T_DIR/server-audit.log"; }

# The server has the new ca.pem, the agent still the year-one one.
sed -i "s|^ca   = .*|ca   = $T_DIR/ca-year-one.pem|" "$T_DIR/agent-web-01.conf"
check "server starts with the renewed CA" start_server
start_agent web-01
check "an agent holding the old ca.pem connects to it" wait_for 30 connected
check "an operator certificate from before the renewal gets in" \
	quiet api_get /api/hosts alice
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# The other way round.
sed -i "s|^ca   = .*|ca   = $T_DIR/ca-year-one.pem|" "$T_DIR/server.conf"
sed -i "s|^ca   = .*|ca   = $P/ca.pem|" "$T_DIR/agent-web-01.conf"
n0=$(n_conn)
check "server starts with the year-one CA" start_server
start_agent web-01
check "an agent holding the new ca.pem connects to it" wait_for 30 sh -c "[ \$(grep -c '\"event\":\"agent.connected\"' '$T_DIR/server-audit.log') -gt $n0 ]"
finish
