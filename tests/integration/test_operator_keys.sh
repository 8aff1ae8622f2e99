#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# signetctl keygen, the real binary: an operator key sealed with a
# passphrase read from a descriptor, an unsealed one (--no-passphrase),
# a daemon's raw key (--raw); with no terminal and neither option it fails
# clearly and writes nothing; existing files are never overwritten; the
# files are 0600 and 0644 whatever the umask, and no temporary file is
# left behind.
. "$(dirname "$0")/lib.sh"

S() { "$SIGNETCTL" "$@"; }
# expect_rc NAME WANT PATTERN CMD...: CMD exits WANT and prints (stdout or
# stderr) a line matching the extended regex PATTERN.
expect_rc() {
	local name=$1 want=$2 pattern=$3 out rc; shift 3
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
		ok "$name"
	else
		not_ok "$name (rc=$rc, wanted $want and /$pattern/, got: $(printf '%s' "$out" | head -c 400))"
	fi
}
mode() { stat -c %a "$1"; }
# kdf FILE: the first byte of an operator key's blob (0 none, 1 argon2id).
kdf() { cut -d' ' -f2 "$1" | base64 -d | head -c 1 | od -An -tu1 | tr -d ' '; }
# hidden: how many names in . start with a dot (temporary files).
hidden() { find . -mindepth 1 -maxdepth 1 -name '.*' | wc -l; }
# entries: how many names in . (. itself aside).
entries() { find . -mindepth 1 -maxdepth 1 | wc -l; }
# nothing NAME: neither NAME.key nor NAME.pub, nor any temporary file.
nothing() { [ ! -e "$1.key" ] && [ ! -e "$1.pub" ] && [ "$(hidden)" = 0 ]; }

cd "$T_DIR" || exit 1
umask 022

# ---- sealed, the passphrase from a descriptor ----
printf 'correct horse\n' >pass.txt
out=$(S keygen alice --passphrase-fd 3 3<pass.txt); rc=$?
check "keygen --passphrase-fd exits 0" test "$rc" = 0
check "it says what it wrote" grep -Eq '^wrote alice.key \(operator key, sealed with a passphrase, mode 0600\) and alice.pub, key id [0-9a-f]{16}$' <<<"$out"
check "alice.key is 0600" test "$(mode alice.key)" = 600
check "alice.pub is 0644" test "$(mode alice.pub)" = 644
check "alice.key is one operator-key line" test "$(wc -l <alice.key)" = 1 -a "$(cut -d' ' -f1 alice.key)" = signet-operator-key-v1
check "alice.key is sealed (kdf 1)" test "$(kdf alice.key)" = 1
check "the passphrase is not in the file" test -z "$(grep -F 'correct horse' alice.key)"
check "alice.pub is base64 of 32 bytes" test "$(base64 -d alice.pub | wc -c)" = 32
check "no temporary file is left" test "$(entries)" = 3
# From a pipe on stdin, the last line without a newline.
out=$(printf 'no newline' | S keygen bob --passphrase-fd 0); rc=$?
check "keygen --passphrase-fd 0 from a pipe exits 0" test "$rc" = 0
check "bob.key is sealed" test "$(kdf bob.key)" = 1
check "the same passphrase, another salt" test "$(cut -c1-60 alice.key)" != "$(cut -c1-60 bob.key)"

# ---- unsealed, on request ----
out=$(S keygen robot --no-passphrase </dev/null); rc=$?
check "keygen --no-passphrase exits 0" test "$rc" = 0
check "it says it has no passphrase" grep -q '(operator key, no passphrase, mode 0600)' <<<"$out"
check "robot.key is unsealed (kdf 0)" test "$(kdf robot.key)" = 0
check "robot.key is 0600, robot.pub 0644" test "$(mode robot.key)/$(mode robot.pub)" = 600/644

# ---- a daemon's key, raw ----
out=$(S keygen --raw action); rc=$?
check "keygen --raw exits 0" test "$rc" = 0
check "keygen --raw says what it wrote" grep -Eq '^wrote action.key \(secret, mode 0600\) and action.pub, key id [0-9a-f]{16}$' <<<"$out"
check "action.key is base64 of 64 bytes, no header" test "$(base64 -d action.key | wc -c)" = 64
check "action.key is 0600, action.pub 0644" test "$(mode action.key)/$(mode action.pub)" = 600/644

# ---- the umask neither loosens nor tightens the modes ----
(umask 000 && printf 'pw\n' | S keygen loose --passphrase-fd 0 >/dev/null)
check "under umask 000: 0600 and 0644" test "$(mode loose.key)/$(mode loose.pub)" = 600/644
(umask 077 && S keygen tight --no-passphrase >/dev/null)
check "under umask 077: 0600 and 0644" test "$(mode tight.key)/$(mode tight.pub)" = 600/644

# ---- no terminal and no option: a clear error, nothing written ----
expect_rc "no terminal, no option: refused" 2 \
    'no terminal to ask for the passphrase.*use --passphrase-fd N, or --no-passphrase for an unsealed key.*nothing was written' \
    setsid -w "$SIGNETCTL" keygen carol </dev/null
check "nothing written for carol" nothing carol

# ---- bad passphrases and options: refused, nothing written ----
expect_rc "an empty passphrase" 2 'empty passphrase from descriptor 0; nothing was written' \
    S keygen carol --passphrase-fd 0 </dev/null
head -c 1100 /dev/zero | tr '\0' p >long.txt
expect_rc "a passphrase over 1024 bytes" 2 'longer than 1024 bytes' \
    S keygen carol --passphrase-fd 3 3<long.txt
expect_rc "--passphrase-fd not open" 2 '--passphrase-fd "9": give the number of an open file descriptor' \
    S keygen carol --passphrase-fd 9
expect_rc "--passphrase-fd not a number" 2 '--passphrase-fd "x"' \
    S keygen carol --passphrase-fd x
expect_rc "--raw with --no-passphrase" 2 'give one of --raw, --no-passphrase and --passphrase-fd' \
    S keygen carol --raw --no-passphrase
expect_rc "--raw with --passphrase-fd" 2 'give one of' \
    S keygen carol --raw --passphrase-fd 0
expect_rc "--no-passphrase with --passphrase-fd" 2 'give one of' \
    S keygen carol --no-passphrase --passphrase-fd 0
expect_rc "a bad name" 2 'bad name "Carol"' S keygen Carol --no-passphrase
check "nothing written for carol after the refusals" nothing carol

# ---- existing files are never overwritten ----
cp alice.key alice.key.before
expect_rc "an existing operator key is refused" 2 'alice.key or alice.pub already exists; refusing to overwrite' \
    S keygen alice --passphrase-fd 3 3<pass.txt
expect_rc "... also with --no-passphrase" 2 'refusing to overwrite' S keygen alice --no-passphrase
expect_rc "... also with --raw" 2 'refusing to overwrite' S keygen --raw alice
check "alice.key is unchanged" cmp -s alice.key alice.key.before
echo x >dave.pub
expect_rc "only NAME.pub there: refused" 2 'refusing to overwrite' S keygen dave --no-passphrase
check "no dave.key was written" test ! -e dave.key
echo x >erin.key && chmod 600 erin.key
expect_rc "only NAME.key there: refused" 2 'refusing to overwrite' \
    S keygen erin --passphrase-fd 3 3<pass.txt
check "no erin.pub was written" test ! -e erin.pub -a "$(cat erin.key)" = x
check "no temporary file anywhere" test "$(hidden)" = 0

finish
