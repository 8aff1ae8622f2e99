#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A stand-in for the server's audit transparency routes (docs/http-api.md,
Audit transparency), for test_audit_witness.sh: HTTPS with client
certificates, serving DIR/serve.cp as GET /api/audit/checkpoint of the
server's log (404 when missing, and for any other log), DIR/proof-OLD-NEW.json as GET /api/audit/proof/consistency, and
answering POST /api/audit/cosignatures with DIR/post.status (default 201),
keeping the body in DIR/posted. Every request is appended to
DIR/requests ("METHOD PATH [CONTENT-TYPE]"). Writes the port it listens on
to DIR/port once ready.
  witness_server.py DIR   (DIR holds ca.pem, srv.pem, srv.key)
"""
import http.server
import os
import ssl
import sys
import urllib.parse

D = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def note(self, line):
        with open(os.path.join(D, "requests"), "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def answer(self, code, body, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.note("GET " + self.path)
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/api/audit/checkpoint":
            path = os.path.join(D, "serve.cp")
            if q.get("log", ["server"])[0] != "server" or \
                    not os.path.exists(path):
                self.answer(404, '{"error":"no checkpoint yet"}')
                return
            with open(path, "rb") as f:
                self.answer(200, f.read(), "text/plain; charset=utf-8")
            return
        if url.path == "/api/audit/proof/consistency":
            name = "proof-%s-%s.json" % (q.get("old", ["?"])[0],
                                         q.get("new", ["?"])[0])
            path = os.path.join(D, name)
            if not os.path.exists(path):
                self.answer(404, '{"error":"no such proof"}')
                return
            with open(path, "rb") as f:
                self.answer(200, f.read())
            return
        self.answer(404, '{"error":"not found"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.note("POST %s %s" % (self.path, self.headers.get("Content-Type")))
        with open(os.path.join(D, "posted"), "wb") as f:
            f.write(body)
        code = 201
        status = os.path.join(D, "post.status")
        if os.path.exists(status):
            with open(status, encoding="utf-8") as f:
                code = int(f.read())
        self.answer(code, "{}" if code == 201 else '{"error":"refused"}')


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(D, "srv.pem"), os.path.join(D, "srv.key"))
    ctx.load_verify_locations(os.path.join(D, "ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(os.path.join(D, "port.tmp"), "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.rename(os.path.join(D, "port.tmp"), os.path.join(D, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
