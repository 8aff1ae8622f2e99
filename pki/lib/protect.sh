# SPDX-License-Identifier: ISC
# signet-pki's protection of secrets, sourced by pki/signet-pki: reading a
# passphrase (from --pass-fd N, else a prompt on the terminal with echo
# off, never from an argument), the CA key's three forms (an encrypted
# PKCS#8 file, the default; an unencrypted file with init --nopass, for
# labs; a key in a PKCS#11 token with init --pkcs11 URI) and how ca_run
# reaches each, unlocking it once per command (ca_unlock, behind
# need_ca_key), the roster signing key sealed with the CA key's
# passphrase (roster_key_make, roster_sign_key), and the commands set-pass
# (change, add or remove the CA key's passphrase) and export (a PKCS#12
# file for a browser).
#
# How a secret reaches openssl: never in argv (any user sees it in ps) and
# never in a file. Where openssl's standard input is free it is written
# into a pipe by the shell's builtin printf (no process of its own, so no
# argv either) and openssl reads it with "-passin stdin"; where stdin
# carries the key itself (making and re-encrypting a key: a key never
# touches the disk unencrypted) the one openssl run gets it in its
# environment ("-passout env:SIGNET_PKI_NEWPASS", a variable assigned on
# that command alone, so no other process inherits it; /proc/PID/environ
# is readable by the same user only, who can read its memory anyway).
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, the OPT_* options, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

# Shortest passphrase accepted for a new CA key or PKCS#12 file.
PASS_MIN=8
# How openssl pkcs8 encrypts the CA key (words): PKCS#8 with PBES2,
# AES-256-CBC under a key derived by scrypt (openssl's N=16384 r=8 p=1,
# 16 MiB a try); the passphrase from $SIGNET_PKI_NEWPASS, assigned on that
# one openssl command alone.
PKCS8_ENC="-topk8 -v2 aes-256-cbc -scrypt"

# The CA key, set by ca_mode and ca_unlock: CA_MODE is pkcs11, encrypted,
# plain or missing; CA_PASS the passphrase or PIN (unlocked once per
# command); CA_URI the token's key (pkcs11 mode).
CA_MODE=""
CA_PASS=""
CA_URI=""
CA_UNLOCKED=""
# The passphrase read by read_fd, read_tty and new_pass.
PASS_READ=""
# "yes" while the terminal's echo is off (cleanup turns it back on).
TTY_ECHO_OFF=""

# check_fd OPTION N: N names a file descriptor (0-99, decimal).
check_fd() {
	case $2 in
	[0-9] | [1-9][0-9]) ;;
	*)
		usage_die "$1 $(quote "$2"): not a file descriptor number" \
		    "(0-99); the passphrase itself is never an argument"
		;;
	esac
}

# read_fd N WHAT: one line from file descriptor N into PASS_READ.
read_fd() {
	PASS_READ=""
	if ! { IFS= read -r PASS_READ <&"$1"; } 2>/dev/null; then
		# A last line without a newline still counts.
		if [ -z "$PASS_READ" ]; then
			die "reading $2 from file descriptor $1: nothing there" \
			    "(is it open? e.g. --pass-fd 3 3<FILE)"
		fi
	fi
	if [ -z "$PASS_READ" ]; then
		die "reading $2 from file descriptor $1: an empty line"
	fi
}

# have_tty: a terminal to prompt on (/dev/tty opens).
have_tty() {
	(: </dev/tty) 2>/dev/null
}

# read_tty PROMPT: read a line from the terminal with echo off.
read_tty() {
	PASS_READ=""
	# Echo off before the prompt: nothing typed after it can show.
	TTY_ECHO_OFF=yes
	stty -echo </dev/tty 2>/dev/null ||
	    die "turning the terminal's echo off failed; refusing to" \
	    "read a passphrase that would show"
	printf '%s: ' "$1" >/dev/tty
	IFS= read -r PASS_READ </dev/tty || true
	stty echo </dev/tty 2>/dev/null || true
	# shellcheck disable=SC2034 # read by cleanup (lib/common.sh)
	TTY_ECHO_OFF=""
	printf '\n' >/dev/tty
}

# get_pass WHAT NOTTY...: the secret WHAT from --pass-fd, else the
# terminal, else die with the words NOTTY. Into PASS_READ.
get_pass() {
	gp_what=$1
	shift
	if [ -n "$OPT_PASS_FD" ]; then
		read_fd "$OPT_PASS_FD" "$gp_what"
	elif have_tty; then
		read_tty "$gp_what"
		if [ -z "$PASS_READ" ]; then
			die "reading $gp_what: empty"
		fi
	else
		die "$@"
	fi
}

# new_pass WHAT FD: a new passphrase WHAT from file descriptor FD (once)
# or the terminal (twice, both the same); at least PASS_MIN characters.
# Into PASS_READ.
new_pass() {
	if [ -n "$2" ]; then
		read_fd "$2" "$1"
	elif have_tty; then
		read_tty "$1"
		np_first=$PASS_READ
		if [ "${#np_first}" -ge "$PASS_MIN" ]; then
			read_tty "$1 (again)"
			if [ "$PASS_READ" != "$np_first" ]; then
				np_first=""
				die "reading $1: the two entries differ"
			fi
		fi
		np_first=""
	else
		die "reading $1: no terminal to ask on; give it on a file" \
		    "descriptor (--pass-fd N, or --new-pass-fd N for set-pass)," \
		    "or --nopass"
	fi
	if [ "${#PASS_READ}" -lt "$PASS_MIN" ]; then
		die "$1: too short; at least $PASS_MIN characters"
	fi
}

# ca_mode: set CA_MODE (and CA_URI) from what the PKI holds.
ca_mode() {
	CA_URI=""
	if [ -f "$PKI/private/ca.pkcs11" ]; then
		CA_MODE=pkcs11
		CA_URI=$(cat -- "$PKI/private/ca.pkcs11")
		check_pkcs11_uri "$PKI/private/ca.pkcs11" "$CA_URI"
	elif [ ! -f "$PKI/private/ca.key" ]; then
		CA_MODE=missing
	elif grep -q '^-----BEGIN ENCRYPTED PRIVATE KEY' \
	    "$PKI/private/ca.key"; then
		CA_MODE=encrypted
	else
		CA_MODE=plain
	fi
}

# check_pkcs11_uri WHAT URI: a pkcs11: URI without a PIN in it.
check_pkcs11_uri() {
	case $2 in
	pkcs11:?*) ;;
	*) usage_die "$1 $(quote "$2"): not a pkcs11: URI" ;;
	esac
	case $2 in
	*"$NL"*) usage_die "$1: the URI holds a newline" ;;
	esac
	if printf '%s\n' "$2" | grep -qi 'pin-value\|pin-source'; then
		usage_die "$1: the URI holds a PIN (pin-value or pin-source);" \
		    "give the PIN with --pass-fd N or at the prompt, never" \
		    "in the URI"
	fi
}

# ca_pub: the CA certificate's public key (PEM).
ca_pub() {
	openssl x509 -in "$PKI/ca.pem" -noout -pubkey
}

# ca_unlock: make the CA key usable by ca_run, asking for its passphrase
# or PIN once (need_ca_key calls it). A wrong passphrase or a missing
# token dies here, before anything is changed.
ca_unlock() {
	if [ -n "$CA_UNLOCKED" ]; then
		return 0
	fi
	ca_mode
	case $CA_MODE in
	missing)
		die "signing: $PKI/private/ca.key is missing (kept offline?);" \
		    "put the CA key back to issue, revoke or make a CRL"
		;;
	plain) ;;
	encrypted)
		get_pass "CA passphrase" "the CA key is encrypted: give" \
		    "--pass-fd N, or run on a terminal"
		CA_PASS=$PASS_READ
		PASS_READ=""
		if ! cu_pub=$(printf '%s\n' "$CA_PASS" | openssl pkey \
		    -in "$PKI/private/ca.key" -passin stdin -pubout 2>/dev/null); then
			die "wrong CA passphrase (for $PKI/private/ca.key);" \
			    "nothing was changed"
		fi
		if [ "$cu_pub" != "$(ca_pub)" ]; then
			die "$PKI/private/ca.key is not the key of" \
			    "$PKI/ca.pem; nothing was changed"
		fi
		;;
	pkcs11)
		get_pass "PIN of the PKCS#11 token holding the CA key" \
		    "the CA key is in a PKCS#11 token: give its PIN with" \
		    "--pass-fd N, or run on a terminal"
		CA_PASS=$PASS_READ
		PASS_READ=""
		token_check
		;;
	esac
	CA_UNLOCKED=yes
}

# token_check: the token is there, the PIN opens it and its key is the
# CA certificate's: sign ca.pem with it and verify with ca.pem's key.
token_check() {
	# Inside the command's TMP when it has one (ca_run unlocking late:
	# TMP may hold the database backup, which must stay where rollback
	# finds it); else a TMP of its own, which the EXIT trap removes.
	tc_own=""
	if [ -n "$TMP" ]; then
		tc_dir=$TMP/token
		rm -rf -- "$tc_dir"
		mkdir -- "$tc_dir"
	else
		make_tmp "$PKI"
		tc_dir=$TMP
		tc_own=yes
	fi
	tc_in=$PKI/ca.pem
	if [ ! -f "$tc_in" ]; then
		# init, before the CA certificate: sign the configuration.
		tc_in=$PKI/openssl.cnf
	fi
	if ! printf '%s\n' "$CA_PASS" | openssl dgst -sha256 -engine pkcs11 \
	    -keyform engine -sign "$CA_URI" -passin stdin \
	    -out "$tc_dir/sig" "$tc_in" >"$tc_dir/log" 2>&1 ||
	    [ ! -s "$tc_dir/sig" ]; then
		if grep -q 'PIN incorrect' "$tc_dir/log"; then
			die "wrong PIN for the PKCS#11 token of $CA_URI;" \
			    "nothing was changed"
		fi
		sed 's/^/  /' "$tc_dir/log" >&2
		die "the CA key's PKCS#11 token is not reachable:" \
		    "$(quote "$CA_URI") (from $PKI/private/ca.pkcs11) was not" \
		    "found (token missing, another module, or SOFTHSM2_CONF?);" \
		    "openssl's output above; nothing was changed"
	fi
	if [ -f "$PKI/ca.pem" ]; then
		ca_pub >"$tc_dir/pub.pem"
		if ! openssl dgst -sha256 -verify "$tc_dir/pub.pem" \
		    -signature "$tc_dir/sig" "$PKI/ca.pem" >/dev/null 2>&1; then
			die "the key $(quote "$CA_URI") in the PKCS#11 token" \
			    "is not the key of $PKI/ca.pem; nothing was changed"
		fi
	fi
	rm -rf -- "$tc_dir"
	if [ -n "$tc_own" ]; then
		TMP=""
	fi
}

# ca_key_args SUBCOMMAND: print, one a line, the options that point
# openssl SUBCOMMAND (ca or req) at the CA key.
ca_key_args() {
	case $CA_MODE:$1 in
	pkcs11:ca)
		printf '%s\n' -engine pkcs11 -keyform engine -keyfile "$CA_URI"
		;;
	pkcs11:req)
		printf '%s\n' -engine pkcs11 -keyform engine -key "$CA_URI"
		;;
	*:req)
		printf '%s\n' -key "$PKI/private/ca.key"
		;;
	esac
}

# ca_openssl ARGS...: openssl ARGS with the CA key unlocked (passphrase or
# PIN into a pipe on stdin); output as openssl's.
ca_openssl() {
	co_sub=$1
	co_args=$(ca_key_args "$co_sub")
	old_ifs=$IFS
	IFS=$NL
	# shellcheck disable=SC2086 # one argument a line, no globbing (set -f)
	set -- "$@" $co_args
	IFS=$old_ifs
	case $CA_MODE in
	plain) openssl "$@" ;;
	*) printf '%s\n' "$CA_PASS" | openssl "$@" -passin stdin ;;
	esac
}

# ---------------------------------------------------------------------------
# init: the CA key

# init_ca_key: the CA key of a new PKI (cmd_init, in $PKI): a pkcs11 URI
# (private/ca.pkcs11), an unencrypted file (--nopass) or, by default, an
# encrypted PKCS#8 file (AES-256-CBC, key from scrypt).
init_ca_key() {
	if [ -n "$OPT_PKCS11" ]; then
		CA_MODE=pkcs11
		CA_URI=$OPT_PKCS11
		get_pass "PIN of the PKCS#11 token holding the CA key" \
		    "init --pkcs11: give the token's PIN with --pass-fd N," \
		    "or run on a terminal"
		CA_PASS=$PASS_READ
		PASS_READ=""
		token_check
		printf '%s\n' "$CA_URI" >"$TMP/ca.pkcs11"
		place "$TMP/ca.pkcs11" "$PKI/private/ca.pkcs11" 600
		CA_UNLOCKED=yes
		return 0
	fi
	if [ -n "$OPT_NOPASS" ]; then
		CA_MODE=plain
		run "making the CA key" openssl genpkey -algorithm EC \
		    -pkeyopt ec_paramgen_curve:P-256 \
		    -pkeyopt ec_param_enc:named_curve \
		    -out "$PKI/private/ca.key"
		chmod 600 -- "$PKI/private/ca.key"
		CA_UNLOCKED=yes
		return 0
	fi
	new_pass "new CA passphrase" "$OPT_PASS_FD"
	CA_PASS=$PASS_READ
	PASS_READ=""
	CA_MODE=encrypted
	# The key goes from genpkey to pkcs8 through a pipe: never on disk
	# unencrypted.
	# shellcheck disable=SC2086 # PKCS8_ENC is a list of words
	if ! { openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve |
	    SIGNET_PKI_NEWPASS=$CA_PASS openssl pkcs8 $PKCS8_ENC \
	    -passout env:SIGNET_PKI_NEWPASS -out "$PKI/private/ca.key"; } \
	    >"$TMP/log" 2>&1; then
		sed 's/^/  /' "$TMP/log" >&2
		die "making the CA key: openssl failed (output above)"
	fi
	chmod 600 -- "$PKI/private/ca.key"
	CA_UNLOCKED=yes
}

# init_ca_said: what init says about the CA key.
init_ca_said() {
	case $CA_MODE in
	pkcs11)
		say "wrote $PKI/private/ca.pkcs11 (the CA key is in the" \
		    "PKCS#11 token $CA_URI)"
		;;
	plain)
		say "wrote $PKI/private/ca.key (CA secret key, mode 0600," \
		    "unencrypted: labs only; add a passphrase with" \
		    "\"$PROG set-pass\")"
		;;
	*)
		say "wrote $PKI/private/ca.key (CA secret key, mode 0600," \
		    "encrypted with your passphrase: AES-256-CBC, scrypt)"
		;;
	esac
}

# init_pkcs11_check: the token's key is EC P-256 (after the CA
# certificate was made with it).
init_pkcs11_check() {
	if [ "$CA_MODE" = pkcs11 ] &&
	    ! openssl x509 -in "$PKI/ca.pem" -noout -text |
	    grep -q 'NIST CURVE: P-256'; then
		die "init --pkcs11: the token's key is not EC P-256" \
		    "(make one with pkcs11-tool --keypairgen" \
		    "--key-type EC:prime256v1)"
	fi
}

# ---------------------------------------------------------------------------
# The roster key
#
# keys/roster.key signs the operator roster, so it is kept as the CA key
# is: where the CA key is encrypted, the roster key is sealed with the
# same passphrase (asked once per command) in signetctl's operator key
# format (common/opkey.h: Argon2id and crypto_secretbox); `signetctl
# roster sign --key` opens it with the passphrase given on its standard
# input through a pipe (--passphrase-fd 0). With --nopass or a PKCS#11 CA
# (whose PIN is not a passphrase to reuse) it stays a raw key file
# (signetctl keygen --raw), as before.

# The first words of a signetctl operator key file (OPKEY_MAGIC).
OPKEY_PREFIX="signet-operator-key-v1 "
# "yes" when roster_key_make sealed the key.
ROSTER_SEALED=""

# roster_key_kind FILE: print raw (keygen --raw), sealed (an operator key
# file sealed with a passphrase) or open (one without).
roster_key_kind() {
	rk_line=$(head -c 300 -- "$1" | head -n 1)
	case $rk_line in
	"$OPKEY_PREFIX"*) ;;
	*)
		printf 'raw\n'
		return 0
		;;
	esac
	# The blob's first byte is the key derivation: 0 none, 1 argon2id.
	rk_kdf=$(printf '%s' "${rk_line#"$OPKEY_PREFIX"}" | cut -c1-4 |
	    openssl base64 -d -A 2>/dev/null | od -An -tu1 -N1 | tr -d ' ')
	rk_line=""
	case $rk_kdf in
	0) printf 'open\n' ;;
	*) printf 'sealed\n' ;;
	esac
}

# roster_key_make DIR: the roster key pair DIR/roster.key (0600) and
# DIR/roster.pub: sealed with CA_PASS when the CA key is encrypted
# (CA_MODE encrypted, unlocked) and --nopass was not given, else raw.
# Sets ROSTER_SEALED.
roster_key_make() {
	ROSTER_SEALED=""
	if [ "$CA_MODE" != encrypted ] || [ -n "$OPT_NOPASS" ]; then
		keygen "$1" roster
		return 0
	fi
	# The passphrase into a pipe by the builtin printf: never in argv.
	if ! (cd -- "$1" && printf '%s\n' "$CA_PASS" |
	    "$SCTL" keygen roster --passphrase-fd 0) >"$TMP/log" 2>&1; then
		sed 's/^/  /' "$TMP/log" >&2
		die "making the roster key: signetctl keygen --passphrase-fd" \
		    "failed (output above)"
	fi
	if [ ! -f "$1/roster.key" ] || [ ! -f "$1/roster.pub" ] ||
	    [ "$(roster_key_kind "$1/roster.key")" != sealed ]; then
		die "making the roster key: $SCTL keygen wrote no sealed" \
		    "roster.key and roster.pub"
	fi
	chmod 600 -- "$1/roster.key"
	chmod 644 -- "$1/roster.pub"
	ROSTER_SEALED=yes
}

# roster_key_said: how the roster key was kept (after roster_key_make).
roster_key_said() {
	if [ -n "$ROSTER_SEALED" ]; then
		say "the roster key is sealed with the CA key's passphrase" \
		    "(Argon2id, XSalsa20-Poly1305); \"$PROG roster sign\" asks" \
		    "for it (or --pass-fd N)"
		return 0
	fi
	case $CA_MODE in
	pkcs11)
		say "the roster key is not encrypted: the CA key is in a" \
		    "PKCS#11 token, whose PIN is no passphrase to reuse; keep" \
		    "keys/roster.key offline"
		;;
	*)
		say "the roster key is not encrypted (--nopass: labs only)"
		;;
	esac
}

# roster_init_key: for roster init, which passphrase seals the new key:
# the CA key's (asked and checked once, ca_unlock) when it is encrypted,
# none with --nopass, an unencrypted or a PKCS#11 CA key.
roster_init_key() {
	if [ -n "$OPT_NOPASS" ]; then
		if [ -n "$OPT_PASS_FD" ]; then
			usage_die "roster init: --nopass and --pass-fd exclude" \
			    "each other"
		fi
		ca_mode
		return 0
	fi
	ca_mode
	case $CA_MODE in
	encrypted) ca_unlock ;;
	missing)
		die "roster init: $PKI/private/ca.key is missing (kept" \
		    "offline?): the roster key is sealed with the CA key's" \
		    "passphrase, checked against the CA key; put it back, or" \
		    "give --nopass for an unencrypted roster key"
		;;
	*)
		if [ -n "$OPT_PASS_FD" ]; then
			usage_die "roster init: the CA key is $CA_MODE, so the" \
			    "roster key is not encrypted; --pass-fd does" \
			    "not apply"
		fi
		;;
	esac
}

# roster_sign_key FILE: make ready the key roster sign signs with. A
# sealed key's passphrase is read here (--pass-fd N, else the terminal)
# into RS_PASS, which roster sign pipes to signetctl (--passphrase-fd
# 0); a raw or open key needs none.
roster_sign_key() {
	# shellcheck disable=SC2034 # read by cmd_roster_sign (lib/bundle.sh)
	RS_PASS=""
	case $(roster_key_kind "$1") in
	sealed)
		get_pass "passphrase of the roster key $1" \
		    "roster sign: $(quote "$1") is sealed with a passphrase" \
		    "(the CA key's when init made it): give --pass-fd N, or" \
		    "run on a terminal"
		# shellcheck disable=SC2034 # read by cmd_roster_sign
		RS_PASS=$PASS_READ
		PASS_READ=""
		;;
	*)
		if [ -n "$OPT_PASS_FD" ]; then
			usage_die "roster sign: $(quote "$1") is not sealed" \
			    "with a passphrase; --pass-fd does not apply"
		fi
		;;
	esac
}

# ---------------------------------------------------------------------------
# Commands

# set-pass [--nopass]: a new passphrase for the CA key (or none). The new
# key file is written beside the old one, checked, then renamed over it:
# the old key is there until the new one is complete.
cmd_set_pass() {
	open_pki
	ca_mode
	case $CA_MODE in
	pkcs11)
		die "set-pass: the CA key is in a PKCS#11 token" \
		    "($CA_URI); change its PIN with the token's tools" \
		    "(pkcs11-tool --change-pin)"
		;;
	missing) ca_unlock ;;
	plain)
		if [ -n "$OPT_NOPASS" ]; then
			die "set-pass --nopass: the CA key is already" \
			    "unencrypted"
		fi
		if [ -n "$OPT_PASS_FD" ]; then
			usage_die "set-pass: the CA key is unencrypted, so" \
			    "there is no old passphrase for --pass-fd; give" \
			    "the new one with --new-pass-fd"
		fi
		;;
	esac
	if [ -n "$OPT_NOPASS" ] && [ -n "$OPT_NEW_PASS_FD" ]; then
		usage_die "set-pass: --nopass and --new-pass-fd exclude" \
		    "each other"
	fi
	ca_unlock
	lock_pki
	make_tmp "$PKI"
	sp_new=$PKI/private/.ca.key.new
	rm -f -- "$sp_new"
	PART=$sp_new
	if [ -n "$OPT_NOPASS" ]; then
		if ! printf '%s\n' "$CA_PASS" | openssl pkey \
		    -in "$PKI/private/ca.key" -passin stdin \
		    -out "$sp_new" >"$TMP/log" 2>&1; then
			sed 's/^/  /' "$TMP/log" >&2
			die "set-pass: decrypting the CA key failed" \
			    "(output above); nothing was changed"
		fi
		if [ "$(openssl pkey -in "$sp_new" -pubout 2>/dev/null)" != \
		    "$(ca_pub)" ]; then
			die "set-pass: the new key file does not check out;" \
			    "nothing was changed"
		fi
	else
		new_pass "new CA passphrase" "$OPT_NEW_PASS_FD"
		sp_pass=$PASS_READ
		PASS_READ=""
		# shellcheck disable=SC2086 # PKCS8_ENC is a list of words
		if ! { ca_plain_key |
		    SIGNET_PKI_NEWPASS=$sp_pass openssl pkcs8 $PKCS8_ENC \
		    -passout env:SIGNET_PKI_NEWPASS -out "$sp_new"; } \
		    >"$TMP/log" 2>&1; then
			sp_pass=""
			sed 's/^/  /' "$TMP/log" >&2
			die "set-pass: re-encrypting the CA key failed" \
			    "(output above); nothing was changed"
		fi
		# The new file opens with the new passphrase, to the same key.
		if ! sp_pub=$(printf '%s\n' "$sp_pass" | openssl pkey \
		    -in "$sp_new" -passin stdin -pubout 2>/dev/null) ||
		    [ "$sp_pub" != "$(ca_pub)" ]; then
			sp_pass=""
			die "set-pass: the new key file does not check out;" \
			    "nothing was changed"
		fi
		sp_pass=""
	fi
	chmod 600 -- "$sp_new"
	mv -f -- "$sp_new" "$PKI/private/ca.key"
	PART=""
	if [ -n "$OPT_NOPASS" ]; then
		say "wrote $PKI/private/ca.key: unencrypted now (labs only)"
	else
		say "wrote $PKI/private/ca.key: encrypted with the new" \
		    "passphrase (AES-256-CBC, scrypt)"
	fi
	# set-pass changes the CA key only (pki/README.md, The CA key).
	if [ -f "$PKI/keys/roster.key" ] &&
	    [ "$(roster_key_kind "$PKI/keys/roster.key")" = sealed ]; then
		say "note: $PKI/keys/roster.key is still sealed with the old" \
		    "passphrase (set-pass changes the CA key's only);" \
		    "\"$PROG roster sign\" asks for that one"
	fi
}

# ca_plain_key: the CA key, unencrypted, on stdout (for a pipe).
ca_plain_key() {
	case $CA_MODE in
	plain) cat -- "$PKI/private/ca.key" ;;
	*)
		printf '%s\n' "$CA_PASS" | openssl pkey \
		    -in "$PKI/private/ca.key" -passin stdin
		;;
	esac
}

# export NAME --p12 FILE: NAME's certificate, key and the CA certificate
# in a PKCS#12 file protected by a passphrase, for a person's browser.
cmd_export() {
	name=$1
	check_name export "$name"
	if [ -z "$OPT_P12" ]; then
		usage_die "export $name: give --p12 FILE"
	fi
	open_pki
	entry=$(index_entry "$name")
	if [ -z "$entry" ] || [ ! -f "$PKI/issued/$name.pem" ]; then
		die "export $name: no certificate issued to $name"
	fi
	ex_role=$(openssl x509 -in "$PKI/issued/$name.pem" -noout \
	    -subject -nameopt sep_multiline,sname | sed -n 's/^ *OU=//p')
	case $ex_role in
	operator | auditor) ;;
	*)
		die "export $name: $name is a $ex_role certificate; only" \
		    "operators' and auditors' certificates are exported" \
		    "(people's browsers take PKCS#12; agents and the server" \
		    "read PEM files from their bundles)"
		;;
	esac
	if [ ! -f "$PKI/private/$name.key" ]; then
		die "export $name: $PKI/private/$name.key does not exist:" \
		    "$name was enrolled by CSR, so the key is where it was" \
		    "made; build the PKCS#12 there (openssl pkcs12 -export" \
		    "-in $name.pem -inkey $name.key -certfile ca.pem)"
	fi
	if ! openssl x509 -in "$PKI/issued/$name.pem" -noout \
	    -checkend 0 >/dev/null; then
		printf '%s: warning: %s has expired\n' "$PROG" \
		    "$PKI/issued/$name.pem" >&2
	fi
	case $OPT_P12 in
	*"$NL"*) usage_die "--p12: the file name holds a newline" ;;
	esac
	if [ -e "$OPT_P12" ] || [ -L "$OPT_P12" ]; then
		die "export $name: $(quote "$OPT_P12") already exists;" \
		    "refusing to overwrite it"
	fi
	ex_dir=$(dirname -- "$OPT_P12")
	if [ ! -d "$ex_dir" ]; then
		die "export $name: $(quote "$ex_dir"): no such directory"
	fi
	new_pass "passphrase for the PKCS#12 file" "$OPT_PASS_FD"
	PART=$(mktemp "$ex_dir/.signet-p12.XXXXXXXX") ||
	    die "export $name: cannot create a file in $(quote "$ex_dir")"
	# OpenSSL 3's defaults, spelled out: keys and certificates in
	# PBES2 (AES-256-CBC, PBKDF2 with HMAC-SHA256), a SHA-256 MAC.
	if ! ex_log=$(printf '%s\n' "$PASS_READ" | openssl pkcs12 -export \
	    -in "$PKI/issued/$name.pem" -inkey "$PKI/private/$name.key" \
	    -certfile "$PKI/ca.pem" -name "$name" \
	    -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 \
	    -passout stdin -out "$PART" 2>&1); then
		PASS_READ=""
		printf '%s\n' "$ex_log" | sed 's/^/  /' >&2
		die "export $name: openssl pkcs12 failed (output above)"
	fi
	PASS_READ=""
	chmod 600 -- "$PART"
	if ! ln -- "$PART" "$OPT_P12" 2>/dev/null; then
		die "export $name: cannot create $(quote "$OPT_P12")" \
		    "(it exists, or the directory is not writable)"
	fi
	rm -f -- "$PART"
	PART=""
	say "wrote $OPT_P12 (PKCS#12 of $name's $ex_role certificate, key" \
	    "and the CA certificate; mode 0600, AES-256-CBC, PBKDF2)"
	say "next: give it to $name; import it into the browser with the" \
	    "passphrase (the CA certificate too, to trust the server)"
}
