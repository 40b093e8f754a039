#!/usr/bin/env bash
# The kubernetes connector end to end through the CLI, against a real kube-apiserver v1.20.2
# and kube-controller-manager (tests/services/kubernetes.sh; scripts/test.sh starts them and
# exports RUNDIR/env). There is no kubelet: the test plays it with the fake kubelet
# (`kubernetes.sh kubelet RUNDIR NS --mode ready|crashloop|imagepull|unschedulable`), run in
# the background for each case, which writes the pods' status as a kubelet would.
#
# Each scenario gets its own namespace (deleted at the end), so runs from several build
# directories can share one cluster:
#   adjust       describe; cpu, memory, replicas and env adjusted and read back from the
#                pod template; another container untouched; lists paged (limit 2)
#   rejections   crashloop -> start-failed (with the container-log attempt), imagepull ->
#                image-pull-failed, unschedulable -> unschedulable, each found at once, not
#                at the timeout; the old template's failing pods not judged for the new
#                settings (a paused Deployment); on_failure: shutdown scales to zero
#   settlement   the pods lose readiness after the rollout -> unstable
#   rollback     a rich template (annotations, probes, volumes, valueFrom, a sidecar):
#                rejected, then restored exactly (template and replicas byte for byte), and
#                ready again
#   conflict     a concurrent writer between the read and the write: 409, read again,
#                applied, the writer's change kept; a writer that never stops: bounded
#                attempts, a clear "conflict" failure
#   readonly     a ServiceAccount that may only read: the permission check lists what is
#                missing, describe works, adjust fails with the 403 message
#   canary       `servo run` against the fake optimizer (HELLO telemetry, DESCRIBE,
#                MEASURE creating the tuning pod, ADJUST recreating it); its labels,
#                annotation, owner (the servo's Deployment, from POD_NAME), static env;
#                adjust keeps the other values; a failing tuning pod -> shutdown back to the
#                template's values
#   encoders     the JVM encoder in JAVA_OPTS and in args: decoded, adjusted, the other
#                flags kept, decoded back
#   statefulset  a StatefulSet adjusted (the test plays its controller)
#   rollout      an Argo Rollout (CRD tests/fixtures/argo-rollouts): without the CRD a clear
#                error naming it; described, adjusted (template merged, sidecar, env and
#                strategy kept, replicas); Degraded -> the adjustment fails and is rolled back
#                (the test plays the rollouts controller); paused by hand (spec.paused) or at
#                a canary pause step (every replica updated) -> not done: the adjustment
#                fails at the timeout saying so, the readiness check too, the pause left in
#                place; once it ends, an adjustment completes; the canary strategy: a tuning
#                pod from the Rollout's template (labels, annotation, static env, the Rollout
#                untouched), destroyed when its first adjustment fails, back to its previous
#                values after a later one; spec.workloadRef refused, named
#   bad input    unreachable server, a server that never answers (bounded by the timeout),
#                a wrong CA, an unknown token, a revoked token, a missing workload and
#                container, no resource requirements, quantities in other notations
#   deploy       deploy/*.yaml and `servo config -f configmap` applied (POST) and accepted;
#                the servo in-cluster as the deploy/ ServiceAccount: every check passes
#                (the Role grants exactly what the checks ask), adjust works; the servo's
#                SERVO_UID is its pod's uid
#   deploy-optimizer  deploy/optimizer/*.yaml applied (POST) and accepted; the Deployment's
#                mounts, probes and Service agree with the ConfigMap's server file and the
#                Secret's keys; the server started on that file (a SQLite store in place of
#                the database, the Secret's values as files) answers both probes and takes
#                the Secret's tokens; its PostgreSQL URI is parsed (an unknown host refused,
#                named)
#   deploy-embedded, deploy-remote  deploy/opsani-dev/{embedded,remote} rendered as
#                `kubectl apply -k` would (tests/tools/kustomize_render.py) in the scenario's
#                namespace, every object accepted; one replica, probes on /healthz and /readyz
#                at --listen's port, the generated ConfigMaps; embedded: the store's claim is
#                the working directory, no remote optimizer; remote: Recreate, the optimizer's
#                Service, an application it serves and its token
#
# Without SERVO_KUBE_SERVER the test prints SKIP and exits 77 (ctest: skipped; scripts/test.sh
# starts the server and fails on a skip).
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. From RUNDIR/env: SERVO_KUBE_SERVER,
# SERVO_KUBE_TOKEN, SERVO_KUBE_CA, SERVO_KUBE_RUNDIR, SERVO_KUBE_SERVICES. Needs curl, jq,
# python3 (with yaml) and openssl.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/kube_lib.sh"
kube_setup python3 openssl
KPORT=${KSERVER##*:}

kubelet_pid=
background_pids=()
cleanup() {
    local pid
    stop_kubelet
    for pid in "${background_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

checks=0
scenario=setup

fail() {
    {
        printf 'FAIL [%s]: %s\n' "$scenario" "$1"
        printf '  command:   %s\n' "${last_command:-}"
        printf '  exit code: %s\n' "${rc:-}"
        printf '  stdout:\n'
        sed 's/^/    | /' <<<"${out:-}" | tail -n 40
        printf '  stderr:\n'
        sed 's/^/    | /' <<<"${err:-}" | tail -n 40
        [[ -f $scratch/kubelet.log ]] && {
            printf '  kubelet log:\n'
            tail -n 10 "$scratch/kubelet.log" | sed 's/^/    | /'
        }
    } >&2
    exit 1
}

check() {
    checks=$((checks + 1))
    "$@" || fail "check failed: $*"
}

equals() {
    [[ $1 == "$2" ]] || {
        printf '  expected: %s\n  actual:   %s\n' "$2" "$1" >&2
        return 1
    }
}

# ---- the API server, as an admin -----------------------------------------------------------

main_container='{"name":"main","image":"nginx:1.25","resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"200m","memory":"128Mi"}},"env":[{"name":"MODE","value":"a"}]}'

# deployment NS NAME REPLICAS [CONTAINERS-JSON-ARRAY]
deployment() {
    local ns=$1 name=$2 replicas=$3 containers=${4:-"[$main_container]"}
    local body
    body=$(jq -nc --arg name "$name" --argjson replicas "$replicas" --argjson containers "$containers" \
        '{apiVersion: "apps/v1", kind: "Deployment", metadata: {name: $name, labels: {app: $name}},
          spec: {replicas: $replicas, selector: {matchLabels: {app: $name}},
                 template: {metadata: {labels: {app: $name}}, spec: {containers: $containers}}}}')
    api_ok POST "/apis/apps/v1/namespaces/$ns/deployments" "$body"
}

# rolled_out NS NAME [SECONDS]: waits until the Deployment's rollout is complete
rolled_out() {
    local ns=$1 name=$2 seconds=${3:-30}
    api_until "/apis/apps/v1/namespaces/$ns/deployments/$name" \
        '(.status.observedGeneration // 0) >= .metadata.generation and
            (.status.updatedReplicas // 0) == .spec.replicas and
            (.status.replicas // 0) == .spec.replicas and
            (.status.availableReplicas // 0) == .spec.replicas' "$seconds" ||
        fail "Deployment $ns/$name did not roll out within $seconds s: $(jq -c .status <<<"$api_body")"
}

# ---- the fake kubelet ----------------------------------------------------------------------

kubelet() {
    stop_kubelet
    "$KSERVICES" kubelet "$KRUNDIR" "$1" --mode "${2:-ready}" >>"$scratch/kubelet.log" 2>&1 &
    kubelet_pid=$!
}

stop_kubelet() {
    if [[ -n $kubelet_pid ]]; then
        kill "$kubelet_pid" 2>/dev/null || true
        wait "$kubelet_pid" 2>/dev/null || true
        kubelet_pid=
    fi
}

# ---- the servo -----------------------------------------------------------------------------

faster_than() { # SECONDS: the last run took less
    ((elapsed_ms < $1 * 1000)) || {
        printf '  took %d ms, more than %d s\n' "$elapsed_ms" "$1" >&2
        return 1
    }
}

# start ARGS...: servo in the background (stdout bg.out, stderr bg.err), pid in $servo_pid
start() {
    last_command="servo $* (in the background)"
    rm -f bg.out bg.err
    "$SERVO_BIN" "$@" >bg.out 2>bg.err &
    servo_pid=$!
}

# finish: waits for the background servo; $out, $err, $rc
finish() {
    set +e
    wait "$servo_pid"
    rc=$?
    set -e
    out=$(<bg.out)
    err=$(<bg.err)
}

# wait_for FILE TEXT [SECONDS]
wait_for() {
    local _
    for _ in $(seq 1 $((${3:-30} * 10))); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    out=$(cat bg.out 2>/dev/null || true)
    err=$(cat bg.err 2>/dev/null || true)
    fail "\"$2\" did not appear in $1 within ${3:-30} s"
}

kubeconfig "$scratch/admin.kubeconfig"

# value_is COMPONENT SETTING JSON: the describe JSON ($out) has that value (numbers compared
# as numbers: 1 and 1.0 are equal)
value_is() {
    jq -e --arg c "$1" --arg s "$2" --argjson v "$3" \
        '.application.components[$c].settings[$s].value == $v' <<<"$out" >/dev/null || {
        printf '  %s.%s is %s, expected %s\n' "$1" "$2" \
            "$(jq -c --arg c "$1" --arg s "$2" '.application.components[$c].settings[$s].value' <<<"$out")" \
            "$3" >&2
        return 1
    }
}

echo "test_kubernetes: API server $KSERVER ($(curl -sS --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" "$KSERVER/version" | jq -r .gitVersion))"

# ---- adjust ---------------------------------------------------------------------------------

scenario=adjust
ns=sk-$run_id-adjust
namespace "$ns"
deployment "$ns" web 1 "[$main_container,{\"name\":\"sidecar\",\"image\":\"envoy:v1\",\"resources\":{\"limits\":{\"cpu\":\"50m\"}}}]"
kubelet "$ns" ready
rolled_out "$ns" web
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 30s
  deployments:
  - name: web
    replicas: {min: 1, max: 4}
    containers:
    - name: main
      alias: main
      cpu: {min: 100m, max: 1, step: 50m}
      memory: {min: 64Mi, max: 1Gi, step: 32Mi}
      env:
      - {name: MODE, type: enum, values: [a, b]}
      - {name: WORKERS, type: range, min: 1, max: 8, step: 1, value_type: int, default: '2'}
EOF
run describe -f json
check equals "$rc" 0
check value_is main cpu 0.1
check value_is main mem 0.0625
check value_is main replicas 1
check value_is main MODE '"a"'
check value_is main WORKERS 2
run describe
check contains "$out" "main.cpu=100m"
SERVO_KUBE_LIST_LIMIT=2 run adjust main.cpu=0.25 main.mem=0.25 main.replicas=3 main.MODE=b main.WORKERS=6
check equals "$rc" 0
check contains "$out" "main.cpu=250m"
check contains "$out" "main.replicas=3"
web=$(get "/apis/apps/v1/namespaces/$ns/deployments/web" .)
check equals "$(jq -c '.spec.replicas' <<<"$web")" 3
check equals "$(jq -c '.spec.template.spec.containers[0].resources' <<<"$web")" \
    '{"limits":{"cpu":"250m","memory":"256Mi"},"requests":{"cpu":"250m","memory":"256Mi"}}'
check equals "$(jq -c '.spec.template.spec.containers[0].env' <<<"$web")" \
    '[{"name":"MODE","value":"b"},{"name":"WORKERS","value":"6"}]'
check equals "$(jq -c '.spec.template.spec.containers[1].resources' <<<"$web")" '{"limits":{"cpu":"50m"}}'
check equals "$(jq -c '.status.availableReplicas' <<<"$web")" 3
run describe -f json
check value_is main cpu 0.25
check value_is main mem 0.25
check value_is main replicas 3
check value_is main WORKERS 6
# the same values again: nothing to change, nothing patched
generation=$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.metadata.generation')
run adjust main.cpu=0.25 main.replicas=3
check equals "$rc" 0
check contains "$err" "already has these settings"
check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.metadata.generation')" "$generation"
# refused before anything changes: an unknown setting, a value outside an enum
run adjust main.nothing=1
check equals "$rc" 2
run adjust main.MODE=c
check equals "$rc" 2
run check
check equals "$rc" 0
check contains "$out" "kubernetes  √ PASSED"
stop_kubelet
echo "ok: adjust"

# ---- rejections -----------------------------------------------------------------------------

scenario=rejections
ns=sk-$run_id-reject
namespace "$ns"
deployment "$ns" web 1
kubelet "$ns" ready
rolled_out "$ns" web
write_reject_config() {
    cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 40s
  on_failure: ${1:-exception}
  container_logs_in_error_status: true
  deployments:
  - name: web
    replicas: {min: 0, max: 4}
    containers:
    - name: main
      alias: main
      cpu: {min: 100m, max: 1, step: 50m}
EOF
}
write_reject_config
cpu=0.3
for mode_reason in crashloop:start-failed imagepull:image-pull-failed unschedulable:unschedulable; do
    mode=${mode_reason%%:*}
    reason=${mode_reason#*:}
    kubelet "$ns" "$mode"
    run adjust "main.cpu=$cpu"
    check equals "$rc" 1
    check contains "$err" "adjust rejected ($reason)"
    # found from the pod's state at once, not when the 40 s timeout ran out
    check faster_than 20
    case $mode in
    crashloop)
        check contains "$err" "CrashLoopBackOff"
        check contains "$err" "logs of container main"
        ;;
    imagepull) check contains "$err" "ImagePullBackOff" ;;
    unschedulable) check contains "$err" "0/1 nodes are available: 1 Insufficient cpu." ;;
    esac
    # on_failure: exception leaves the adjusted template in place
    check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.spec.template.spec.containers[0].resources.requests.cpu')" \
        "\"${cpu#0.}00m\""
    cpu=0.$((${cpu#0.} + 1))
done
# The failing pods of the old template are not judged for the new settings. A paused
# Deployment never gets the new template's ReplicaSet, though its status says the new
# generation is observed (as it does for a moment after any change of replicas and template
# together, which the controller first syncs as a scaling event): the servo waits for the new
# pods until the timeout instead of rejecting the settings for the old pods' state.
stop_kubelet
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/web" '{"spec":{"paused":true}}'
sed -i 's/timeout: 40s/timeout: 3s/' servo.yaml
run adjust main.cpu=0.8
check equals "$rc" 1
check contains "$err" "did not become ready within 3s: Deployment web is paused (spec.paused)"
[[ $err != *"unschedulable"* ]] || fail "the old template's unschedulable pods were judged: $err"
run check -f json
check equals "$rc" 1
check equals "$(jq -r '.[] | select(.name == "Deployment \"web\" is ready") | .message' <<<"$out" | cut -c1-40)" \
    "Deployment web is paused (spec.paused), "
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/web" '{"spec":{"paused":false}}'
# on_failure: shutdown scales the workload to zero
write_reject_config shutdown
kubelet "$ns" crashloop
run adjust main.cpu=0.9 main.replicas=2
check equals "$rc" 1
check contains "$err" "adjust rejected (start-failed)"
check contains "$err" "on_failure: shutdown: scaled to zero replicas"
check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.spec.replicas')" 0
stop_kubelet
echo "ok: rejections"

# ---- settlement -----------------------------------------------------------------------------

scenario=settlement
ns=sk-$run_id-settle
namespace "$ns"
deployment "$ns" web 2
kubelet "$ns" ready
rolled_out "$ns" web
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 30s
  settlement: 20s
  deployments:
  - name: web
    containers:
    - name: main
      alias: main
      cpu: {min: 100m, max: 1, step: 50m}
EOF
start adjust main.cpu=0.5
wait_for bg.err "Settling for 20s"
kubelet "$ns" crashloop # the new pods stop being ready during the settlement
finish
check equals "$rc" 1
check contains "$err" "adjust rejected (unstable)"
check contains "$err" "became unstable"
stop_kubelet
echo "ok: settlement"

# ---- rollback -------------------------------------------------------------------------------

scenario=rollback
ns=sk-$run_id-rollback
namespace "$ns"
rich='[{"name":"main","image":"nginx:1.25","args":["--port","8080"],
  "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],
  "resources":{"requests":{"cpu":"100m","memory":"64Mi","ephemeral-storage":"1Gi"},"limits":{"cpu":"200m","memory":"128Mi"}},
  "env":[{"name":"MODE","value":"a"},{"name":"POD_IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}}],
  "readinessProbe":{"httpGet":{"path":"/healthz","port":"http"},"periodSeconds":3}},
 {"name":"sidecar","image":"envoy:v1","resources":{"limits":{"cpu":"50m","memory":"32Mi"}}}]'
deployment "$ns" web 1 "$(jq -c . <<<"$rich")"
# more of the user's spec: template annotations and labels, volumes, a grace period
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/web" \
    '{"spec":{"template":{"metadata":{"annotations":{"prometheus.io/scrape":"true"},"labels":{"tier":"front"}},"spec":{"terminationGracePeriodSeconds":45,"volumes":[{"name":"cache","emptyDir":{"sizeLimit":"256Mi"}}],"containers":[{"name":"main","volumeMounts":[{"name":"cache","mountPath":"/cache"}]}]}}}}' \
    application/strategic-merge-patch+json
kubelet "$ns" ready
rolled_out "$ns" web
before=$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '[.spec.template, .spec.replicas]')
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 30s
  on_failure: rollback
  deployments:
  - name: web
    replicas: {min: 1, max: 4}
    containers:
    - name: main
      alias: main
      cpu: {min: 100m, max: 1, step: 50m}
      memory: {min: 64Mi, max: 1Gi, step: 32Mi}
      env: [{name: MODE, type: enum, values: [a, b]}]
EOF
kubelet "$ns" crashloop
start adjust main.cpu=0.3 main.mem=0.5 main.MODE=b main.replicas=2
wait_for bg.err "back to its previous pod template"
kubelet "$ns" ready # the old pods recover: the rollback can complete
finish
check equals "$rc" 1
check contains "$err" "adjust rejected (start-failed)"
check contains "$err" "on_failure: rollback: the previous pod template and replica count are restored"
after=$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '[.spec.template, .spec.replicas]')
check equals "$(jq -S -c . <<<"$after")" "$(jq -S -c . <<<"$before")"
rolled_out "$ns" web
stop_kubelet
echo "ok: rollback"

# ---- conflict -------------------------------------------------------------------------------

scenario=conflict
ns=sk-$run_id-conflict
namespace "$ns"
deployment "$ns" web 1
kubelet "$ns" ready
rolled_out "$ns" web
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 30s
  deployments:
  - name: web
    containers:
    - name: main
      alias: main
      cpu: {min: 100m, max: 1, step: 50m}
EOF
# the servo pauses 2 s between reading the Deployment and writing it (and says so); another
# writer changes it once in that window: 409, a fresh read, the write succeeds
export SERVO_KUBE_TEST_WRITE_DELAY=2
start adjust main.cpu=0.4
wait_for bg.err "pausing 2 s before the write"
api_ok PATCH "/apis/apps/v1/namespaces/$ns/deployments/web" \
    '{"metadata":{"annotations":{"team":"other-writer"}}}' application/merge-patch+json
finish
check equals "$rc" 0
check contains "$err" "was changed by someone else meanwhile (409 Conflict): reading it again (attempt 2 of 5)"
check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '[.metadata.annotations.team, .spec.template.spec.containers[0].resources.requests.cpu]')" \
    '["other-writer","400m"]'
# a writer that never stops: the attempts are bounded (a 2 s window each time, so that the
# writer, one PATCH every 0.1 s plus curl's own start, lands in every one even on a busy machine)
export SERVO_KUBE_TEST_WRITE_DELAY=2
(
    i=0
    while :; do
        i=$((i + 1))
        curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -X PATCH \
            -H 'Content-Type: application/merge-patch+json' -o /dev/null \
            --data "{\"metadata\":{\"annotations\":{\"writer\":\"$i\"}}}" \
            "$KSERVER/apis/apps/v1/namespaces/$ns/deployments/web" || true
        sleep 0.1
    done
) 2>/dev/null &
writer=$!
background_pids+=("$writer")
run adjust main.cpu=0.6
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
unset SERVO_KUBE_TEST_WRITE_DELAY
check equals "$rc" 1
check contains "$err" "adjust failed (conflict)"
check contains "$err" "gave up after 5 conflicting writes (409 Conflict)"
check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '.spec.template.spec.containers[0].resources.requests.cpu')" '"400m"'
stop_kubelet
echo "ok: conflict"

# ---- a read-only ServiceAccount ------------------------------------------------------------

scenario="read-only"
ns=sk-$run_id-readonly
namespace "$ns"
deployment "$ns" web 1
kubelet "$ns" ready
rolled_out "$ns" web
api_ok POST "/api/v1/namespaces/$ns/serviceaccounts" '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"reader"}}'
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles" \
    '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"reader"},"rules":[{"apiGroups":["apps"],"resources":["deployments","replicasets"],"verbs":["get","list","watch"]},{"apiGroups":[""],"resources":["pods","namespaces"],"verbs":["get","list"]}]}'
api_ok POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" \
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"reader\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"reader\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"reader\",\"namespace\":\"$ns\"}]}"
# service_account_token NS NAME: a token from the TokenRequest API
service_account_token() {
    api_ok POST "/api/v1/namespaces/$1/serviceaccounts/$2/token" \
        '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}'
    jq -r .status.token <<<"$api_body"
}
kubeconfig "$scratch/reader.kubeconfig" "$(service_account_token "$ns" reader)"
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/reader.kubeconfig
  timeout: 20s
  deployments:
  - name: web
    containers:
    - name: main
      alias: main
      cpu: {min: 100m, max: 1, step: 50m}
EOF
run check -f json
check equals "$rc" 1
permissions=$(jq -c '.[] | select(.name == "Required permissions")' <<<"$out")
check equals "$(jq -r .success <<<"$permissions")" false
check contains "$(jq -r .message <<<"$permissions")" "permissions missing: patch deployments.apps in \"$ns\""
check contains "$(jq -r .message <<<"$permissions")" "create pods in \"$ns\""
check contains "$(jq -r .message <<<"$permissions")" "get pods/log in \"$ns\""
check equals "$(jq -r '.[] | select(.name == "Connectivity to Kubernetes") | .success' <<<"$out")" true
run describe
check equals "$rc" 0
check contains "$out" "main.cpu=100m"
run adjust main.cpu=0.5
check equals "$rc" 1
check contains "$err" "adjust failed (forbidden)"
check contains "$err" "cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"$ns\""
stop_kubelet
echo "ok: readonly"

# ---- canary: servo run against the fake optimizer -----------------------------------------

scenario=canary
ns=sk-$run_id-canary
namespace "$ns"
deployment "$ns" web 2
# the servo's own Deployment: POD_NAME points at its pod, which makes it the tuning pod's owner
deployment "$ns" servo 1 '[{"name":"servo","image":"servo:test"}]'
kubelet "$ns" ready
rolled_out "$ns" web
rolled_out "$ns" servo
servo_pod=$(get "/api/v1/namespaces/$ns/pods?labelSelector=app%3Dservo" '.items[0].metadata.name' | tr -d '"')
servo_deployment_uid=$(get "/apis/apps/v1/namespaces/$ns/deployments/servo" '.metadata.uid' | tr -d '"')
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 30s
  deployments:
  - name: web
    strategy: canary
    on_failure: shutdown
    containers:
    - name: main
      alias: main
      cpu: {min: 100m, max: 1, step: 50m}
      memory: {min: 64Mi, max: 1Gi, step: 32Mi}
      env: [{name: MODE, type: enum, values: [a, b]}]
      static_environment_variables: {OPSANI_TUNING: 'true'}
EOF
run describe -f json
check equals "$rc" 0
check value_is main cpu 0.1
check equals "$(jq -c '.application.components.main.settings.cpu.pinned' <<<"$out")" true
check equals "$(jq -c '.application.components.main.settings.replicas | [.min, .max, .pinned, .value]' <<<"$out")" '[0,99999,true,2]'
check equals "$(jq -c '.application.components["web/main-tuning"].settings.replicas | [.min, .max, .pinned, .value]' <<<"$out")" '[0,1,true,0]'
check equals "$(jq -c '.application.components["web/main-tuning"].settings.cpu.pinned' <<<"$out")" false
# a whole session: HELLO (with telemetry), DESCRIBE, MEASURE (the tuning pod is created
# before it), ADJUST (the tuning pod recreated with cpu 250m), then SLEEP
python3 "$SERVO_SOURCE_DIR/tests/fake_optimizer.py" --sequence --measure-duration 0 \
    --metrics throughput --adjust web/main-tuning.cpu=0.25 --sleep 3600 --log requests.jsonl \
    --token canary-token >fake.out 2>fake.err &
fake_pid=$!
background_pids+=("$fake_pid")
for _ in $(seq 1 100); do
    grep -q '^listening on ' fake.out 2>/dev/null && break
    sleep 0.1
done
fake_url=$(sed -n 's/^listening on //p' fake.out)
cat >>servo.yaml <<EOF
optimizer:
  id: example.com/canary
  token: canary-token
  base_url: $fake_url/
EOF
POD_NAME=$servo_pod POD_NAMESPACE=$ns start run
for _ in $(seq 1 300); do
    [[ $(jq -s '[.[] | select(.body.event == "ADJUSTMENT" and (.body.param.progress == null))] | length' requests.jsonl 2>/dev/null || echo 0) -ge 1 ]] && break
    sleep 0.1
done
kill -TERM "$servo_pid" 2>/dev/null || true
finish
check equals "$rc" 0
hello=$(jq -c 'select(.body.event == "HELLO") | .body.param.telemetry' requests.jsonl | head -n 1)
check equals "$(jq -r '."kubernetes.namespace"' <<<"$hello")" "$ns"
check equals "$(jq -r '."kubernetes.version"' <<<"$hello")" "1.20"
check equals "$(jq -r '."kubernetes.platform"' <<<"$hello")" "linux/amd64"
adjustment=$(jq -c 'select(.body.event == "ADJUSTMENT" and .body.param.progress == null) | .body.param' requests.jsonl | tail -n 1)
check equals "$(jq -r .status <<<"$adjustment")" ok
check equals "$(jq -c '.state.application.components["web/main-tuning"].settings.cpu.value' <<<"$adjustment")" 0.25
check equals "$(jq -c '.state.application.components["web/main-tuning"].settings.replicas.value' <<<"$adjustment")" 1
pod=$(get "/api/v1/namespaces/$ns/pods/web-tuning" .)
check equals "$(jq -c '.metadata.labels' <<<"$pod")" '{"app":"web","opsani_role":"tuning"}'
check equals "$(jq -r '.metadata.annotations["opsani.com/opsani_tuning_for"]' <<<"$pod")" web
check equals "$(jq -c '[.metadata.ownerReferences[0].kind, .metadata.ownerReferences[0].name, .metadata.ownerReferences[0].uid]' <<<"$pod")" \
    "[\"Deployment\",\"servo\",\"$servo_deployment_uid\"]"
check equals "$(jq -c '.spec.containers[0].resources' <<<"$pod")" \
    '{"limits":{"cpu":"250m","memory":"128Mi"},"requests":{"cpu":"250m","memory":"64Mi"}}'
check equals "$(jq -c '.spec.containers[0].env' <<<"$pod")" '[{"name":"MODE","value":"a"},{"name":"OPSANI_TUNING","value":"true"}]'
# the Deployment itself is untouched
check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '[.spec.replicas, .spec.template.spec.containers[0].resources.requests.cpu]')" '[2,"100m"]'
# adjust the memory only: the pod is recreated, the cpu it had is kept
uid=$(jq -r .metadata.uid <<<"$pod")
run adjust web/main-tuning.mem=0.25 web/main-tuning.MODE=b
check equals "$rc" 0
pod=$(get "/api/v1/namespaces/$ns/pods/web-tuning" .)
check test "$(jq -r .metadata.uid <<<"$pod")" != "$uid"
check equals "$(jq -c '[.spec.containers[0].resources.requests.cpu, .spec.containers[0].resources.requests.memory, .spec.containers[0].env[0].value]' <<<"$pod")" \
    '["250m","256Mi","b"]'
run describe -f json
check value_is web/main-tuning cpu 0.25
check value_is web/main-tuning mem 0.25
check value_is web/main-tuning replicas 1
# the main component is pinned
run adjust main.cpu=0.5
check equals "$rc" 2
check contains "$err" "pinned"
# a tuning pod that cannot start: rejected, then (on_failure: shutdown) back to the template
kubelet "$ns" crashloop
run adjust web/main-tuning.cpu=0.75
check equals "$rc" 1
check contains "$err" "adjust rejected (start-failed)"
check contains "$err" "tuning pod \"web-tuning\""
pod=$(get "/api/v1/namespaces/$ns/pods/web-tuning" .)
check equals "$(jq -c '[.spec.containers[0].resources.requests.cpu, .spec.containers[0].resources.requests.memory]' <<<"$pod")" \
    '["100m","64Mi"]'
stop_kubelet
echo "ok: canary"

# ---- encoders -------------------------------------------------------------------------------

scenario=encoders
ns=sk-$run_id-encoders
namespace "$ns"
deployment "$ns" app 1 '[{"name":"main","image":"openjdk:17","resources":{"requests":{"cpu":"100m","memory":"512Mi"}},
  "env":[{"name":"JAVA_OPTS","value":"-Dapp.mode=prod -Xmx512m -XX:+UseParallelGC -verbose:gc"}]},
 {"name":"worker","image":"openjdk:17","command":["java"],"args":["-Xms128m","-Xmx256m","-jar","/worker.jar","--threads=4"]}]'
kubelet "$ns" ready
rolled_out "$ns" app
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 30s
  deployments:
  - name: app
    containers:
    - name: main
      alias: main
      encoders:
        jvm:
          settings:
            heap_size: {min: 256Mi, max: 4Gi, step: 256Mi}
            gc: {values: [G1, Parallel, Serial]}
            options:
            - {name: MaxGCPauseMillis, type: range, min: 50, max: 500, step: 50, default: '200'}
    - name: worker
      alias: worker
      encoders:
        jvm:
          target: args
          settings:
            heap_size: {min: 128Mi, max: 2Gi, step: 128Mi}
            gc: {values: [G1, Serial], default: G1}
EOF
run describe -f json
check equals "$rc" 0
check value_is main heap_size 0.5
check value_is main gc '"Parallel"'
check value_is main MaxGCPauseMillis 200
check value_is worker heap_size 0.25
check value_is worker gc '"G1"'
run adjust main.heap_size=1.5 main.gc=G1 main.MaxGCPauseMillis=100 worker.heap_size=0.5 worker.gc=Serial
check equals "$rc" 0
template=$(get "/apis/apps/v1/namespaces/$ns/deployments/app" '.spec.template.spec.containers')
check equals "$(jq -c '.[0].env' <<<"$template")" \
    '[{"name":"JAVA_OPTS","value":"-Dapp.mode=prod -Xmx1536m -XX:+UseG1GC -verbose:gc -XX:MaxGCPauseMillis=100"}]'
check equals "$(jq -c '.[1].args' <<<"$template")" \
    '["-Xms128m","-Xmx512m","-XX:+UseSerialGC","-jar","/worker.jar","--threads=4"]'
check equals "$(jq -c '.[1].command' <<<"$template")" '["java"]'
run describe -f json
check value_is main heap_size 1.5
check value_is main gc '"G1"'
check value_is main MaxGCPauseMillis 100
check value_is worker heap_size 0.5
check value_is worker gc '"Serial"'
stop_kubelet
echo "ok: encoders"

# ---- a StatefulSet ------------------------------------------------------------------------

scenario=statefulset
ns=sk-$run_id-sts
namespace "$ns"
api_ok POST "/apis/apps/v1/namespaces/$ns/statefulsets" \
    '{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"replicas":1,"serviceName":"db","selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"postgres","image":"postgres:16","resources":{"requests":{"cpu":"500m","memory":"1Gi"},"limits":{"memory":"1Gi"}}}]}}}}'
# no statefulset controller runs: the test plays it, reporting every generation rolled out
(
    while :; do
        body=$(curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" \
            "$KSERVER/apis/apps/v1/namespaces/$ns/statefulsets/db") || continue
        status=$(jq -c '{status: {observedGeneration: .metadata.generation, replicas: .spec.replicas,
            readyReplicas: .spec.replicas, currentReplicas: .spec.replicas,
            updatedReplicas: .spec.replicas, currentRevision: "db-\(.metadata.generation)",
            updateRevision: "db-\(.metadata.generation)"}}' <<<"$body")
        curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -X PATCH \
            -H 'Content-Type: application/merge-patch+json' -o /dev/null --data "$status" \
            "$KSERVER/apis/apps/v1/namespaces/$ns/statefulsets/db/status" || true
        sleep 0.2
    done
) 2>/dev/null &
background_pids+=($!)
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 30s
  stateful_sets:
  - name: db
    replicas: {min: 1, max: 3}
    containers:
    - name: postgres
      cpu: {min: 250m, max: 2, step: 250m, get: [request], set: [request]}
      memory: {min: 512Mi, max: 4Gi, step: 512Mi, get: [limit]}
EOF
run describe -f json
check equals "$rc" 0
check value_is db/postgres cpu 0.5
check value_is db/postgres mem 1
run adjust db/postgres.cpu=1 db/postgres.mem=2 db/postgres.replicas=2
check equals "$rc" 0
check equals "$(get "/apis/apps/v1/namespaces/$ns/statefulsets/db" '[.spec.replicas, .spec.template.spec.containers[0].resources]')" \
    '[2,{"limits":{"memory":"2Gi"},"requests":{"cpu":"1","memory":"2Gi"}}]'
echo "ok: statefulset"

# ---- bad input ------------------------------------------------------------------------------

scenario=bad-input
ns=sk-$run_id-bad
namespace "$ns"
deployment "$ns" web 1
deployment "$ns" bare 1 '[{"name":"main","image":"nginx:1.25"}]'
deployment "$ns" odd 1 '[{"name":"main","image":"nginx:1.25","resources":{"requests":{"cpu":"0.25","memory":"128974848"},"limits":{"cpu":"1500m","memory":"129e6"}}}]'
kubelet "$ns" ready
rolled_out "$ns" web
# write_bad KUBECONFIG DEPLOYMENT CONTAINER [TIMEOUT]
write_bad() {
    cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $1
  timeout: ${4:-5s}
  deployments:
  - name: $2
    replicas: {min: 1, max: 2}
    containers:
    - name: $3
      alias: main
      cpu: {min: 100m, max: 2, step: 50m}
      memory: {min: 64Mi, max: 1Gi, step: 32Mi}
EOF
}
# nothing listens there
kubeconfig "$scratch/closed.kubeconfig" "$KTOKEN" "$KCA" https://127.0.0.1:1
write_bad "$scratch/closed.kubeconfig" web main
run describe
check equals "$rc" 1
check contains "$err" "describe failed (connect)"
check faster_than 10
run check -f json
check equals "$rc" 1
check equals "$(jq -r '.[0].name + " " + (.[0].success | tostring)' <<<"$out")" "Connectivity to Kubernetes false"
# a server that accepts the connection and never answers: bounded by the 5 s timeout
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16); print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' >silent.port &
silent=$!
background_pids+=("$silent")
for _ in $(seq 1 50); do
    [[ -s silent.port ]] && break
    sleep 0.1
done
kubeconfig "$scratch/silent.kubeconfig" "$KTOKEN" "$KCA" "https://127.0.0.1:$(head -n 1 silent.port)"
write_bad "$scratch/silent.kubeconfig" web main 5s
run describe
check equals "$rc" 1
check contains "$err" "describe failed (timeout)"
check faster_than 15
# a CA that did not sign the server's certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=not-the-ca -keyout other-ca.key -out other-ca.crt 2>/dev/null
kubeconfig "$scratch/wrong-ca.kubeconfig" "$KTOKEN" "$scratch/other-ca.crt"
write_bad "$scratch/wrong-ca.kubeconfig" web main
run describe
check equals "$rc" 1
check contains "$err" "describe failed (tls)"
# a token the API server does not know, and one whose ServiceAccount was deleted
kubeconfig "$scratch/unknown.kubeconfig" "expired-token-$RANDOM"
write_bad "$scratch/unknown.kubeconfig" web main
run describe
check equals "$rc" 1
check contains "$err" "describe failed (unauthorized)"
check contains "$err" "rejected the bearer token (wrong or expired?)"
check test "$(grep -c "expired-token" <<<"$err")" = 0
api_ok POST "/api/v1/namespaces/$ns/serviceaccounts" '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"gone"}}'
kubeconfig "$scratch/revoked.kubeconfig" "$(service_account_token "$ns" gone)"
api_ok DELETE "/api/v1/namespaces/$ns/serviceaccounts/gone"
write_bad "$scratch/revoked.kubeconfig" web main
run check
check equals "$rc" 1
check contains "$out" "Connectivity to Kubernetes"
check contains "$out" "Unauthorized"
# a kubeconfig that does not exist
write_bad "$scratch/missing.kubeconfig" web main
run describe
check equals "$rc" 1
check contains "$err" "missing.kubeconfig"
# a missing workload, a missing container
write_bad "$scratch/admin.kubeconfig" nope main
run describe
check equals "$rc" 1
check contains "$err" "Deployment \"nope\" in namespace \"$ns\" was not found"
run check -f json
check equals "$(jq -r '.[] | select(.name == "Deployment \"nope\" is readable") | .success' <<<"$out")" false
write_bad "$scratch/admin.kubeconfig" web ghost
run describe
check equals "$rc" 1
check contains "$err" "container \"ghost\" is not in Deployment \"web\" in namespace \"$ns\" (containers: main)"
run adjust main.cpu=0.5
check equals "$rc" 1
# no resource requirements: described without values, the check says so, adjust sets them
write_bad "$scratch/admin.kubeconfig" bare main 30s
run describe -f json
check equals "$rc" 0
check value_is main cpu null
check contains "$err" "the container has no cpu request or limit"
run check -f json
check equals "$(jq -r '.[] | select(.name == "Containers in the \"bare\" Deployment have resource requirements") | .success' <<<"$out")" false
run adjust main.cpu=0.5 main.mem=0.25
check equals "$rc" 0
check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/bare" '.spec.template.spec.containers[0].resources')" \
    '{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"500m","memory":"256Mi"}}'
# quantities as the API server keeps them: "0.25" is 250m, "129e6" bytes, 128974848 bytes
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  deployments:
  - name: odd
    containers:
    - name: main
      alias: odd
      cpu: {min: 100m, max: 2, get: [request]}
      memory: {min: 64Mi, max: 1Gi, get: [limit]}
    - name: main
      alias: odd-requests
      cpu: {min: 100m, max: 2, get: [limit]}
      memory: {min: 64Mi, max: 1Gi, get: [request]}
EOF
run describe -f json
check equals "$rc" 0
check value_is odd cpu 0.25
check equals "$(jq '.application.components.odd.settings.mem.value * 1073741824 | round' <<<"$out")" 129000000
check value_is odd-requests cpu 1.5
check equals "$(jq '.application.components["odd-requests"].settings.mem.value * 1073741824 | round' <<<"$out")" 128974848
stop_kubelet
echo "ok: bad input"

# ---- an Argo Rollout ----------------------------------------------------------------------

scenario=rollout
ns=sk-$run_id-rollout
namespace "$ns"
rollout_crd=$SERVO_SOURCE_DIR/tests/fixtures/argo-rollouts/rollout-crd.json
rollouts_served() {
    api GET /apis/argoproj.io/v1alpha1
    [[ $api_status == 200 ]] && jq -e '[.resources[].name] | index("rollouts")' <<<"$api_body" >/dev/null
}
# no CRD: a clear error naming it (any CRD of an earlier run is removed first)
api DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.argoproj.io
for _ in $(seq 1 100); do rollouts_served || break; sleep 0.2; done
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 20s
  settlement: 0s
  on_failure: rollback
  rollouts:
  - name: web
    replicas: {min: 1, max: 3}
    containers:
    - name: main
      cpu: {min: 250m, max: 2, step: 250m}
      memory: {min: 256Mi, max: 2Gi, step: 128Mi}
EOF
run describe -f json
check equals "$rc" 1
check contains "$err" "Rollout \"web\""
check contains "$err" "the Rollout CRD (rollouts.argoproj.io) is not installed in the cluster"
api_ok POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$(jq -c . "$rollout_crd")"
for _ in $(seq 1 100); do rollouts_served && break; sleep 0.2; done
rollouts_served || fail "the Rollout CRD was not served after 20 s"
rollouts=/apis/argoproj.io/v1alpha1/namespaces/$ns/rollouts
# the CRD may take a moment to accept objects after it is served
for _ in $(seq 1 50); do
    api POST "$rollouts" '{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"web"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"ro"}},"strategy":{"canary":{"steps":[{"setWeight":20}]}},"template":{"metadata":{"labels":{"app":"ro"}},"spec":{"containers":[{"name":"main","image":"nginx:1.25","env":[{"name":"KEEP","value":"1"}],"resources":{"requests":{"cpu":"500m","memory":"512Mi"},"limits":{"cpu":"500m","memory":"512Mi"}}},{"name":"sidecar","image":"envoy:v1","resources":{"limits":{"cpu":"50m"}}}]}}}}'
    [[ $api_status == 201 ]] && break
    sleep 0.2
done
check equals "$api_status" 201
# no rollouts controller runs: the test plays it, reporting each generation Healthy, but
# Degraded while the main container asks for 1500m, and Paused as Argo reports it (phase
# Paused ahead of the replica counts; null removes a field in a merge patch): by hand
# (spec.paused: the new template not rolled out, no pauseConditions) or at a canary pause step
# (pauseConditions and controllerPause, every replica updated and available, as at a pause
# after setWeight: 100)
(
    while :; do
        body=$(curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" "$KSERVER$rollouts/web") || continue
        status=$(jq -c '[{type: "Paused", status: "True", reason: "RolloutPaused", message: "Rollout is paused"},
                {type: "Progressing", status: "Unknown", reason: "RolloutPaused", message: "Rollout is paused"}] as $paused
            | {status: ({observedGeneration: "\(.metadata.generation)",
            replicas: .spec.replicas, updatedReplicas: .spec.replicas, readyReplicas: .spec.replicas,
            availableReplicas: .spec.replicas, currentPodHash: "h\(.metadata.generation)", phase: "Healthy",
            message: null, conditions: null, pauseConditions: null, controllerPause: null}
            + if .spec.template.spec.containers[0].resources.requests.cpu == "1500m" then {phase: "Degraded", message: "ProgressDeadlineExceeded: the pods never became ready",
                availableReplicas: 0}
              elif .spec.paused == true then {phase: "Paused", message: "manually paused", updatedReplicas: 0,
                conditions: $paused}
              elif any(.spec.strategy.canary.steps[]?; has("pause")) then {phase: "Paused", message: "CanaryPauseStep",
                controllerPause: true, conditions: $paused,
                pauseConditions: [{reason: "CanaryPauseStep", startTime: (.status.pauseConditions[0].startTime // (now | todate))}]}
              else {} end)}' <<<"$body")
        curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -X PATCH \
            -H 'Content-Type: application/merge-patch+json' -o /dev/null --data "$status" \
            "$KSERVER$rollouts/web/status" || true
        sleep 0.2
    done
) 2>/dev/null &
background_pids+=($!)
run describe -f json
check equals "$rc" 0
check value_is web/main cpu 0.5
check value_is web/main mem 0.5
check value_is web/main replicas 1
run adjust web/main.cpu=1 web/main.mem=1 web/main.replicas=2
check equals "$rc" 0
check equals "$(get "$rollouts/web" '[.spec.replicas, .spec.template.spec.containers[0].resources, .spec.template.spec.containers[0].env]')" \
    '[2,{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1","memory":"1Gi"}},[{"name":"KEEP","value":"1"}]]'
check equals "$(get "$rollouts/web" '[.spec.template.spec.containers[1], .spec.strategy]')" \
    '[{"image":"envoy:v1","name":"sidecar","resources":{"limits":{"cpu":"50m"}}},{"canary":{"steps":[{"setWeight":20}]}}]'
# a rollout that degrades: the adjustment fails, naming why, and the template goes back
run adjust web/main.cpu=1.5
check equals "$rc" 1
check contains "$err" "degraded: ProgressDeadlineExceeded"
check contains "$err" "on_failure: rollback: the previous pod template and replica count are restored"
check equals "$(get "$rollouts/web" '.spec.template.spec.containers[0].resources.requests.cpu')" '"1"'
# A paused Rollout is not rolled out until the pause ends: the servo neither resumes nor
# promotes it, it waits until the timeout and says why, in the rejection and in the check.
# rollout_healthy: waits until the (fake) controller reports the current generation Healthy
rollout_healthy() {
    api_until "$rollouts/web" '.status.phase == "Healthy" and .status.observedGeneration == "\(.metadata.generation)"' 20 ||
        fail "the Rollout was not reported Healthy after 20 s: $(jq -c .status <<<"$api_body")"
}
sed -i 's/timeout: 20s/timeout: 3s/' servo.yaml
api_ok PATCH "$rollouts/web" '{"spec":{"paused":true}}' application/merge-patch+json
run adjust web/main.cpu=0.75
check equals "$rc" 1
check contains "$err" "did not become ready within 3s: Rollout web is paused (spec.paused), and the rollouts controller rolls it out only once it is resumed: 0 of 2 replicas updated, 2 available"
check equals "$(get "$rollouts/web" '[.spec.paused, .spec.template.spec.containers[0].resources.requests.cpu]')" '[true,"1"]'
run check -f json
check equals "$rc" 1
check equals "$(jq -r '.[] | select(.name == "Rollout \"web\" is ready") | .message' <<<"$out")" \
    "Rollout web is paused (spec.paused), and the rollouts controller rolls it out only once it is resumed: 0 of 2 replicas updated, 2 available"
api_ok PATCH "$rollouts/web" '{"spec":{"paused":false}}' application/merge-patch+json
rollout_healthy
# paused at a canary step with every replica updated and available: still not done
api_ok PATCH "$rollouts/web" '{"spec":{"strategy":{"canary":{"steps":[{"setWeight":20},{"pause":{}}]}}}}' application/merge-patch+json
run adjust web/main.cpu=0.75
check equals "$rc" 1
check contains "$err" "did not become ready within 3s: Rollout web is paused by its strategy (CanaryPauseStep), and is rolled out only once the pause ends or it is promoted (kubectl argo rollouts promote web): 2 of 2 replicas updated, 2 available"
check equals "$(get "$rollouts/web" '[.spec.strategy, .status.pauseConditions[].reason, .status.controllerPause]')" \
    '[{"canary":{"steps":[{"setWeight":20},{"pause":{}}]}},"CanaryPauseStep",true]'
api_ok PATCH "$rollouts/web" '{"spec":{"strategy":{"canary":{"steps":[{"setWeight":20}]}}}}' application/merge-patch+json
rollout_healthy
run adjust web/main.cpu=0.75
check equals "$rc" 0
check equals "$(get "$rollouts/web" '.spec.template.spec.containers[0].resources.requests.cpu')" '"750m"'
run adjust web/main.cpu=1
check equals "$rc" 0
# the canary strategy on the Rollout: a tuning pod built from its spec.template (the Rollout
# itself untouched); a first adjustment that fails destroys the pod it created, a later one
# goes back to the pod's previous values (on_failure: rollback)
cat >servo.yaml <<EOF
kubernetes:
  namespace: $ns
  kubeconfig: $scratch/admin.kubeconfig
  timeout: 20s
  settlement: 0s
  on_failure: rollback
  rollouts:
  - name: web
    strategy: canary
    containers:
    - name: main
      cpu: {min: 250m, max: 2, step: 250m}
      memory: {min: 256Mi, max: 2Gi, step: 128Mi}
      static_environment_variables: {OPSANI_TUNING: 'true'}
EOF
rollout_before=$(get "$rollouts/web" '[.metadata.generation, .spec]')
run describe -f json
check equals "$rc" 0
check value_is web/main cpu 1
check equals "$(jq -c '.application.components["web/main"].settings | [.cpu.pinned, .replicas.value]' <<<"$out")" '[true,2]'
check equals "$(jq -c '.application.components["web/main-tuning"].settings | [.cpu.value, .cpu.pinned, .replicas.value]' <<<"$out")" '[1,false,0]'
kubelet "$ns" crashloop
run adjust web/main-tuning.cpu=0.5
check equals "$rc" 1
check contains "$err" "adjust rejected (start-failed)"
check contains "$err" "the tuning pod is deleted, as it did not exist before"
api GET "/api/v1/namespaces/$ns/pods/web-tuning"
check equals "$api_status" 404
kubelet "$ns" ready
run adjust web/main-tuning.cpu=0.5 web/main-tuning.mem=0.75
check equals "$rc" 0
pod=$(get "/api/v1/namespaces/$ns/pods/web-tuning" .)
check equals "$(jq -c '[.metadata.labels, .metadata.annotations["opsani.com/opsani_tuning_for"]]' <<<"$pod")" '[{"app":"ro","opsani_role":"tuning"},"web"]'
check equals "$(jq -c '.spec.containers[0].resources' <<<"$pod")" \
    '{"limits":{"cpu":"500m","memory":"768Mi"},"requests":{"cpu":"500m","memory":"768Mi"}}'
check equals "$(jq -c '[.spec.containers[0].env, .spec.containers[1].name]' <<<"$pod")" \
    '[[{"name":"KEEP","value":"1"},{"name":"OPSANI_TUNING","value":"true"}],"sidecar"]'
check equals "$(get "$rollouts/web" '[.metadata.generation, .spec]')" "$rollout_before"
run describe -f json
check value_is web/main-tuning cpu 0.5
check value_is web/main-tuning replicas 1
check value_is web/main cpu 1
# a tuning pod that fails: back to its previous values (500m), not the template's (the test
# plays a kubelet that crashes the pod only while it asks for 1500m)
stop_kubelet
(
    while :; do
        cpu=$(curl -sS --max-time 5 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" \
            "$KSERVER/api/v1/namespaces/$ns/pods/web-tuning" | jq -r '.spec.containers[0].resources.requests.cpu // ""') || cpu=
        mode=ready
        [[ $cpu == 1500m ]] && mode=crashloop
        [[ -n $cpu ]] && "$KSERVICES" kubelet "$KRUNDIR" "$ns" --once --mode "$mode" >>"$scratch/kubelet.log" 2>&1
        sleep 0.3
    done
) 2>/dev/null &
rollback_kubelet=$!
background_pids+=("$rollback_kubelet")
# (that kubelet may mark the new pod ready once before it sees it: the settlement catches it)
sed -i 's/settlement: 0s/settlement: 3s/' servo.yaml
run adjust web/main-tuning.cpu=1.5
check equals "$rc" 1
check contains "$err" "adjust rejected"
check contains "$err" "on_failure: rollback: the tuning pod has its previous settings again"
check equals "$(get "/api/v1/namespaces/$ns/pods/web-tuning" '.spec.containers[0].resources.requests')" '{"cpu":"500m","memory":"768Mi"}'
kill "$rollback_kubelet" 2>/dev/null || true
wait "$rollback_kubelet" 2>/dev/null || true
# a Rollout whose template comes from spec.workloadRef: no tuning pod, a clear error
api_ok POST "$rollouts" '{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"ref"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"ref"}},"workloadRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"ref"}}}'
sed -i 's/- name: web/- name: ref/' servo.yaml
run adjust ref/main-tuning.cpu=0.5
check equals "$rc" 1
check contains "$err" "Rollout ref has no pod template: it references one through spec.workloadRef"
echo "ok: rollout"

# ---- deploy/ --------------------------------------------------------------------------------

scenario=deploy
ns=sk-$run_id-deploy
namespace "$ns"
deployment "$ns" web 1
kubelet "$ns" ready
rolled_out "$ns" web
# every manifest, as JSON, with the RoleBinding's subject in this namespace
to_json() {
    python3 -c 'import json, sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc: print(json.dumps(doc))' "$1"
}
post_manifest() {
    local body=$1 kind path
    kind=$(jq -r .kind <<<"$body")
    case $kind in
    ServiceAccount) path=/api/v1/namespaces/$ns/serviceaccounts ;;
    Secret) path=/api/v1/namespaces/$ns/secrets ;;
    ConfigMap) path=/api/v1/namespaces/$ns/configmaps ;;
    Role) path=/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles ;;
    RoleBinding) path=/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings ;;
    Deployment) path=/apis/apps/v1/namespaces/$ns/deployments ;;
    StatefulSet) path=/apis/apps/v1/namespaces/$ns/statefulsets ;;
    Service) path=/api/v1/namespaces/$ns/services ;;
    *) fail "deploy/: unexpected kind $kind" ;;
    esac
    api POST "$path" "$body"
    check equals "$api_status" 201
}
for manifest in serviceaccount role rolebinding secret configmap deployment; do
    while IFS= read -r doc; do
        [[ $manifest == rolebinding ]] && doc=$(jq -c --arg ns "$ns" '.subjects[0].namespace = $ns' <<<"$doc")
        post_manifest "$doc"
    done < <(to_json "$SERVO_SOURCE_DIR/deploy/$manifest.yaml")
done
# the ConfigMap `servo config -f configmap` writes is accepted too (under another name)
sed "s/namespace: default/namespace: $ns/" "$SERVO_SOURCE_DIR/deploy/servo.yaml" >deploy-servo.yaml
run -c deploy-servo.yaml config -f configmap
check equals "$rc" 0
configmap=$(python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))' <<<"$out")
check equals "$(jq -r .metadata.name <<<"$configmap")" opsani-servo-config
post_manifest "$(jq -c '.metadata.name = "generated-servo-config"' <<<"$configmap")"
# the Role grants exactly the permissions the checks ask for
run -c deploy-servo.yaml config -f json
wanted=$(jq -c '[.kubernetes.permissions[] | {apiGroups: [.group], resources, verbs}] | sort' <<<"$out")
granted=$(to_json "$SERVO_SOURCE_DIR/deploy/role.yaml" | jq -c '[.rules[]] | sort')
check equals "$granted" "$wanted"
# the servo in the cluster, as the deploy/ ServiceAccount: the service-account files and
# KUBERNETES_SERVICE_* as the kubelet provides them, the configuration from the ConfigMap
mkdir -p sa
service_account_token "$ns" servo >sa/token
cp "$KCA" sa/ca.crt
printf '%s' "$ns" >sa/namespace
# (no settlement here: the test need not wait a minute)
jq -r '.data["servo.yaml"]' <<<"$configmap" | sed 's/settlement: 1m/settlement: 0s/' >incluster.yaml
in_cluster() {
    SERVO_KUBE_SERVICE_ACCOUNT_DIR=$scratch/sa KUBERNETES_SERVICE_HOST=127.0.0.1 \
        KUBERNETES_SERVICE_PORT=$KPORT run -c incluster.yaml "$@"
}
in_cluster check kubernetes -f json
check equals "$rc" 0
check equals "$(jq -r '[.[] | select(.success | not) | .name] | join(", ")' <<<"$out")" ""
check equals "$(jq -r '.[] | select(.name == "Required permissions") | .message' <<<"$out")" "all 12 permissions granted"
in_cluster adjust main.cpu=0.5 main.replicas=2
check equals "$rc" 0
check equals "$(get "/apis/apps/v1/namespaces/$ns/deployments/web" '[.spec.replicas, .spec.template.spec.containers[0].resources.requests.cpu]')" '[2,"500m"]'
stop_kubelet
echo "ok: deploy"

check equals "$(to_json "$SERVO_SOURCE_DIR/deploy/deployment.yaml" |
    jq -r '.spec.template.spec.containers[0].env[] | select(.name == "SERVO_UID") | .valueFrom.fieldRef.fieldPath')" metadata.uid

# ---- deploy/optimizer/ ----------------------------------------------------------------------

scenario=deploy-optimizer
ns=sk-$run_id-deploy-optimizer
namespace "$ns"
optimizer_dir=$SERVO_SOURCE_DIR/deploy/optimizer
for manifest in secret postgresql configmap deployment service; do
    while IFS= read -r doc; do
        post_manifest "$doc"
    done < <(to_json "$optimizer_dir/$manifest.yaml")
done
deployment_doc=$(to_json "$optimizer_dir/deployment.yaml")
secret_doc=$(to_json "$optimizer_dir/secret.yaml")
configmap_doc=$(to_json "$optimizer_dir/configmap.yaml")
pod_spec() { jq -c ".spec.template.spec$1" <<<"$deployment_doc"; }
check equals "$(jq .spec.replicas <<<"$deployment_doc")" 2
check equals "$(pod_spec '.containers[0] | [.command, .args]')" \
    '[["servo"],["optimizer","serve","-c","/etc/servo/optimizer.yaml"]]'
check equals "$(pod_spec '.containers[0] | [.livenessProbe.httpGet.path, .readinessProbe.httpGet.path]')" \
    '["/healthz","/readyz"]'
check equals "$(pod_spec '.containers[0].image')" '"localhost/servo:0.1.0"'
# the mounts: the ConfigMap's key at the -c path, the Secret at the *_file paths
mount_path() { pod_spec ".containers[0].volumeMounts[] | select(.name == \"$1\") | .mountPath" | tr -d '"'; }
check equals "$(pod_spec '.volumes[] | select(.name == "config") | .configMap.name')" \
    "$(jq .metadata.name <<<"$configmap_doc")"
check equals "$(pod_spec '.volumes[] | select(.name == "secrets") | .secret.secretName')" \
    "$(jq .metadata.name <<<"$secret_doc")"
check equals "$(mount_path config)/$(jq -r '.data | keys[0]' <<<"$configmap_doc")" /etc/servo/optimizer.yaml
server_file=$(jq -r '.data["optimizer.yaml"]' <<<"$configmap_doc")
secret_mount=$(mount_path secrets)
file_paths=$(python3 -c 'import json, sys, yaml
c = yaml.safe_load(sys.stdin)
print(json.dumps(sorted([c["password_file"]] + [a["token_file"] for a in c["applications"].values()]), separators=(",", ":")))' <<<"$server_file")
check equals "$file_paths" "$(jq -c --arg m "$secret_mount" '[.stringData | keys[] | "\($m)/\(.)"] | sort' <<<"$secret_doc")"
# the Service reaches the pods' named port; the example database's Service is the URI's host
check equals "$(to_json "$optimizer_dir/service.yaml" | jq -c .spec.selector)" \
    "$(jq -c .spec.template.metadata.labels <<<"$deployment_doc")"
check equals "$(to_json "$optimizer_dir/service.yaml" | jq -r '.spec.ports[0].targetPort')" \
    "$(pod_spec '.containers[0].ports[0].name' | tr -d '"')"
check contains "$server_file" "@$(to_json "$optimizer_dir/postgresql.yaml" | jq -r 'select(.kind == "Service") | .metadata.name'):5432/"
# the server on the ConfigMap's file: the Secret's values as files, a SQLite store in place of
# the database, a free loopback port
mkdir -p secrets
jq -r '.stringData | to_entries[] | @base64' <<<"$secret_doc" | while IFS= read -r entry; do
    printf '%s' "$(base64 -d <<<"$entry" | jq -r .value)" >"secrets/$(base64 -d <<<"$entry" | jq -r .key)"
done
sed -e "s|$secret_mount/|$scratch/secrets/|" -e 's|^listen: .*|listen: 127.0.0.1:0|' <<<"$server_file" >optimizer-pg.yaml
sed -e "s|^store: .*|store: $scratch/optimizer.db|" optimizer-pg.yaml >optimizer.yaml
: >server.stdout # before the start: `head` must find it even before the server opens it
"$SERVO_BIN" optimizer serve -c optimizer.yaml >server.stdout 2>server.stderr &
server_pid=$!
background_pids+=("$server_pid")
for _ in $(seq 1 200); do
    server_url=$(head -n1 server.stdout)
    [[ -n $server_url ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "deploy/optimizer: the server exited: $(<server.stderr)"
    sleep 0.05
done
[[ -n $server_url ]] || fail "deploy/optimizer: the server printed no URL"
check equals "$(curl -s -o /dev/null -w '%{http_code}' "$server_url/healthz")" 200
check equals "$(curl -s -o /dev/null -w '%{http_code}' "$server_url/readyz")" 200
hello() { # APP TOKEN: the status of a HELLO
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
        -d '{"event":"HELLO","param":{"agent":"servo/0.1.0"},"servo_uid":"deploy-test"}' \
        "$server_url/accounts/example.com/applications/$1/servo"
}
check equals "$(hello web "$(<secrets/web-token)")" 200
check equals "$(hello api "$(<secrets/api-token)")" 200
check equals "$(hello web "$(<secrets/api-token)")" 403
check equals "$(hello web wrong)" 401
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
# the PostgreSQL store as written: the URI is taken, the database's host is named when it
# cannot be reached (no such host outside the cluster), and the server exits non-zero
run optimizer serve -c optimizer-pg.yaml
check equals "$rc" 1
check contains "$err" servo-optimizer-postgresql
echo "ok: deploy-optimizer"

# ---- deploy/opsani-dev: the two set-ups, rendered as `kubectl apply -k` would ----------------

render_overlay() { # OVERLAY NS: the overlay's objects, one JSON a line, in namespace NS
    rm -rf deploy-copy
    cp -r "$SERVO_SOURCE_DIR/deploy" deploy-copy
    sed -i "s/^namespace: default$/namespace: $2/" "deploy-copy/opsani-dev/$1/kustomization.yaml"
    python3 "$SERVO_SOURCE_DIR/tests/tools/kustomize_render.py" "deploy-copy/opsani-dev/$1"
}
for overlay in embedded remote; do
    scenario=deploy-$overlay
    ns=sk-$run_id-deploy-$overlay
    namespace "$ns"
    render_overlay "$overlay" "$ns" >objects.jsonl
    while IFS= read -r doc; do
        post_manifest "$doc"
    done <objects.jsonl
    servo_doc=$(jq -c 'select(.metadata.name == "servo" and (.kind == "StatefulSet" or .kind == "Deployment"))' objects.jsonl)
    container() { jq -c ".spec.template.spec.containers[0] | $1" <<<"$servo_doc"; }
    check equals "$(jq .spec.replicas <<<"$servo_doc")" 1
    check equals "$(jq -r '.metadata.namespace' <<<"$servo_doc")" "$ns"
    check equals "$(jq -c 'select(.kind == "RoleBinding") | .subjects[0].namespace' objects.jsonl)" "\"$ns\""
    # the probes reach the status endpoints on the port --listen opens
    check equals "$(container '.args')" '["run","--check","--listen","0.0.0.0:8080"]'
    check equals "$(container '[.livenessProbe.httpGet.path, .readinessProbe.httpGet.path]')" '["/healthz","/readyz"]'
    check equals "$(container '.ports[] | select(.name == "status") | .containerPort')" 8080
    check equals "$(container '.livenessProbe.httpGet.port')" '"status"'
    # the configuration and the target come from the generated ConfigMaps
    check equals "$(jq -r '.spec.template.spec.volumes[] | select(.name == "config") | .configMap.name' <<<"$servo_doc")" servo-config
    check equals "$(jq -r 'select(.metadata.name == "servo-config") | .data | keys[0]' objects.jsonl)" servo.yaml
    check equals "$(container '.envFrom[0].configMapRef.name')" '"servo-target"'
    check equals "$(jq -c 'select(.metadata.name == "servo-target") | .data | keys' objects.jsonl)" \
        '["SERVO_OPSANI_DEV_CONTAINER","SERVO_OPSANI_DEV_SERVICE","SERVO_OPSANI_DEV_WORKLOAD_NAME"]'
    check contains "$(jq -r 'select(.metadata.name == "servo-config") | .data["servo.yaml"]' objects.jsonl)" "opsani_dev:"
    # the servo accepts the configuration it is given, with the target's overrides
    jq -r 'select(.metadata.name == "servo-config") | .data["servo.yaml"]' objects.jsonl >"deploy-$overlay.yaml"
    check equals "$(env $(jq -r 'select(.metadata.name == "servo-target") | .data | to_entries[] | "\(.key)=\(.value)"' objects.jsonl) \
        "$SERVO_BIN" -c "deploy-$overlay.yaml" validate -q >/dev/null 2>"deploy-$overlay.err"; echo $?)" 0
    # the API server has them, defaulted
    kind_path=deployments
    [[ $overlay == embedded ]] && kind_path=statefulsets
    check equals "$(get "/apis/apps/v1/namespaces/$ns/$kind_path/servo" '.spec.template.spec.serviceAccountName')" '"servo"'
    echo "ok: deploy-$overlay"
done
# embedded: the study's store on the claim, in the working directory (the default store is a
# relative path), writable by the image's user
servo_doc=$(render_overlay embedded default | jq -c 'select(.kind == "StatefulSet" and .metadata.name == "servo")')
check equals "$(jq -r '.spec.volumeClaimTemplates[0].metadata.name' <<<"$servo_doc")" store
check equals "$(jq -r '.spec.template.spec.containers[0] | [.workingDir, (.volumeMounts[] | select(.name == "store") | .mountPath)] | unique | length' <<<"$servo_doc")" 1
check equals "$(jq -r '.spec.template.spec.securityContext.fsGroup' <<<"$servo_doc")" 10001
check equals "$(jq -r '.spec.template.spec.containers[0].env[] | select(.name == "OPSANI_OPTIMIZER") | .name' <<<"$servo_doc")" ""
# remote: the optimizer's Service, an application it serves and that application's token
render_overlay remote default >objects.jsonl
servo_doc=$(jq -c 'select(.kind == "Deployment" and .metadata.name == "servo")' objects.jsonl)
env_of() { jq -r ".spec.template.spec.containers[0].env[] | select(.name == \"$1\") | $2" <<<"$servo_doc"; }
check equals "$(jq -r .spec.strategy.type <<<"$servo_doc")" Recreate
optimizer_service=$(jq -c 'select(.kind == "Service" and .metadata.name == "servo-optimizer")' objects.jsonl)
check equals "$(env_of OPSANI_BASE_URL .value)" \
    "http://$(jq -r .metadata.name <<<"$optimizer_service"):$(jq -r '.spec.ports[0].port' <<<"$optimizer_service")/"
token_secret=$(env_of OPSANI_TOKEN .valueFrom.secretKeyRef.name)
token_key=$(env_of OPSANI_TOKEN .valueFrom.secretKeyRef.key)
check equals "$(jq -r "select(.kind == \"Secret\" and .metadata.name == \"$token_secret\") | .stringData | has(\"$token_key\")" objects.jsonl)" true
check contains "$(jq -r 'select(.metadata.name == "servo-optimizer-config") | .data["optimizer.yaml"]' objects.jsonl)" \
    "$(env_of OPSANI_OPTIMIZER .value):"
check contains "$(jq -r 'select(.metadata.name == "servo-optimizer-config") | .data["optimizer.yaml"]' objects.jsonl)" \
    "/$token_key"
echo "ok: deploy-opsani-dev"

echo "test_kubernetes: $checks checks passed"
