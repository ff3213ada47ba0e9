#!/usr/bin/env python3
"""moto's EC2 server with one difference from moto modelled as AWS behaves.

An ENI created without an address gets one AWS could give it. AWS never hands out the
first four addresses of a subnet (the network, the VPC router, DNS, one reserved) nor the
last (broadcast), and never one already in use. moto picks any address of the subnet at
random. In the labs the VPC router's address belongs to the lab bridge, so an ENI given
it (about 1 lab in 30) could not be reached, and neither could two ENIs given the same one.

Usage: moto_aws.py HOST PORT"""
import ipaddress
import random
import sys

import moto.ec2.models.elastic_network_interfaces as enis
import moto.ec2.utils as utils
from moto.server import main

moto_pick = utils.random_private_ip
handed_out = set()


def aws_private_ip(cidr=None, ipv6=False):
    if not cidr or ipv6:
        return moto_pick(cidr, ipv6)
    net = ipaddress.IPv4Network(cidr)
    usable = [str(net.network_address + i) for i in range(4, net.num_addresses - 1)]
    free = [ip for ip in usable if ip not in handed_out]
    ip = random.choice(free or usable)
    handed_out.add(ip)
    return ip


utils.random_private_ip = aws_private_ip
enis.random_private_ip = aws_private_ip
main(["-H", sys.argv[1], "-p", sys.argv[2]])
