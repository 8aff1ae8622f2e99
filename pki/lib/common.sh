# SPDX-License-Identifier: ISC
# signet-pki's shared machinery, sourced by pki/signet-pki: the undo of a
# failed command (the EXIT trap, the database backup, place), the checks of
# names, days, DNS names, IP addresses and URLs, and the helpers every
# command uses (openssl runs, signetctl keygen, opening and locking the PKI,
# reading the index). It defines functions and sets the traps; it runs no
# command of its own.
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, the OPT_* options, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

# ---------------------------------------------------------------------------
# Undo on failure

# shellcheck disable=SC2317 # run from the EXIT trap
rollback() {
	if [ -n "$JOURNAL" ]; then
		journal_undo "$PKI/.journal" no ||
		    printf '%s: the undo was incomplete (above)\n' "$PROG" >&2
		rm -f -- "$PKI/.journal"
		JOURNAL=""
	fi
	if [ -n "$PLACED" ]; then
		old_ifs=$IFS
		IFS=$NL
		for f in $PLACED; do
			# A placed directory (made empty) goes too.
			if [ -d "$f" ] && [ ! -L "$f" ]; then
				rmdir -- "$f" || true
			else
				rm -f -- "$f" || true
			fi
		done
		IFS=$old_ifs
	fi
	if [ -n "$DB_SAVED" ] && [ -n "$TMP" ]; then
		for f in $DB_FILES; do
			if [ -e "$TMP/db/$f" ]; then
				cp -p -- "$TMP/db/$f" "$PKI/$f" || true
			else
				rm -f -- "${PKI:?}/$f" || true
			fi
		done
	fi
	if [ -n "$INIT_DIR" ]; then
		if [ "$INIT_MADE" = yes ]; then
			rm -rf -- "$INIT_DIR" || true
		else
			find "$INIT_DIR" -mindepth 1 -delete 2>/dev/null || true
		fi
	fi
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	st=$?
	trap - EXIT INT TERM HUP PIPE
	if [ -n "${TTY_ECHO_OFF:-}" ]; then
		stty echo </dev/tty 2>/dev/null || true
	fi
	if [ "$st" -ne 0 ]; then
		rollback
		if [ -n "$DB_SAVED$PLACED$INIT_DIR$JOURNAL" ]; then
			printf '%s: nothing was changed\n' "$PROG" >&2
		fi
	fi
	if [ -n "$TMP" ]; then
		rm -rf -- "$TMP" || true
	fi
	if [ -n "$PART" ]; then
		rm -f -- "$PART" || true
	fi
	unlock_pki
	exit "$st"
}

trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

# Files `openssl ca` rewrites; saved before and restored on failure.
DB_FILES="index.txt index.txt.old index.txt.attr index.txt.attr.old serial
serial.old crlnumber crlnumber.old"

# The backup also keeps crl.pem, and is named in the journal once complete
# (lib/journal.sh), so that a crashed command is rolled back from it.
db_save() {
	mkdir -- "$TMP/db"
	for f in $DB_FILES crl.pem; do
		if [ -e "$PKI/$f" ]; then
			cp -p -- "$PKI/$f" "$TMP/db/$f"
		fi
	done
	DB_SAVED=yes
	journal_add "backup $(rel "$TMP/db")"
}

# Commit: from here on a failure no longer undoes the change.
commit() {
	journal_end
	DB_SAVED=""
	PLACED=""
	INIT_DIR=""
}

# place SRC DST MODE: move a finished file into the PKI, never overwriting.
# ln(1) fails when DST exists, so the check and the move are one step.
place() {
	chmod "$3" -- "$1"
	if [ -e "$2" ]; then
		die "placing $2: it already exists; refusing to overwrite"
	fi
	# Under the lock the journal undoes it (and only the journal: the
	# undo of a renewal moves an old file back to where a new one was
	# placed, which PLACED would then remove).
	pl_rel=$(rel "$2")
	if [ -n "$pl_rel" ] && [ -n "$LOCK" ]; then
		journal_add "place $pl_rel"
	else
		PLACED="$PLACED$2$NL"
	fi
	if ! ln -- "$1" "$2" 2>/dev/null; then
		die "placing $2: cannot create it" \
		    "(it exists, or the directory is not writable)"
	fi
}

# ---------------------------------------------------------------------------
# Checks

check_name() {
	# $1 what, $2 value
	case $2 in
	"")
		usage_die "$1: missing name"
		;;
	[a-z0-9]*) ;;
	*)
		usage_die "$1 $(quote "$2"): bad name: it must start with" \
		    "a-z or 0-9 (names: [a-z0-9][a-z0-9._-]{0,62})"
		;;
	esac
	case $2 in
	*[!a-z0-9._-]*)
		usage_die "$1 $(quote "$2"): bad name: only a-z, 0-9," \
		    "'.', '_' and '-' are allowed" \
		    "(names: [a-z0-9][a-z0-9._-]{0,62})"
		;;
	esac
	if [ "${#2}" -gt 63 ]; then
		usage_die "$1 $(quote "$2"): bad name:" \
		    "longer than 63 characters"
	fi
	if [ "$2" = ca ]; then
		usage_die "$1 \"ca\": name reserved for the CA itself"
	fi
}

# check_days OPTION VALUE MAX: a positive decimal integer up to MAX.
check_days() {
	case $2 in
	"" | *[!0-9]* | 0*)
		usage_die "$1 $(quote "$2"):" \
		    "not a positive whole number of days"
		;;
	esac
	if [ "${#2}" -gt 6 ] || [ "$2" -gt "$3" ]; then
		usage_die "$1 $2: too long; at most $3 days"
	fi
}

check_dns() {
	case $1 in
	"" | *[!A-Za-z0-9.*-]* | .* | *. | *..* | -* | *.-* | *-.* | \
	    *?\** | \*[!.]* | \*)
		usage_die "--dns $(quote "$1"): not a DNS name"
		;;
	esac
	if [ "${#1}" -gt 253 ]; then
		usage_die "--dns $(quote "$1"): longer than 253 characters"
	fi
}

bad_ip() {
	usage_die "--ip $(quote "$1"): not an IP address"
}

check_ip() {
	case $1 in
	*:*)
		# IPv6: openssl checks the exact form when it encodes it.
		case $1 in
		*[!0-9A-Fa-f:.]* | *:::*)
			bad_ip "$1"
			;;
		esac
		;;
	*)
		ip_rest=$1.
		ip_n=0
		while [ -n "$ip_rest" ]; do
			ip_oct=${ip_rest%%.*}
			ip_rest=${ip_rest#*.}
			ip_n=$((ip_n + 1))
			case $ip_oct in
			"" | *[!0-9]* | 0?*)
				bad_ip "$1"
				;;
			esac
			if [ "${#ip_oct}" -gt 3 ] || [ "$ip_oct" -gt 255 ]; then
				bad_ip "$1"
			fi
		done
		if [ "$ip_n" -ne 4 ]; then
			bad_ip "$1"
		fi
		;;
	esac
}

# one_pub WHAT FILE: FILE holds exactly one Ed25519 public key in the raw
# base64 .pub format (blank and '#' lines aside), above all never a secret
# key, which is 64 bytes, not 32; the key is left in ONE_PUB. Messages
# start with WHAT.
one_pub() {
	if [ ! -f "$2" ]; then
		die "$1: no such file"
	fi
	ONE_PUB=$(grep -v -e '^$' -e '^#' -- "$2" || true)
	case $ONE_PUB in
	*"$NL"*) die "$1: holds more than one key" ;;
	"" | *[!A-Za-z0-9+/=]*)
		die "$1: not a base64 public key"
		;;
	esac
	op_len=$(printf '%s' "$ONE_PUB" | openssl base64 -d -A | wc -c)
	if [ "${#ONE_PUB}" -ne 44 ] || [ "$op_len" -ne 32 ]; then
		die "$1: not an Ed25519 public key (a .pub file, never a .key)"
	fi
}

# check_sans WHAT: a server's subjectAltNames from --dns/--ip: at least
# one, each well formed.
check_sans() {
	if [ -z "$OPT_DNS$OPT_IP" ]; then
		usage_die "$1: give at least one" \
		    "--dns NAME or --ip ADDRESS for the certificate's" \
		    "subjectAltName"
	fi
	cs_ifs=$IFS
	IFS=$NL
	for d in $OPT_DNS; do check_dns "$d"; done
	for i in $OPT_IP; do check_ip "$i"; done
	IFS=$cs_ifs
}

check_url() {
	# Only characters that cannot break agent.conf (no ';', '#', spaces).
	case $1 in
	wss://?*) ;;
	*)
		usage_die "--server $(quote "$1"): must be wss://HOST:PORT"
		;;
	esac
	case $1 in
	*[!]A-Za-z0-9.:/_~[-]*)
		usage_die "--server $(quote "$1"): unexpected character"
		;;
	esac
}

# ---------------------------------------------------------------------------
# Helpers

# run WHAT CMD...: run an openssl step quietly; on failure show its output.
run() {
	run_what=$1
	shift
	if ! "$@" >"$TMP/log" 2>&1; then
		sed 's/^/  /' "$TMP/log" >&2
		die "$run_what: openssl failed (output above)"
	fi
}

# ca_run WHAT ARGS...: run "openssl ARGS..." where ARGS use the CA's
# private key (openssl ca, and req -x509 for the CA certificate at init),
# through this one function: how the key is reached and unlocked is decided
# here and nowhere else (lib/protect.sh: ca_openssl). For "ca" the key is
# openssl.cnf's private_key (an encrypted or plain private/ca.key) or the
# PKCS#11 URI (-keyfile); "req" gets -key added. The passphrase or PIN,
# asked once per command by need_ca_key, goes to openssl through a pipe
# (-passin stdin), never in argv or a file.
ca_run() {
	ca_what=$1
	shift
	ca_unlock
	run "$ca_what" ca_openssl "$@"
}

find_signetctl() {
	if [ -n "${SIGNETCTL:-}" ]; then
		SCTL=$SIGNETCTL
	elif SCTL=$(command -v signetctl 2>/dev/null); then
		:
	else
		SCTL=$(dirname -- "$0")/../build/cli/signetctl
	fi
	if [ ! -f "$SCTL" ] || [ ! -x "$SCTL" ]; then
		die "finding signetctl: $(quote "$SCTL") is not" \
		    "an executable;" \
		    "build it, put it on PATH, or set SIGNETCTL"
	fi
	case $SCTL in
	/*) ;;
	*)
		sctl_dir=$(cd -- "$(dirname -- "$SCTL")" && pwd -P)
		SCTL=$sctl_dir/$(basename -- "$SCTL")
		;;
	esac
}

# keygen DIR NAME: an Ed25519 pair DIR/NAME.key (0600) and DIR/NAME.pub, a
# daemon's key in the raw format the daemons read (signetctl keygen --raw).
keygen() {
	if ! (cd -- "$1" && "$SCTL" keygen --raw "$2") >"$TMP/log" 2>&1; then
		sed 's/^/  /' "$TMP/log" >&2
		die "making Ed25519 key $2: signetctl keygen --raw failed" \
		    "(output above)"
	fi
	if [ ! -f "$1/$2.key" ] || [ ! -f "$1/$2.pub" ]; then
		die "making Ed25519 key $2: $SCTL keygen --raw wrote no" \
		    "$2.key/$2.pub"
	fi
	chmod 600 -- "$1/$2.key"
	chmod 644 -- "$1/$2.pub"
}

# Key id of an Ed25519 public key file: first 16 hex of SHA-256(raw key).
key_id() {
	openssl base64 -d -A <"$1" | openssl dgst -sha256 -r | cut -c1-16
}

# Resolve the PKI directory for every command but init.
open_pki() {
	pki_dir=${OPT_PKI:-${SIGNET_PKI:-.}}
	if [ ! -d "$pki_dir" ]; then
		die "opening PKI $(quote "$pki_dir"): no such directory" \
		    "(use --pki DIR or set SIGNET_PKI)"
	fi
	PKI=$(cd -- "$pki_dir" && pwd -P)
	case $PKI in
	*"$NL"*) die "opening PKI: the directory name holds a newline" ;;
	esac
	for f in openssl.cnf ca.pem index.txt issued private keys; do
		if [ ! -e "$PKI/$f" ]; then
			die "opening PKI $(quote "$PKI"): not a signet PKI" \
			    "(no $f; make one with \"$PROG init DIR\"," \
			    "or use --pki DIR / SIGNET_PKI)"
		fi
	done
	if ! grep -q '^# signet-pki ' "$PKI/openssl.cnf"; then
		die "opening PKI $(quote "$PKI"): not a signet PKI" \
		    "(openssl.cnf was not made by $PROG)"
	fi
	SIGNET_PKI_DIR=$PKI
	export SIGNET_PKI_DIR
	# shellcheck disable=SC2034 # read by the commands (lib/certs.sh)
	CNF=$PKI/openssl.cnf
}

# need_ca_key: the CA key is reachable and unlocked, before anything is
# changed: private/ca.key there (its passphrase asked once, from --pass-fd
# or the terminal, and checked), or the PKCS#11 token of private/ca.pkcs11
# present, its PIN right and its key the CA certificate's (lib/protect.sh).
need_ca_key() {
	ca_unlock
}

# lock_pki, the lock and its crash recovery: lib/journal.sh.

make_tmp() {
	TMP=$(mktemp -d "$1/.tmp.XXXXXXXX") ||
	    die "making a temporary directory in $1: mktemp failed"
	if [ -n "$LOCK" ]; then
		printf '%s\n' "${TMP##*/}" >"$LOCK/tmp"
	fi
}

# index_entry NAME: the newest index line whose subject CN is NAME (the
# last: a name has one line per certificate, renewals appended), if any.
# Index fields: status, expiry, revocation date, serial, file, subject.
index_entry() {
	awk -F '\t' -v cn="$1" '
	{
		n = split($6, rdn, "/")
		for (i = 1; i <= n; i++)
			if (rdn[i] == "CN=" cn) last = $0
	}
	END { if (last != "") print last }' "$PKI/index.txt"
}

# Role (OU) from an index subject "/CN=x/OU=role".
subject_role() {
	printf '%s\n' "$1" | awk -F '\t' '{
		n = split($6, rdn, "/"); r = "?"
		for (i = 1; i <= n; i++)
			if (rdn[i] ~ /^OU=/) r = substr(rdn[i], 4)
		print r
	}'
}

# Current UTC time as YYYYMMDDHHMMSS, to compare with index dates.
now_stamp() {
	date -u +%Y%m%d%H%M%S
}

# A fresh random serial for the next certificate (as easy-rsa does).
new_serial() {
	printf '%s\n' "$(openssl rand -hex 16)" >"$PKI/serial"
}

# awk functions on dates: civ (days since 1970 of a civil date, after H.
# Hinnant), st_epoch/st_iso of an index date (YYMMDDHHMMSSZ or
# YYYYMMDDHHMMSSZ), os_stamp of openssl's "Mar  7 17:46:40 2030 GMT" (as
# YYYYMMDDHHMMSS, or "" when it is not one), and js, a JSON string.
# shellcheck disable=SC2034 # read by certs.sh and renew.sh
AWK_LIB='
function civ(y, m, d,   era, yoe, doy, doe) {
	y -= m <= 2
	era = int((y >= 0 ? y : y - 399) / 400)
	yoe = y - era * 400
	doy = int((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
	doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
	return era * 146097 + doe - 719468
}
function st_norm(e) {
	sub(/Z$/, "", e)
	if (length(e) == 12)
		e = (substr(e, 1, 2) < 50 ? "20" : "19") e
	return e
}
function st_epoch(e) {
	e = st_norm(e)
	return civ(substr(e, 1, 4) + 0, substr(e, 5, 2) + 0, \
	    substr(e, 7, 2) + 0) * 86400 + substr(e, 9, 2) * 3600 + \
	    substr(e, 11, 2) * 60 + substr(e, 13, 2)
}
function st_iso(e) {
	e = st_norm(e)
	return substr(e, 1, 4) "-" substr(e, 5, 2) "-" substr(e, 7, 2) "T" \
	    substr(e, 9, 2) ":" substr(e, 11, 2) ":" substr(e, 13, 2) "Z"
}
function os_stamp(s,   f, n, m, t) {
	n = split(s, f, " ")
	m = index("JanFebMarAprMayJunJulAugSepOctNovDec", f[1])
	if (n != 5 || f[5] != "GMT" || m == 0 || (m - 1) % 3 != 0 ||
	    split(f[3], t, ":") != 3)
		return ""
	return sprintf("%04d%02d%02d%02d%02d%02d", f[4], (m + 2) / 3, f[2], \
	    t[1], t[2], t[3])
}
function js(s,   out, i, c) {
	if (!js_init) {
		for (i = 1; i < 32; i++)
			js_ord[sprintf("%c", i)] = i
		js_init = 1
	}
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\" || c == "\"")
			out = out "\\" c
		else if (c in js_ord)
			out = out sprintf("\\u%04x", js_ord[c])
		else if (c > "~")
			out = out "?"
		else
			out = out c
	}
	return "\"" out "\""
}
'
