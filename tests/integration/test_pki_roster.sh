#!/bin/bash
# SPDX-License-Identifier: ISC
# signet-pki's roster commands end to end, with signetctl roster: init
# makes the roster key and the pinned set, add/remove edit the draft (and
# refuse what would make a bad roster, changing nothing), sign publishes,
# a second roster key adds its signature (k-of-n), list verifies, and the
# bundle carries keys/roster.pub and roster.json.
set -u

. "$(dirname "$0")/pki_lib.sh"
CTL=$SIGNETCTL
mode() {
	stat -c %a "$1"
}
# json_field FILE NAME: a number or string member of signetctl's JSON.
json_field() {
	sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",]*\\).*/\\1/p" "$1"
}

P=$WORK/pki
R=$P/roster

# --- init makes the roster key and the pinned set --------------------------
check "init" pki init "$P" --nopass
check "init made keys/roster.key 0600" [ "$(mode "$P/keys/roster.key")" = 600 ]
check "init made keys/roster.pub" [ -s "$P/keys/roster.pub" ]
check "roster/pinned.pub pins keys/roster.pub" \
    cmp "$R/pinned.pub" "$P/keys/roster.pub"
check "init says so" grep -q "roster/pinned.pub" "$WORK/last"
export SIGNET_PKI=$P
refute_with "roster init twice refused" "already exists" pki roster init

# roster init on a PKI made before the roster existed.
check "a second PKI" pki init "$WORK/old" --nopass
rm -rf "$WORK/old/roster" "$WORK/old/keys/roster.key" \
    "$WORK/old/keys/roster.pub"
refute_with "roster add before roster init refused" "roster init" \
    pki --pki "$WORK/old" roster add alice --key "$P/keys/action.pub"
check "roster init on an older PKI" pki --pki "$WORK/old" roster init
check "it made the key and the pinned set" \
    cmp "$WORK/old/roster/pinned.pub" "$WORK/old/keys/roster.pub"
refute "roster init with no signetctl fails" \
    env SIGNETCTL=/nonexistent sh "$PKI_SH" --pki "$WORK/old" roster init

# --- operators' keys ----------------------------------------------------------
mkdir "$WORK/ops"
for n in alice bob carol; do
	(cd "$WORK/ops" && "$CTL" keygen --no-passphrase "$n" >/dev/null) ||
	    not_ok "keygen $n"
done
O=$WORK/ops

# --- add, and what add refuses ------------------------------------------------
check "roster add alice" pki roster add alice --key "$O/alice.pub" \
    --groups sre,dba
check "the draft exists, mode 0644" [ "$(mode "$R/draft.json")" = 644 ]
check "add says version 1" grep -q "version 1, 1 operators" "$WORK/last"
check "roster add bob" pki roster add bob --key "$O/bob.pub"
sum=$(tree_sum "$P")
refute_with "adding alice twice refused" "operator alice is in the roster" \
    pki roster add alice --key "$O/carol.pub"
refute_with "alice's key under another name refused" \
    "is operator alice's already" pki roster add mallory --key "$O/alice.pub"
refute_with "removing an unknown name refused" "no operator dave" \
    pki roster remove dave
refute_with "a secret key as --key refused" "give the operator's .pub file" \
    pki roster add carol --key "$O/carol.key"
refute_with "a missing key file refused" "no such file" \
    pki roster add carol --key "$O/nobody.pub"
refute_with "add without --key refused" "give --key" pki roster add carol
refute_with "a bad name refused" "bad name" \
    pki roster add Carol --key "$O/carol.pub"
refute_with "a bad group refused" "not a valid group name" \
    pki roster add carol --key "$O/carol.pub" --groups 'sre,D B'
refute_with "--days 401 refused" "at most 400 days" \
    pki roster add carol --key "$O/carol.pub" --days 401
refute_with "an option that does not apply refused" "does not apply" \
    pki roster list --key "$O/carol.pub"
refute_with "an unknown roster command refused" "unknown command" \
    pki roster frob
check "refusals changed nothing" [ "$(tree_sum "$P")" = "$sum" ]
check "no temp dirs or lock left" \
    [ -z "$(find "$P" -maxdepth 1 -name '.*' ! -name . -print)" ]

# --- list before signing, sign, list ------------------------------------------
check "roster list before signing" pki roster list
check "list says not published" grep -q "not published yet" "$WORK/last"
check "list shows the draft's operators" \
    grep -Eq '^bob +[0-9a-f]{16} +never +-$' "$WORK/last"
check "roster sign" pki roster sign
check "roster.json published, mode 0644" [ "$(mode "$R/roster.json")" = 644 ]
check "signetctl verifies it under the pinned key" \
    "$CTL" roster show "$R/roster.json" --keys "$R/pinned.pub"
check "version 1 with alice and bob" sh -c "
    '$CTL' roster show '$R/roster.json' -o json >'$WORK/j' &&
    grep -q '\"version\":1,' '$WORK/j' &&
    grep -q '\"name\":\"alice\"' '$WORK/j' &&
    grep -q '\"groups\":\\[\"sre\",\"dba\"\\]' '$WORK/j' &&
    grep -q '\"name\":\"bob\"' '$WORK/j' &&
    grep -q '\"verified\":null' '$WORK/j'"
check "roster list" pki roster list
check "list shows it verified" \
    grep -q "verified: 1 of the required 1 signatures" "$WORK/last"
check "list shows alice with her groups" \
    grep -Eq '^alice +[0-9a-f]{16} +never +sre,dba$' "$WORK/last"
check "no unsigned changes listed" \
    sh -c "! grep -q 'unsigned changes' '$WORK/last'"
check "the draft is the signed payload" sh -c "
    [ \"\$('$CTL' roster show '$R/draft.json' -o json |
        sed -n 's/.*\"payload_sha256\":\"\\([0-9a-f]*\\)\".*/\\1/p')\" = \
      \"\$('$CTL' roster show '$R/roster.json' -o json |
        sed -n 's/.*\"payload_sha256\":\"\\([0-9a-f]*\\)\".*/\\1/p')\" ]"

# --- the version grows once per publication -------------------------------------
check "remove bob" pki roster remove bob
check "the first edit after signing bumps to version 2" \
    grep -q "version 2, 1 operators" "$WORK/last"
check "add carol" pki roster add carol --key "$O/carol.pub" --groups dba
check "a further edit before signing stays at version 2" \
    grep -q "version 2, 2 operators" "$WORK/last"
check "list shows unsigned changes" sh -c "
    sh '$PKI_SH' roster list | grep -q 'unsigned changes in the draft'"
check "sign version 2" pki roster sign
"$CTL" roster show "$R/roster.json" -o json >"$WORK/v2.json"
check "published version 2" [ "$(json_field "$WORK/v2.json" version)" = 2 ]
check "bob is gone, carol is in" sh -c "
    ! grep -q '\"name\":\"bob\"' '$WORK/v2.json' &&
    grep -q '\"name\":\"carol\"' '$WORK/v2.json'"

# --- a second roster key: k-of-n ----------------------------------------------
(cd "$O" && "$CTL" keygen --raw admin2 >/dev/null) || not_ok "keygen admin2"
refute_with "a key that is not pinned cannot sign" "is not a roster key" \
    pki roster sign --key "$O/admin2.key"
refute_with "pinning a secret key refused" "never a .key" \
    pki roster pin "$O/admin2.key"
check "pin admin2's key" pki roster pin "$O/admin2.pub"
check "two keys pinned" [ "$(grep -c . "$R/pinned.pub")" = 2 ]
refute_with "pinning it twice refused" "pinned already" \
    pki roster pin "$O/admin2.pub"
before=$(sha256sum <"$R/draft.json")
check "admin2 adds a signature" pki roster sign --key "$O/admin2.key"
check "it says added" grep -q "added to .*roster.json, 2 signatures" \
    "$WORK/last"
check "the draft is untouched by a second signature" \
    [ "$(sha256sum <"$R/draft.json")" = "$before" ]
check "2 of 2 pinned keys hold" "$CTL" roster show "$R/roster.json" \
    --keys "$R/pinned.pub" --threshold 2
check "the version is still 2" sh -c "'$CTL' roster show '$R/roster.json' \
    -o json | grep -q '\"version\":2,'"
check "the first key signing again replaces its own signature" \
    pki roster sign
check "still 2 signatures" grep -q "2 signatures" "$WORK/last"
check "still 2 of 2 hold" "$CTL" roster show "$R/roster.json" \
    --keys "$R/pinned.pub" --threshold 2
# Only the pinned key of the first admin: 1 of the required 2.
head -1 "$R/pinned.pub" >"$WORK/one.pub"
refute_with "a threshold of 2 with one pinned key fails" \
    "1 of the required 2" "$CTL" roster show "$R/roster.json" \
    --keys "$WORK/one.pub" --threshold 2
# An edit then re-sign by one key: the other's signature is gone.
check "add bob again" pki roster add bob --key "$O/bob.pub"
check "sign version 3 with the first key" pki roster sign
refute_with "version 3 holds 1 of the required 2" "1 of the required 2" \
    "$CTL" roster show "$R/roster.json" --keys "$R/pinned.pub" \
    --threshold 2
check "--days restamps and bumps" pki roster sign --days 30
"$CTL" roster show "$R/roster.json" -o json >"$WORK/v4.json"
check "published version 4" [ "$(json_field "$WORK/v4.json" version)" = 4 ]
check "expires 30 days after issue" [ $(($(json_field "$WORK/v4.json" \
    expires_at) - $(json_field "$WORK/v4.json" issued_at))) = 2592000000 ]
refute_with "sign --days 0 refused" "not a positive whole number" \
    pki roster sign --days 0

# --- a lost draft: the next edit starts from the published roster ----------
mv "$R/draft.json" "$WORK/draft.kept"
refute_with "with no draft, alice's published key is still refused" \
    "is operator alice's already" pki roster add dave --key "$O/alice.pub"
check "that refusal made no draft" [ ! -e "$R/draft.json" ]
(cd "$O" && "$CTL" keygen --no-passphrase dave >/dev/null) || not_ok "keygen dave"
check "add dave with no draft" pki roster add dave --key "$O/dave.pub"
check "the new draft keeps the published operators, version 5" \
    grep -q "version 5, 4 operators" "$WORK/last"
mv "$WORK/draft.kept" "$R/draft.json"

# --- a tampered roster does not list ------------------------------------------
cp "$R/roster.json" "$WORK/good.json"
# The signature's first character, whatever it is, becomes another one.
python3 - "$WORK/good.json" "$R/roster.json" <<'PY'
import sys
t = open(sys.argv[1]).read()
i = t.index('"sig":"') + len('"sig":"')
open(sys.argv[2], "w").write(t[:i] + ("B" if t[i] == "A" else "A") + t[i + 1:])
PY
refute_with "list refuses a roster whose signature fails" \
    "does not verify" pki roster list
cp "$WORK/good.json" "$R/roster.json"

# --- the bundle carries the pinned keys and the roster -------------------------
check "agent web-01" pki agent web-01
check "bundle web-01" pki bundle web-01 --out "$WORK/b.tgz"
listing=$(tar -tzf "$WORK/b.tgz" | sort | tr '\n' ' ')
expect="agent.conf agent.key agent.pem ca.pem keys/ keys/action.pub \
keys/result.key keys/roster.pub roster.json "
check "bundle holds keys/roster.pub and roster.json" [ "$listing" = "$expect" ]
[ "$listing" = "$expect" ] || echo "       got: $listing"
mkdir "$WORK/x"
tar -xzf "$WORK/b.tgz" -C "$WORK/x"
check "bundle keys/roster.pub is the pinned set" \
    cmp "$WORK/x/keys/roster.pub" "$R/pinned.pub"
check "bundle roster.json is the published roster" \
    cmp "$WORK/x/roster.json" "$R/roster.json"
check "bundle roster files are 0644" sh -c "
    [ \"\$(stat -c %a '$WORK/x/keys/roster.pub')\" = 644 ] &&
    [ \"\$(stat -c %a '$WORK/x/roster.json')\" = 644 ]"
check "the bundled roster verifies under the bundled keys" \
    "$CTL" roster show "$WORK/x/roster.json" --keys "$WORK/x/keys/roster.pub"
check "bundle holds no roster secret key" sh -c "
    ! find '$WORK/x' -type f -exec cmp -s '$P/keys/roster.key' {} \\; -print |
    grep -q ."
# agent.conf names them: the pinned keys where they are installed, the
# roster the agent holds in its state directory (docs/operators.md).
check "bundle agent.conf has a [roster] section" sh -c "
    sed -n '/^\\[roster\\]\$/,/^\\[/p' '$WORK/x/agent.conf' >'$WORK/roster.sec' &&
    grep -qx 'keys = /etc/signet/keys/roster.pub' '$WORK/roster.sec' &&
    grep -qx 'threshold = 1' '$WORK/roster.sec' &&
    grep -qx 'file = /var/lib/signet-agent/roster.json' '$WORK/roster.sec'"
out=$("$BUILD/tests/config_check" agent "$WORK/x/agent.conf" 2>&1)
check "bundle agent.conf with [roster] loads with the agent schema ($out)" \
    [ "$out" = ok ]
# Before anything is published, only the keys.
check "bundle from the older PKI (nothing published)" \
    pki --pki "$WORK/old" agent web-02
check "its bundle" pki --pki "$WORK/old" bundle web-02 --out "$WORK/b2.tgz"
check "it holds keys/roster.pub and no roster.json" sh -c "
    tar -tzf '$WORK/b2.tgz' | grep -qx keys/roster.pub &&
    ! tar -tzf '$WORK/b2.tgz' | grep -qx roster.json"
check "it says no roster is published" grep -q "no roster published" \
    "$WORK/last"
check "its agent.conf pins the roster keys too" \
    sh -c "tar -xzOf '$WORK/b2.tgz' agent.conf |
    grep -qx 'keys = /etc/signet/keys/roster.pub'"
# A PKI without roster keys: no keys/roster.pub, so no [roster] either (an
# agent.conf naming a missing trust file would not start).
check "a PKI without roster keys" pki init "$WORK/none" --nopass
rm -rf "$WORK/none/roster" "$WORK/none/keys/roster.key" \
    "$WORK/none/keys/roster.pub"
check "its agent" pki --pki "$WORK/none" agent web-03
check "its bundle" pki --pki "$WORK/none" bundle web-03 --out "$WORK/b3.tgz"
check "it holds no roster file" sh -c "
    ! tar -tzf '$WORK/b3.tgz' | grep -q roster"
check "its agent.conf has no [roster]" sh -c "
    ! tar -xzOf '$WORK/b3.tgz' agent.conf | grep -q roster"
check "it says the agent will reject operator-signed requests" \
    grep -q "reject operator-signed requests" "$WORK/last"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
