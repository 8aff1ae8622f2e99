#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# GET /healthz of the real server says whether its audit log can be
# written, not only that the process is up: 200 {"status":"ok"} while it
# can; 503 {"status":"unhealthy","audit":...,"error":...} when the last
# append failed (here the server's RLIMIT_FSIZE is set at the log's size,
# so the next record, a SIGHUP's server.reloaded, fails with EFBIG like a
# full disk), and when the filesystem holding the log is full (a real
# 2 MiB tmpfs filled with dd); 200 again once a record is written, or space
# is freed. Needs root for the tmpfs (skips the full-disk part otherwise).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
MNT=""
cleanup_all() {
	local p
	for p in "${R_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${R_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	t_cleanup
}
trap cleanup_all EXIT
command -v prlimit >/dev/null || { echo "SKIP: no prlimit"; exit 77; }

make_pki || { not_ok "pki setup"; finish; exit 1; }
write_server_conf
# Every SIGHUP here must write its record (the default bound would count
# all but 10 a minute into a summary): a high burst.
sed -i 's/^\[audit\]$/[audit]\nlimit_burst = 100000/' "$T_DIR/server.conf"
AUDIT=$T_DIR/server-audit.log

# health [USER]: the status code; the body in $T_DIR/body.
health() {
	curl -sS --max-time 10 --cacert "$SIGNET_PKI/ca.pem" \
		--cert "$SIGNET_PKI/issued/${1:-carol}.pem" \
		--key "$SIGNET_PKI/private/${1:-carol}.key" -o "$T_DIR/body" \
		-w '%{http_code}' "https://localhost:$API_PORT/healthz"
}
# body_is PYTHON-EXPR: the JSON body satisfies it.
body_is() { pyq "$1" <"$T_DIR/body" | grep -qx true; }
hups_logged() { test "$(grep -c 'hub_reload: SIGHUP' "$T_DIR/server.log")" = "$1"; }
health_is() { test "$(health)" = "$1"; }
# reloads N: the log holds N server.reloaded records.
reloads() { test "$(grep -c '"event":"server.reloaded"' "$AUDIT")" = "$1"; }

# ---- an append fails: unhealthy until one succeeds ----
# SIGXFSZ ignored here is inherited: the server lives on and must say so.
trap '' XFSZ
start_server || { not_ok "server started"; finish; exit 1; }
trap - XFSZ
check "healthy at start: 200" test "$(health)" = 200
check "healthy body" body_is 'd == {"status": "ok"}'
prlimit --pid "$SERVER_PID" --fsize="$(stat -c %s "$AUDIT")":unlimited
kill -HUP "$SERVER_PID"
# (The server's own log is over that size too: its lines are lost now.)
check "append failed: 503" wait_for 10 health_is 503
check "the reload's record is not in the log" reloads 0
check "503 body names the audit log and why" \
	body_is 'd["status"] == "unhealthy" and d["audit"] == "failing" and "audit log" in d["error"] and "File too large" in d["error"]'
check "an agent's certificate sees it too" test "$(health web-01)" = 503
prlimit --pid "$SERVER_PID" --fsize=unlimited:unlimited
kill -HUP "$SERVER_PID"
check "the next reload is recorded" wait_for 10 reloads 1
check "written again: 200" test "$(health)" = 200
check "healthy body again" body_is 'd == {"status": "ok"}'
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# ---- the log's filesystem is full ----
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T_DIR/mnt" &&
	mount -t tmpfs -o size=2m,mode=0700 tmpfs "$T_DIR/mnt" 2>/dev/null; then
	MNT=$T_DIR/mnt
	AUDIT=$MNT/audit.log
	sed -i "s|^path = .*|path = $AUDIT|" "$T_DIR/server.conf"
	start_server || { not_ok "server on tmpfs"; finish; exit 1; }
	check "tmpfs log: 200" test "$(health)" = 200
	dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
	check "the disk is full" test "$(df --output=avail -B1 "$MNT" | tail -n 1 | tr -d ' ')" -lt 65536
	check "full disk, no record tried: 503" test "$(health)" = 503
	check "503 body says the disk is full" \
		body_is 'd["status"] == "unhealthy" and d["audit"] == "no_space" and "free" in d["error"]'
	# The log's last page may still hold a record or two: reload until
	# one does not fit (each reload writes one server.reloaded).
	base=$(grep -c 'hub_reload: SIGHUP' "$T_DIR/server.log")
	for i in $(seq 1 40); do
		kill -HUP "$SERVER_PID"
		wait_for 10 hups_logged $((base + i)) || break
		grep -q 'server.reloaded not recorded' "$T_DIR/server.log" && break
	done
	check "a record on the full disk fails" grep -q 'server.reloaded not recorded' "$T_DIR/server.log"
	check "still 503" test "$(health)" = 503
	rm -f "$MNT/filler"
	check "space freed, nothing written yet: 503, the last append failed" test "$(health)" = 503
	check "... and the body says so" body_is 'd["audit"] == "failing" and "No space left" in d["error"]'
	n=$(grep -c '"event":"server.reloaded"' "$AUDIT")
	kill -HUP "$SERVER_PID"
	check "the next reload is recorded" wait_for 10 reloads $((n + 1))
	check "space back and written: 200" test "$(health)" = 200
	kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
else
	echo "# skipped: cannot mount a tmpfs here (not root?): full-disk case not run"
fi
[ "$T_FAIL" -eq 0 ] || { tail -n 12 "$T_DIR/server.log"; grep -c . "$T_DIR/server-audit.log"; }
finish
