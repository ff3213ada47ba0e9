#!/usr/bin/env python3
"""IMDSv2 for one lab node, run inside that node's network namespace on 169.254.169.254:80.

Serves the node's identity and instance-role credentials (for the emulator, which accepts
any), with session tokens: PUT /latest/api/token, then GETs carrying the token; 401 without
a valid one. Usage: imds.py ADDRESS PORT IDENTITY.json LIFETIME_SECONDS
"""
import datetime
import http.server
import json
import secrets
import sys
import threading

address, port, identity_path, lifetime = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
ident = json.load(open(identity_path))
tokens = set()
md = "/latest/meta-data"
iface = f"{md}/network/interfaces/macs/{ident['mac']}"
role = "hakit-lab-role"
expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
values = {
    f"{md}/instance-id": ident["instance_id"],
    f"{md}/placement/availability-zone": ident["az"],
    f"{md}/placement/region": ident["region"],
    f"{md}/mac": ident["mac"],
    f"{md}/local-ipv4": ident["private_ip"],
    f"{iface}/subnet-id": ident["subnet_id"],
    f"{iface}/subnet-ipv4-cidr-block": ident["subnet_cidr"],
    f"{iface}/vpc-id": ident["vpc_id"],
    f"{iface}/security-group-ids": "",
    f"{md}/iam/security-credentials/": role,
    f"{md}/iam/security-credentials/{role}": json.dumps({
        "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIALAB", "SecretAccessKey": "lab-secret",
        "Token": "lab-session", "Expiration": expires, "LastUpdated": expires,
    }),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body="", headers=()):
        data = body.encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if self.path != "/latest/api/token" or not ttl:
            return self.reply(400)
        token = secrets.token_hex(16)
        tokens.add(token)
        self.reply(200, token, [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") not in tokens:
            return self.reply(401)
        value = values.get(self.path)
        self.reply(200, value) if value is not None else self.reply(404)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer((address, port), Handler)
threading.Timer(lifetime, server.shutdown).start()  # bounded: never outlives the test
server.serve_forever()
