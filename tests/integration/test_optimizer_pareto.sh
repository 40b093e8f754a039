#!/usr/bin/env bash
# Several objectives: an embedded study (exec connector, a deterministic cost-versus-latency
# measure) with `objectives:` searches the Pareto front, then
#   - `servo optimizer best --pareto` lists the non-dominated feasible trials (text, and JSON:
#     [{number, settings, objectives}] in the configured order), checked against the stored
#     trials by recomputing the front here with jq;
#   - the run ends by adjusting to the front's trial the prefer weights pick, and says which;
#   - the summary and the trials table count the SLO violations;
#   - the report plots the front;
#   - on a single-objective study, --pareto prints the best trial and says it is
#     single-objective.
#
# Environment (set by ctest): SERVO_BIN. Needs jq.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools jq
scratch_dir servo-pareto
clean_env
export SERVO_PLUGIN_PATH= NO_COLOR=1

fail_logs=(servo.stdout servo.stderr)

cat >describe <<'EOF'
#!/bin/sh
read -r cpu replicas <state
cat <<JSON
{"application":{"components":{"main":{"settings":{
 "cpu":{"type":"range","unit":"cores","min":0.5,"max":4,"step":0.25,"value":$cpu},
 "replicas":{"type":"range","min":1,"max":8,"step":1,"value":$replicas}}}}},
 "measurement":{"metrics":{"latency":{"unit":"ms"},"errors":{"unit":"%"}}}}
JSON
EOF
cat >adjust <<'EOF'
#!/bin/sh
jq -r '.application.components.main.settings | "\(.cpu.value) \(.replicas.value)"' >state
echo '{"status":"ok"}'
EOF
cat >measure <<'EOF'
#!/bin/sh
cat >/dev/null
read -r cpu replicas <state
awk -v c="$cpu" -v r="$replicas" 'BEGIN {
    l = 50 + 400 / (c * r)
    e = c * r < 1.5 ? 5 : 0.5
    printf "{\"status\":\"ok\",\"metrics\":{\"latency\":{\"unit\":\"ms\",\"value\":%.6f},", l
    printf "\"errors\":{\"unit\":\"%%\",\"value\":%.6f}}}\n", e
}'
EOF
chmod +x describe adjust measure
echo "1 2" >state
cat >servo.yaml <<'EOF'
optimizer:
  local:
    objectives:
      - {metric: latency, goal: minimize}
      - {expression: "main.cpu * main.replicas", goal: minimize}
    prefer: [1, 3]
    constraints:
      - {metric: errors, keep: below, threshold: 1}
    budget: 14
    seed: 3
    store: results.db
    measure: {duration: 0s}
exec:
  describe: ./describe
  measure: ./measure
  adjust: ./adjust
EOF

scenario="the study"
timeout 300 "$SERVO_BIN" run >servo.stdout 2>servo.stderr || fail "servo run failed"
check contains servo.stdout "Optimization complete"
check contains servo.stderr "Adjusting to the Pareto front's trial"
check contains servo.stderr "picked by the prefer weights"
check contains servo.stdout "SLO violations"
check contains servo.stdout "Pareto front:"

scenario="best --pareto -f json"
run optimizer best --pareto -f json
expect_rc 0
echo "$out" >front.json
run optimizer history -f json
expect_rc 0
echo "$out" >doc.json
# the front recomputed from the stored trials: feasible, and no feasible trial at least as good
# in both objectives and better in one
jq -c '[.trials[] | select(.feasible) | {number, o: .objectives}] as $f
       | [$f[] | . as $a | select(all($f[]; (.o[0] <= $a.o[0] and .o[1] <= $a.o[1]
           and (.o[0] < $a.o[0] or .o[1] < $a.o[1])) | not)) | .number] | sort' doc.json >expected
jq -c '[.[].number] | sort' front.json >actual
check equals "$(cat actual)" "$(cat expected)"
check test "$(jq length front.json)" -ge 2
check test "$(jq '[.[] | select((.objectives | length) == 2 and (.settings | has("main.cpu")))] | length' front.json)" \
    -eq "$(jq length front.json)"
# objectives in the configured order: the second is cpu * replicas
check equals "$(jq '[.[] | select((.settings["main.cpu"] * .settings["main.replicas"] - .objectives[1]) | fabs > 1e-9)] | length' front.json)" 0
# the picked trial is on the front, and the final adjustment went there
best=$(jq .best doc.json)
check test "$(jq --argjson b "$best" '[.[] | select(.number == $b)] | length' front.json)" -eq 1
check contains servo.stderr "front's trial $best,"

scenario="best --pareto (text)"
run optimizer best --pareto
expect_rc 0
expect_out "Pareto front: $(jq length front.json) feasible trial"
expect_out "$best *"

scenario="violations counted"
violations=$(jq '[.trials[] | select(.reason == "slo-violation")] | length' doc.json)
check equals "$(jq .slo_violations doc.json)" "$violations"
run optimizer history
expect_out "SLO violations: $violations of"

scenario="report"
run report -o report.html
expect_rc 0
check contains report.html "Pareto front"
check contains report.html 'class="front"'

scenario="single objective"
mkdir single && cp describe adjust measure state single/ && cd single
sed -e '/objectives:/,/prefer:/d' -e 's/^    constraints:/    objective: {metric: latency, goal: minimize}\n    constraints:/' \
    -e 's/budget: 14/budget: 3/' ../servo.yaml >servo.yaml
timeout 120 "$SERVO_BIN" run >servo.stdout 2>servo.stderr || fail "servo run failed"
run optimizer best --pareto
expect_rc 0
expect_out "A single-objective study"
expect_out "Best:"
run optimizer best --pareto -f json
expect_rc 0
check equals "$(jq 'length' <<<"$out")" 1
check contains "$scratch/stderr" "single-objective"

passed
