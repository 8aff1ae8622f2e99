# SPDX-License-Identifier: ISC
# signet-pki's CA end-of-life command, sourced by pki/signet-pki:
# renew-ca, a new certificate for the CA's own key. The new certificate
# has the same subject and the same key (so the same subject key
# identifier) as the old one, so every certificate and CRL the CA has
# signed verifies under either; each party can take the new ca.pem at its
# own pace before the old one expires, with no flag day. The old
# certificate is kept in ca-old/SERIAL.pem; the change is journaled
# (lib/journal.sh).
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, the OPT_* options, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

# The CA's subject, as init makes it (write_cnf's policy: CN, then OU).
CA_SUBJECT="/CN=signet CA/OU=ca"

# ca_fingerprint FILE: SHA-256 of FILE's public key (DER), to compare keys.
ca_fingerprint() {
	openssl x509 -in "$1" -noout -pubkey |
	    openssl pkey -pubin -outform DER | openssl dgst -sha256 -r |
	    cut -c1-64
}

cmd_renew_ca() {
	days=${OPT_DAYS:-$CA_DAYS_DEFAULT}
	check_days --days "$days" "$CA_DAYS_MAX"
	open_pki
	need_ca_key
	lock_pki
	subj=$(openssl x509 -in "$PKI/ca.pem" -noout -subject -nameopt compat)
	if [ "${subj#subject=}" != "$CA_SUBJECT" ]; then
		die "renew-ca: $PKI/ca.pem has subject $(quote "${subj#subject=}")," \
		    "not $CA_SUBJECT; not a CA made by $PROG"
	fi
	old_serial=$(openssl x509 -in "$PKI/ca.pem" -noout -serial)
	old_serial=${old_serial#serial=}
	old_end=$(openssl x509 -in "$PKI/ca.pem" -noout -enddate)
	if [ -e "$PKI/ca-old/$old_serial.pem" ]; then
		die "renew-ca: $PKI/ca-old/$old_serial.pem already exists;" \
		    "refusing to overwrite it"
	fi
	make_tmp "$PKI"
	ca_run "renew-ca: making the CA certificate" req -new -x509 \
	    -config "$CNF" -sha256 -days "$days" \
	    -set_serial "0x$(openssl rand -hex 16)" -subj "$CA_SUBJECT" \
	    -extensions ext_ca -out "$TMP/ca.pem"
	chmod 644 -- "$TMP/ca.pem"
	# The key the CA signs with must be the key of the old certificate,
	# or nothing issued so far would verify under the new one.
	if [ "$(ca_fingerprint "$TMP/ca.pem")" != \
	    "$(ca_fingerprint "$PKI/ca.pem")" ]; then
		die "renew-ca: the CA key does not match $PKI/ca.pem;" \
		    "nothing was changed"
	fi
	mkdir_pki "$PKI/ca-old" 755
	# Both steps are in the journal: a crash between them is rolled back
	# by the next command.
	move "$PKI/ca.pem" "$PKI/ca-old/$old_serial.pem"
	place "$TMP/ca.pem" "$PKI/ca.pem" 644
	commit
	new_end=$(openssl x509 -in "$PKI/ca.pem" -noout -enddate)
	# -checkend succeeds when the old one is still valid by then.
	if openssl x509 -in "$PKI/ca-old/$old_serial.pem" -noout \
	    -checkend $((days * 86400)) >/dev/null; then
		printf '%s: warning: the renewed CA certificate expires before' \
		    "$PROG" >&2
		printf ' the old one (--days %s)\n' "$days" >&2
	fi
	say "wrote $PKI/ca.pem (the CA's certificate renewed, same key and" \
	    "subject, ${new_end#notAfter=}; the old one, ${old_end#notAfter=}," \
	    "is $PKI/ca-old/$old_serial.pem)"
	say "every certificate and CRL issued so far verifies under either;" \
	    "copy ca.pem to the server ([tls] ca), every agent" \
	    "(/etc/signet/ca.pem) and every operator and auditor before" \
	    "${old_end#notAfter=}"
}
