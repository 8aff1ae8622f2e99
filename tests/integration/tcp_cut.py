#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A TCP relay on loopback the cluster tests can cut (tcp_cut.py).

The fault "one replica cut from the database while the others still reach
it" needs a link that the test, not the kernel, breaks: this relay forwards
127.0.0.1:LISTEN to 127.0.0.1:TARGET byte for byte (TLS passes through
untouched). SIGUSR1 cuts it: every relayed connection is reset and new ones
are accepted and closed at once, so the replica sees the database vanish
without waiting for a timeout. SIGUSR2 lets connections through again.
Usage: tcp_cut.py TARGET_PORT PORT_FILE; it writes the port it listens on
to PORT_FILE once it accepts, and runs until killed.
"""
import os
import selectors
import signal
import socket
import struct
import sys

BUF = 65536


def main():
    target = int(sys.argv[1])
    port_file = sys.argv[2]
    state = {"cut": False, "changed": False}

    def on_cut(_sig, _frm):
        state["cut"] = True
        state["changed"] = True

    def on_restore(_sig, _frm):
        state["cut"] = False
        state["changed"] = True

    signal.signal(signal.SIGUSR1, on_cut)
    signal.signal(signal.SIGUSR2, on_restore)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    lsock.setblocking(False)
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.replace(tmp, port_file)

    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    peer = {}  # socket -> the socket it is relayed to

    def reset(s):
        # SO_LINGER 0: close sends RST, the peer sees the link die now.
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()

    def drop(s):
        other = peer.pop(s, None)
        reset(s)
        if other is not None:
            peer.pop(other, None)
            reset(other)

    while True:
        try:
            events = sel.select(timeout=0.2)
        except InterruptedError:
            events = []
        if state["changed"]:
            state["changed"] = False
            if state["cut"]:
                for s in list(peer):
                    if s in peer:
                        drop(s)
        for key, _mask in events:
            s = key.fileobj
            if s is lsock:
                try:
                    c, _ = lsock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                if state["cut"]:
                    reset(c)
                    continue
                try:
                    u = socket.create_connection(("127.0.0.1", target),
                                                 timeout=5)
                except OSError:
                    reset(c)
                    continue
                c.setblocking(False)
                u.setblocking(False)
                peer[c] = u
                peer[u] = c
                sel.register(c, selectors.EVENT_READ, None)
                sel.register(u, selectors.EVENT_READ, None)
                continue
            if s not in peer:
                continue
            try:
                data = s.recv(BUF)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                drop(s)
                continue
            if not data:
                drop(s)
                continue
            try:
                peer[s].setblocking(True)
                peer[s].sendall(data)
                peer[s].setblocking(False)
            except OSError:
                drop(s)


if __name__ == "__main__":
    main()
