#!/usr/bin/env bash
# Benchmark: hakit on booted hosts (two Debian 12 containers with systemd as PID 1, real
# apt and systemctl; see tests/it/booted.rs). Runs the booted-pair scenario RUNS times
# (default 1) and prints, per run: setup time with the packages in the apt cache, re-run
# time and the address's absence during a re-run with an unchanged cluster file (0 is
# the bar), reboot times, how long after the master's reboot began the address was
# served again, and rollback time. Beside them, the baseline measured before the fix in
# the issue "Real hosts (1 of 2)": a re-run restarted haproxy and keepalived and the
# address was absent 2.76 s. Asserts nothing itself (the test's own assertions still
# hold). Needs root and what .ci/run installs.
# Usage: bench/booted.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
export PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"
echo "baseline (before): re-run with an unchanged cluster file restarted haproxy and keepalived; address absent 2.76 s"
for run in $(seq 1 "$runs"); do
    line=$(cargo test --test it -- booted_pair:: --nocapture 2>&1 \
        | grep -E "^figure: booted pair" || true)
    echo "run $run:"; echo "$line" | sed "s/^figure: /  /"
done
