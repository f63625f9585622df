#!/usr/bin/env python3
"""A forwarding HTTP proxy in front of moto_server that keeps a ledger of the
AWS calls that moto answered.

    aws_ledger_proxy.py --upstream http://127.0.0.1:MOTO --ledger FILE [--port N]

Prints "PORT <n>" on stdout once it listens (127.0.0.1 only). Every request
is forwarded as is (same method, path, headers and body, so a SigV4
signature made for the proxy's address still verifies upstream); when the
upstream answered, one JSON line is appended to the ledger and fsync'd
BEFORE the answer is relayed:

    {"target": "AmazonEC2ContainerServiceV20141113.UpdateService",
     "status": 200, "service": "svc-3", "desiredCount": 2}

So the ledger holds every call that reached AWS, even when the client is
killed before it reads the answer: the crash test counts UpdateService per
service with it. A request cut short by the client never reaches moto and
is not in the ledger.
"""
import argparse
import http.client
import http.server
import json
import os
import sys
import threading
import urllib.parse

LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    ledger = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def _forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if len(body) != n:
            return  # the client went away mid-request: nothing reaches AWS
        up = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        target = self.headers.get("X-Amz-Target", "")
        rec = {"target": target, "status": resp.status}
        if target.endswith(".UpdateService"):
            try:
                j = json.loads(body)
                rec["service"] = j.get("service")
                rec["desiredCount"] = j.get("desiredCount")
            except ValueError:
                pass
        line = json.dumps(rec) + "\n"
        with LOCK:
            fd = os.open(self.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    def do_POST(self):
        self._forward()

    def do_GET(self):
        self._forward()

    def do_PUT(self):
        self._forward()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--ledger", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    Handler.upstream = a.upstream
    Handler.ledger = a.ledger
    srv = Server(("127.0.0.1", a.port), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
