#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 13's hostile cases about the roster, against the real signet-agent
# and the private dockerd, with tests/tools/fake_server playing a
# COMPROMISED server that pushes roster frames and relays requests inside
# actions signed with the real action key. Each roster it pushes here is
# refused as a whole: the agent keeps the one it holds (on disk too),
# answers a roster_status that says why, and logs roster.refused with the
# reason; the request that only the refused roster would allow is then
# REJECTED with the container untouched. Cases: a rollback (an older
# version), an equivocation (the same version, other bytes), a roster
# signed by another key, an expired roster, one key under two names, one
# name twice. Last, a request under the roster the agent holds once that
# roster has expired (the agent restarted with it) is REJECTED, until a
# newer roster comes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }

TAG="srh$$"
LOG="$T_DIR/agent-web-01-audit.log"
OUT="$T_DIR/fake.out"
. "$(dirname "$0")/fake.sh"
. "$(dirname "$0")/hostile.sh"
trap cleanup EXIT

# ---- setup: PKI and rosters, policy, a container, fake server, agent ----
make_pki || { echo "FAIL: PKI"; exit 1; }
check "alice enrolled" enroll alice sre
check "bob enrolled" enroll bob dba
check "oscar enrolled" enroll oscar sre
check "roster version 1 signed" quiet "$PKI_SCRIPT" roster sign
cp "$SIGNET_PKI/roster/roster.json" "$T_DIR/roster-v1.json"
quiet "$PKI_SCRIPT" roster remove oscar
check "roster version 2 (oscar removed) signed" quiet "$PKI_SCRIPT" roster sign
cp "$SIGNET_PKI/roster/roster.json" "$T_DIR/roster-v2.json"
(cd "$T_DIR" && "$SIGNETCTL" keygen --no-passphrase mallory >/dev/null &&
	"$SIGNETCTL" keygen --no-passphrase dave >/dev/null &&
	"$SIGNETCTL" keygen --raw other >/dev/null)
RKEY="$SIGNET_PKI/keys/roster.key"
# A second admin's roster key, pinned too (threshold 1).
(cd "$T_DIR" && "$SIGNETCTL" keygen --raw admin2 >/dev/null)
check "a second admin's roster key pinned" quiet "$PKI_SCRIPT" roster pin "$T_DIR/admin2.pub"
DAY=86400000

AGENT_PORT=$(free_port)
cat >"$T_DIR/policy.json" <<EOF
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "$TAG-plain-*" }, "actions": ["RESTART"] } ] }
EOF
chmod 644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
add_agent_roster web-01
PLAIN=$(run_c plain-1)
check "the test container runs" test -n "$PLAIN"
WATCH=("$PLAIN")

start_fake || exit 1
start_agent web-01
check "agent says hello to the (fake) server" wait_hello 1
line=$(push_roster "$T_DIR/roster-v1.json")
check "the agent takes roster version 1 ($line)" grep -q 'version=1 .*refused=""' <<<"$line"
line=$(push_roster "$T_DIR/roster-v2.json")
check "the agent takes roster version 2 ($line)" grep -q 'version=2 .*refused=""' <<<"$line"
V2SHA=$(sha256sum <"$T_DIR/roster-web-01.json" | cut -c1-64)
check "the agent keeps version 2 on disk" cmp -s "$T_DIR/roster-web-01.json" "$T_DIR/roster-v2.json"

# Control: alice's signed RESTART under version 2 runs.
opreq "$T_DIR/ok.req" alice "$PLAIN" RESTART --roster-version 2
s0=$(snap "$PLAIN")
sleep 1.1
"$RT" action --request "$T_DIR/ok.req" >"$T_DIR/action.json"
send_file signed "$T_DIR/action.json"
line=$(result "$(req_id "$T_DIR/ok.req")" 1 20)
check "control: alice's signed RESTART runs ($line)" grep -q 'status=SUCCESS' <<<"$line"
check "control: the container restarted" test "$(snap "$PLAIN")" != "$s0"

# refused NAME FILE PATTERN WHO: the server pushes the roster FILE; the
# agent refuses it (PATTERN), keeps version 2 in memory and on disk, and
# logs roster.refused naming the file's hash; then WHO's request, which
# only FILE would allow, relayed by the same server, is REJECTED.
refused() {
	local name=$1 file=$2 pattern=$3 who=$4 line sha rec
	line=$(push_roster "$file")
	if grep -Eq "^roster_status version=2 sha256=$V2SHA refused=\".*($pattern)" <<<"$line"; then
		ok "$name: refused; the agent says it holds version 2 and why"
	else
		not_ok "$name: wanted version 2 refused /$pattern/, got: ${line:-no roster_status}"
	fi
	sha=$(printf '%s' "$(cat "$file")" | sha256sum | cut -c1-64)
	rec=$(jq -c --arg s "$sha" 'select(.event == "roster.refused" and .data.roster_sha256 == $s) | .data' "$LOG" | tail -n 1)
	if [ -n "$rec" ] && jq -e --arg p "$pattern" '(.error | test($p)) and .held_version == 2' <<<"$rec" >/dev/null; then
		ok "$name: audited (roster.refused, with the reason)"
	else
		not_ok "$name: no roster.refused /$pattern/ for $sha: ${rec:-none}"
	fi
	check "$name: version 2 is still the one on disk" \
		cmp -s "$T_DIR/roster-web-01.json" "$T_DIR/roster-v2.json"
	opreq "$T_DIR/r.req" "$who" "$PLAIN" RESTART
	relayed "$name: $who's request after it" REJECTED action.rejected \
		"is not in roster version 2" "$T_DIR/r.req"
}

NOW=$(now_ms)
refused "a roster rollback pushed by the server (version 1 again)" \
	"$T_DIR/roster-v1.json" "version 1 .*rollback" oscar

roster_payload "$T_DIR/p.json" 2 "$NOW" $((NOW + 30 * DAY)) \
	"alice:$T_DIR/alice.pub:sre" "bob:$T_DIR/bob.pub:dba" "mallory:$T_DIR/mallory.pub:sre"
"$RT" roster --key "$RKEY" --payload "$T_DIR/p.json" >"$T_DIR/equivocal.json"
refused "an equivocation (version 2 again, other bytes, the real roster key)" \
	"$T_DIR/equivocal.json" "differs from the held roster of that version" mallory

# Not an equivocation: the second admin adds their signature to version 2
# (k-of-n: "the signatures collect in the one file"). The same payload
# bytes in another file: the agent keeps what it holds and refuses nothing.
check "the second admin signs version 2 too" \
	quiet "$PKI_SCRIPT" roster sign --key "$T_DIR/admin2.key"
cp "$SIGNET_PKI/roster/roster.json" "$T_DIR/roster-v2-2sigs.json"
check "the file changed, the payload did not" \
	test "$(jq -r .roster "$T_DIR/roster-v2-2sigs.json")" = "$(jq -r .roster "$T_DIR/roster-v2.json")" -a \
	"$(sha256sum <"$T_DIR/roster-v2-2sigs.json")" != "$(sha256sum <"$T_DIR/roster-v2.json")"
n0=$(jq -c 'select(.event == "roster.refused")' "$LOG" | wc -l)
line=$(push_roster "$T_DIR/roster-v2-2sigs.json")
check "version 2 with one more signature: not refused ($line)" \
	grep -q "^roster_status version=2 sha256=$V2SHA refused=\"\"" <<<"$line"
check "version 2 with one more signature: no roster.refused record" \
	test "$(jq -c 'select(.event == "roster.refused")' "$LOG" | wc -l)" -eq "$n0"

roster_payload "$T_DIR/p.json" 3 "$NOW" $((NOW + 30 * DAY)) \
	"alice:$T_DIR/alice.pub:sre" "bob:$T_DIR/bob.pub:dba" "mallory:$T_DIR/mallory.pub:sre"
"$RT" roster --key "$T_DIR/other.key" --payload "$T_DIR/p.json" >"$T_DIR/other-signed.json"
refused "a roster signed by another key" "$T_DIR/other-signed.json" \
	"0 of the required 1 signatures" mallory

roster_payload "$T_DIR/p.json" 3 $((NOW - 40 * DAY)) $((NOW - DAY)) \
	"alice:$T_DIR/alice.pub:sre" "bob:$T_DIR/bob.pub:dba" "mallory:$T_DIR/mallory.pub:sre"
"$RT" roster --key "$RKEY" --payload "$T_DIR/p.json" >"$T_DIR/expired.json"
refused "an expired roster (real roster key)" "$T_DIR/expired.json" \
	"roster version 3 expired at" mallory

roster_payload "$T_DIR/p.json" 3 "$NOW" $((NOW + 30 * DAY)) \
	"alice:$T_DIR/alice.pub:sre" "bob:$T_DIR/bob.pub:dba" \
	"dave:$T_DIR/dave.pub:dba" "dave2:$T_DIR/dave.pub:dba"
"$RT" roster --key "$RKEY" --payload "$T_DIR/p.json" >"$T_DIR/two-names.json"
refused "one key under two names (refused as a whole)" "$T_DIR/two-names.json" \
	"is already operator .*dave.*one key, one operator" dave

roster_payload "$T_DIR/p.json" 3 "$NOW" $((NOW + 30 * DAY)) \
	"alice:$T_DIR/alice.pub:sre" "dave:$T_DIR/bob.pub:dba" "dave:$T_DIR/dave.pub:dba"
"$RT" roster --key "$RKEY" --payload "$T_DIR/p.json" >"$T_DIR/name-twice.json"
refused "one name twice, with two keys (refused as a whole)" "$T_DIR/name-twice.json" \
	"operator .*dave.* is listed twice" dave

# ---- a request under an expired roster the agent holds ----
# The agent restarts with a roster that has expired since it took it
# (version 9, signed by the real roster key): kept as the floor, it lets
# no one sign.
stop_fake
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
roster_payload "$T_DIR/p.json" 9 $((NOW - 40 * DAY)) $((NOW - DAY)) \
	"alice:$T_DIR/alice.pub:sre" "bob:$T_DIR/bob.pub:dba"
"$RT" roster --key "$RKEY" --payload "$T_DIR/p.json" >"$T_DIR/roster-web-01.json"
chmod 644 "$T_DIR/roster-web-01.json"
start_fake || exit 1
start_agent web-01
check "the agent restarts with the expired roster and says hello" wait_hello 2
held9() { grep -q '^roster_status version=9 ' "$OUT"; }
check "it says it holds version 9" wait_for 10 held9
opreq "$T_DIR/r.req" alice "$PLAIN" RESTART --roster-version 9
relayed "a request under an expired roster" REJECTED action.rejected \
	"roster version 9 expired at" "$T_DIR/r.req"
# An expired roster is still the floor: version 1 (still in its dates,
# oscar in it) pushed now is a rollback.
line=$(push_roster "$T_DIR/roster-v1.json")
check "under the expired version 9, version 1 is refused as a rollback ($line)" \
	grep -Eq '^roster_status version=9 .*refused=".*rollback' <<<"$line"
opreq "$T_DIR/r.req" oscar "$PLAIN" RESTART
relayed "oscar's request after that rollback" REJECTED action.rejected \
	"is not in roster version 9" "$T_DIR/r.req"
# The way out: a newer roster the admins signed is taken, and runs.
roster_payload "$T_DIR/p.json" 10 "$NOW" $((NOW + 30 * DAY)) \
	"alice:$T_DIR/alice.pub:sre" "bob:$T_DIR/bob.pub:dba"
"$RT" roster --key "$RKEY" --payload "$T_DIR/p.json" >"$T_DIR/v10.json"
line=$(push_roster "$T_DIR/v10.json")
check "after it, a newer roster (version 10) is taken ($line)" grep -q 'version=10 .*refused=""' <<<"$line"
opreq "$T_DIR/ok.req" alice "$PLAIN" RESTART --roster-version 10
s0=$(snap "$PLAIN")
sleep 1.1
"$RT" action --request "$T_DIR/ok.req" >"$T_DIR/action.json"
send_file signed "$T_DIR/action.json"
line=$(result "$(req_id "$T_DIR/ok.req")" 1 20)
check "and alice's signed RESTART runs under it ($line)" grep -q 'status=SUCCESS' <<<"$line"
check "the container restarted" test "$(snap "$PLAIN")" != "$s0"

# ---- the log ----
check "no result the fake server got failed to verify" \
	test "$(grep -c '^result sig=BAD' "$OUT")" -eq 0
stop_fake
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "the agent's audit log verifies" \
	quiet "$SIGNETCTL" audit verify "$LOG" --key "$SIGNET_PKI/keys/agents/web-01.pub" \
	--action-key "$SIGNET_PKI/keys/action.pub" --agent-keys "$SIGNET_PKI/keys/agents"
check "the agent's audit records match the schemas" \
	"$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$LOG"
[ "$T_FAIL" -eq 0 ] || { echo "# agent log:"; grep -E " (warn|error) " "$T_DIR/agent-web-01.log" | tail -n 40; }
finish
