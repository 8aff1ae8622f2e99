#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A private dockerd for the test run (../shared/TESTING.md): its own
# socket, data root, exec root and pid file under a short temporary
# directory, never the system's. ctest runs "start" once before the tests
# that need it and "stop" after them (a fixture). The state goes in
# $SIGNET_BUILD_DIR/dockerd.env, which those tests source:
#   SIGNET_DOCKER_STATE=up|unavailable  DOCKER_HOST=unix://...  DOCKER_DIR=...
# Without a working dockerd, "start" records "unavailable" and exits 0 so
# that the tests skip, unless SIGNET_REQUIRE_DOCKER=1, when it fails.
set -u
: "${SIGNET_BUILD_DIR:?}"
ENV_FILE="$SIGNET_BUILD_DIR/dockerd.env"
IMAGE=signet-test/busybox:1

unavailable() {
	echo "dockerd: unavailable: $*" >&2
	printf 'SIGNET_DOCKER_STATE=unavailable\nSIGNET_DOCKER_WHY=%q\n' "$*" >"$ENV_FILE"
	if [ "${SIGNET_REQUIRE_DOCKER:-0}" = 1 ]; then
		echo "dockerd: SIGNET_REQUIRE_DOCKER=1, so this is a failure" >&2
		exit 1
	fi
	exit 0
}

start() {
	local dir sock root
	command -v dockerd >/dev/null || unavailable "dockerd not installed (apt-get install docker.io)"
	command -v docker >/dev/null || unavailable "docker CLI not installed"
	[ "$(id -u)" -eq 0 ] || unavailable "dockerd needs root"
	[ -x /bin/busybox ] || unavailable "/bin/busybox missing (apt-get install busybox-static)"
	# Short path: unix sockets under it must fit in 108 bytes.
	dir=$(mktemp -d /tmp/signet-dockerd.XXXXXX) || unavailable "mktemp failed"
	sock="$dir/docker.sock"
	dockerd --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
		-H "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
		--pidfile "$dir/dockerd.pid" >"$dir/dockerd.log" 2>&1 &
	echo $! >"$dir/launcher.pid"
	for _ in $(seq 1 120); do
		docker -H "unix://$sock" version >/dev/null 2>&1 && break
		sleep 0.25
	done
	if ! docker -H "unix://$sock" version >/dev/null 2>&1; then
		tail -n 20 "$dir/dockerd.log" >&2
		stop_dir "$dir"
		unavailable "dockerd did not answer within 30 s"
	fi
	# No registry here: make the busybox image from the static binary.
	root="$dir/rootfs"
	mkdir -p "$root/bin"
	cp /bin/busybox "$root/bin/busybox"
	for l in sh sleep true trap; do ln -sf busybox "$root/bin/$l"; done
	if ! tar -C "$root" -c . | docker -H "unix://$sock" import - "$IMAGE" >/dev/null; then
		stop_dir "$dir"
		unavailable "cannot import the busybox image"
	fi
	rm -rf "$root"
	printf 'SIGNET_DOCKER_STATE=up\nDOCKER_HOST=unix://%s\nDOCKER_DIR=%s\nSIGNET_TEST_IMAGE=%s\n' \
		"$sock" "$dir" "$IMAGE" >"$ENV_FILE"
	echo "dockerd: up on $sock ($(docker -H "unix://$sock" version --format '{{.Server.Version}}'))"
}

stop_dir() {
	local dir=$1 pid
	pid=$(cat "$dir/dockerd.pid" 2>/dev/null || cat "$dir/launcher.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# Containers first, so their shims do not outlive the daemon.
		docker -H "unix://$dir/docker.sock" ps -aq 2>/dev/null |
			xargs -r docker -H "unix://$dir/docker.sock" rm -f >/dev/null 2>&1
		kill "$pid"
		for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -9 "$pid" 2>/dev/null
	fi
	# Mounts left by an unclean stop would make rm fail.
	grep -o " $dir/[^ ]*" /proc/mounts 2>/dev/null | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$dir"
}

stop() {
	[ -f "$ENV_FILE" ] || exit 0
	# shellcheck disable=SC1090
	. "$ENV_FILE"
	if [ "${SIGNET_DOCKER_STATE:-}" = up ] && [ -n "${DOCKER_DIR:-}" ]; then
		stop_dir "$DOCKER_DIR"
		echo "dockerd: stopped"
	fi
	rm -f "$ENV_FILE"
}

case "${1:-}" in
	start) start ;;
	stop) stop ;;
	*) echo "usage: dockerd.sh start|stop" >&2; exit 2 ;;
esac
