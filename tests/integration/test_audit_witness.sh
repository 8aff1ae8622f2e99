#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# signetctl audit witness offline (--checkpoint, --proof) over checkpoints
# and consistency proofs that audit_tool makes for real log files: first
# contact, consistent extensions, the same tree again; the refusals (a
# rollback, a split view, an inconsistent extension, a bad signature,
# another origin) with their evidence; a damaged state, a state directory
# others may write, a second witness at once; then audit verify
# --checkpoint --witness-key on the log, a rewritten log, a cut log and a
# forged cosignature. Online, against a stand-in for the server's routes
# (witness_server.py: the requests, the posted body, 404, 403, an
# unreachable server); the test against the real server is elsewhere.
. "$(dirname "$0")/lib.sh"
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
cd "$T_DIR" || exit 1
ORIGIN=signet/server/test-1

for k in audit other wit wit2; do "$SIGNETCTL" keygen --raw "$k" >/dev/null; done
"$TOOL" append log audit.key 40 >/dev/null
"$TOOL" append forked audit.key 40 >/dev/null # the same key, other records

cp_of() { "$TOOL" checkpoint "$1" "${3:-audit.key}" "${4:-$ORIGIN}" "$2" "$5"; }
witness() {
	"$SIGNETCTL" audit witness --signing-key wit.key --name w.example/1 \
		--state st --log-key audit.pub "$@"
}

check "make the checkpoint of size 10" cp_of log 10 audit.key "$ORIGIN" cp10
check "make the checkpoint of size 40" cp_of log 40 audit.key "$ORIGIN" cp40
check "make the proof 10 -> 40" "$TOOL" proof log 10,40 p10-40.json

# First contact records the origin.
out=$(witness --checkpoint cp10 2>&1 >cosigned10); rc=$?
check "first contact cosigns (exit 0)" test "$rc" -eq 0
check "first contact says it recorded the origin" \
	grep -q "first contact: recorded the origin \"$ORIGIN\"" <<<"$out"
check "the cosigned note keeps the log's signature" \
	grep -q "^— $ORIGIN " cosigned10
check "the cosigned note holds the witness's line" \
	grep -q '^— w.example/1 ' cosigned10
check "the state directory is 0700" test "$(stat -c %a st)" = 700
check "the state file is 0600" \
	test "$(stat -c %a "st/signet%2Fserver%2Ftest-1.json")" = 600

check_fails_with "an extension without a proof: give --proof (exit 2)" \
	'give --proof FILE' witness --checkpoint cp40
out=$(witness --checkpoint cp40 --proof p10-40.json --out cosigned40 2>&1)
check "a consistent extension is cosigned" \
	grep -q 'consistent extension from size 10 to 40; cosigned' <<<"$out"
check "--out holds the cosigned note" grep -q '^— w.example/1 ' cosigned40
out=$(witness --checkpoint cp40 2>&1 >/dev/null)
check "the same tree again is cosigned again" \
	grep -q 'the tree cosigned before; cosigned again' <<<"$out"
# Each cosignature carries the second it was made, so the evidence of a
# refusal below holds this last one, not cosigned40.
check "with --origin given, the same" quiet witness --checkpoint cp40 \
	--origin "$ORIGIN" --out cosigned40-last

# Refusals, each exit 1, the state unchanged.
state_before=$(cat "st/signet%2Fserver%2Ftest-1.json")
check_fails_with "rollback refused" 'REFUSED: rollback: .* size 10 after size 40' \
	witness --checkpoint cp10
out=$(witness --checkpoint cp10 2>&1); rc=$?
check "rollback exits 1" test "$rc" -eq 1

check "make a split view: size 40 of another log, the same key" \
	cp_of forked 40 audit.key "$ORIGIN" fork40
out=$(witness --checkpoint fork40 2>&1); rc=$?
check "split view exits 1" test "$rc" -eq 1
check "split view named, with both roots" \
	grep -Eq 'REFUSED: split view: .* size 40 has root .{44} \(cosigned\) and root .{44} \(offered\)' <<<"$out"
cosigned_ev=$(sed -n 's/.*evidence kept: \(.*split-view.*cosigned.txt\)$/\1/p' <<<"$out")
offered_ev=$(sed -n 's/.*evidence kept: \(.*split-view.*offered.txt\)$/\1/p' <<<"$out")
check "split view evidence: the note cosigned last" \
	cmp -s "$cosigned_ev" cosigned40-last
check "split view evidence: the note offered" cmp -s "$offered_ev" fork40

"$TOOL" append forked audit.key 10 >/dev/null
"$TOOL" append log audit.key 10 >/dev/null
check "make the forked checkpoint of size 50" cp_of forked 50 audit.key "$ORIGIN" fork50
check "make the forked log's own proof 40 -> 50" "$TOOL" proof forked 40,50 pfork.json
out=$(witness --checkpoint fork50 --proof pfork.json 2>&1); rc=$?
check "an extension of another tree: exit 1" test "$rc" -eq 1
check "... named inconsistent extension" \
	grep -q 'REFUSED: inconsistent extension: .* from size 40 .* to 50' <<<"$out"
check "... the proof kept as evidence" \
	grep -q 'evidence kept: .*inconsistent-40-50-.*proof.json' <<<"$out"
check "make the true log's proof 40 -> 50" "$TOOL" proof log 40,50 p40-50.json
check_fails_with "the true proof for the forked checkpoint: inconsistent" \
	'REFUSED: inconsistent extension' witness --checkpoint fork50 --proof p40-50.json
check "make the true checkpoint of size 50" cp_of log 50 audit.key "$ORIGIN" cp50
check "make a proof that names another log" \
	"$TOOL" proof log 40,50 pagent.json agent/h1
check_fails_with "a proof of another log name: inconsistent" \
	'the proof is for the log "agent/h1"' \
	witness --checkpoint cp50 --proof pagent.json
sed 's/"hashes":\["./"hashes":["A/; s/"hashes":\["AA/"hashes":["BA/' p40-50.json >pbad.json
check "the tampered proof differs" test "$(cmp p40-50.json pbad.json | wc -l)" -eq 1
check_fails_with "a tampered proof: inconsistent" \
	'REFUSED: inconsistent extension' witness --checkpoint cp50 --proof pbad.json
check_fails_with "a proof that is not JSON: unreadable (exit 2)" \
	'the proof' witness --checkpoint cp50 --proof cp50
out=$(witness --checkpoint cp50 --proof cp50 2>&1); rc=$?
check "... exit 2" test "$rc" -eq 2

check "make a checkpoint signed by another key" cp_of log 50 other.key "$ORIGIN" bad50
check_fails_with "another key's signature: bad signature" \
	'REFUSED: bad signature' witness --checkpoint bad50
check "make a checkpoint under another origin" \
	cp_of log 50 audit.key signet/server/zz other-origin50
check_fails_with "another origin under the same key: refused" \
	'REFUSED: origin mismatch' witness --checkpoint other-origin50
check_fails_with "--origin other than the checkpoint's: refused" \
	'REFUSED: origin mismatch' witness --checkpoint cp50 --proof p40-50.json \
	--origin signet/server/zz
check "the refusals left the state as it was" \
	test "$(cat "st/signet%2Fserver%2Ftest-1.json")" = "$state_before"

out=$(witness --checkpoint cp50 --proof p40-50.json 2>&1 >cosigned50); rc=$?
check "then the true extension is cosigned" test "$rc" -eq 0

# The state directory.
cp -a st st2
printf '{"origin":' >"st2/signet%2Fserver%2Ftest-1.json"
check_fails_with "a damaged state file refuses (never starts over)" \
	'damaged state' "$SIGNETCTL" audit witness --signing-key wit.key \
	--name w.example/1 --state st2 --log-key audit.pub --checkpoint cp50
out=$("$SIGNETCTL" audit witness --signing-key wit.key --name w.example/1 \
	--state st2 --log-key audit.pub --checkpoint cp50 2>&1); rc=$?
check "... exit 2" test "$rc" -eq 2
chmod 0777 st2
check_fails_with "a state directory others may write is refused" \
	'group and others cannot write' "$SIGNETCTL" audit witness \
	--signing-key wit.key --name w.example/1 --state st2 \
	--log-key audit.pub --checkpoint cp50
# This shell holds the lock (on its own open file) as a witness would.
exec 9<>st/lock
check "take the state directory's lock" flock -n 9
check_fails_with "a second witness at once is refused" \
	'locked by another witness' witness --checkpoint cp50
exec 9>&-
check "once the first has finished, it goes on" quiet witness --checkpoint cp50

# Usage.
check_fails_with "--name is required" 'are required' \
	"$SIGNETCTL" audit witness --signing-key wit.key --state st \
	--log-key audit.pub --checkpoint cp50
check_fails_with "a name with a space is refused" 'not a key name' \
	witness --checkpoint cp50 --name 'a b'
check_fails_with "--log must be server or agent/HOST" 'give server or agent/HOST' \
	witness --checkpoint cp50 --log agents
check_fails_with "--proof without --checkpoint" 'goes with --checkpoint' \
	witness --proof p40-50.json

# The witness's key text.
"$SIGNETCTL" audit witness-key --signing-key wit.key --name w.example/1 >wit.vkey
check "witness-key prints NAME+ID+KEY" \
	grep -Eq '^w\.example/1\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$' wit.vkey
"$SIGNETCTL" audit witness-key --signing-key wit2.key --name w.example/2 >wit2.vkey

# audit verify --checkpoint --witness-key.
verify() { "$SIGNETCTL" audit verify "$@" --key audit.pub; }
out=$(verify log --checkpoint cosigned50 --checkpoint cp10 \
	--witness-key wit.vkey --witness-key wit2.vkey); rc=$?
check "verify with checkpoints passes" test "$rc" -eq 0
check "the cosigned checkpoint holds, witnessed by w.example/1" \
	grep -Eq '^checkpoint 50 .{44}: holds, witnessed by w.example/1 \(time 20[0-9-]{8}T[0-9:]{8}Z\)$' <<<"$out"
check "the bare one holds, NOT witnessed" \
	grep -Eq '^checkpoint 10 .{44}: holds, NOT witnessed$' <<<"$out"
out=$(verify log --checkpoint cosigned50 --witness-key wit.vkey -o json)
check "-o json has the checkpoints array" python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
c = d["checkpoints"][0]
assert d["ok"] and c["holds"] and c["witnessed"] and c["size"] == 50
assert c["witnesses"][0]["name"] == "w.example/1"
assert c["origin"] == "signet/server/test-1"
' <<<"$out"
check_fails_with "a rewritten log: the root does not match (exit 1)" \
	'FAILED: checkpoint cosigned50: the log.s first 50 records have the root .* rewritten' \
	verify forked --checkpoint cosigned50 --witness-key wit.vkey
out=$(verify forked --checkpoint cosigned50 -o json); rc=$?
check "... in JSON too, ok false, exit 1" python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert not d["ok"] and not d["checkpoints"][0]["holds"]
assert "rewritten" in d["checkpoints"][0]["error"]
' <<<"$out"
check "... exit 1" test "$rc" -eq 1
head -n 45 log >cut.log
check_fails_with "a cut log: fewer records than the checkpoint" \
	'holds 45 records, fewer than the checkpoint.s 50' \
	verify cut.log --checkpoint cosigned50
check_fails_with "a checkpoint by another key: FAILED" \
	'FAILED: checkpoint bad50: not signed by the log.s key' \
	verify log --checkpoint bad50
python3 -c '
import sys
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("\u2014 w.example/1 "):
        i = len("\u2014 w.example/1 ") + 60
        line = line[:i] + ("B" if line[i] == "A" else "A") + line[i + 1:]
    out.append(line)
open(sys.argv[2], "w", encoding="utf-8").write("".join(out))
' cosigned50 forged50
check "the forged cosignature differs" test "$(cmp cosigned50 forged50 | wc -l)" -eq 1
check_fails_with "a known witness's cosignature that does not verify: FAILED" \
	'FAILED: checkpoint forged50' \
	verify log --checkpoint forged50 --witness-key wit.vkey
check "an unknown witness's line is ignored" \
	quiet verify log --checkpoint forged50 --witness-key wit2.vkey
check_fails_with "--witness-key without --checkpoint" 'needs --checkpoint' \
	verify log --witness-key wit.vkey
check_fails_with "a witness key file that is not one" 'wit.key' \
	verify log --checkpoint cp10 --witness-key wit.key
check_fails_with "a checkpoint file that is not one (exit 2)" \
	'not a checkpoint' verify log --checkpoint wit.vkey

# ---- online, against a stand-in for the server's routes ----
check_fails_with "an unreachable server: exit 5" 'cannot connect' \
	sh -c '"$@"; [ $? -eq 5 ] && exit 1' _ "$SIGNETCTL" audit witness \
	--signing-key wit.key --name w.example/1 --state st --log-key audit.pub \
	--server https://127.0.0.1:1 --cert wit.pub --key wit.key --ca wit.pub
mkdir srv
cert() { # NAME EKU: a certificate for 127.0.0.1 issued by srv/ca.pem
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "srv/$1.key" -out "srv/$1.csr" -subj /CN=127.0.0.1 \
		2>/dev/null &&
	openssl x509 -req -in "srv/$1.csr" -CA srv/ca.pem -CAkey srv/ca.key \
		-CAcreateserial -out "srv/$1.pem" -days 2 -extfile <(printf \
		'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=%s\n' "$2") \
		2>/dev/null && chmod 0600 "srv/$1.key"
}
check "make a CA" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-nodes -keyout srv/ca.key -out srv/ca.pem -subj /CN=test-ca -days 2 \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
cert srv serverAuth && cert cli clientAuth
check "make the server's and the client's certificates" \
	test -s srv/srv.pem -a -s srv/cli.pem
python3 "$SIGNET_SOURCE_DIR/tests/integration/witness_server.py" srv &
server=$!
for _ in $(seq 600); do [ -f srv/port ] && break; sleep 0.1; done
check "the stand-in server listens" test -f srv/port
SIGNET_SERVER="https://127.0.0.1:$(cat srv/port 2>/dev/null)"
export SIGNET_SERVER
export SIGNET_CERT=srv/cli.pem SIGNET_KEY=srv/cli.key SIGNET_CA=srv/ca.pem
"$TOOL" append olog audit.key 30 >/dev/null
# shellcheck disable=SC2120 # its callers are check and check_fails_with
owit() {
	"$SIGNETCTL" audit witness --signing-key wit.key --name w.example/1 \
		--state st-online --log-key audit.pub "$@"
}
check_fails_with "no checkpoint yet: the server's 404, exit 1" \
	'no checkpoint yet' owit
cp_of olog 10 audit.key signet/server/online srv/serve.cp
out=$(owit 2>online.err); rc=$?
check "online first contact: cosigned and submitted (exit 0)" test "$rc" -eq 0
check "... it said so" grep -q 'cosignature submitted' online.err
check "it fetched GET /api/audit/checkpoint?log=server" \
	grep -qx 'GET /api/audit/checkpoint?log=server' srv/requests
check "it posted text/plain to /api/audit/cosignatures?log=server" \
	grep -qx 'POST /api/audit/cosignatures?log=server text/plain; charset=utf-8' \
	srv/requests
check "what it posted is what it printed" \
	test "$(cat srv/posted)" = "$out"
check "... the checkpoint with the witness's cosignature" \
	grep -q '^— w.example/1 ' srv/posted
cp_of olog 30 audit.key signet/server/online srv/serve.cp
"$TOOL" proof olog 10,30 srv/proof-10-30.json
: >srv/requests
check "online extension: cosigned (exit 0)" quiet owit
check "it asked for the proof from 10 to 30" \
	grep -qx 'GET /api/audit/proof/consistency?log=server&old=10&new=30' \
	srv/requests
: >srv/requests
check "--no-submit: cosigned" quiet owit --no-submit
check "... and nothing posted" test "$(grep -c POST srv/requests)" -eq 0
echo 403 >srv/post.status
out=$(owit 2>&1 >/dev/null); rc=$?
check "an unknown witness (403): exit 3" test "$rc" -eq 3
check "... the state was kept before submitting" \
	grep -q '"cosigned_at"' "st-online/signet%2Fserver%2Fonline.json"
rm srv/post.status
cp_of forked 30 audit.key signet/server/online srv/serve.cp
: >srv/requests
check_fails_with "an online split view is refused" 'REFUSED: split view' owit
check "... and nothing posted" test "$(grep -c POST srv/requests)" -eq 0
check_fails_with "--log agent/HOST asks for that log (no checkpoint there)" \
	'no checkpoint yet' owit --log agent/h1
check "... by name, percent-encoded" \
	grep -q 'GET /api/audit/checkpoint?log=agent%2[Ff]h1' srv/requests
kill "$server"
wait "$server" 2>/dev/null
unset SIGNET_SERVER SIGNET_CERT SIGNET_KEY SIGNET_CA

check "the state file and the proofs follow their schemas (docs/schema)" \
	python3 - "$SIGNET_SOURCE_DIR/docs/schema" st/*.json p10-40.json \
	pfork.json <<'PY'
import json, sys
import jsonschema
d = sys.argv[1]
v = jsonschema.Draft202012Validator
state = json.load(open(d + "/witness-state.schema.json"))
proof = json.load(open(d + "/consistency-proof.schema.json"))
for f in sys.argv[2:]:
    doc = json.load(open(f))
    jsonschema.validate(doc, state if "origin" in doc else proof, cls=v)
PY

finish
