#!/bin/bash
# SPDX-License-Identifier: ISC
# signet-pki sign-req: certificates for requests made where the keys live
# (csr_check's every refusal, each leaving the PKI as it was), the agent's
# result key registered and rotated, and the keyless bundle.
set -u

. "$(dirname "$0")/pki_lib.sh"

P=$WORK/pki
export SIGNET_PKI=$P

# refused NAME TEXT ARGS...: signet-pki ARGS fails, says TEXT, and leaves
# the PKI exactly as it was.
refused() {
	local name=$1 text=$2 before rc=0
	shift 2
	before=$(tree_sum "$P")
	pki "$@" >"$WORK/out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		not_ok "$name: refused (it succeeded)"
	elif ! grep -qF -- "$text" "$WORK/out"; then
		not_ok "$name: says \"$text\""
	elif [ "$(tree_sum "$P")" != "$before" ]; then
		not_ok "$name: the PKI is unchanged"
	else
		ok "$name"
	fi
}

# A minimal request configuration: no extensions unless -addext.
cat >"$WORK/req.cnf" <<'EOF'
[ req ]
distinguished_name = dn
string_mask = utf8only
prompt = no
[ dn ]
CN = unused
EOF
cat >"$WORK/attr.cnf" <<'EOF'
[ req ]
distinguished_name = dn
attributes = attrs
string_mask = utf8only
prompt = no
[ dn ]
CN = web-05
OU = agent
[ attrs ]
challengePassword = sesame1234
EOF
# p256 FILE: a P-256 key, as signet-agent enroll makes it.
p256() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null
}
# csr KEY SUBJECT OUT [openssl req options]: a request in PEM.
csr() {
	local key=$1 subj=$2 out=$3
	shift 3
	openssl req -new -config "$WORK/req.cnf" -key "$key" -sha256 \
	    -subj "$subj" -out "$out" "$@"
}

check "init --nopass" pki init "$P" --nopass
p256 "$WORK/a.key"
p256 "$WORK/other.key"
K=$WORK/a.key

# --- every refusal of csr_check --------------------------------------------
check "result key for the tests" sh -c "cd '$WORK' && '$SIGNETCTL' keygen \
    --raw res >/dev/null 2>&1 && '$SIGNETCTL' keygen --raw res2 >/dev/null 2>&1"
RP=$WORK/res.pub

csr "$K" /CN=other/OU=agent "$WORK/cn.csr"
refused "a CSR whose CN differs" "(check: subject)" \
    sign-req agent web-05 "$WORK/cn.csr" --result-pub "$RP"
csr "$K" /CN=web-05/OU=operator "$WORK/ou.csr"
refused "a CSR whose OU (role) differs" "(check: subject)" \
    sign-req agent web-05 "$WORK/ou.csr" --result-pub "$RP"
csr "$K" /CN=web-05 "$WORK/noou.csr"
refused "a CSR without OU" "(check: subject)" \
    sign-req agent web-05 "$WORK/noou.csr" --result-pub "$RP"
csr "$K" /OU=agent/CN=web-05 "$WORK/order.csr"
refused "a CSR with OU before CN" "(check: subject)" \
    sign-req agent web-05 "$WORK/order.csr" --result-pub "$RP"
csr "$K" /CN=web-05/OU=agent/O=evil "$WORK/o.csr"
refused "a CSR with a further RDN" "(check: subject)" \
    sign-req agent web-05 "$WORK/o.csr" --result-pub "$RP"
csr "$K" "/CN=web-05+OU=agent" "$WORK/multi.csr" -multivalue-rdn
refused "a CSR with a multi-valued RDN" "(check: subject)" \
    sign-req agent web-05 "$WORK/multi.csr" --result-pub "$RP"
cat >"$WORK/bmp.cnf" <<'EOF'
[ req ]
distinguished_name = dn
string_mask = MASK:0x800
prompt = no
[ dn ]
CN = web-05
OU = agent
EOF
openssl req -new -config "$WORK/bmp.cnf" -key "$K" -out "$WORK/bmp.csr"
refused "a CSR whose CN and OU are BMPStrings" \
    "not plain text (UTF8String or PrintableString) (check: subject)" \
    sign-req agent web-05 "$WORK/bmp.csr" --result-pub "$RP"
csr "$K" /CN=web-05/OU=agent "$WORK/san.csr" \
    -addext "subjectAltName=DNS:web-05,DNS:evil.example.org"
refused "a CSR with extra SANs" \
    "requests extensions: X509v3 Subject Alternative Name (check: extensions)" \
    sign-req agent web-05 "$WORK/san.csr" --result-pub "$RP"
csr "$K" /CN=web-05/OU=agent "$WORK/ca.csr" \
    -addext "basicConstraints=critical,CA:TRUE"
refused "a CSR requesting CA:TRUE" \
    "requests extensions: X509v3 Basic Constraints (check: extensions)" \
    sign-req agent web-05 "$WORK/ca.csr" --result-pub "$RP"
csr "$K" /CN=web-05/OU=agent "$WORK/eku.csr" \
    -addext "extendedKeyUsage=serverAuth"
refused "a CSR requesting another extension" "(check: extensions)" \
    sign-req agent web-05 "$WORK/eku.csr" --result-pub "$RP"
# (openssl req -subj would drop the attributes.)
openssl req -new -config "$WORK/attr.cnf" -key "$K" -sha256 \
    -out "$WORK/attr.csr"
check "the attribute request carries challengePassword" sh -c \
    "openssl asn1parse -in '$WORK/attr.csr' | grep -q ':challengePassword'"
refused "a CSR with a challengePassword attribute" \
    "carries attributes (check: extensions)" \
    sign-req agent web-05 "$WORK/attr.csr" --result-pub "$RP"

# Signed by another key than it carries: a good request whose public key
# is swapped for another one of the same size (the signature is the first
# key's).
csr "$K" /CN=web-05/OU=agent "$WORK/good.csr"
openssl pkey -in "$K" -pubout -outform DER -out "$WORK/a.spki"
openssl pkey -in "$WORK/other.key" -pubout -outform DER -out "$WORK/o.spki"
openssl req -in "$WORK/good.csr" -outform DER -out "$WORK/good.der"
python3 - "$WORK" <<'EOF'
import sys
w = sys.argv[1]
csr = open(w + "/good.der", "rb").read()
a = open(w + "/a.spki", "rb").read()
b = open(w + "/o.spki", "rb").read()
assert len(a) == len(b) == 91 and csr.count(a) == 1
open(w + "/swapped.der", "wb").write(csr.replace(a, b))
EOF
openssl req -inform DER -in "$WORK/swapped.der" -out "$WORK/swapped.csr"
check "the swapped request parses and carries the other key" cmp \
    <(openssl req -in "$WORK/swapped.csr" -noout -pubkey) \
    <(openssl pkey -in "$WORK/other.key" -pubout)
refused "a CSR signed by another key than it carries" "(check: signature)" \
    sign-req agent web-05 "$WORK/swapped.csr" --result-pub "$RP"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$WORK/rsa.key" 2>/dev/null
csr "$WORK/rsa.key" /CN=web-05/OU=agent "$WORK/rsa.csr"
refused "an RSA key" "(check: key)" \
    sign-req agent web-05 "$WORK/rsa.csr" --result-pub "$RP"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
    -out "$WORK/p384.key" 2>/dev/null
csr "$WORK/p384.key" /CN=web-05/OU=agent "$WORK/p384.csr"
refused "a P-384 key" "(check: key)" \
    sign-req agent web-05 "$WORK/p384.csr" --result-pub "$RP"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:explicit -out "$WORK/explicit.key" 2>/dev/null
csr "$WORK/explicit.key" /CN=web-05/OU=agent "$WORK/explicit.csr"
refused "a P-256 key with explicit curve parameters" "(check: key)" \
    sign-req agent web-05 "$WORK/explicit.csr" --result-pub "$RP"
openssl genpkey -algorithm ED25519 -out "$WORK/ed.key" 2>/dev/null
openssl req -new -config "$WORK/req.cnf" -key "$WORK/ed.key" \
    -subj /CN=web-05/OU=agent -out "$WORK/ed.csr"
refused "an Ed25519 key" "(check: " \
    sign-req agent web-05 "$WORK/ed.csr" --result-pub "$RP"

refused "a certificate instead of a CSR" "(check: pem)" \
    sign-req agent web-05 "$P/ca.pem" --result-pub "$RP"
printf 'hello, I am not a request\n' >"$WORK/text.csr"
refused "a text file" "(check: pem)" \
    sign-req agent web-05 "$WORK/text.csr" --result-pub "$RP"
: >"$WORK/empty.csr"
refused "an empty file" "the file is empty (check: file)" \
    sign-req agent web-05 "$WORK/empty.csr" --result-pub "$RP"
{
	cat "$WORK/good.csr"
	head -c 20000 /dev/zero | tr '\0' '\n'
} >"$WORK/huge.csr"
refused "a file over 16 KiB" "larger than 16384 bytes (check: file)" \
    sign-req agent web-05 "$WORK/huge.csr" --result-pub "$RP"
refused "a DER request" "(check: pem)" \
    sign-req agent web-05 "$WORK/good.der" --result-pub "$RP"
cat "$WORK/good.csr" "$K" >"$WORK/withkey.csr"
refused "a CSR followed by its private key" "(check: pem)" \
    sign-req agent web-05 "$WORK/withkey.csr" --result-pub "$RP"
cat "$WORK/good.csr" "$WORK/good.csr" >"$WORK/twice.csr"
refused "two CSRs in one file" "(check: pem)" \
    sign-req agent web-05 "$WORK/twice.csr" --result-pub "$RP"
{
	cat "$WORK/good.der"
	printf 'junk'
} | openssl base64 >"$WORK/trail.b64"
{
	echo "-----BEGIN CERTIFICATE REQUEST-----"
	cat "$WORK/trail.b64"
	echo "-----END CERTIFICATE REQUEST-----"
} >"$WORK/trail.csr"
refused "a CSR with bytes after the request" "(check: der)" \
    sign-req agent web-05 "$WORK/trail.csr" --result-pub "$RP"
printf 'a\0b' >"$WORK/nul.csr"
refused "a file with a NUL byte" "(check: pem)" \
    sign-req agent web-05 "$WORK/nul.csr" --result-pub "$RP"
refused "a missing file" "no such file (check: file)" \
    sign-req agent web-05 "$WORK/nothing.csr" --result-pub "$RP"

# --- the command's own refusals ----------------------------------------------
refused "a new agent without --result-pub" "give --result-pub FILE" \
    sign-req agent web-05 "$WORK/good.csr"
refused "--result-pub a secret key" "never a .key" \
    sign-req agent web-05 "$WORK/good.csr" --result-pub "$WORK/res.key"
printf 'not base64!\n' >"$WORK/bad.pub"
refused "--result-pub not base64" "not a base64 public key" \
    sign-req agent web-05 "$WORK/good.csr" --result-pub "$WORK/bad.pub"
cat "$RP" "$WORK/res2.pub" >"$WORK/two.pub"
refused "--result-pub with two keys" "holds more than one key" \
    sign-req agent web-05 "$WORK/good.csr" --result-pub "$WORK/two.pub"
refused "--result-pub for an operator" "--result-pub is for an agent" \
    sign-req operator web-05 "$WORK/good.csr" --result-pub "$RP"
refused "an unknown role" "the role must be server" \
    sign-req ca web-05 "$WORK/good.csr"
refused "a server without --dns/--ip" "give at least one" \
    sign-req server web-05 "$WORK/good.csr"
refused "--dns for an agent" "--dns and --ip are for a server" \
    sign-req agent web-05 "$WORK/good.csr" --dns x --result-pub "$RP"
refused "a missing FILE" "missing argument" sign-req agent web-05
# A failure at signing, in a PKI that has no reqs/ yet: it is not left.
csr "$K" /CN=relay2/OU=server "$WORK/relay2.csr"
check "no reqs/ yet" [ ! -e "$P/reqs" ]
refused "an IPv6 address openssl refuses at signing" "signing: openssl failed" \
    sign-req server relay2 "$WORK/relay2.csr" --ip 1:2

# --- a good agent request ------------------------------------------------------
check "sign-req agent web-05" \
    pki sign-req agent web-05 "$WORK/good.csr" --result-pub "$RP"
cp "$WORK/last" "$WORK/signed"
check "it says the PKI holds no private key of web-05" \
    grep -q 'no private key of web-05 is in the PKI' "$WORK/signed"
check "the certificate verifies against ca.pem and the CRL" \
    openssl verify -CAfile "$P/ca.pem" -crl_check -CRLfile "$P/crl.pem" \
    -purpose sslclient "$P/issued/web-05.pem"
check "subject CN=web-05, OU=agent" sh -c "openssl x509 -noout -subject \
    -in '$P/issued/web-05.pem' | grep -qx 'subject=CN = web-05, OU = agent'"
check "clientAuth, CA:FALSE, digitalSignature" sh -c "
    out=\$(openssl x509 -in '$P/issued/web-05.pem' -noout \
        -ext extendedKeyUsage,basicConstraints,keyUsage) &&
    echo \"\$out\" | grep -qx '  *TLS Web Client Authentication' &&
    echo \"\$out\" | grep -q 'CA:FALSE' &&
    echo \"\$out\" | grep -q 'Digital Signature'"
check "no subjectAltName" sh -c "! openssl x509 -in '$P/issued/web-05.pem' \
    -noout -text | grep -q 'Subject Alternative Name'"
check "the certificate's key is the host's" cmp \
    <(openssl x509 -in "$P/issued/web-05.pem" -noout -pubkey) \
    <(openssl pkey -in "$K" -pubout)
serial=$(openssl x509 -in "$P/issued/web-05.pem" -noout -serial | cut -d= -f2)
check "certs_by_serial/SERIAL.pem" \
    cmp "$P/issued/web-05.pem" "$P/certs_by_serial/$serial.pem"
check "reqs/web-05.req is the request" cmp \
    <(openssl req -in "$P/reqs/web-05.req" -outform DER) "$WORK/good.der"
check "no private key of web-05 in the PKI" \
    sh -c "[ ! -e '$P/private/web-05.key' ] &&
    [ ! -e '$P/keys/agents/web-05.key' ]"
check "keys/agents/web-05.pub is the result pub" \
    cmp "$P/keys/agents/web-05.pub" "$RP"
check "modes: cert 0644, req 0644, pub 0644" sh -c "
    [ \$(stat -c %a '$P/issued/web-05.pem') = 644 ] &&
    [ \$(stat -c %a '$P/reqs/web-05.req') = 644 ] &&
    [ \$(stat -c %a '$P/keys/agents/web-05.pub') = 644 ]"
check "list shows web-05 valid" sh -c "sh '$PKI_SH' list |
    grep -Eq '^web-05 +agent .* valid\$'"

# --- the keyless bundle --------------------------------------------------------
B=$WORK/web-05.tgz
check "bundle web-05" pki bundle web-05 --server wss://relay.example.org:8444 \
    --out "$B"
cp "$WORK/last" "$WORK/bundled"
check "bundle says web-05 keeps its own keys" grep -q \
    'no private key: web-05 keeps its own keys' "$WORK/bundled"
check "bundle names signet-agent enroll" grep -q \
    'signet-agent enroll --host-id web-05 --out /etc/signet' "$WORK/bundled"
listing=$(tar -tzf "$B" | sort | tr '\n' ' ')
expect="agent.conf agent.pem ca.pem keys/ keys/action.pub keys/roster.pub "
check "the keyless bundle holds exactly: $expect" [ "$listing" = "$expect" ]
[ "$listing" = "$expect" ] || echo "       got: $listing"
mkdir "$WORK/x"
tar -xzf "$B" -C "$WORK/x"
haskey=""
while IFS= read -r f; do
	if openssl pkey -in "$f" -noout 2>/dev/null ||
	    openssl pkey -inform DER -in "$f" -noout 2>/dev/null; then
		haskey="$haskey $f"
	fi
	# An Ed25519 secret key in the raw format: 64 bytes in base64.
	if [ "$(grep -v '^#' "$f" | head -n 1 | base64 -d 2>/dev/null |
	    wc -c)" = 64 ]; then
		haskey="$haskey $f"
	fi
done < <(find "$WORK/x" -type f)
check "no file of the keyless bundle is a private key${haskey:+ ($haskey)}" \
    [ -z "$haskey" ]
check "agent.conf: key and result where signet-agent enroll puts them" sh -c "
    grep -qx 'key = /etc/signet/agent.key' '$WORK/x/agent.conf' &&
    grep -qx 'result = /etc/signet/result.key' '$WORK/x/agent.conf' &&
    grep -qx 'cert = /etc/signet/agent.pem' '$WORK/x/agent.conf' &&
    grep -qx 'server = wss://relay.example.org:8444' '$WORK/x/agent.conf'"
check "the lab bundle still works and says it is for labs" \
    pki agent lab-01
check "lab bundle" pki bundle lab-01 --out "$WORK/lab.tgz"
check "the lab bundle says it carries private keys" \
    grep -q 'a lab bundle: it carries agent lab-01.s private keys' \
    "$WORK/last"
check "the lab bundle carries agent.key and keys/result.key" sh -c "
    tar -tzf '$WORK/lab.tgz' | grep -qx agent.key &&
    tar -tzf '$WORK/lab.tgz' | grep -qx keys/result.key"

# --- names: live, other roles ------------------------------------------------
csr "$K" /CN=web-05/OU=operator "$WORK/web05op.csr"
refused "sign-req for a live name of another role" \
    "holds a valid certificate of role agent" \
    sign-req operator web-05 "$WORK/web05op.csr"
p256 "$WORK/lab.key"
csr "$WORK/lab.key" /CN=lab-01/OU=auditor "$WORK/lab01au.csr"
refused "sign-req for a live lab name of another role" \
    "holds a valid certificate of role agent" \
    sign-req auditor lab-01 "$WORK/lab01au.csr"
if [ ! -f "$SRC/pki/lib/renew.sh" ]; then
	refused "sign-req for a live name of the same role needs renew.sh" \
	    "renewal by CSR needs lib/renew.sh" \
	    sign-req agent web-05 "$WORK/good.csr"
fi

# --- operator, auditor, server ------------------------------------------------
p256 "$WORK/alice.key"
csr "$WORK/alice.key" /CN=alice/OU=operator "$WORK/alice.csr"
check "sign-req operator alice" pki sign-req operator alice "$WORK/alice.csr"
check "operator: says how to hand it back" \
    grep -q 'give issued/alice.pem back to alice' "$WORK/last"
check "operator: issued/alice.pem, no key" sh -c "
    [ -f '$P/issued/alice.pem' ] && [ ! -e '$P/private/alice.key' ] &&
    [ ! -e '$P/keys/agents/alice.pub' ]"
check "operator: clientAuth, OU=operator" sh -c "openssl x509 -noout \
    -in '$P/issued/alice.pem' -subject -ext extendedKeyUsage |
    grep -q 'OU = operator' && openssl x509 -noout \
    -in '$P/issued/alice.pem' -ext extendedKeyUsage |
    grep -q 'Client Authentication'"
p256 "$WORK/bob.key"
csr "$WORK/bob.key" /CN=bob/OU=auditor "$WORK/bob.csr"
check "sign-req auditor bob" pki sign-req auditor bob "$WORK/bob.csr" --days 30
check "auditor: valid 30 days" sh -c "! openssl x509 -noout \
    -in '$P/issued/bob.pem' -checkend $((31 * 86400))"
p256 "$WORK/relay.key"
csr "$WORK/relay.key" /CN=relay.example.org/OU=server "$WORK/relay.csr"
check "sign-req server with --dns/--ip" pki sign-req server \
    relay.example.org "$WORK/relay.csr" --dns relay.example.org --ip 10.1.2.3
check "server: serverAuth and the SANs the CA chose" sh -c "
    openssl x509 -noout -in '$P/issued/relay.example.org.pem' \
        -ext extendedKeyUsage | grep -q 'Server Authentication' &&
    openssl x509 -noout -in '$P/issued/relay.example.org.pem' \
        -ext subjectAltName |
        grep -qx '  *DNS:relay.example.org, IP Address:10.1.2.3'"

# --- the result key kept, rotated, and archived by revoke ------------------
# web-05 is live: a new request of its own renews it (renew_from_csr) and
# keeps the registered result key; a different --result-pub rotates it;
# revoke archives the result key with the certificate, so issuing the name
# again needs one.
p256 "$WORK/b.key"
csr "$WORK/b.key" /CN=web-05/OU=agent "$WORK/new.csr"
check "sign-req of live web-05 renews it, keeping the registered result key" \
    pki sign-req agent web-05 "$WORK/new.csr"
check "it says it kept the result key" grep -q 'kept the result key' \
    "$WORK/last"
check "keys/agents/web-05.pub unchanged" cmp "$P/keys/agents/web-05.pub" "$RP"

# A failure while the new pub is placed puts the old one back.
mkdir "$WORK/bin"
cat >"$WORK/bin/ln" <<EOF
#!/bin/sh
for a; do last=\$a; done
case \$last in
*/keys/agents/web-05.pub) echo "ln: injected failure" >&2; exit 1 ;;
esac
exec /bin/ln "\$@"
EOF
chmod 755 "$WORK/bin/ln"
p256 "$WORK/c.key"
csr "$WORK/c.key" /CN=web-05/OU=agent "$WORK/c.csr"
before=$(tree_sum "$P")
PATH="$WORK/bin:$PATH" pki sign-req agent web-05 "$WORK/c.csr" \
    --result-pub "$WORK/res2.pub" >"$WORK/rot" 2>&1
rc=$?
check "a failed rotation fails" [ "$rc" -ne 0 ]
check "a failed rotation says so" grep -q "cannot place" "$WORK/rot"
check "a failed rotation leaves the PKI unchanged" \
    [ "$(tree_sum "$P")" = "$before" ]
check "sign-req with a new result pub rotates it" \
    pki sign-req agent web-05 "$WORK/c.csr" --result-pub "$WORK/res2.pub"
check "it says it rotated" grep -q 'rotated the result key of web-05' \
    "$WORK/last"
check "keys/agents/web-05.pub is the new key" \
    cmp "$P/keys/agents/web-05.pub" "$WORK/res2.pub"
retired=$(find "$P/keys/agents/retired" -name 'web-05.*.pub' 2>/dev/null)
check "the old pub is keys/agents/retired/web-05.STAMP.pub" sh -c "
    [ \$(printf '%s\n' '$retired' | wc -l) = 1 ] &&
    printf '%s\n' '$retired' |
    grep -Eq '/keys/agents/retired/web-05\.[0-9]{8}T[0-9]{6}Z\.pub\$' &&
    cmp '$retired' '$RP'"

# A lab agent (keys made in the PKI) renewed by request with a new result
# key: its old TLS key goes to renewed/, the old result secret key with its
# pub to retired/, and its bundle is keyless from then on.
p256 "$WORK/lab2.key"
csr "$WORK/lab2.key" /CN=lab-01/OU=agent "$WORK/lab2.csr"
check "sign-req lab-01 with a new result pub" \
    pki sign-req agent lab-01 "$WORK/lab2.csr" --result-pub "$WORK/res2.pub"
check "it says where the old result secret key went" \
    grep -q 'moved the old result secret key' "$WORK/last"
lret=$(find "$P/keys/agents/retired" -name 'lab-01.*.key' 2>/dev/null)
check "lab-01's old result key is in retired/, 0600, with its pub" sh -c "
    [ -n '$lret' ] && [ \$(stat -c %a '$lret') = 600 ] &&
    [ -f '${lret%.key}.pub' ] && [ ! -e '$P/keys/agents/lab-01.key' ]"
check "lab-01's old TLS key is in renewed/" sh -c \
    "[ ! -e '$P/private/lab-01.key' ] && ls '$P/renewed/private_by_serial/' | grep -q '.key\$'"
check "lab-01's bundle is keyless now" \
    pki bundle lab-01 --out "$WORK/lab2.tgz"
check "no agent.key nor result.key in it" sh -c "
    ! tar -tzf '$WORK/lab2.tgz' | grep -q -e agent.key -e result.key"

# Revoked: the result key is archived with the certificate; the name can
# be issued again, with a result key.
check "revoke lab-01" pki revoke lab-01
check "its result pub is archived" [ ! -e "$P/keys/agents/lab-01.pub" ]
p256 "$WORK/lab3.key"
csr "$WORK/lab3.key" /CN=lab-01/OU=agent "$WORK/lab3.csr"
refused "sign-req of the revoked name again without --result-pub" \
    "the PKI holds no keys/agents/lab-01.pub" \
    sign-req agent lab-01 "$WORK/lab3.csr"
check "sign-req of the revoked name again with --result-pub" \
    pki sign-req agent lab-01 "$WORK/lab3.csr" --result-pub "$RP"

# Renewal by request (lib/renew.sh, renew_from_csr): a live agent signs a
# new request of its own; a new serial, the old certificate kept, still
# no private key in the PKI.
if [ -f "$SRC/pki/lib/renew.sh" ]; then
	old=$(openssl x509 -in "$P/issued/web-05.pem" -noout -serial |
	    cut -d= -f2)
	p256 "$WORK/d.key"
	csr "$WORK/d.key" /CN=web-05/OU=agent "$WORK/d.csr"
	check "sign-req renews live web-05" \
	    pki sign-req agent web-05 "$WORK/d.csr" --days 90
	new=$(openssl x509 -in "$P/issued/web-05.pem" -noout -serial |
	    cut -d= -f2)
	check "renewal: a new serial" [ "$new" != "$old" ]
	check "renewal: the old certificate is kept" \
	    [ -f "$P/certs_by_serial/$old.pem" ]
	check "renewal: the new certificate carries the new key" cmp \
	    <(openssl x509 -in "$P/issued/web-05.pem" -noout -pubkey) \
	    <(openssl pkey -in "$WORK/d.key" -pubout)
	check "renewal: reqs/web-05.req is the new request" cmp \
	    <(openssl req -in "$P/reqs/web-05.req" -noout -pubkey) \
	    <(openssl pkey -in "$WORK/d.key" -pubout)
	check "renewal: verifies, clientAuth" openssl verify \
	    -CAfile "$P/ca.pem" -purpose sslclient "$P/issued/web-05.pem"
	check "renewal: no private key of web-05 in the PKI" \
	    [ ! -e "$P/private/web-05.key" ]
	check "renewal: the result key is kept" \
	    cmp "$P/keys/agents/web-05.pub" "$WORK/res2.pub"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
