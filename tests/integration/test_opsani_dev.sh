#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# servo inject-sidecar / eject-sidecar and the opsani_dev connector's checks against a real
# kube-apiserver (tests/services/kubernetes.sh; scripts/test.sh starts it and exports
# RUNDIR/env) and the test Prometheus with its Pushgateway (Envoy-shaped metrics pushed there
# play the sidecars). The fake kubelet makes the pods ready.
#   inject       dry run changes nothing; inject adds opsani-envoy (resources, env, ports)
#                proxying to the named target port, retargets the Service to 9980 and
#                records the original; a second inject is refused and changes nothing
#   eject        restores the Service's targetPort (a name) and the pod template exactly;
#                a second eject is refused
#   conflicts    a container on 9901 refused, naming it; several Service ports and no
#                --port refused, listing them
#   rollback     an account that may patch Deployments but not Services: inject fails on
#                the Service and the Deployment is as it was
#   checks       opsani_dev's checks, in order: several containers and no `container` fail
#                naming them; a Service port colliding with 9901; then, injected, annotated,
#                traffic pushed: the pods not Prometheus targets, then a target down, each
#                named; listed as targets (file_sd) and up: every check but the tuning
#                pod's passes
#   more-checks  no resource requirements, the opsani_role label on the template, a missing
#                Service: each fails naming it, with its hint; fixed, each passes
#   rollout      workload_kind: Rollout: the CRD missing is named, with its hint; installed,
#                the checks read the Rollout; the sidecar injected into it (the check then
#                passes) and ejected (template and Service as they were); promote writes the
#                tuning pod's resources into it (a merge patch, the rest kept)
# Without SERVO_KUBE_SERVER (or SERVO_PUSHGATEWAY_URL) it prints SKIP and exits 77.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/kube_lib.sh"
kube_setup --prometheus

kubelet_pid=
cleanup() {
    [[ -n $kubelet_pid ]] && { kill "$kubelet_pid" 2>/dev/null || true; wait "$kubelet_pid" 2>/dev/null || true; }
    for ns in "${namespaces[@]}"; do
        curl -sS --max-time 10 -X DELETE -o /dev/null "$PUSH/metrics/job/envoy-$ns" || true
        rm -f "$TARGETS/$ns.json"
    done
}

scenario=setup
fail() {
    printf 'FAIL: test_opsani_dev [%s]: %s\n' "$scenario" "$1" >&2
    printf '  last: %s (exit %s)\n  stdout: %s\n  stderr: %s\n' "${last_command:-}" "${rc:-}" "${out:-}" "${err:-}" >&2
    exit 1
}
# envoy_targets NS SELECTOR up|down: the pods SELECTOR selects listed as Prometheus targets
# (file_sd, with the labels Kubernetes discovery gives them), at the Pushgateway (up) or at a
# closed port (down); waits until Prometheus has scraped each one with that health
envoy_targets() {
    local ns=$1 selector=$2 health=$3 address=${PUSH#http://} pods want _
    [[ $health == down ]] && address=127.0.0.1:9
    pods=$(get "/api/v1/namespaces/$ns/pods?labelSelector=$selector" '[.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name]')
    jq -c --arg ns "$ns" --arg a "$address" '[.[] | {targets: [$a], labels: {kubernetes_namespace: $ns, kubernetes_pod_name: .}}]' \
        <<<"$pods" >"$TARGETS/.$ns.json"
    mv "$TARGETS/.$ns.json" "$TARGETS/$ns.json"
    want=$(jq -c --arg h "$health" '[.[] | {pod: ., health: $h}] | sort' <<<"$pods")
    for _ in $(seq 1 150); do
        [[ $(curl -sS --max-time 5 "$PROM/api/v1/targets?state=active" | jq -c --arg ns "$ns" \
            '[.data.activeTargets[] | select(.labels.kubernetes_namespace == $ns) | {pod: .labels.kubernetes_pod_name, health}] | sort') == "$want" ]] && return 0
        sleep 0.2
    done
    fail "Prometheus did not scrape the targets of $ns as $health: $(curl -sS "$PROM/api/v1/targets?state=active" | jq -c '.data.activeTargets[].labels')"
}
kubeconfig admin.kubeconfig
export KUBECONFIG=$scratch/admin.kubeconfig

app='{"name":"web","image":"nginx:1.25","ports":[{"name":"http","containerPort":8080}],"resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"cpu":"500m","memory":"512Mi"}}}'
deployment() { # NS CONTAINERS
    api_ok POST "/apis/apps/v1/namespaces/$1/deployments" "$(jq -nc --argjson c "$2" \
        '{apiVersion:"apps/v1",kind:"Deployment",metadata:{name:"web"},spec:{replicas:1,selector:{matchLabels:{app:"web"}},template:{metadata:{labels:{app:"web"}},spec:{containers:$c}}}}')"
}
service() { # NS PORTS
    api_ok POST "/api/v1/namespaces/$1/services" "$(jq -nc --argjson p "$2" \
        '{apiVersion:"v1",kind:"Service",metadata:{name:"web"},spec:{selector:{app:"web"},ports:$p}}')"
}
template() { get "/apis/apps/v1/namespaces/$1/deployments/web" '.spec.template'; }
svc_ports() { get "/api/v1/namespaces/$1/services/web" '.spec.ports'; }

# ---- inject / eject ----------------------------------------------------------------------
scenario=inject
ns=od-$run_id-a
namespace "$ns"
deployment "$ns" "[$app]"
service "$ns" '[{"name":"web","port":80,"targetPort":"http"}]'
before_template=$(template "$ns")
before_ports=$(svc_ports "$ns")

run inject-sidecar -n "$ns" -s web --image envoy:test --dry-run deployment/web
expect "dry run succeeds" test "$rc" = 0
expect "dry run prints the container patch" contains "$out" '"OPSANI_ENVOY_PROXIED_CONTAINER_PORT"'
expect "dry run prints the Service patch" contains "$out" '/spec/ports/0/targetPort'
expect "dry run changes nothing" test "$(template "$ns")" = "$before_template"
expect "dry run leaves the Service" test "$(svc_ports "$ns")" = "$before_ports"

run inject-sidecar -n "$ns" -s web --image envoy:test deployment/web
expect "inject succeeds" test "$rc" = 0
expect "inject says so" contains "$out" "Envoy sidecar injected to Deployment web in $ns"
expect "inject names the Service change" contains "$out" 'port 80 now targets 9980 (was "http")'
sidecar=$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.spec.template.spec.containers[] | select(.name == "opsani-envoy")')
expect "sidecar resources" test "$(jq -c .resources <<<"$sidecar")" = '{"limits":{"cpu":"250m","memory":"256Mi"},"requests":{"cpu":"125m","memory":"128Mi"}}'
expect "sidecar env (the named port resolved to 8080)" test "$(jq -c '[.env[] | [.name, .value]]' <<<"$sidecar")" = \
    '[["OPSANI_ENVOY_PROXY_SERVICE_PORT","9980"],["OPSANI_ENVOY_PROXIED_CONTAINER_PORT","8080"],["OPSANI_ENVOY_PROXY_METRICS_PORT","9901"]]'
expect "sidecar ports" test "$(jq -c '[.ports[] | [.name, .containerPort]]' <<<"$sidecar")" = '[["opsani-proxy",9980],["opsani-metrics",9901]]'
expect "sidecar image" test "$(jq -r .image <<<"$sidecar")" = envoy:test
expect "Service retargeted" test "$(get "/api/v1/namespaces/$ns/services/web" '.spec.ports[0].targetPort')" = 9980
expect "app container untouched" test "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.spec.template.spec.containers[0]')" = "$(jq -c '.spec.containers[0]' <<<"$before_template")"

injected_template=$(template "$ns")
run inject-sidecar -n "$ns" -s web --image envoy:test deployment/web
expect "second inject refused" test "$rc" = 1
expect "second inject says why" contains "$err" "already has the Envoy sidecar"
expect "second inject changes nothing" test "$(template "$ns")" = "$injected_template"

scenario=eject
run eject-sidecar -n "$ns" deployment/web
expect "eject succeeds" test "$rc" = 0
expect "eject names the Service" contains "$out" 'port 80 targets "http" again'
expect "template restored exactly" test "$(template "$ns")" = "$before_template"
expect "Service restored exactly" test "$(svc_ports "$ns")" = "$before_ports"
expect "annotation removed" test "$(get "/api/v1/namespaces/$ns/services/web" '.metadata.annotations["servo.opsani.com/envoy-sidecar"]')" = null
run eject-sidecar -n "$ns" deployment/web
expect "second eject refused" test "$rc" = 1
expect "second eject says why" contains "$err" "has no Envoy sidecar"

# ---- bad input ----------------------------------------------------------------------------
scenario=conflicts
ns=od-$run_id-b
namespace "$ns"
deployment "$ns" "[$app,{\"name\":\"stats\",\"image\":\"x\",\"ports\":[{\"containerPort\":9901}]}]"
service "$ns" '[{"name":"web","port":80,"targetPort":8080},{"name":"admin","port":81,"targetPort":8081}]'
run inject-sidecar -n "$ns" -s web deployment/web
expect "port conflict refused" test "$rc" = 1
expect "port conflict names the container" contains "$err" 'container "stats" already uses port 9901'
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/web" '{"spec":{"template":{"spec":{"containers":[{"name":"stats","$patch":"delete"}]}}}}'
api_ok GET "/apis/apps/v1/namespaces/$ns/deployments/web"
run inject-sidecar -n "$ns" -s web deployment/web
expect "ambiguous port refused" test "$rc" = 1
expect "ambiguous port lists the ports" contains "$err" 'exposes several ports (80 (web), 81 (admin))'
run inject-sidecar -n "$ns" -s web -p admin deployment/web
expect "named Service port chosen" test "$rc" = 0
expect "the second port retargeted" test "$(get "/api/v1/namespaces/$ns/services/web" '[.spec.ports[].targetPort]')" = '[8080,9980]'
run eject-sidecar -n "$ns" deployment/web
expect "eject of the second port" test "$(get "/api/v1/namespaces/$ns/services/web" '[.spec.ports[].targetPort]')" = '[8080,8081]'
run inject-sidecar -n "$ns" rollout/web
expect "rollout target refused" test "$rc" = 2

# ---- a failure midway ---------------------------------------------------------------------
scenario=rollback
ns=od-$run_id-c
namespace "$ns"
deployment "$ns" "[$app]"
service "$ns" '[{"name":"web","port":80,"targetPort":8080}]'
api_ok POST "/api/v1/namespaces/$ns/serviceaccounts" '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"half"}}'
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles" \
    '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"half"},"rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get","patch"]},{"apiGroups":[""],"resources":["services"],"verbs":["get","list"]}]}'
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" \
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"half\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"half\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"half\",\"namespace\":\"$ns\"}]}"
api_ok POST "/api/v1/namespaces/$ns/serviceaccounts/half/token" '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}'
kubeconfig half.kubeconfig "$(jq -r .status.token <<<"$api_body")"
before_template=$(template "$ns")
before_ports=$(svc_ports "$ns")
KUBECONFIG=$scratch/half.kubeconfig run inject-sidecar -n "$ns" -s web deployment/web
expect "inject fails on the Service" test "$rc" = 1
expect "the failure names the Service" contains "$err" 'Service "web" in namespace'
expect "the Deployment was restored" contains "$err" "restored: nothing changed"
expect "template as it was" test "$(template "$ns")" = "$before_template"
expect "Service as it was" test "$(svc_ports "$ns")" = "$before_ports"

# ---- opsani_dev's checks ------------------------------------------------------------------
scenario=checks
ns=od-$run_id-d
namespace "$ns"
deployment "$ns" "[$(jq -c '.name = "app"' <<<"$app"),{\"name\":\"log\",\"image\":\"busybox\"}]"
service "$ns" '[{"name":"web","port":80,"targetPort":"http"}]'
"$KSERVICES" kubelet "$KRUNDIR" "$ns" --mode ready >kubelet.log 2>&1 &
kubelet_pid=$!
cat >servo.yaml <<EOF2
opsani_dev:
  namespace: $ns
  workload_name: web
  service: web
  cpu: {min: 125m, max: '1'}
  memory: {min: 128Mi, max: 1Gi}
  prometheus_base_url: $PROM
  envoy_sidecar_image: envoy:test
EOF2
run check opsani_dev -v --no-remedy -f json
expect "checks fail" test "$rc" = 1
failed() { jq -r '[.. | objects | select(has("success") and .success == false) | .name] | join("|")' <<<"$out"; }
message() { jq -r --arg n "$1" '.. | objects | select(.name? == $n) | .message' <<<"$out"; }
expect "several containers, no container: named" contains "$(message "Container is readable")" 'several containers (app, log)'
rolled_out() {
    api_until "/apis/apps/v1/namespaces/$ns/deployments/web" '(.status.observedGeneration // 0) >= .metadata.generation and (.status.updatedReplicas // 0) == 1 and (.status.readyReplicas // 0) == 1 and (.status.replicas // 0) == 1' 30 ||
        fail "Deployment $ns/web did not roll out: $(jq -c .status <<<"$api_body"); kubelet: $(tail -5 kubelet.log)"
}
rolled_out
cat >>servo.yaml <<EOF2
  container: app
EOF2
run check opsani_dev -v --no-remedy -f json
expect "container found" test "$(message "Container is readable")" = null
expect "no sidecar: failure with the inject hint" contains "$(failed)" "Deployment has the Envoy sidecar"
hint=$(jq -r '.. | objects | select(.name? == "Deployment has the Envoy sidecar") | .hint' <<<"$out")
expect "the hint is the command" contains "$hint" "servo inject-sidecar -n $ns --image envoy:test --service web deployment/web"

# --remedy runs the sidecar check's remedy (`servo opsani-dev inject-sidecar`, the target from
# the settings), then checks again
PATH=$(dirname "$SERVO_BIN"):$PATH run check opsani_dev -v --remedy -f json
expect "the remedy injected the sidecar" test "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '[.spec.template.spec.containers[].name]')" = '["app","log","opsani-envoy"]'
expect "the remedy retargeted the Service" test "$(get "/api/v1/namespaces/$ns/services/web" '.spec.ports[0].targetPort')" = 9980
expect "the sidecar check passed after the remedy" test "$(message "Deployment has the Envoy sidecar")" = null
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/web" '{"spec":{"template":{"metadata":{"annotations":{"prometheus.opsani.com/scrape":"true","prometheus.opsani.com/scheme":"http","prometheus.opsani.com/path":"/stats/prometheus","prometheus.opsani.com/port":"9901"}}}}}'
# the sidecars' metrics, as Prometheus would scrape them
cat >metrics.txt <<EOF2
# TYPE envoy_cluster_upstream_rq_total counter
envoy_cluster_upstream_rq_total{opsani_role="main",kubernetes_namespace="$ns",kubernetes_pod_name="web-1"} 1200
envoy_cluster_upstream_rq_total{opsani_role="tuning",kubernetes_namespace="$ns",kubernetes_pod_name="web-tuning"} 300
EOF2
curl -sS --max-time 10 --data-binary @metrics.txt "$PUSH/metrics/job/envoy-$ns" || fail "push to the Pushgateway"
for _ in $(seq 1 150); do
    n=$(curl -sS --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=envoy_cluster_upstream_rq_total{kubernetes_namespace=\"$ns\"}" | jq '.data.result | length')
    [[ $n == 2 ]] && break
    sleep 0.2
done
[[ $n == 2 ]] || fail "Prometheus did not scrape the pushed metrics"
rolled_out
for _ in $(seq 1 150); do
    pods=$(get "/api/v1/namespaces/$ns/pods?labelSelector=app%3Dweb" '[.items[] | select(.metadata.deletionTimestamp == null) | [.spec.containers[].name] | index("opsani-envoy") != null] | all')
    [[ $pods == true ]] && break
    sleep 0.2
done
run check opsani_dev -v --no-remedy -f json
expect "not yet targets: named" contains "$(message "Pods are Prometheus targets")" "is not a Prometheus target (no active target labelled kubernetes_namespace=\"$ns\""
envoy_targets "$ns" app%3Dweb down
run check opsani_dev -v --no-remedy -f json
expect "a target down: named" contains "$(message "Pods are Prometheus targets")" "(http://127.0.0.1:9/metrics) is down: "
envoy_targets "$ns" app%3Dweb up
run check opsani_dev -v --no-remedy -f json
# the metrics API comes and goes with test_kube_metrics (which may run meanwhile): its check
# is a warning, present whatever its outcome
expect "only the tuning pod is missing" test "$(failed | sed 's/^Metrics API is available|//')" = "Tuning pod is running"
expect "the metrics API check is a warning" test "$(jq -r '.. | objects | select(.name? == "Metrics API is available") | .severity' <<<"$out")" = warning
order=$(jq -r '[.. | objects | select(has("success")) | .name] | join("|")' <<<"$out")
expect "ServoX's order" test "$order" = "Connectivity to Kubernetes|Kubernetes version is supported|Kubernetes permissions|Metrics API is available|Namespace is readable|Deployment is readable|Container is readable|Container has resource requirements|Container resource requests fall within the optimization range|Deployment is ready|Service is readable|Service has a compatible type|Service has an unambiguous target port|Service routes traffic to the Deployment's pods|Prometheus is accessible|Pod template has the Prometheus annotations|Pod template has the labels the queries need|Deployment has the Envoy sidecar|Pods have the Envoy sidecar|Pods are Prometheus targets|Envoy proxies are being scraped|Traffic is proxied through Envoy|Tuning pod is running|Pods are processing traffic"

# ---- the checks that fail on other objects ------------------------------------------------
# a Deployment with no resource requirements and the tuning pod's label on its template, a
# Service that does not exist: each check fails naming it, with its hint; fixed, it passes
scenario=more-checks
ns=od-$run_id-e
namespace "$ns"
api_ok POST "/apis/apps/v1/namespaces/$ns/deployments" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bare"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"bare"}},"template":{"metadata":{"labels":{"app":"bare","opsani_role":"main"}},"spec":{"containers":[{"name":"bare","image":"nginx:1.25"}]}}}}'
kill "$kubelet_pid" 2>/dev/null || true
wait "$kubelet_pid" 2>/dev/null || true
"$KSERVICES" kubelet "$KRUNDIR" "$ns" --mode ready >kubelet.log 2>&1 &
kubelet_pid=$!
for _ in $(seq 1 150); do
    [[ $(get "/apis/apps/v1/namespaces/$ns/deployments/bare" '(.status.readyReplicas // 0) == 1') == true ]] && break
    sleep 0.2
done
cat >servo.yaml <<EOF2
opsani_dev:
  namespace: $ns
  workload_name: bare
  service: nosvc
  cpu: {min: 125m, max: '1'}
  memory: {min: 128Mi, max: 1Gi, get: [limit]}
  prometheus_base_url: $PROM
EOF2
run check opsani_dev -v --no-remedy -f json
expect "checks fail" test "$rc" = 1
hint() { jq -r --arg n "$1" '.. | objects | select(.name? == $n) | .hint' <<<"$out"; }
passed() { [[ $(jq -r --arg n "$1" '[.. | objects | select(.name? == $n) | .success] | .[0]' <<<"$out") == true ]]; }
expect "the version passes" passed "Kubernetes version is supported"
expect "the version is named" contains "$(message "Kubernetes version is supported")" "Kubernetes v1.20.2 (supported: 1.16-1.30)"
expect "the permissions pass (with the tuning pod's and the sidecar's)" passed "Kubernetes permissions"
expect "no requirements: named" contains "$(message "Container has resource requirements")" \
    'container "bare" has no cpu request or limit (the cpu setting reads its value from the request, else the limit)'
expect "no requirements: the patch" contains "$(hint "Container has resource requirements")" \
    "kubectl -n $ns patch deployment bare --type merge -p"
# what the hints' commands do (the test has no kubectl: the same patches through the API);
# a critical check that fails stops the run, so each is fixed in turn
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/bare" '{"spec":{"template":{"spec":{"containers":[{"name":"bare","resources":{"requests":{"cpu":"250m","memory":"256Mi"}}}]}}}}'
run check opsani_dev -v --no-remedy -f json
expect "the memory limit is still missing (get: [limit])" contains "$(message "Container has resource requirements")" \
    'container "bare" has no memory limit (the memory setting reads its value from the limit)'
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/bare" '{"spec":{"template":{"spec":{"containers":[{"name":"bare","resources":{"limits":{"memory":"256Mi"}}}]}}}}'
run check opsani_dev -v --no-remedy -f json
expect "requirements pass once set" passed "Container has resource requirements"
expect "no Service: named" contains "$(message "Service is readable")" "Service \"nosvc\" in namespace \"$ns\": "
api_ok POST "/api/v1/namespaces/$ns/services" '{"apiVersion":"v1","kind":"Service","metadata":{"name":"nosvc"},"spec":{"selector":{"app":"bare"},"ports":[{"port":80}]}}'
run check opsani_dev -v --no-remedy -f json
expect "the Service is readable once created" passed "Service is readable"
expect "the opsani_role label: named" contains "$(message "Pod template has the labels the queries need")" \
    'the pod template of Deployment "bare" carries the label opsani_role=main'
expect "the opsani_role label: the patch" contains "$(hint "Pod template has the labels the queries need")" \
    "kubectl -n $ns patch deployment bare --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/template/metadata/labels/opsani_role\"}]'"
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/bare" '{"spec":{"template":{"metadata":{"labels":{"opsani_role":null}}}}}'
run check opsani_dev -v --no-remedy -f json
for name in "Container has resource requirements" "Pod template has the labels the queries need" "Service is readable"; do
    expect "$name passes once fixed" passed "$name"
done
expect "the Service's type and ports" test "$(message "Service is readable")" = "type ClusterIP, 1 port(s)"

# ---- opsani_dev on an Argo Rollout --------------------------------------------------------
# the Rollout CRD missing (removed first: the CRD is the cluster's, test_kubernetes and this
# test share a ctest RESOURCE_LOCK): the workload check fails naming it; installed, the
# checks read the Rollout; inject-sidecar refuses it, naming why
scenario=rollout
ns=od-$run_id-f
namespace "$ns"
rollouts_served() {
    local code
    code=$(curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -o served.json -w '%{http_code}' \
        "$KSERVER/apis/argoproj.io/v1alpha1") || code=000
    [[ $code == 200 ]] && jq -e '[.resources[].name] | index("rollouts")' served.json >/dev/null
}
curl -sS --max-time 20 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -X DELETE -o /dev/null \
    "$KSERVER/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.argoproj.io" || true
for _ in $(seq 1 100); do rollouts_served || break; sleep 0.2; done
rollouts_served && fail "the Rollout CRD is still served after its deletion"
cat >servo.yaml <<EOF2
opsani_dev:
  namespace: $ns
  workload_name: web
  workload_kind: Rollout
  service: web
  cpu: {min: 125m, max: '1'}
  memory: {min: 128Mi, max: 1Gi}
  prometheus_base_url: $PROM
EOF2
run check opsani_dev -v --no-remedy -f json
expect "no CRD: the check fails" test "$rc" = 1
expect "no CRD: named" contains "$(message "Deployment is readable")" \
    "Rollout \"web\" in namespace \"$ns\": the Rollout CRD (rollouts.argoproj.io) is not installed in the cluster"
expect "no CRD: the hint" contains "$(hint "Deployment is readable")" "Install Argo Rollouts"
api_ok POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$(jq -c . "$SERVO_SOURCE_DIR/tests/fixtures/argo-rollouts/rollout-crd.json")"
for _ in $(seq 1 100); do rollouts_served && break; sleep 0.2; done
rollouts_served || fail "the Rollout CRD is not served"
for _ in $(seq 1 50); do
    code=$(curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -o /dev/null -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' --data-binary "$(jq -nc --argjson c "[$app]" \
        '{apiVersion:"argoproj.io/v1alpha1",kind:"Rollout",metadata:{name:"web"},spec:{replicas:1,selector:{matchLabels:{app:"web"}},template:{metadata:{labels:{app:"web"}},spec:{containers:$c}}}}')" \
        "$KSERVER/apis/argoproj.io/v1alpha1/namespaces/$ns/rollouts") || code=000
    [[ $code == 201 ]] && break
    sleep 0.2
done
[[ $code == 201 ]] || fail "the Rollout was not created (HTTP $code)"
# no rollouts controller: the test reports the Rollout ready, as the controller would
curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -X PATCH -o /dev/null \
    -H 'Content-Type: application/merge-patch+json' \
    --data '{"status":{"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1,"phase":"Healthy"}}' \
    "$KSERVER/apis/argoproj.io/v1alpha1/namespaces/$ns/rollouts/web/status"
service "$ns" '[{"name":"web","port":80,"targetPort":"http"}]'
run check opsani_dev -v --no-remedy -f json
for name in "Deployment is readable" "Container is readable" "Container has resource requirements" \
    "Container resource requests fall within the optimization range" "Deployment is ready" \
    "Service routes traffic to the Deployment's pods"; do
    expect "Rollout: $name passes" passed "$name"
done
expect "Rollout: the permissions asked are the Rollout's" passed "Kubernetes permissions"
expect "Rollout: no sidecar, named" contains "$(message "Deployment has the Envoy sidecar")" \
    'the pod template of Rollout "web" has no Envoy sidecar (container opsani-envoy)'
expect "Rollout: the hint names the Rollout" contains "$(hint "Deployment has the Envoy sidecar")" \
    "servo inject-sidecar -n $ns --image opsani/envoy-proxy:v1.24.0 --service web rollout/web"
# the sidecar into the Rollout (the instance's kind) and out again; `rollout/NAME` by hand
rollout_template() {
    curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" \
        "$KSERVER/apis/argoproj.io/v1alpha1/namespaces/$ns/rollouts/web" | jq -c .spec.template
}
before_template=$(rollout_template)
before_ports=$(svc_ports "$ns")
run opsani-dev inject-sidecar
expect "inject into a Rollout succeeds" test "$rc" = 0
expect "inject names the Rollout" contains "$out" "Envoy sidecar injected to Rollout web in $ns"
expect "the Rollout has the sidecar" test "$(rollout_template | jq -c '[.spec.containers[].name]')" = '["web","opsani-envoy"]'
expect "the Service is retargeted" test "$(get "/api/v1/namespaces/$ns/services/web" '.spec.ports[0].targetPort')" = 9980
run check opsani_dev -v --no-remedy -f json
expect "Rollout: the sidecar check passes" passed "Deployment has the Envoy sidecar"
run eject-sidecar -n "$ns" rollout/web
expect "eject from a Rollout succeeds" test "$rc" = 0
expect "the Rollout's template as it was" test "$(rollout_template)" = "$before_template"
expect "the Service as it was" test "$(svc_ports "$ns")" = "$before_ports"
run inject-sidecar -n "$ns" --service web pod/web
expect "a pod target is a usage error" test "$rc" = 2
expect "the usage names both kinds" contains "$err" "the target must be deployment/NAME (deploy/NAME) or rollout/NAME (ro/NAME)"
# promote on a Rollout: a merge patch of its whole containers list, from a tuning pod
api_ok POST "/api/v1/namespaces/$ns/pods" "$(jq -nc --argjson c "$(jq -c '.resources = {requests: {cpu: "500m", memory: "384Mi"}, limits: {cpu: "500m", memory: "384Mi"}}' <<<"$app")" \
    '{apiVersion: "v1", kind: "Pod", metadata: {name: "web-tuning", labels: {app: "web", opsani_role: "tuning"}}, spec: {containers: [$c]}}')"
run opsani-dev promote
expect "promote on a Rollout succeeds" test "$rc" = 0
expect "promote says what changed" contains "$out" "Rollout web in $ns now runs the tuning pod's settings: {\"resources\":"
rollout=$(curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" "$KSERVER/apis/argoproj.io/v1alpha1/namespaces/$ns/rollouts/web")
expect "the Rollout has the tuning pod's resources" test "$(jq -c '.spec.template.spec.containers | [length, .[0].name, .[0].image, .[0].resources.requests, .[0].ports[0].name]' <<<"$rollout")" = \
    '[1,"web","nginx:1.25",{"cpu":"500m","memory":"384Mi"},"http"]'
echo "ok: test_opsani_dev"
