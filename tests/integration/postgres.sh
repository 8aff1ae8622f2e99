#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A private PostgreSQL for the test run, the cluster's database: initdb
# into a short temporary directory as an unprivileged user (PostgreSQL
# refuses to run as root), TLS only on 127.0.0.1 with a server
# certificate and client certificates from signet-pki (roles database
# and replica; the CRL enforced), pg_hba "hostssl ... cert" and nothing else over TCP; the
# superuser only over the unix socket in that directory, for the tests'
# setup. ctest runs "start" once before the tests that need it and "stop"
# after them (a fixture); the tests source $SIGNET_BUILD_DIR/postgres.env
# through pg_lib.sh:
#   SIGNET_PG_STATE=up|unavailable SIGNET_PG_DIR SIGNET_PG_PORT SIGNET_PG_PKI
# "halt" and "resume" (pg_lib.sh: pg_server_stop / pg_server_start) serve
# the fault tests, which hold the ctest lock "postgres".
# Without PostgreSQL, "start" records "unavailable" and exits 0 so that the
# tests skip, unless SIGNET_REQUIRE_POSTGRES=1 or SIGNET_REQUIRE_DOCKER=1
# (CI), when it fails.
set -u
: "${SIGNET_BUILD_DIR:?}"
: "${SIGNET_SOURCE_DIR:?}"
ENV_FILE="$SIGNET_BUILD_DIR/postgres.env"
PG_BIN=${SIGNET_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=signet-pgtest
PKI_SCRIPT="$SIGNET_SOURCE_DIR/pki/signet-pki"
# signet-pki finds signetctl here (also in a build tree other than build/),
# unless the caller names it (a benchmark whose SIGNET_BUILD_DIR is scratch).
export SIGNETCTL="${SIGNETCTL:-$SIGNET_BUILD_DIR/cli/signetctl}"

unavailable() {
	echo "postgres: unavailable: $*" >&2
	printf 'SIGNET_PG_STATE=unavailable\nSIGNET_PG_WHY=%q\n' "$*" >"$ENV_FILE"
	if [ "${SIGNET_REQUIRE_POSTGRES:-${SIGNET_REQUIRE_DOCKER:-0}}" = 1 ]; then
		echo "postgres: required (SIGNET_REQUIRE_POSTGRES/DOCKER=1)," \
			"so this is a failure" >&2
		exit 1
	fi
	exit 0
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# as_pg CMD...: CMD as the unprivileged database owner.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

make_pki() {
	local pki=$1 r
	"$PKI_SCRIPT" init "$pki" --nopass >/dev/null &&
		"$PKI_SCRIPT" --pki "$pki" database db --dns localhost \
			--ip 127.0.0.1 >/dev/null || return 1
	for r in r1 r2 r3 revoked; do
		"$PKI_SCRIPT" --pki "$pki" replica "$r" >/dev/null || return 1
	done
	# A revoked replica certificate, kept to show the CRL is enforced.
	cp "$pki/issued/revoked.pem" "$pki/revoked.pem" &&
		cp "$pki/private/revoked.key" "$pki/revoked.key" &&
		"$PKI_SCRIPT" --pki "$pki" revoke revoked >/dev/null
}

pg_ctl_run() {
	as_pg "$PG_BIN/pg_ctl" -D "$SIGNET_PG_DIR/data" -l "$SIGNET_PG_DIR/postgres.log" \
		-w -t 120 "$@" >/dev/null
}

start() {
	local dir port
	[ -x "$PG_BIN/initdb" ] || unavailable "$PG_BIN/initdb missing (apt-get install postgresql-15)"
	if [ "$(id -u)" -eq 0 ] && ! id "$PG_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$PG_USER" ||
			unavailable "cannot create the user $PG_USER"
	fi
	# Short path: the unix socket under it must fit in 108 bytes.
	dir=$(mktemp -d /tmp/signet-pg.XXXXXX) || unavailable "mktemp failed"
	chmod 755 "$dir"
	make_pki "$dir/pki" || { rm -rf "$dir"; unavailable "signet-pki failed"; }
	mkdir -p "$dir/data" "$dir/tls" "$dir/sock"
	cp "$dir/pki/ca.pem" "$dir/tls/ca.pem"
	cp "$dir/pki/crl.pem" "$dir/tls/crl.pem"
	cp "$dir/pki/issued/db.pem" "$dir/tls/server.pem"
	cp "$dir/pki/private/db.key" "$dir/tls/server.key"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$PG_USER" "$dir/data" "$dir/tls" "$dir/sock"
		touch "$dir/postgres.log" && chown "$PG_USER" "$dir/postgres.log"
	fi
	chmod 700 "$dir/data"
	chmod 600 "$dir/tls/server.key"
	if ! as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 \
		--auth-local=trust --auth-host=reject --no-sync >"$dir/initdb.log" 2>&1; then
		tail -n 20 "$dir/initdb.log" >&2
		rm -rf "$dir"
		unavailable "initdb failed"
	fi
	port=$(free_port)
	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
ssl = on
ssl_cert_file = '$dir/tls/server.pem'
ssl_key_file = '$dir/tls/server.key'
ssl_ca_file = '$dir/tls/ca.pem'
ssl_crl_file = '$dir/tls/crl.pem'
ssl_min_protocol_version = 'TLSv1.3'
fsync = off
max_connections = 200
EOF
	# TCP: TLS with a certificate of the signet CA only; every such
	# certificate logs in as the one database user "signet".
	cat >"$dir/data/pg_hba.conf" <<EOF
local all postgres trust
hostssl all signet 127.0.0.1/32 cert map=signet
EOF
	printf 'signet /^(.*)$ signet\n' >"$dir/data/pg_ident.conf"
	printf 'SIGNET_PG_STATE=up\nSIGNET_PG_DIR=%s\nSIGNET_PG_PORT=%s\nSIGNET_PG_PKI=%s\n' \
		"$dir" "$port" "$dir/pki" >"$ENV_FILE"
	SIGNET_PG_DIR=$dir
	if ! pg_ctl_run start; then
		tail -n 20 "$dir/postgres.log" >&2
		stop_dir "$dir"
		unavailable "postgres did not start"
	fi
	if ! "$PG_BIN/psql" -X -q -h "$dir/sock" -p "$port" -U postgres -d postgres \
		-c "CREATE ROLE signet LOGIN" >/dev/null; then
		stop_dir "$dir"
		unavailable "cannot create the role signet"
	fi
	echo "postgres: up on 127.0.0.1:$port ($("$PG_BIN/postgres" --version))"
}

stop_dir() {
	local dir=$1 pid
	pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" # fast shutdown
		for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}

load_env() {
	[ -f "$ENV_FILE" ] || return 1
	# shellcheck disable=SC1090
	. "$ENV_FILE"
	[ "${SIGNET_PG_STATE:-}" = up ] && [ -n "${SIGNET_PG_DIR:-}" ]
}

stop() {
	if load_env; then
		stop_dir "$SIGNET_PG_DIR"
		echo "postgres: stopped"
	fi
	rm -f "$ENV_FILE"
}

case "${1:-}" in
	start) start ;;
	stop) stop ;;
	# For the fault tests: the same data directory, port and certificates.
	halt) load_env || exit 1; pg_ctl_run stop -m fast ;;
	resume) load_env || exit 1; pg_ctl_run start ;;
	*) echo "usage: postgres.sh start|stop|halt|resume" >&2; exit 2 ;;
esac
