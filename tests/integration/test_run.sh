#!/usr/bin/env bash
# `servo run` end to end over real HTTP against the fake optimizer (tests/fake_optimizer.py),
# with the exec connector and real signals:
#   - a scripted session (DESCRIBE, MEASURE with a progress report, ADJUST) with SIGTERM in the
#     middle of the adjust, whose script sleeps 30 s: exit 0 within 10 s, GOODBYE
#     {"reason":"SIGTERM"} recorded, the adjust script and its child gone, cmd_uid and
#     servo_uid on every request, the User-Agent equal to HELLO's agent, the token in no log;
#   - --no-poll: HELLO, then nothing until SIGINT, then GOODBYE {"reason":"SIGINT"};
#   - a second signal while a stuck adjust (it ignores SIGTERM) holds the shutdown: exit at
#     once, every child killed;
#   - two servos side by side, each with its own servo_uid and endpoint, logs prefixed;
#   - --check: refused (exit 1) while the checks fail; started once they pass within
#     checks.wait;
#   - --log-format json, --log-file; --interactive without a terminal (exit 2); --dry-run
#     never contacts the optimizer;
#   - --optimizer next to optimizer.local: the remote optimizer for that run, said in the log;
#     --token alone refused; the optimizer flags refused in a multi-servo file without --name.
# (A servo without an optimizer runs the embedded one: that is tested with the optimizer.)
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. Needs python3 and jq.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${SERVO_SOURCE_DIR:?set SERVO_SOURCE_DIR to the source tree}"
fake="$SERVO_SOURCE_DIR/tests/fake_optimizer.py"
need_tools python3 jq
[[ -f $fake ]] || {
    echo "test_run: missing $fake" >&2
    exit 1
}

scratch_dir servo-run
fake_pid=
servo_pid=
cleanup() {
    if [[ -n $servo_pid ]]; then kill -KILL "$servo_pid" 2>/dev/null || true; fi
    if [[ -n $fake_pid ]]; then kill -TERM "$fake_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
}

clean_env
unset POD_NAMESPACE
export SERVO_PLUGIN_PATH= # built-ins only
export NO_COLOR=1

token="tok-$RANDOM-secret-$RANDOM"
fail_logs=(servo.stderr requests.jsonl fake.stderr)

# start_fake STEPS_JSON: the fake optimizer on a free port; sets $port and $fake_pid.
start_fake() {
    printf '%s\n' "$1" >steps.json
    rm -f requests.jsonl fake.out
    python3 "$fake" --script steps.json --log requests.jsonl --token "$token" \
        >fake.out 2>fake.stderr &
    fake_pid=$!
    local _
    for _ in $(seq 1 100); do
        if grep -q '^listening on ' fake.out 2>/dev/null; then
            port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' fake.out)
            return 0
        fi
        sleep 0.1
    done
    fail "the fake optimizer did not start"
}

stop_fake() {
    kill -TERM "$fake_pid" 2>/dev/null || true
    wait "$fake_pid" 2>/dev/null || true
    fake_pid=
}

write_config() {
    cat >servo.yaml <<EOF
servo_uid: servo-uid-1
optimizer:
  id: dev.opsani.com/peer
  token: $token
  base_url: http://127.0.0.1:$port/
settings:
  backoff:
    __default__:
      max_time: 30s
exec:
  describe: ./describe
  measure: ./measure
  adjust: ${1:-./adjust}
  timeout: 60s
EOF
}

# start_servo ARGS...: `servo ARGS` in the background; sets $servo_pid.
start_servo() {
    "$SERVO_BIN" "$@" >servo.stdout 2>servo.stderr &
    servo_pid=$!
}

# wait_servo LIMIT: waits up to LIMIT seconds for the servo; sets $rc and $elapsed.
wait_servo() {
    local deadline=$(($(date +%s) + $1 + 1))
    while kill -0 "$servo_pid" 2>/dev/null; do
        if (($(date +%s) > deadline)); then
            kill -KILL "$servo_pid" 2>/dev/null || true
            wait "$servo_pid" 2>/dev/null || true
            servo_pid=
            fail "the servo did not exit within $1 s"
        fi
        sleep 0.05
    done
    set +e
    wait "$servo_pid"
    rc=$?
    set -e
    servo_pid=
    elapsed=$(awk -v a="$(date +%s.%N)" -v b="$signalled" 'BEGIN { printf "%.2f", a - b }')
}

wait_for_file() {
    local _
    for _ in $(seq 1 200); do
        [[ -s $1 ]] && return 0
        sleep 0.1
    done
    fail "$1 never appeared"
}

# wait_for_text FILE TEXT: until FILE contains TEXT (a fixed string), at most 20 s.
wait_for_text() {
    local _
    for _ in $(seq 1 200); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$1 never said: $2"
}

signal_servo() {
    signalled=$(date +%s.%N)
    kill "-$1" "$servo_pid"
}

# The events the servo posted, in order, one per line (progress reports as EVENT+progress).
events() {
    jq -r '.body.event + (if (.body.param | type) == "object" and (.body.param | has("progress"))
        then "+progress" else "" end)' requests.jsonl | paste -sd' ' -
}

request() { # request N FILTER: jq FILTER of the N-th request body (0-based)
    jq -c -s ".[$1].body | $2" requests.jsonl
}

# gone PID: the process has exited (a zombie counts: in a container nobody may reap the
# orphans of a killed process group); waits up to 2 s for it.
gone() {
    local state _
    for _ in $(seq 1 40); do
        state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo gone)
        [[ $state == gone || $state == Z ]] && return 0
        sleep 0.05
    done
    echo "process $1 is still there (state $state)" >&2
    return 1
}
elapsed_below() { awk -v t="$elapsed" -v limit="$1" 'BEGIN { exit !(t < limit) }'; }

# ---- the drivers ----------------------------------------------------------------------------

cat >describe <<'EOF'
#!/bin/sh
echo '{"application":{"components":{"main":{"settings":{"cpu":{"type":"range","unit":"cores","min":0.25,"max":4,"step":0.125,"value":1},"replicas":{"type":"range","min":1,"max":10,"step":1,"value":2}}}}},"measurement":{"metrics":{"throughput":{"unit":"rps"}}}}'
EOF
cat >measure <<'EOF'
#!/bin/sh
cat >/dev/null
echo '{"progress": 50, "message": "halfway"}'
sleep 0.2
echo '{"status":"ok","metrics":{"throughput":{"unit":"rps","value":12.5}},"annotations":{"stub":"exec"}}'
EOF
cat >adjust <<'EOF'
#!/bin/sh
cat >/dev/null
sleep 30 &
echo $! >sleep.pid
echo $$ >adjust.pid
wait
EOF
cat >stuck-adjust <<'EOF'
#!/bin/sh
trap '' TERM
cat >/dev/null
sleep 30 &
echo $! >sleep.pid
echo $$ >adjust.pid
wait
echo '{"status":"ok"}'
EOF
chmod +x describe measure adjust stuck-adjust

session_steps='[
 {"expect": "HELLO"},
 {"expect": "WHATS_NEXT", "reply": {"cmd": "DESCRIBE", "cmd_uid": "cmd-1", "param": {}}},
 {"expect": "DESCRIPTION"},
 {"expect": "WHATS_NEXT", "reply": {"cmd": "MEASURE", "cmd_uid": "cmd-2",
   "param": {"metrics": ["throughput"], "control": {"duration": 1}}}},
 {"expect": "MEASUREMENT"},
 {"expect": "WHATS_NEXT", "reply": {"cmd": "ADJUST", "cmd_uid": "cmd-3",
   "param": {"state": {"application": {"components": {"main": {"settings":
     {"cpu": {"value": 1.5}, "replicas": {"value": 3}}}}}}, "control": {}}}}
]'

# ---- SIGTERM in the middle of an adjust -----------------------------------------------------

scenario="SIGTERM during adjust"
start_fake "$session_steps"
write_config
rm -f adjust.pid sleep.pid
start_servo -l TRACE run --log-file run.log
wait_for_file adjust.pid
wait_for_file sleep.pid
sleep 0.3
signal_servo TERM
wait_servo 10
stop_fake
check equals "$rc" 0
check elapsed_below 10
check gone "$(cat adjust.pid)"
check gone "$(cat sleep.pid)"
check equals "$(events)" \
    "HELLO WHATS_NEXT DESCRIPTION WHATS_NEXT MEASUREMENT+progress MEASUREMENT WHATS_NEXT GOODBYE"
check equals "$(request 7 .)" \
    '{"event":"GOODBYE","param":{"reason":"SIGTERM"},"servo_uid":"servo-uid-1"}'
check equals "$(jq -r '.body.servo_uid' requests.jsonl | sort -u)" "servo-uid-1"
check equals "$(request 2 .param.cmd_uid)" '"cmd-1"'
check equals "$(request 2 '.param | [.status, .message, .reason]')" '["ok",null,"success"]'
check equals "$(request 4 '.param | [.progress, .cmd_uid, .message]')" '[50,"cmd-2","halfway"]'
check equals "$(request 5 '.param | del(.metrics) ')" \
    '{"status":"ok","message":null,"reason":"success","annotations":{"stub":"exec"},"cmd_uid":"cmd-2"}'
check equals "$(request 5 '.param.metrics')" '{"throughput":{"unit":"rps","value":12.5}}'
agent=$(jq -r -s '.[0].body.param.agent' requests.jsonl)
check equals "$(jq -r '.headers["user-agent"]' requests.jsonl | sort -u)" "$agent"
check equals "$(request 0 '.param.telemetry | keys')" '["servox.platform","servox.version"]'
check equals "$(jq -r '.headers.authorization' requests.jsonl | sort -u)" "Bearer $token"
check contains servo.stderr "What's Next? => ADJUST"
check contains servo.stderr "Adjusting... [main.cpu=1.5, main.replicas=3]"
check contains servo.stderr "Measuring... [metrics=throughput]"
check contains servo.stderr "Described: 1 components, 1 metrics"
check contains servo.stderr "Measured: 1 readings, 1 annotations"
check contains servo.stderr "Received exit signal SIGTERM"
check contains run.log "| INFO     | servo - What's Next? => DESCRIBE"
check lacks servo.stderr "$token"
check lacks run.log "$token"
check lacks servo.stderr "Sanitizer" # an ASan build reports leaks and errors at exit

# ---- --no-poll, SIGINT, JSON logs -----------------------------------------------------------

scenario="--no-poll"
start_fake '[]'
write_config
start_servo run --no-poll --log-format json
for _ in $(seq 1 100); do
    [[ -s requests.jsonl ]] && break
    sleep 0.1
done
sleep 0.5
signal_servo INT
wait_servo 10
stop_fake
check equals "$rc" 0
check equals "$(events)" "HELLO GOODBYE"
check equals "$(request 1 .param)" '{"reason":"SIGINT"}'
check equals "$(head -n1 servo.stderr | jq -r 'has("time") and has("level") and has("message")')" true
check equals "$(jq -r 'select(.message == "Saying HELLO.") | .level' servo.stderr)" INFO
check lacks servo.stderr "Sanitizer"

# ---- a second signal while the shutdown waits for a stuck adjust ----------------------------

scenario="second signal"
start_fake "$session_steps"
write_config "exec ./stuck-adjust" # the script itself leads the group and ignores TERM
rm -f adjust.pid sleep.pid
start_servo run
wait_for_file adjust.pid
wait_for_file sleep.pid
sleep 0.3
signal_servo TERM
sleep 0.5
kill -TERM "$servo_pid"
wait_servo 10
stop_fake
check equals "$rc" 1
check elapsed_below 2
check gone "$(cat adjust.pid)"
check gone "$(cat sleep.pid)"
check contains servo.stderr "while shutting down after SIGTERM"

# ---- several servos --------------------------------------------------------------------------

scenario="two servos"
start_fake '[]' # every WHATS_NEXT is answered with a long SLEEP
cat >servo.yaml <<EOF
name: app1
servo_uid: servo-uid-1
optimizer: {id: dev.opsani.com/app1, token: $token, base_url: "http://127.0.0.1:$port/"}
exec: {describe: ./describe}
---
name: app2
servo_uid: servo-uid-2
optimizer: {id: dev.opsani.com/app2, token: $token, base_url: "http://127.0.0.1:$port/"}
exec: {describe: ./describe}
EOF
start_servo run
# Each servo has the reply to its WHATS_NEXT (the fake optimizer logs the request before it
# answers): it logs that it sleeps once it has read the SLEEP.
wait_for_text servo.stderr "| app1(servo) - Sleeping for 1h (script done)."
wait_for_text servo.stderr "| app2(servo) - Sleeping for 1h (script done)."
signal_servo TERM
wait_servo 10
stop_fake
check equals "$rc" 0
check equals "$(jq -r '.path + " " + .body.event + " " + .body.servo_uid' requests.jsonl | sort)" \
"/accounts/dev.opsani.com/applications/app1/servo GOODBYE servo-uid-1
/accounts/dev.opsani.com/applications/app1/servo HELLO servo-uid-1
/accounts/dev.opsani.com/applications/app1/servo WHATS_NEXT servo-uid-1
/accounts/dev.opsani.com/applications/app2/servo GOODBYE servo-uid-2
/accounts/dev.opsani.com/applications/app2/servo HELLO servo-uid-2
/accounts/dev.opsani.com/applications/app2/servo WHATS_NEXT servo-uid-2"
check equals "$(jq -c -s '[.[] | select(.body.event == "GOODBYE") | .body.param] | unique' \
    requests.jsonl)" '[{"reason":"SIGTERM"}]'
check contains servo.stderr "| app1(servo) - Sleeping for 1h (script done)."
check contains servo.stderr "| app2(servo) - Sleeping for 1h (script done)."

# ---- --check --------------------------------------------------------------------------------

scenario="--check fails"
start_fake '[]'
write_config
sed -i 's|measure: ./measure|measure: ./later-measure|' servo.yaml
printf 'checks:\n  wait: 0s\n' >>servo.yaml # one round (the default waits 30 minutes)
set +e
timeout 30 "$SERVO_BIN" run --check >servo.stdout 2>servo.stderr
rc=$?
set -e
stop_fake
check equals "$rc" 1
check contains servo.stderr "Checks failed"
check equals "$(wc -c <requests.jsonl)" 0 # the optimizer never heard of it

scenario="--check waits for the checks to pass"
start_fake '[]'
write_config
sed -i 's|measure: ./measure|measure: ./later-measure|' servo.yaml
printf 'checks:\n  wait: 20s\n  delay: 1s\n' >>servo.yaml
(sleep 1.5 && cp measure later-measure) &
start_servo run --check
for _ in $(seq 1 150); do
    grep -q WHATS_NEXT requests.jsonl 2>/dev/null && break
    sleep 0.1
done
signal_servo TERM
wait_servo 10
stop_fake
rm -f later-measure
check equals "$rc" 0
check contains servo.stderr "Checks passed"
check equals "$(events)" "HELLO WHATS_NEXT GOODBYE"

# ---- refusals -------------------------------------------------------------------------------

scenario="--interactive without a terminal"
port=9 # never contacted
write_config
set +e
timeout 30 "$SERVO_BIN" run --interactive </dev/null >servo.stdout 2>servo.stderr
rc=$?
set -e
check equals "$rc" 2
check contains servo.stderr "--interactive needs a terminal"

scenario="--dry-run"
start_fake '[]'
write_config
set +e
timeout 30 "$SERVO_BIN" run --dry-run >servo.stdout 2>servo.stderr
rc=$?
set -e
stop_fake
check equals "$rc" 0
check equals "$(wc -c <requests.jsonl)" 0

# ---- the optimizer flags and optimizer.local ------------------------------------------------

scenario="--optimizer replaces optimizer.local for the run"
start_fake '[]'
cat >local.yaml <<EOF
optimizer:
  local: {budget: 3, store: local-study.db}
exec: {describe: ./describe}
EOF
start_servo -c local.yaml --optimizer dev.opsani.com/peer --token "$token" \
    --base-url "http://127.0.0.1:$port/" run --no-poll
for _ in $(seq 1 100); do
    [[ -s requests.jsonl ]] && break
    sleep 0.1
done
signal_servo INT
wait_servo 10
stop_fake
check equals "$rc" 0
check equals "$(events)" "HELLO GOODBYE"
check contains servo.stderr "the optimizer given on the command line replaces the embedded one (optimizer.local) for this run"
check test ! -e local-study.db

scenario="the optimizer flags without --optimizer or --url next to optimizer.local"
set +e
timeout 30 "$SERVO_BIN" -c local.yaml --token "$token" run >servo.stdout 2>servo.stderr
rc=$?
set -e
check equals "$rc" 2
check contains servo.stderr "--token, --token-file and --base-url need an optimizer, --optimizer or --url: optimizer.local runs the embedded optimizer"
check test ! -e local-study.db

scenario="the optimizer flags in a multi-servo file need --name"
cat >two.yaml <<EOF
name: first
exec: {describe: ./describe}
---
name: second
exec: {describe: ./describe}
EOF
for command in run list config; do
    set +e
    timeout 30 "$SERVO_BIN" -c two.yaml --optimizer dev.opsani.com/peer --token "$token" \
        "$command" >servo.stdout 2>servo.stderr
    rc=$?
    set -e
    check equals "$rc" 2
    check contains servo.stderr "servo: error: an optimizer cannot be specified in a multi-servo configuration: two.yaml holds 2 servos; pick one with --name"
done
set +e
"$SERVO_BIN" -c two.yaml -n second --optimizer dev.opsani.com/peer --token "$token" list \
    >servo.stdout 2>servo.stderr
rc=$?
set -e
check equals "$rc" 0
check contains servo.stdout "dev.opsani.com/peer"

passed
