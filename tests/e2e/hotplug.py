#!/usr/bin/env python3
"""The lab's stand-in for the hypervisor: inside a node's namespace, make every ENI that EC2
(the emulator) shows attached to this node's instance appear as a network interface with
the ENI's MAC, plugged into the lab bridge, and remove it when the ENI is detached; like
the hotplugged interface a real instance gets.

Usage: hotplug.py ENDPOINT INSTANCE_ID NAME_PREFIX BRIDGE_NETNS LIFETIME_SECONDS
"""
import subprocess
import sys
import time

import boto3

endpoint, instance, prefix, bridge_ns, lifetime = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="lab", aws_secret_access_key="lab")
plugged = {}  # mac -> (interface, bridge port)
last_error = None


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True)


deadline = time.time() + lifetime
while time.time() < deadline:
    try:
        enis = ec2.describe_network_interfaces()["NetworkInterfaces"]
    except Exception as e:  # the emulator may be restarting; try again
        if repr(e) != last_error:  # said once per kind, for the lab's log
            last_error = repr(e)
            print(f"describe failed: {last_error}", flush=True)
        time.sleep(0.2)
        continue
    attached = {}
    for eni in enis:
        a = eni.get("Attachment") or {}
        if a.get("InstanceId") == instance and a.get("Status") == "attached" and a.get("DeviceIndex", 0) > 0:
            attached[eni["MacAddress"]] = a["DeviceIndex"]
    for mac, index in attached.items():
        if mac not in plugged:
            name, port = f"eni{index}", f"{prefix}e{index}"
            ip("link", "add", name, "address", mac, "type", "veth", "peer", "name", port, "netns", bridge_ns)
            ip("-n", bridge_ns, "link", "set", port, "master", "br0", "up")
            ip("link", "set", name, "up")
            plugged[mac] = (name, port)
    for mac in list(plugged):
        if mac not in attached:
            ip("link", "del", plugged.pop(mac)[0], check=False)
    time.sleep(0.1)
