#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Load figures of the optimizer server (docs/optimizer.md, "A fleet"): fleet.py's N simulated
# servos, each a whole session of BUDGET trials, against
#   sqlite  one server on a SQLite file;
#   pg1     one server on PostgreSQL;
#   pg2     two servers on one PostgreSQL (each servo picks one per connection).
#   kill    pg2, and one of the two SIGKILLed in the middle (after a third of the expected
#           time): the servos fail over to the other; fleet.py checks every study's trials.
# Prints fleet.py's line, then of the last server started (the survivor in `kill`): its peak
# RSS, its CPU time, where p50 and p99 of its own histogram of protocol requests fall; and the
# load average before the run (the machine may be shared).
#
#   bench/fleet/run.sh SERVO_BIN "10 100" [BUDGET [MEASURE_SECONDS [CASES]]]
# CASES: any of "sqlite pg1 pg2 kill" (default: all).
# PostgreSQL cases need SERVO_POSTGRESQL_URI and SERVO_POSTGRESQL_PASSWORD_FILE
# (tests/services/postgresql.sh env DIR); they are left out without them.
set -euo pipefail
servo=$(realpath "$1")
counts=$2
budget=${3:-5}
measure=${4:-2}
cases=${5:-sqlite pg1 pg2 kill}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

config() { # config N STORE
    printf 'store: %s\nsleep: 1s\nthreads: 2\nmax_connections: 4000\nmax_connections_per_address: 4000\n' "$2"
    [[ -n ${SERVO_POSTGRESQL_PASSWORD_FILE:-} ]] && printf 'password_file: %s\n' "$SERVO_POSTGRESQL_PASSWORD_FILE"
    printf 'applications:\n'
    local i
    for ((i = 0; i < $1; i++)); do
        printf '  bench/app%d: {token: tok-%d, budget: %d, measure: {duration: 0s}}\n' "$i" "$i" "$budget"
    done
}

serve() { # serve CONFIG N: starts replica N, appends its pid to pids and its URL to urls
    "$servo" optimizer serve -c "$1" --listen 127.0.0.1:0 >"$1.$2.out" 2>"$1.$2.err" &
    pids+=($!)
    local i
    for i in $(seq 1 600); do
        [[ -s $1.$2.out ]] && break
        sleep 0.1
    done
    urls+=${urls:+,}$(head -n1 "$1.$2.out")
}

peak_rss() { grep VmHWM "/proc/$1/status" | awk '{print $2 / 1024 " MB"}'; }

# The server's CPU time (user + system), in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }

# The server's own view of the protocol requests (its histogram: from a worker taking the
# request to the reply, no queueing or scheduling before): the bucket bounds holding p50, p99.
server_side() { # server_side URL
    curl -s "$1/metrics" | awk '
        /^servo_optimizer_request_duration_seconds_bucket\{route="servo"/ {
            match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
            bound[n] = le; count[n++] = $2 }
        END { total = count[n - 1]
              for (i = 0; i < n; i++) { if (!p50 && count[i] >= total * 0.5) p50 = bound[i]
                                        if (!p99 && count[i] >= total * 0.99) p99 = bound[i] }
              printf "server_p50<=%ss server_p99<=%ss", p50, p99 }'
}

run_case() { # run_case NAME N REPLICAS STORE [KILL]
    local r
    urls=""
    config "$2" "$4" >"$1.yaml"
    local first=${#pids[@]}
    for ((r = 0; r < $3; r++)); do
        serve "$1.yaml" "$r"
    done
    local line kill=() load last_pid=${pids[-1]}
    # a session lasts about (BUDGET + 1) measures; the kill (of the first) a third of the way in
    [[ -n ${5:-} ]] && kill=(--kill "${pids[$first]}" --after "$(awk -v b="$budget" -v m="$measure" 'BEGIN { print (b + 1) * m / 3 }')")
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line=$(python3 "$here/fleet.py" --apps "$2" --urls "$urls" --budget "$budget" \
        --measure "$measure" "${kill[@]}") || true
    local last_url=${urls##*,}
    echo "$1 replicas=$3 $line rss=$(peak_rss "$last_pid") cpu=$(cpu_ms "$last_pid")ms" \
        "$(server_side "$last_url") load=$load"
    for ((r = first; r < ${#pids[@]}; r++)); do
        kill "${pids[$r]}" 2>/dev/null || true
        wait "${pids[$r]}" 2>/dev/null || true
    done
}

sql() {
    PGPASSWORD=$(<"$SERVO_POSTGRESQL_PASSWORD_FILE") psql -qAt "${SERVO_POSTGRESQL_URI%/*}/postgres" -c "$1"
}

pg_case() { # pg_case NAME N REPLICAS [KILL]
    [[ -n ${SERVO_POSTGRESQL_URI:-} ]] || return 0
    local db=servo_bench_$$_${1//-/_}
    sql "CREATE DATABASE $db"
    run_case "$1" "$2" "$3" "${SERVO_POSTGRESQL_URI%/*}/$db" "${4:-}"
    sql "DROP DATABASE $db"
}

for n in $counts; do
    for c in $cases; do
        case $c in
        sqlite) run_case "sqlite-$n" "$n" 1 "$work/sqlite-$n.db" ;;
        pg1) pg_case "pg-$n" "$n" 1 ;;
        pg2) pg_case "pg-$n" "$n" 2 ;;
        kill) pg_case "pg-kill-$n" "$n" 2 kill ;;
        esac
    done
done
