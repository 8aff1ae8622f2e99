#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The JSON Schema in policy/ is itself valid, every example in
# policy/examples validates against it and passes signet-agent
# --check-policy, and files the format forbids fail both. Needs python3's
# jsonschema module (Debian: python3-jsonschema); its absence is a failure.
set -u

: "${SIGNET_SOURCE_DIR:?set SIGNET_SOURCE_DIR}"
: "${SIGNET_BUILD_DIR:?set SIGNET_BUILD_DIR}"
SCHEMA="$SIGNET_SOURCE_DIR/policy/signet-policy.schema.json"
EXAMPLES="$SIGNET_SOURCE_DIR/policy/examples"
AGENT="$SIGNET_BUILD_DIR/agent/signet-agent"

PY=
for cand in python3 /usr/bin/python3; do
	if command -v "$cand" >/dev/null 2>&1 &&
	    "$cand" -c 'import jsonschema' >/dev/null 2>&1; then
		PY=$cand
		break
	fi
done
if [ -z "$PY" ]; then
	echo "FAIL: python3 with the jsonschema module is required" \
	    "(apt-get install python3-jsonschema)"
	exit 1
fi
[ -x "$AGENT" ] || { echo "FAIL: $AGENT not built"; exit 1; }

T=$(mktemp -d /tmp/signet-policy-schema.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
chmod 700 "$T"
fails=0
pass=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# validate FILE...: prints "ok FILE" or "bad FILE: why" for each.
validate() {
	"$PY" - "$SCHEMA" "$@" <<'PYEOF'
import json, sys
import jsonschema
with open(sys.argv[1]) as f:
    schema = json.load(f)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
v = cls(schema)
for path in sys.argv[2:]:
    with open(path) as f:
        doc = json.load(f)
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errs:
        e = errs[0]
        where = "/".join(str(p) for p in e.path) or "top level"
        print("bad %s: %s at %s" % (path, e.message, where))
    else:
        print("ok %s" % path)
PYEOF
}

n=0
for ex in "$EXAMPLES"/*.json; do
	[ -e "$ex" ] || continue
	n=$((n + 1))
	out=$(validate "$ex") || { fail "schema check crashed on $ex"; continue; }
	case $out in
	ok*) pass=$((pass + 1)) ;;
	*) fail "$out" ;;
	esac
	# The agent must accept it too (copied so that checkout permissions
	# do not matter).
	cp "$ex" "$T/example.json"
	chmod 600 "$T/example.json"
	if "$AGENT" --check-policy "$T/example.json" >"$T/out" 2>&1; then
		pass=$((pass + 1))
	else
		fail "signet-agent refused $ex: $(cat "$T/out")"
	fi
done
[ "$n" -ge 2 ] || fail "expected at least two examples in $EXAMPLES, found $n"

# Documents both the schema and the agent must refuse.
bad() {
	local name=$1 doc=$2
	printf '%s\n' "$doc" >"$T/$name.json"
	chmod 600 "$T/$name.json"
	out=$(validate "$T/$name.json")
	case $out in
	bad*) pass=$((pass + 1)) ;;
	*) fail "schema accepts $name: $doc" ;;
	esac
	if "$AGENT" --check-policy "$T/$name.json" >/dev/null 2>&1; then
		fail "signet-agent accepts $name: $doc"
	else
		pass=$((pass + 1))
	fi
}
R='{"match":{"name":"a"},"actions":["START"]}'
bad unknown-top "{\"host_id\":\"h1\",\"rules\":[$R],\"x\":1}"
bad unknown-rule "{\"host_id\":\"h1\",\"rules\":[{\"match\":{\"name\":\"a\"},\"actions\":[\"START\"],\"reason\":5}]}"
bad unknown-match "{\"host_id\":\"h1\",\"rules\":[{\"match\":{\"imgae\":\"a\"},\"actions\":[\"START\"]}]}"
bad empty-rules '{"host_id":"h1","rules":[]}'
bad no-host "{\"rules\":[$R]}"
bad bad-host "{\"host_id\":\"Web_1\",\"rules\":[$R]}"
bad bad-action '{"host_id":"h1","rules":[{"match":{"name":"a"},"actions":["REBOOT"]}]}'
bad dup-action '{"host_id":"h1","rules":[{"match":{"name":"a"},"actions":["START","START"]}]}'
bad empty-match '{"host_id":"h1","rules":[{"match":{},"actions":["START"]}]}'
bad bad-operator '{"host_id":"h1","rules":[{"match":{"name":"a"},"actions":["START"],"operators":["Alice"]}]}'
bad max0 '{"host_id":"h1","rules":[{"match":{"name":"a"},"actions":["START"],"rate_limit":{"max":0,"per_seconds":5}}]}'
bad per-day '{"host_id":"h1","rules":[{"match":{"name":"a"},"actions":["START"],"rate_limit":{"max":1,"per_seconds":86401}}]}'
bad reason-neg '{"host_id":"h1","rules":[{"match":{"name":"a"},"actions":["START"],"min_reason_length":-1}]}'
bad float '{"host_id":"h1","rules":[{"match":{"name":"a"},"actions":["START"],"min_reason_length":1.5}]}'
bad label-type '{"host_id":"h1","rules":[{"match":{"labels":{"a":1}},"actions":["START"]}]}'
A='"match":{"name":"a"},"actions":["STOP"]'
T1='{"group":"dba","count":1}'
bad relay-type "{\"host_id\":\"h1\",\"rules\":[{$A,\"accept_relay_signed\":1}]}"
bad relay-approvals "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[$T1],\"accept_relay_signed\":true}]}"
bad approvals-empty "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[]}]}"
bad approvals-nine "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[$T1,$T1,$T1,$T1,$T1,$T1,$T1,$T1,$T1]}]}"
bad term-count0 "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[{\"group\":\"dba\",\"count\":0}]}]}"
bad term-count17 "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[{\"group\":\"dba\",\"count\":17}]}]}"
bad term-group "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[{\"group\":\"DBA\",\"count\":1}]}]}"
bad term-nocount "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[{\"group\":\"dba\"}]}]}"
bad term-extra "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[{\"group\":\"dba\",\"count\":1,\"of\":2}]}]}"
bad wait-alone "{\"host_id\":\"h1\",\"rules\":[{$A,\"approval_wait\":600}]}"
bad wait-short "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[$T1],\"approval_wait\":59}]}"
bad wait-long "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[$T1],\"approval_wait\":86401}]}"

# Documents both must accept.
good() {
	local name=$1 doc=$2
	printf '%s\n' "$doc" >"$T/$name.json"
	chmod 600 "$T/$name.json"
	out=$(validate "$T/$name.json")
	case $out in
	ok*) pass=$((pass + 1)) ;;
	*) fail "schema refuses $name: $out" ;;
	esac
	if "$AGENT" --check-policy "$T/$name.json" >"$T/out" 2>&1; then
		pass=$((pass + 1))
	else
		fail "signet-agent refuses $name: $(cat "$T/out")"
	fi
}
good relay-true "{\"host_id\":\"h1\",\"rules\":[{$A,\"accept_relay_signed\":true}]}"
good approvals-relay-false "{\"host_id\":\"h1\",\"rules\":[{$A,\"approvals\":[$T1,{\"group\":\"sre\",\"count\":16}],\"accept_relay_signed\":false,\"approval_wait\":86400}]}"

echo "test_policy_schema: $pass passed, $fails failed ($n examples)"
[ "$fails" -eq 0 ]
