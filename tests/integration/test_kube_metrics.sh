#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kube_metrics connector against a real kube-apiserver (tests/services/kubernetes.sh;
# scripts/test.sh starts it and exports RUNDIR/env) with the resource metrics API aggregated
# into it (`kubernetes.sh metrics-server`: the test metrics server registered as
# metrics-server is, whose usage is half the CPU request and 60 % of the memory request of
# each container). The fake kubelet makes the pods Running.
#   absent     no APIService v1beta1.metrics.k8s.io: the check fails naming it and the
#              remedy; measure fails the same way; with when_unavailable: skip it reports
#              requests, limits and restarts, without usage
#   checks     with the metrics API: the four checks pass
#   measure    one series per metric per main pod (id: the pod), a point per sample, values
#              that follow the pods' requests and limits; no tuning series without a
#              tuning pod
#   tuning     a pod labelled opsani_role=tuning with its own requests: the tuning_* series
#              are its own, the main_* ones leave it out
#   forbidden  an account that may read the Deployment and pods but not
#              pods.metrics.k8s.io: the permission check fails naming it, measure fails
#              (forbidden)
#   container  two containers and no `container`: the check fails listing them; a
#              container that does not exist is named
#   cancel     SIGTERM to `servo run` during a 10 minute measure ends it at once
#   opsani_dev its kube_metrics child measures the tuning and main pods; its "Metrics API
#              is available" check passes
# Without SERVO_KUBE_SERVER it prints SKIP and exits 77.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/kube_lib.sh"
kube_setup python3 ip

kubelet_pid=
servo_pid=
cleanup() {
    [[ -n $servo_pid ]] && { kill "$servo_pid" 2>/dev/null || true; wait "$servo_pid" 2>/dev/null || true; }
    [[ -n $kubelet_pid ]] && { kill "$kubelet_pid" 2>/dev/null || true; wait "$kubelet_pid" 2>/dev/null || true; }
}

scenario=setup
fail() {
    printf 'FAIL: test_kube_metrics [%s]: %s\n' "$scenario" "$1" >&2
    printf '  last: %s (exit %s)\n  stdout: %s\n  stderr: %s\n' "${last_command:-}" "${rc:-}" "${out:-}" "${err:-}" >&2
    exit 1
}
# near A B: |A - B| <= 1e-6 * max(1, |B|)
near() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(abs(a - b) > 1e-6 * max(1, abs(b)))' "$1" "$2"; }

kubeconfig admin.kubeconfig
export KUBECONFIG=$scratch/admin.kubeconfig

web='{"name":"web","image":"nginx:1.25","resources":{"requests":{"cpu":"200m","memory":"128Mi"},"limits":{"cpu":"400m","memory":"256Mi"}}}'
deployment() { # NS REPLICAS CONTAINERS
    api_ok POST "/apis/apps/v1/namespaces/$1/deployments" "$(jq -nc --argjson n "$2" --argjson c "$3" \
        '{apiVersion:"apps/v1",kind:"Deployment",metadata:{name:"web"},spec:{replicas:$n,selector:{matchLabels:{app:"web"}},template:{metadata:{labels:{app:"web"}},spec:{containers:$c}}}}')"
}
# running NS N: waits until N pods of app=web in NS are Running (the kubelet marks them)
running() {
    local count
    for _ in $(seq 1 300); do
        api_ok GET "/api/v1/namespaces/$1/pods?labelSelector=app%3Dweb"
        count=$(jq '[.items[] | select(.status.phase == "Running")] | length' <<<"$api_body")
        [[ $count == "$2" ]] && return 0
        sleep 0.1
    done
    fail "namespace $1: $count of $2 pods Running"
}
config() { # NS [EXTRA YAML LINES]
    cat >servo.yaml <<EOF2
connectors: [kube_metrics]
kube_metrics:
  namespace: $1
  name: web
  metric_collection_frequency: 1s
${2:-}
EOF2
}
# values METRIC: "id value" lines of a `measure -f json` output, one per point
values() { jq -r --arg m "$1" '.metrics[$m].values[]? | .id as $id | .data[] | "\($id) \(.[1])"' <<<"$out"; }
series_ids() { jq -r --arg m "$1" '[.metrics[$m].values[]?.id] | sort | join(" ")' <<<"$out"; }

ns=km-$run_id-a
namespace "$ns"
deployment "$ns" 2 "[$web]"
"$KSERVICES" kubelet "$KRUNDIR" "$ns" --mode ready >kubelet.log 2>&1 &
kubelet_pid=$!
running "$ns" 2
api_ok GET "/api/v1/namespaces/$ns/pods?labelSelector=app%3Dweb"
main_pods=$(jq -r '[.items[].metadata.name] | sort | join(" ")' <<<"$api_body")

# ---- the metrics API absent -------------------------------------------------------------
scenario=absent
api DELETE /apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io
[[ $api_status == 2?? || $api_status == 404 ]] || fail "API DELETE v1beta1.metrics.k8s.io: HTTP $api_status: $api_body"
for _ in $(seq 1 100); do
    code=$(curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -o /dev/null -w '%{http_code}' \
        "$KSERVER/apis/metrics.k8s.io/v1beta1/namespaces/$ns/pods")
    [[ $code == 404 ]] && break
    sleep 0.1
done
expect "the metrics API is gone (HTTP $code)" test "$code" = 404
config "$ns"
run check
expect "check fails" test "$rc" -ne 0
expect "the failure names the APIService" contains "$out$err" "v1beta1.metrics.k8s.io"
expect "the failure says what to do" contains "$out$err" "install metrics-server"
run measure -d 1s -f json
expect "measure fails" test "$rc" -ne 0
expect "measure names the APIService" contains "$err" "APIService v1beta1.metrics.k8s.io) is not available"
config "$ns" "  when_unavailable: skip"
run measure -d 1s -f json
expect "with skip, measure succeeds" test "$rc" = 0
expect "with skip, a warning" contains "$err" "the usage metrics are left out"
expect "with skip, requests are reported" test "$(series_ids main_cpu_request)" = "$main_pods"
expect "with skip, no usage" test -z "$(series_ids main_cpu_usage)"

# ---- the metrics API aggregated -----------------------------------------------------------
scenario=checks
"$KSERVICES" metrics-server "$KRUNDIR" >metrics-server.txt 2>&1 ||
    fail "kubernetes.sh metrics-server: $(cat metrics-server.txt)"
config "$ns"
run check
expect "every check passes" test "$rc" = 0
for name in 'Deployment "web" is readable' "Metrics API Permissions" "Metrics API connectivity" \
    "Container configured or target is single container application"; do
    expect "check '$name' ran" contains "$out$err" "$name"
done

scenario=measure
run measure -d 2500ms -f json
expect "measure succeeds" test "$rc" = 0
for metric in cpu_usage cpu_request cpu_limit cpu_saturation mem_usage mem_request mem_limit mem_saturation pod_restart_count; do
    expect "main_$metric: a series per main pod" test "$(series_ids "main_$metric")" = "$main_pods"
    expect "no tuning_$metric without a tuning pod" test -z "$(series_ids "tuning_$metric")"
done
expect "units" test "$(jq -r '[.metrics.main_cpu_saturation.unit, .metrics.main_pod_restart_count.unit, .metrics.main_cpu_usage.unit] | join(",")' <<<"$out")" = "%,count,"
points=$(jq '[.metrics.main_cpu_usage.values[].data | length] | min' <<<"$out")
expect "a point per sample (3 in 2.5 s at 1 s, got $points)" test "$points" = 3
# usage: half the CPU request, 60 % of the memory request in whole Ki (the metrics server's)
mem_usage=$(( (128 * 1048576 * 6 / 10 + 512) / 1024 * 1024 ))
while read -r id value; do expect "cpu usage of $id: $value" near "$value" 0.1; done < <(values main_cpu_usage)
while read -r id value; do expect "cpu request of $id: $value" near "$value" 0.2; done < <(values main_cpu_request)
while read -r id value; do expect "cpu limit of $id: $value" near "$value" 0.4; done < <(values main_cpu_limit)
while read -r id value; do expect "cpu saturation of $id: $value" near "$value" 50; done < <(values main_cpu_saturation)
while read -r id value; do expect "mem usage of $id: $value" near "$value" "$mem_usage"; done < <(values main_mem_usage)
while read -r id value; do expect "mem request of $id: $value" near "$value" 134217728; done < <(values main_mem_request)
while read -r id value; do expect "mem limit of $id: $value" near "$value" 268435456; done < <(values main_mem_limit)
while read -r id value; do
    expect "mem saturation of $id: $value" near "$value" "$(python3 -c "print(100 * $mem_usage / 134217728)")"
done < <(values main_mem_saturation)
while read -r id value; do expect "restarts of $id: $value" near "$value" 0; done < <(values main_pod_restart_count)
run measure main_cpu_usage -d 0s -f json
expect "only the metric asked for" test "$(jq -r '.metrics | keys | join(",")' <<<"$out")" = main_cpu_usage

# ---- a tuning pod -------------------------------------------------------------------------
scenario=tuning
api_ok POST "/api/v1/namespaces/$ns/pods" '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-tuning","labels":{"app":"web","opsani_role":"tuning"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25","resources":{"requests":{"cpu":"500m","memory":"256Mi"}}}]}}'
running "$ns" 3
run measure -d 0s -f json
expect "measure succeeds" test "$rc" = 0
expect "tuning series: the tuning pod" test "$(series_ids tuning_cpu_usage)" = web-tuning
expect "main series leave it out" test "$(series_ids main_cpu_usage)" = "$main_pods"
expect "tuning cpu usage follows its request" near "$(values tuning_cpu_usage | cut -d' ' -f2)" 0.25
expect "tuning cpu request" near "$(values tuning_cpu_request | cut -d' ' -f2)" 0.5
expect "no limit, no tuning_cpu_limit" test -z "$(series_ids tuning_cpu_limit)"
expect "tuning mem saturation" near "$(values tuning_mem_saturation | cut -d' ' -f2)" \
    "$(python3 -c "print(100 * ((256 * 1048576 * 6 // 10 + 512) // 1024 * 1024) / 268435456)")"
run describe
expect "describe lists the 18 metrics" test "$(grep -c '_\(cpu\|mem\|pod\)_' <<<"$out")" = 18

# ---- forbidden -------------------------------------------------------------------------------
scenario=forbidden
api_ok POST "/api/v1/namespaces/$ns/serviceaccounts" '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"nometrics"}}'
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles" \
    '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"nometrics"},"rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get"]},{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]}'
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" \
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"nometrics\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"nometrics\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"nometrics\",\"namespace\":\"$ns\"}]}"
api_ok POST "/api/v1/namespaces/$ns/serviceaccounts/nometrics/token" '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}'
kubeconfig nometrics.kubeconfig "$(jq -r .status.token <<<"$api_body")"
KUBECONFIG=$scratch/nometrics.kubeconfig run check
expect "check fails" test "$rc" -ne 0
expect "the permission check names what is missing" contains "$out$err" 'not allowed to "list" resource "pods" in group "metrics.k8s.io"'
KUBECONFIG=$scratch/nometrics.kubeconfig run measure -d 0s
expect "measure fails" test "$rc" -ne 0
expect "measure says forbidden" contains "$err" "forbidden"
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles" \
    '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"metrics"},"rules":[{"apiGroups":["metrics.k8s.io"],"resources":["pods"],"verbs":["list"]}]}'
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" \
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"metrics\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"metrics\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"nometrics\",\"namespace\":\"$ns\"}]}"
KUBECONFIG=$scratch/nometrics.kubeconfig run measure -d 0s -f json
expect "granted list on pods.metrics.k8s.io, measure succeeds" test "$rc" = 0
expect "and reads the usage" test "$(series_ids main_cpu_usage)" = "$main_pods"

# ---- containers -----------------------------------------------------------------------------
scenario=container
ns2=km-$run_id-b
namespace "$ns2"
deployment "$ns2" 1 "[$web,{\"name\":\"log\",\"image\":\"busybox\"}]"
config "$ns2"
run check
expect "check fails" test "$rc" -ne 0
expect "several containers named" contains "$out$err" "Container name must be configured for target application with multiple containers (web, log)"
config "$ns2" "  container: nope"
run check
expect "a missing container is named" contains "$out$err" "Configured container nope was not found in target app containers (web, log)"

# ---- cancellation ------------------------------------------------------------------------
# `servo run` turns SIGTERM into the cancellation of the event in progress: the baseline's
# 10 minute measure must end at once.
scenario=cancel
cat >servo.yaml <<EOF2
connectors: [kubernetes, kube_metrics]
kubernetes:
  namespace: $ns
  deployments:
  - name: web
    containers:
    - name: web
      cpu: {min: 100m, max: '1'}
      memory: {min: 128Mi, max: 1Gi}
kube_metrics:
  namespace: $ns
  name: web
  container: web
  metric_collection_frequency: 1s
optimizer:
  local:
    objective: {metric: main_cpu_usage, goal: minimize}
    budget: 2
    store: study.db
    measure: {duration: 10m}
EOF2
"$SERVO_BIN" run >cancel.out 2>cancel.err &
servo_pid=$!
for _ in $(seq 1 300); do
    grep -q "Measuring .* kubernetes metrics" cancel.err && break
    kill -0 "$servo_pid" 2>/dev/null || break
    sleep 0.1
done
err=$(<cancel.err)
expect "the run measures" contains "$err" "kubernetes metrics of Deployment"
sleep 1.5
kill -TERM "$servo_pid"
ended=0
for _ in $(seq 1 100); do
    if ! kill -0 "$servo_pid" 2>/dev/null; then ended=1; break; fi
    sleep 0.1
done
expect "SIGTERM ends a 10 minute measure within 10 s" test "$ended" = 1
set +e
wait "$servo_pid"
rc=$?
set -e
servo_pid=
err=$(<cancel.err)
expect "the measure says it was cancelled" contains "$err" "cancelled while measuring kubernetes metrics"

# ---- opsani_dev's child ------------------------------------------------------------------
scenario=opsani_dev
cat >servo.yaml <<EOF2
connectors: [opsani_dev]
opsani_dev:
  namespace: $ns
  workload_name: web
  service: web
  cpu: {min: 125m, max: '1'}
  memory: {min: 128Mi, max: 1Gi}
  prometheus_base_url: http://127.0.0.1:9
EOF2
run measure -c opsani_dev.kube_metrics -d 0s -f json
expect "opsani_dev's kube_metrics measures" test "$rc" = 0
expect "its tuning pod" test "$(series_ids tuning_cpu_usage)" = web-tuning
expect "its main pods" test "$(series_ids main_cpu_usage)" = "$main_pods"
run check opsani_dev -v --no-remedy -f json
expect "opsani_dev's Metrics API check passes" test "$(jq -r '.. | objects | select(.name? == "Metrics API is available") | .success' <<<"$out")" = true

echo "PASS: test_kube_metrics"
