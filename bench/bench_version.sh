#!/usr/bin/env bash
# Start-up cost of the servo binary: `servo version` run many times; each run's CPU time
# (user + system) and peak RSS from wait4(2), and its wall time: median, p90 and min of each.
# Then the shared objects the dynamic loader maps (ldd) and its own statistics.
#
#   bench/bench_version.sh [SERVO_BINARY] [RUNS]      (default build/servo, 200 runs)
#
# The runs are made by bench_startup (bench/bench_startup.c, built next to the servo in
# <build>/bench/), a small C parent whose memory does not inflate the child's peak RSS. It runs
# in an empty directory so that no .env file is read.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
servo=$(realpath "${1:-$root/build/servo}")
runs=${2:-200}
[[ -x $servo ]] || { echo "bench_version: no servo binary at $servo (build first)" >&2; exit 1; }
runner=${BENCH_STARTUP:-$(dirname "$servo")/bench/bench_startup}
[[ -x $runner ]] || runner=$root/build/bench/bench_startup
[[ -x $runner ]] || { echo "bench_version: no bench_startup (build the bench targets)" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

"$runner" 20 "$servo" version >/dev/null # warm the page cache
"$runner" "$runs" "$servo" version >samples

summary() { # summary COLUMN SCALE UNIT
    cut -d' ' -f"$1" samples | sort -n | awk -v scale="$2" -v unit="$3" '
        { v[NR] = $1 / scale }
        END {
            median = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            p90 = int(NR * 0.9)
            if (p90 < 1) p90 = 1
            printf "median %.2f %s, p90 %.2f %s, min %.2f %s\n", median, unit, v[p90], unit,
                   v[1], unit
        }'
}

printf 'servo version, %d runs (%s)\n' "$runs" "$servo"
printf '  CPU (user+sys): %s' "$(summary 1 1000 ms)"
printf '\n  peak RSS:       %s' "$(summary 2 1024 MB)"
printf '\n  wall:           %s\n' "$(summary 3 1000 ms)"
printf '  shared objects: %s (ldd)\n' "$(ldd "$servo" | grep -c '=>\|ld-linux' || true)"
LD_DEBUG=statistics "$servo" version 2>&1 >/dev/null |
    sed -n 's/^ *[0-9]*: *\(total startup time in dynamic loader\|number of relocations\): */  loader, \1: /p' |
    head -n 2 || true
