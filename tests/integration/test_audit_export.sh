#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# signetctl audit export on a real server's rotated log (actions relayed
# to a simulated agent, refusals, a rotation, a stop): every exported line
# validates against docs/schema/export-record.schema.json and its event's
# schema; with --key every record is verified, hashes chain, data is the
# recorded bytes; filters; -o FILE. Bad input: a file that cannot be
# read, a bad line (with and without --key), a record re-signed, the
# wrong key, a bad --since, an unknown option.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
SIM="$SIGNET_BUILD_DIR/tests/agent_sim"
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
SCHEMA="$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py"
for tool in openssl curl python3; do
	command -v "$tool" >/dev/null || { echo "$tool missing"; exit 77; }
done
python3 -c 'import jsonschema' 2>/dev/null ||
	{ echo "python3-jsonschema missing"; exit 77; }
if [ ! -x "$SERVER_BIN" ] || [ ! -x "$SIM" ] || [ ! -x "$TOOL" ]; then
	echo "signet-server, agent_sim or audit_tool not built"; exit 1
fi
cd "$T_DIR" || exit 1
SIM_PID=""
cleanup_all() {
	local p
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "$SIM_PID" ] && wait "$SIM_PID" 2>/dev/null
	t_cleanup
}
trap cleanup_all EXIT

make_pki || { not_ok "pki setup"; finish; exit 1; }
P=$SIGNET_PKI
write_server_conf
A=server-audit.log
start_server || { not_ok "server started"; finish; exit 1; }

ID=cccccccccccc3333333333333333333333333333333333333333333333333333
printf '{"type":"inventory","containers":[{"id":"%s","names":["/db-c"],"image":"busybox:1","state":"running","status":"Up","labels":{},"created":1700000000}]}\n' "$ID" >inv.json
"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$P/ca.pem" --pki "$P" \
	--name web-01 --inventory inv.json --action-pub "$P/keys/action.pub" \
	--answer SUCCESS >sim.out 2>&1 &
SIM_PID=$!
host_up() { api_get /api/hosts 2>/dev/null | grep -q '"connected":true'; }
check "simulated agent connected" wait_for 10 host_up
for i in 1 2 3; do
	api_post "/api/containers/$ID/actions" \
		"{\"action\":\"RESTART\",\"reason\":\"export test $i\"}" >post.out
	grep -q '^HTTP 200' post.out || not_ok "action $i: $(tail -c 300 post.out)"
done
# Refusals: an API client without a certificate (auth.rejected, warning).
curl -s --max-time 5 --cacert "$P/ca.pem" "https://localhost:$API_PORT/api/hosts" >/dev/null
kill -USR1 "$SERVER_PID"
has_rotated() { ls "$A".[0-9]* >/dev/null 2>&1; }
check "SIGUSR1 rotated the log" wait_for 5 has_rotated
api_post "/api/containers/$ID/actions" '{"action":"STOP","reason":"after rotation"}' >post.out
kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=""
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

mapfile -t FILES < <(ls "$A".[0-9]*; echo "$A")
cat "${FILES[@]}" >all.log
total=$(wc -l <all.log)
export_() { "$SIGNETCTL" audit export "$@"; }

# ---- with --key: everything, verified ----
export_ "${FILES[@]}" --key "$P/keys/audit.pub" >e.jsonl 2>e.err
check "export --key of ${#FILES[@]} files exits 0" test $? -eq 0
check "one line per record ($total)" test "$(wc -l <e.jsonl)" -eq "$total"
out=$(python3 "$SCHEMA" --export e.jsonl)
check "every line validates against the export and event schemas" \
	grep -q "^ok e.jsonl: $total records" <<<"$out"
check "no message on success to standard output" test ! -s e.err
python3 - all.log e.jsonl <<'PY' >check.out 2>&1
import hashlib, json, sys
raw = open(sys.argv[1], "rb").read().splitlines()
exp = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(raw) == len(exp)
prev = "0" * 64
for line, e in zip(raw, exp):
    rec = json.loads(line)
    assert e["verified"] is True, e["seq"]
    assert e["log"] == {"writer": "server"}, e["log"]
    assert e["hash"] == hashlib.sha256(line).hexdigest(), e["seq"]
    assert e["prev"] == prev == rec["prev"], e["seq"]
    prev = e["hash"]
    for k in ("seq", "ts", "event", "actor", "data"):
        assert e[k] == rec[k], (e["seq"], k)
    # the recorded data bytes, verbatim
    sev = {"auth.rejected": "warning", "audit.rotated": "info",
           "action.requested": "info", "server.started": "info"}
    if e["event"] in sev:
        assert e["severity"] == sev[e["event"]], e
events = {e["event"] for e in exp}
for want in ("server.started", "action.requested", "action.result",
             "auth.rejected", "audit.rotated", "server.stopped"):
    assert want in events, want
print("ok")
PY
check "hashes chain, members as recorded, writer server, severities" \
	grep -qx ok check.out
grep -qx ok check.out || cat check.out
check "data bytes exactly as in the log" \
	python3 -c '
import json, sys
raw = open("all.log", "rb").read().splitlines()
for line, e in zip(raw, open("e.jsonl", "rb")):
    d = line[line.index(b",\"data\":") + 8:line.rindex(b",\"sig\":")]
    assert b",\"data\":" + d + b",\"hash\":" in e, line[:80]
'

# ---- without --key: the same records, unverified ----
export_ "${FILES[@]}" >u.jsonl
check "export without --key exits 0" test $? -eq 0
check "without --key every record is verified:false" \
	test "$(grep -c '"verified":false}$' u.jsonl)" -eq "$total"
check "without --key the lines differ only in verified" \
	cmp -s <(sed 's/"verified":false}$/"verified":true}/' u.jsonl) e.jsonl

# ---- filters ----
export_ "${FILES[@]}" --key "$P/keys/audit.pub" --event 'action.*' \
	--event auth.rejected >f.jsonl
check "--event keeps the matching events only" \
	python3 -c '
import json, fnmatch
ev = [json.loads(l)["event"] for l in open("f.jsonl")]
assert ev and all(fnmatch.fnmatch(e, "action.*") or e == "auth.rejected" for e in ev), ev
assert "auth.rejected" in ev and "action.requested" in ev'
t3=$(sed -n 3p e.jsonl | pyq 'd["time"]')
t5=$(sed -n 5p e.jsonl | pyq 'd["time"]')
ts3=$(sed -n 3p e.jsonl | pyq 'd["ts"]')
ts5=$(sed -n 5p e.jsonl | pyq 'd["ts"]')
export_ "${FILES[@]}" --since "$t3" --until "$t5" >w.jsonl
check "--since/--until: the records in [since, until)" \
	python3 -c '
import json, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
ts = [json.loads(l)["ts"] for l in open("e.jsonl")]
got = [json.loads(l)["ts"] for l in open("w.jsonl")]
assert got == [t for t in ts if lo <= t < hi] and got, (got, lo, hi)' "$ts3" "$ts5"

# ---- -o FILE ----
export_ "${FILES[@]}" --key "$P/keys/audit.pub" -o out.jsonl 2>o.err
check "-o FILE exits 0" test $? -eq 0
check "-o FILE holds the export" cmp -s out.jsonl e.jsonl
check "-o says how many records" grep -q "$total records to out.jsonl" o.err
check "no temporary file left" test -z "$(ls out.jsonl.tmp-* 2>/dev/null)"

# ---- an agent's log (the real agent starts and stops without dockerd) ----
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >policy.json
chmod 0644 policy.json
DOCKER_HOST=unix://$T_DIR/no-dockerd.sock write_agent_conf web-01 "$T_DIR/policy.json"
AL=agent-web-01-audit.log
start_agent web-01
agent_started() { grep -q '"event":"agent.started"' "$AL" 2>/dev/null; }
check "agent started" wait_for 10 agent_started
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
export_ "$AL" --key "$P/keys/agents/web-01.pub" >ag.jsonl
check "agent log: export --key exits 0" test $? -eq 0
out=$(python3 "$SCHEMA" --export ag.jsonl)
check "agent log: every line validates" \
	grep -q "^ok ag.jsonl: $(wc -l <"$AL") records" <<<"$out"
check "agent log: writer agent, host_id web-01" \
	test "$(grep -c '"log":{"writer":"agent","host_id":"web-01"},' ag.jsonl)" -eq "$(wc -l <"$AL")"

# ---- bad input ----
export_ "${FILES[@]}" nosuch.log --key "$P/keys/audit.pub" >x.out 2>x.err
rc=$?
check "a file that cannot be read: exit 2" test $rc -eq 2
check "... named" grep -q 'nosuch.log: cannot open: No such file' x.err
check "... and nothing written" test ! -s x.out

cp all.log bad.log
sed -i '4s/^{"seq"/{"seq" "/' bad.log
export_ bad.log >x.out 2>x.err
rc=$?
check "a bad line without --key: exit 1" test $rc -eq 1
check "... names file and line" grep -q 'FAILED: bad.log:4: ' x.err
check "... after the 3 records before it" test "$(wc -l <x.out)" -eq 3
export_ bad.log --key "$P/keys/audit.pub" -o bad.jsonl 2>x.err
rc=$?
check "a bad line with --key: exit 1" test $rc -eq 1
check "... -o FILE holds the 3 verified records before it" \
	test "$(grep -c '"verified":true}$' bad.jsonl)" -eq 3
check "... and says so" grep -q 'records written before the bad line: 3 (all verified)' x.err

# A record without an embedded envelope (audit_tool re-signs at the
# first "sig"), from the fourth on.
k=$(awk 'NR >= 4 && gsub(/"sig":/, "&") == 1 { print NR; exit }' all.log)
cp all.log resigned.log
"$TOOL" resign resigned.log "$k" "$P/keys/action.key"
export_ resigned.log --key "$P/keys/audit.pub" >x.out 2>x.err
rc=$?
check "a record re-signed with another key: exit 1" test $rc -eq 1
check "... at its line ($k)" grep -q "resigned.log:$k: signature does not verify" x.err
check "... only the $((k - 1)) verified records before it written" \
	test "$(wc -l <x.out)" -eq $((k - 1))
check "... none of them unverified" \
	test "$(grep -c '"verified":true}$' x.out)" -eq $((k - 1))
export_ resigned.log >x.out
check "without --key the re-signed record goes out, unverified" \
	test "$(grep -c '"verified":false}$' x.out)" -eq "$total"

export_ "${FILES[@]}" --key "$P/keys/action.pub" >x.out 2>x.err
rc=$?
check "the wrong key: exit 1" test $rc -eq 1
check "... at line 1" grep -q "${FILES[0]}:1: signature does not verify" x.err
check "... nothing written" test ! -s x.out

export_ "${FILES[@]}" --key "$P/keys/audit.pub" >/dev/full 2>x.err
rc=$?
check "an output that cannot be written: exit 1" test $rc -eq 1
check "... says why" grep -q 'standard output: cannot write the export: No space left on device' x.err
mkdir out.d
export_ "${FILES[@]}" -o out.d 2>x.err
rc=$?
check "-o FILE that cannot be replaced: exit 1" test $rc -eq 1
check "... no temporary file left" test -z "$(ls out.d.tmp-* 2>/dev/null)"

check_fails_with "a bad --since: refused" \
	'--since "yesterday": give an RFC 3339 time' \
	export_ "$A" --since yesterday
export_ "$A" --since yesterday >/dev/null 2>&1
check "... exit 2" test $? -eq 2
export_ "$A" --since 2026-12-05T10:00:00Z --until 2026-12-05T09:00:00Z >/dev/null 2>&1
check "--since after --until: exit 2" test $? -eq 2
check_fails_with "a bad --event pattern: refused" '--event "Action": give' \
	export_ "$A" --event Action
check_fails_with "an unknown option: refused" 'unknown option "--frobnicate"' \
	export_ "$A" --frobnicate
export_ "$A" --frobnicate >/dev/null 2>&1
check "... exit 2" test $? -eq 2
check_fails_with "a connection option does not apply: refused" \
	'unknown option "--server"' export_ "$A" --server https://x
check_fails_with "no file: refused" 'no log file given' export_ --key "$P/keys/audit.pub"
check_fails_with "an unreadable key: refused" 'nokey.pub' \
	export_ "$A" --key nokey.pub

finish
