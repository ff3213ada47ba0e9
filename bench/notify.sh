#!/usr/bin/env bash
# Benchmark: how long moving the Elastic IP takes when keepalived calls the notify hook,
# as a fresh process each time (as keepalived runs it):
#   hakit:  `hakit notify --node nX master` (finds its ENI by tag, associates with
#           reassociation allowed, reads the association back)
#   awscli: `aws ec2 associate-address --allow-reassociation` (the seeds' notify scripts)
# against moto's EC2 server on loopback. Runs alternate between the two and between the
# two nodes, so every run really moves the address. Prints figures; asserts nothing.
#
# Needs: moto_server and aws (pip install 'moto[server]' awscli), python3, cargo.
# Usage: bench/notify.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null; wait $moto_pid 2>/dev/null; rm -rf "$work"' EXIT

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
done

echo "building hakit (release)..." >&2
cargo build --release -q --bin hakit
hakit=target/release/hakit

ec2() { aws ec2 "$@" --output text; }
vpc=$(ec2 create-vpc --cidr-block 192.0.2.0/24 --query Vpc.VpcId)
ami=$(ec2 describe-images --owners amazon --query 'Images[0].ImageId')
enis=()
for i in 1 2; do
    cidr=$([ "$i" = 1 ] && echo 192.0.2.0/25 || echo 192.0.2.128/25)
    subnet=$(ec2 create-subnet --vpc-id "$vpc" --cidr-block "$cidr" --query Subnet.SubnetId)
    instance=$(ec2 run-instances --image-id "$ami" --count 1 --subnet-id "$subnet" --query 'Instances[0].InstanceId')
    eni=$(ec2 create-network-interface --subnet-id "$subnet" \
        --tag-specifications "ResourceType=network-interface,Tags=[{Key=hakit:cluster,Value=bench},{Key=hakit:node,Value=n$i}]" \
        --query NetworkInterface.NetworkInterfaceId)
    ec2 attach-network-interface --network-interface-id "$eni" --instance-id "$instance" --device-index 1 >/dev/null
    enis+=("$eni")
done
alloc=$(ec2 allocate-address --domain vpc --query AllocationId)

cat >"$work/cluster.toml" <<TOML
name = "bench"
mode = "aws-eip"
profile = "haproxy"

[[node]]
name = "n1"
address = "192.0.2.11"

[[node]]
name = "n2"
address = "192.0.2.139"

[[backend]]
address = "192.0.2.21:3306"

[aws]
eip_allocation_id = "$alloc"
region = "us-east-1"

[vrrp]
virtual_router_id = 51

[paths]
state_dir = "$work/state"
log_dir = "$work/log"
TOML

ms() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e6:.1f}')" "$1" "$2"; }
holder() { ec2 describe-addresses --allocation-ids "$alloc" --query 'Addresses[0].NetworkInterfaceId'; }

: >"$work/hakit.ms"
: >"$work/awscli.ms"
for run in $(seq 1 "$runs"); do
    i=$(( run % 2 ))          # alternate the target node: every run moves the address
    node="n$(( i + 1 ))"
    eni=${enis[$i]}
    t0=$(date +%s%N)
    "$hakit" notify --config "$work/cluster.toml" --node "$node" master 2>>"$work/hakit.log"
    t1=$(date +%s%N)
    [ "$(holder)" = "$eni" ] || { echo "hakit run $run: address not on $eni" >&2; exit 1; }
    ms "$t0" "$t1" >>"$work/hakit.ms"

    other=${enis[$(( 1 - i ))]}
    t0=$(date +%s%N)
    aws ec2 associate-address --allocation-id "$alloc" --network-interface-id "$other" --allow-reassociation >/dev/null
    t1=$(date +%s%N)
    [ "$(holder)" = "$other" ] || { echo "awscli run $run: address not on $other" >&2; exit 1; }
    ms "$t0" "$t1" >>"$work/awscli.ms"
done

python3 - "$work/hakit.ms" "$work/awscli.ms" "$runs" <<'PY'
import statistics, sys
h = [float(x) for x in open(sys.argv[1])]
a = [float(x) for x in open(sys.argv[2])]
print(f"runs={sys.argv[3]} each, alternating; EC2 = moto on loopback")
print(f"hakit  notify master: median {statistics.median(h):.1f} ms, min {min(h):.1f}, max {max(h):.1f}")
print(f"awscli associate-address: median {statistics.median(a):.1f} ms, min {min(a):.1f}, max {max(a):.1f}")
hm, am = statistics.median(h), statistics.median(a)
print(f"notify hakit_median_ms={hm:.1f} awscli_median_ms={am:.1f} ratio={am / hm:.1f}")
PY
