# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Exec servos for the optimizer server tests (test_optimizer_server.sh,
# test_optimizer_postgresql.sh), sourced after lib.sh. The servos' measure script returns a
# deterministic function of the settings; each logs D, A or M per command to DIR/events.log.
#   make_app DIR APP TOKEN [MEASURE_DELAY] [SERVO_UID]   a servo of application APP driving
#                                          $url (its servo_uid when given)
#   start_servo DIR / stop_servo PID SIGNAL  run it / stop it ($servo_pid, $rc)
#   api APP TOKEN EVENT-JSON / trials APP TOKEN / wait_phase APP TOKEN PHASE LIMIT
#   wait_lines FILE N LIMIT / events DIR / session_order BUDGET
make_app() {
    mkdir -p "$1"
    echo "1 2" >"$1/state"
    cat >"$1/servo.yaml" <<EOF
optimizer:
  id: dev.opsani.com/$2
  token: $3
  base_url: $url/
${5:+servo_uid: $5}
settings:
  backoff:
    __default__: {max_time: 90s}
    connect: {max_time: 90s}
exec:
  describe: ./describe
  measure: ./measure
  adjust: ./adjust
  timeout: 60s
EOF
    cat >"$1/describe" <<'EOF'
#!/bin/sh
read -r cpu replicas <state
echo D >>events.log
cat <<JSON
{"application":{"components":{"main":{"settings":{
 "cpu":{"type":"range","unit":"cores","min":0.5,"max":4,"step":0.25,"value":$cpu},
 "replicas":{"type":"range","min":1,"max":8,"step":1,"value":$replicas}}}}},
 "measurement":{"metrics":{"throughput":{"unit":"rps"},"latency":{"unit":"ms"}}}}
JSON
EOF
    cat >"$1/adjust" <<'EOF'
#!/bin/sh
input=$(cat)
cpu=$(printf '%s' "$input" | jq -r '.application.components.main.settings.cpu.value')
replicas=$(printf '%s' "$input" | jq -r '.application.components.main.settings.replicas.value')
echo "$cpu $replicas" >state
echo A >>events.log
echo '{"status":"ok"}'
EOF
    cat >"$1/measure" <<EOF
#!/bin/sh
cat >/dev/null
read -r cpu replicas <state
echo \$\$ >measure.pid
echo M >>events.log
sleep ${4:-0}
# with a gate file, the second measure waits for the release file
if [ -f gate ] && [ "\$(grep -c M events.log)" -eq 2 ]; then
    while [ ! -f release ]; do sleep 0.05; done
fi
EOF
    cat >>"$1/measure" <<'EOF'
awk -v c="$cpu" -v r="$replicas" 'BEGIN {
    t = 100 * c * sqrt(r) - 12 * c * c * r
    l = 400 / (c * r)
    printf "{\"status\":\"ok\",\"metrics\":{\"throughput\":{\"unit\":\"rps\",\"value\":%.6f},", t
    printf "\"latency\":{\"unit\":\"ms\",\"value\":%.6f}}}\n", l
}'
EOF
    chmod +x "$1/describe" "$1/adjust" "$1/measure"
}

start_servo() { # start_servo DIR: sets $servo_pid
    (cd "$1" && exec "$SERVO_BIN" run >servo.stdout 2>>servo.stderr) &
    servo_pid=$!
    servo_pids+=("$servo_pid")
}

stop_servo() { # stop_servo PID SIGNAL: sets $rc
    kill "-$2" "$1" 2>/dev/null || true
    set +e
    wait "$1" 2>/dev/null
    rc=$?
    set -e
}

api() { # api APP TOKEN EVENT-JSON: posts to the servo endpoint; prints "STATUS BODY"
    curl -s -o body.json -w '%{http_code}' -X POST -H "Authorization: Bearer $2" \
        -H 'Content-Type: application/json' --data "$3" \
        "$url/accounts/dev.opsani.com/applications/$1/servo"
}

trials() { # trials APP TOKEN: the trials document
    curl -s -H "Authorization: Bearer $2" "$url/accounts/dev.opsani.com/applications/$1/trials"
}

wait_phase() { # wait_phase APP TOKEN PHASE LIMIT
    local i
    for i in $(seq 1 $(($4 * 10))); do
        [[ $(trials "$1" "$2" | jq -r .phase 2>/dev/null) == "$3" ]] && return 0
        sleep 0.1
    done
    fail "$1 did not reach $3 within $4 s"
}

wait_lines() { # wait_lines FILE N LIMIT
    local i
    for i in $(seq 1 $(($3 * 20))); do
        (($(lines "$1") >= $2)) && return 0
        sleep 0.05
    done
    fail "$1 did not reach $2 lines"
}

events() { tr '\n' ' ' <"$1/events.log" | sed 's/ $//'; }

# The order of a session: D first, then M, then A M per trial, then the final A.
session_order() { # session_order BUDGET
    local order="D M" i
    for i in $(seq 1 "$1"); do order+=" A M"; done
    echo "$order A"
}
