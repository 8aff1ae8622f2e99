#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Runs a program under the sandbox a systemd unit file describes, as far
as it can be rebuilt without systemd as PID 1, so that a test can prove the
sandbox does not break the program (test_systemd_sandbox.sh).

Read from the unit and applied, in systemd's order, before exec():
  ProtectSystem=strict (every mount read-only but the state directory),
  PrivateTmp, ProtectHome, PrivateDevices (a /dev of null, zero, full,
  random, urandom, tty), ProtectProc=invisible + ProcSubset=pid (a new
  /proc), LimitNOFILE, UMask, user, group and supplementary groups (given
  on the command line: the unit's names do not exist on a test machine),
  CapabilityBoundingSet= (all dropped), NoNewPrivileges, and as seccomp
  filters through libseccomp: SystemCallFilter (groups expanded by
  `systemd-analyze syscall-filter`), SystemCallErrorNumber,
  SystemCallArchitectures=native, RestrictAddressFamilies (EAFNOSUPPORT,
  as systemd answers), MemoryDenyWriteExecute (systemd's rules).
Not rebuilt: user, IPC, UTS and network namespaces, and the filters of
RestrictNamespaces/RestrictRealtime/RestrictSUIDSGID/LockPersonality.

usage: unit_sandbox.py --unit FILE --state DIR --uid N --gid N
                       [--groups N,N] [--bind SRC:DST]... -- PROGRAM ARGS
Must run as root. The PID stays the program's (exec all the way down).
"""
import ctypes
import ctypes.util
import errno
import os
import re
import resource
import socket
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
CLONE_NEWNS = 0x00020000
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
PROT_WRITE, PROT_EXEC = 2, 4
SHM_EXEC = 0o100000


def die(msg):
    sys.stderr.write("unit_sandbox: %s\n" % msg)
    sys.exit(1)


def mount(src, dst, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        e = ctypes.get_errno()
        die("mount %s on %s: %s" % (src, dst, os.strerror(e)))


def parse_unit(path):
    """[Service] settings: name -> list of values, in order."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def last(unit, key, default=None):
    return unit[key][-1] if key in unit else default


def expand(group, seen=None):
    """Syscall names of a systemd group like @system-service, recursively."""
    seen = set() if seen is None else seen
    if group in seen:
        return set()
    seen.add(group)
    text = subprocess.run(["systemd-analyze", "syscall-filter", group],
                          check=True, capture_output=True, text=True).stdout
    names = set()
    for line in text.splitlines()[1:]:
        w = line.strip()
        if not w or w.startswith("#"):
            continue
        names |= expand(w, seen) if w.startswith("@") else {w}
    return names


def syscall_set(values):
    """systemd's SystemCallFilter= semantics: the first line decides allow-
    or deny-list; later lines add to it or (with ~) take away."""
    allowed, deny_list = None, None
    for v in values:
        neg = v.startswith("~")
        words = set()
        for w in v.lstrip("~").split():
            words |= expand(w) if w.startswith("@") else {w}
        if allowed is None and deny_list is None:
            if neg:
                deny_list = words
            else:
                allowed = set(words)
        elif allowed is not None:
            allowed = allowed - words if neg else allowed | words
        else:
            deny_list = deny_list - words if not neg else deny_list | words
    return allowed, deny_list


def mountpoints():
    pts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                        line.split()[4])
            pts.append(mp)
    return pts


def setup_mounts(unit, state, binds):
    if libc.unshare(CLONE_NEWNS) != 0:
        die("unshare(CLONE_NEWNS): %s" % os.strerror(ctypes.get_errno()))
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for src, dst in binds:
        mount(src, dst, None, MS_BIND)
    mount(state, state, None, MS_BIND)          # StateDirectory= (writable)
    if last(unit, "PrivateTmp") == "yes":
        for d in ("/tmp", "/var/tmp"):
            mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    if last(unit, "ProtectHome") == "yes":
        for d in ("/home", "/root", "/run/user"):
            if os.path.isdir(d):
                mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      "mode=0755")
                mount(None, d, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    if last(unit, "PrivateDevices") == "yes":
        stage = state + "/.dev"
        os.mkdir(stage, 0o755)
        mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
        for n in ("null", "zero", "full", "random", "urandom", "tty"):
            open(stage + "/" + n, "w").close()
            mount("/dev/" + n, stage + "/" + n, None, MS_BIND)
        os.mkdir(stage + "/shm", 0o1777)
        for n, t in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                     ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2")):
            os.symlink(t, stage + "/" + n)
        mount(stage, "/dev", None, MS_MOVE)
        os.rmdir(stage)
    opts = []
    if last(unit, "ProtectProc") == "invisible":
        opts.append("hidepid=invisible")
    if last(unit, "ProcSubset") == "pid":
        opts.append("subset=pid")
    if opts:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              ",".join(opts))
    if last(unit, "ProtectSystem") == "strict":
        writable = {state, "/tmp", "/var/tmp", "/dev", "/dev/shm", "/proc"}
        for mp in mountpoints():
            # Mounts under the new /dev and /proc are hidden by them.
            if mp in writable or mp.startswith(("/proc/", "/dev/")):
                continue
            # Keep each mount's own flags: a remount may not clear them.
            try:
                st = os.statvfs(mp)
            except OSError:
                continue
            keep = 0
            for bit, flag in ((os.ST_NOSUID, MS_NOSUID),
                              (os.ST_NODEV, MS_NODEV),
                              (os.ST_NOEXEC, MS_NOEXEC)):
                if st.f_flag & bit:
                    keep |= flag
            libc.mount(None, mp.encode(), None,
                       MS_REMOUNT | MS_BIND | MS_RDONLY | keep, None)


def load_seccomp(unit, allowed, denied):
    name = ctypes.util.find_library("seccomp")
    if name is None:
        die("libseccomp not found (apt-get install libseccomp2)")
    sc = ctypes.CDLL(name)
    sc.seccomp_init.restype = ctypes.c_void_p
    sc.seccomp_init.argtypes = [ctypes.c_uint32]
    sc.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    sc.seccomp_load.argtypes = [ctypes.c_void_p]
    sc.seccomp_release.argtypes = [ctypes.c_void_p]

    class Cmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                    ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]
    sc.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                          ctypes.c_int, ctypes.c_uint,
                                          ctypes.POINTER(Cmp)]
    ALLOW, KILL = 0x7fff0000, 0x80000000
    ERR = lambda e: 0x00050000 | (e & 0xffff)
    OP_EQ, OP_MASKED_EQ = 4, 7

    def nr(n):
        return sc.seccomp_syscall_resolve_name(n.encode())

    def rule(ctx, action, sysname, cmps=()):
        n = nr(sysname)
        if n < 0:
            return
        arr = (Cmp * max(1, len(cmps)))(*[Cmp(*c) for c in cmps])
        r = sc.seccomp_rule_add_array(ctx, action, n, len(cmps), arr)
        if r != 0 and r != -errno.EEXIST:
            die("seccomp rule %s: %s" % (sysname, os.strerror(-r)))

    def load(ctx):
        r = sc.seccomp_load(ctx)
        if r != 0:
            die("seccomp_load: %s" % os.strerror(-r))
        sc.seccomp_release(ctx)

    err = errno.EPERM
    e = last(unit, "SystemCallErrorNumber")
    if e is not None:
        err = getattr(errno, e)
    fams = last(unit, "RestrictAddressFamilies")
    if fams:
        ok = {getattr(socket, f) for f in fams.split()}
        ctx = sc.seccomp_init(ALLOW)
        for fam in range(0, 64):
            if fam not in ok:
                rule(ctx, ERR(errno.EAFNOSUPPORT), "socket",
                     [(0, OP_EQ, fam, 0)])
        load(ctx)
    if last(unit, "MemoryDenyWriteExecute") == "yes":
        ctx = sc.seccomp_init(ALLOW)
        wx = PROT_WRITE | PROT_EXEC
        rule(ctx, ERR(errno.EPERM), "mmap", [(2, OP_MASKED_EQ, wx, wx)])
        rule(ctx, ERR(errno.EPERM), "mprotect",
             [(2, OP_MASKED_EQ, PROT_EXEC, PROT_EXEC)])
        rule(ctx, ERR(errno.EPERM), "pkey_mprotect",
             [(2, OP_MASKED_EQ, PROT_EXEC, PROT_EXEC)])
        rule(ctx, ERR(errno.EPERM), "shmat",
             [(2, OP_MASKED_EQ, SHM_EXEC, SHM_EXEC)])
        load(ctx)

    # Last: once loaded, it refuses seccomp() itself to the filters after.
    if allowed is not None:
        ctx = sc.seccomp_init(ERR(err) if e else KILL)
        for s in sorted(allowed):
            rule(ctx, ALLOW, s)
        load(ctx)
    elif denied:
        ctx = sc.seccomp_init(ALLOW)
        for s in sorted(denied):
            rule(ctx, ERR(err) if e else KILL, s)
        load(ctx)


def main(argv):
    unit_path = state = None
    uid = gid = None
    groups, binds = [], []
    i = 1
    while i < len(argv) and argv[i] != "--":
        a = argv[i]
        if a in ("--unit", "--state", "--uid", "--gid", "--groups",
                 "--bind") and i + 1 < len(argv):
            v = argv[i + 1]
            i += 2
            if a == "--unit":
                unit_path = v
            elif a == "--state":
                state = os.path.realpath(v)
            elif a == "--uid":
                uid = int(v)
            elif a == "--gid":
                gid = int(v)
            elif a == "--groups":
                groups = [int(g) for g in v.split(",") if g]
            else:
                src, dst = v.split(":", 1)
                binds.append((src, dst))
        else:
            die("unexpected argument %r; see the file's docstring" % a)
    prog = argv[i + 1:]
    if None in (unit_path, state, uid, gid) or not prog:
        die("--unit, --state, --uid, --gid and -- PROGRAM are required")
    unit = parse_unit(unit_path)
    # Before the sandbox: expanding the groups runs systemd-analyze.
    allowed, denied = syscall_set(unit.get("SystemCallFilter", []))
    setup_mounts(unit, state, binds)
    lim = last(unit, "LimitNOFILE")
    if lim:
        n = int(lim)
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    os.umask(int(last(unit, "UMask", "0022"), 8))
    if last(unit, "CapabilityBoundingSet", None) == "":
        cap = 0
        while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
            cap += 1
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)                  # drops every remaining capability
    # NoNewPrivileges=yes; an unprivileged seccomp filter needs it anyway.
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        die("PR_SET_NO_NEW_PRIVS failed")
    load_seccomp(unit, allowed, denied)
    os.execv(prog[0], prog)


if __name__ == "__main__":
    main(sys.argv)
