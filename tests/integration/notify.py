# SPDX-License-Identifier: ISC
# A stand-in for systemd's notification socket (sd_notify(3)): binds a unix
# datagram socket at argv[1] and appends each message it receives to
# argv[2] as one line, its fields joined by "|", until killed. argv[3]
# (octal, default 600) is the socket's mode, for a sender of another uid.
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, int(sys.argv[3], 8) if len(sys.argv) > 3 else 0o600)
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        msg = s.recv(4096)
        f.write(msg.decode("utf-8", "replace").strip("\n").replace("\n", "|") + "\n")
