# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Sourced by the issue 13 hostile-case tests (test_operator_hostile.sh,
# test_roster_hostile.sh): the real signet-agent and the private dockerd
# against tests/tools/fake_server playing a COMPROMISED server that holds
# the real action key, with tests/tools/request_tool forging what operators
# and the server send. Needs lib.sh, relay.sh and fake.sh sourced first,
# and OUT, LOG and TAG set.
RT="$SIGNET_BUILD_DIR/tests/request_tool"

cleanup() {
	exec 9>&- 2>/dev/null
	local p
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	# SIGNET_TEST_KEEP=DIR keeps the logs for a look.
	[ -n "${SIGNET_TEST_KEEP:-}" ] &&
		cp "$T_DIR"/*.log "$OUT" "$T_DIR/fake.err" "${SIGNET_TEST_KEEP}/" 2>/dev/null
	docker ps -aq --filter "label=signet.test=$TAG" |
		xargs -r docker rm -f >/dev/null 2>&1
	t_cleanup
}

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run_c NAME: a busybox container $TAG-NAME, labelled for the cleanup.
run_c() {
	docker run -d --network none --stop-timeout 1 --name "$TAG-$1" \
		--label "signet.test=$TAG" "$SIGNET_TEST_IMAGE" sleep 100000
}

# snap CID...: what "untouched" compares: start time and state of each.
snap() {
	local c
	for c in "$@"; do docker inspect -f '{{.State.StartedAt}}/{{.State.Status}}' "$c"; done
}

# audit_for ID: the agent's records about action ID as one JSON line each:
# [event, reason, why, error, approvals].
audit_for() {
	jq -c --arg id "$1" 'select(.data.action_id == $id) |
		[.event, (.data.reason // ""), (.data.why // ""), (.data.error // ""),
		 (.data.approvals // [])]' "$LOG"
}

# audit_has ID EVENT PATTERN: some EVENT record for ID matches PATTERN.
audit_has() {
	audit_for "$1" | grep "^\[\"$2\"" | grep -Eq -- "$3"
}

# opreq OUT WHO CID ACTION [request_tool sign options]: a request signed
# with $T_DIR/WHO.key, requested_by WHO, roster version 1, a fresh action
# id, for host web-01 (options given override these).
opreq() {
	local out=$1 who=$2 cid=$3 act=$4; shift 4
	"$RT" sign --key "$T_DIR/$who.key" --action-id "$(rand_hex 16)" \
		--host web-01 --container "$cid" --action "$act" \
		--reason "hostile case drill" --requested-by "$who" \
		--roster-version 1 "$@" >"$out"
}

# approve OUT WHO REQ: WHO's approval of the request in file REQ.
approve() { "$RT" approve --key "$T_DIR/$2.key" --request "$3" >"$1"; }

# req_id REQ: the action id the request in file REQ names.
req_id() { jq -r .payload "$1" | base64 -d | jq -r .action_id; }
# req_field REQ MEMBER: a member of the request's payload.
req_field() { jq -r .payload "$1" | base64 -d | jq -r ".$2"; }

# send_file CMD FILE: has the fake server send FILE (CMD signed|roster)
# and waits until it did.
send_file() {
	local n0
	n0=$(grep -c "^sent $1 " "$OUT")
	send "$1" "$2"
	wait_for 5 sh -c "[ \$(grep -c '^sent $1 ' '$OUT') -gt $n0 ]"
}

# relayed NAME STATUS EVENT PATTERN REQ [request_tool action options]:
# the compromised server relays the request in file REQ inside an action
# signed with the real action key, built from REQ with the options given.
# The agent's answer is STATUS with an error matching PATTERN, its audit
# log has an EVENT record matching PATTERN, nothing was handed to dockerd
# and no container ($WATCH) changed.
relayed() {
	local name=$1 status=$2 event=$3 pattern=$4 req=$5 id s0 line; shift 5
	id=$(req_id "$req")
	if ! "$RT" action --request "$req" "$@" >"$T_DIR/action.json"; then
		not_ok "$name: request_tool action failed"
		return
	fi
	s0=$(snap "${WATCH[@]}")
	send_file signed "$T_DIR/action.json" || not_ok "$name: not sent"
	expect "$name" "$id" "$status" "$event" "$pattern" "$s0"
}

# expect NAME ID STATUS EVENT PATTERN SNAP: the checks of relayed for
# action ID, SNAP being snap's output before it was sent.
expect() {
	local name=$1 id=$2 status=$3 event=$4 pattern=$5 s0=$6 line
	line=$(result "$id" 1 20)
	if [ "$(field status "$line")" = "$status" ] &&
		grep -Eq -- "error=\".*($pattern)" <<<"$line" &&
		grep -q "sig=ok" <<<"$line"; then
		ok "$name: the agent answers $status and says why"
	else
		not_ok "$name: wanted $status /$pattern/, got: ${line:-no result}"
	fi
	if audit_has "$id" "$event" "$pattern"; then
		ok "$name: audited ($event)"
	else
		not_ok "$name: no $event /$pattern/ in the audit log: $(audit_for "$id")"
	fi
	check "$name: nothing handed to dockerd" \
		test -z "$(audit_for "$id" | grep -E '"action\.(dispatched|executed)"')"
	check "$name: the containers are untouched" test "$(snap "${WATCH[@]}")" = "$s0"
}

# roster_payload OUT VERSION ISSUED_MS EXPIRES_MS NAME:PUBFILE:GROUPS...:
# a roster payload as the admin's tools write it, with any times and any
# operators (a key twice, a name twice), for request_tool roster to sign.
roster_payload() {
	local out=$1; shift
	python3 - "$@" >"$out" <<'PY'
import json, sys
v, iss, exp = (int(a) for a in sys.argv[1:4])
ops = []
for spec in sys.argv[4:]:
    name, pub, groups = spec.split(":")
    key = open(pub).read().strip()
    ops.append({"name": name, "key": key,
                "groups": [g for g in groups.split(",") if g],
                "not_after": 253402300799999})
print(json.dumps({"v": 1, "version": v, "issued_at": iss,
                  "expires_at": exp, "operators": ops},
                 separators=(",", ":")))
PY
}

# roster_statuses: how many roster_status lines the fake server printed.
roster_statuses() { grep -c '^roster_status ' "$OUT"; }

# push_roster FILE: the server sends the roster file FILE; waits for the
# agent's roster_status after it and prints that line.
push_roster() {
	local n0 line
	n0=$(roster_statuses)
	send_file roster "$1" || return 1
	for _ in $(seq 1 100); do
		line=$(grep '^roster_status ' "$OUT" | sed -n "$((n0 + 1))p")
		if [ -n "$line" ]; then echo "$line"; return 0; fi
		sleep 0.1
	done
	return 1
}
