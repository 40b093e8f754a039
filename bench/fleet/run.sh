#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Load figures of the optimizer server (docs/optimizer.md, "A fleet"): fleet.py's N simulated
# servos, each a whole session of BUDGET trials, against
#   sqlite  one server on a SQLite file;
#   pg1     one server on PostgreSQL;
#   pg2     two servers on one PostgreSQL (each servo picks one per connection).
# Prints fleet.py's line and the servers' peak RSS.
#
#   bench/fleet/run.sh SERVO_BIN "10 100" [BUDGET]
# PostgreSQL cases need SERVO_POSTGRESQL_URI and SERVO_POSTGRESQL_PASSWORD_FILE
# (tests/services/postgresql.sh env DIR); they are left out without them.
set -euo pipefail
servo=$(realpath "$1")
counts=$2
budget=${3:-5}
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

run_case() { # run_case NAME N REPLICAS STORE
    local r
    urls=""
    config "$2" "$4" >"$1.yaml"
    local first=${#pids[@]}
    for ((r = 0; r < $3; r++)); do
        serve "$1.yaml" "$r"
    done
    local line
    line=$(python3 "$here/fleet.py" --apps "$2" --urls "$urls")
    echo "$1 replicas=$3 $line rss=$(peak_rss "${pids[$first]}")"
    for ((r = first; r < ${#pids[@]}; r++)); do
        kill "${pids[$r]}"
        wait "${pids[$r]}" 2>/dev/null || true
    done
}

sql() {
    PGPASSWORD=$(<"$SERVO_POSTGRESQL_PASSWORD_FILE") psql -qAt "${SERVO_POSTGRESQL_URI%/*}/postgres" -c "$1"
}

for n in $counts; do
    run_case "sqlite-$n" "$n" 1 "$work/sqlite-$n.db"
    if [[ -n ${SERVO_POSTGRESQL_URI:-} ]]; then
        for replicas in 1 2; do
            db=servo_bench_$$_${n}_$replicas
            sql "CREATE DATABASE $db"
            run_case "pg-$n" "$n" "$replicas" "${SERVO_POSTGRESQL_URI%/*}/$db"
            sql "DROP DATABASE $db"
        done
    fi
done
