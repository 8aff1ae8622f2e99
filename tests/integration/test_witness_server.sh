#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A witness against the real server (docs/transparency.md): the server
# publishes checkpoints of its audit log every second; signetctl audit
# witness, run with an auditor's certificate, cosigns the first, follows a
# later one through the server's consistency proof, and posts each
# cosignature, which the server checks, records (audit.cosigned) and
# serves (GET /api/audit/checkpoint, ?witnessed=1). Refused, each changing
# nothing: a witness the server does not know (403), a split view — a
# checkpoint of another tree of the same size, signed with the server's
# own audit key — (409), and the same forged checkpoint offered to the
# witness (it refuses and keeps evidence). Last, audit verify
# --checkpoint: the cosigned checkpoint holds over the log and is
# witnessed; over the log rewritten consistently with the server's key
# it fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
trap r_cleanup EXIT
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
cd "$T_DIR" || exit 1

make_pki || { not_ok "pki setup"; finish; exit 1; }
K=$SIGNET_PKI/keys
ORIGIN=signet/server/localhost
"$SIGNETCTL" keygen --raw w1 >/dev/null
"$SIGNETCTL" keygen --raw w2 >/dev/null
witness_key() { "$SIGNETCTL" audit witness-key --signing-key "$1.key" --name "$1" >"$1.vkey"; }
check "witness-key prints a cosignature verifier key" witness_key w1
check "... of type 0x04" grep -Eq '^w1\+[0-9a-f]{8}\+B' w1.vkey
witness_key w2
{ echo "# the witnesses this server knows"; cat w1.vkey; } >witnesses
chmod 0600 witnesses

write_server_conf
cat >>server.conf <<CONF
checkpoint_interval = 1
witness_keys = $T_DIR/witnesses
CONF
start_server || { not_ok "server started"; finish; exit 1; }

export SIGNET_SERVER="https://localhost:$API_PORT" SIGNET_CA="$SIGNET_PKI/ca.pem"
export SIGNET_CERT="$SIGNET_PKI/issued/carol.pem" SIGNET_KEY="$SIGNET_PKI/private/carol.key"
checkpoint() { api_get "/api/audit/checkpoint$1" carol; }
size_of() { sed -n 2p; }
check "the server serves a checkpoint of its log" wait_for 20 checkpoint ""
check "... under its origin" test "$(checkpoint "" | head -n 1)" = "$ORIGIN"
witnessed() { checkpoint "?witnessed=1" 2>/dev/null; }
check "nothing is witnessed yet (404)" test -z "$(witnessed)"

witness() {
	"$SIGNETCTL" audit witness --signing-key "${W:-w1}.key" --name "${W:-w1}" \
		--state "st-${W:-w1}" --log-key "$K/audit.pub" "$@"
}
out=$(witness 2>&1 >cosigned1); rc=$?
check "the witness cosigns the first checkpoint (exit 0)" test "$rc" -eq 0
size1=$(sed -n 2p cosigned1)
check "... and the server recorded it (audit.cosigned)" \
	grep -q "\"event\":\"audit.cosigned\".*\"witness\":\"w1\".*\"size\":$size1" server-audit.log
check "the server serves the witnessed checkpoint" grep -q "^— w1 " <<<"$(witnessed)"

# More records (refused API clients are audited), a later checkpoint.
for _ in 1 2 3; do curl -s --cacert "$SIGNET_PKI/ca.pem" "https://localhost:$API_PORT/api/hosts" >/dev/null; done
grown() { test "$(checkpoint "" | size_of)" -gt "$size1"; }
check "a later checkpoint comes" wait_for 30 grown
out=$(witness 2>&1 >cosigned2); rc=$?
check "the witness follows it through the server's proof (exit 0)" test "$rc" -eq 0
check "... a consistent extension" grep -q "consistent extension from size $size1" <<<"$out"
size2=$(sed -n 2p cosigned2)
check "... recorded as well" \
	grep -q "\"event\":\"audit.cosigned\".*\"size\":$size2" server-audit.log

# A witness the server does not know: refused, nothing recorded.
before=$(grep -c '"event":"audit.cosigned"' server-audit.log)
out=$(W=w2 witness 2>&1 >/dev/null); rc=$?
check "an unknown witness's cosignature is refused (exit 3)" test "$rc" -eq 3
check "... saying so" grep -qi "witness" <<<"$out"
check "... and nothing recorded" test "$(grep -c '"event":"audit.cosigned"' server-audit.log)" = "$before"

# A split view: the log rewritten consistently from its fourth record on
# (new records chained and signed with the server's own audit key, as a
# server could), to the size the witness cosigned, checkpointed with that
# same key.
head -n 3 server-audit.log >forked.log && chmod 0600 forked.log
"$TOOL" append forked.log "$K/audit.key" $((size2 - 3)) >/dev/null
check "the rewritten log verifies on its own" quiet "$SIGNETCTL" audit verify forked.log --key "$K/audit.pub"
check "a forged checkpoint of the same size is made" \
	"$TOOL" checkpoint forked.log "$K/audit.key" "$ORIGIN" "$size2" forged
check "... with another root" test "$(sed -n 3p forged)" != "$(sed -n 3p cosigned2)"
# The witness offered it refuses it and keeps the evidence.
out=$(witness --checkpoint forged --no-submit 2>&1); rc=$?
check "the witness refuses the split view (exit 1)" test "$rc" -eq 1
check "... naming it" grep -qi "split view" <<<"$out"
check "... keeping evidence" test -n "$(ls st-w1/evidence 2>/dev/null)"
# The server, sent a cosignature of it, refuses it: not its tree.
"$TOOL" checkpoint forked.log "$K/audit.key" "$ORIGIN" "$size2" forged2 >/dev/null
rm -rf st-split
out=$("$SIGNETCTL" audit witness --signing-key w1.key --name w1 --state st-split \
	--log-key "$K/audit.pub" --checkpoint forged2 --no-submit 2>/dev/null)
printf '%s\n' "$out" >forged-cosigned
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SIGNET_PKI/ca.pem" \
	--cert "$SIGNET_PKI/issued/carol.pem" --key "$SIGNET_PKI/private/carol.key" \
	-H 'Content-Type: text/plain' --data-binary @forged-cosigned \
	"https://localhost:$API_PORT/api/audit/cosignatures")
check "the server refuses a cosigned split view (409)" test "$code" = 409
check "... and records nothing" test "$(grep -c '"event":"audit.cosigned"' server-audit.log)" = "$before"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SIGNET_PKI/ca.pem" \
	--cert "$SIGNET_PKI/issued/carol.pem" --key "$SIGNET_PKI/private/carol.key" \
	-H 'Content-Type: application/json' --data-binary @cosigned2 \
	"https://localhost:$API_PORT/api/audit/cosignatures")
check "a cosignature not sent as text/plain is refused (415)" test "$code" = 415

# Offline, the cosigned checkpoint holds over the log, witnessed.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
out=$("$SIGNETCTL" audit verify server-audit.log --key "$K/audit.pub" \
	--checkpoint cosigned2 --witness-key w1.vkey 2>&1); rc=$?
check "audit verify --checkpoint: the log holds it (exit 0)" test "$rc" -eq 0
check "... witnessed by w1" grep -q "checkpoint $size2 .*holds, witnessed by w1" <<<"$out"
out=$("$SIGNETCTL" audit verify forked.log --key "$K/audit.pub" \
	--checkpoint cosigned2 --witness-key w1.vkey 2>&1); rc=$?
check "over the rewritten log it fails (exit 1)" test "$rc" -eq 1
check "... naming the checkpoint" grep -q "FAILED: checkpoint cosigned2: .*rewritten" <<<"$out"
check "the server's log holds only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" server-audit.log
finish
