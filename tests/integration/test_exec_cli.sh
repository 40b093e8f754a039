#!/usr/bin/env bash
# The exec, scripts and wait connectors end to end through the CLI, with small driver scripts:
# `servo describe` / `measure` / `adjust` (text and JSON), a metric subset, an unknown metric,
# adjustments refused before the adjust script runs (out of range, off step, pinned, unknown
# setting or component), `show components|metrics|events`, the scripts connector's hooks
# around measure (in order), the wait connector's measure (its duration and progress), and a
# hung measure script killed at the timeout (with the child it started).
#
# Environment (set by ctest): SERVO_BIN. Needs jq.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools jq
scratch_dir servo-exec

# Nothing from the caller's environment may change the configuration.
clean_env
export SERVO_PLUGIN_PATH= # built-ins only
export NO_COLOR=1

# ---- the drivers ----------------------------------------------------------------------------

cat >describe <<'EOF'
#!/bin/sh
echo '{"progress": 50, "message": "asking the app"}'
echo '{"application":{"components":{"web":{"settings":{"cpu":{"type":"range","unit":"cores","min":0.5,"max":4,"step":0.5,"value":1},"replicas":{"type":"range","min":1,"max":4,"step":1,"value":2},"mem":{"type":"range","unit":"GiB","min":1,"max":4,"step":1,"value":2,"pinned":true},"mode":{"type":"enum","values":["fast","safe"],"value":"safe"}}}}},"measurement":{"metrics":{"throughput":{"unit":"rpm"},"latency":{"unit":"ms"}}}}'
EOF
cat >measure <<'EOF'
#!/bin/sh
cat >measure.stdin
echo "duration=$SERVO_DURATION" >measure.env
echo measure >>order.log
echo '{"progress": 50, "message": "halfway through the load"}'
echo '{"status":"ok","metrics":{"throughput":{"unit":"rpm","value":1200},"latency":{"unit":"ms","values":[{"id":"p50","data":[[1700000000,12.5],[1700000060,13]]}]}},"annotations":{"load":"steady"}}'
EOF
cat >adjust <<'EOF'
#!/bin/sh
cat >adjust.stdin
echo "cpu=$SERVO_WEB_CPU" >adjust.env
touch adjust.ran
echo '{"status":"ok"}'
EOF
cat >hang <<'EOF'
#!/bin/sh
sleep 60 &
echo $! >child.pid
echo 'stuck on the load balancer' >&2
sleep 60
EOF
chmod +x describe measure adjust hang

cat >servo.yaml <<'EOF'
exec:
  describe: ./describe
  measure: ./measure
  adjust: ./adjust
  timeout: 20s
EOF

# ---- describe -------------------------------------------------------------------------------

run describe
expect_rc 0
expect_out "CONNECTOR  COMPONENTS"
expect_out "exec       web.cpu=1"
expect_out "web.mode=safe"
expect_out "throughput (rpm)"
expect_out "latency (ms)"
expect_err "asking the app (50% complete)"

run describe -f json
expect_rc 0
expect_json '.application.components.web.settings.cpu' \
    '{"type":"range","unit":"cores","min":0.5,"max":4,"step":0.5,"pinned":false,"value":1}'
expect_out '"max": 4.0,' # cpu's range is not all integers: its numbers are reals
expect_out '"value": 2' # the replicas' are integers
expect_json '.application.components.web.settings.mem.pinned' 'true'
expect_json '.measurement.metrics' '{"throughput":{"unit":"rpm"},"latency":{"unit":"ms"}}'

# ---- measure --------------------------------------------------------------------------------

run measure -d 30s
expect_rc 0
expect_out "METRIC      UNIT  READINGS"
expect_out "throughput  rpm   1200.00 [exec]"
expect_out "latency     ms    12.50 ("
expect_out "[exec p50]"
expect_err "halfway through the load (50% complete)"
expect_file measure.stdin \
    '{"metrics":["throughput","latency"],"control":{"duration":30.0,"delay":0.0,"warmup":0.0}}'
expect_file measure.env "duration=30"

run measure -f json
expect_rc 0
expect_json '.' '{"metrics":{"throughput":{"unit":"rpm","value":1200},"latency":{"unit":"ms","values":[{"id":"p50","data":[[1700000000,12.5],[1700000060,13]]}]}},"annotations":{"load":"steady"}}'
expect_out '"value": 1200.0'

run measure -f json latency
expect_rc 0
expect_json '.metrics | keys' '["latency"]'
expect_file measure.stdin \
    '{"metrics":["latency"],"control":{"duration":0.0,"delay":0.0,"warmup":0.0}}'

rm -f measure.stdin
run measure latency nope
expect_rc 2
expect_err 'no metric found named "nope" (known: throughput, latency)'
expect_no_file measure.stdin

# ---- adjust ---------------------------------------------------------------------------------

run adjust web.cpu=1.5
expect_rc 0
expect_out "CONNECTOR  SETTINGS"
expect_out "exec       web.cpu=1500m"
expect_out "web.replicas=2"
expect_file adjust.stdin '{"application":{"components":{"web":{"settings":{"cpu":{"value":1.5}}}}},"control":{"duration":0.0,"delay":0.0,"warmup":0.0}}'
expect_file adjust.env "cpu=1.5"

run adjust -f json web.cpu=2 web.mode=fast
expect_rc 0
expect_json '.application.components.web.settings.cpu.value' '2'
expect_json '.application.components.web.settings.mode.value' '"fast"'

rm -f adjust.ran adjust.stdin
refuse() {
    run adjust "$1"
    expect_rc 2
    expect_err "$2"
    expect_no_file adjust.ran
}
refuse web.cpu=9 "adjust: web.cpu: 9 is outside the range [0.5, 4]"
refuse web.cpu=1.2 "adjust: web.cpu: 1.2 is not on a step of 0.5 from 0.5"
refuse web.mem=3 "adjust: web.mem: the setting is pinned"
refuse web.gpu=1 'adjust: web.gpu: component "web" has no setting "gpu"'
refuse db.cpu=1 'adjust: db.cpu: no component named "db"'
refuse web.mode=turbo 'adjust: web.mode: "turbo" is not one of: fast safe'

# ---- show -----------------------------------------------------------------------------------

run show components
expect_rc 0
expect_out "COMPONENT  SETTINGS"
expect_out "web        cpu=1"
expect_out "mode=safe"

run show metrics
expect_rc 0
expect_out "throughput  rpm   exec"
expect_out "latency     ms    exec"

run show events
expect_rc 0
expect_out "describe"
expect_out "measure"
expect_out "adjust"
expect_out "exec"

# ---- scripts around measure -----------------------------------------------------------------

cat >scripts.yaml <<'EOF'
connectors: [exec, scripts]
exec:
  measure: ./measure
  metrics: [{name: throughput, unit: rpm}]
scripts:
  before:
    measure: ['echo "$SERVO_PREPOSITION:$SERVO_EVENT" >> order.log']
  after:
    measure: ['echo "$SERVO_PREPOSITION:$SERVO_EVENT" >> order.log', 'echo done >> order.log']
EOF
rm -f order.log
run -c scripts.yaml measure
expect_rc 0
expect_out "throughput  rpm   1200.00 [exec]"
expect_file order.log $'before:measure\nmeasure\nafter:measure\ndone'

cat >scripts-fail.yaml <<'EOF'
connectors: [exec, scripts]
exec:
  measure: ./measure
scripts:
  before:
    measure: ['echo "no load generator" >&2; exit 3']
EOF
rm -f order.log
run -c scripts-fail.yaml measure
expect_rc 1
expect_err 'measure failed (exit-status): before:measure script "echo "no load generator" >&2; exit 3" exited with status 3: no load generator'
expect_no_file order.log # the measure never ran

# ---- wait -----------------------------------------------------------------------------------

cat >wait.yaml <<'EOF'
wait:
  measure_enabled: true
EOF
run -c wait.yaml measure -d 2s
expect_rc 0
expect_between 1.9 5
expect_err "Waiting 2s for external measurement to complete (0% complete)"
expect_err "Waited 1s of 2s for external measurement to complete (50% complete)"
expect_err "Waited 2s of 2s for external measurement to complete (100% complete)"

run -c wait.yaml describe -f json
expect_rc 0
expect_json '.' '{"application":{"components":{}},"measurement":{"metrics":{}}}'

# ---- a hung measure -------------------------------------------------------------------------

cat >hang.yaml <<'EOF'
exec:
  measure: ./hang
  timeout: 1s
EOF
run -c hang.yaml measure
expect_rc 1
expect_between 0.9 6
expect_err "measure failed (timeout): the measure command of exec timed out after 1s: stuck on the load balancer"
child=$(<child.pid)
checks=$((checks + 1))
for _ in $(seq 50); do
    state=$(awk '{print $3}' "/proc/$child/stat" 2>/dev/null || echo gone)
    [[ $state == gone || $state == Z ]] && break
    sleep 0.1
done
[[ $state == gone || $state == Z ]] || {
    kill -9 "$child" 2>/dev/null || true
    fail "the hung script's child $child survived (state $state)"
}

passed
