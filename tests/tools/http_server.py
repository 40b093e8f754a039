#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small HTTP/1.1 server for the HTTP engine's tests (Python 3 standard library only).

    http_server.py [--cert CERT --key KEY] [--client-ca CA]

The first line on stdout is "listening on PORT" (a free loopback port). SIGTERM stops it.
Connections are kept alive (HTTP/1.1), so a client can show that it reuses them.

Routes (any method):
    /echo          200, JSON {"method", "path", "headers" (lower-case names), "body", "client"
                   (the client's port: the same port means the same connection), "proxied"
                   (the request line had an absolute URL: it came through a proxy)}
    /status/N      status N, body "status N"
    /bytes/N       N bytes of "x" with a Content-Length
    /trickle/N/S   a Content-Length of N, then one byte every S seconds
    /hang          answers nothing for 60 s
With --client-ca, TLS clients must present a certificate signed by CA.
"""

import argparse
import json
import signal
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, payload, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def route(self):
        proxied = self.path.startswith("http://") or self.path.startswith("https://")
        path = self.path.split("/", 3)[3] if proxied else self.path.lstrip("/")
        parts = path.split("?")[0].split("/")
        data = self.body()
        if parts[0] == "echo":
            record = {
                "method": self.command,
                "path": "/" + path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": data.decode("utf-8", "replace"),
                "client": self.client_address[1],
                "proxied": proxied,
            }
            self.send(200, json.dumps(record).encode(), "application/json")
        elif parts[0] == "status" and len(parts) > 1:
            self.send(int(parts[1]), ("status " + parts[1]).encode())
        elif parts[0] == "bytes" and len(parts) > 1:
            self.send(200, b"x" * int(parts[1]))
        elif parts[0] == "trickle" and len(parts) > 2:
            self.trickle(int(parts[1]), float(parts[2]))
        elif parts[0] == "hang":
            time.sleep(60)
            self.close_connection = True
        else:
            self.send(404, b"not found")

    def trickle(self, count, interval):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        try:
            for _ in range(count):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = route


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    args = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
