# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# The tests' side of the private PostgreSQL (postgres.sh, a ctest fixture
# for tests whose file says "# needs: postgres"): skip or fail when it is
# not up, a fresh database per test, the conninfo a replica uses (TLS
# verify-full with its signet-pki client certificate), SQL as the
# superuser for setup and assertions, and the server stopped and started
# again for the fault tests. Source lib.sh first.
PG_BIN=${SIGNET_PG_BIN:-/usr/lib/postgresql/15/bin}

# pg_need: loads postgres.env; skips (77) without a database, or fails when
# CI requires one.
pg_need() {
	local env="$SIGNET_BUILD_DIR/postgres.env"
	if [ -f "$env" ]; then
		# shellcheck disable=SC1090
		. "$env"
	fi
	if [ "${SIGNET_PG_STATE:-}" != up ]; then
		echo "no postgres: ${SIGNET_PG_WHY:-fixture did not run}"
		if [ "${SIGNET_REQUIRE_POSTGRES:-${SIGNET_REQUIRE_DOCKER:-0}}" = 1 ]; then
			exit 1
		fi
		exit 77
	fi
}

# pg_sql DB SQL: runs SQL as the superuser over the unix socket; prints
# the rows unaligned, fields separated by "|".
pg_sql() {
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SIGNET_PG_DIR/sock" \
		-p "$SIGNET_PG_PORT" -U postgres -d "$1" -c "$2"
}

# pg_new_db NAME: a fresh database owned by the user "signet"; prints its
# name (NAME with a random suffix, so that reruns never meet old state).
pg_new_db() {
	local db
	db="$1_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
	pg_sql postgres "CREATE DATABASE \"$db\" OWNER signet" || return 1
	printf '%s\n' "$db"
}

# pg_conninfo DB REPLICA: the conninfo of replica r1, r2 or r3 for DB.
pg_conninfo() {
	printf 'host=127.0.0.1 port=%s dbname=%s user=signet sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s connect_timeout=5' \
		"$SIGNET_PG_PORT" "$1" "$SIGNET_PG_PKI/ca.pem" \
		"$SIGNET_PG_PKI/issued/$2.pem" "$SIGNET_PG_PKI/private/$2.key"
}

# pg_server_stop / pg_server_start: the whole database server down and up
# again (same port, data and certificates); only tests that hold the
# ctest lock "postgres" (all that need it) may.
pg_server_stop() { bash "$SIGNET_SOURCE_DIR/tests/integration/postgres.sh" halt; }
pg_server_start() { bash "$SIGNET_SOURCE_DIR/tests/integration/postgres.sh" resume; }
