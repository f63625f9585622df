#!/usr/bin/env python3
"""A forwarding HTTP proxy in front of moto_server that keeps a ledger of the
AWS calls that moto answered.

    aws_ledger_proxy.py --upstream http://127.0.0.1:MOTO --ledger FILE [--port N]
                        [--latency-ms N]

Prints "PORT <n>" on stdout once it listens (127.0.0.1 only). Every request
is forwarded as is (same method, path, headers and body, so a SigV4
signature made for the proxy's address still verifies upstream); when the
upstream answered, one JSON line is appended to the ledger and fsync'd
BEFORE the answer is relayed:

    {"target": "AmazonEC2ContainerServiceV20141113.UpdateService",
     "status": 200, "service": "svc-3", "desiredCount": 2,
     "taskDefinition": null, "forceNewDeployment": null}

(UpdateService only: what the request asked for, null where it did not say;
a restart is taskDefinition + forceNewDeployment true, a rollback
taskDefinition alone.)

So the ledger holds every call that reached AWS, even when the client is
killed before it reads the answer: the crash test counts UpdateService per
service with it. A request cut short by the client never reaches moto and
is not in the ledger.

--latency-ms N makes every call take N ms more, like a real AWS endpoint: half
after the request was read and before it is forwarded (the call is on its
way: a client killed then still has its call applied), half after the
answer was recorded and before it is relayed (applied, answer on its way).
Without it the proxy adds no delay (TCP_NODELAY: no Nagle/delayed-ACK
stall between the header and body writes).

GET /_ledger/connections is answered here (never forwarded): the number of
client connections open besides the one asking. A connection counts from
the moment it is accepted until its last request was forwarded, recorded
and answered (or the client was found gone), so 0 after a client was
killed means every request it had fully sent has reached moto and is in
the ledger: nothing of it is still on its way.
"""
import argparse
import http.client
import http.server
import json
import os
import sys
import socket
import threading
import time
import urllib.parse

LOCK = threading.Lock()
ACTIVE = [0]  # open client connections (see the docstring)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    ledger = None
    latency = 0.0  # seconds, see --latency-ms

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet
        pass

    def _connections(self):
        with LOCK:
            n = ACTIVE[0] - 1  # not this one
        data = ("%d\n" % n).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if len(body) != n:
            return  # the client went away mid-request: nothing reaches AWS
        if self.latency:
            time.sleep(self.latency / 2)
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
                rec["taskDefinition"] = j.get("taskDefinition")
                rec["forceNewDeployment"] = j.get("forceNewDeployment")
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
        conn.close()
        if self.latency:
            time.sleep(self.latency / 2)
        try:
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            # the client was killed after sending: the call is recorded,
            # the answer has nobody to go to
            self.close_connection = True

    def do_POST(self):
        self._forward()

    def do_GET(self):
        if self.path == "/_ledger/connections":
            self._connections()
        else:
            self._forward()

    def do_PUT(self):
        self._forward()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a bot recovering dozens of
    # gates connects all at once, the accept queue overflows, Linux drops
    # the handshake's last ACK and the client, which thinks it is connected,
    # waits for SYN-ACK retransmits (1 s, 2 s, 4 s...) until its timeout
    request_queue_size = 128

    # counted in the accepting thread, so a connection accepted before a
    # /_ledger/connections query is always seen by it
    def process_request(self, request, client_address):
        with LOCK:
            ACTIVE[0] += 1
        try:
            super().process_request(request, client_address)
        except Exception:
            with LOCK:
                ACTIVE[0] -= 1
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            with LOCK:
                ACTIVE[0] -= 1

    def handle_error(self, request, client_address):
        # a client that vanished mid-request is what the crash test does;
        # anything else is still worth a traceback
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--ledger", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=int, default=0)
    a = ap.parse_args()
    Handler.upstream = a.upstream
    Handler.latency = a.latency_ms / 1000.0
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
