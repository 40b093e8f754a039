#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How much an idle `servo run` costs: a servo whose optimizer (tests/fake_optimizer.py) has
# answered SLEEP 3600 s, watched for SECONDS (default 60): CPU ticks (utime + stime from
# /proc/PID/stat, at the kernel's USER_HZ) and context switches (voluntary + involuntary, over
# every thread in /proc/PID/task/*/status). Figures in docs/performance.md.
#
#     bench/idle_servo.sh [SERVO_BIN] [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
servo=$(realpath "${1:-$here/build/servo}")
seconds=${2:-60}
work=$(mktemp -d)
fake_pid= servo_pid=
cleanup() {
    [[ -n $servo_pid ]] && kill -KILL "$servo_pid" 2>/dev/null
    [[ -n $fake_pid ]] && kill -TERM "$fake_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
echo '[]' >steps.json
python3 "$here/tests/fake_optimizer.py" --script steps.json --log requests.jsonl >fake.out 2>fake.err &
fake_pid=$!
# wait_for FILE TEXT: until FILE says TEXT, at most 20 s
wait_for() {
    local _
    for _ in $(seq 200); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "idle_servo: $1 never said $2" >&2
    exit 1
}
wait_for fake.out '^listening on '

url=$(sed -n 's/^listening on //p' fake.out)
cat >servo.yaml <<YAML
optimizer:
  id: bench.example.com/idle
  token: bench-token
  base_url: $url/
YAML
"$servo" --config-file servo.yaml run >servo.out 2>servo.err &
servo_pid=$!
# idle from the moment the optimizer answered WHATS_NEXT with its SLEEP
wait_for servo.err 'Sleeping for' 
switches() { cat /proc/"$servo_pid"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }'; }
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' /proc/"$servo_pid"/stat; }
s0=$(switches) t0=$(ticks)
sleep "$seconds"
s1=$(switches) t1=$(ticks)
hz=$(getconf CLK_TCK)
awk -v s=$((s1 - s0)) -v t=$((t1 - t0)) -v hz="$hz" -v d="$seconds" -v bin="$servo" 'BEGIN {
    printf "%s idle for %d s: %d context switches (%.1f/s), %.0f ms CPU\n", bin, d, s, s / d, t * 1000 / hz }'
