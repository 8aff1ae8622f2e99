#!/bin/bash
# SPDX-License-Identifier: ISC
# The roster key protected as the CA key is: signet-pki init and roster
# init seal keys/roster.key with the CA key's passphrase (read once), and
# roster sign hands that passphrase to signetctl through a pipe; a wrong
# or missing passphrase refuses and changes nothing; --nopass keeps the
# raw key and the old workflow. And signetctl roster sign itself: a sealed
# key opened with --passphrase-fd, a wrong passphrase writing nothing, a
# raw key as before.
set -u

. "$(dirname "$0")/pki_lib.sh"
CTL=$SIGNETCTL
# sctl ARGS...: signetctl without a terminal.
sctl() {
	setsid -w "$CTL" "$@"
}
mode() {
	stat -c %a "$1"
}
# said TEXT: the last check's command said TEXT (a copy of its output:
# check itself rewrites $WORK/out).
said() {
	cp "$WORK/out" "$WORK/said"
	check "$2" grep -qF -- "$1" "$WORK/said"
}
# is_sealed FILE: an operator key file sealed with a passphrase (kdf 1).
is_sealed() {
	local line
	line=$(head -n 1 "$1")
	case $line in
	"signet-operator-key-v1 "*) ;;
	*) return 1 ;;
	esac
	[ "$(printf '%s' "${line#signet-operator-key-v1 }" | cut -c1-4 |
	    openssl base64 -d -A | od -An -tu1 -N1 | tr -d ' ')" = 1 ]
}

printf 'correct horse battery\n' >"$WORK/pass"
printf 'wrong horse battery\n' >"$WORK/bad"
printf 'a new CA passphrase\n' >"$WORK/newpass"
mkdir "$WORK/ops"
O=$WORK/ops
for n in alice bob; do
	(cd "$O" && "$CTL" keygen --no-passphrase "$n" >/dev/null) ||
	    not_ok "keygen $n"
done

# --- signetctl roster sign with a sealed key ---------------------------------
K=$WORK/k
mkdir "$K"
(cd "$K" && "$CTL" keygen admin --passphrase-fd 3 3<"$WORK/pass" >/dev/null) ||
    not_ok "keygen a sealed admin key"
(cd "$K" && "$CTL" keygen --raw rawadmin >/dev/null) ||
    not_ok "keygen a raw admin key"
(cd "$K" && "$CTL" keygen --no-passphrase openadmin >/dev/null) ||
    not_ok "keygen an unsealed operator key"
check "the admin key is sealed" is_sealed "$K/admin.key"
cat "$K/admin.pub" "$K/rawadmin.pub" "$K/openadmin.pub" >"$K/pinned.pub"
check "a draft" "$CTL" roster edit "$K/draft.json" add alice \
    --key "$O/alice.pub"
cp "$K/draft.json" "$K/draft.orig"
refute_with "a sealed key, wrong passphrase: refused" "wrong passphrase" \
    sctl roster sign "$K/draft.json" --key "$K/admin.key" \
    --out "$K/roster.json" --keys "$K/pinned.pub" --passphrase-fd 3 \
    3<"$WORK/bad"
said "nothing was written" "it says nothing was written"
check "it wrote no roster" [ ! -e "$K/roster.json" ]
refute_with "a wrong passphrase with --days: refused" "wrong passphrase" \
    sctl roster sign "$K/draft.json" --key "$K/admin.key" \
    --out "$K/roster.json" --days 20 --passphrase-fd 3 3<"$WORK/bad"
check "the draft was not restamped" cmp "$K/draft.json" "$K/draft.orig"
check "wrong passphrase exits 1" sh -c "
    setsid -w '$CTL' roster sign '$K/draft.json' --key '$K/admin.key' \
        --out '$K/roster.json' --passphrase-fd 3 3<'$WORK/bad'
    [ \$? -eq 1 ]"
refute_with "a sealed key with no descriptor and no terminal: refused" \
    "no terminal" sctl roster sign "$K/draft.json" --key "$K/admin.key" \
    --out "$K/roster.json" </dev/null
check "still no roster" [ ! -e "$K/roster.json" ]
refute_with "--passphrase-fd of a closed descriptor" "not an open descriptor" \
    sctl roster sign "$K/draft.json" --key "$K/admin.key" \
    --out "$K/roster.json" --passphrase-fd 9 9<&-
refute_with "--passphrase-fd not a number" "not an open descriptor" \
    sctl roster sign "$K/draft.json" --key "$K/admin.key" \
    --out "$K/roster.json" --passphrase-fd x
check "a sealed key, right passphrase: signed" \
    sctl roster sign "$K/draft.json" --key "$K/admin.key" \
    --out "$K/roster.json" --keys "$K/pinned.pub" --passphrase-fd 3 \
    3<"$WORK/pass"
said "with sealed key" "it says the key was sealed"
check "the roster verifies under the sealed key's public half" \
    "$CTL" roster show "$K/roster.json" --keys "$K/admin.pub"
check "a raw key signs as before (k-of-n)" \
    sctl roster sign "$K/draft.json" --key "$K/rawadmin.key" \
    --out "$K/roster.json" --keys "$K/pinned.pub"
check "an unsealed operator key file signs too" \
    sctl roster sign "$K/draft.json" --key "$K/openadmin.key" \
    --out "$K/roster.json" --keys "$K/pinned.pub"
check "three signatures verify" \
    "$CTL" roster show "$K/roster.json" --keys "$K/pinned.pub" --threshold 3
check "the sealed key asked on a terminal" \
    tty_run "correct horse battery" "$CTL" roster sign "$K/draft.json" \
    --key "$K/admin.key" --out "$K/roster2.json"
check "the prompt names the key" grep -q "passphrase for $K/admin.key" \
    "$WORK/tty.out"
cp "$K/admin.key" "$K/loose.key"
chmod 644 "$K/loose.key"
refute_with "a sealed key readable by others: refused" "chmod 600" \
    sctl roster sign "$K/draft.json" --key "$K/loose.key" \
    --out "$K/roster3.json" --passphrase-fd 3 3<"$WORK/pass"
printf 'signet-operator-key-v1 AQ@@\n' >"$K/broken.key"
chmod 600 "$K/broken.key"
refute_with "a damaged operator key file: refused" "broken.key" \
    sctl roster sign "$K/draft.json" --key "$K/broken.key" \
    --out "$K/roster3.json" --passphrase-fd 3 3<"$WORK/pass"
check "no roster3 was written" [ ! -e "$K/roster3.json" ]

# --- init with a passphrase seals the roster key ------------------------------
P=$WORK/pki
R=$P/roster
check "init --pass-fd 3" pki init "$P" --pass-fd 3 3<"$WORK/pass"
check "init says the roster key is sealed" \
    grep -q "roster key is sealed with the CA key's passphrase" "$WORK/last"
check "keys/roster.key is sealed, not raw" is_sealed "$P/keys/roster.key"
check "keys/roster.key is 0600" [ "$(mode "$P/keys/roster.key")" = 600 ]
check "roster/pinned.pub pins keys/roster.pub" \
    cmp "$R/pinned.pub" "$P/keys/roster.pub"
check "the sealed key does not open with the wrong passphrase" sh -c "
    ! setsid -w '$CTL' roster sign '$K/draft.json' --key '$P/keys/roster.key' \
        --out '$WORK/x.json' --passphrase-fd 3 3<'$WORK/bad'"
export SIGNET_PKI=$P
check "roster add alice" pki roster add alice --key "$O/alice.pub"
sum=$(tree_sum "$P")
refute_with "roster sign, wrong passphrase: refused" "wrong passphrase" \
    pki roster sign --pass-fd 3 3<"$WORK/bad"
check "it names the key" grep -q "keys/roster.key" "$WORK/last"
refute_with "roster sign --days, wrong passphrase: refused" \
    "wrong passphrase" pki roster sign --days 30 --pass-fd 3 3<"$WORK/bad"
refute_with "roster sign, no --pass-fd and no terminal: refused" \
    "give --pass-fd N, or run on a terminal" pki roster sign
refute_with "roster sign --pass-fd 3 with nothing on 3" "nothing there" \
    pki roster sign --pass-fd 3 3</dev/null
check "the refusals changed nothing" [ "$(tree_sum "$P")" = "$sum" ]
check "no roster published" [ ! -e "$R/roster.json" ]
check "no temp dirs or lock left" \
    [ -z "$(find "$P" -maxdepth 1 -name '.*' ! -name . -print)" ]
check "roster sign --pass-fd 3" pki roster sign --pass-fd 3 3<"$WORK/pass"
check "roster.json published, mode 0644" [ "$(mode "$R/roster.json")" = 644 ]
check "it verifies under the pinned key" \
    "$CTL" roster show "$R/roster.json" --keys "$R/pinned.pub"
check "alice is in it" sh -c "
    '$CTL' roster show '$R/roster.json' -o json | grep -q '\"name\":\"alice\"'"
check "roster list verifies it" pki roster list
check "roster sign on a terminal asks once" \
    tty_run "correct horse battery" sh "$PKI_SH" roster sign --days 30
check "the prompt names the roster key" \
    grep -q "passphrase of the roster key $P/keys/roster.key" "$WORK/tty.out"
check "the restamped roster verifies" \
    "$CTL" roster show "$R/roster.json" --keys "$R/pinned.pub"
check "the passphrase never reached signetctl's argv" \
    sh -c "! grep -rq 'correct horse' '$P'"

# --- roster init on a PKI with an encrypted CA key --------------------------------
Q=$WORK/pki2
check "a second PKI" pki init "$Q" --pass-fd 3 3<"$WORK/pass"
rm -rf "$Q/roster" "$Q/keys/roster.key" "$Q/keys/roster.pub"
sum=$(tree_sum "$Q")
refute_with "roster init, wrong CA passphrase: refused" "wrong CA passphrase" \
    pki --pki "$Q" roster init --pass-fd 3 3<"$WORK/bad"
refute_with "roster init, no passphrase and no terminal: refused" \
    "give --pass-fd N" pki --pki "$Q" roster init
refute_with "roster init --nopass --pass-fd: refused" "exclude each other" \
    pki --pki "$Q" roster init --nopass --pass-fd 3 3<"$WORK/pass"
check "the refusals changed nothing" [ "$(tree_sum "$Q")" = "$sum" ]
check "roster init --pass-fd 3" pki --pki "$Q" roster init --pass-fd 3 \
    3<"$WORK/pass"
check "roster init made a sealed key" is_sealed "$Q/keys/roster.key"
check "roster init says so" \
    grep -q "roster key is sealed with the CA key's passphrase" "$WORK/last"
mv "$Q/private/ca.key" "$WORK/ca.key.offline"
rm -rf "$Q/roster" "$Q/keys/roster.key" "$Q/keys/roster.pub"
refute_with "roster init with the CA key offline: refused" "--nopass" \
    pki --pki "$Q" roster init --pass-fd 3 3<"$WORK/pass"
check "roster init --nopass with the CA key offline" \
    pki --pki "$Q" roster init --nopass
check "it made a raw key" sh -c "! head -n 1 '$Q/keys/roster.key' |
    grep -q '^signet-operator-key-v1 '"
check "it says the roster key is not encrypted" \
    grep -q "roster key is not encrypted" "$WORK/last"
mv "$WORK/ca.key.offline" "$Q/private/ca.key"

# --- set-pass leaves the roster key's passphrase ----------------------------------
check "set-pass" pki set-pass --pass-fd 3 3<"$WORK/pass" --new-pass-fd 4 \
    4<"$WORK/newpass"
check "set-pass says the roster key keeps the old passphrase" \
    grep -q "roster.key is still sealed with the old passphrase" "$WORK/last"
check "roster add bob" pki roster add bob --key "$O/bob.pub"
refute_with "the new CA passphrase does not open the roster key" \
    "wrong passphrase" pki roster sign --pass-fd 3 3<"$WORK/newpass"
check "the old one still signs" pki roster sign --pass-fd 3 3<"$WORK/pass"
check "the roster with bob verifies" sh -c "
    '$CTL' roster show '$R/roster.json' --keys '$R/pinned.pub' -o json |
        grep -q '\"name\":\"bob\"'"

# --- an unencrypted PKI: the raw key, as before ---------------------------------
L=$WORK/lab
check "init --nopass" pki init "$L" --nopass
check "init says the roster key is not encrypted" \
    grep -q "roster key is not encrypted (--nopass" "$WORK/last"
check "keys/roster.key is raw (no operator key header)" sh -c "
    ! head -n 1 '$L/keys/roster.key' | grep -q '^signet-operator-key-v1 '"
check "keys/roster.key is 0600" [ "$(mode "$L/keys/roster.key")" = 600 ]
check "roster add alice (lab)" pki --pki "$L" roster add alice \
    --key "$O/alice.pub"
sum=$(tree_sum "$L")
refute_with "roster sign --pass-fd with a raw key: refused" "does not apply" \
    pki --pki "$L" roster sign --pass-fd 3 3<"$WORK/pass"
check "the refusal changed nothing" [ "$(tree_sum "$L")" = "$sum" ]
check "roster sign, no passphrase (lab)" pki --pki "$L" roster sign
check "the lab roster verifies" \
    "$CTL" roster show "$L/roster/roster.json" --keys "$L/roster/pinned.pub"
rm -rf "$L/roster" "$L/keys/roster.key" "$L/keys/roster.pub"
refute_with "roster init --pass-fd with an unencrypted CA key" \
    "does not apply" pki --pki "$L" roster init --pass-fd 3 3<"$WORK/pass"
check "roster init (lab)" pki --pki "$L" roster init
check "the lab's new roster key is raw" sh -c "
    ! head -n 1 '$L/keys/roster.key' | grep -q '^signet-operator-key-v1 '"

echo "passed: $PASS, failed: $FAIL"
[ "$FAIL" -eq 0 ]
