#!/usr/bin/env bash
# `servo run` with the embedded optimizer (optimizer.local) and an exec connector whose measure
# script returns a deterministic function of the settings:
#   - the session: describe, the baseline measured, `budget` adjust+measure pairs, the final
#     adjust to the best settings, then the run stops by itself (exit 0) with the summary;
#   - progress in the log throughout; the store file written; `servo optimizer history/best`
#     read it; the application ends at the best trial's settings;
#   - a second `servo run` resumes the finished study: nothing more runs, the same summary;
#   - no optimizer configured at all: the embedded optimizer with every default;
#   - a description without tunable settings: a clear error, exit 1.
#
# Environment (set by ctest): SERVO_BIN. Needs jq.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools jq
scratch_dir servo-embedded
clean_env
export SERVO_PLUGIN_PATH= NO_COLOR=1

fail_logs=(servo.stdout servo.stderr)

# The application: cpu x replicas; throughput peaks inside the space, latency falls with
# capacity. state holds "cpu replicas".
cat >describe <<'EOF'
#!/bin/sh
read -r cpu replicas <state
cat <<JSON
{"application":{"components":{"main":{"settings":{
 "cpu":{"type":"range","unit":"cores","min":0.5,"max":4,"step":0.25,"value":$cpu},
 "replicas":{"type":"range","min":1,"max":8,"step":1,"value":$replicas}}}}},
 "measurement":{"metrics":{"throughput":{"unit":"rps"},"latency":{"unit":"ms"}}}}
JSON
EOF
cat >adjust <<'EOF'
#!/bin/sh
input=$(cat)
cpu=$(printf '%s' "$input" | jq -r '.application.components.main.settings.cpu.value')
replicas=$(printf '%s' "$input" | jq -r '.application.components.main.settings.replicas.value')
echo "$cpu $replicas" >state
echo "$cpu $replicas" >>adjust.log
echo '{"status":"ok"}'
EOF
cat >measure <<'EOF'
#!/bin/sh
cat >/dev/null
read -r cpu replicas <state
echo "$cpu $replicas" >>measure.log
echo '{"progress": 50, "message": "measuring"}'
awk -v c="$cpu" -v r="$replicas" 'BEGIN {
    t = 100 * c * sqrt(r) - 12 * c * c * r
    l = 400 / (c * r)
    printf "{\"status\":\"ok\",\"metrics\":{\"throughput\":{\"unit\":\"rps\",\"value\":%.6f},", t
    printf "\"latency\":{\"unit\":\"ms\",\"value\":%.6f}}}\n", l
}'
EOF
chmod +x describe adjust measure

write_config() {
    cat >servo.yaml <<EOF
optimizer:
  local:
    objective: {metric: throughput, goal: maximize}
    constraints:
      - {metric: latency, keep: below, threshold: 150}
    budget: 6
    seed: 5
    store: study.db
    measure: {duration: 0s}
exec:
  describe: ./describe
  measure: ./measure
  adjust: ./adjust
  timeout: 30s
EOF
}

run_servo() { # run_servo ARGS...: sets $rc
    set +e
    timeout 120 "$SERVO_BIN" "$@" >servo.stdout 2>servo.stderr
    rc=$?
    set -e
}

# ---- a study from start to end --------------------------------------------------------------

scenario="embedded run"
echo "1 2" >state
write_config
run_servo run
check equals "$rc" 0
check contains servo.stdout "Optimization complete"
check contains servo.stdout "Trials: 7 (the baseline and 6 more)"
check contains servo.stdout "Best: trial"
check contains servo.stdout "Objective: throughput (maximize mean) = "
check contains servo.stdout "Constraints:"
check contains servo.stdout "Settings:"
check contains servo.stdout "TRIAL"
check contains servo.stderr "embedded optimizer, study \"servo\" in study.db"
check contains servo.stderr "Baseline: throughput = "
check contains servo.stderr "Trial 1/6: adjusting to main.cpu="
check contains servo.stderr "Trial 6/6: throughput = "
check contains servo.stderr "Adjusting to the best settings"
check contains servo.stderr "measuring (50% complete)"
check contains servo.stderr "Saying GOODBYE (shutdown)."
check lacks servo.stderr "Sanitizer" # an ASan build reports leaks and errors at exit
check equals "$(lines adjust.log)" 7  # 6 trials and the final adjustment
check equals "$(lines measure.log)" 7 # the baseline and 6 trials
check test -s study.db

"$SERVO_BIN" optimizer history --store study.db -f json >history.json
check equals "$(jq '.trials | length' history.json)" 7
check equals "$(jq -r '.phase' history.json)" done
check equals "$(jq -r '.trials[0].baseline' history.json)" true
check equals "$(jq '[.trials[] | select(.status == "ok")] | length' history.json)" 7
# the application ends at the best trial's settings
best=$(jq '.best' history.json)
check equals "$(cat state)" "$(jq -r ".trials[$best].settings | \"\(.[\"main.cpu\"]) \(.[\"main.replicas\"])\"" history.json | sed 's/\.0 / /; s/\.0$//')"
"$SERVO_BIN" optimizer best --store study.db >best.txt
check contains best.txt "Objective: throughput (maximize mean)"
"$SERVO_BIN" optimizer history --store study.db -f csv >history.csv
check equals "$(head -n1 history.csv | tr -d '\r')" \
    "number,status,feasible,throughput,latency,main.cpu,main.replicas,reason,message,started,finished"
check equals "$(lines history.csv)" 8

# ---- the finished study resumes: nothing more to do -----------------------------------------

scenario="resume"
cp servo.stdout first.stdout
: >adjust.log
: >measure.log
run_servo run
check equals "$rc" 0
check equals "$(lines adjust.log)" 0
check equals "$(lines measure.log)" 0
check contains servo.stdout "Trials: 7 (the baseline and 6 more)"
check equals "$(grep -v '^ *$' servo.stdout | head -n 3)" "$(grep -v '^ *$' first.stdout | head -n 3)"

# ---- a larger budget goes on from where it stopped ------------------------------------------

scenario="budget raised"
sed -i 's/budget: 6/budget: 8/' servo.yaml
run_servo run
check equals "$rc" 0
check equals "$(lines measure.log)" 2
check equals "$(lines adjust.log)" 3
check contains servo.stdout "Trials: 9 (the baseline and 8 more)"

# ---- no optimizer at all: the embedded one with its defaults --------------------------------

scenario="defaults"
echo "1 2" >state
: >adjust.log
: >measure.log
cat >servo.yaml <<'EOF'
exec:
  describe: ./describe
  measure: ./measure
  adjust: ./adjust
EOF
run_servo run
check equals "$rc" 0
check contains servo.stderr "No objective configured: optimizing the mean of throughput (maximize)"
check contains servo.stdout "Trials: 21 (the baseline and 20 more)"
check equals "$(lines measure.log)" 21
check test -s servo-optimizer.db

# ---- nothing to tune -----------------------------------------------------------------------

scenario="no tunable settings"
rm -f study.db
cat >flat <<'EOF'
#!/bin/sh
echo '{"application":{"components":{"main":{"settings":{"cpu":{"type":"range","min":1,"max":1,"step":0,"value":1}}}}}}'
EOF
chmod +x flat
write_config
sed -i 's|describe: ./describe|describe: ./flat|' servo.yaml
run_servo run
check equals "$rc" 1
check contains servo.stdout "Optimization failed: invalid description: no tunable settings"
check lacks servo.stderr "Sanitizer"
check contains servo.stderr "The optimization cannot go on"

passed
