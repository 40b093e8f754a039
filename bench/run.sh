#!/usr/bin/env bash
# Runs the benchmarks against a release-like build in build-bench/ (RelWithDebInfo, no
# sanitizers). docs/performance.md records the results and the targets.
#
#   bench/run.sh            (SERVO_BENCH_DIR=... to build elsewhere)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${SERVO_BENCH_DIR:-build-bench}

scripts/install-deps.sh
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVO_SANITIZE=OFF -DSERVO_FUZZ=OFF \
    -DSERVO_TESTS=OFF -DSERVO_BENCH=ON >/dev/null
cmake --build "$dir" -j "${SERVO_JOBS:-2}" --target servo bench_assembly bench_parse bench_measurement

echo "machine: $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), $(gcc --version | head -n 1)"
echo "targets: servo version < 5 ms and < 5 MB; 100 instances < 20 ms per assembly"
bench/bench_version.sh "$dir/servo" 200
for kind in wait vegeta prometheus mixed; do
    "$dir/bench/bench_assembly" -n 100 -i 200 -k "$kind"
done
echo "targets: a 50 MB Prometheus range response parsed at >= 150 MB/s, peak RSS < 2x its size"
for mode in stream memory; do
    "$dir/bench/bench_parse" -m "$mode" -i 10
done
"$dir/bench/bench_parse" -k long -i 10
for series in 50000 200000; do
    "$dir/bench/bench_measurement" -n "$series" -k one
    "$dir/bench/bench_measurement" -n "$series" -k many
done
