# SPDX-License-Identifier: Apache-2.0
# The services the tests talk to, started and stopped together on free loopback ports.
# scripts/test.sh sources this file; so can anyone who wants the same services by hand:
#
#     . tests/services/lib.sh
#     services_start nginx prometheus kubernetes   # in the background, returns at once
#     services_wait                                # waits, then exports what the tests read
#     ctest --test-dir build
#     services_stop                                # (scripts/test.sh does it in its EXIT trap)
#
# Each service starts in its own background process, so they come up side by side (and the
# Kubernetes build, 4-8 min on a fresh machine, overlaps the servo's own build). Each has a
# state directory $SERVICES_DIR/NAME holding:
#   log      what the start printed
#   env      KEY=VALUE lines the tests read (services_wait exports them)
#   status   the start's exit code, written when it is done
# A service that does not start is reported by services_wait, not fatal: the tests that need
# it then exit 77 (ctest: "Skipped") and scripts/test.sh fails unless SERVO_ALLOW_SKIP=1.
#
# Adding a service is two small functions here, named after it:
#   service_NAME_start DIR   start it on ports from `free_ports N` (never fixed ones), wait
#                            until it answers, print KEY=VALUE lines for the tests on stdout
#                            (they go to DIR/env), return non-zero on failure; DIR is its own
#                            empty directory for data, pid files and logs
#   service_NAME_stop DIR    stop whatever the start left running (it may have failed half
#                            way), wait until it is gone
# then add NAME to SERVICES below (service_postgresql_* is a short example).
# shellcheck shell=bash

# Every service, in the order they are started (and stopped in reverse).
SERVICES=(nginx prometheus kubernetes postgresql)

services_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVICES_DIR=
_services_started=()
_services_pids=()

# free_ports N: prints N consecutive free TCP ports on 127.0.0.1, from a random base below
# the kernel's ephemeral range (32768-60999), so that outgoing connections never take them.
free_ports()
{
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 32768 - n)
    sockets = []
    try:
        for port in range(base, base + n):
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        for s in sockets:
            s.close()
    print(" ".join(str(p) for p in range(base, base + n)))
    sys.exit(0)
sys.exit("free_ports: no %d free consecutive ports" % n)
PY
}

# ---- the services ------------------------------------------------------------------------

# nginx for the load tests (tests/integration/test_load.sh reads SERVO_NGINX_URL).
service_nginx_start()
{
    echo "SERVO_NGINX_URL=$("$services_src/nginx.sh" start "$1/nginx" "$(free_ports 1)")"
}

service_nginx_stop()
{
    "$services_src/nginx.sh" stop "$1/nginx"
}

# Prometheus scraping a Pushgateway (tests/integration/test_prometheus.sh reads
# SERVO_PROMETHEUS_URL and SERVO_PUSHGATEWAY_URL; test_opsani_dev*.sh list pods as targets
# in SERVO_PROMETHEUS_TARGETS_DIR). prometheus.sh keeps its PIDs in shell
# variables: they are saved to DIR/pids for the stop, which runs in another shell.
service_prometheus_start()
{
    local ports
    read -r -a ports <<<"$(free_ports 2)"
    # shellcheck source=prometheus.sh
    source "$services_src/prometheus.sh"
    PROMETHEUS_PORT=${ports[0]} PUSHGATEWAY_PORT=${ports[1]} prometheus_start || return 1
    echo "$PROMETHEUS_PID $PUSHGATEWAY_PID $PROMETHEUS_DIR" >"$1/pids"
    echo "SERVO_PROMETHEUS_URL=http://127.0.0.1:${ports[0]}"
    echo "SERVO_PUSHGATEWAY_URL=http://127.0.0.1:${ports[1]}"
    echo "SERVO_PROMETHEUS_TARGETS_DIR=$PROMETHEUS_DIR/envoy-targets"
}

service_prometheus_stop()
{
    [[ -f $1/pids ]] || return 0
    # shellcheck source=prometheus.sh
    source "$services_src/prometheus.sh"
    read -r PROMETHEUS_PID PUSHGATEWAY_PID PROMETHEUS_DIR <"$1/pids"
    prometheus_stop
}

# A real kube-apiserver, etcd and kube-controller-manager (tests/unit/test_kube_client.c and
# tests/integration/test_kubernetes.sh read RUNDIR/env: KUBECONFIG, SERVO_KUBE_SERVER, ...).
# The binaries are built once from Debian's source package into $SERVO_K8S_CACHE
# (/var/cache/servo-k8s): 4-8 min on a fresh machine, nothing afterwards. Five consecutive
# ports: the apiserver, etcd's client, peer and metrics ports, the controller-manager.
service_kubernetes_start()
{
    local cache=${SERVO_K8S_CACHE:-/var/cache/servo-k8s} ports
    "$services_src/kubernetes.sh" build "$cache" || return 1
    read -r -a ports <<<"$(free_ports 5)"
    SERVO_KUBE_PORT=${ports[0]} SERVO_ETCD_PORT=${ports[1]} SERVO_KCM_PORT=${ports[4]} \
        "$services_src/kubernetes.sh" start "$cache" "$1/run" || return 1
    cat "$1/run/env"
}

service_kubernetes_stop()
{
    "$services_src/kubernetes.sh" stop "$1/run"
}

# A real PostgreSQL 15 for the optimizer's PostgreSQL store
# (tests/integration/test_optimizer_postgresql.sh reads SERVO_POSTGRESQL_URI and
# SERVO_POSTGRESQL_PASSWORD_FILE).
# The cluster runs as the user "postgres" when started by root: its directory is outside
# $SERVICES_DIR (mode 0700), in a 0755 one of its own that postgres can reach.
service_postgresql_start()
{
    local top
    top=$(mktemp -d "${TMPDIR:-/tmp}/servo-postgresql-XXXXXX") || return 1
    chmod 755 "$top"
    echo "$top" >"$1/top"
    "$services_src/postgresql.sh" start "$top/pg" "$(free_ports 1)" >/dev/null || return 1
    "$services_src/postgresql.sh" env "$top/pg" | sed 's/^export //'
}

service_postgresql_stop()
{
    [[ -f $1/top ]] || return 0
    local top
    top=$(<"$1/top")
    if [[ -d $top/pg ]]; then
        "$services_src/postgresql.sh" stop "$top/pg" || true
    fi
    rm -rf "$top"
}

# ---- starting, waiting, stopping ---------------------------------------------------------

# services_start NAME...: starts each in the background (see the top of this file).
services_start()
{
    local name dir
    [[ -n $SERVICES_DIR ]] || SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/servo-services-XXXXXX")
    for name in "$@"; do
        declare -F "service_${name}_start" >/dev/null || {
            echo "services: unknown service \"$name\" (known: ${SERVICES[*]})" >&2
            return 2
        }
        dir=$SERVICES_DIR/$name
        mkdir -p "$dir"
        # its own process group, so that services_stop can end a start still under way (the
        # Kubernetes build: go and all)
        # shellcheck disable=SC2016 # the inner script expands its own arguments
        setsid bash -c '
            . "$1"
            "service_$2_start" "$3" >"$3/env" 2>"$3/log" </dev/null
            echo $? >"$3/status.tmp" && mv "$3/status.tmp" "$3/status"' \
            services "${BASH_SOURCE[0]}" "$name" "$dir" &
        _services_started+=("$name")
        _services_pids+=($!)
    done
}

# services_wait: waits for every start, prints how each went, exports the variables of those
# that started. Returns non-zero if any did not start. Can be called again (from a subshell
# too): it then only exports the variables again.
services_wait()
{
    local i name dir rc failed=0
    for i in "${!_services_started[@]}"; do
        name=${_services_started[i]}
        dir=$SERVICES_DIR/$name
        # polls the status file rather than `wait`: a step's subshell calls this too
        while [[ ! -f $dir/status ]] && kill -0 "${_services_pids[i]}" 2>/dev/null; do
            sleep 0.2
        done
        rc=$(cat "$dir/status" 2>/dev/null || echo "?")
        if [[ $rc == 0 ]]; then
            set -a
            # shellcheck source=/dev/null
            source "$dir/env"
            set +a
            echo "services: $name started: $(cut -d= -f1 "$dir/env" | paste -sd' ')"
        else
            failed=1
            echo "services: $name did NOT start (exit $rc); the tests that need it will be" \
                "skipped; the end of $dir/log:" >&2
            tail -n 30 "$dir/log" >&2 || true
        fi
    done
    return "$failed"
}

# services_stop: stops every service started (in reverse order), also those still starting
# or that failed half way, and removes their state directories.
services_stop()
{
    local i name
    for ((i = ${#_services_started[@]} - 1; i >= 0; i--)); do
        name=${_services_started[i]}
        # a start still under way is ended first (with all it started so far)
        if [[ ! -f $SERVICES_DIR/$name/status ]]; then
            kill -TERM -- "-${_services_pids[i]}" 2>/dev/null || true
            wait "${_services_pids[i]}" 2>/dev/null || true
        fi
        "service_${name}_stop" "$SERVICES_DIR/$name" >/dev/null 2>&1 || true
    done
    _services_started=() _services_pids=()
    [[ -z $SERVICES_DIR ]] || rm -rf "$SERVICES_DIR"
    SERVICES_DIR=
}
