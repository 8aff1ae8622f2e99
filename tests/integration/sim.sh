# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Sourced by the tests that play agents with tests/tools/agent_sim against
# a real signet-server (after lib.sh and relay.sh; sim_begin sets SIM, CA,
# P and SIM_PIDS): inventory rows, starting and stopping the simulated agent
# of a host (inventory inv2.json for web-02, inv1.json for the others, in
# the current directory), and whether a host is connected with its rows.

# sim_begin [TOOL...]: the start of a test that plays agents: openssl,
# curl, python3 and TOOL... (else skipped), signet-server and agent_sim
# built (SIM), the working directory $T_DIR, every agent_sim and server
# stopped at exit (sim_cleanup_all),
# and a PKI with agents web-01 and web-02 (P, CA).
# shellcheck disable=SC2120 # the tools are optional
sim_begin() {
	local tool
	SIM="$SIGNET_BUILD_DIR/tests/agent_sim"
	for tool in openssl curl python3 "$@"; do
		command -v "$tool" >/dev/null || { echo "$tool missing"; exit 77; }
	done
	if [ ! -x "$SERVER_BIN" ] || [ ! -x "$SIM" ]; then
		echo "signet-server or agent_sim not built"; exit 1
	fi
	cd "$T_DIR" || exit 1
	SIM_PIDS=()
	trap sim_cleanup_all EXIT
	if ! { make_pki && "$PKI_SCRIPT" agent web-02 >/dev/null; }; then
		not_ok "pki setup"; finish; exit 1
	fi
	P=$SIGNET_PKI
	CA=$P/ca.pem
}

sim_cleanup_all() {
	local p
	for p in "${SIM_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SIM_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	t_cleanup
}

# inventory_row ID NAME: one running busybox container as a frame's row.
inventory_row() {
	printf '{"id":"%s","names":["/%s"],"image":"busybox:1","state":"running","status":"Up","labels":{},"created":1700000000}' "$1" "$2"
}

SIM_PID=""
# sim NAME HOST [agent_sim options]: (re)starts the simulated agent of
# HOST (output in sim-NAME.out) and waits until its inventory is in.
sim() {
	local name=$1 host=$2 inv=inv1.json; shift 2
	[ "$host" = web-02 ] && inv=inv2.json
	stop_sim
	"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$CA" --pki "$P" \
		--name "$host" --inventory "$inv" --action-pub "$P/keys/action.pub" \
		"$@" >"sim-$name.out" 2>&1 &
	SIM_PID=$!
	SIM_PIDS+=("$SIM_PID")
	wait_for 10 host_connected "$host"
}

stop_sim() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=""
		sleep 0.3
	fi
}

host_connected() {
	api_get /api/hosts 2>/dev/null |
		pyq "[h for h in d['hosts'] if h['host_id']=='$1' and h['connected'] and h['container_count'] > 0] != []" |
		grep -q true
}
