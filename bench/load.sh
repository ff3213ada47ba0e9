#!/usr/bin/env bash
# Benchmark: the load nemesis of issue 14. In the namespace lab's aws-eip pair, no fault,
# only stress-ng on every core (CPU and I/O) for HAKIT_LOAD_SECONDS (default 60), at
# advert_int 0.5 s (the default), 0.3 s and 0.2 s: spurious VRRP transitions and Elastic
# IP moves under load, beside the node-death takeover time each interval gives. Prints
# one figure line per interval; asserts nothing. Needs root and what .ci/run installs,
# plus stress-ng.
# Usage: bench/load.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export HAKIT_LOAD_SECONDS=${1:-60}
export PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"
command -v stress-ng >/dev/null || apt-get install -y -qq stress-ng >/dev/null
cargo test --test it -- --ignored --exact soak::load_nemesis_benchmark --nocapture 2>&1 \
    | grep -E '^figure: load nemesis'
