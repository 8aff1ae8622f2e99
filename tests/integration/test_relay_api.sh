#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The action relay end to end over real TLS with real certificates: a real
# signet-server, simulated agents (tests/tools/agent_sim) that answer
# action frames with correctly signed results (statuses chosen per case),
# never answer, answer late, answer twice, or sign with the wrong key; the
# POST /api/containers/{id}/actions status codes, GET /api/actions/{id},
# signetctl action / action-status / audit tail, an audit log that cannot
# be written (a full tmpfs), and the server's audit log verified at the
# end with every action's reason, operator and result in it and checked
# against docs/schema (audit_schema.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/sim.sh"
sim_begin

write_server_conf
# Refusal records: 10 in full per reason and second, the rest summed up
# (a short window, so that the flood below is summed up while it runs).
printf 'limit_window = 1\n' >>"$T_DIR/server.conf"
start_server || { not_ok "server started"; finish; exit 1; }
AUDIT=$T_DIR/server-audit.log

ID_A=aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111
ID_B=aaaaaaaaaaaa2222222222222222222222222222222222222222222222222222
ID_C=cccccccccccc3333333333333333333333333333333333333333333333333333
ID_D=dddddddddddd4444444444444444444444444444444444444444444444444444
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID_A web-a),$(inventory_row $ID_B web-b),$(inventory_row $ID_C db-c)]}" >inv1.json
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID_D cache-d)]}" >inv2.json


# post WHO CID BODY [QUERY] [curl args]: status; body in body, headers in hdr.
post() {
	local who=$1 cid=$2 data=$3 q=${4:-}; shift 3; [ $# -gt 0 ] && shift
	curl -sS --max-time 150 --cacert "$CA" --cert "$P/issued/$who.pem" \
		--key "$P/private/$who.key" -D hdr -o body -w '%{http_code}' \
		-H "Content-Type:${CT- application/json}" "$@" --data-binary "$data" \
		"https://localhost:$API_PORT/api/containers/$cid/actions$q" 2>curl.err
}
get() {
	curl -sS --max-time 30 --cacert "$CA" --cert "$P/issued/${2:-alice}.pem" \
		--key "$P/private/${2:-alice}.key" -o body -w '%{http_code}' \
		"https://localhost:$API_PORT$1" 2>curl.err
}
jb() { pyq "$1" <body; }
# expect NAME WANT GOT: status check, printing the body on failure.
expect() {
	if [ "$3" = "$2" ] && python3 -c 'import json,sys; json.load(open("body"))' 2>/dev/null; then ok "$1"
	else not_ok "$1 (status $3, wanted $2: $(head -c 300 body) $(cat curl.err 2>/dev/null))"; fi
}
jcheck() {
	if [ "$(jb "$2" 2>&1)" = true ]; then ok "$1"
	else not_ok "$1 ($2 on $(head -c 400 body))"; fi
}
no_match() { ! grep -Eq "$@"; }
metric() {
	api_get /metrics | awk -v k="$1" '$1 == k {print $2}'
}
START='{"action":"START","reason":"deploy 1.2.3 after review"}'
STOP='{"action":"STOP","reason":"maintenance window"}'
RESTART='{"action":"RESTART","reason":"config reload"}'

# ---- results: SUCCESS, DENIED, FAILURE, REJECTED ----
sim main web-01 --answer SUCCESS,DENIED,FAILURE,REJECTED \
	--error "policy: rule web-* does not list operator alice" ||
	{ not_ok "agent web-01 connected"; finish; exit 1; }
ok "agent web-01 connected with its inventory"

got=$(post alice "$ID_C" "$START")
expect "SUCCESS answers 200" 200 "$got"
jcheck "SUCCESS body" "d['status']=='SUCCESS' and d['action']=='START' and d['container_id']=='$ID_C' and d['host_id']=='web-01' and d['requested_by']=='alice' and d['reason']=='deploy 1.2.3 after review' and d['docker_status']==204 and d['error'] is None and len(d['action_id'])==32 and d['finished_at'] is not None"
A_OK=$(jb "d['action_id']")
check "agent got the action, signed, for alice" grep -q "^action 0 action_id=$A_OK action=START container=$ID_C requested_by=alice\$" sim-main.out
get "/api/actions/$A_OK" carol >/dev/null
jcheck "auditor reads the action" "d['status']=='SUCCESS' and d['action_id']=='$A_OK' and set(d)=={'action_id','host_id','container_id','action','status','error','requested_by','operator_signed','reason','requested_at','finished_at','docker_status'}"

got=$(post alice cccccccccccc "$STOP")
expect "DENIED answers 403 (prefix resolved)" 403 "$got"
jcheck "DENIED carries the agent's reason" "d['status']=='DENIED' and 'does not list operator alice' in d['error'] and d['container_id']=='$ID_C'"
got=$(post alice "$ID_C" "$RESTART")
expect "FAILURE answers 502" 502 "$got"
jcheck "FAILURE body" "d['status']=='FAILURE' and d['docker_status']==500"
got=$(post alice "$ID_C" "$START")
expect "REJECTED answers 502" 502 "$got"
jcheck "REJECTED body" "d['status']=='REJECTED' and len(d['action_id'])==32"

# ---- /metrics after those four results (Prometheus naming guide) ----
api_get /metrics >metrics.txt
mval() { awk -v k="$1" '$1 == k {print $2}' metrics.txt; }
for s in SUCCESS DENIED FAILURE REJECTED; do
	check "results by status: $s 1" test "$(mval "signet_action_results_total{status=\"$s\"}")" = 1
done
check "result frames by outcome: 4 accepted" test "$(mval 'signet_agent_result_frames_total{outcome="accepted"}')" = 4
check "action duration histogram: 4 observations" test "$(mval signet_action_duration_seconds_count)" = 4
check "action duration: +Inf bucket holds them all" test "$(mval 'signet_action_duration_seconds_bucket{le="+Inf"}')" = 4
# (awk's own $1 and $2, not the shell's.)
# shellcheck disable=SC2016
check "action duration: a sum in seconds" awk '$1 == "signet_action_duration_seconds_sum" && $2 > 0 && $2 < 600 {f=1} END {exit !f}' metrics.txt
check "hub handshake histogram: the agent's hello" test "$(mval signet_agent_handshake_duration_seconds_count)" -ge 1
VERSION=$("$SERVER_BIN" --version | awk '{print $2}')
check "build info" test "$(mval "signet_build_info{version=\"$VERSION\"}")" = 1
epoch_of() { date -u -d "$1" +%s; }
check "server certificate expiry" test "$(mval 'signet_certificate_expiry_timestamp_seconds{role="server",subject="localhost"}')" = \
	"$(epoch_of "$(openssl x509 -noout -enddate -in "$P/issued/localhost.pem" | cut -d= -f2)")"
# expiry ROLE: the value of ROLE's row, whatever its subject (may hold spaces).
expiry() { sed -n "s/^signet_certificate_expiry_timestamp_seconds{role=\"$1\",subject=\"[^\"]*\"} //p" metrics.txt; }
check "CA certificate expiry" test "$(expiry ca)" = \
	"$(epoch_of "$(openssl x509 -noout -enddate -in "$CA" | cut -d= -f2)")"
check "CRL next update" test "$(expiry crl)" = \
	"$(epoch_of "$(openssl crl -noout -nextupdate -in "$P/crl.pem" | cut -d= -f2)")"
check "renamed families are gone" no_match '^signet_actions_total|^signet_api_responses_total|^signet_crl_next_update_seconds|^signet_action_results_total\{outcome=' metrics.txt
# Every family has a TYPE; counters end _total; histograms end in their
# unit; a gauge of a time ends _timestamp_seconds; base units only.
if python3 - metrics.txt <<'EOF'
import re, sys
types, bad = {}, []
for line in open(sys.argv[1]):
    m = re.match(r"# TYPE (\S+) (\S+)$", line)
    if m:
        types[m.group(1)] = m.group(2)
        continue
    if line.startswith("#") or not line.strip():
        continue
    name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
    fam = name if name in types else re.sub(r"_(bucket|sum|count)$", "", name)
    if fam not in types:
        bad.append("no TYPE for " + name)
for fam, t in types.items():
    if t == "counter" and not fam.endswith("_total"):
        bad.append(fam + ": counter without _total")
    if t != "counter" and fam.endswith("_total"):
        bad.append(fam + ": _total on a " + t)
    if t == "histogram" and not fam.endswith("_seconds"):
        bad.append(fam + ": histogram without its unit")
    if re.search(r"(timestamp|next_update|expiry)", fam) and t == "gauge" and not fam.endswith("_timestamp_seconds"):
        bad.append(fam + ": time gauge not _timestamp_seconds")
    if re.search(r"_(ms|milliseconds|minutes|hours)(_|$)", fam):
        bad.append(fam + ": not a base unit")
if bad:
    print("\n".join(bad))
    sys.exit(1)
EOF
then ok "metric names follow the Prometheus naming guide"; else not_ok "metric names follow the Prometheus naming guide"; fi

# ---- wait=0: 202 and Location ----
# The agent answers a second late, so the 202 surely comes first (an
# instant answer could win the race on a busy machine: CI saw SUCCESS).
sim nowait web-01 --answer SUCCESS --answer-delay 1 || not_ok "sim restarted"
got=$(post alice "$ID_A" "$START" '?wait=0')
expect "wait=0 answers 202" 202 "$got"
A_NW=$(jb "d['action_id']")
check "202 carries Location" grep -qi "^location: /api/actions/$A_NW" hdr
jcheck "202 body is PENDING" "d['status']=='PENDING' and d['finished_at'] is None"
jcheck "202 body has no error (nothing is stopping)" "d['error'] is None"
poll_status() { get "/api/actions/$1" >/dev/null && [ "$(jb "d['status']")" = "$2" ]; }
check "wait=0 action ends SUCCESS" wait_for 10 poll_status "$A_NW" SUCCESS

# ---- never answers: 504, then TIMEOUT stays; late answer replaces it ----
sim silent web-01 || not_ok "sim restarted"
got=$(post alice "$ID_A" "$STOP" '?wait=1')
expect "no result in time answers 504" 504 "$got"
A_TO=$(jb "d['action_id']")
jcheck "504 body is TIMEOUT" "d['status']=='TIMEOUT' and d['action_id']=='$A_TO'"
get "/api/actions/$A_TO" >/dev/null
jcheck "GET shows TIMEOUT" "d['status']=='TIMEOUT'"
check "action.timeout audited" grep -q "\"event\":\"action.timeout\",\"actor\":\"server\",\"data\":{\"action_id\":\"$A_TO\"" "$AUDIT"

sim late web-01 --answer SUCCESS --answer-delay 3 || not_ok "sim restarted"
got=$(post alice "$ID_A" "$STOP" '?wait=1')
expect "late agent: 504 first" 504 "$got"
A_LATE=$(jb "d['action_id']")
check "late result replaces TIMEOUT" wait_for 10 poll_status "$A_LATE" SUCCESS
check "late result audited" grep -q "\"event\":\"action.result\".*\"action_id\":\"$A_LATE\"" "$AUDIT"

# ---- duplicate results: accepted once ----
dup0=$(metric 'signet_agent_result_frames_total{outcome="duplicate"}')
sim dup web-01 --answer SUCCESS --duplicate || not_ok "sim restarted"
got=$(post alice "$ID_A" "$START")
expect "duplicate-sending agent: 200" 200 "$got"
A_DUP=$(jb "d['action_id']")
check "agent sent the result twice" wait_for 5 grep -q "result action_id=$A_DUP status=SUCCESS copy=2" sim-dup.out
dup_counted() { [ "$(metric 'signet_agent_result_frames_total{outcome="duplicate"}')" -gt "$dup0" ]; }
check "duplicate counted" wait_for 5 dup_counted
check "result recorded once" test "$(grep -c "\"event\":\"action.result\".*\"action_id\":\"$A_DUP\"" "$AUDIT")" = 1
check "agent kept its connection" host_connected web-01

# ---- a result signed with the wrong key: refused, connection dropped ----
bad0=$(metric 'signet_agent_result_frames_total{outcome="refused"}')
sim wrongkey web-01 --answer SUCCESS --result-key "$P/keys/agents/web-02.key" ||
	not_ok "sim restarted"
got=$(post alice "$ID_A" "$START" '?wait=2')
expect "wrongly signed result not accepted: 504" 504 "$got"
A_BAD=$(jb "d['action_id']")
check "agent dropped (1008)" grep -q 'closed 0 code=1008 reason="bad result"' sim-wrongkey.out
bad1=$(metric 'signet_agent_result_frames_total{outcome="refused"}')
check "bad result counted" test "$bad1" -gt "$bad0"
check "bad result logged" grep -q "sent a bad action result" "$T_DIR/server.log"
check "bad result audited as a disconnect" grep -q '"event":"agent.disconnected".*"reason":"bad_result"' "$AUDIT"
check "no action.result for it" test "$(grep -c "\"event\":\"action.result\".*\"action_id\":\"$A_BAD\"" "$AUDIT")" = 0

# ---- a result for another request (wrong request_sha256): refused ----
sim badsha web-01 --answer SUCCESS --bad-sha || not_ok "sim restarted"
got=$(post alice "$ID_A" "$START" '?wait=2')
expect "mismatched result not accepted: 504" 504 "$got"
check "mismatch: agent dropped" grep -q 'closed 0 code=1008 reason="bad result"' sim-badsha.out

# ---- refusals before anything is signed ----
sim main2 web-01 --answer SUCCESS || not_ok "sim restarted"
expect "unknown container 404" 404 "$(post alice bbbbbbbbbbbb "$START")"
expect "ambiguous prefix 409" 409 "$(post alice aaaaaaaaaaaa "$START")"
expect "malformed container id 400" 400 "$(post alice AAAA "$START")"
expect "missing reason 400" 400 "$(post alice "$ID_C" '{"action":"START"}')"
expect "empty reason 400" 400 "$(post alice "$ID_C" '{"action":"START","reason":""}')"
long=$(python3 -c 'print("x"*513)')
expect "513-character reason 400" 400 "$(post alice "$ID_C" "{\"action\":\"START\",\"reason\":\"$long\"}")"
ok512=$(python3 -c 'print("\u00e9"*512)')
expect "512-character (1 KiB UTF-8) reason 200" 200 "$(post alice "$ID_C" "{\"action\":\"START\",\"reason\":\"$ok512\"}")"
expect "control character in reason 400" 400 "$(post alice "$ID_C" '{"action":"START","reason":"a\u0007b"}')"
expect "unknown action 400" 400 "$(post alice "$ID_C" '{"action":"KILL","reason":"x"}')"
expect "lower-case action 400" 400 "$(post alice "$ID_C" '{"action":"start","reason":"x"}')"
expect "bad JSON 400" 400 "$(post alice "$ID_C" '{"action":"START",')"
expect "unknown key 400" 400 "$(post alice "$ID_C" '{"action":"START","reason":"x","requested_by":"bob"}')"
expect "duplicate key 400" 400 "$(post alice "$ID_C" '{"action":"START","reason":"x","reason":"y"}')"
expect "empty body 400" 400 "$(post alice "$ID_C" '')"
expect "wait over 120 400" 400 "$(post alice "$ID_C" "$START" '?wait=121')"
expect "unknown parameter 400" 400 "$(post alice "$ID_C" "$START" '?force=1')"
big=$(python3 -c 'print("{\"action\":\"START\",\"reason\":\"" + "y"*17000 + "\"}")')
printf '%s' "$big" >big.json
expect "body over 16 KiB 413" 413 "$(post alice "$ID_C" "@big.json")"
got=$(curl -sS --max-time 30 --cacert "$CA" --cert "$P/issued/alice.pem" \
	--key "$P/private/alice.key" -o body -w '%{http_code}' \
	-H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary @big.json "https://localhost:$API_PORT/api/containers/$ID_C/actions" 2>curl.err)
expect "chunked body over 16 KiB 413" 413 "$got"
expect "text/plain 415" 415 "$(CT=' text/plain' post alice "$ID_C" "$START")"
expect "no content type 415" 415 "$(CT='' post alice "$ID_C" "$START")"
expect "application/jsonx 415" 415 "$(CT=' application/jsonx' post alice "$ID_C" "$START")"
expect "application/json; charset=utf-8 accepted" 200 "$(CT=' application/json; charset=utf-8' post alice "$ID_C" "$START")"
expect "auditor POST 403" 403 "$(post carol "$ID_C" "$START")"
expect "agent certificate POST 403" 403 "$(post web-01 "$ID_C" "$START")"
got=$(get "/api/containers/$ID_C/actions")
expect "GET on the POST route 405" 405 "$got"
expect "unknown action id 404" 404 "$(get /api/actions/0123456789abcdef0123456789abcdef)"
expect "malformed action id 400" 400 "$(get /api/actions/xyz)"

# A flood of refused requests is bounded: per reason (here status_400)
# [audit] limit_burst records a window in full (10), the rest counted in
# the window's audit.suppressed summary ("listener":"api").
for _ in $(seq 1 150); do
	printf 'url = "https://localhost:%s/api/containers/%s/actions"\noutput = "/dev/null"\n' \
		"$API_PORT" "$ID_C"
done >flood.cfg
sleep 1.1                       # the window of the refusals before has ended
t_flood=$(date +%s%3N)
before=$(grep -c '"event":"action.refused"' "$AUDIT")
curl -sS --max-time 60 --parallel --parallel-max 16 --cacert "$CA" \
	--cert "$P/issued/alice.pem" --key "$P/private/alice.key" \
	-H 'Content-Type: application/json' --data-binary '{"action":' \
	-K flood.cfg 2>curl.err
flood=$(( $(grep -c '"event":"action.refused"' "$AUDIT") - before ))
check "a flood of 150 refusals: not all audited ($flood records)" test "$flood" -lt 150
sleep 1.5
expect "the next refusal after the flood" 400 "$(post alice "$ID_C" '{"action":')"
# Each of the 151 is either recorded or counted in a summary, once the
# flood's windows have closed (the next refusal came after them).
flood_accounted() {
	python3 - "$AUDIT" "$before" "$t_flood" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
new = [r["data"] for r in recs if r["event"] == "action.refused"][int(sys.argv[2]):]
sums = [r["data"] for r in recs if r["event"] == "audit.suppressed"
        and r["data"]["event"] == "action.refused"
        and r["data"].get("listener") == "api"
        and r["data"]["window_start"] >= int(sys.argv[3])]
counted = sum(d["counts"].get("status_400", 0) for d in sums)
assert counted > 0 and len(new) + counted == 151, (len(new), counted)
assert all(d["limit"] == 10 for d in sums)
EOF
}
if wait_for 10 flood_accounted
then ok "every refusal of the flood recorded or counted in audit.suppressed"; else not_ok "flood accounting: $(flood_accounted 2>&1 | tail -n 1)"; fi

# ---- host offline: 503, nothing sent ----
"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$CA" --pki "$P" --name web-02 \
	--inventory inv2.json --duration 2 >sim-web02.out 2>&1
got=$(post alice "$ID_D" "$START")
expect "host offline 503" 503 "$got"
jcheck "offline says so" "'offline' in d['error']"

# ---- signetctl ----
export SIGNET_SERVER="https://localhost:$API_PORT" SIGNET_CA="$CA" \
	SIGNET_CERT="$P/issued/alice.pem" SIGNET_KEY="$P/private/alice.key"
out=$("$SIGNETCTL" action "$ID_C" start --reason "signetctl run" 2>&1); rc=$?
check "signetctl action: exit 0 on SUCCESS" test "$rc" = 0
check "signetctl action prints the status" grep -q '^status: *SUCCESS' <<<"$out"
CTL_ID=$(awk '$1=="action_id:"{print $2}' <<<"$out")
check "signetctl action prints the id" test "${#CTL_ID}" = 32
out=$("$SIGNETCTL" action-status "$CTL_ID" 2>&1); rc=$?
check "signetctl action-status: exit 0" test "$rc" = 0
check "action-status shows reason and operator" grep -q '^reason: *signetctl run' <<<"$out"
sim slow web-01 --answer SUCCESS --answer-delay 2 || not_ok "sim restarted"
out=$("$SIGNETCTL" action "$ID_C" restart --reason "no wait" --no-wait 2>&1); rc=$?
check "signetctl action --no-wait: exit 0 (202)" test "$rc" = 0
check "--no-wait says PENDING" grep -q '^status: *PENDING' <<<"$out"
NW_ID=$(awk '$1=="action_id:"{print $2}' <<<"$out")
check "the --no-wait action then ends SUCCESS" wait_for 10 poll_status "$NW_ID" SUCCESS
check_fails_with "signetctl action: unknown container fails" 'server answered 404' \
	"$SIGNETCTL" action bbbbbbbbbbbb start --reason x
check_fails_with "signetctl action: bad verb is usage" 'start, stop or restart' \
	"$SIGNETCTL" action "$ID_C" kill --reason x
check_fails_with "signetctl action: reason required" 'reason' \
	"$SIGNETCTL" action "$ID_C" start
check_fails_with "signetctl action-status: unknown id" 'server answered 404' \
	"$SIGNETCTL" action-status 0123456789abcdef0123456789abcdef
sim deny web-01 --answer DENIED --error "not in policy" || not_ok "sim restarted"
out=$("$SIGNETCTL" action "$ID_C" stop --reason "should be denied" 2>&1); rc=$?
check "signetctl action: DENIED exits 3" test "$rc" = 3
check "DENIED message shown" grep -q 'server answered 403: action [0-9a-f]* DENIED: not in policy' <<<"$out"
out=$("$SIGNETCTL" --cert "$P/issued/carol.pem" --key "$P/private/carol.key" \
	action "$ID_C" start --reason x 2>&1); rc=$?
check "signetctl action as auditor exits 3 (403)" test "$rc" = 3
out=$("$SIGNETCTL" audit tail --limit 5 2>&1); rc=$?
check "signetctl audit tail: exit 0 ($(head -c 300 <<<"$out"))" test "$rc" = 0
check "audit tail prints 5 records" test "$(wc -l <<<"$out")" = 5
check "audit tail ends at the head: the auditor's refused request" \
	grep -q 'action.refused.*carol' <<<"$(tail -n 1 <<<"$out")"
out=$("$SIGNETCTL" audit tail --after 0 --limit 2 --json 2>&1); rc=$?
check "audit tail --after --json" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert [r["seq"] for r in d["records"]]==[1,2]' "$out"

# ---- a wait longer than the API's 10 s idle timeout holds ----
sim slow web-01 --answer SUCCESS --answer-delay 12 || not_ok "sim restarted"
got=$(post alice "$ID_C" "$RESTART" '?wait=20')
expect "result after 12 s still answers 200 (suspended, not cut)" 200 "$got"

# ---- SIGTERM while requests wait: they are answered, the server exits ----
sim silent2 web-01 || not_ok "sim restarted"
post alice "$ID_C" "$START" '?wait=60' >stop.status &
CURL_PID=$!
wait_for 5 grep -q '^action 0 ' sim-silent2.out
kill -TERM "$SERVER_PID"
wait "$CURL_PID"
wait "$SERVER_PID"; src=$?
check "waiting request answered 503 at shutdown" test "$(cat stop.status)" = 503
jcheck "shutdown answer names the action, still PENDING" "d['status']=='PENDING' and len(d['action_id'])==32 and 'stopping' in d['error']"
A_STOP=$(jb "d['action_id']")
# Early: the 503 says "stopping", not the 60 s wait's end (no clock here).
check "server exited 0 ($src)" test "$src" = 0
stop_sim
start_server || not_ok "server restarted"

# ---- the audit log cannot be written: 503, nothing sent ----
# RLIMIT_FSIZE set on the running server at the log's current size makes
# the very next append fail (EFBIG, nothing written), exactly like a full
# disk and on any filesystem; SIGXFSZ is ignored (inherited from here) so
# the server lives on and must refuse instead.
if command -v prlimit >/dev/null; then
	kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
	trap '' XFSZ
	start_server || not_ok "server restarted"
	trap - XFSZ
	sim full web-01 --answer SUCCESS || not_ok "sim for the full-log case"
	got=$(post alice "$ID_C" "$START")
	expect "before the log is full: 200" 200 "$got"
	n_before=$(grep -c '^action ' sim-full.out)
	size=$(stat -c %s "$AUDIT")
	prlimit --pid "$SERVER_PID" --fsize="$size":unlimited
	got=$(post alice "$ID_C" '{"action":"STOP","reason":"disk is full"}')
	expect "audit log unwritable: 503" 503 "$got"
	jcheck "503 says the audit log" "'audit log' in d['error'] and len(d['action_id'])==32"
	sleep 1
	check "no action frame sent" test "$(grep -c '^action ' sim-full.out)" = "$n_before"
	check "refusal counted" test "$(metric 'signet_actions_refused_total{reason="audit_unavailable"}')" -ge 1
	check "log unchanged" test "$(stat -c %s "$AUDIT")" = "$size"
	prlimit --pid "$SERVER_PID" --fsize=unlimited:unlimited
	got=$(post alice "$ID_C" "$START")
	expect "space back: 200 again" 200 "$got"
	check "refused action not in the log" test "$(grep -c 'disk is full' "$AUDIT")" = 0
	stop_sim

	# action.result cannot be written: nothing of the result is taken.
	# The server writes results without waiting and syncs them at the
	# end of its loop's turn (server/hub_settle.c); a record that cannot
	# be written still closes the agent with no result_ack.
	# The sim is stopped while the action is recorded and sent, and the
	# log capped before it may answer: the order holds however slow
	# this machine is.
	sim fullres web-01 --answer SUCCESS || not_ok "sim for the unwritable result"
	kill -STOP "$SIM_PID"
	got=$(post alice "$ID_C" "$START" '?wait=0')
	expect "action for the unwritable result: 202" 202 "$got"
	A_FR=$(jb "d['action_id']")
	size=$(stat -c %s "$AUDIT")
	prlimit --pid "$SERVER_PID" --fsize="$size":unlimited
	kill -CONT "$SIM_PID"
	check "the agent is closed 1011 once its result cannot be recorded" \
		wait_for 15 grep -q '^closed 0 code=1011' sim-fullres.out
	check "the result was sent" grep -q "^sent 0 result action_id=$A_FR" sim-fullres.out
	check "no result_ack for it" test "$(grep -c 'result_ack' sim-fullres.out)" = 0
	check "the action is still PENDING" poll_status "$A_FR" PENDING
	check "log unchanged by the result" test "$(stat -c %s "$AUDIT")" = "$size"
	prlimit --pid "$SERVER_PID" --fsize=unlimited:unlimited
	# Space back: a result is taken, recorded and acknowledged again.
	sim fullres2 web-01 --answer SUCCESS || not_ok "sim after the unwritable result"
	got=$(post alice "$ID_C" "$START")
	expect "space back: the next result is taken (200)" 200 "$got"
	check "and acknowledged" wait_for 10 grep -q 'result_ack' sim-fullres2.out
	stop_sim
else
	echo "# skipped: no prlimit: audit-unwritable case not run"
fi
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# ---- the server's audit log ----
if python3 - "$AUDIT" "$ID_C" "$ID_D" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ref = [r["data"] for r in recs if r["event"] == "action.refused"]
assert all(d["listener"] == "api" and d["peer"] and "action_id" not in d for d in ref), ref
def has(status, who="alice", role="operator", container=sys.argv[2], err="", body=False):
    for d in ref:
        if (d["status"] == status and d["requested_by"] == who and
                d["role"] == role and d["container"] == container and
                err in d["error"] and (not body or
                (d["action_name"] == "START" and d["action_reason"] == "deploy 1.2.3 after review"))):
            return
    raise AssertionError("no action.refused %d %s %s %s" % (status, who, container, err))
has(404, container="bbbbbbbbbbbb", err="no container", body=True)
has(409, container="aaaaaaaaaaaa", body=True)
has(400, container="AAAA", body=True)
has(400, err="malformed JSON")
has(400, err="duplicate key")
has(400, err="reason must be 1 to 512")
has(400, err="KILL")
has(413)
has(415, err="Content-Type")
has(403, who="carol", role="auditor", err="operators only")
has(403, who="web-01", role="agent")
has(503, container=sys.argv[3], err="offline", body=True)
EOF
then ok "audit says who asked for what and why each refused request was refused"; else not_ok "refusals audited"; fi
out=$("$SIGNETCTL" audit verify "$AUDIT" --key "$P/keys/audit.pub" \
	--action-key "$P/keys/action.pub" --agent-keys "$P/keys/agents" 2>&1); rc=$?
check "audit log verifies with action and agent keys ($out)" test "$rc" = 0
if python3 - "$AUDIT" "$A_OK" "$A_LATE" "$A_STOP" "${A_FR:-}" <<'EOF'
import json, sys, base64
recs = [json.loads(l) for l in open(sys.argv[1])]
req = {r["data"]["action_id"]: r["data"] for r in recs if r["event"] == "action.requested"}
res = {}
for r in recs:
    if r["event"] == "action.result":
        res.setdefault(r["data"]["action_id"], []).append(r["data"])
ends = {r["data"]["action_id"] for r in recs if r["event"] in ("action.result", "action.timeout", "action.undelivered")}
for aid, d in req.items():
    assert set(d) == {"action_id", "host_id", "container_id", "action_name", "reason", "requested_by", "requester", "expires_at", "action"}, d
    assert set(d["action"]) == {"payload", "sig", "key_id"}
    assert d["requested_by"] == "alice" and d["reason"], d
    assert d["requester"] == "server-asserted", d
    p = json.loads(base64.b64decode(d["action"]["payload"]))
    assert p["action_id"] == aid and p["reason"] == d["reason"] and p["requested_by"] == "alice"
    assert 0 < p["expires_at"] - p["issued_at"] <= 300000
    # The one pending when the server stopped has no end in this log,
    # nor the one whose result could not be recorded.
    assert aid in ends or aid in sys.argv[4:6], "no end recorded for " + aid
for aid, lst in res.items():
    assert len(lst) == 1, aid
    d = lst[0]
    assert set(d) == {"action_id", "host_id", "status", "docker_status", "error", "result", "result_key_id"}, d
    assert len(d["result_key_id"]) == 16 and all(c in "0123456789abcdef" for c in d["result_key_id"]), d
    assert aid in req
ok = res[sys.argv[2]][0]
assert ok["status"] == "SUCCESS" and ok["docker_status"] == 204
assert res[sys.argv[3]][0]["status"] == "SUCCESS"
EOF
then ok "audit holds reason, operator and result of every action"; else not_ok "audit contents"; fi
check "the audit log holds only records docs/schema describes" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$AUDIT"
finish
