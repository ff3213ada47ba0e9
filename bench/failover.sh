#!/usr/bin/env bash
# Benchmark: failover time in the end-to-end lab (network namespaces, real keepalived and
# HAProxy, moto as EC2), hakit's defaults against the seeds' own configuration (seed 004:
# advert_int 3, `killall -0 haproxy` every 2 s with weight 20, aws-cli in notify_master).
# For a killed proxy and a SIGKILLed keepalived, RUNS runs each (default 10): the time from
# the fault until DescribeAddresses shows the new master's ENI, polled every 20 ms.
# Prints figures and one summary line per scenario; asserts nothing. Needs root and what
# .ci/run installs.
# Usage: bench/failover.sh [RUNS]   (HAKIT_BENCH_PROFILE=debug skips the release build;
# the times are dominated by VRRP timers, not by hakit's CPU time)
set -euo pipefail
cd "$(dirname "$0")/.."
export HAKIT_BENCH_RUNS=${1:-10}
export PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"
profile=()
[ "${HAKIT_BENCH_PROFILE:-release}" = release ] && profile=(--release)
cargo test "${profile[@]}" --test it -- --ignored --exact e2e::failover_benchmark --nocapture 2>&1 \
    | grep -E '^(runs=|proxy-death|node-death|failover |hakit |seed )'
