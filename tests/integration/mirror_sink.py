#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Plays journald's or syslog's datagram socket for the mirror tests.

mirror_sink.py journal|syslog SOCKET OUT: binds an AF_UNIX datagram socket
at SOCKET (mode 0666), then writes one JSON line to OUT per datagram:
{"fields": {NAME: VALUE}} for the journal's native protocol (NAME=VALUE
lines, or NAME, a 64-bit little-endian length and the bytes; a datagram
that carries a memfd instead, as sd_journal_send does for large entries,
is read from the fd), {"text": TEXT} for syslog. Runs until SIGTERM.
"""
import array
import json
import os
import signal
import socket
import struct
import sys


def parse_journal(buf):
    fields = {}
    i = 0
    while i < len(buf):
        nl = buf.index(b"\n", i)
        line = buf[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack_from("<Q", buf, nl + 1)
            start = nl + 9
            v = buf[start:start + n]
            i = start + n + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


def main():
    kind, path, out = sys.argv[1:4]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(path)
    os.chmod(path, 0o666)
    fdsize = array.array("i").itemsize
    with open(out, "a", encoding="utf-8") as f:
        while True:
            data, anc, _flags, _addr = s.recvmsg(1 << 20,
                                                 socket.CMSG_SPACE(fdsize))
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fd = array.array("i", cdata[:fdsize])[0]
                    os.lseek(fd, 0, os.SEEK_SET)
                    chunks = []
                    while True:
                        c = os.read(fd, 1 << 20)
                        if not c:
                            break
                        chunks.append(c)
                    os.close(fd)
                    data = b"".join(chunks)
            if kind == "journal":
                rec = {"fields": parse_journal(data)}
            else:
                rec = {"text": data.decode("utf-8", "replace")}
            f.write(json.dumps(rec) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
