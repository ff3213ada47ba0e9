#!/usr/bin/env python3
"""The EC2 endpoint the lab's nodes use: a proxy in front of moto that can answer as a
troubled EC2 does. Before each request it reads MODE_FILE: "throttle" answers 400
RequestLimitExceeded (EC2's throttling), "error" answers 503 Unavailable, "slow" waits
2 s and then forwards, anything else (or no file) forwards at once.
Usage: ec2_faults.py LISTEN_HOST LISTEN_PORT UPSTREAM_PORT MODE_FILE LIFETIME_SECONDS"""
import http.client
import http.server
import sys
import threading
import time

host, port, upstream = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mode_file, lifetime = sys.argv[4], float(sys.argv[5])

ERRORS = {
    "throttle": (400, "RequestLimitExceeded", "Request limit exceeded."),
    "error": (503, "Unavailable", "The service is unavailable. Please try again shortly."),
}


def mode():
    try:
        with open(mode_file) as f:
            return f.read().strip()
    except OSError:
        return ""


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        now = mode()
        if now in ERRORS:
            status, code, message = ERRORS[now]
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                "<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
            ).encode()
            self.answer(status, xml, [("Content-Type", "text/xml")])
            return
        if now == "slow":
            time.sleep(2)
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn.request(self.command, self.path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        self.answer(reply.status, data, reply.getheaders())
        conn.close()

    do_GET = forward
    do_POST = forward


server = http.server.ThreadingHTTPServer((host, port), Proxy)
server.daemon_threads = True
threading.Timer(lifetime, server.shutdown).start()
server.serve_forever()
