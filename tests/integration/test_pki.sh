#!/bin/bash
# SPDX-License-Identifier: ISC
# End-to-end test of pki/signet-pki: layout, modes, roles, revocation, bundle.
set -u

. "$(dirname "$0")/pki_lib.sh"
# absent FILE...: none of the files exists.
absent() {
	local f
	for f in "$@"; do
		if [ -e "$f" ]; then
			echo "$f exists"
			return 1
		fi
	done
}
mode() {
	stat -c %a "$1"
}
# verify NAME|FILE: issued/NAME.pem (or FILE) against the CA and the CRL.
verify() {
	local rc=0 f=$P/issued/$1.pem
	case $1 in */*) f=$1 ;; esac
	openssl verify -CAfile "$P/ca.pem" -crl_check -CRLfile "$P/crl.pem" \
	    "$f" >"$WORK/last" 2>&1 || rc=$?
	cat "$WORK/last"
	return "$rc"
}
# Raw bytes of a base64 file, as hex.
b64hex() {
	base64 -d <"$1" | od -An -tx1 -v | tr -d ' \n'
}

P=$WORK/pki

# --- init ------------------------------------------------------------------
check "init creates a PKI" pki init "$P" --nopass
check "init prints what it wrote" grep -q "wrote $P/ca.pem" "$WORK/last"
missing=""
for f in ca.pem crl.pem openssl.cnf index.txt private/ca.key \
    keys/action.key keys/action.pub keys/audit.key keys/audit.pub \
    keys/roster.key keys/roster.pub roster/pinned.pub; do
	[ -f "$P/$f" ] || missing="$missing $f"
done
for d in issued private keys keys/agents; do
	[ -d "$P/$d" ] || missing="$missing $d/"
done
check "init layout complete${missing:+ (missing$missing)}" [ -z "$missing" ]
check "CA key mode 0600" [ "$(mode "$P/private/ca.key")" = 600 ]
check "private/ mode 0700" [ "$(mode "$P/private")" = 700 ]
check "keys/action.key mode 0600" [ "$(mode "$P/keys/action.key")" = 600 ]
check "keys/audit.key mode 0600" [ "$(mode "$P/keys/audit.key")" = 600 ]
check "Ed25519 action key is 64 bytes" \
    [ "$(base64 -d <"$P/keys/action.key" | wc -c)" = 64 ]
check "CA is CA:TRUE pathlen:0" sh -c "openssl x509 -in '$P/ca.pem' -noout \
    -ext basicConstraints | grep -q 'CA:TRUE, pathlen:0'"
check "CA key usage keyCertSign, cRLSign" sh -c "openssl x509 -in \
    '$P/ca.pem' -noout -ext keyUsage | grep -q 'Certificate Sign, CRL Sign'"
check "CA key is EC P-256" sh -c "openssl pkey -in '$P/private/ca.key' \
    -noout -text | grep -q 'NIST CURVE: P-256'"
check "empty CRL verifies against the CA" \
    openssl crl -in "$P/crl.pem" -CAfile "$P/ca.pem" -noout

sum=$(tree_sum "$P")
refute "init into an existing PKI is refused" pki init "$P" --nopass
check "refused init changed nothing" [ "$(tree_sum "$P")" = "$sum" ]
mkdir "$WORK/nonempty" && touch "$WORK/nonempty/file"
refute "init into a non-empty directory is refused" pki init "$WORK/nonempty" --nopass
refute "init --days 0 refused" pki init "$WORK/d0" --nopass --days 0
refute "init --days abc refused" pki init "$WORK/dabc" --nopass --days abc
check "refused init left no directory" absent "$WORK/d0" "$WORK/dabc"

# --- issue one certificate per role ----------------------------------------
export SIGNET_PKI=$P
check "server cert issued" pki server relay.example.org \
    --dns relay.example.org --dns relay --ip 10.1.2.3 --ip ::1
check "agent cert issued" pki agent web-01
check "agent prints what it wrote" \
    grep -q "wrote $P/keys/agents/web-01.key" "$WORK/last"
check "operator cert issued" pki operator alice
check "auditor cert issued" pki auditor bob
check "second agent issued (to be revoked)" pki agent web-02
check "--pki beats SIGNET_PKI" env SIGNET_PKI=/nonexistent \
    sh "$PKI_SH" operator carol --pki "$P"
check "current directory is the default PKI" \
    sh -c "cd '$P' && unset SIGNET_PKI && sh '$PKI_SH' auditor dave"

check "leaf keys mode 0600" [ "$(mode "$P/private/web-01.key")" = 600 ]
check "agent result key mode 0600" \
    [ "$(mode "$P/keys/agents/web-01.key")" = 600 ]
check "agent result pub exists" [ -s "$P/keys/agents/web-01.pub" ]

for n in relay.example.org web-01 alice bob web-02; do
	check "$n verifies with -crl_check" verify "$n"
done

# role NAME OU EKU: subject OU and extendedKeyUsage of an issued cert.
role_ok() {
	local out
	out=$(openssl x509 -in "$P/issued/$1.pem" -noout -subject \
	    -ext extendedKeyUsage,basicConstraints,keyUsage) || return 1
	echo "$out"
	grep -q "^subject=CN = $1, OU = $2\$" <<<"$out" &&
	    grep -qx "  *$3" <<<"$out" &&
	    grep -q "CA:FALSE" <<<"$out" &&
	    grep -q "Digital Signature" <<<"$out"
}
check "server: OU=server, EKU serverAuth" \
    role_ok relay.example.org server "TLS Web Server Authentication"
check "agent: OU=agent, EKU clientAuth" \
    role_ok web-01 agent "TLS Web Client Authentication"
check "operator: OU=operator, EKU clientAuth" \
    role_ok alice operator "TLS Web Client Authentication"
check "auditor: OU=auditor, EKU clientAuth" \
    role_ok bob auditor "TLS Web Client Authentication"
check "server SANs" sh -c "openssl x509 -in '$P/issued/relay.example.org.pem' \
    -noout -ext subjectAltName | grep -qx '  *DNS:relay.example.org, \
DNS:relay, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1'"
check "agent cert has no serverAuth" sh -c "! openssl x509 -noout \
    -in '$P/issued/web-01.pem' -ext extendedKeyUsage | grep -q Server"
check "leaf key is EC P-256" sh -c "openssl pkey -in '$P/private/alice.key' \
    -noout -text | grep -q 'NIST CURVE: P-256'"
check "signed with SHA-256" sh -c "openssl x509 -in '$P/issued/bob.pem' \
    -noout -text | grep -q 'ecdsa-with-SHA256'"
check "--days sets the leaf validity" pki operator short --days 2
check "short cert expires within 3 days" \
    sh -c "! openssl x509 -in '$P/issued/short.pem' -noout -checkend 259200"

# --- refusals that change nothing ------------------------------------------
sum=$(tree_sum "$P")
refute "same agent name twice refused" pki agent web-01
refute "same name in another role refused" pki operator web-01
refute "server name reused as agent refused" pki agent relay.example.org
refute "server without --dns/--ip refused" pki server relay2
refute "server with a bad --ip refused" pki server relay2 --ip 1.2.3.400
refute "server with a bad --dns refused" pki server relay2 --dns 'a b'
# shellcheck disable=SC2016 # a literal '$'
for bad in ../x Web .hidden -dash "" "a/b" "x y" 'a$b' "ca" \
    "$(printf 'a%.0s' {1..64})"; do
	refute "bad name $(printf '%q' "$bad") refused" pki agent -- "$bad"
done
check "63-char name is accepted" pki auditor "$(printf 'b%.0s' {1..63})"
sum=$(tree_sum "$P")
refute "--days 0 refused" pki agent web-03 --days 0
refute "--days abc refused" pki agent web-03 --days abc
refute "--days -5 refused" pki agent web-03 --days -5
refute "--days 99999 refused" pki agent web-03 --days 99999
refute "crl --days 0 refused" pki crl --days 0
refute "bad IPv6 that openssl rejects at signing" \
    pki server relay3 --ip 1:2
check "refusals and failures changed nothing" [ "$(tree_sum "$P")" = "$sum" ]
check "failed server left no partial files" \
    absent "$P/private/relay3.key" "$P/issued/relay3.pem"
check "no temp dirs or lock left" \
    [ -z "$(find "$P" -maxdepth 1 -name '.*' ! -name . -print)" ]

# --- errors and usage --------------------------------------------------------
pki frob >/dev/null; rc=$?
check "unknown command exits 2" [ "$rc" = 2 ]
check "error format 'signet-pki: ...'" grep -q '^signet-pki: ' "$WORK/last"
pki list --frob >/dev/null; rc=$?
check "unknown option exits 2" [ "$rc" = 2 ]
check "--help succeeds" pki --help
check "help lists bundle" grep -q 'bundle HOST-ID' "$WORK/last"
refute "a directory that is not a PKI is refused" pki list --pki "$WORK"
check "with a clear message" grep -q 'not a signet PKI' "$WORK/last"
refute "agent with no signetctl fails" \
    env SIGNETCTL=/nonexistent sh "$PKI_SH" agent web-09
check "no signetctl: nothing issued" [ ! -e "$P/issued/web-09.pem" ]

# --- revoke, crl, list -----------------------------------------------------
web02_serial=$(openssl x509 -in "$P/issued/web-02.pem" -noout -serial |
    cut -d= -f2)
W02=$P/revoked/certs_by_serial/$web02_serial.crt
check "revoke web-02" pki revoke web-02
refute "revoked cert fails -crl_check" verify "$W02"
check "verify says revoked" grep -q 'certificate revoked' "$WORK/last"
for n in relay.example.org web-01 alice bob; do
	check "$n still verifies after the revoke" verify "$n"
done
check "revoke archives the files under revoked/" sh -c "
    [ -f '$W02' ] && [ ! -e '$P/issued/web-02.pem' ] &&
    [ -f '$P/revoked/private_by_serial/$web02_serial.key' ] &&
    [ ! -e '$P/private/web-02.key' ] &&
    [ -f '$P/revoked/keys_by_serial/$web02_serial.result.pub' ] &&
    [ -f '$P/revoked/keys_by_serial/$web02_serial.result.key' ] &&
    [ ! -e '$P/keys/agents/web-02.pub' ]"
check "every certificate stays in certs_by_serial/" \
    [ -f "$P/certs_by_serial/$web02_serial.pem" ]
sum=$(tree_sum "$P")
refute "revoking twice refused" pki revoke web-02
check "with a clear message" grep -q 'nothing to do' "$WORK/last"
refute "revoking an unknown name refused" pki revoke nobody
check "the second revoke changed nothing" [ "$(tree_sum "$P")" = "$sum" ]
check "crl regenerates" pki crl --days 7
check "new CRL still lists web-02" sh -c "openssl crl -in '$P/crl.pem' \
    -noout -text | grep -qi '$web02_serial'"
refute "revoked cert still fails after crl" verify "$W02"

check "list runs" pki list
cp "$WORK/last" "$WORK/list"
check "list has a header" grep -q '^NAME  *ROLE  *SERIAL  *EXPIRES  *STATUS' \
    "$WORK/list"
check "list shows web-02 revoked" grep -Eq '^web-02 +agent .* revoked$' \
    "$WORK/list"
check "list shows web-01 valid" grep -Eq '^web-01 +agent .* valid$' \
    "$WORK/list"
check "list shows roles" grep -Eq '^alice +operator .* valid$' "$WORK/list"
serial=$(openssl x509 -in "$P/issued/bob.pem" -noout -serial | cut -d= -f2)
check "list shows serial and expiry" \
    grep -Eq "^bob +auditor +$serial +20[0-9-]+T[0-9:]+Z +valid\$" \
    "$WORK/list"

# --- bundle ----------------------------------------------------------------
B=$WORK/web-01-bundle.tar.gz
check "bundle web-01" pki bundle web-01 --server wss://relay.example.org:8444
check "bundle default name" [ -f "$B" ]
check "bundle file mode 0600" [ "$(mode "$B")" = 600 ]
listing=$(tar -tzf "$B" | sort | tr '\n' ' ')
expect="agent.conf agent.key agent.pem ca.pem keys/ keys/action.pub \
keys/result.key keys/roster.pub "
check "bundle holds exactly the expected files" [ "$listing" = "$expect" ]
[ "$listing" = "$expect" ] || echo "       got: $listing"
mkdir "$WORK/x"
tar -xzf "$B" -C "$WORK/x"
X=$WORK/x
check "bundle agent.key mode 0600" [ "$(mode "$X/agent.key")" = 600 ]
check "bundle result.key mode 0600" [ "$(mode "$X/keys/result.key")" = 600 ]
check "bundle ca.pem is the CA" cmp "$X/ca.pem" "$P/ca.pem"
check "bundle agent.pem is web-01's" cmp "$X/agent.pem" "$P/issued/web-01.pem"
check "bundle agent.key matches agent.pem" cmp \
    <(openssl x509 -in "$X/agent.pem" -noout -pubkey) \
    <(openssl pkey -in "$X/agent.key" -pubout)
res_pub=$(b64hex "$X/keys/result.key" | cut -c65-128)
check "bundle result.key is 64 bytes" [ "${#res_pub}" = 64 ]
check "bundle result.key matches keys/agents/web-01.pub" \
    [ "$res_pub" = "$(b64hex "$P/keys/agents/web-01.pub")" ]
check "bundle action.pub is the server's" \
    cmp "$X/keys/action.pub" "$P/keys/action.pub"
ca_key_pub=$(openssl pkey -in "$P/private/ca.key" -pubout)
no_ca_key=yes
while IFS= read -r f; do
	f_pub=$(openssl pkey -in "$f" -pubout 2>/dev/null)
	if [ "$f_pub" = "$ca_key_pub" ]; then
		no_ca_key=no
	fi
	for k in private/ca.key keys/action.key keys/audit.key; do
		if cmp -s "$f" "$P/$k"; then
			no_ca_key=no
		fi
	done
done < <(find "$X" -type f)
check "bundle holds no CA or server secret key" [ "$no_ca_key" = yes ]
check "agent.conf has the server URL" \
    grep -qx 'server = wss://relay.example.org:8444' "$X/agent.conf"
check "agent.conf paths as documented" sh -c "
    grep -qx 'policy = /etc/signet/policy.json' '$X/agent.conf' &&
    grep -qx 'docker_socket = /var/run/docker.sock' '$X/agent.conf' &&
    grep -qx 'key = /etc/signet/agent.key' '$X/agent.conf' &&
    grep -qx 'action_pub = /etc/signet/keys/action.pub' '$X/agent.conf' &&
    grep -qx 'result = /etc/signet/keys/result.key' '$X/agent.conf' &&
    grep -qx 'path = /var/lib/signet-agent/audit.log' '$X/agent.conf'"
sum=$(sha256sum <"$B")
refute "bundle refuses to overwrite" pki bundle web-01
check "bundle left unchanged" [ "$(sha256sum <"$B")" = "$sum" ]
check "bundle --out without --server" pki bundle web-01 --out "$WORK/b2.tgz"
check "default URL is CHANGE-ME" sh -c "tar -xzOf '$WORK/b2.tgz' agent.conf |
    grep -qx 'server = wss://CHANGE-ME:8444'"
refute "bundle of a revoked agent refused" \
    pki bundle web-02 --out "$WORK/b3.tgz"
check "no bundle written for the revoked agent" [ ! -e "$WORK/b3.tgz" ]
refute "bundle of a missing agent refused" \
    pki bundle nobody --out "$WORK/b4.tgz"
refute "bundle of an operator refused" pki bundle alice --out "$WORK/b5.tgz"
refute "bundle with a bad --server refused" \
    pki bundle web-01 --server 'wss://x;evil' --out "$WORK/b6.tgz"
check "no stray files next to the bundles" \
    [ -z "$(find "$WORK" -maxdepth 1 -name '.signet-bundle*' -print)" ]

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
