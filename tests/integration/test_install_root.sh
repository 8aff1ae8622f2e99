#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The packages install into a clean Debian 12 root filesystem and do what
# packaging/README.md says: debootstrap (minbase, bookworm, from this
# machine's Debian mirror; cached as a tarball per day under
# /var/cache/signet-tests/) into this run's scratch directory, then in a
# chroot: apt-get install ./signet-*.deb pulls every dependency; the users,
# groups, directories and modes of the maintainer scripts are there; no
# unit is enabled; signet-server --help, signet-agent --check-policy on the
# shipped policy and signetctl --help run; signet-pki makes a PKI there
# (openssl is a dependency) and, with the keys placed as the README says,
# the installed server runs as user signet, holds the signed operator
# roster of its sample [roster] and answers /healthz; an agent bundle
# installed as the README says starts as signet-agent holding the bundle's
# roster in its state directory; a
# reinstall keeps the modes; remove keeps the configuration; purge removes
# it but keeps the audit logs in /var/lib and the admin's keys.
# Without the mirror it skips (77), unless SIGNET_REQUIRE_DOCKER=1 (CI).
# The checks run small "sh -c '...' sh ARG" scripts that get their values
# as $1 and expand them themselves: single quotes on purpose.
# shellcheck disable=SC2016
. "$SIGNET_SOURCE_DIR/tests/integration/lib.sh"
. "$SIGNET_SOURCE_DIR/tests/integration/pkg.sh"

pkg_need_plain_build
unavailable() {
	echo "SKIP: $*"
	if [ "${SIGNET_REQUIRE_DOCKER:-0}" = 1 ]; then
		echo "SIGNET_REQUIRE_DOCKER=1 (CI): this is a failure"
		exit 1
	fi
	exit 77
}
[ "$(id -u)" -eq 0 ] || unavailable "needs root (debootstrap, chroot)"
for tool in debootstrap chroot mount flock curl; do
	command -v "$tool" >/dev/null || unavailable "$tool not found (scripts/deps.sh)"
done

start=$(date +%s)
ROOT=$T_DIR/root
SERVER_PID=""
ir_cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	# Never delete through a mount that is still there.
	if mountpoint -q "$ROOT/proc" 2>/dev/null && ! umount "$ROOT/proc"; then
		echo "cannot unmount $ROOT/proc: leaving $T_DIR" >&2
		return
	fi
	t_cleanup
}
trap ir_cleanup EXIT

# The Debian mirror this machine uses (deb822 .sources, then sources.list).
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'function flush() { if (t ~ /(^| )deb( |$)/ && s ~ /(^| )bookworm( |$)/ && u != "") { print u; found = 1; exit } t = s = u = "" }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { t = substr($0, 7) }
			/^Suites:/ { s = substr($0, 8) }
			/^URIs:/ { u = $2 }
			END { if (!found) flush() }' "$f"
	done | head -n 1 | grep . && return 0
	sed -n 's/^deb[ \t]\+\(\[[^]]*\][ \t]\+\)\?\([^ \t]*\)[ \t]\+bookworm[ \t].*/\2/p' \
		/etc/apt/sources.list 2>/dev/null | head -n 1 | grep . && return 0
	echo http://deb.debian.org/debian
}
MIRROR=$(mirror)
echo "    mirror: $MIRROR"

# --- the root filesystem: today's cached tarball, or debootstrap now.
CACHE=/var/cache/signet-tests
TARBALL=$CACHE/bookworm-minbase-$(date +%Y%m%d).tar.gz
mkdir -p "$CACHE" "$ROOT"
(
	flock 9
	if [ ! -s "$TARBALL" ]; then
		t0=$(date +%s)
		echo "    debootstrap --variant=minbase bookworm (cached as $TARBALL)"
		if ! debootstrap --variant=minbase --include=init-system-helpers \
			bookworm "$T_DIR/boot" "$MIRROR" >"$T_DIR/debootstrap.log" 2>&1; then
			tail -n 5 "$T_DIR/debootstrap.log"
			exit 3
		fi
		tar -C "$T_DIR/boot" -czf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL" || exit 1
		rm -rf "${T_DIR:?}/boot"
		find "$CACHE" -name 'bookworm-minbase-*.tar.gz' ! -path "$TARBALL" -delete
		echo "    debootstrap took $(($(date +%s) - t0)) s"
	fi
) 9>"$CACHE/.lock"
case $? in
0) ;;
3) unavailable "debootstrap cannot fetch Debian 12 from $MIRROR" ;;
*) not_ok "caching the root filesystem"; finish; exit 1 ;;
esac
tar -C "$ROOT" -xzf "$TARBALL" || { not_ok "unpacking $TARBALL"; finish; exit 1; }
ok "clean Debian 12 minbase root in $ROOT"

if ! pkg_build; then not_ok "scripts/package.sh"; finish; exit 1; fi
mkdir -p "$ROOT/tmp/debs"
cp "$PKG_OUT"/signet-server_*.deb "$PKG_OUT"/signet-agent_*.deb \
	"$PKG_OUT"/signet-tools_*.deb "$ROOT/tmp/debs/"
DEBS=()	# their paths inside the root
for f in "$ROOT"/tmp/debs/*.deb; do DEBS+=("/tmp/debs/$(basename "$f")"); done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc" || { not_ok "mount /proc in the root"; finish; exit 1; }

# in_root CMD...: runs CMD in the chroot with a clean environment.
in_root() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"
}
# stat_is PATH "MODE USER:GROUP": e.g. stat_is /etc/signet "750 root:signet".
stat_is() {
	local got
	got=$(in_root stat -c '%a %U:%G' "$1" 2>&1)
	[ "$got" = "$2" ] || { echo "    $1: $got (wanted $2)"; return 1; }
}
absent() { [ ! -e "$ROOT$1" ] || { echo "    $1 exists"; return 1; }; }

t0=$(date +%s)
if ! in_root apt-get update -q >"$T_DIR/apt.log" 2>&1; then
	tail -n 5 "$T_DIR/apt.log"
	unavailable "apt-get update in the root cannot reach $MIRROR"
fi
if in_root apt-get install -y -q --no-install-recommends "${DEBS[@]}" \
	>>"$T_DIR/apt.log" 2>&1; then
	ok "apt-get install ./signet-*.deb with their dependencies ($(($(date +%s) - t0)) s)"
else
	not_ok "apt-get install ./signet-*.deb:"; tail -n 20 "$T_DIR/apt.log"
	finish; exit 1
fi

# --- the programs run (every shared library is there).
check "signet-server --help" quiet in_root signet-server --help
check "signet-server --version" quiet in_root /usr/sbin/signet-server --version
check "signet-agent --check-policy /etc/signet/policy.json (the shipped one)" \
	in_root signet-agent --check-policy /etc/signet/policy.json
check "signetctl --help" quiet in_root signetctl --help
check "signet-pki is on every user's PATH" quiet in_root sh -c 'command -v signet-pki'
for f in $(cd "$SIGNET_SOURCE_DIR/pki/lib" && echo *.sh); do
	check "signet-pki's library /usr/share/signet/pki/$f is 0644 root:root" \
		stat_is "/usr/share/signet/pki/$f" "644 root:root"
done
pki_version() { in_root signet-pki --version | grep -qx 'signet-pki [0-9][0-9.]*'; }
check "signet-pki --version (it finds its library)" pki_version

# --- what postinst made.
check "user signet: system, no login, home /var/lib/signet" sh -c \
	'l=$(grep "^signet:" "$1/etc/passwd"); u=$(echo "$l" | cut -d: -f3); [ -n "$u" ] && [ "$u" -lt 1000 ] && echo "$l" | grep -q ":/var/lib/signet:/usr/sbin/nologin$"' \
	sh "$ROOT"
check "user signet-agent: system, no login, home /var/lib/signet-agent" sh -c \
	'l=$(grep "^signet-agent:" "$1/etc/passwd"); u=$(echo "$l" | cut -d: -f3); [ -n "$u" ] && [ "$u" -lt 1000 ] && echo "$l" | grep -q ":/var/lib/signet-agent:/usr/sbin/nologin$"' \
	sh "$ROOT"
check "signet-agent's primary group is signet-agent" sh -c \
	'[ "$(chroot "$1" id -gn signet-agent)" = signet-agent ]' sh "$ROOT"
check "groups signet and docker exist" sh -c \
	'grep -q "^signet:" "$1/etc/group" && grep -q "^docker:" "$1/etc/group"' sh "$ROOT"
check "signet-agent is a member of neither docker nor signet in /etc/group (only the unit grants them)" \
	sh -c '! grep -E "^(docker|signet):" "$1/etc/group" | cut -d: -f4 | grep -qw signet-agent' sh "$ROOT"
check "/etc/signet is 0750 root:signet" stat_is /etc/signet "750 root:signet"
check "server.conf is 0640 root:signet" stat_is /etc/signet/server.conf "640 root:signet"
check "agent.conf is 0640 root:signet" stat_is /etc/signet/agent.conf "640 root:signet"
check "policy.json is 0640 root:signet" stat_is /etc/signet/policy.json "640 root:signet"
check "/var/lib/signet is 0700 signet:signet" stat_is /var/lib/signet "700 signet:signet"
check "/var/lib/signet-agent is 0700 signet-agent:signet-agent" \
	stat_is /var/lib/signet-agent "700 signet-agent:signet-agent"
check "no key, certificate or CRL was installed" sh -c \
	'[ -z "$(find "$1/etc/signet" -name "*.key" -o -name "*.pem")" ]' sh "$ROOT"
check "no unit is enabled" sh -c \
	'[ -z "$(find "$1/etc/systemd/system" -name "signet-*" 2>/dev/null)" ]' sh "$ROOT"
# As a maintainer script of the package runs it (else it refuses).
for u in signet-server:signet-server.service signet-server:signet-crl-renew.timer \
	signet-agent:signet-agent.service; do
	check "deb-systemd-helper registered ${u#*:}, disabled" sh -c \
		'"$@" debian-installed "$0" && ! "$@" --quiet was-enabled "$0"' \
		"${u#*:}" chroot "$ROOT" env DPKG_MAINTSCRIPT_PACKAGE="${u%%:*}" deb-systemd-helper
done
check "the server can read its configuration, the agent's user cannot without the unit's group" sh -c \
	'chroot "$1" setpriv --reuid=signet --regid=signet --init-groups cat /etc/signet/server.conf >/dev/null &&
	 ! chroot "$1" setpriv --reuid=signet-agent --regid=signet-agent --init-groups cat /etc/signet/agent.conf >/dev/null 2>&1' sh "$ROOT"

# --- to a running server, as packaging/README.md tells.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
AGENT_PORT=$(port); API_PORT=$(port)
if in_root sh -ec '
	signet-pki init /root/pki --nopass
	cd /root/pki
	signet-pki --pki /root/pki server localhost --dns localhost --ip 127.0.0.1
	signet-pki --pki /root/pki operator alice
	install -m 0644 ca.pem crl.pem /etc/signet/
	install -m 0644 issued/localhost.pem /etc/signet/server.pem
	install -o signet -g signet -m 0600 private/localhost.key /etc/signet/server.key
	install -d -o root -g signet -m 0750 /etc/signet/keys /etc/signet/keys/agents
	install -o signet -g signet -m 0600 keys/action.key keys/audit.key /etc/signet/keys/
	install -m 0644 keys/action.pub /etc/signet/keys/
	mkdir /root/ops && cd /root/ops
	signetctl keygen --no-passphrase alice
	signet-pki --pki /root/pki roster add alice --key /root/ops/alice.pub --groups sre
	signet-pki --pki /root/pki roster sign
	cd /root/pki
	install -m 0644 roster/pinned.pub /etc/signet/keys/roster.pub
	install -m 0644 roster/roster.json /etc/signet/roster.json
' >"$T_DIR/pki.log" 2>&1; then
	ok "signet-pki makes a PKI and a roster in the root; keys placed as the README says"
else
	not_ok "signet-pki in the root:"; tail -n 15 "$T_DIR/pki.log"
fi
sed -i -e "s/^agent_listen *=.*/agent_listen = 127.0.0.1:$AGENT_PORT/" \
	-e "s/^api_listen *=.*/api_listen   = 127.0.0.1:$API_PORT/" \
	"$ROOT/etc/signet/server.conf"
# As its unit runs it: user and group signet, no new privileges, umask 077.
chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin setpriv --reuid=signet \
	--regid=signet --init-groups --no-new-privs sh -c 'umask 077; exec signet-server --config /etc/signet/server.conf' \
	>"$T_DIR/server.log" 2>&1 &
SERVER_PID=$!
healthz() {
	curl -sS --fail --max-time 5 --cacert "$ROOT/root/pki/ca.pem" \
		--cert "$ROOT/root/pki/issued/alice.pem" \
		--key "$ROOT/root/pki/private/alice.key" \
		"https://localhost:$API_PORT/healthz" >/dev/null 2>&1
}
ready=0
for _ in $(seq 1 100); do
	healthz && { ready=1; break; }
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
if [ "$ready" = 1 ]; then ok "the installed server runs as signet and answers /healthz"
else not_ok "the installed server did not come up:"; tail -n 15 "$T_DIR/server.log"; fi
check "signetctl in the root talks to it" quiet in_root signetctl \
	--server "https://localhost:$API_PORT" --ca /root/pki/ca.pem \
	--cert /root/pki/issued/alice.pem --key /root/pki/private/alice.key hosts
check "its audit log is /var/lib/signet/audit.log, 0600 signet" \
	stat_is /var/lib/signet/audit.log "600 signet:signet"
check "the sample server.conf's [roster] is in force: roster version 1 held" \
	grep -q 'roster version 1 held' "$T_DIR/server.log"
check "the server serves that roster (GET /api/roster)" sh -c \
	'curl -sS --fail --max-time 5 --cacert "$1/root/pki/ca.pem" \
	    --cert "$1/root/pki/issued/alice.pem" --key "$1/root/pki/private/alice.key" \
	    "https://localhost:$2/api/roster" | grep -q "\"version\":1"' sh "$ROOT" "$API_PORT"
kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""

# --- an agent host enrolled as the README says: the bundle's agent.conf
# pins the roster keys and keeps the roster in the state directory.
if in_root sh -ec '
	signet-pki --pki /root/pki agent web-01
	signet-pki --pki /root/pki bundle web-01 --server wss://localhost:'"$AGENT_PORT"' \
	    --out /root/web-01-bundle.tar.gz
	d=$(mktemp -d)
	tar -xzf /root/web-01-bundle.tar.gz -C "$d"
	install -m 0644 "$d/ca.pem" "$d/agent.pem" /etc/signet/
	install -o signet-agent -g signet-agent -m 0600 "$d/agent.key" /etc/signet/
	install -d -o root -g signet -m 0750 /etc/signet/keys
	install -m 0644 "$d/keys/action.pub" /etc/signet/keys/
	install -o signet-agent -g signet-agent -m 0600 "$d/keys/result.key" /etc/signet/keys/
	install -m 0644 "$d/keys/roster.pub" /etc/signet/keys/
	[ ! -f "$d/roster.json" ] || [ -e /var/lib/signet-agent/roster.json ] ||
	    install -o signet-agent -g signet-agent -m 0644 "$d/roster.json" /var/lib/signet-agent/
	install -o root -g signet -m 0640 "$d/agent.conf" /etc/signet/agent.conf
	rm -rf "$d" /root/web-01-bundle.tar.gz
	sed -i "s/\"vault-01\"/\"web-01\"/" /etc/signet/policy.json
' >"$T_DIR/bundle.log" 2>&1; then
	ok "an agent bundle installed as the README says"
else
	not_ok "the agent bundle in the root:"; tail -n 15 "$T_DIR/bundle.log"
fi
check "the roster.pub installed is 0644 root:root" \
	stat_is /etc/signet/keys/roster.pub "644 root:root"
check "the bundle's roster is the agent's: 0644 signet-agent" \
	stat_is /var/lib/signet-agent/roster.json "644 signet-agent:signet-agent"
# As its unit runs it: user signet-agent with the group signet.
chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin setpriv --reuid=signet-agent \
	--regid=signet-agent --groups="$(chroot "$ROOT" getent group signet | cut -d: -f3)" \
	--no-new-privs sh -c 'umask 077; exec signet-agent --config /etc/signet/agent.conf' \
	>"$T_DIR/agent.log" 2>&1 &
SERVER_PID=$!
held=0
for _ in $(seq 1 100); do
	grep -q 'roster version 1 held' "$T_DIR/agent.log" 2>/dev/null && { held=1; break; }
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
if [ "$held" = 1 ]; then ok "the installed agent holds the bundle's roster (version 1)"
else not_ok "the installed agent did not hold the roster:"; tail -n 15 "$T_DIR/agent.log"; fi
kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""

# --- a reinstall (what an upgrade does to files) keeps owners and modes.
in_root dpkg -i "${DEBS[@]}" >>"$T_DIR/apt.log" 2>&1
check "after a reinstall /etc/signet is still 0750 root:signet" stat_is /etc/signet "750 root:signet"
check "after a reinstall server.conf is still 0640 root:signet" stat_is /etc/signet/server.conf "640 root:signet"
check "after a reinstall the edited server.conf is kept" \
	grep -q "127.0.0.1:$API_PORT" "$ROOT/etc/signet/server.conf"

# --- remove keeps the configuration; purge removes it, never the logs.
echo '{"seq":0,"planted":"agent audit log"}' >"$ROOT/var/lib/signet-agent/audit.log"
sum_s=$(sha256sum <"$ROOT/var/lib/signet/audit.log")
sum_a=$(sha256sum <"$ROOT/var/lib/signet-agent/audit.log")
in_root apt-get remove -y -q signet-server signet-agent signet-tools >>"$T_DIR/apt.log" 2>&1
check "remove: binaries gone" absent /usr/sbin/signet-server
check "remove: configuration kept" test -f "$ROOT/etc/signet/server.conf"
in_root apt-get purge -y -q signet-server signet-agent signet-tools >>"$T_DIR/apt.log" 2>&1
check "purge: the packages are gone" sh -c \
	'! chroot "$1" dpkg -s signet-server signet-agent signet-tools >/dev/null 2>&1' sh "$ROOT"
check "purge: server.conf removed" absent /etc/signet/server.conf
check "purge: agent.conf removed" absent /etc/signet/agent.conf
check "purge: policy.json removed" absent /etc/signet/policy.json
check "purge: /etc/default/signet-crl-renew removed" absent /etc/default/signet-crl-renew
check "purge: the units removed" sh -c '[ -z "$(find "$1/lib/systemd/system" -name "signet-*")" ]' sh "$ROOT"
check "purge: no statoverride left for the conffiles" sh -c \
	'! chroot "$1" dpkg-statoverride --list "/etc/signet/*.conf" | grep -q .' sh "$ROOT"
check "purge: the server's audit log is kept, unchanged" \
	test "$(sha256sum <"$ROOT/var/lib/signet/audit.log" 2>/dev/null)" = "$sum_s"
check "purge: the agent's audit log is kept, unchanged" \
	test "$(sha256sum <"$ROOT/var/lib/signet-agent/audit.log" 2>/dev/null)" = "$sum_a"
check "purge: the admin's keys are kept" test -f "$ROOT/etc/signet/server.key"
check "purge: /etc/signet stays 0750 root:signet while it holds keys" \
	stat_is /etc/signet "750 root:signet"

echo "test_install_root: $(($(date +%s) - start)) s"
finish
