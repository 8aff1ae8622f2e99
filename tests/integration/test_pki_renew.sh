#!/bin/bash
# SPDX-License-Identifier: ISC
# End-to-end test of pki/signet-pki through the years: renew (same key, new
# key, --revoke-old, --csr), revoke that archives so a name can be issued
# again, revoke --serial, list and list -o json, expiring, the lock (a live
# owner refuses, a dead one is taken over) and the journal that rolls a
# crashed renewal back (the SIGNET_PKI_TEST_CRASH_AT test hook).
set -u

SRC=${SIGNET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SIGNET_BUILD_DIR:-$SRC/build}
PKI_SH=$SRC/pki/signet-pki
export SIGNETCTL=${SIGNETCTL:-$BUILD/cli/signetctl}

for t in openssl python3; do
	if ! command -v "$t" >/dev/null; then
		echo "SKIP: $t not found"
		exit 77
	fi
done
if [ ! -x "$SIGNETCTL" ]; then
	echo "SKIP: $SIGNETCTL not built"
	exit 77
fi

WORK=$(mktemp -d)
BG=""
trap 'if [ -n "$BG" ]; then kill -CONT "$BG"; kill -9 "$BG"; fi 2>/dev/null
    rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
unset SIGNET_PKI SIGNET_PKI_TEST_CRASH_AT SIGNET_PKI_TEST_STOP_AT

PASS=0
FAIL=0
ok() {
	PASS=$((PASS + 1))
	echo "ok   - $1"
}
not_ok() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $1"
	if [ -s "$WORK/out" ]; then
		sed 's/^/       | /' "$WORK/out" | head -20
	fi
}
# check NAME CMD...: the command succeeds.
check() {
	local name=$1
	shift
	if "$@" >"$WORK/out" 2>&1; then ok "$name"; else not_ok "$name"; fi
}
# refute NAME CMD...: the command fails.
refute() {
	local name=$1
	shift
	if "$@" >"$WORK/out" 2>&1; then not_ok "$name"; else ok "$name"; fi
}
# pki ARGS...: run the script; its output is also kept in $WORK/last, and
# its exit status in $WORK/rc.
pki() {
	local rc=0
	sh "$PKI_SH" "$@" >"$WORK/last" 2>&1 || rc=$?
	echo "$rc" >"$WORK/rc"
	cat "$WORK/last"
	return "$rc"
}
# said TEXT: the last command's output holds TEXT (fixed string).
said() {
	grep -qF -- "$1" "$WORK/last"
}
# A checksum of a whole tree: names, contents and modes.
tree_sum() {
	(
		cd "$1" &&
		    find . -printf '%y %m %p\n' | sort &&
		    find . -type f -print0 | sort -z | xargs -0 sha256sum
	) | sha256sum
}
# refused NAME TEXT CMD...: CMD fails saying TEXT and changes nothing in $P.
refused() {
	local name=$1 text=$2 before
	shift 2
	before=$(tree_sum "$P")
	refute "$name: refused" "$@"
	check "$name: says $(printf '%q' "$text")" said "$text"
	check "$name: changed nothing" [ "$(tree_sum "$P")" = "$before" ]
}
serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2
}
pub_of_cert() {
	openssl x509 -in "$1" -noout -pubkey
}
pub_of_key() {
	openssl pkey -in "$1" -pubout
}
# verify FILE: against the CA and the current CRL.
verify() {
	openssl verify -CAfile "$P/ca.pem" -crl_check -CRLfile "$P/crl.pem" \
	    "$1"
}

P=$WORK/pki
export SIGNET_PKI=$P
check "init --nopass" pki init "$P" --nopass
check "server issued" pki server relay --dns relay.example.org --dns relay \
    --ip 10.1.2.3 --ip ::1
check "agent issued" pki agent web-01
check "operator issued" pki operator alice
check "auditor issued" pki auditor bob

# --- renew with the same key, each role ------------------------------------
for n in relay web-01 alice bob; do
	old=$(serial_of "$P/issued/$n.pem")
	cp "$P/issued/$n.pem" "$WORK/$n.old.pem"
	subj=$(openssl x509 -in "$P/issued/$n.pem" -noout -subject)
	check "renew $n" pki renew "$n"
	new=$(serial_of "$P/issued/$n.pem")
	check "renew $n: a new serial" [ "$new" != "$old" ]
	check "renew $n: the same subject" [ "$subj" = \
	    "$(openssl x509 -in "$P/issued/$n.pem" -noout -subject)" ]
	check "renew $n: the same key" cmp <(pub_of_cert "$P/issued/$n.pem") \
	    <(pub_of_key "$P/private/$n.key")
	check "renew $n: the old certificate moved to renewed/" \
	    cmp "$WORK/$n.old.pem" "$P/renewed/certs_by_serial/$old.crt"
	check "renew $n: the new one in certs_by_serial/" \
	    cmp "$P/issued/$n.pem" "$P/certs_by_serial/$new.pem"
	check "renew $n: the old one stays in certs_by_serial/" \
	    cmp "$WORK/$n.old.pem" "$P/certs_by_serial/$old.pem"
	check "renew $n: the request in reqs/" cmp \
	    <(openssl req -in "$P/reqs/$n.req" -noout -pubkey) \
	    <(pub_of_key "$P/private/$n.key")
	check "renew $n: the old certificate still verifies" \
	    verify "$P/certs_by_serial/$old.pem"
	check "renew $n: the new certificate verifies" \
	    verify "$P/issued/$n.pem"
	eval "OLD_${n//-/_}=$old"
done
check "renew relay: the same subjectAltNames" sh -c "openssl x509 \
    -in '$P/issued/relay.pem' -noout -ext subjectAltName | grep -qx \
    '  *DNS:relay.example.org, DNS:relay, IP Address:10.1.2.3, IP \
Address:0:0:0:0:0:0:0:1'"
check "renew relay: serverAuth" sh -c "openssl x509 -noout \
    -in '$P/issued/relay.pem' -ext extendedKeyUsage | grep -q 'Server Auth'"
check "renew web-01: clientAuth" sh -c "openssl x509 -noout \
    -in '$P/issued/web-01.pem' -ext extendedKeyUsage | grep -q 'Client Auth'"

check "list runs" pki list
cp "$WORK/last" "$WORK/list"
# shellcheck disable=SC2154 # set by eval above
check "list: the old serial superseded" \
    grep -Eq "^alice +operator +$OLD_alice +[0-9TZ:-]+ +superseded\$" \
    "$WORK/list"
check "list: the new serial valid" grep -Eq "^alice +operator +$(serial_of \
    "$P/issued/alice.pem") +[0-9TZ:-]+ +valid\$" "$WORK/list"
check "list: two rows per renewed name" \
    [ "$(grep -c '^web-01 ' "$WORK/list")" = 2 ]
check "list: the CRL's row" grep -Eq '^crl +crl +' "$WORK/list"

# --- renew --new-key, --revoke-old -----------------------------------------
res_pub=$(sha256sum <"$P/keys/agents/web-01.pub")
res_key=$(sha256sum <"$P/keys/agents/web-01.key")
old=$(serial_of "$P/issued/web-01.pem")
cp "$P/private/web-01.key" "$WORK/web-01.oldkey"
check "renew web-01 --new-key --revoke-old" \
    pki renew web-01 --new-key --revoke-old
check "--new-key: a new key" sh -c "! cmp -s '$WORK/web-01.oldkey' \
    '$P/private/web-01.key'"
check "--new-key: mode 0600" [ "$(stat -c %a "$P/private/web-01.key")" = 600 ]
check "--new-key: it matches the certificate" cmp \
    <(pub_of_cert "$P/issued/web-01.pem") <(pub_of_key "$P/private/web-01.key")
check "--new-key: the old key in renewed/private_by_serial/OLD.key" \
    cmp "$WORK/web-01.oldkey" "$P/renewed/private_by_serial/$old.key"
check "the agent's result key is left as it is" [ "$res_pub$res_key" = \
    "$(sha256sum <"$P/keys/agents/web-01.pub")$(sha256sum \
    <"$P/keys/agents/web-01.key")" ]
refute "--revoke-old: the old certificate is revoked" \
    verify "$P/certs_by_serial/$old.pem"
# shellcheck disable=SC2154 # set by eval above
refute "--revoke-old: the first one too" \
    verify "$P/certs_by_serial/$OLD_web_01.pem"
check "--revoke-old: the new one verifies" verify "$P/issued/web-01.pem"
check "--revoke-old: the CRL lists the old serial" sh -c "openssl crl \
    -in '$P/crl.pem' -noout -text | grep -q 'Serial Number: $old'"

# --- renew --csr (the check is sign-req's csr_check, lib/request.sh) ---------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$WORK/bob.key" -subj "/CN=bob/OU=auditor" \
    -out "$WORK/bob.csr" 2>/dev/null
if grep -q '^csr_check()' "$SRC"/pki/lib/*.sh; then
	check "renew bob --csr" pki renew bob --csr "$WORK/bob.csr"
	check "--csr: the certificate carries the request's key" cmp \
	    <(pub_of_cert "$P/issued/bob.pem") <(pub_of_key "$WORK/bob.key")
	check "--csr: private/bob.key moved to renewed/" \
	    [ ! -e "$P/private/bob.key" ]
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$WORK/x.key" -subj "/CN=bob/OU=operator" \
	    -out "$WORK/bob-op.csr" 2>/dev/null
	refused "renew bob --csr with another role" "signet-pki: " \
	    pki renew bob --csr "$WORK/bob-op.csr"
else
	refused "renew --csr without csr_check" "no csr_check" \
	    pki renew bob --csr "$WORK/bob.csr"
fi

# --- bad input: each refused, nothing changed ------------------------------
refused "renew of an unknown name" "no certificate was ever issued to nobody" \
    pki renew nobody
refused "renew --csr and --new-key" "not both" \
    pki renew alice --new-key --csr "$WORK/bob.csr"
check "usage errors exit 2" [ "$(cat "$WORK/rc")" = 2 ]
refused "renew --crl-days without --revoke-old" "goes with --revoke-old" \
    pki renew alice --crl-days 7
refused "renew --days 0" "not a positive whole number" \
    pki renew alice --days 0
refused "renew --days 99999" "too long" pki renew alice --days 99999
refused "renew --serial" "does not apply" pki renew alice --serial 01
refused "renew of a bad name" "bad name" pki renew 'A/b'
refused "renew with no name" "missing argument" pki renew
refused "renew --csr of a missing file" "no such file" \
    pki renew alice --csr "$WORK/none.csr"
refused "renew --new-key twice" "given twice" \
    pki renew alice --new-key --new-key
refused "renew --new-key=x" "takes no value" pki renew alice --new-key=x
mv "$P/private/alice.key" "$WORK/alice.key"
refused "renew of a name whose key is not in the PKI" \
    "renew with --csr FILE" pki renew alice
mv "$WORK/alice.key" "$P/private/alice.key"
mv "$P/private/ca.key" "$WORK/ca.key"
refused "renew without the CA key" "ca.key is missing" pki renew alice
mv "$WORK/ca.key" "$P/private/ca.key"
refused "issuing a live name again" "renew it with \"signet-pki renew alice\"" \
    pki operator alice
refused "a live name in another role" "already has a valid certificate" \
    pki agent alice

# --- revoke --serial, revoke archives, the name issued again -----------------
check "operator carol" pki operator carol
c1=$(serial_of "$P/issued/carol.pem")
check "renew carol" pki renew carol
c2=$(serial_of "$P/issued/carol.pem")
refused "revoke --serial of the newest" "newest certificate" \
    pki revoke carol --serial "$c2"
refused "revoke --serial that is not carol's" "no certificate with serial" \
    pki revoke carol --serial "$OLD_alice"
refused "revoke --serial that is not hex" "not a serial" \
    pki revoke carol --serial xyz
check "revoke carol --serial OLD (lower case)" \
    pki revoke carol --serial "$(printf '%s' "$c1" | tr 'A-F' 'a-f')"
refute "the old serial is revoked" verify "$P/certs_by_serial/$c1.pem"
check "the newest still verifies" verify "$P/issued/carol.pem"
check "revoke --serial archives nothing" sh -c "[ -f '$P/issued/carol.pem' ] \
    && [ -f '$P/private/carol.key' ] && [ ! -e '$P/revoked' ]"
refused "revoke --serial twice" "already revoked" \
    pki revoke carol --serial "$c1"
check "renew carol after revoking its old serial" pki renew carol
c3=$(serial_of "$P/issued/carol.pem")
cp "$P/private/carol.key" "$WORK/carol.key"
cp "$P/reqs/carol.req" "$WORK/carol.req"
check "revoke carol" pki revoke carol
refute "revoke: the newest is revoked" verify "$P/certs_by_serial/$c3.pem"
refute "revoke: every valid one is revoked" verify "$P/certs_by_serial/$c2.pem"
check "revoke: the files archived by the newest serial" sh -c "
    cmp '$P/certs_by_serial/$c3.pem' '$P/revoked/certs_by_serial/$c3.crt' &&
    cmp '$WORK/carol.key' '$P/revoked/private_by_serial/$c3.key' &&
    cmp '$WORK/carol.req' '$P/revoked/reqs_by_serial/$c3.req' &&
    [ ! -e '$P/issued/carol.pem' ] && [ ! -e '$P/private/carol.key' ] &&
    [ ! -e '$P/reqs/carol.req' ]"
refused "renew of a revoked name" "is revoked; a revoked name is not renewed" \
    pki renew carol
refused "revoke of a revoked, archived name" "nothing to do" pki revoke carol
check "the revoked name is issued again" pki auditor carol
check "with a new serial" [ "$(serial_of "$P/issued/carol.pem")" != "$c3" ]
check "and verifies" verify "$P/issued/carol.pem"
check "revoke web-01 (an agent)" pki revoke web-01
w=$(awk -F '\t' '$6 ~ /CN=web-01\// { s = $4 } END { print s }' \
    "$P/index.txt")
check "revoke of an agent archives its result key" sh -c "
    [ -f '$P/revoked/keys_by_serial/$w.result.pub' ] &&
    [ -f '$P/revoked/keys_by_serial/$w.result.key' ] &&
    [ ! -e '$P/keys/agents/web-01.pub' ]"
check "the agent is enrolled again" pki agent web-01

# --- list -o json ----------------------------------------------------------
check "list -o json" pki list -o json
sed -n '/^\[/,$p' "$WORK/last" >"$WORK/list.json"
check "list -o json is one JSON document" python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
assert isinstance(d, list) and len(d) > 10, d
for o in d:
    assert set(o) <= {"name", "role", "serial", "not_before", "not_after",
                      "status", "newest"}, o
    for k in ("name", "role", "serial", "not_after", "status", "newest"):
        assert k in o, (k, o)
    assert iso.match(o["not_after"]), o
    assert "not_before" not in o or iso.match(o["not_before"]), o
    assert o["status"] in ("valid", "superseded", "revoked", "expired"), o
    assert isinstance(o["newest"], bool), o
assert d[0]["role"] == "ca" and d[1]["role"] == "crl", d[:2]
car = [o for o in d if o["name"] == "carol"]
assert [o["status"] for o in car] == ["revoked"] * 3 + ["valid"], car
assert [o["newest"] for o in car] == [False] * 3 + [True], car
assert car[-1]["role"] == "auditor", car
al = [o for o in d if o["name"] == "alice"]
assert [o["status"] for o in al] == ["superseded", "valid"], al
' "$WORK/list.json"
# Each certificate's not_before is its own notBefore, as openssl reads it
# (list reads them all in one openssl run).
check "list -o json: every not_before is the certificate's notBefore" \
    python3 -c '
import datetime, json, subprocess, sys
d = json.load(open(sys.argv[1]))
n = 0
for o in d[2:]:
    out = subprocess.run(["openssl", "x509", "-noout", "-startdate", "-in",
        sys.argv[2] + "/certs_by_serial/" + o["serial"] + ".pem"],
        capture_output=True, text=True, check=True).stdout
    t = datetime.datetime.strptime(out.strip().split("=", 1)[1],
        "%b %d %H:%M:%S %Y GMT").strftime("%Y-%m-%dT%H:%M:%SZ")
    assert o.get("not_before") == t, (o, t)
    n += 1
assert n > 10, n
' "$WORK/list.json" "$P"
refused "list -o xml" "give text or json" pki list -o xml
# Odd bytes in the index (it is a file: hostile) still give valid JSON.
cp "$P/index.txt" "$WORK/index.save"
printf 'V\t491231235959Z\t\t0A\tunknown\t/CN=a"b\\c\001d\tx\302/OU=op"\n' \
    >>"$P/index.txt"
check "list -o json of an odd index" pki list -o json
sed -n '/^\[/,$p' "$WORK/last" >"$WORK/odd.json"
check "is valid JSON" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert any(o["serial"] == "0A" for o in d), d
' "$WORK/odd.json"
cp "$WORK/index.save" "$P/index.txt"

# --- expiring --------------------------------------------------------------
Q=$WORK/pki2
check "a second PKI" pki init "$Q" --nopass
check "a 5-day operator" pki --pki "$Q" operator short --days 5
check "a 365-day operator" pki --pki "$Q" operator long --days 365
check "a 5-day agent to be revoked" pki --pki "$Q" agent gone --days 5
check "revoked" pki --pki "$Q" revoke gone
pki --pki "$Q" expiring >/dev/null
check "expiring: exit 1 when something expires" [ "$(cat "$WORK/rc")" = 1 ]
check "expiring lists the 5-day one" grep -Eq '^short +operator +.* [45] expiring$' \
    "$WORK/last"
check "not the 365-day one" sh -c "! grep -q '^long ' '$WORK/last'"
check "not the revoked one" sh -c "! grep -q '^gone ' '$WORK/last'"
pki --pki "$Q" expiring --days 3 >/dev/null
check "expiring --days 3: exit 0" [ "$(cat "$WORK/rc")" = 0 ]
check "says nothing expires" said "nothing expires within 3 days"
pki --pki "$Q" expiring --days 400 >/dev/null
check "expiring --days 400: the long one" grep -q '^long ' "$WORK/last"
check "not the CA, nor the CRL 30 days ahead (its window is 7 days)" \
    sh -c "! grep -Eq '^(ca|crl) ' '$WORK/last'"
pki --pki "$Q" expiring --days 4000 >/dev/null
check "expiring --days 4000: the CA" grep -q '^ca  *ca ' "$WORK/last"
check "renew short --days 365" pki --pki "$Q" renew short --days 365
pki --pki "$Q" expiring >/dev/null
check "a superseded certificate is not listed: exit 0" \
    [ "$(cat "$WORK/rc")" = 0 ]
check "crl --days 5" pki --pki "$Q" crl --days 5
pki --pki "$Q" expiring >/dev/null
check "expiring lists a CRL that expires" sh -c "[ \"\$(cat '$WORK/rc')\" = 1 ] &&
    grep -q '^crl ' '$WORK/last'"
check "crl --days 30" pki --pki "$Q" crl --days 30
# An expired certificate, signed by hand in the past with the PKI's config.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$WORK/old.key" -subj "/CN=old/OU=operator" \
    -out "$WORK/old.csr" 2>/dev/null
openssl rand -hex 16 >"$Q/serial"
printf '[ ext ]\nbasicConstraints = critical, CA:FALSE\n' >"$WORK/ext.cnf"
check "an expired certificate (by hand)" env SIGNET_PKI_DIR="$Q" openssl ca \
    -batch -config "$Q/openssl.cnf" -in "$WORK/old.csr" -notext \
    -startdate 20200101000000Z -enddate 20200201000000Z \
    -extfile "$WORK/ext.cnf" -extensions ext -out "$Q/issued/old.pem"
pki --pki "$Q" expiring >/dev/null
check "expiring lists it EXPIRED" sh -c "[ \"\$(cat '$WORK/rc')\" = 1 ] &&
    grep -Eq '^old +operator +.*2020-02-01T00:00:00Z +-[0-9]+ EXPIRED$' \
    '$WORK/last'"
pki --pki "$Q" list >/dev/null
check "list shows it expired" grep -Eq '^old +operator .* expired$' "$WORK/last"
P=$Q refused "renew of an expired name" "has expired" pki --pki "$Q" renew old
P=$Q refused "a name expired but not archived is not issued anew" \
    "revoke old" pki --pki "$Q" operator old
check "revoke of an expired name archives it" pki --pki "$Q" revoke old
check "then it is issued again" pki --pki "$Q" operator old
for a in "--days abc" "--days 0" "--frob" "extra"; do
	# shellcheck disable=SC2086 # words on purpose
	pki --pki "$Q" expiring $a >/dev/null
	check "expiring $a: exit 2" [ "$(cat "$WORK/rc")" = 2 ]
done
pki --pki "$WORK/none" expiring >/dev/null
check "expiring of a missing PKI: exit 2, not 1" [ "$(cat "$WORK/rc")" = 2 ]

# --- the lock ----------------------------------------------------------------
sleep 1000 &
live=$!
mkdir "$P/.lock" && echo "$live" >"$P/.lock/pid"
refused "a live owner's lock" "another signet-pki (pid $live) is working" \
    pki renew alice
kill "$live"
wait "$live" 2>/dev/null
check "a dead owner's lock is taken over" pki renew alice
check "and says so" said "took over the lock $P/.lock of pid $live"
check "the lock is gone after" [ ! -e "$P/.lock" ]
mkdir "$P/.lock"
refused "a lock without a pid" "holds no owner's pid" pki renew alice
rmdir "$P/.lock"

# A real signet-pki holding the lock, stopped (SIGSTOP) in the middle.
SIGNET_PKI_TEST_STOP_AT=after-db sh "$PKI_SH" renew relay >"$WORK/bg" 2>&1 &
BG=$!
while [ -d "/proc/$BG" ] &&
    [ "$(awk '{ print $3 }' "/proc/$BG/stat" 2>/dev/null)" != T ]; do
	sleep 0.1
done
check "the stopped renewal holds the lock with its pid" \
    [ "$(cat "$P/.lock/pid")" = "$BG" ]
refused "a second command while one runs" \
    "another signet-pki (pid $BG) is working on it" pki revoke alice
kill -CONT "$BG"
rc=0
wait "$BG" || rc=$?
BG=""
check "the stopped renewal then finishes" [ "$rc" = 0 ]

# --- crashes: the journal rolls a half-done change back -----------------------
R=$WORK/pki3
check "a third PKI" pki init "$R" --nopass
check "an operator" pki --pki "$R" operator dan
check "an agent" pki --pki "$R" agent h1
P=$R
for step in after-backup after-db after-move after-place; do
	sum=$(tree_sum "$R")
	idx=$(sha256sum <"$R/index.txt")
	pki --pki "$R" list >"$WORK/list.before"
	SIGNET_PKI_TEST_CRASH_AT=$step sh "$PKI_SH" --pki "$R" renew dan \
	    --new-key --revoke-old >"$WORK/out" 2>&1
	rc=$?
	check "crash at $step: killed (137)" [ "$rc" = 137 ]
	check "crash at $step: the journal is left" [ -f "$R/.journal" ]
	check "crash at $step: the lock is left" [ -f "$R/.lock/pid" ]
	check "crash at $step: list recovers" pki --pki "$R" list
	check "crash at $step: and says so" said "rolled back: the PKI is as it was"
	check "crash at $step: list as before" \
	    diff <(grep -v '^signet-pki: ' "$WORK/last") "$WORK/list.before"
	check "crash at $step: index.txt as before" \
	    [ "$(sha256sum <"$R/index.txt")" = "$idx" ]
	check "crash at $step: the whole PKI as before" \
	    [ "$(tree_sum "$R")" = "$sum" ]
done
sum=$(tree_sum "$R")
SIGNET_PKI_TEST_CRASH_AT=after-move sh "$PKI_SH" --pki "$R" revoke h1 \
    >"$WORK/out" 2>&1
check "crash of a revoke: renew h1 recovers it first" pki --pki "$R" renew h1
check "and says so" said "rolled back: the PKI is as it was before \"revoke h1\""
check "then renews" said "renewed h1"
check "renew dan after the crashes" pki --pki "$R" renew dan --new-key \
    --revoke-old
check "no journal, lock or temporary directory left" \
    [ -z "$(find "$R" -maxdepth 1 -name '.*' ! -name . -print)" ]
SIGNET_PKI_TEST_CRASH_AT=locked sh "$PKI_SH" --pki "$R" renew h1 \
    >"$WORK/out" 2>&1
check "a crash before any change: the next command takes the lock" \
    pki --pki "$R" crl
check "and says it left no change" said "left no unfinished change"
check "a journal without a lock is rolled back too" sh -c "
    SIGNET_PKI_TEST_CRASH_AT=after-place sh '$PKI_SH' --pki '$R' renew dan
    rm -r '$R/.lock' && sh '$PKI_SH' --pki '$R' list \
    2>&1 | grep -q 'rolled back'"
check "nothing left behind" \
    [ -z "$(find "$R" -maxdepth 1 -name '.*' ! -name . -print)" ]

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
