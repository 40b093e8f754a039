#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A whole optimization with opsani_dev against the real API server and the test Prometheus:
# a Deployment and its Service, the Envoy sidecar injected by `servo inject-sidecar`, the
# checks passing, then `servo run` with the embedded optimizer tuning the tuning pod through a
# budget of trials, and at its end (opsani_dev's `promote: true`, the promote event) the main
# Deployment given the best; `servo opsani-dev promote` by hand does the same again.
#
# The test plays the kubelet and Envoy. The load model (opsani_dev_model.py) reads each pod's CPU and
# memory requests and pushes, for each pod, the counter envoy_cluster_upstream_rq_total growing
# at a rate that depends on them: 400 * min(cpu, 1) * mem / (mem + 0.25) requests a second
# (cpu in cores, mem in GiB). A tuning pod with less than 400m of CPU crash-loops (the fake
# kubelet's crashloop mode): that trial is rejected (the Sobol points of seed 3 include one)
# and, with opsani_dev's on_failure: rollback, the tuning pod is recreated with the previous
# trial's settings. The Pushgateway group of the tuning pod is replaced at each push,
# so the rate Prometheus computes is the current pod's alone.
# Without the kubernetes and prometheus services it prints SKIP and exits 77.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/kube_lib.sh"
ns=ods-$run_id
kube_setup --prometheus python3
PATH=$(dirname "$SERVO_BIN"):$PATH
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for group in main tuning; do
        curl -sS --max-time 10 -X DELETE -o /dev/null "$PUSH/metrics/job/envoy-$ns/instance/$group" || true
    done
    rm -f "$TARGETS/$ns.json"
}

fail() {
    printf 'FAIL: test_opsani_dev_session: %s\n' "$1" >&2
    for f in servo.stdout servo.stderr model.log; do
        [[ -f $f ]] && { printf '  %s:\n' "$f" >&2; tail -n 25 "$f" | sed 's/^/    | /' >&2; }
    done
    exit 1
}
kubeconfig kubeconfig "" "" "" "$ns"
export KUBECONFIG=$scratch/kubeconfig

# ---- the application ---------------------------------------------------------------------------
namespace "$ns"
api_ok POST "/apis/apps/v1/namespaces/$ns/deployments" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"},"annotations":{"prometheus.opsani.com/scrape":"true","prometheus.opsani.com/scheme":"http","prometheus.opsani.com/path":"/stats/prometheus","prometheus.opsani.com/port":"9901"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25","ports":[{"name":"http","containerPort":8080}],"resources":{"requests":{"cpu":"500m","memory":"512Mi"},"limits":{"cpu":"500m","memory":"512Mi"}}}]}}}}'
api_ok POST "/api/v1/namespaces/$ns/services" '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http"}]}}'

"$KSERVICES" kubelet "$KRUNDIR" "$ns" --mode ready --selector 'opsani_role!=tuning' >kubelet.log 2>&1 &
pids+=($!)

"$SERVO_BIN" inject-sidecar -n "$ns" -s web --image envoy:test deployment/web >inject.out 2>&1 ||
    fail "inject-sidecar: $(cat inject.out)"

# ---- the load model: plays Envoy (metrics) and the tuning pod's kubelet -------------------------
MODEL_TOKEN=$KTOKEN python3 "$SERVO_SOURCE_DIR/tests/integration/opsani_dev_model.py" "$KSERVER" "$KCA" "$ns" "$PUSH" "$KSERVICES" "$KRUNDIR" >model.log 2>&1 &
pids+=($!)

# ---- the servo -----------------------------------------------------------------------------------
cat >servo.yaml <<EOF
optimizer:
  local:
    objective: {expression: "tuning_request_rate / (tuning.cpu + 4 * tuning.mem)", goal: maximize}
    budget: 6
    seed: 3
    store: study.db
    measure: {duration: 6s, warmup: 5s}
opsani_dev:
  namespace: $ns
  workload_name: web
  service: web
  envoy_sidecar_image: envoy:test
  prometheus_base_url: $PROM
  prometheus_step: 1s
  timeout: 60s
  cpu: {min: 250m, max: '1', step: 125m}
  memory: {min: 128Mi, max: 1Gi, step: 128Mi}
  promote: true
EOF

# the main pods roll out with the sidecar
for _ in $(seq 1 150); do
    rolled=$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '(.status.observedGeneration // 0) >= .metadata.generation and (.status.updatedReplicas // 0) == 1 and (.status.readyReplicas // 0) == 1 and (.status.replicas // 0) == 1')
    [[ $rolled == true ]] && break
    sleep 0.2
done
[[ $rolled == true ]] || fail "the injected Deployment did not roll out"
# Prometheus lists the main pod as a target, as Kubernetes discovery would (file_sd at the
# Pushgateway's address: up; the Envoy samples themselves come through the Pushgateway)
main_pods=$(get "/api/v1/namespaces/$ns/pods?labelSelector=app%3Dweb,opsani_role!%3Dtuning" '[.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name]')
jq -c --arg ns "$ns" --arg a "${PUSH#http://}" '[.[] | {targets: [$a], labels: {kubernetes_namespace: $ns, kubernetes_pod_name: .}}]' \
    <<<"$main_pods" >"$TARGETS/.$ns.json"
mv "$TARGETS/.$ns.json" "$TARGETS/$ns.json"
for _ in $(seq 1 150); do
    up=$(curl -sS --max-time 5 "$PROM/api/v1/targets?state=active" | jq --arg ns "$ns" '[.data.activeTargets[] | select(.labels.kubernetes_namespace == $ns and .health == "up")] | length')
    [[ $up == $(jq length <<<"$main_pods") ]] && break
    sleep 0.2
done
# Prometheus sees the main pod's traffic
for _ in $(seq 1 100); do
    n=$(curl -sS --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=envoy_cluster_upstream_rq_total{kubernetes_namespace=\"$ns\"}" | jq '.data.result | length')
    [[ $n -ge 1 ]] && break
    sleep 0.2
done

# before any measurement there is no tuning pod: those checks alone fail (the metrics API is
# a warning that test_kube_metrics, which may run meanwhile, makes come and go: left out; and
# only a critical failure halts, so every check runs)
set +e
timeout 60 "$SERVO_BIN" check -f json --halt-on critical >check.json 2>check.err
set -e
failed=$(jq -r '[.. | objects | select(has("success") and .success == false) | .name | select(. != "Metrics API is available")] | join("|")' check.json)
[[ $failed == "Tuning pod is running|Pods are processing traffic" ]] || fail "checks before the tuning pod: failed: $failed"
# a first measurement creates it (the kubernetes connector does, before measure)
timeout 120 "$SERVO_BIN" measure -d 1s tuning_instance_count >measure.out 2>&1 || true
for _ in $(seq 1 150); do
    ready=$(get "/api/v1/namespaces/$ns/pods?labelSelector=opsani_role%3Dtuning" '[.items[].status.conditions[]? | select(.type == "Ready") | .status] == ["True"]')
    [[ $ready == true ]] && break
    sleep 0.2
done
[[ $ready == true ]] || fail "no ready tuning pod after servo measure: $(cat measure.out)"
# the load model's traffic on the tuning pod reaches Prometheus; then every check passes
for _ in $(seq 1 100); do
    n=$(curl -sS --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=envoy_cluster_upstream_rq_total{opsani_role=\"tuning\",kubernetes_namespace=\"$ns\"} > 0" | jq '.data.result | length')
    [[ $n -ge 1 ]] && break
    sleep 0.2
done
set +e
timeout 60 "$SERVO_BIN" check -f json >check.json 2>check.err
rc=$?
set -e
failed=$(jq -r '[.. | objects | select(has("success") and .success == false) | .name | select(. != "Metrics API is available")] | join("|")' check.json)
[[ $rc == 0 && -z $failed ]] || fail "checks with the tuning pod: failed: $failed (exit $rc)"
[[ $(jq '[.. | objects | select(has("success"))] | length' check.json) -ge 24 ]] || fail "fewer checks than opsani_dev's 24"

set +e
timeout 400 "$SERVO_BIN" run >servo.stdout 2>servo.stderr
rc=$?
set -e
[[ $rc == 0 ]] || fail "servo run exited $rc"
grep -q "Optimization complete" servo.stdout || fail "no summary"

"$SERVO_BIN" optimizer history --store study.db -f json >history.json
[[ $(jq '.trials | length' history.json) == 7 ]] || fail "not 7 trials: $(jq -c '[.trials[].status]' history.json)"
rejected=$(jq '[.trials[] | select(.status != "ok")] | length' history.json)
ok=$(jq '[.trials[] | select(.status == "ok")] | length' history.json)
echo "trials: $ok ok, $rejected rejected"
[[ $rejected -ge 1 ]] || fail "no trial was rejected"
first_rejected=$(jq '[.trials[] | select(.status != "ok")][0].number' history.json)
[[ $(jq -r ".trials[$first_rejected].reason" history.json) == start-failed ]] ||
    fail "the rejection is not start-failed: $(jq -c ".trials[$first_rejected]" history.json)"
grep -q "on_failure: rollback: the tuning pod has its previous settings again" servo.stderr ||
    fail "the rejected trial was not rolled back"
# the pod that came after the crash-looping one has the previous trial's settings
previous=$((first_rejected - 1))
prev_cpu=$(jq -r ".trials[$previous].settings[\"tuning.cpu\"]" history.json)
prev_mem=$(jq -r ".trials[$previous].settings[\"tuning.mem\"]" history.json)
after_crash=$(grep -A1 -- '-> crashloop' model.log | sed -n 2p)
[[ $after_crash == *"cpu $prev_cpu mem $(printf '%.3f' "$prev_mem") -> ready"* ]] ||
    fail "after the rejection the tuning pod is \"$after_crash\", not trial $previous's (cpu $prev_cpu, mem $prev_mem)"
# every measured trial saw the load model's traffic on the tuning pod
[[ $(jq '[.trials[] | select(.status == "ok") | .metrics.tuning_request_rate.mean | select(. > 0)] | length' history.json) == "$ok" ]] ||
    fail "a measured trial has no tuning_request_rate: $(jq -c '[.trials[] | .metrics.tuning_request_rate.mean]' history.json)"

# the tuning pod runs the best trial's settings; the run promoted them to the main Deployment
best=$(jq '.best' history.json)
best_cpu=$(jq -r ".trials[$best].settings[\"tuning.cpu\"]" history.json)
best_mem=$(jq -r ".trials[$best].settings[\"tuning.mem\"]" history.json)
main_is_best() {
    requests=$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.spec.template.spec.containers[] | select(.name == "web") | .resources.requests')
    python3 - "$requests" "$best_cpu" "$best_mem" <<'EOF'
import json, sys
req, cpu, mem = json.loads(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
c = req["cpu"]
c = float(c[:-1]) / 1000 if c.endswith("m") else float(c)
m = req["memory"]
units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
m = next((float(m[:-2]) * f for u, f in units.items() if m.endswith(u)), None) or float(m)
assert abs(c - cpu) < 1e-6 and abs(m / 2**30 - mem) < 1e-3, (c, m)
EOF
}
grep -q "dispatching the promote event" servo.stderr || fail "no promote event at the end of the run"
grep -q "Promoted the best settings to Deployment web in $ns: {\"resources\":" servo.stderr ||
    fail "the run did not log what it promoted: $(grep -i promot servo.stderr)"
main_is_best || fail "after the run, main Deployment $requests is not the best trial's ($best_cpu cores, $best_mem GiB)"
# by hand, as the docs show it: the same settings again
"$SERVO_BIN" opsani-dev promote >promote.out 2>&1 || fail "promote: $(cat promote.out)"
grep -q "Deployment web in $ns now runs the tuning pod's settings" promote.out || fail "promote said: $(cat promote.out)"
main_is_best || fail "after promote, main Deployment $requests is not the best trial's ($best_cpu cores, $best_mem GiB)"
echo "ok: test_opsani_dev_session (best: trial $best, cpu $best_cpu, mem $best_mem GiB)"
