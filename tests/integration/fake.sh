# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Sourced by tests that drive the real signet-agent with
# tests/tools/fake_server playing the server: starting and stopping it on
# AGENT_PORT, sending it commands, and reading what it saw from $OUT.
# Needs lib.sh and relay.sh sourced first, and OUT set.
FAKE="$SIGNET_BUILD_DIR/tests/fake_server"
FAKE_PID=""

# start_fake: fake_server on AGENT_PORT reading commands from a FIFO held
# open on fd 9; its stdout appends to $OUT.
start_fake() {
	local n0
	n0=$(grep -c "^listening port=" "$OUT" 2>/dev/null)
	rm -f "$T_DIR/cmds"
	mkfifo "$T_DIR/cmds"
	"$FAKE" --port "$AGENT_PORT" --ca "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/localhost.pem" \
		--key "$SIGNET_PKI/private/localhost.key" \
		--action-key "$SIGNET_PKI/keys/action.key" \
		--agent-pub "$SIGNET_PKI/keys/agents/web-01.pub" \
		--commands "$T_DIR/cmds" --max-seconds 600 >>"$OUT" 2>>"$T_DIR/fake.err" &
	FAKE_PID=$!
	R_PIDS+=("$FAKE_PID")
	exec 9>"$T_DIR/cmds"
	for _ in $(seq 1 50); do
		[ "$(grep -c "^listening port=$AGENT_PORT" "$OUT")" -gt "${n0:-0}" ] && return 0
		sleep 0.1
	done
	echo "fake server did not come up"; cat "$T_DIR/fake.err"
	return 1
}

stop_fake() {
	exec 9>&-
	kill "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null
}

send() { printf '%s\n' "$*" >&9; }

sent_actions() { grep -c '^sent action ' "$OUT"; }

# send_action ARGS...: sends "action ARGS" and waits (5 s) until the fake
# server has sent it; last_id then names it.
send_action() {
	local n0
	n0=$(sent_actions)
	send action "$@"
	for _ in $(seq 1 50); do
		[ "$(sent_actions)" -gt "$n0" ] && return 0
		sleep 0.1
	done
	echo "# the fake server did not send: action $*"
	return 1
}

hellos() { grep -c '^hello host_id=web-01' "$OUT"; }

# wait_hello N [SECS]: until the fake server has seen N hellos (SECS,
# default 10; the agent's redial backoff grows to 60 s when connections
# keep closing).
wait_hello() {
	for _ in $(seq 1 $((${2:-10} * 10))); do
		[ "$(hellos)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# last_id: the action id of the last action the fake server sent.
last_id() {
	sed -n 's/^sent action action_id=\([0-9a-f]*\) .*/\1/p' "$OUT" | tail -n 1
}

# result ID [N] [SECS]: the Nth result line for ID (default 1), waiting.
result() {
	local id=$1 n=${2:-1} secs=${3:-10} line
	for _ in $(seq 1 $((secs * 10))); do
		line=$(grep "^result action_id=$id " "$OUT" | sed -n "${n}p")
		if [ -n "$line" ]; then echo "$line"; return 0; fi
		sleep 0.1
	done
	return 1
}
