#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The agent's docker module against the private test dockerd, through
# tests/tools/docker_probe: containers created, started, stopped and
# removed with the docker CLI show in the list with their names, image,
# labels and state; inspect gives dockerd's own identity; events arrive
# within 1 s; 1,000 containers are listed whole and their inventory frame
# fits the server's 1 MiB. Then signet-agent --config: what it refuses at
# start (bad config, loose or symlinked keys, a foreign certificate, a bad
# policy), and a clean start, SIGHUP policy reloads and stop with an audit
# log that verifies.
. "$(dirname "$0")/lib.sh"
need_docker

PROBE="$SIGNET_BUILD_DIR/tests/docker_probe"
AGENT="$SIGNET_BUILD_DIR/agent/signet-agent"
PKI_SCRIPT="$SIGNET_SOURCE_DIR/pki/signet-pki"
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }
TAG="sgt$$"                     # label and name prefix of this run's containers
BIG=${SIGNET_TEST_BIG:-1000}
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	docker ps -aq --filter "label=signet.test=$TAG" |
		xargs -r -n 100 docker rm -f >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# row ID: the probe's list row of container ID (JSON), or nothing.
row() { "$PROBE" list 2>/dev/null | jq -c --arg id "$1" '.[] | select(.id == $id)'; }

# event_ts ACTION ID: the probe's timestamp of that event, waiting up to 3 s.
event_ts() {
	local line
	for _ in $(seq 1 30); do
		line=$(grep -m1 " event action=$1 id=$2 " "$T_DIR/events.out")
		if [ -n "$line" ]; then echo "${line%% *}"; return 0; fi
		sleep 0.1
	done
	return 1
}

# within_1s NAME ACTION ID END_MS: the event came at most 1 s after END_MS
# (the moment the docker command that caused it returned).
within_1s() {
	local ts
	ts=$(event_ts "$2" "$3")
	if [ -z "$ts" ]; then not_ok "$1 (no $2 event)"; return; fi
	if [ $((ts - $4)) -le 1000 ]; then
		ok "$1 ($(( ts - $4 )) ms after the command returned)"
	else
		not_ok "$1 ($(( ts - $4 )) ms after the command returned)"
	fi
}

# ---- version ----
want=$(docker version --format '{{.Server.Version}}')
check "version is dockerd's" test "$("$PROBE" version)" = "$want"
check_fails_with "a socket nobody serves is reported as unavailable" \
	"is dockerd running" "$PROBE" --socket "$T_DIR/none.sock" version

# ---- lifecycle and events ----
"$PROBE" events 600 >"$T_DIR/events.out" 2>"$T_DIR/events.err" &
EVENTS_PID=$!
PIDS+=("$EVENTS_PID")
for _ in $(seq 1 50); do
	grep -q "stream up" "$T_DIR/events.out" && break
	sleep 0.1
done
check "event stream comes up" grep -q "stream up" "$T_DIR/events.out"

name="$TAG-web"
id=$(docker create --network none --stop-timeout 1 --name "$name" \
	--label "signet.test=$TAG" --label tier=frontend \
	--label 'note=a "quoted" value' "$SIGNET_TEST_IMAGE" sleep 100000)
t_create=$(now_ms)
check "container created" test -n "$id"
r=$(row "$id")
check "created: listed with its name" test "$(jq -r '.names[0]' <<<"$r")" = "/$name"
check "created: image" test "$(jq -r .image <<<"$r")" = "$SIGNET_TEST_IMAGE"
check "created: state" test "$(jq -r .state <<<"$r")" = created
check "created: labels" test "$(jq -c '.labels | {tier, note}' <<<"$r")" = \
	'{"tier":"frontend","note":"a \"quoted\" value"}'
within_1s "create event within 1 s" create "$id" "$t_create"

docker start "$id" >/dev/null
t_start=$(now_ms)
r=$(row "$id")
check "started: state running" test "$(jq -r .state <<<"$r")" = running
check "started: status says Up" grep -q '^Up' <<<"$(jq -r .status <<<"$r")"
within_1s "start event within 1 s" start "$id" "$t_start"

ins=$("$PROBE" inspect "$id")
check "inspect: dockerd's identity" test "$(jq -c '[.id, .names, .image, .state, .labels.tier]' <<<"$ins")" = \
	"[\"$id\",[\"/$name\"],\"$SIGNET_TEST_IMAGE\",\"running\",\"frontend\"]"
check "inspect: created matches the list" test "$(jq .created <<<"$ins")" = "$(jq .created <<<"$r")"
check_fails_with "inspect refuses a short id" "64 lowercase hex" \
	"$PROBE" inspect "${id:0:12}"
check_fails_with "inspect refuses a name" "64 lowercase hex" \
	"$PROBE" inspect "$name"

docker stop "$id" >/dev/null
t_stop=$(now_ms)
r=$(row "$id")
check "stopped: state exited" test "$(jq -r .state <<<"$r")" = exited
within_1s "die event within 1 s" die "$id" "$t_stop"

docker rm "$id" >/dev/null
t_rm=$(now_ms)
check "removed: gone from the list" test -z "$(row "$id")"
within_1s "destroy event within 1 s" destroy "$id" "$t_rm"
check_fails_with "inspect of a removed container: not found" "HTTP 404" \
	"$PROBE" inspect "$id"

# ---- 1,000 containers ----
t0=$(now_ms)
# The tag and the image reach the inner sh as its $1 and $2, not spliced
# into its code; it expands them (single quotes on purpose).
# shellcheck disable=SC2016
seq 1 "$BIG" | xargs -P 16 -n 25 sh -c '
	tag=$1 image=$2; shift 2
	for i; do
		docker create --network none --label "signet.test=$tag" \
			--label batch=big --label "n=$i" --name "$tag-c$i" \
			"$image" sleep 1 >/dev/null || exit 1
	done' sh "$TAG" "$SIGNET_TEST_IMAGE"
echo "# created $BIG containers in $(( $(now_ms) - t0 )) ms"
"$PROBE" list >"$T_DIR/big.json" 2>"$T_DIR/big.err"
check "list of $BIG+ containers succeeds" test -s "$T_DIR/big.json"
n=$(jq --arg t "$TAG" '[.[] | select(.labels["signet.test"] == $t and .labels.batch == "big")] | length' "$T_DIR/big.json")
check "all $BIG are listed" test "$n" = "$BIG"
n=$(jq --arg t "$TAG" '[.[] | select(.labels["signet.test"] == $t and .labels.batch == "big") | .labels.n] | unique | length' "$T_DIR/big.json")
check "each exactly once" test "$n" = "$BIG"
echo "# list: $(cat "$T_DIR/big.err")"
frame=$("$PROBE" frame)
echo "# frame: $frame"
bytes=$(sed -n 's/.*frame_bytes=\([0-9]*\).*/\1/p' <<<"$frame")
check "inventory frame of $BIG containers is under 1 MiB ($bytes bytes)" \
	test -n "$bytes" -a "${bytes:-0}" -lt 1048576
docker ps -aq --filter "label=signet.test=$TAG" |
	xargs -r -P 8 -n 100 docker rm -f >/dev/null
check "the $BIG are removed" test -z "$(docker ps -aq --filter "label=signet.test=$TAG")"
kill -TERM "$EVENTS_PID"
wait "$EVENTS_PID"
check "event probe stops on SIGTERM" test $? -eq 0
echo "# events: $(cat "$T_DIR/events.err")"

# ---- signet-agent --config: refusals ----
export SIGNET_PKI="$T_DIR/pki"
"$PKI_SCRIPT" init "$SIGNET_PKI" --nopass >/dev/null &&
	"$PKI_SCRIPT" agent web-01 >/dev/null &&
	"$PKI_SCRIPT" operator alice >/dev/null
check "test PKI made" test -f "$SIGNET_PKI/issued/web-01.pem"
E="$T_DIR/etc"
mkdir -p "$E/keys" "$T_DIR/var"
chmod 700 "$T_DIR/var"
cp "$SIGNET_PKI/ca.pem" "$E/ca.pem"
cp "$SIGNET_PKI/issued/web-01.pem" "$E/agent.pem"
install -m 600 "$SIGNET_PKI/private/web-01.key" "$E/agent.key"
cp "$SIGNET_PKI/keys/action.pub" "$E/keys/action.pub"
install -m 600 "$SIGNET_PKI/keys/agents/web-01.key" "$E/keys/result.key"
cat >"$E/policy.json" <<'EOF'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "web-*" }, "actions": ["START"], "accept_relay_signed": true } ] }
EOF
chmod 644 "$E/policy.json"

# write_conf FILE [EXTRA-LINE-IN-AGENT-SECTION]
write_conf() {
	cat >"$1" <<EOF
[agent]
server = wss://127.0.0.1:9
docker_socket = ${DOCKER_HOST#unix://}
policy = $E/policy.json
${2:-}
[tls]
ca = $E/ca.pem
cert = $E/agent.pem
key = $E/agent.key
[keys]
action_pub = $E/keys/action.pub
result = $E/keys/result.key
[audit]
path = $T_DIR/var/audit.log
EOF
}
write_conf "$E/agent.conf"

write_conf "$E/bad.conf" "colour = blue"
check_fails_with "unknown config key: FILE:LINE, exit 2" \
	"bad\.conf:5: .*colour" "$AGENT" --config "$E/bad.conf"
"$AGENT" --config "$E/bad.conf" 2>/dev/null
check "bad config exits 2" test $? -eq 2
check_fails_with "missing config file" "missing\.conf" \
	"$AGENT" --config "$E/missing.conf"
write_conf "$E/level.conf" "log_level = loud"
check_fails_with "bad log level: FILE:LINE" "level\.conf:5: log_level" \
	"$AGENT" --config "$E/level.conf"

chmod 644 "$E/keys/result.key"
check_fails_with "loose result key refused" \
	"result key refused: .*result\.key.*mode 0644" "$AGENT" --config "$E/agent.conf"
chmod 600 "$E/keys/result.key"
chmod 640 "$E/agent.key"
check_fails_with "loose TLS key refused" \
	"agent\.key.*mode 0640" "$AGENT" --config "$E/agent.conf"
chmod 600 "$E/agent.key"
mv "$E/agent.key" "$E/agent.key.real"
ln -s "$E/agent.key.real" "$E/agent.key"
check_fails_with "symlinked TLS key refused" "symbolic link" \
	"$AGENT" --config "$E/agent.conf"
rm "$E/agent.key"
mv "$E/agent.key.real" "$E/agent.key"
cp "$E/agent.pem" "$E/agent.pem.real"
cp "$SIGNET_PKI/issued/alice.pem" "$E/agent.pem"
check_fails_with "an operator certificate is not an agent's" \
	"not an agent certificate" "$AGENT" --config "$E/agent.conf"
cp "$E/agent.pem.real" "$E/agent.pem"

cp "$E/policy.json" "$E/policy.good"
printf '{ "host_id": "web-02", "rules": [ { "match": { "name": "x" }, "actions": ["START"], "accept_relay_signed": true } ] }\n' >"$E/policy.json"
check_fails_with "policy of another host refused" \
	"policy refused, not starting: .*host_id" "$AGENT" --config "$E/agent.conf"
printf '{ "host_id": "web-01", "rules": [ { "match": { "name": "x" }, "actions": ["START"], "accept_relay_signed": true, "colour": 1 } ] }\n' >"$E/policy.json"
check_fails_with "policy with an unknown key refused" \
	"policy refused, not starting: .*colour" "$AGENT" --config "$E/agent.conf"
cp "$E/policy.good" "$E/policy.json"
check "nothing was audited by refused starts" test ! -s "$T_DIR/var/audit.log"

# ---- a clean start, SIGHUP, stop ----
"$AGENT" --config "$E/agent.conf" 2>"$T_DIR/agent.err" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
for _ in $(seq 1 50); do
	grep -q "agent started" "$T_DIR/agent.err" && break
	sleep 0.1
done
check "agent starts" grep -q "agent started: host_id=web-01" "$T_DIR/agent.err"
printf '{ "host_id": "web-01", "rules": [ { "match": { "name": "[" }, "actions": ["START"], "accept_relay_signed": true } ] }\n' >"$E/policy.json"
kill -HUP "$AGENT_PID"
for _ in $(seq 1 30); do grep -q "policy reload refused" "$T_DIR/agent.err" && break; sleep 0.1; done
check "SIGHUP with a bad policy keeps the old one" \
	grep -q "policy reload refused, the old policy stays" "$T_DIR/agent.err"
printf '{ "host_id": "web-01", "rules": [ { "match": { "name": "a" }, "actions": ["START"], "accept_relay_signed": true }, { "match": { "name": "b" }, "actions": ["STOP"], "accept_relay_signed": true } ] }\n' >"$E/policy.json"
kill -HUP "$AGENT_PID"
for _ in $(seq 1 30); do grep -q "policy reloaded" "$T_DIR/agent.err" && break; sleep 0.1; done
check "SIGHUP with a good policy reloads it" \
	grep -q "policy reloaded: rules=2" "$T_DIR/agent.err"
check "agent keeps redialling a server that is not there" \
	grep -q "channel dial failed: server=wss://127.0.0.1:9" "$T_DIR/agent.err"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
check "SIGTERM stops the agent with exit 0" test $? -eq 0
PIDS=("${PIDS[@]/$AGENT_PID}")
events=$(jq -r .event "$T_DIR/var/audit.log" | tr '\n' ' ')
check "audit: started, reload refused, reloaded, stopped ($events)" \
	test "$events" = "agent.started policy.reload_refused policy.reloaded agent.stopped "
started=$(head -n 1 "$T_DIR/var/audit.log")
# A key id is the first 16 hex digits of SHA-256 of the raw public key.
kid() { base64 -d <"$1" | sha256sum | cut -c1-16; }
check "agent.started names host, dockerd, keys and rules" \
	test "$(jq -c '.data | [.host_id, .docker_version, .result_key_id, .action_key_ids, .policy_rules]' <<<"$started")" = \
	"[\"web-01\",\"$want\",\"$(kid "$SIGNET_PKI/keys/agents/web-01.pub")\",[\"$(kid "$E/keys/action.pub")\"],1]"
check "agent.stopped says SIGTERM" \
	test "$(tail -n 1 "$T_DIR/var/audit.log" | jq -r .data.signal)" = SIGTERM
check "audit log verifies under the agent's result key" \
	"$SIGNETCTL" audit verify "$T_DIR/var/audit.log" \
	--key "$SIGNET_PKI/keys/agents/web-01.pub"
finish
