#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The PKI script and the identity module must agree: every certificate
# signet-pki issues is accepted by the check both listeners run, with the
# right role and name; a revoked one, a wrong role, and a CRL that is not
# the CA's are refused.
. "$(dirname "$0")/lib.sh"
PKI="$SIGNET_SOURCE_DIR/pki/signet-pki"
TOOL="$SIGNET_BUILD_DIR/tests/identity_tool"
command -v openssl >/dev/null || { echo "openssl missing"; exit 77; }
cd "$T_DIR" || exit 1
export SIGNET_PKI="$T_DIR/pki"

"$PKI" init "$SIGNET_PKI" --nopass >/dev/null || { not_ok "init"; finish; exit 1; }
"$PKI" server relay --dns relay.test --ip 127.0.0.1 >/dev/null
"$PKI" agent web-01 >/dev/null
"$PKI" operator alice >/dev/null
"$PKI" auditor carol >/dev/null
"$PKI" operator mallory >/dev/null
CA=$SIGNET_PKI/ca.pem
CRL=$SIGNET_PKI/crl.pem
iss() { echo "$SIGNET_PKI/issued/$1.pem"; }

out=$("$TOOL" "$CA" "$CRL" "$(iss web-01)" agent)
check "agent cert accepted as agent web-01" grep -q '^agent web-01 ' <<<"$out"
out=$("$TOOL" "$CA" "$CRL" "$(iss alice)" operator,auditor)
check "operator cert accepted as operator alice" grep -q '^operator alice ' <<<"$out"
out=$("$TOOL" "$CA" "$CRL" "$(iss carol)" operator,auditor)
check "auditor cert accepted as auditor carol" grep -q '^auditor carol ' <<<"$out"
out=$("$TOOL" "$CA" "$CRL" "$(iss relay)" server)
check "server cert accepted as server relay" grep -q '^server relay ' <<<"$out"
check_fails_with "operator cert refused on the agent port" 'role operator not allowed' \
	"$TOOL" "$CA" "$CRL" "$(iss alice)" agent
check_fails_with "agent cert refused on the API" 'role agent not allowed' \
	"$TOOL" "$CA" "$CRL" "$(iss web-01)" operator,auditor

# The cluster's roles (docs/cluster.md): certificates for PostgreSQL only,
# refused by every signet listener whatever role it asks for.
"$PKI" replica r1 >/dev/null
"$PKI" database db1 --dns db.test --ip 127.0.0.1 >/dev/null
check "a replica certificate: OU=replica, client only" \
	test "$(openssl x509 -in "$(iss r1)" -noout -subject -ext extendedKeyUsage |
		tr -d ' \n')" = "subject=CN=r1,OU=replicaX509v3ExtendedKeyUsage:TLSWebClientAuthentication"
check "a database certificate: OU=database, server only, its names" \
	test "$(openssl x509 -in "$(iss db1)" -noout -subject -ext extendedKeyUsage,subjectAltName |
		tr -d ' \n')" = "subject=CN=db1,OU=databaseX509v3ExtendedKeyUsage:TLSWebServerAuthenticationX509v3SubjectAlternativeName:DNS:db.test,IPAddress:127.0.0.1"
for roles in agent operator,auditor server; do
	check_fails_with "replica cert refused as $roles" 'refused' \
		"$TOOL" "$CA" "$CRL" "$(iss r1)" "$roles"
	check_fails_with "database cert refused as $roles" 'refused' \
		"$TOOL" "$CA" "$CRL" "$(iss db1)" "$roles"
done
check_fails_with "a database certificate needs --dns or --ip" 'dns|ip' \
	"$PKI" database db2
check_fails_with "a replica certificate takes no --dns" 'not allowed|unknown|dns' \
	"$PKI" replica r2 --dns r2.test

pki_revoke_keep "$PKI" mallory >/dev/null
check_fails_with "revoked operator refused" 'revoked' \
	"$TOOL" "$CA" "$CRL" "$(iss mallory)" operator,auditor
out=$("$TOOL" "$CA" "$CRL" "$(iss alice)" operator,auditor)
check "others still accepted after a revocation" grep -q '^operator alice ' <<<"$out"

# A CRL from another CA must not be loadable against ours.
"$PKI" init "$T_DIR/other" --nopass >/dev/null
check_fails_with "CRL of another CA refused" 'store refused' \
	"$TOOL" "$CA" "$T_DIR/other/crl.pem" "$(iss alice)" operator
SIGNET_PKI="$T_DIR/other" "$PKI" operator eve >/dev/null
check_fails_with "cert of another CA refused" 'refused: .*not issued by the signet CA' \
	"$TOOL" "$CA" "$CRL" "$T_DIR/other/issued/eve.pem" operator

# The agent.conf in a bundle is one the agent's config loader accepts.
"$PKI" bundle web-01 --server wss://relay.test:8444 --out "$T_DIR/web-01.tgz" >/dev/null
mkdir "$T_DIR/unpacked" && tar -C "$T_DIR/unpacked" -xzf "$T_DIR/web-01.tgz"
out=$("$SIGNET_BUILD_DIR/tests/config_check" agent "$T_DIR/unpacked/agent.conf")
check "bundle agent.conf loads with the agent schema ($out)" test "$out" = ok
finish
