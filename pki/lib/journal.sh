# SPDX-License-Identifier: ISC
# signet-pki's lock and crash journal, sourced by pki/signet-pki. The lock
# is the directory $PKI/.lock holding the owner's pid (.lock/pid). A
# command that changes the PKI under it first writes the journal
# $PKI/.journal: the command, its temporary directory, where the backup
# of the database (and crl.pem) is, then, each just before it is done,
# every file placed, moved and directory made. commit removes the journal;
# a failure undoes the journal's steps in reverse (rollback, lib/common.sh).
# A command killed in the middle (kill -9, power cut) leaves the lock, the
# journal and its temporary directory: the next command that takes the
# lock finds the owner's pid dead, undoes the journal the same way, says
# so, and goes on. Journal lines (paths relative to $PKI, no spaces):
#   signet-pki journal 1 | pid PID | cmd COMMAND | tmp DIR   (the header)
#   backup DIR    the database files and crl.pem as they were
#   place FILE    FILE is (about to be) placed: undone by removing it
#   move SRC DST  SRC is (about to be) moved to DST: undone by moving back
#   mkdir DIR     DIR is (about to be) made: undone by rmdir when empty
#   crl FILE      crl.pem is (about to be) replaced; FILE is the old one
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

# test_hook STEP: the test hook of tests/integration/test_pki_renew.sh,
# honoured only when its variables are set, never in normal use:
# SIGNET_PKI_TEST_CRASH_AT=STEP makes the command kill itself with SIGKILL
# at STEP (a crash, to test the recovery), SIGNET_PKI_TEST_STOP_AT=STEP
# stops it with SIGSTOP there (to hold the lock). STEP is one of locked,
# after-backup, after-db, after-move, after-place.
test_hook() {
	if [ -n "${SIGNET_PKI_TEST_CRASH_AT:-}" ] &&
	    [ "$SIGNET_PKI_TEST_CRASH_AT" = "$1" ]; then
		kill -9 $$
	fi
	if [ -n "${SIGNET_PKI_TEST_STOP_AT:-}" ] &&
	    [ "$SIGNET_PKI_TEST_STOP_AT" = "$1" ]; then
		kill -STOP $$
	fi
}

# ---------------------------------------------------------------------------
# The journal

# rel PATH: PATH relative to $PKI, or nothing when it is not inside it.
rel() {
	case $1 in
	"$PKI"/?*) printf '%s\n' "${1#"$PKI"/}" ;;
	esac
}

# journal_path_ok REL: a journal path: relative, inside the PKI, no
# space, no ".." component.
journal_path_ok() {
	case $1 in
	"" | /* | -* | *" "* | *"	"*) return 1 ;;
	esac
	case /$1/ in
	*/../* | */./*) return 1 ;;
	esac
	return 0
}

# journal_add LINE: append LINE to the journal, first writing its header
# (in one rename) when this run has none yet. Only under the lock.
journal_add() {
	if [ -z "$LOCK" ]; then
		return 0
	fi
	if [ -z "$JOURNAL" ]; then
		{
			printf 'signet-pki journal 1\n'
			printf 'pid %s\n' "$$"
			printf 'cmd %s\n' "$(printf '%s' \
			    "$CMD${SUB:+ $SUB}${ARG:+ $ARG}" |
			    tr -c '[:print:]' '?' | cut -c1-200)"
			if [ -n "$TMP" ]; then
				printf 'tmp %s\n' "$(rel "$TMP")"
			fi
		} >"$PKI/.journal.new" ||
		    die "writing the journal $PKI/.journal.new failed"
		mv -f -- "$PKI/.journal.new" "$PKI/.journal" ||
		    die "writing the journal $PKI/.journal failed"
		JOURNAL=yes
	fi
	printf '%s\n' "$1" >>"$PKI/.journal" ||
	    die "writing the journal $PKI/.journal failed"
}

# journal_end: the change is complete; from here on nothing is undone.
journal_end() {
	if [ -n "$JOURNAL" ]; then
		rm -f -- "$PKI/.journal"
		JOURNAL=""
	fi
}

# journal_undo FILE VERBOSE: undo the steps of journal FILE, last first.
# VERBOSE=yes says each step on stderr. Best effort: returns 1 when a step
# could not be undone (and says which).
journal_undo() {
	awk '{ l[NR] = $0 } END { for (i = NR; i > 0; i--) print l[i] }' \
	    "$1" | {
		ju_st=0
		while IFS=' ' read -r ju_kind ju_a ju_b; do
			case $ju_kind in
			signet-pki | pid | cmd | tmp) continue ;;
			esac
			if ! journal_path_ok "$ju_a" || { [ "$ju_kind" = move ] &&
			    ! journal_path_ok "$ju_b"; }; then
				printf '%s: journal %s: bad line "%s %s"; skipped\n' \
				    "$PROG" "$1" "$ju_kind" "$ju_a" >&2
				ju_st=1
				continue
			fi
			ju_msg=""
			case $ju_kind in
			place)
				if [ -e "$PKI/$ju_a" ] || [ -L "$PKI/$ju_a" ]; then
					rm -f -- "${PKI:?}/$ju_a" || ju_st=1
					ju_msg="removed $ju_a"
				fi
				;;
			move)
				if [ -e "$PKI/$ju_b" ]; then
					if [ ! -e "$PKI/$ju_a" ]; then
						ln -- "$PKI/$ju_b" "$PKI/$ju_a" ||
						    ju_st=1
					fi
					if [ -e "$PKI/$ju_a" ]; then
						rm -f -- "${PKI:?}/$ju_b" ||
						    ju_st=1
					fi
					ju_msg="moved $ju_b back to $ju_a"
				fi
				;;
			mkdir)
				if [ -d "$PKI/$ju_a" ]; then
					if rmdir -- "$PKI/$ju_a" 2>/dev/null; then
						ju_msg="removed directory $ju_a"
					else
						ju_msg="kept directory $ju_a (not empty)"
					fi
				fi
				;;
			crl)
				if [ -f "$PKI/$ju_a" ]; then
					cp -p -- "$PKI/$ju_a" "$PKI/crl.pem.undo" &&
					    mv -f -- "$PKI/crl.pem.undo" \
					    "$PKI/crl.pem" || ju_st=1
					ju_msg="put back crl.pem from $ju_a"
				else
					printf '%s: cannot put back crl.pem: %s is missing\n' \
					    "$PROG" "$PKI/$ju_a" >&2
					ju_st=1
				fi
				;;
			backup)
				if [ -d "$PKI/$ju_a" ]; then
					for f in $DB_FILES; do
						if [ -e "$PKI/$ju_a/$f" ]; then
							cp -p -- "$PKI/$ju_a/$f" \
							    "$PKI/$f" || ju_st=1
						else
							rm -f -- "${PKI:?}/$f" ||
							    ju_st=1
						fi
					done
					ju_msg="put back index.txt, serial and crlnumber from $ju_a"
				else
					printf '%s: cannot put back the database: %s is missing\n' \
					    "$PROG" "$PKI/$ju_a" >&2
					ju_st=1
				fi
				;;
			*)
				printf '%s: journal %s: unknown step "%s"; skipped\n' \
				    "$PROG" "$1" "$ju_kind" >&2
				ju_st=1
				;;
			esac
			if [ -n "$ju_msg" ] && [ "$2" = yes ]; then
				printf '%s:   %s\n' "$PROG" "$ju_msg" >&2
			fi
		done
		exit "$ju_st"
	}
}

# mkdir_pki DIR MODE: make DIR inside the PKI unless it exists (undone on
# failure).
mkdir_pki() {
	if [ -d "$1" ]; then
		return 0
	fi
	journal_add "mkdir $(rel "$1")"
	mkdir -- "$1" || die "making the directory $1 failed"
	chmod "$2" -- "$1"
}

# move SRC DST: move a file within the PKI (archiving it), never
# overwriting DST; undone on failure. Both inside $PKI.
move() {
	mv_src=$(rel "$1")
	mv_dst=$(rel "$2")
	if ! journal_path_ok "$mv_src" || ! journal_path_ok "$mv_dst"; then
		die "moving $1 to $2: not a path inside $PKI"
	fi
	if [ -e "$2" ] || [ -L "$2" ]; then
		die "moving $1 to $2: $2 already exists; refusing to overwrite it"
	fi
	journal_add "move $mv_src $mv_dst"
	if ! ln -- "$1" "$2" 2>/dev/null; then
		die "moving $1 to $2: cannot create $2"
	fi
	rm -f -- "$1" || die "moving $1 to $2: cannot remove $1"
}

# ---------------------------------------------------------------------------
# The lock

# lock_pid: the pid in $PKI/.lock/pid when it is one, else nothing.
lock_pid() {
	lp=$(head -c 32 -- "$PKI/.lock/pid" 2>/dev/null | head -n 1) || lp=""
	case $lp in
	"" | 0* | *[!0-9]*) ;;
	*)
		if [ "${#lp}" -le 10 ]; then
			printf '%s\n' "$lp"
		fi
		;;
	esac
}

# pid_alive PID: a process PID exists (kill -0, or /proc when it belongs
# to another user).
pid_alive() {
	kill -0 "$1" 2>/dev/null || [ -d "/proc/$1" ]
}

# write_lock_pid: record this run's pid in the lock it holds (one rename).
write_lock_pid() {
	if ! printf '%s\n' "$$" >"$PKI/.lock/pid.new" ||
	    ! mv -f -- "$PKI/.lock/pid.new" "$PKI/.lock/pid"; then
		die "locking $PKI: cannot write $PKI/.lock/pid"
	fi
}

# Exclusive lock on the PKI for commands that change it. A lock whose
# owner is dead is taken over, and its unfinished change rolled back.
lock_pki() {
	if mkdir -- "$PKI/.lock" 2>/dev/null; then
		LOCK=$PKI/.lock
		write_lock_pid
		lk_dead=""
	else
		lk_dead=$(lock_pid)
		if [ -z "$lk_dead" ]; then
			if [ ! -d "$PKI/.lock" ]; then
				die "locking $PKI: cannot create $PKI/.lock"
			fi
			die "locking $PKI: $PKI/.lock holds no owner's pid" \
			    "(another $PROG is just taking it, or one older" \
			    "than the lock's pid file); if no $PROG is" \
			    "running, remove $PKI/.lock"
		fi
		if pid_alive "$lk_dead"; then
			die "locking $PKI: another $PROG (pid $lk_dead) is" \
			    "working on it; try again when it has finished" \
			    "(if pid $lk_dead is no $PROG, remove $PKI/.lock)"
		fi
		# Its owner is dead: one of us takes it over.
		if ! mkdir -- "$PKI/.lock/recover.$lk_dead" 2>/dev/null ||
		    [ "$(lock_pid)" != "$lk_dead" ]; then
			die "locking $PKI: another $PROG is recovering the" \
			    "lock left by pid $lk_dead; try again"
		fi
		LOCK=$PKI/.lock
		write_lock_pid
		rmdir -- "$PKI/.lock/recover.$lk_dead" 2>/dev/null || true
	fi
	lk_tmp=$(head -n 1 -- "$PKI/.lock/tmp" 2>/dev/null) || lk_tmp=""
	rm -f -- "$PKI/.lock/tmp"
	if [ -e "$PKI/.journal" ]; then
		journal_recover "$lk_dead"
	elif [ -n "$lk_dead" ]; then
		printf '%s: took over the lock %s of pid %s, which is no' \
		    "$PROG" "$PKI/.lock" "$lk_dead" >&2
		printf ' longer running; it left no unfinished change\n' >&2
	fi
	lk_remove_tmp "$lk_tmp"
	rm -f -- "$PKI/.journal.new" "$PKI/crl.pem.undo"
}

# lk_remove_tmp NAME: remove the dead run's temporary directory $PKI/NAME.
lk_remove_tmp() {
	case $1 in
	.tmp.* )
		case $1 in
		*/* | *" "*) ;;
		*)
			if [ -d "$PKI/$1" ]; then
				rm -rf -- "${PKI:?}/$1"
			fi
			;;
		esac
		;;
	esac
}

# journal_recover DEADPID: undo the journal a dead run left (we hold the
# lock). On failure keep the journal and stop.
journal_recover() {
	jr_cmd=$(sed -n 's/^cmd //p' "$PKI/.journal" | head -n 1)
	jr_pid=$(sed -n 's/^pid //p' "$PKI/.journal" | head -n 1)
	jr_tmp=$(sed -n 's/^tmp //p' "$PKI/.journal" | head -n 1)
	case $jr_pid in
	"" | 0* | *[!0-9]*) ;;
	*)
		if [ "$jr_pid" != "$$" ] && pid_alive "$jr_pid"; then
			die "locking $PKI: $PKI/.journal belongs to pid $jr_pid," \
			    "which is still running (was its lock removed by" \
			    "hand?); try again when it has finished"
		fi
		;;
	esac
	printf '%s: %s: "%s" (pid %s) did not finish (it crashed or was' \
	    "$PROG" "$PKI/.journal" "$jr_cmd" "${jr_pid:-${1:-?}}" >&2
	printf ' killed); rolling back its change:\n' >&2
	if ! journal_undo "$PKI/.journal" yes; then
		die "rolling back $PKI/.journal failed (above); the journal is" \
		    "kept: repair the PKI by hand (the database backup is in" \
		    "$PKI/$jr_tmp/db), then remove $PKI/.journal"
	fi
	rm -f -- "$PKI/.journal"
	lk_remove_tmp "$jr_tmp"
	printf '%s: rolled back: the PKI is as it was before "%s"\n' \
	    "$PROG" "$jr_cmd" >&2
}

# recover_if_stale: for the commands that only read (list, expiring): a
# lock left by a dead run is taken, rolled back and released first, so
# they do not show a half-done change. A live owner's lock is left alone.
recover_if_stale() {
	if [ ! -d "$PKI/.lock" ] && [ ! -e "$PKI/.journal" ]; then
		return 0
	fi
	rs_pid=$(lock_pid)
	if [ -d "$PKI/.lock" ] && { [ -z "$rs_pid" ] ||
	    pid_alive "$rs_pid"; }; then
		printf '%s: warning: another %s (pid %s) is changing %s;' \
		    "$PROG" "$PROG" "${rs_pid:-?}" "$PKI" >&2
		printf ' this may show its change half-done\n' >&2
		return 0
	fi
	lock_pki
	unlock_pki
}

# unlock_pki: release the lock this run holds.
unlock_pki() {
	if [ -n "$LOCK" ]; then
		rm -f -- "$LOCK/pid" "$LOCK/pid.new" "$LOCK/tmp"
		find "$LOCK" -mindepth 1 -maxdepth 1 -type d \
		    -name 'recover.*' -exec rmdir -- {} + 2>/dev/null || true
		rmdir -- "$LOCK" 2>/dev/null || true
		LOCK=""
	fi
}
