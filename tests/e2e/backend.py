#!/usr/bin/env python3
"""The lab's database: greets every connection with a banner and closes it.
Usage: backend.py ADDRESS PORT LIFETIME_SECONDS"""
import socketserver
import sys
import threading

address, port, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


class Greeter(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"hakit-lab-database\n")


socketserver.ThreadingTCPServer.allow_reuse_address = True
server = socketserver.ThreadingTCPServer((address, port), Greeter)
threading.Timer(lifetime, server.shutdown).start()
server.serve_forever()
