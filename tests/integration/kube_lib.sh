# SPDX-License-Identifier: Apache-2.0
# The scaffolding of the integration tests that talk to the real kube-apiserver
# (tests/services/kubernetes.sh): test_kubernetes, test_kube_metrics, test_opsani_dev and
# test_opsani_dev_session. A test sources it right after `set -euo pipefail`, then sets up:
#
#     . "$(dirname "${BASH_SOURCE[0]}")/kube_lib.sh"
#     kube_setup [--prometheus] [TOOL...]
#
# The sourcing script must define `fail MESSAGE` (print, exit 1): the helpers below call it.
# It may define `cleanup`: at exit it runs first, before the namespaces and the scratch
# directory go. (tests/integration/lib.sh serves the other tests; its `contains`, `run` and
# `fail` differ from these, so the two are not sourced together.)
#
#   kube_setup [--prometheus] [TOOL...]
#                       exits 77 (ctest: skipped) without the kubernetes service (and with
#                       --prometheus, the prometheus one) or without curl, jq or a TOOL; 1 when
#                       the kubernetes service's environment is incomplete. Then sets KSERVER,
#                       KTOKEN, KCA, KRUNDIR, KSERVICES (with --prometheus also PROM, PUSH,
#                       TARGETS), makes the scratch directory $scratch the working one, unsets
#                       what could change the servo's configuration or credentials (SERVO_* but
#                       SERVO_BIN and SERVO_SOURCE_DIR, OPSANI_*, NO_COLOR, POD_NAME,
#                       POD_NAMESPACE, KUBECONFIG, KUBERNETES_*) and exports NO_COLOR=1,
#                       HOME=$scratch (no ~/.kube/config) and SERVO_PLUGIN_PATH= (built-ins
#                       only). With KEEP_SCRATCH set the scratch directory is kept.
#   run_id              "$$-$RANDOM", for namespace names unique to this run
#   namespaces          the namespaces `namespace` made (a test's cleanup may read them)
#   kubeconfig FILE [TOKEN [CA [SERVER [NAMESPACE]]]]
#                       writes a kubeconfig (default: the admin token, the CA, the server; a
#                       context namespace only when given)
#   api METHOD PATH [BODY [TYPE]]
#                       a request as the admin: $api_status (000 when none came back) and
#                       $api_body; TYPE defaults to a strategic merge patch for PATCH, JSON else
#   api_ok ...          the same, failing unless the status is 2xx
#   get PATH JQ         jq -c JQ of the object at PATH (api_ok GET)
#   namespace NAME      creates it (deleted at exit) and waits for its default ServiceAccount
#                       (pods cannot be created before it); fails after 10 s
#   run ARGS...         servo: $out, $err, $rc, $elapsed_ms; the command in $last_command
#   expect WHAT COMMAND...  fails with WHAT unless COMMAND succeeds
#   contains TEXT PART  TEXT has PART (else it says what it looked for, on stderr)
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are for the sourcing test

: "${SERVO_BIN:?set SERVO_BIN to the servo binary}"
SERVO_BIN=$(cd "$(dirname "$SERVO_BIN")" && pwd -P)/$(basename "$SERVO_BIN")
SERVO_SOURCE_DIR=${SERVO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

test_name=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
run_id=$$-$RANDOM
scratch=
namespaces=()

kube_setup() {
    local services=kubernetes what="kubernetes service" prometheus=0 missing=0 variable tool
    if [[ ${1:-} == --prometheus ]]; then
        services="kubernetes prometheus"
        what="kubernetes and prometheus services"
        prometheus=1
        shift
    fi
    [[ -n ${SERVO_KUBE_SERVER:-} ]] || missing=1
    if ((prometheus)); then
        for variable in SERVO_PROMETHEUS_URL SERVO_PUSHGATEWAY_URL SERVO_PROMETHEUS_TARGETS_DIR; do
            [[ -n ${!variable:-} ]] || missing=1
        done
    fi
    if ((missing)); then
        echo "SKIP: $test_name: needs the $what (scripts/test.sh starts them;" \
            "by hand: . tests/services/lib.sh; services_start $services; services_wait)"
        exit 77
    fi
    for variable in SERVO_KUBE_TOKEN SERVO_KUBE_CA SERVO_KUBE_RUNDIR SERVO_KUBE_SERVICES; do
        [[ -n ${!variable:-} ]] || {
            echo "FAIL: $test_name: $variable is not set (the kubernetes service's env)" >&2
            exit 1
        }
    done
    for tool in curl jq "$@"; do
        command -v "$tool" >/dev/null || {
            echo "SKIP: $test_name: needs $tool (scripts/install-deps.sh installs it)"
            exit 77
        }
    done

    KSERVER=$SERVO_KUBE_SERVER
    KTOKEN=$SERVO_KUBE_TOKEN
    KCA=$SERVO_KUBE_CA
    KRUNDIR=$SERVO_KUBE_RUNDIR
    KSERVICES=$SERVO_KUBE_SERVICES
    if ((prometheus)); then
        PROM=$SERVO_PROMETHEUS_URL
        PUSH=$SERVO_PUSHGATEWAY_URL
        TARGETS=$SERVO_PROMETHEUS_TARGETS_DIR
    fi

    scratch=$(mktemp -d "${TMPDIR:-/tmp}/servo-$test_name-XXXXXX")
    trap _kube_on_exit EXIT
    cd "$scratch"
    for variable in $(compgen -e); do
        case $variable in
        SERVO_BIN | SERVO_SOURCE_DIR) ;;
        SERVO_* | OPSANI_* | NO_COLOR | POD_NAME | POD_NAMESPACE | KUBECONFIG | KUBERNETES_*)
            unset "$variable"
            ;;
        esac
    done
    export NO_COLOR=1 HOME=$scratch SERVO_PLUGIN_PATH=
}

# The test's `cleanup` (if any), then the namespaces are deleted and the scratch directory
# removed.
# (No locals here: the test's `cleanup` would see them in place of its globals, such as $ns.)
_kube_on_exit() {
    if declare -F cleanup >/dev/null; then
        cleanup || true
    fi
    _kube_delete_namespaces
    if [[ -n ${KEEP_SCRATCH:-} ]]; then
        echo "kept $scratch"
    else
        rm -rf "$scratch"
    fi
}

_kube_delete_namespaces() {
    local ns
    for ns in "${namespaces[@]}"; do
        curl -sS --max-time 10 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN" -X DELETE \
            -o /dev/null "$KSERVER/api/v1/namespaces/$ns" || true
    done
}

kubeconfig() {
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: ${4:-$KSERVER}, certificate-authority: ${3:-$KCA}}}]
users: [{name: test, user: {token: ${2:-$KTOKEN}}}]
contexts: [{name: test, context: {cluster: test, user: test${5:+, namespace: $5}}}]
current-context: test
EOF
}

api() {
    local method=$1 path=$2 body=${3:-} type=${4:-application/json}
    [[ $method == PATCH && -z ${4:-} ]] && type=application/strategic-merge-patch+json
    local args=(-sS --max-time 20 --cacert "$KCA" -H "Authorization: Bearer $KTOKEN"
        -X "$method" -o "$scratch/api.body" -w '%{http_code}')
    if [[ -n $body ]]; then
        args+=(-H "Content-Type: $type" --data-binary "$body")
    fi
    api_status=$(curl "${args[@]}" "$KSERVER$path") || api_status=000
    api_body=$(cat "$scratch/api.body" 2>/dev/null || true)
}

api_ok() {
    api "$@"
    [[ $api_status == 2?? ]] || fail "API $1 $2: HTTP $api_status: $api_body"
}

get() {
    api_ok GET "$1"
    jq -c "$2" <<<"$api_body"
}

# api_until PATH FILTER SECONDS: polls the object at PATH every 0.2 s until the jq FILTER is
# true of it; returns 1 after SECONDS, with the last answer in api_body
api_until() {
    local path=$1 filter=$2 seconds=$3 _
    for _ in $(seq 1 $((seconds * 5))); do
        api GET "$path"
        [[ $api_status == 200 && $(jq -r "$filter" <<<"$api_body" 2>/dev/null) == true ]] && return 0
        sleep 0.2
    done
    return 1
}

namespace() {
    local ns=$1 _
    api_ok POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}"
    namespaces+=("$ns")
    for _ in $(seq 1 100); do
        api GET "/api/v1/namespaces/$ns/serviceaccounts/default"
        [[ $api_status == 200 ]] && return 0
        sleep 0.1
    done
    fail "namespace $ns: no default ServiceAccount after 10 s"
}

run() {
    last_command="servo $*"
    local started
    started=$(date +%s%3N)
    set +e
    out=$("$SERVO_BIN" "$@" 2>"$scratch/stderr")
    rc=$?
    set -e
    err=$(<"$scratch/stderr")
    elapsed_ms=$(($(date +%s%3N) - started))
}

expect() {
    local what=$1
    shift
    "$@" || fail "$what"
}

contains() {
    [[ $1 == *"$2"* ]] || {
        printf '  expected to find: %s\n' "$2" >&2
        return 1
    }
}
