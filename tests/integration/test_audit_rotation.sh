#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Audit log rotation with the real signet-server: rotated on SIGUSR1 and
# on [audit] rotate_size while a simulated agent answers real actions,
# across a restart; every rotated file read-only; GET /api/audit reads
# back through the rotated files; `signetctl audit verify` accepts the
# files as one log, and catches a file left out, files out of order, and
# a file swapped in from another log written with the same key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
SIM="$SIGNET_BUILD_DIR/tests/agent_sim"
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
for tool in openssl curl python3; do
	command -v "$tool" >/dev/null || { echo "$tool missing"; exit 77; }
done
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

# A bad rotate_size is a configuration error (exit 2, FILE:LINE).
cp server.conf bad.conf && echo 'rotate_size = 12Q' >>bad.conf
check_fails_with "rotate_size 12Q refused" \
	'bad.conf:[0-9]+: rotate_size: "12Q" is not' \
	"$SERVER_BIN" --config bad.conf
"$SERVER_BIN" --config bad.conf >/dev/null 2>&1
check "bad rotate_size exits 2" test $? -eq 2
cp server.conf small.conf && echo 'rotate_size = 100' >>small.conf
check_fails_with "rotate_size under 4K refused" 'at least 4096 bytes' \
	"$SERVER_BIN" --config small.conf

# Checkpoint settings are checked the same way.
cp server.conf bad.conf && echo 'checkpoint_interval = 4000' >>bad.conf
check_fails_with "checkpoint_interval 4000 refused" 'checkpoint_interval' \
	"$SERVER_BIN" --config bad.conf
cp server.conf bad.conf && echo 'origin = signet/audit/v1' >>bad.conf
check_fails_with "an origin that is a signed context refused" \
	'origin: "signet/audit/v1" is not a checkpoint origin' \
	"$SERVER_BIN" --config bad.conf
cp server.conf bad.conf && echo 'origin = two words' >>bad.conf
check_fails_with "an origin with a space refused" 'is not a checkpoint origin' \
	"$SERVER_BIN" --config bad.conf
echo '# none' >witnesses && chmod 0666 witnesses
cp server.conf bad.conf && echo "witness_keys = $PWD/witnesses" >>bad.conf
check_fails_with "witness keys others may write refused" 'witness keys' \
	"$SERVER_BIN" --config bad.conf
check "... and nothing was written" test ! -e "$A"

echo 'rotate_size = 8K' >>server.conf
start_server || { not_ok "server started"; finish; exit 1; }

rotated() { ls "$A".[0-9]* 2>/dev/null; }
nrotated() { rotated | wc -l; }
first_event() { head -n 1 "$1" | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["event"], r["data"].get("reason",""), r["data"].get("previous",""))'; }

# ---- SIGUSR1 ----
kill -USR1 "$SERVER_PID"
has_rotated() { [ "$(nrotated)" -ge "$1" ]; }
check "SIGUSR1 rotates the log" wait_for 5 has_rotated 1
f1=$(rotated | head -n 1)
check "rotated file named PATH.FIRST-LAST" \
	grep -Eq '^server-audit\.log\.0{16}-[0-9]{16}$' <<<"$f1"
check "new file starts with audit.rotated (signal) naming it" \
	test "$(first_event "$A")" = "audit.rotated signal $f1"
check "rotation logged" grep -q 'audit log rotated: reason=signal' server.log

# ---- on size, while real actions are relayed ----
ID=cccccccccccc3333333333333333333333333333333333333333333333333333
printf '{"type":"inventory","containers":[{"id":"%s","names":["/db-c"],"image":"busybox:1","state":"running","status":"Up","labels":{},"created":1700000000}]}\n' "$ID" >inv.json
"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$P/ca.pem" --pki "$P" \
	--name web-01 --inventory inv.json --action-pub "$P/keys/action.pub" \
	--answer SUCCESS >sim.out 2>&1 &
SIM_PID=$!
host_up() {
	api_get /api/hosts 2>/dev/null | grep -q '"connected":true'
}
check "simulated agent connected" wait_for 10 host_up
for i in $(seq 1 40); do
	api_post "/api/containers/$ID/actions" \
		"{\"action\":\"RESTART\",\"reason\":\"rotation test $i\"}" >post.out
	grep -q '^HTTP 200' post.out || { not_ok "action $i answered 200: $(tail -c 300 post.out)"; break; }
	[ "$(grep -l '"reason":"size"' "$A" "$A".[0-9]* 2>/dev/null | wc -l)" -ge 3 ] && break
done
check "three rotations on size" \
	test "$(grep -l '"event":"audit.rotated".*"reason":"size"' "$A" "$A".[0-9]* | wc -l)" -ge 3
big=0
for f in $(rotated); do
	[ "$(stat -c %s "$f")" -le 8192 ] || big=1
done
check "no rotated file over rotate_size" test "$big" -eq 0

# ---- restart: the writer continues from the rotated-into file ----
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
n_before=$(nrotated)
start_server || not_ok "server restarted"
check "restart continues the current file (no rotation)" test "$(nrotated)" -eq "$n_before"
check "server.started appended to the rotated-into file" \
	grep -q '"event":"server.started"' "$A"
kill -USR1 "$SERVER_PID"
check "SIGUSR1 after the restart rotates again" wait_for 5 has_rotated $((n_before + 1))

# ---- GET /api/audit reads back through the rotated files ----
api_get '/api/audit?after=0&limit=3' >page1.json
check "after=0 pages from the first rotated file (seq 1..3)" \
	test "$(pyq "[r['seq'] for r in d['records']]" <page1.json)" = "[1, 2, 3]"
api_get '/api/audit?limit=1' >page0.json
check "no after: the oldest record (seq 0)" \
	test "$(pyq "[r['seq'] for r in d['records']]" <page0.json)" = "[0]"
mid_last=$(rotated | sed -n 2p | sed 's/.*-0*//')
api_get "/api/audit?after=$((mid_last - 1))&limit=3" >page2.json
check "after= across a file boundary continues without a gap" \
	test "$(pyq "[r['seq'] for r in d['records']]" <page2.json)" = "[$mid_last, $((mid_last + 1)), $((mid_last + 2))]"
check "the record after a boundary is audit.rotated" \
	test "$(pyq "d['records'][1]['event']" <page2.json)" = audit.rotated

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=""

modes=$(for f in $(rotated); do stat -c %a "$f"; done | sort -u)
check "rotated files are read-only (0400)" test "$modes" = 400
check "current file stays 0600" test "$(stat -c %a "$A")" = 600

# ---- verify the whole log ----
mapfile -t FILES < <(rotated; echo "$A")
N=${#FILES[@]}
verify() {
	"$SIGNETCTL" audit verify "$@" --key "$P/keys/audit.pub" \
		--action-key "$P/keys/action.pub" --agent-keys "$P/keys/agents"
}
out=$(verify "${FILES[@]}"); rc=$?
check "all $N files verify as one log" test $rc -eq 0
total=$(cat "${FILES[@]}" | wc -l)
check "count covers every file" grep -q "^ok: $N files: $total records" <<<"$out"
check "every later file linked" test "$(grep -c ', linked to the file before$' <<<"$out")" -eq $((N - 1))
check "rotations reported" grep -q "^rotations: $((N - 1)) " <<<"$out"
check "embedded actions verified" grep -Eq '^actions: [1-9][0-9]* verified, 0 not checked' <<<"$out"
check "embedded results verified" grep -Eq '^results: [1-9][0-9]* verified, 0 not checked' <<<"$out"
head_all=$(sed -n 's/^head: //p' <<<"$out")
check "head is the last line of the current file" \
	test "${head_all%%:*}" = "$(tail -n 1 "$A" | sed 's/^{"seq":\([0-9]*\),.*/\1/')"

# The shell's glob gives the order: PATH.[0-9]* then PATH.
out=$(verify "$A".[0-9]* "$A")
check "glob order verifies" test $? -eq 0

# A later file alone: verified, and what it continues is named.
out=$(verify "$A"); rc=$?
check "the current file alone verifies" test $rc -eq 0
check "it says what it continues (unchecked)" \
	grep -q "^continues: ${FILES[N-2]} at [0-9]*:[0-9a-f]\{64\} (not checked" <<<"$out"

# --expect-head across files.
h0=$(verify "${FILES[0]}" | sed -n 's/^head: //p')
check "--expect-head of the first file, all files given" verify "${FILES[@]}" --expect-head "$h0"
check_fails_with "--expect-head before the files given" \
	'before the first record given' verify "${FILES[@]:1}" --expect-head "$h0"

# A file left out (the second).
check_fails_with "missing file caught, naming the next file, line 1" \
	"^FAILED: ${FILES[2]}:1: continues ${FILES[1]} at seq [0-9]+, but the file before it, ${FILES[0]}, ends at seq [0-9]+: records .* are missing" \
	verify "${FILES[0]}" "${FILES[@]:2}"
# Two files swapped.
check_fails_with "reordered files caught" \
	"^FAILED: ${FILES[2]}:1: continues ${FILES[1]}, which is given after it: the files are out of order" \
	verify "${FILES[0]}" "${FILES[2]}" "${FILES[1]}" "${FILES[@]:3}"
# The same file twice.
check_fails_with "repeated file caught" 'out of order or repeated' \
	verify "${FILES[0]}" "${FILES[1]}" "${FILES[1]}" "${FILES[@]:2}"

# A file swapped in from another log with the same key, rotated at the
# same seqs: same name, same seqs, other records.
mkdir other
n0=$(wc -l <"${FILES[0]}")
if ! { "$TOOL" append other/"$A" "$P/keys/audit.key" "$n0" &&
	"$TOOL" rotate other/"$A" "$P/keys/audit.key"; }; then
	not_ok "other log written"
fi
check "the other log's first file has the same name" test -f "other/${FILES[0]}"
mkdir swapped && cp "${FILES[@]}" swapped/ && cp "other/${FILES[0]}" swapped/
check_fails_with "swapped-in file caught at the link" \
	"^FAILED: swapped/${FILES[1]}:1: continues ${FILES[0]} at [0-9]+:[0-9a-f]{64}, but ${FILES[0]} ends at [0-9]+:[0-9a-f]{64}: one of the two files was replaced" \
	verify "${FILES[@]/#/swapped/}"

# A file from another signer's log: its own signature fails at line 1.
"$SIGNETCTL" keygen --raw stranger >/dev/null
"$TOOL" append stranger.log stranger.key "$n0" && "$TOOL" rotate stranger.log stranger.key
cp -f "${FILES[@]}" swapped/ && cp -f stranger.log.0000000000000000-* "swapped/${FILES[0]}"
check_fails_with "file of another signer caught" \
	"swapped/${FILES[0]}:1: signature does not verify" \
	verify "${FILES[@]/#/swapped/}"

# ---- a crash between rename and the new file: the server recovers ----
cp "$A" keep.log
last=$(tail -n 1 "$A" | sed 's/^{"seq":\([0-9]*\),.*/\1/')
first=$(head -n 1 "$A" | sed 's/^{"seq":\([0-9]*\),.*/\1/')
mv "$A" "$(printf '%s.%016d-%016d' "$A" "$first" "$last")"
start_server || not_ok "server started after a cut-short rotation"
check "recovered rotation recorded" \
	test "$(first_event "$A" | cut -d' ' -f1-2)" = "audit.rotated recovered"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "log verifies after the recovery" verify "$A".[0-9]* "$A"

finish
