#!/usr/bin/env bash
# Start-up cost of the servo binary: wall time of `servo version` over many runs (mean, p50,
# p95, min, max) and its peak resident set size (GNU time's %M, the maximum over the runs).
#
#   bench/bench_version.sh [SERVO_BINARY] [RUNS]      (default build/servo, 200 runs)
#
# The loop times each run with bash's $EPOCHREALTIME (no extra process per sample), so a
# sample is fork + exec + run + exit of the servo as a shell script would see it. It runs in
# an empty directory so that no .env file is read.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
servo=$(realpath "${1:-$root/build/servo}")
runs=${2:-200}
[[ -x $servo ]] || { echo "bench_version: no servo binary at $servo (build first)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench_version: needs /usr/bin/time (package time)" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

for ((i = 0; i < 20; i++)); do # warm the page cache
    "$servo" version >/dev/null
done

samples=$scratch/samples
for ((i = 0; i < runs; i++)); do
    start=$EPOCHREALTIME
    "$servo" version >/dev/null
    end=$EPOCHREALTIME
    echo $((${end/./} - ${start/./}))
done >"$samples"

peak=0
for ((i = 0; i < 20; i++)); do
    kb=$(/usr/bin/time -f %M "$servo" version 2>&1 >/dev/null | tail -n 1)
    ((kb > peak)) && peak=$kb
done

sort -n "$samples" | awk -v runs="$runs" -v peak="$peak" '
    { v[NR] = $1; sum += $1 }
    END {
        printf "servo version, %d runs: mean %.2f ms, p50 %.2f ms, p95 %.2f ms, " \
               "min %.2f ms, max %.2f ms; peak RSS %.1f MB (%d KiB)\n",
               runs, sum / NR / 1000, v[int(NR * 0.50) + 1] / 1000,
               v[int(NR * 0.95) + 1] / 1000, v[1] / 1000, v[NR] / 1000, peak / 1024, peak
    }'
