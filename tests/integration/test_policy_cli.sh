#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# signet-agent --check-policy and --explain, as an admin runs them: exact
# outputs, exit codes (0 valid/allowed, 1 refused/denied, 2 usage), and the
# refusal to pretend to run the daemon.
set -u

: "${SIGNET_BUILD_DIR:?set SIGNET_BUILD_DIR}"
AGENT="$SIGNET_BUILD_DIR/agent/signet-agent"
[ -x "$AGENT" ] || { echo "FAIL: $AGENT not built"; exit 1; }

T=$(mktemp -d /tmp/signet-policy-cli.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
chmod 700 "$T"
fails=0
pass=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { pass=$((pass + 1)); }

# run NAME WANT_RC ARGS...: runs the agent, keeps stdout in $T/out and
# stderr in $T/err, checks the exit code.
run() {
	local name=$1 want=$2
	shift 2
	"$AGENT" "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit $rc, want $want"
		sed 's/^/  out: /' "$T/out"
		sed 's/^/  err: /' "$T/err"
	else
		ok
	fi
}

# expect_out NAME: stdout must equal stdin exactly.
expect_out() {
	if ! diff -u - "$T/out" >"$T/diff"; then
		fail "$1: stdout differs"
		cat "$T/diff"
	else
		ok
	fi
}

# expect_err NAME TEXT: stderr must contain TEXT.
expect_err() {
	if ! grep -qF -- "$2" "$T/err"; then
		fail "$1: stderr lacks \"$2\""
		sed 's/^/  err: /' "$T/err"
	else
		ok
	fi
}

P="$T/policy.json"
cat >"$P" <<'JSON'
{
  "host_id": "web-01",
  "rules": [
    { "match": { "name": "web-*", "image": "nginx:*", "labels": { "tier": "frontend" } },
      "actions": ["START", "STOP", "RESTART"],
      "operators": ["alice", "bob"],
      "min_reason_length": 10,
      "rate_limit": { "max": 5, "per_seconds": 300 } },
    { "match": { "name": "db-*" },
      "actions": ["RESTART"] }
  ]
}
JSON
chmod 600 "$P"

# --check-policy: a summary of the rules.
run check-ok 0 --check-policy "$P"
expect_out check-ok <<END
$P: valid, host_id web-01, 2 rules
  rule 0: match name="web-*" image="nginx:*" label:"tier"="frontend"; actions START,STOP,RESTART; operator signature required; operators alice,bob; reason >= 10 chars; at most 5 per 300 s per container
  rule 1: match name="db-*"; actions RESTART; operator signature required; any operator
END
run check-host-ok 0 --check-policy "$P" --host-id web-01
run check-host-bad 1 --check-policy "$P" --host-id web-02
expect_err check-host-bad "signet-agent: policy refused: $P: host_id \"web-01\" is not this agent's host id \"web-02\" at host_id"

# Refusals: parse errors name the JSON path; then permissions.
B="$T/bad.json"
cat >"$B" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "web-*", "imgae": "nginx:*" }, "actions": ["START"] } ] }
JSON
chmod 644 "$B"
run check-unknown-key 1 --check-policy "$B"
expect_err check-unknown-key "signet-agent: policy refused: $B: unknown key \"imgae\" at rules[0].match; allowed: name, image, labels"
printf '{"host_id":"web-01","rules":[{"match":{"name":"web-["},"actions":["START"]}]}' >"$B"
run check-glob 1 --check-policy "$B"
expect_err check-glob "bad glob \"web-[\": unbalanced '[' (write \\[ for a literal bracket) at rules[0].match.name"
printf '{"host_id":"web-01","rules":[{"match":{"name":"a"},"actions":["START"],"rate_limit":{"max":0,"per_seconds":60}}]}' >"$B"
run check-max0 1 --check-policy "$B"
expect_err check-max0 "value 0 out of range 1..10000 at rules[0].rate_limit.max"
printf '{"host_id":"web-01","rules":[]}' >"$B"
run check-empty 1 --check-policy "$B"
expect_err check-empty "empty rules at rules"
cp "$P" "$T/loose.json"
chmod 664 "$T/loose.json"
run check-perm 1 --check-policy "$T/loose.json"
expect_err check-perm "$T/loose.json: writable by group or others (mode 0664); chmod go-w $T/loose.json"
ln -s "$P" "$T/link.json"
run check-symlink 1 --check-policy "$T/link.json"
expect_err check-symlink "is a symbolic link"
run check-missing 1 --check-policy "$T/nope.json"
expect_err check-missing "$T/nope.json: no such file"

# --explain: allowed, with the per-rule trace.
run explain-allow 0 --check-policy "$P" --explain --name /web-1 \
    --image nginx:1.25 --label tier=frontend --label x=y --action RESTART \
    --operator alice --reason "roll out 1.25.3"
expect_out explain-allow <<'END'
rule 0: allows
rule 1: name "web-1" does not match "db-*"
allow: rule 0
END
run explain-allow-2 0 --check-policy "$P" --explain --name db-1 \
    --image postgres:15 --action RESTART --operator mallory --reason x
expect_out explain-allow-2 <<'END'
rule 0: name "db-1" does not match "web-*"
rule 1: allows
allow: rule 1
END

# --explain: denied, with why for the nearest rule.
run explain-label 1 --check-policy "$P" --explain --name web-1 \
    --image nginx:1.25 --label tier=backend --action RESTART \
    --operator alice --reason "roll out 1.25.3"
expect_out explain-label <<'END'
rule 0: label "tier" is "backend", rule wants "frontend"
rule 1: name "web-1" does not match "db-*"
deny: label "tier" is "backend", rule wants "frontend" (nearest rule 0)
END
run explain-operator 1 --check-policy "$P" --explain --name web-1 \
    --image nginx:1.25 --label tier=frontend --action STOP \
    --operator mallory --reason "roll out 1.25.3"
expect_out explain-operator <<'END'
rule 0: operator not listed: "mallory"
rule 1: name "web-1" does not match "db-*"
deny: operator not listed: "mallory" (nearest rule 0)
END
# Nine characters of two bytes each: 18 bytes, still too short.
run explain-reason 1 --check-policy "$P" --explain --name web-1 \
    --image nginx:1.25 --label tier=frontend --action START \
    --operator bob --reason "ééééééééé"
expect_out explain-reason <<'END'
rule 0: reason shorter than 10 characters: 9 given
rule 1: name "web-1" does not match "db-*"
deny: reason shorter than 10 characters: 9 given (nearest rule 0)
END
run explain-reason-ok 0 --check-policy "$P" --explain --name web-1 \
    --image nginx:1.25 --label tier=frontend --action START \
    --operator bob --reason "éééééééééé"
run explain-action 1 --check-policy "$P" --explain --name db-1 \
    --image postgres:15 --action STOP --operator alice --reason "disk full"
expect_out explain-action <<'END'
rule 0: name "db-1" does not match "web-*"
rule 1: action STOP not listed
deny: no rule lists this action for this container: STOP (nearest rule 1)
END
# Values from outside are escaped before they are printed.
run explain-escape 1 --check-policy "$P" --explain --name $'we"b\x01' \
    --image nginx:1 --action START --operator alice --reason "0123456789"
if grep -qF 'name "we\"b\x01" does not match "web-*"' "$T/out"; then
	ok
else
	fail "explain-escape: value not escaped: $(cat -v "$T/out")"
fi

# Operator signatures, request lifetimes and approvals.
S="$T/signing.json"
cat >"$S" <<'JSON'
{
  "host_id": "db-01",
  "rules": [
    { "match": { "name": "pg-*" },
      "actions": ["STOP"],
      "approvals": [ { "group": "dba", "count": 1 }, { "group": "sre", "count": 1 } ],
      "approval_wait": 1800 },
    { "match": { "name": "pg-*" },
      "actions": ["RESTART"],
      "operators": ["alice", "bob"] },
    { "match": { "name": "cache-*" },
      "actions": ["RESTART"],
      "accept_relay_signed": true }
  ]
}
JSON
chmod 600 "$S"
run signing-check 0 --check-policy "$S"
expect_out signing-check <<END
$S: valid, host_id db-01, 3 rules
  rule 0: match name="pg-*"; actions STOP; operator signature required; any operator; approvals 1 of "dba" and 1 of "sre", wait up to 1800 s
  rule 1: match name="pg-*"; actions RESTART; operator signature required; operators alice,bob
  rule 2: match name="cache-*"; actions RESTART; relay-signed accepted; any operator
END
run relay-denied 1 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action RESTART --operator alice --reason r \
    --relay-signed
expect_out relay-denied <<'END'
rule 0: action RESTART not listed
rule 1: rule requires an operator-signed request; this action is signed by the relay only
rule 2: name "pg-1" does not match "cache-*"
deny: rule requires an operator-signed request; this action is signed by the relay only (nearest rule 1)
END
run relay-allowed 0 --check-policy "$S" --explain --name cache-1 \
    --image redis:7 --action RESTART --operator deploy-bot --reason r \
    --relay-signed
expect_out relay-allowed <<'END'
rule 0: name "cache-1" does not match "pg-*"
rule 1: name "cache-1" does not match "pg-*"
rule 2: allows
allow: rule 2
END
run signed-allowed 0 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action RESTART --operator bob --reason r \
    --lifetime 300
run lifetime 1 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action RESTART --operator bob --reason r \
    --lifetime 301
expect_out lifetime <<'END'
rule 0: action RESTART not listed
rule 1: request lives 301 s; rule allows at most 300 s
rule 2: name "pg-1" does not match "cache-*"
deny: request lives 301 s; rule allows at most 300 s (nearest rule 1)
END
run approvals-none 1 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action STOP --operator alice --reason r \
    --lifetime 2000
expect_out approvals-none <<'END'
rule 0: approvals: 1 of "dba" needed, 0 counted; 1 of "sre" needed, 0 counted
rule 1: action STOP not listed
rule 2: name "pg-1" does not match "cache-*"
deny: approvals: 1 of "dba" needed, 0 counted; 1 of "sre" needed, 0 counted (nearest rule 0)
END
run approvals-one-person 1 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action STOP --operator alice --reason r \
    --approver carol:dba,sre
if grep -qxF 'deny: approvals: 1 of "dba" needed, 1 counted (carol); 1 of "sre" needed, 0 counted (nearest rule 0)' "$T/out"; then
	ok
else
	fail "approvals-one-person: $(cat "$T/out")"
fi
run approvals-requester 1 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action STOP --operator alice --reason r \
    --approver alice:sre --approver dan:dba
if grep -qF '1 of "dba" needed, 1 counted (dan); 1 of "sre" needed, 0 counted' "$T/out"; then
	ok
else
	fail "approvals-requester: $(cat "$T/out")"
fi
run approvals-met 0 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action STOP --operator alice --reason r \
    --approver carol:dba,sre --approver dan:dba --lifetime 2100
expect_out approvals-met <<'END'
rule 0: allows
rule 1: action STOP not listed
rule 2: name "pg-1" does not match "cache-*"
allow: rule 0
END
run approvals-late 1 --check-policy "$S" --explain --name pg-1 \
    --image postgres:15 --action STOP --operator alice --reason r \
    --approver carol:dba,sre --approver dan:dba --lifetime 2101
if grep -qxF 'deny: request lives 2101 s; rule allows at most 2100 s (nearest rule 0)' "$T/out"; then
	ok
else
	fail "approvals-late: $(cat "$T/out")"
fi
printf '{"host_id":"db-01","rules":[{"match":{"name":"a"},"actions":["STOP"],"approvals":[{"group":"dba","count":1}],"accept_relay_signed":true}]}' >"$B"
run check-approvals-relay 1 --check-policy "$B"
expect_err check-approvals-relay "approvals need an operator-signed request at rules[0].accept_relay_signed"
printf '{"host_id":"db-01","rules":[{"match":{"name":"a"},"actions":["STOP"],"approvals":[{"group":"dba","count":1},{"group":"dba","count":1}]}]}' >"$B"
run check-approvals-dup 1 --check-policy "$B"
expect_err check-approvals-dup "group \"dba\" given twice at rules[0].approvals[1].group"
printf '{"host_id":"db-01","rules":[{"match":{"name":"a"},"actions":["STOP"],"approval_wait":600}]}' >"$B"
run check-wait-alone 1 --check-policy "$B"
expect_err check-wait-alone "approval_wait without approvals at rules[0].approval_wait"

# Usage errors exit 2.
run usage-no-args 2
run usage-missing 2 --check-policy "$P" --explain --name web-1
expect_err usage-missing "--explain needs --name, --image, --action, --operator and --reason"
run usage-no-explain 2 --check-policy "$P" --name web-1
expect_err usage-no-explain "request options need --explain"
run usage-action 2 --check-policy "$P" --explain --name a --image b \
    --action reboot --operator alice --reason r
expect_err usage-action "--action \"reboot\": use START, STOP or RESTART"
run usage-label 2 --check-policy "$P" --explain --name a --image b \
    --label novalue --action START --operator alice --reason r
expect_err usage-label "--label \"novalue\": write KEY=VALUE"
run usage-unknown 2 --check-policy "$P" --frobnicate
expect_err usage-unknown "unknown or misplaced option \"--frobnicate\""
run usage-twice 2 --check-policy "$P" --check-policy "$P"
run usage-approver 2 --check-policy "$S" --explain --name a --image b \
    --action STOP --operator alice --reason r --approver carol
expect_err usage-approver "--approver \"carol\": write NAME:GROUP[,GROUP...]"
run usage-approver-group 2 --check-policy "$S" --explain --name a --image b \
    --action STOP --operator alice --reason r --approver carol:dba,,sre
expect_err usage-approver-group "groups are 1 to 64 names"
run usage-approver-name 2 --check-policy "$S" --explain --name a --image b \
    --action STOP --operator alice --reason r --approver Carol:dba
expect_err usage-approver-name "--approver \"Carol:dba\": not a name"
run usage-approver-twice 2 --check-policy "$S" --explain --name a --image b \
    --action STOP --operator alice --reason r --approver carol:dba \
    --approver carol:sre
expect_err usage-approver-twice "--approver carol given twice"
run usage-lifetime 2 --check-policy "$S" --explain --name a --image b \
    --action STOP --operator alice --reason r --lifetime -5
expect_err usage-lifetime "--lifetime \"-5\": seconds, 0..31622400"
run usage-relay-approver 2 --check-policy "$S" --explain --name a --image b \
    --action STOP --operator alice --reason r --relay-signed \
    --approver carol:dba
expect_err usage-relay-approver "a relay-signed action has no request lifetime or approvals"
run usage-relay-no-explain 2 --check-policy "$S" --relay-signed
expect_err usage-relay-no-explain "request options need --explain"

# The daemon refuses a configuration it cannot read, with the path.
run config 2 --config /nonexistent/agent.conf
expect_err config "/nonexistent/agent.conf: no such file"
run help 0 --help
if grep -q -- "--check-policy FILE" "$T/out"; then ok; else fail "help"; fi
# It points at what ships with signet (its man page, docs/), never at a
# contract outside the repository.
if grep -qE 'SPEC|\.\./' "$T/out"; then
	fail "help names a file outside the repository: $(grep -E 'SPEC|\.\./' "$T/out")"
elif grep -q "man signet-agent" "$T/out" && grep -q "docs/" "$T/out"; then
	ok
else
	fail "help does not name man signet-agent and docs/"
fi
run version 0 --version
if grep -qE '^signet-agent [0-9]+\.[0-9]+\.[0-9]+$' "$T/out"; then
	ok
else
	fail "version: $(cat "$T/out")"
fi

echo "test_policy_cli: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
