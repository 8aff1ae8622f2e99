#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""tty_run.py ANSWERS CMD...: runs CMD on a new pseudo-terminal and types
the next of the |-separated ANSWERS (and a newline) each time what CMD
shows ends in ":" (a prompt). Prints all the terminal showed; exits with
CMD's status. For the tests of passphrase prompts (pki_lib.sh)."""
import os
import pty
import sys

answers = sys.argv[1].split("|")
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b""
pending = b""
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    pending += data
    if pending.rstrip().endswith(b":") and answers:
        os.write(fd, answers.pop(0).encode() + b"\n")
        pending = b""
sys.stdout.write(out.decode(errors="replace"))
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
