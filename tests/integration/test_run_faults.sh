#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `servo run` against the fake optimizer (tests/fake_optimizer.py) when things go wrong
# (issue 11):
#   - handlers that ignore their deadlines (the stubborn plugin): the telemetry before HELLO
#     is abandoned after its deadline and the grace period, a measure likewise; the failures
#     are reported to the optimizer; a connector whose abandoned handler still runs is
#     reported busy rather than entered again; the servo goes on and exits cleanly (run it
#     with an ASan build to catch a handler reading freed memory).
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR, SERVO_BUILD_DIR. Needs python3, jq.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${SERVO_SOURCE_DIR:?set SERVO_SOURCE_DIR to the source tree}"
: "${SERVO_BUILD_DIR:?set SERVO_BUILD_DIR to the build directory}"
need_tools python3 jq
fake="$SERVO_SOURCE_DIR/tests/fake_optimizer.py"
stubborn="$SERVO_BUILD_DIR/tests/integration-plugins/stubborn.so"
[[ -f $stubborn ]] || fail "missing $stubborn (build the tests)"

scratch_dir servo-run-faults
fake_pid=
servo_pid=
cleanup() {
    if [[ -n $servo_pid ]]; then kill -KILL "$servo_pid" 2>/dev/null || true; fi
    if [[ -n $fake_pid ]]; then kill -TERM "$fake_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
}
clean_env
unset POD_NAMESPACE
export SERVO_PLUGIN_PATH=
export NO_COLOR=1
fail_logs=(servo.stderr requests.jsonl fake.stderr)
fail_tail=300 # sanitizer reports are long

# optimizer STEPS_JSON: the fake optimizer on a free port, answering from STEPS_JSON.
optimizer() {
    printf '%s\n' "$1" >steps.json
    rm -f requests.jsonl fake.out
    python3 "$fake" --script steps.json --log requests.jsonl >fake.out 2>fake.stderr &
    fake_pid=$!
    local _
    for _ in $(seq 1 200); do
        port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' fake.out 2>/dev/null)
        [[ -n $port ]] && return 0
        sleep 0.1
    done
    fail "the fake optimizer did not start"
}

# The requests posting $e, progress reports left out.
results='select(.body.event == $e and ((.body.param | type) != "object" or
    (.body.param | has("progress") | not))) | .body.event'

# posted COUNT EVENT LIMIT: waits up to LIMIT seconds until the servo posted EVENT COUNT times.
posted() {
    local deadline=$(($(date +%s) + $3)) n
    while :; do
        n=$(jq -r --arg e "$2" "$results" requests.jsonl 2>/dev/null | wc -l)
        ((n >= $1)) && return 0
        (($(date +%s) <= deadline)) || fail "$2 was posted $n times within $3 s, expected $1"
        kill -0 "$servo_pid" 2>/dev/null || fail "the servo exited"
        sleep 0.1
    done
}

# stop_servo LIMIT: SIGTERM, then the exit status in $rc (fails after LIMIT seconds).
stop_servo() {
    kill -TERM "$servo_pid"
    local deadline=$(($(date +%s) + $1))
    while kill -0 "$servo_pid" 2>/dev/null; do
        (($(date +%s) <= deadline)) || fail "the servo did not exit within $1 s of SIGTERM"
        sleep 0.1
    done
    set +e
    wait "$servo_pid"
    rc=$?
    set -e
    servo_pid=
}

# body N EVENT FILTER: jq FILTER of the N-th (0-based) request body posting EVENT.
body() {
    jq -c -s --arg e "$2" "[.[] | select(.body.event == \$e and ((.body.param | type) != \"object\"
        or (.body.param | has(\"progress\") | not)))][$1].body | $3" requests.jsonl
}

step "handlers that ignore their deadlines are abandoned; the servo goes on"
measure='{"cmd": "MEASURE", "param": {"metrics": ["stubbornness"], "control": {"duration": 1}}}'
optimizer "[{\"expect\": \"WHATS_NEXT\", \"reply\": $measure},
  {\"expect\": \"MEASUREMENT\"},
  {\"expect\": \"WHATS_NEXT\", \"reply\": $measure, \"delay\": 11},
  {\"expect\": \"MEASUREMENT\"},
  {\"expect\": \"WHATS_NEXT\", \"reply\": $measure},
  {\"expect\": \"MEASUREMENT\"}]"
cat >servo.yaml <<EOF
optimizer:
  id: dev.opsani.com/faults
  token: t0ken
  base_url: http://127.0.0.1:$port/
connectors: [stubborn]
stubborn:
  telemetry_seconds: 20
  measure_seconds: 25
EOF
started=$(date +%s.%N)
SERVO_PLUGIN_PATH=$stubborn "$SERVO_BIN" run >servo.stdout 2>servo.stderr &
servo_pid=$!
posted 1 HELLO 30
hello_after=$(jq -r 'select(.body.event == "HELLO") | .time' requests.jsonl |
    awk -v s="$started" '{ printf "%.1f", $1 - s }')
# the telemetry deadline (5 s) and the grace period (5 s), not the handler's 20 s
check awk -v t="$hello_after" 'BEGIN { exit !(t < 16) }'
check contains servo.stderr "telemetry handler of stubborn did not stop 5 s after its deadline; abandoned"
# the first MEASURE comes while the abandoned telemetry handler still runs: busy
posted 1 MEASUREMENT 30
check equals "$(body 0 MEASUREMENT .param.status)" '"failed"'
check equals "$(body 0 MEASUREMENT .param.reason)" '"busy"'
# the second, 11 s later (the telemetry handler has returned), runs, overruns 1 s + 10 s by the grace period and is abandoned
posted 2 MEASUREMENT 40
check equals "$(body 1 MEASUREMENT .param.status)" '"failed"'
check equals "$(body 1 MEASUREMENT .param.reason)" '"timeout"'
check contains servo.stderr "measure handler of stubborn did not stop 5 s after its deadline; abandoned"
# the third while it still runs: busy, at once
posted 3 MEASUREMENT 10
check equals "$(body 2 MEASUREMENT .param.reason)" '"busy"'
stop_servo 15
expect_rc 0
check lacks servo.stderr "Sanitizer"
check lacks servo.stderr "runtime error"

# start_servo: `servo run` with the stubborn plugin (measuring at once) in the background.
start_servo() {
    printf '%s\n' "optimizer:" "  id: dev.opsani.com/faults" "  token: t0ken" \
        "  base_url: http://127.0.0.1:$port/" "connectors: [stubborn]" "stubborn: {}" >servo.yaml
    SERVO_PLUGIN_PATH=$stubborn "$SERVO_BIN" run >servo.stdout 2>servo.stderr &
    servo_pid=$!
}

stop_fake() {
    kill -TERM "$fake_pid" 2>/dev/null || true
    wait "$fake_pid" 2>/dev/null || true
    fake_pid=
}

count() { jq -r --arg e "$1" "$results" requests.jsonl | wc -l; }

step "a 4xx to a result is final: reported as a failure, never measured again"
stop_fake
optimizer "[{\"expect\": \"WHATS_NEXT\", \"reply\": $measure},
  {\"expect\": \"MEASUREMENT\", \"status\": 413, \"reply\": {\"detail\": \"Request Entity Too Large\"}},
  {\"expect\": \"MEASUREMENT\"},
  {\"expect\": \"WHATS_NEXT\", \"reply\": {\"cmd\": \"SLEEP\", \"param\": {\"duration\": 3600}}}]"
start_servo
posted 2 MEASUREMENT 30
check equals "$(body 0 MEASUREMENT .param.status)" '"ok"'
check equals "$(body 1 MEASUREMENT .param.status)" '"failed"'
check equals "$(body 1 MEASUREMENT .param.reason)" '"result-rejected"'
check equals "$(body 1 MEASUREMENT '.param.message | test("HTTP 413")')" true
posted 2 WHATS_NEXT 30
sleep 1
check equals "$(count MEASUREMENT)" 2
check equals "$(grep -c 'Measuring\.\.\.' servo.stderr)" 1
stop_servo 15
expect_rc 0

step "a SLEEP of 0 is backed off"
stop_fake
optimizer '[{"expect": "WHATS_NEXT", "reply": {"cmd": "SLEEP", "param": {"duration": 0}}, "repeat": 1000}]'
start_servo
posted 1 WHATS_NEXT 30
sleep 6
# 1 s, 2 s, 4 s: a handful in 6 s, not 20 a second
n=$(count WHATS_NEXT)
check awk -v n="$n" 'BEGIN { exit !(n >= 2 && n <= 5) }'
check contains servo.stderr "SLEEP of 0: backing off 1s instead"
check contains servo.stderr "SLEEP of 0: backing off 2s instead"
stop_servo 15
expect_rc 0

step "a command refused again and again is backed off"
stop_fake
invalid='{"expect": "WHATS_NEXT", "reply": {"cmd": "MEASURE", "param": 5}}, {"expect": "MEASUREMENT"}'
optimizer "[$invalid, $invalid, $invalid, $invalid, $invalid, $invalid, $invalid, $invalid]"
start_servo
posted 1 MEASUREMENT 30
sleep 6
n=$(count MEASUREMENT)
check awk -v n="$n" 'BEGIN { exit !(n >= 2 && n <= 5) }'
check equals "$(body 0 MEASUREMENT .param.reason)" '"invalid-param"'
stop_servo 15
expect_rc 0

step "the measure child dies with a SIGKILLed servo"
stop_fake
optimizer "[{\"expect\": \"WHATS_NEXT\", \"reply\": $measure}]"
# the command's shell is the servo's child; its pid in measure.pid (a setsid daemon of a
# SIGKILLed servo, by contrast, is init's: only a cgroup would catch that)
printf '%s\n' "optimizer:" "  id: dev.opsani.com/faults" "  token: t0ken" \
    "  base_url: http://127.0.0.1:$port/" "exec:" "  measure: 'echo \$\$ >measure.pid; sleep 60'" \
    "  metrics: [{name: stubbornness}]" >servo.yaml
"$SERVO_BIN" run >servo.stdout 2>servo.stderr &
servo_pid=$!
for _ in $(seq 1 300); do [[ -s measure.pid ]] && break; sleep 0.1; done
[[ -s measure.pid ]] || fail "the measure command did not start"
kill -KILL "$servo_pid"
wait "$servo_pid" 2>/dev/null || true
servo_pid=
child=$(<measure.pid)
alive() { [[ -e /proc/$1 ]] && ! grep -q '^[^)]*) [ZX]' "/proc/$1/stat" 2>/dev/null; }
for _ in $(seq 1 50); do alive "$child" || break; sleep 0.1; done
if alive "$child"; then
    kill -KILL "$child" 2>/dev/null || true
    fail "the measure command ($child) outlived the SIGKILLed servo"
fi

passed
