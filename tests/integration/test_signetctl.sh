#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# signetctl against a real signet-server and simulated agents
# (tests/tools/agent_sim) over real TLS: both option forms, options before
# and after the command, version, -o table|json and --json, the contexts
# of the configuration file (selection, precedence, every refusal), every
# exit code (0 success, 1 failed or refused, 2 usage, 3 denied, 4 timeout,
# 5 unreachable), audit tail --follow picking up a new record and ending
# cleanly on SIGINT, the progress line only on a terminal, the bash
# completion, and a clear message for every bad input.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
. "$(dirname "$0")/sim.sh"
sim_begin script
TAIL_PID=""
trap '[ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null; sim_cleanup_all' EXIT

# No settings from the caller's environment or home leak in.
unset SIGNET_SERVER SIGNET_CERT SIGNET_KEY SIGNET_CA SIGNET_CONFIG SIGNET_CONTEXT \
	SIGNET_SIGNING_KEY
export HOME=$T_DIR/home XDG_CONFIG_HOME=$T_DIR/home/.config
mkdir -p "$HOME"

write_server_conf
start_server || { not_ok "server started"; finish; exit 1; }
U="https://localhost:$API_PORT"
DEAD="https://localhost:$(free_port)"

ID_C=cccccccccccc3333333333333333333333333333333333333333333333333333
ID_D=dddddddddddd4444444444444444444444444444444444444444444444444444
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID_C db-c)]}" >inv1.json
echo "{\"type\":\"inventory\",\"containers\":[$(inventory_row $ID_D cache-d)]}" >inv2.json


S() { "$SIGNETCTL" "$@"; }
ALICE=(--server "$U" --ca "$CA" --cert "$P/issued/alice.pem" --key "$P/private/alice.key")
# expect_rc NAME WANT PATTERN CMD...: CMD exits WANT and prints (stdout or
# stderr) a line matching the extended regex PATTERN.
expect_rc() {
	local name=$1 want=$2 pattern=$3 out rc; shift 3
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
		ok "$name"
	else
		not_ok "$name (rc=$rc, wanted $want and /$pattern/, got: $(printf '%s' "$out" | head -c 400))"
	fi
}
isjson() { python3 -c 'import json,sys; json.load(sys.stdin)'; }

# ---- version ----
want=$(sed -n 's/^project(signet VERSION \([0-9.]*\).*/\1/p' "$SIGNET_SOURCE_DIR/CMakeLists.txt")
check "the project version is found ($want)" test -n "$want"
check "signetctl version" test "$(S version)" = "signetctl $want"
check "signetctl --version" test "$(S --version)" = "signetctl $want"
check "signet-pki --version" test "$("$PKI_SCRIPT" --version)" = "signet-pki $want"
check "signet-pki version" test "$("$PKI_SCRIPT" version)" = "signet-pki $want"
expect_rc "version takes no arguments" 2 'takes no arguments' S version extra
check "version --help" grep -q 'usage: signetctl version' <<<"$(S version --help)"

# ---- both option forms, before and after the command ----
sim main web-01 --answer SUCCESS || { not_ok "agent web-01 connected"; finish; exit 1; }
ok "agent web-01 connected with its inventory"
out=$(S "${ALICE[@]}" hosts); rc=$?
check "hosts with options before the command exits 0" test "$rc" = 0
check "hosts table" grep -Eq '^web-01 +yes ' <<<"$out"
# The containers table does not change while the test runs (hosts has
# last_seen): the same table is the same view.
base=$(S "${ALICE[@]}" containers); rc=$?
check "containers exits 0" test "$rc" = 0
check "containers table" grep -Eq '^cccccccccccc +web-01 +db-c ' <<<"$base"
check "--opt=value before the command" test "$(S --server="$U" --ca="$CA" \
	--cert="$P/issued/alice.pem" --key="$P/private/alice.key" containers)" = "$base"
check "--opt value after the command" test "$(S containers --server "$U" --ca "$CA" \
	--cert "$P/issued/alice.pem" --key "$P/private/alice.key")" = "$base"
check "--opt=value after the command" test "$(S containers --server="$U" --ca="$CA" \
	--cert="$P/issued/alice.pem" --key="$P/private/alice.key")" = "$base"
check "mixed, on both sides" test "$(S --server "$U" --ca="$CA" containers \
	--cert="$P/issued/alice.pem" --key "$P/private/alice.key")" = "$base"
out=$(S "${ALICE[@]}" containers --host=web-01 --state running)
check "containers --host=V --state V" grep -Eq '^cccccccccccc +web-01 +db-c ' <<<"$out"
out=$(S --host web-01 "${ALICE[@]}" --state=running containers)
check "a command's own options before it" grep -Eq '^cccccccccccc +web-01 +db-c ' <<<"$out"
out=$(S "${ALICE[@]}" containers --state=exited)
check "containers --state=exited: header only" test "$(wc -l <<<"$out")" = 1

# ---- output: -o table|json, --output, --json ----
j1=$(S "${ALICE[@]}" hosts -o json)
check "hosts -o json is JSON with the host" pyq "[h['host_id'] for h in d['hosts']] == ['web-01']" <<<"$j1"
check "hosts -o json is the server's answer" test "$j1" = "$(api_get /api/hosts)"
check "--json is -o json" test "$(S "${ALICE[@]}" hosts --json)" = "$j1"
check "--output=json" test "$(S "${ALICE[@]}" hosts --output=json)" = "$j1"
check "-o json before the command" test "$(S -o json "${ALICE[@]}" hosts)" = "$j1"
check "-ojson" test "$(S "${ALICE[@]}" hosts -ojson)" = "$j1"
check "-o table is the table" test "$(S "${ALICE[@]}" containers -o table)" = "$base"
check "the last of --json and -o wins" test "$(S "${ALICE[@]}" containers --json -o table)" = "$base"
out=$(S "${ALICE[@]}" containers -o json)
check "containers -o json" pyq "d['containers'][0]['id'] == '$ID_C'" <<<"$out"
out=$(S "${ALICE[@]}" action "$ID_C" start --reason "json out" -o json)
check "action -o json" pyq "d['status'] == 'SUCCESS' and d['reason'] == 'json out'" <<<"$out"
AID=$(pyq "d['action_id']" <<<"$out")
out=$(S "${ALICE[@]}" action-status "$AID" --output json)
check "action-status --output json" pyq "d['action_id'] == '$AID' and d['status'] == 'SUCCESS'" <<<"$out"
out=$(S "${ALICE[@]}" action-status "$AID")
check "action-status table" grep -q '^status: *SUCCESS' <<<"$out"
out=$(S "${ALICE[@]}" audit tail --limit 3 -o json)
check "audit tail -o json" pyq "len(d['records']) == 3" <<<"$out"
out=$(S "${ALICE[@]}" audit tail --limit 3)
check "audit tail table: 3 lines" test "$(wc -l <<<"$out")" = 3
out=$(S --limit=2 "${ALICE[@]}" audit tail)
check "audit tail with its option before both words" test "$(wc -l <<<"$out")" = 2
expect_rc "-o yaml refused" 2 '-o "yaml": the output is table or json' S "${ALICE[@]}" hosts -o yaml
expect_rc "--output without a value" 2 '--output needs a value' S hosts --output
expect_rc "--json=x refused" 2 'unknown option "--json=x"' S hosts --json=x

# ---- contexts ----
CONF=$XDG_CONFIG_HOME/signet/signetctl.conf
mkdir -p "$(dirname "$CONF")"
write_conf() {
	cat >"$CONF" <<CONF
; signetctl contexts for the test
current = prod

[prod]
server = $U
ca     = $CA
cert   = $P/issued/alice.pem
key    = $P/private/alice.key

[dead]
server = $DEAD
ca     = $CA
cert   = $P/issued/alice.pem
key    = $P/private/alice.key

[audit]
server = $U
ca     = $CA
cert   = $P/issued/carol.pem
key    = $P/private/carol.key
CONF
	chmod 600 "$CONF"
}
write_conf
check "the current context under \$XDG_CONFIG_HOME" test "$(S containers)" = "$base"
expect_rc "--context picks one (dead: unreachable)" 5 'cannot connect' S --context dead hosts
expect_rc "--context=NAME after the command" 5 'cannot connect' S hosts --context=dead
expect_rc "SIGNET_CONTEXT picks one" 5 'cannot connect' env SIGNET_CONTEXT=dead "$SIGNETCTL" hosts
check "--context beats SIGNET_CONTEXT" test "$(SIGNET_CONTEXT=dead S --context prod containers)" = "$base"
check "SIGNET_SERVER beats the context" test "$(SIGNET_SERVER=$U S --context dead containers)" = "$base"
expect_rc "--server beats SIGNET_SERVER" 5 'cannot connect' env SIGNET_SERVER="$U" "$SIGNETCTL" --server "$DEAD" hosts
check "--server beats the context" test "$(S --context dead --server "$U" containers)" = "$base"
expect_rc "the auditor's context: an action is denied (3)" 3 'server answered 403' \
	S --context audit action "$ID_C" start --reason "role check"
check "the auditor's context reads" test "$(S --context audit containers)" = "$base"
out=$(S context list)
check "context list has a header and three contexts" test "$(wc -l <<<"$out")" = 4
check "context list marks the current one" grep -Eq '^\* +prod +https://localhost:' <<<"$out"
check "context list: others unmarked" grep -Eq '^ +dead +https://localhost:' <<<"$out"
check "context list marks --context" grep -Eq '^\* +audit ' <<<"$(S --context audit context list)"
out=$(S context list -o json)
check "context list -o json" pyq "d['current'] == 'prod' and [c['name'] for c in d['contexts']] == ['prod', 'dead', 'audit'] and d['contexts'][2]['cert'] == '$P/issued/carol.pem'" <<<"$out"
out=$(S context show)
check "context show: the current one" grep -q "^server: *$U\$" <<<"$out"
check "context show: name" grep -q '^name: *prod$' <<<"$out"
out=$(S context show audit --json)
check "context show NAME --json" pyq "d['name'] == 'audit' and d['key'] == '$P/private/carol.key'" <<<"$out"
expect_rc "context show: unknown name" 2 'no context "nope" in .*signetctl.conf' S context show nope
expect_rc "missing named context (--context)" 2 'no context "nope" in ' S --context nope hosts
expect_rc "missing named context (SIGNET_CONTEXT)" 2 'no context "gone" in ' env SIGNET_CONTEXT=gone "$SIGNETCTL" hosts
cp "$CONF" other.conf
sed -i 's/^current = prod/current = dead/' other.conf
expect_rc "--config FILE" 5 'cannot connect' S --config other.conf hosts
expect_rc "SIGNET_CONFIG" 5 'cannot connect' env SIGNET_CONFIG=other.conf "$SIGNETCTL" hosts
check "--config beats SIGNET_CONFIG" test "$(SIGNET_CONFIG=other.conf S --config "$CONF" containers)" = "$base"
expect_rc "--config naming no file" 2 'cannot open the configuration file .*nofile.conf' S --config nofile.conf hosts
chmod 664 "$CONF"
expect_rc "group-writable file refused" 2 'writable by group or others \(mode 0664\).*chmod go-w' S hosts
chmod 606 "$CONF"
expect_rc "world-writable file refused" 2 'writable by group or others \(mode 0606\)' S context list
chmod 600 "$CONF"
printf '[prod]\nserver = %s\nproxy = x\n' "$U" >"$CONF"
expect_rc "unknown key refused, with its line" 2 'signetctl.conf line 3: unknown key "proxy" in \[prod\]' S hosts --server "$U"
printf 'colour = blue\n[prod]\nserver = %s\n' "$U" >"$CONF"
expect_rc "unknown key before the contexts" 2 'line 1: unknown key "colour" before the first' S hosts
printf '[Prod Server]\nserver = %s\n' "$U" >"$CONF"
expect_rc "bad section refused" 2 'line 1: section \[Prod Server\] is not a context name' S hosts
printf '[a]\nserver = %s\n[b]\nserver = %s\n[a]\nca = /x\n' "$U" "$U" >"$CONF"
expect_rc "a context given twice" 2 'line 5: context \[a\] is given twice' S hosts
printf '[a]\nserver = %s\nserver = %s\n' "$U" "$U" >"$CONF"
expect_rc "a key given twice" 2 'line 3: "server" is given twice in \[a\]' S hosts
printf '[a]\nca = ca.pem\n' >"$CONF"
expect_rc "relative path refused" 2 'ca = "ca.pem" in \[a\] is not an absolute path' S hosts
printf 'current = b\n[a]\nca = /x\n' >"$CONF"
expect_rc "current naming no context" 2 'current = b names no context' S hosts
printf '[a]\nthis is not ini\n' >"$CONF"
expect_rc "syntax error" 2 'line 2: not "key = value" or "\[NAME\]"' S hosts
printf '[a]\nserver = https://%0300d\n' 0 >"$CONF"
expect_rc "over-long line" 2 'line 2: over 199 characters' S hosts
printf '[a]\nserver = %s\n' "$U" >"$CONF"
expect_rc "an incomplete context names what is missing" 2 'no ca: give --ca or set SIGNET_CA, or add ca to the context in use' \
	S --context a hosts
check "the rest from the environment" test "$(SIGNET_CA=$CA SIGNET_CERT=$P/issued/alice.pem \
	SIGNET_KEY=$P/private/alice.key S --context a containers)" = "$base"
write_conf

# ---- exit codes against the real server ----
export SIGNET_CONTEXT=prod
expect_rc "0: SUCCESS" 0 'status: +SUCCESS' S action "$ID_C" restart --reason "exit 0"
sim deny web-01 --answer DENIED --error "not in policy" || not_ok "sim restarted"
expect_rc "3: DENIED by the host's policy" 3 'server answered 403: action [0-9a-f]{32} DENIED: not in policy' \
	S action "$ID_C" stop --reason "exit 3"
sim fail web-01 --answer FAILURE,REJECTED --error "docker said no" || not_ok "sim restarted"
expect_rc "1: FAILURE" 1 'server answered 502: action [0-9a-f]{32} FAILURE' \
	S action "$ID_C" stop --reason "exit 1"
expect_rc "1: REJECTED" 1 'server answered 502: action [0-9a-f]{32} REJECTED' \
	S action "$ID_C" stop --reason "exit 1 again"
expect_rc "1: unknown container (404)" 1 'server answered 404' S action bbbbbbbbbbbb start --reason x
expect_rc "1: unknown action id (404)" 1 'server answered 404' S action-status 0123456789abcdef0123456789abcdef
sim silent web-01 || not_ok "sim restarted"
expect_rc "4: no result in time (504)" 4 'server answered 504' S action "$ID_C" start --reason "exit 4" --wait 1
expect_rc "5: nothing listening" 5 'cannot connect to' S hosts --server "$DEAD"
"$PKI_SCRIPT" init "$T_DIR/pki2" --nopass >/dev/null 2>&1
expect_rc "5: TLS failure (a foreign CA)" 5 "certificate .* is not trusted" S hosts --ca "$T_DIR/pki2/ca.pem"
"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$CA" --pki "$P" --name web-02 \
	--inventory inv2.json --duration 2 >sim-web02.out 2>&1
expect_rc "5: host offline (503)" 5 'server answered 503' S action "$ID_D" start --reason "exit 5"
expect_rc "2: usage (reason missing)" 2 'a container id, an action and --reason are required' S action "$ID_C" start
# shellcheck disable=SC2016 # $1 and $2 are sh -c's own arguments
expect_rc "2: a local key file readable by others" 2 'mode 0644' \
	sh -c 'cp "$1" loose.key && chmod 644 loose.key && "$2" hosts --key loose.key' _ "$P/private/alice.key" "$SIGNETCTL"
# shellcheck disable=SC2016 # $1..$3 are sh -c's own arguments
expect_rc "1: audit verify of a bad log" 1 '^FAILED' \
	sh -c 'cp "$1" bad.log && sed -i "2s/\"seq\":1/\"seq\":7/" bad.log && "$2" audit verify bad.log --key "$3"' \
	_ "$T_DIR/server-audit.log" "$SIGNETCTL" "$P/keys/audit.pub"
expect_rc "0: audit verify of the server's log" 0 '^ok: ' S audit verify "$T_DIR/server-audit.log" --key="$P/keys/audit.pub"
out=$(S audit verify "$T_DIR/server-audit.log" --key "$P/keys/audit.pub" \
	--action-key "$P/keys/action.pub" --agent-keys "$P/keys/agents" -o json); rc=$?
check "audit verify -o json: exit 0" test "$rc" = 0
check "audit verify -o json: the report" pyq "d['ok'] and d['records'] > 10 and d['head']['seq'] == d['records'] - 1 and len(d['head']['hash']) == 64 and d['actions']['verified'] > 0 and d['files'][0]['records'] == d['records']" <<<"$out"
out=$(S audit verify bad.log --key "$P/keys/audit.pub" --json); rc=$?
check "audit verify --json of a bad log: exit 1" test "$rc" = 1
check "audit verify --json of a bad log: the failure" pyq "d['ok'] == False and d['bad_line'] == 2 and d['records_verified'] == 1 and 'bad.log:2' in d['error']" <<<"$out"

# ---- bad input: each gets a clear message and exit 2 ----
expect_rc "no command" 2 'no command given' S
expect_rc "unknown command" 2 'unknown command "frobnicate"' S frobnicate
expect_rc "audit alone" 2 '"audit" needs a second word: none given' S audit
expect_rc "audit with an unknown word" 2 '"audit" needs a second word: that one is unknown' S audit rewind
expect_rc "context alone" 2 '"context" needs a second word' S context
expect_rc "unknown option" 2 'unknown option "--frob" \(signetctl hosts --help' S hosts --frob
expect_rc "unknown short option" 2 'unknown option "-x"' S hosts -x
expect_rc "unknown option before the command" 2 'signetctl hosts: unknown option "--frob"' S --frob hosts
expect_rc "unknown option and no command" 2 'signetctl: unknown option "--frob"' S --frob
expect_rc "option value missing" 2 '--server needs a value' S hosts --server
expect_rc "unexpected argument" 2 'unexpected argument "extra"' S hosts extra
expect_rc "bad action word" 2 '"kill": the action is start, stop or restart' S action "$ID_C" kill --reason x
expect_rc "bad container id" 2 'container id "web-01": give the full id or a prefix' S action web-01 start --reason x
expect_rc "--wait not a number" 2 '--wait "soon": give 0 to 120 seconds' S action "$ID_C" start --reason x --wait soon
expect_rc "--wait too long" 2 '--wait "121": give 0 to 120' S action "$ID_C" start --reason x --wait=121
expect_rc "--wait and --no-wait" 2 'give --no-wait or --wait, not both' S action "$ID_C" start --reason x --wait 3 --no-wait
expect_rc "bad action id" 2 'action id "xyz": an action id is 32' S action-status xyz
expect_rc "--limit 0" 2 '--limit "0": give 1 to 1000' S audit tail --limit 0
expect_rc "--after -1" 2 '--after "-1": give a seq' S audit tail --after=-1
expect_rc "--interval 0" 2 '--interval "0": give 1 to 3600' S audit tail --follow --interval 0
expect_rc "--interval without --follow" 2 '--interval goes with --follow' S audit tail --interval 1
expect_rc "keygen bad name" 2 'bad name "Bad/Name"' S keygen Bad/Name
expect_rc "keygen without a name" 2 'give one NAME' S keygen
expect_rc "audit verify without --key" 2 '--key AUDIT.pub \(or, for an agent.s log, --agent-keys DIR --agent-host HOST\) is required' S audit verify x.log
expect_rc "audit verify without a file" 2 'no log file given' S audit verify --key x.pub
expect_rc "audit verify bad --expect-head" 2 '--expect-head "7": give SEQ:HASH' S audit verify x.log --key x.pub --expect-head 7
expect_rc "bad server URL" 2 'server "http://x" is not https://' S hosts --server http://x
expect_rc "context show: two names" 2 'unexpected argument "b"' S context show a b
# Signed requests and approvals: each usage error is said before anything
# is sent, and nothing needs the server.
AID0=0123456789abcdef0123456789abcdef
expect_rc "action --valid 0" 2 '--valid "0": give 1 to 86700 seconds' \
	S action "$ID_C" start --reason x --valid 0
expect_rc "action --valid too large" 2 '--valid "86701": give 1 to 86700 seconds' \
	S action "$ID_C" start --reason x --valid=86701
expect_rc "action --valid not a number" 2 '--valid "soon": give 1 to 86700' \
	S action "$ID_C" start --reason x --valid soon
expect_rc "action --passphrase-fd not a descriptor" 2 \
	'signetctl action: --passphrase-fd "99": not an open descriptor' \
	S action "$ID_C" start --reason x --passphrase-fd 99 9<&-
expect_rc "action --passphrase-fd not a number" 2 '--passphrase-fd "x": not an open descriptor' \
	S action "$ID_C" start --reason x --passphrase-fd x
expect_rc "action --signing-key: a missing file" 2 'signetctl action: signing key: .*nokey.key: no such file' \
	S action "$ID_C" start --reason x --signing-key "$T_DIR/nokey.key"
expect_rc "action: \$SIGNET_SIGNING_KEY is read" 2 'signing key: .*nokey.key: no such file' \
	env SIGNET_SIGNING_KEY="$T_DIR/nokey.key" "$SIGNETCTL" action "$ID_C" start --reason x
expect_rc "approve without --signing-key" 2 \
	'signetctl approve: --signing-key is required: an approval is your signature' S approve "$AID0"
expect_rc "approve with a bad action id" 2 \
	'signetctl approve: "xyz" is not an action id \(32 lowercase hex digits\)' \
	S approve xyz --signing-key k.key
expect_rc "approve with an upper-case action id" 2 'is not an action id' \
	S approve 0123456789ABCDEF0123456789ABCDEF --signing-key k.key
expect_rc "approve without an action id" 2 'signetctl approve: an action id is required' S approve
expect_rc "approve --passphrase-fd not a descriptor" 2 '--passphrase-fd "99": not an open descriptor' \
	S approve "$AID0" --signing-key k.key --passphrase-fd 99 9<&-
expect_rc "roster sign --passphrase-fd not a descriptor" 2 \
	'signetctl roster sign: --passphrase-fd "99": not an open descriptor' \
	S roster sign d.json --key k.key --out r.json --passphrase-fd 99 9<&-
expect_rc "approve --wait too long" 2 '--wait "121": give 0 to 120 seconds' \
	S approve "$AID0" --signing-key k.key --wait 121
expect_rc "approve: a missing signing key" 2 'signetctl approve: signing key: .*nokey.key: no such file' \
	S approve "$AID0" --signing-key "$T_DIR/nokey.key"
expect_rc "refuse without --reason" 2 'signetctl refuse: --reason is required' S refuse "$AID0"
expect_rc "refuse with a bad action id" 2 'signetctl refuse: "xyz" is not an action id' S refuse xyz --reason x
expect_rc "approval show with a bad action id" 2 'signetctl approval show: "xyz" is not an action id' \
	S approval show xyz
expect_rc "approval alone" 2 '"approval" needs a second word: none given' S approval
expect_rc "approvals takes no argument" 2 'signetctl approvals: unexpected argument "x"' S approvals x
for c in hosts containers action action-status "audit tail" "audit verify" keygen \
    approvals "approval show" approve refuse "roster show" "roster edit" \
    "roster sign" "context list" "context show" version; do
	# shellcheck disable=SC2086 # two-word commands
	out=$(S $c --help 2>&1); rc=$?
	check "$c --help exits 0 with its usage" test "$rc" = 0 -a -n "$(grep "^usage: signetctl $c" <<<"$out")"
done
out=$(S --help)
check "--help lists the exit codes" grep -q '^  3  denied (403)' <<<"$out"
check "--help names no file outside the repository" test -z "$(grep -E 'SPEC|shared/' <<<"$out")"

# ---- audit tail --follow ----
sim follow web-01 --answer SUCCESS || not_ok "sim restarted"
"$SIGNETCTL" audit tail --limit 2 --follow --interval 1 >follow.out 2>follow.err &
TAIL_PID=$!
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }
check "follow prints the last records first" wait_for 10 lines_at_least follow.out 2
out=$(S action "$ID_C" restart --reason "seen by follow" -o json)
FID=$(pyq "d['action_id']" <<<"$out")
check "follow picks up the new action's records" wait_for 10 grep -q "action.result.*$FID" follow.out
kill -INT "$TAIL_PID"
wait "$TAIL_PID"; rc=$?
TAIL_PID=""
check "follow ends cleanly on SIGINT (rc $rc)" test "$rc" = 0
check "follow printed no record twice" test -z "$(awk '{print $1}' follow.out | sort | uniq -d)"
check "follow: nothing on stderr" test ! -s follow.err
"$SIGNETCTL" audit tail --follow --interval 1 -o json >followj.out 2>&1 &
TAIL_PID=$!
check "follow -o json: a record a line" wait_for 10 test -s followj.out
kill -TERM "$TAIL_PID"
wait "$TAIL_PID"; rc=$?
TAIL_PID=""
check "follow ends cleanly on SIGTERM (rc $rc)" test "$rc" = 0
check "follow -o json lines are JSON records" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines and all("seq" in json.loads(l) for l in lines)' followj.out

# ---- the progress line: on a terminal only ----
sim slow web-01 --answer SUCCESS --answer-delay 3 || not_ok "sim restarted"
script -qec "$SIGNETCTL action $ID_C restart --reason tty --wait 20" /dev/null >tty.out 2>&1
check "on a tty: the progress line is drawn" grep -q 'waiting for the result of RESTART on cccccccccccc' tty.out
check "on a tty: it counts seconds" grep -aq 'RESTART on cccccccccccc3333[.][.][.] 1 s' tty.out
check "on a tty: it is cleared before the answer" python3 -c '
import sys
t = open(sys.argv[1], "rb").read()
i = t.rfind(b"waiting for the result")
j = t.find(b"\r\x1b[K", i)
k = t.find(b"action_id:")
assert i >= 0 and j > i and k > j, (i, j, k)' tty.out
S action "$ID_C" restart --reason "no tty" --wait 20 >notty.out 2>notty.err; rc=$?
check "not a tty: exit 0" test "$rc" = 0
check "not a tty: no progress line" test ! -s notty.err
check "not a tty: the answer on stdout" grep -q '^status: *SUCCESS' notty.out
S action "$ID_C" restart --reason "no wait" --no-wait >/dev/null 2>nowait.err
check "--no-wait: no progress line" test ! -s nowait.err

# ---- bash completion ----
COMP=$SIGNET_SOURCE_DIR/cli/completion/signetctl.bash
complete_words() {
	bash -c 'source "$1" || exit 1; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_signetctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$@" | sort | tr '\n' ' '
}
# shellcheck disable=SC2016 # $1 is bash -c's own argument
check "completion file loads in bash" bash -c 'source "$1" && complete -p signetctl' _ "$COMP"
check "completes the commands" test "$(complete_words signetctl "")" = "action action-status approval approvals approve audit containers context enroll help hosts keygen refuse roster version "
check "completes a command prefix" test "$(complete_words signetctl con)" = "containers context "
check "completes enroll's options" test "$(complete_words signetctl enroll alice --r)" = "--role "
check "completes enroll's roles" test "$(complete_words signetctl enroll alice --role "")" = "auditor operator "
check "completes audit's second word" test "$(complete_words signetctl audit "")" = "export reconcile tail verify witness witness-key "
check "completes roster's second word" test "$(complete_words signetctl roster "")" = "edit show sign "
check "completes approval's second word" test "$(complete_words signetctl approval "")" = "show "
check "completes approve's options" test "$(complete_words signetctl approve "$ID_C" --s)" = "--server --signing-key "
check "completes refuse's options" test "$(complete_words signetctl refuse "$ID_C" --r)" = "--reason "
check "completes action's signing options" test "$(complete_words signetctl action "$ID_C" start --va)" = "--valid "
check "completes a file after --signing-key" test -n "$(cd "$SIGNET_SOURCE_DIR" && complete_words signetctl action --signing-key CMakeL)"
check "completes a command's options" test "$(complete_words signetctl audit tail --f)" = "--follow "
check "completes -o values" test "$(complete_words signetctl hosts -o "")" = "json table "
check "completes context names from the file" test "$(complete_words signetctl --context "")" = "audit dead prod "
check "completes context names for --config FILE" test "$(complete_words signetctl --config other.conf context show "")" = "audit dead prod "
check "completes the action word" test "$(complete_words signetctl action "$ID_C" re)" = "restart "

finish
