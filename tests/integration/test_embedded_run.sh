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
check contains servo.stdout "Trials: no trials yet"
check lacks servo.stderr "Sanitizer"
check contains servo.stderr "The optimization cannot go on"

# ---- a failed study is not reused: the issue's scenario -------------------------------------
# `servo generate vegeta prometheus && servo run` fails (nothing to tune); with servo.yaml
# fixed, `servo run` starts a new study and says why the last one is not resumed.

scenario="failed study replaced"
mkdir generated && cd generated
cp ../describe ../adjust ../measure .
echo "1 2" >state
"$SERVO_BIN" generate vegeta prometheus >/dev/null
# loopback only: nothing is measured, but no name is looked up either
sed -i 's|http://prometheus:9090|http://127.0.0.1:9|; s|https://example.com/|http://127.0.0.1:9/|' servo.yaml
run_servo run
check equals "$rc" 1
check contains servo.stdout "Optimization failed: invalid description: no tunable settings"
check contains servo.stdout "Trials: no trials yet"
cat >servo.yaml <<'YAML'
exec:
  describe: ./describe
  measure: ./measure
  adjust: ./adjust
YAML
SERVO_OPTIMIZER_LOCAL_BUDGET=2 run_servo run
check equals "$rc" 0
check contains servo.stderr "The stored study \"servo\" in servo-optimizer.db is not resumed: it failed: invalid description: no tunable settings: the description has no settings; it is kept as \"servo.1\" and a new study starts"
check equals "$(grep -c 'is not resumed' servo.stderr)" 1
check contains servo.stdout "Optimization complete"
check contains servo.stdout "Trials: 3 (the baseline and 2 more)"
# history lists the store's studies; history NAME shows one
"$SERVO_BIN" optimizer history >studies.txt
check contains studies.txt "STUDY    PHASE   TRIALS  CREATED"
check grep -Eq '^servo +done +3 +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z +[0-9T:.-]+Z +optimization complete$' studies.txt
check grep -Eq '^servo\.1 +failed +0 +.*invalid description: no tunable settings' studies.txt
check contains studies.txt "2 studies: \`servo optimizer history STUDY\` shows one's trials."
"$SERVO_BIN" optimizer history -f json >studies.json
check equals "$(jq -r '[.[].application] | join(" ")' studies.json)" "servo servo.1"
"$SERVO_BIN" optimizer history servo -f json >servo.json
check equals "$(jq '.trials | length' servo.json)" 3
"$SERVO_BIN" optimizer history --app servo.1 -f json >failed.json
check equals "$(jq -r .phase failed.json)" failed
# CSV times are ISO 8601 UTC to the millisecond
"$SERVO_BIN" optimizer history servo -f csv >servo.csv
check grep -Eq ',[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z,[0-9]{4}-[0-9-]+T[0-9:.]+Z.$' servo.csv
check lacks servo.csv "e+09"

# ---- a study that no longer fits its configuration is kept aside ----------------------------

scenario="configuration changed"
SERVO_OPTIMIZER_LOCAL_BUDGET=2 run_servo run # the same configuration: resumed, nothing to do
check equals "$rc" 0
check lacks servo.stderr "is not resumed"
check contains servo.stdout "Trials: 3 (the baseline and 2 more)"
cat >>servo.yaml <<'YAML'
optimizer:
  local:
    objective: {metric: latency, goal: minimize}
    budget: 1
YAML
run_servo run
check equals "$rc" 0
check contains servo.stderr "The stored study \"servo\" in servo-optimizer.db is not resumed: it was for another configuration (changed: objective); it is kept as \"servo.2\" and a new study starts"
check contains servo.stdout "Trials: 2 (the baseline and 1 more)"
# the described settings changed: a new study again
sed -i 's/"max":8/"max":6/' describe
run_servo run
check equals "$rc" 0
check contains servo.stderr "(changed: described settings); it is kept as \"servo.3\""
"$SERVO_BIN" optimizer history -f json >studies.json
check equals "$(jq -r '[.[].application] | join(" ")' studies.json)" "servo servo.1 servo.2 servo.3"
# another current value (the application left at the best settings) is the same study
echo "1.5 3" >state
sed -i 's/budget: 1/budget: 2/' servo.yaml
run_servo run
check equals "$rc" 0
check lacks servo.stderr "is not resumed"
check contains servo.stdout "Trials: 3 (the baseline and 2 more)"
cd ..

# ---- a study interrupted in a trial's measurement adjusts again first -----------------------

scenario="resume re-adjusts"
mkdir interrupted && cd interrupted
cp ../describe ../adjust .
echo "1 2" >state
# the second measurement (trial 1's) waits for a release file; its start is announced
cat >measure <<'SCRIPT'
cat >/dev/null
read -r cpu replicas <state
echo "$cpu $replicas" >>measure.log
if [ "$(wc -l <measure.log)" -eq 2 ] && [ ! -f release ]; then
    echo $$ >held.pid
    while [ ! -f release ]; do sleep 0.05; done
fi
echo '{"status":"ok","metrics":{"throughput":{"unit":"rps","value":1},"latency":{"unit":"ms","value":1}}}'
SCRIPT
chmod +x measure
write_config
"$SERVO_BIN" run >servo.stdout 2>servo.stderr &
servo_pid=$!
for ((i = 0; i < 1200; i++)); do [[ -s held.pid ]] && break; sleep 0.05; done
check test -s held.pid
kill -KILL "$servo_pid"
wait "$servo_pid" 2>/dev/null || true
kill -KILL "$(cat held.pid)" 2>/dev/null || true
trial1=$(sed -n 1p adjust.log)
check equals "$(sed -n 2p measure.log)" "$trial1"
echo "1 2" >state # the application was reset meanwhile
touch release
run_servo run
check equals "$rc" 0
check contains servo.stderr "Trial 1: the servo said HELLO with the MEASURE pending: adjusting to its settings again"
check lacks servo.stderr "is not resumed"
# trial 1 adjusted again before its measurement: measured at its own settings, not at "1 2"
check equals "$(sed -n 2p adjust.log)" "$trial1"
check equals "$(sed -n 3p measure.log)" "$trial1"
check contains servo.stdout "Trials: 7 (the baseline and 6 more)"
"$SERVO_BIN" optimizer history --store study.db -f json >history.json
check equals "$(jq -r '.trials[1].status' history.json)" ok
check lacks servo.stderr "Sanitizer"

# ---- a store whose directory is missing is named ---------------------------------------------

scenario="missing store directory"
sed -i 's|store: study.db|store: no-such-dir/study.db|' servo.yaml
run_servo run
check equals "$rc" 1
check contains servo.stderr "no-such-dir/study.db: cannot create the store: its directory no-such-dir does not exist"
set +e
"$SERVO_BIN" optimizer history --store no-such-dir/study.db >missing.out 2>missing.err
rc=$?
set -e
check equals "$rc" 1
check contains missing.err "no-such-dir/study.db: cannot open the store: its directory no-such-dir does not exist"
cd ..

passed
