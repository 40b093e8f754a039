#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `servo run --listen ADDR` (and SERVO_LISTEN) against the fake optimizer
# (tests/fake_optimizer.py --sequence): /healthz, /readyz and /metrics in Prometheus text
# (the session's events by outcome, the optimizer requests by status, the trial and the
# adjusted setting as gauges, the process's CPU and memory); 405 and 404; an optimizer that
# cannot be reached: alive but not ready; a bad address: exit 2 naming it. And an idle servo
# (sleeping on the optimizer's SLEEP) makes no context switch over 3 s: it never wakes up to
# poll (src/events/cancel.c, the signal thread of src/cli/cmd_run.c).
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. Needs python3, curl.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${SERVO_SOURCE_DIR:?set SERVO_SOURCE_DIR to the source tree}"
need_tools python3 curl
scratch_dir servo-listen
clean_env
export SERVO_PLUGIN_PATH=
export NO_COLOR=1
fake_pid=
servo_pid=
fail_logs=(servo.stderr fake.stderr)
cleanup() {
    if [[ -n $servo_pid ]]; then kill -KILL "$servo_pid" 2>/dev/null || true; fi
    if [[ -n $fake_pid ]]; then kill -TERM "$fake_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
}

# wait_for FILE TEXT: until FILE contains TEXT (a fixed string), at most 20 s.
wait_for() {
    local _
    for _ in $(seq 1 200); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$1 never said: $2"
}

write_config() {
    cat >servo.yaml <<YAML
optimizer:
  id: dev.opsani.com/listen
  token: listen-token
  base_url: $1/
settings:
  backoff:
    connect:
      max_time: 10m
YAML
}

start_servo() {
    "$SERVO_BIN" -c servo.yaml run "$@" >servo.stdout 2>servo.stderr &
    servo_pid=$!
    wait_for servo.stderr "Serving /healthz, /readyz and /metrics on "
    status_url=$(sed -n 's/.*Serving \/healthz, \/readyz and \/metrics on //p' servo.stderr)
}

stop_servo() {
    kill -TERM "$servo_pid"
    set +e
    wait "$servo_pid"
    rc=$?
    set -e
    servo_pid=
}

# get PATH: the status code in $code, the body in body.txt.
get() {
    code=$(curl -s -o body.txt -w '%{http_code}' "${@:2}" "$status_url$1")
}

# The context switches of every thread of the servo.
switches() {
    cat /proc/"$servo_pid"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }'
}

step "a session, then an idle servo"
python3 "$SERVO_SOURCE_DIR/tests/fake_optimizer.py" --sequence --measure-duration 1 \
    --adjust main.cpu=1.5 --sleep 3600 >fake.out 2>fake.stderr &
fake_pid=$!
wait_for fake.out "listening on "
write_config "$(sed -n 's/^listening on //p' fake.out)"
start_servo --listen 127.0.0.1:0
wait_for servo.stderr "Sleeping for 1h"
# quiet once the loop is asleep: two equal readings 0.5 s apart
before=$(switches)
for _ in $(seq 1 40); do
    sleep 0.5
    now=$(switches)
    [[ $now == "$before" ]] && break
    before=$now
done
sleep 3
after=$(switches)
check equals "$((after - before))" 0

get /healthz
check equals "$code" 200
check contains body.txt "ok"
get /readyz
check equals "$code" 200
get /metrics
check equals "$code" 200
m=body.txt
s='servo="dev.opsani.com/listen"'
check contains $m "servo_up{$s} 1"
check contains $m "servo_events_total{$s,event=\"DESCRIBE\",outcome=\"success\"} 1"
check contains $m "servo_events_total{$s,event=\"MEASURE\",outcome=\"success\"} 1"
check contains $m "servo_events_total{$s,event=\"ADJUST\",outcome=\"success\"} 1"
check contains $m "servo_event_duration_seconds_count{$s,event=\"MEASURE\"} 1"
check contains $m "servo_optimizer_requests_total{$s,event=\"HELLO\",status=\"200\"} 1"
check contains $m "servo_optimizer_requests_total{$s,event=\"WHATS_NEXT\",status=\"200\"} 4"
check contains $m "servo_optimizer_request_duration_seconds_count{$s,event=\"WHATS_NEXT\"} 4"
check contains $m "servo_trial{$s} 1"
check contains $m "servo_setting{$s,component=\"main\",setting=\"cpu\"} 1.5"
check contains $m "# TYPE servo_event_duration_seconds histogram"
check grep -Eq '^process_cpu_seconds_total [0-9.]+$' $m
check grep -Eq '^process_resident_memory_bytes [1-9][0-9]+$' $m
get /metrics -X POST
check equals "$code" 405
get /elsewhere
check equals "$code" 404
stop_servo
check equals "$rc" 0
kill -TERM "$fake_pid"
wait "$fake_pid" || true
fake_pid=

step "an optimizer that cannot be reached: alive, not ready; SERVO_LISTEN"
write_config "http://127.0.0.1:$(free_port)"
SERVO_LISTEN=127.0.0.1:0 start_servo
wait_for servo.stderr "retrying in"
get /healthz
check equals "$code" 200
get /readyz
check equals "$code" 503
check contains body.txt "servo dev.opsani.com/listen: the optimizer has not answered"
get /metrics
check contains body.txt "servo_optimizer_requests_total{$s,event=\"HELLO\",status=\"transport\"}"
check contains body.txt "servo_optimizer_retries_total{$s,event=\"HELLO\"}"
stop_servo
check equals "$rc" 0

step "a bad address"
run -c servo.yaml run --listen nowhere
expect_rc 2
expect_err "--listen nowhere: expected HOST:PORT"
run -c servo.yaml run --listen 127.0.0.1:99999
expect_rc 2
expect_err "--listen 127.0.0.1:99999: expected HOST:PORT"

passed
