#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: postgres
# The cluster's test database itself (postgres.sh): a replica's
# certificate logs in over TLS with the server's name checked
# (verify-full); without a client certificate, with another CA's, or
# without TLS, or with a revoked certificate the server refuses; the server runs as the unprivileged
# user, not root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_need
cd "$T_DIR" || exit 1
PSQL="$PG_BIN/psql"

db=$(pg_new_db fixture)
check "a fresh database" test -n "$db"
ci=$(pg_conninfo "$db" r1)
check "replica r1 logs in over TLS verify-full as signet" \
	test "$("$PSQL" -X -At "$ci" -c 'SELECT current_user || chr(58) || ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()')" = signet:true
check "the client certificate's CN is r1" \
	test "$("$PSQL" -X -At "$ci" -c 'SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()')" = "/CN=r1/OU=replica"
check_fails_with "no client certificate: refused" \
	'certificate|authentication' "$PSQL" -X -At \
	"host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$db user=signet sslmode=verify-full sslrootcert=$SIGNET_PG_PKI/ca.pem sslcert=/nonexistent sslkey=/nonexistent" -c 'SELECT 1'
check_fails_with "no TLS: refused" 'no pg_hba.conf entry|SSL off' \
	"$PSQL" -X -At "host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$db user=signet sslmode=disable" -c 'SELECT 1'
"$SIGNET_SOURCE_DIR/pki/signet-pki" init other --nopass >/dev/null &&
	"$SIGNET_SOURCE_DIR/pki/signet-pki" --pki other replica r1 >/dev/null
check_fails_with "a client certificate of another CA: refused" \
	'certificate|alert|verify' "$PSQL" -X -At \
	"host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$db user=signet sslmode=verify-full sslrootcert=$SIGNET_PG_PKI/ca.pem sslcert=other/issued/r1.pem sslkey=other/private/r1.key" -c 'SELECT 1'
check_fails_with "a server not under the given CA: refused (verify-full)" \
	'certificate verify failed|verify' "$PSQL" -X -At \
	"host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$db user=signet sslmode=verify-full sslrootcert=other/ca.pem sslcert=$SIGNET_PG_PKI/issued/r1.pem sslkey=$SIGNET_PG_PKI/private/r1.key" -c 'SELECT 1'
check_fails_with "a revoked replica certificate: refused (the CRL)" \
	'revoked|certificate|alert' "$PSQL" -X -At \
	"host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$db user=signet sslmode=verify-full sslrootcert=$SIGNET_PG_PKI/ca.pem sslcert=$SIGNET_PG_PKI/revoked.pem sslkey=$SIGNET_PG_PKI/revoked.key" -c 'SELECT 1'
owner=$(ps -o user= -p "$(head -n 1 "$SIGNET_PG_DIR/data/postmaster.pid")")
check "postgres runs unprivileged, not as root" test "$owner" != root
finish
