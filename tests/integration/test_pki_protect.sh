#!/bin/bash
# SPDX-License-Identifier: ISC
# signet-pki's protected CA key: encrypted by default (the passphrase from
# --pass-fd N or a terminal, never an argument; a wrong or missing one
# changes nothing; asked once per command), set-pass in each direction
# (change, remove, add; atomic), --nopass for labs, the key in a PKCS#11
# token (SoftHSM2 in a temporary SOFTHSM2_CONF: init, issue, revoke, CRL;
# a missing token or a wrong PIN changes nothing), and export of a
# passphrase-protected PKCS#12 for operators and auditors.
set -u

. "$(dirname "$0")/pki_lib.sh"
unset SOFTHSM2_CONF
mode() {
	stat -c %a "$1"
}
verify() {
	openssl verify -CAfile "$P/ca.pem" -crl_check -CRLfile "$P/crl.pem" \
	    "$P/issued/$1.pem"
}
# unchanged NAME SUM: the PKI's tree checksum is still SUM.
unchanged() {
	check "$1: nothing changed" [ "$(tree_sum "$P")" = "$2" ]
}

P=$WORK/pki
export SIGNET_PKI=$P
printf 'correct horse battery\n' >pass
printf 'wrong horse battery\n' >bad
printf 'staple more\n' >pass2
printf 'short\n' >short
: >empty

# --- init: the passphrase ---------------------------------------------------
refute_with "init with no terminal and no --pass-fd says what to do" \
    'no terminal to ask on' pki init "$P"
check "the refused init left no directory" [ ! -e "$P" ]
refute_with "init: a 5-character passphrase refused" \
    'too short; at least 8 characters' pki init "$P" --pass-fd 3 3<short
refute_with "init: an empty fd refused" 'nothing there' \
    pki init "$P" --pass-fd 3 3<empty
check "refused inits left no directory" [ ! -e "$P" ]
refute_with "init --pass-fd with a passphrase as its value refused" \
    'not a file descriptor number' pki init "$P" --pass-fd hunter2hunter2
refute_with "init --pass-fd 100 refused" 'not a file descriptor' \
    pki init "$P" --pass-fd 100
refute_with "init --nopass --pass-fd refused" 'excludes' \
    pki init "$P" --nopass --pass-fd 3 3<pass
check "init --pass-fd 3" pki init "$P" --pass-fd 3 3<pass
check "init says the key is encrypted" grep -q 'encrypted with your passphrase' "$WORK/last"
check "ca.key is encrypted PKCS#8" \
    grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' "$P/private/ca.key"
check "ca.key mode 0600" [ "$(mode "$P/private/ca.key")" = 600 ]
openssl asn1parse -in "$P/private/ca.key" >asn1 2>&1
check "ca.key: PBES2 with scrypt and AES-256-CBC" \
    sh -c 'grep -q :PBES2 asn1 && grep -q :scrypt asn1 && grep -q aes-256-cbc asn1'
check "ca.key does not open without the passphrase" \
    sh -c "! openssl pkey -in '$P/private/ca.key' -passin pass: -noout"
check "ca.key opens with it, EC P-256" sh -c "openssl pkey -in \
    '$P/private/ca.key' -passin file:pass -noout -text | grep -q 'NIST CURVE: P-256'"
check "the CA certificate is the key's" sh -c "[ \"\$(openssl pkey -in \
    '$P/private/ca.key' -passin file:pass -pubout)\" = \"\$(openssl x509 \
    -in '$P/ca.pem' -noout -pubkey)\" ]"
check "the CRL verifies against the CA" \
    openssl crl -in "$P/crl.pem" -CAfile "$P/ca.pem" -noout

# --- commands that use the CA key -------------------------------------------
sum=$(tree_sum "$P")
refute_with "operator without a passphrase source: a clear error" \
    'the CA key is encrypted: give --pass-fd N, or run on a terminal' \
    pki operator alice
unchanged "no passphrase" "$sum"
refute_with "wrong passphrase: a clear error" 'wrong CA passphrase' \
    pki operator alice --pass-fd 3 3<bad
unchanged "wrong passphrase" "$sum"
refute_with "revoke with a wrong passphrase" 'wrong CA passphrase' \
    pki revoke nobody --pass-fd 3 3<bad
refute_with "crl with a wrong passphrase" 'wrong CA passphrase' \
    pki crl --pass-fd 3 3<bad
unchanged "wrong passphrase to crl" "$sum"
refute_with "a closed fd: a clear error" 'from file descriptor 7: nothing there' \
    pki crl --pass-fd 7 7<&-
unchanged "closed fd" "$sum"
refute_with "list takes no --pass-fd" 'does not apply' \
    pki list --pass-fd 3 3<pass
check "operator alice --pass-fd 3" pki operator alice --pass-fd 3 3<pass
check "auditor carol, passphrase on stdin (--pass-fd 0)" \
    sh -c "setsid -w sh '$PKI_SH' auditor carol --pass-fd 0 <pass"
check "agent web-01" pki agent web-01 --pass-fd 3 3<pass
check "agent web-02" pki agent web-02 --pass-fd 3 3<pass
check "server localhost" pki server localhost --dns localhost --pass-fd 3 3<pass
check "alice verifies" verify alice
check "web-01 verifies" verify web-01
# revoke runs openssl twice (revoke, CRL) on one line: asked once.
check "revoke web-02 with one line on the fd (asked once)" \
    pki revoke web-02 --pass-fd 3 3<pass
check "web-02 is revoked in the CRL" sh -c "! openssl verify -CAfile \
    '$P/ca.pem' -crl_check -CRLfile '$P/crl.pem' '$P/issued/web-02.pem'"
check "crl --pass-fd 3" pki crl --days 10 --pass-fd 3 3<pass
check "the new CRL verifies" openssl crl -in "$P/crl.pem" -CAfile "$P/ca.pem" -noout
check "no passphrase in the PKI's files" sh -c "! grep -rq 'correct horse' '$P'"

# --- set-pass -----------------------------------------------------------------
sum=$(tree_sum "$P")
refute_with "set-pass with a wrong old passphrase" 'wrong CA passphrase' \
    pki set-pass --pass-fd 3 --new-pass-fd 4 3<bad 4<pass2
unchanged "set-pass, wrong old passphrase" "$sum"
refute_with "set-pass to a short passphrase" 'too short' \
    pki set-pass --pass-fd 3 --new-pass-fd 4 3<pass 4<short
unchanged "set-pass, short new passphrase" "$sum"
refute_with "set-pass with no new passphrase source" 'no terminal to ask on' \
    pki set-pass --pass-fd 3 3<pass
unchanged "set-pass, no new passphrase" "$sum"
refute_with "set-pass --nopass --new-pass-fd refused" 'exclude' \
    pki set-pass --nopass --pass-fd 3 --new-pass-fd 4 3<pass 4<pass2
check "set-pass: change the passphrase" \
    pki set-pass --pass-fd 3 --new-pass-fd 4 3<pass 4<pass2
check "the key is still encrypted" \
    grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' "$P/private/ca.key"
check "still mode 0600" [ "$(mode "$P/private/ca.key")" = 600 ]
refute_with "the old passphrase no longer opens it" 'wrong CA passphrase' \
    pki crl --pass-fd 3 3<pass
check "the new passphrase does" pki crl --pass-fd 3 3<pass2
check "the same key: the CRL verifies against ca.pem" \
    openssl crl -in "$P/crl.pem" -CAfile "$P/ca.pem" -noout
check "both lines from one fd (--pass-fd 0 --new-pass-fd 0)" \
    sh -c "printf 'staple more\ncorrect horse battery\n' | setsid -w sh '$PKI_SH' set-pass --pass-fd 0 --new-pass-fd 0"
check "and back: the first passphrase opens it" pki crl --pass-fd 3 3<pass
check "set-pass --nopass: remove the passphrase" \
    pki set-pass --nopass --pass-fd 3 3<pass
check "set-pass --nopass says labs only" grep -q 'unencrypted now (labs only)' "$WORK/last"
check "the key is unencrypted" \
    grep -qx -- '-----BEGIN PRIVATE KEY-----' "$P/private/ca.key"
check "a command needs no passphrase now" pki crl
refute_with "set-pass --nopass twice refused" 'already unencrypted' \
    pki set-pass --nopass
refute_with "set-pass on a plain key takes no --pass-fd" 'no old passphrase' \
    pki set-pass --pass-fd 3 --new-pass-fd 4 3<pass 4<pass2
check "set-pass: add a passphrase" pki set-pass --new-pass-fd 4 4<pass2
check "the key is encrypted again" \
    grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' "$P/private/ca.key"
check "it opens with that passphrase" pki operator bob --pass-fd 3 3<pass2
check "bob verifies" verify bob
check "no stray files in private/" \
    [ -z "$(find "$P/private" -name '.ca.key*' -print)" ]
check "no stray temporary directories" \
    [ -z "$(find "$P" -maxdepth 1 -name '.tmp.*' -print)" ]

T=$WORK/tty-pki
check "init on a terminal: the passphrase asked twice" \
    tty_run "tty pass phrase|tty pass phrase" sh "$PKI_SH" init "$T"
check "  the prompts showed" sh -c "grep -q 'new CA passphrase:' '$WORK/tty.out' &&
    grep -q 'new CA passphrase (again):' '$WORK/tty.out'"
check "  the passphrase did not (echo off)" sh -c "! grep -q 'tty pass' '$WORK/tty.out'"
check "  the key opens with it" sh -c "printf 'tty pass phrase\n' |
    openssl pkey -in '$T/private/ca.key' -passin stdin -noout"
refute_with "init on a terminal: two different entries refused" 'differ' \
    tty_run "tty pass phrase|tty pass phrasf" sh "$PKI_SH" init "$WORK/tty2"
check "  no directory left" [ ! -e "$WORK/tty2" ]
check "crl on a terminal: asked once" \
    tty_run "tty pass phrase" sh "$PKI_SH" --pki "$T" crl
check "  one prompt" [ "$(grep -c 'CA passphrase:' "$WORK/tty.out")" = 1 ]
refute_with "a wrong passphrase on the terminal" 'wrong CA passphrase' \
    tty_run "not the phrase" sh "$PKI_SH" --pki "$T" crl
check "  echo is back on after the failure" sh -c "! grep -q 'not the phrase' '$WORK/tty.out'"

# --- init --nopass -----------------------------------------------------------
check "init --nopass" pki init "$WORK/lab" --nopass
check "init --nopass says unencrypted: labs only" \
    grep -q 'unencrypted: labs only' "$WORK/last"
check "its key is unencrypted" \
    grep -qx -- '-----BEGIN PRIVATE KEY-----' "$WORK/lab/private/ca.key"
check "its commands need nothing" pki --pki "$WORK/lab" agent web-09

# --- export -----------------------------------------------------------------
refute_with "export without --p12" 'give --p12 FILE' pki export alice
refute_with "export of an agent refused" 'only operators' \
    pki export web-01 --p12 "$WORK/web.p12" --pass-fd 3 3<pass
refute_with "export of the server refused" 'only operators' \
    pki export localhost --p12 "$WORK/srv.p12" --pass-fd 3 3<pass
refute_with "export of an unknown name" 'no certificate issued to nobody' \
    pki export nobody --p12 "$WORK/x.p12" --pass-fd 3 3<pass
refute_with "export with a short passphrase" 'too short' \
    pki export alice --p12 "$WORK/alice.p12" --pass-fd 3 3<short
refute_with "export with no passphrase source" 'no terminal to ask on' \
    pki export alice --p12 "$WORK/alice.p12"
check "refused exports wrote nothing" sh -c "! ls '$WORK'/*.p12 '$WORK'/.signet-p12.* 2>/dev/null"
check "export alice --p12" pki export alice --p12 "$WORK/alice.p12" --pass-fd 3 3<pass2
check "the PKCS#12 is mode 0600" [ "$(mode "$WORK/alice.p12")" = 600 ]
check "it opens with the passphrase: alice's certificate and key" sh -c \
    "openssl pkcs12 -in '$WORK/alice.p12' -passin file:pass2 -nodes -out '$WORK/alice.out' &&
    grep -q 'BEGIN PRIVATE KEY' '$WORK/alice.out' && grep -q 'subject=CN = alice, OU = operator' '$WORK/alice.out' &&
    grep -q 'subject=CN = signet CA, OU = ca' '$WORK/alice.out'"
check "it does not open without it" sh -c \
    "! openssl pkcs12 -in '$WORK/alice.p12' -passin pass: -nodes -noout"
check "it does not open with another" sh -c \
    "! openssl pkcs12 -in '$WORK/alice.p12' -passin file:pass -nodes -noout"
openssl pkcs12 -in "$WORK/alice.p12" -passin file:pass2 -info -noout >p12info 2>&1
check "PBES2, PBKDF2, AES-256-CBC, SHA-256 MAC" sh -c \
    "grep -q 'PBES2, PBKDF2, AES-256-CBC' p12info && grep -q 'MAC: sha256' p12info &&
    ! grep -qi 'RC2\|3DES\|SHA1 ' p12info"
sum=$(sha256sum <"$WORK/alice.p12")
refute_with "export never overwrites" 'already exists' \
    pki export alice --p12 "$WORK/alice.p12" --pass-fd 3 3<pass
check "the file is unchanged" [ "$(sha256sum <"$WORK/alice.p12")" = "$sum" ]
check "export of the auditor carol" pki export carol --p12 "$WORK/carol.p12" --pass-fd 3 3<pass
# A name enrolled by CSR has no key in the PKI (here: moved away).
mv "$P/private/bob.key" "$WORK/bob.key"
refute_with "export of a name without its key in the PKI" 'enrolled by CSR' \
    pki export bob --p12 "$WORK/bob.p12" --pass-fd 3 3<pass
check "no file for bob" [ ! -e "$WORK/bob.p12" ]
mv "$WORK/bob.key" "$P/private/bob.key"

# --- PKCS#11: the CA key in a SoftHSM2 token --------------------------------
SOFTHSM_LIB=/usr/lib/softhsm/libsofthsm2.so
[ -f "$SOFTHSM_LIB" ] ||
    SOFTHSM_LIB=/usr/lib/$(uname -m)-linux-gnu/softhsm/libsofthsm2.so
if ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null ||
    [ ! -f "$SOFTHSM_LIB" ] ||
    ! openssl engine pkcs11 >/dev/null 2>&1; then
	echo "# softhsm2, opensc or libengine-pkcs11-openssl missing: PKCS#11 not tested (scripts/deps.sh)"
else
	mkdir -p "$WORK/hsm/tokens" "$WORK/hsm/none"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	    "$WORK/hsm/tokens" >"$WORK/hsm/softhsm2.conf"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	    "$WORK/hsm/none" >"$WORK/hsm/empty.conf"
	export SOFTHSM2_CONF=$WORK/hsm/softhsm2.conf
	printf '246810\n' >pin
	printf '135791\n' >badpin
	check "softhsm2-util --init-token" softhsm2-util --init-token --free \
	    --label signet-ca --pin 246810 --so-pin 12345678
	check "pkcs11-tool --keypairgen EC P-256" pkcs11-tool --module "$SOFTHSM_LIB" \
	    --token-label signet-ca --login --pin 246810 --keypairgen \
	    --key-type EC:prime256v1 --label ca --id 01
	URI='pkcs11:token=signet-ca;object=ca;type=private'
	H=$WORK/hsm-pki
	refute_with "a URI holding the PIN refused" 'holds a PIN' \
	    pki init "$H" --pkcs11 "$URI;pin-value=246810" --pass-fd 3 3<pin
	refute_with "a URI with pin-source refused" 'holds a PIN' \
	    pki init "$H" --pkcs11 "pkcs11:token=signet-ca?pin-source=file:pin" --pass-fd 3 3<pin
	refute_with "not a pkcs11: URI" 'not a pkcs11: URI' \
	    pki init "$H" --pkcs11 "$WORK/pin" --pass-fd 3 3<pin
	refute_with "--pkcs11 with --nopass refused" 'excludes' \
	    pki init "$H" --pkcs11 "$URI" --nopass
	refute_with "init --pkcs11 with a wrong PIN" 'wrong PIN' \
	    pki init "$H" --pkcs11 "$URI" --pass-fd 3 3<badpin
	refute_with "init --pkcs11 of a missing token" 'not reachable' \
	    env SOFTHSM2_CONF="$WORK/hsm/empty.conf" setsid -w sh "$PKI_SH" \
	    init "$H" --pkcs11 "$URI" --pass-fd 3 3<pin
	check "refused inits left no directory" [ ! -e "$H" ]
	check "init --pkcs11" pki init "$H" --pkcs11 "$URI" --pass-fd 3 3<pin
	check "init names the token" grep -q "the CA key is in the PKCS#11 token $URI" "$WORK/last"
	check "init --pkcs11 says the roster key is not encrypted" \
	    grep -q "roster key is not encrypted: the CA key is in a PKCS#11 token" "$WORK/last"
	check "init --pkcs11 made a raw roster key" sh -c \
	    "! head -n 1 '$H/keys/roster.key' | grep -q '^signet-operator-key-v1 '"
	check "private/ca.pkcs11 holds the URI, mode 0600" sh -c \
	    "[ \"\$(cat '$H/private/ca.pkcs11')\" = '$URI' ] && [ \$(stat -c %a '$H/private/ca.pkcs11') = 600 ]"
	check "no private/ca.key" [ ! -e "$H/private/ca.key" ]
	check "the CA certificate holds the token's key" sh -c "[ \"\$(openssl x509 \
	    -in '$H/ca.pem' -noout -pubkey)\" = \"\$(pkcs11-tool --module '$SOFTHSM_LIB' \
	    --token-label signet-ca --read-object --type pubkey --label ca 2>/dev/null |
	    openssl pkey -pubin -inform DER -pubout)\" ]"
	check "the CRL verifies against it" openssl crl -in "$H/crl.pem" -CAfile "$H/ca.pem" -noout
	check "agent web-01 signed by the token" pki --pki "$H" agent web-01 --pass-fd 3 3<pin
	check "operator alice signed by the token" pki --pki "$H" operator alice --pass-fd 3 3<pin
	check "web-01 verifies against ca.pem" openssl verify -CAfile "$H/ca.pem" \
	    -crl_check -CRLfile "$H/crl.pem" "$H/issued/web-01.pem"
	check "revoke web-01 with the token" pki --pki "$H" revoke web-01 --pass-fd 3 3<pin
	check "crl with the token" pki --pki "$H" crl --days 20 --pass-fd 3 3<pin
	check "the CRL verifies and lists web-01" sh -c "openssl crl -in '$H/crl.pem' \
	    -CAfile '$H/ca.pem' -noout && ! openssl verify -CAfile '$H/ca.pem' \
	    -crl_check -CRLfile '$H/crl.pem' '$H/issued/web-01.pem'"
	check "alice still verifies" openssl verify -CAfile "$H/ca.pem" \
	    -crl_check -CRLfile "$H/crl.pem" "$H/issued/alice.pem"
	sum=$(tree_sum "$H")
	refute_with "the PIN is needed" 'give its PIN with --pass-fd N' \
	    pki --pki "$H" operator dave
	refute_with "a wrong PIN: a clear error" 'wrong PIN for the PKCS#11 token' \
	    pki --pki "$H" operator dave --pass-fd 3 3<badpin
	check "wrong PIN: nothing changed" [ "$(tree_sum "$H")" = "$sum" ]
	refute_with "a missing token (SOFTHSM2_CONF at an empty token dir)" \
	    "the CA key's PKCS#11 token is not reachable" \
	    env SOFTHSM2_CONF="$WORK/hsm/empty.conf" setsid -w sh "$PKI_SH" \
	    --pki "$H" operator dave --pass-fd 3 3<pin
	check "missing token: nothing changed" [ "$(tree_sum "$H")" = "$sum" ]
	refute_with "set-pass on a token key points at its tools" 'change-pin' \
	    pki --pki "$H" set-pass --pass-fd 3 3<pin
	mv "$WORK/hsm/tokens" "$WORK/hsm/tokens.away"
	mkdir "$WORK/hsm/tokens"
	refute_with "the token deleted: a clear error" "not reachable" \
	    pki --pki "$H" crl --pass-fd 3 3<pin
	check "token deleted: nothing changed" [ "$(tree_sum "$H")" = "$sum" ]
	rmdir "$WORK/hsm/tokens"
	mv "$WORK/hsm/tokens.away" "$WORK/hsm/tokens"
	check "the token back: it signs again" pki --pki "$H" crl --pass-fd 3 3<pin
	# Another key in the token than the CA's: refused.
	check "a second key in the token" pkcs11-tool --module "$SOFTHSM_LIB" \
	    --token-label signet-ca --login --pin 246810 --keypairgen \
	    --key-type EC:prime256v1 --label other --id 02
	cp -a "$H" "$WORK/hsm-other"
	printf '%s\n' 'pkcs11:token=signet-ca;object=other;type=private' \
	    >"$WORK/hsm-other/private/ca.pkcs11"
	refute_with "a token key that is not the CA's refused" 'is not the key of' \
	    pki --pki "$WORK/hsm-other" crl --pass-fd 3 3<pin
	unset SOFTHSM2_CONF
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
