#!/usr/bin/env bash
# A real Prometheus and Pushgateway on loopback for the integration tests (Debian packages
# prometheus and prometheus-pushgateway; scripts/packages.txt installs them).
#
# Source it and call the functions (tests/services/lib.sh does, with free ports):
#   prometheus_start    Pushgateway on 127.0.0.1:$PUSHGATEWAY_PORT (19091), Prometheus on
#                       127.0.0.1:$PROMETHEUS_PORT (19090) scraping itself and the Pushgateway
#                       (honor_labels: true) every second, its data in a temporary directory.
#                       A third job, envoy, reads its targets from the files
#                       $PROMETHEUS_DIR/envoy-targets/*.json (file_sd: the tests list the
#                       pods there, with the labels kubernetes_namespace and kubernetes_pod_name
#                       that Kubernetes discovery gives them, as opsani_dev's targets check
#                       expects) and keeps none of their samples (metric_relabel drop): only
#                       the targets and their health matter.
#                       Waits until data can be queried: count(up==1) >= 2 through the HTTP
#                       API (not /-/ready, which answers before the first scrape), at most
#                       $PROMETHEUS_START_TIMEOUT seconds (60). Returns non-zero on failure.
#   prometheus_stop     Stops both (by PID) and removes the directory.
#   prometheus_start_private PORT DIR   A second Prometheus (scraping only itself) on PORT with
#                       its data in DIR; prints its PID. The tests use it to stop a Prometheus
#                       in the middle of a measurement.
#   prometheus_wait_up URL MIN TIMEOUT  Waits until count(up==1) >= MIN at URL.
#
# Or run it: tests/services/prometheus.sh start|stop|status (the PIDs and data are kept in
# ${SERVO_SERVICES_DIR:-/tmp/servo-services}/prometheus between the two calls).

PROMETHEUS_PORT=${PROMETHEUS_PORT:-19090}
PUSHGATEWAY_PORT=${PUSHGATEWAY_PORT:-19091}
PROMETHEUS_START_TIMEOUT=${PROMETHEUS_START_TIMEOUT:-60}
PROMETHEUS_PID=
PUSHGATEWAY_PID=
PROMETHEUS_DIR=

_prometheus_log()
{
    echo "services/prometheus: $*" >&2
}

# port_in_use PORT: whether something listens on 127.0.0.1:PORT.
_prometheus_port_in_use()
{
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# prometheus_wait_up URL MIN TIMEOUT [PID]: count(up==1) >= MIN within TIMEOUT seconds (and the
# process PID, when given, still alive).
prometheus_wait_up()
{
    local url=$1 min=$2 timeout=$3 pid=${4:-} deadline count
    deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            _prometheus_log "the process $pid exited while starting"
            return 1
        fi
        count=$(curl -sf -G --max-time 2 --data-urlencode 'query=count(up==1)' \
            "$url/api/v1/query" 2>/dev/null | jq -r '.data.result[0].value[1] // 0' 2>/dev/null)
        if [[ $count =~ ^[0-9]+$ ]] && ((count >= min)); then
            return 0
        fi
        sleep 0.2
    done
    _prometheus_log "$url: count(up==1) did not reach $min within ${timeout}s"
    return 1
}

_prometheus_config()
{
    local file=$1 self=$2 pushgateway=${3:-}
    {
        echo "global:"
        echo "  scrape_interval: 1s"
        echo "  evaluation_interval: 1s"
        echo "scrape_configs:"
        echo "  - job_name: prometheus"
        echo "    static_configs:"
        echo "      - targets: ['127.0.0.1:$self']"
        if [[ -n $pushgateway ]]; then
            echo "  - job_name: pushgateway"
            echo "    honor_labels: true"
            echo "    static_configs:"
            echo "      - targets: ['127.0.0.1:$pushgateway']"
            echo "  - job_name: envoy"
            echo "    file_sd_configs:"
            echo "      - files: ['$(dirname "$file")/envoy-targets/*.json']"
            echo "        refresh_interval: 1s"
            echo "    metric_relabel_configs:"
            echo "      - source_labels: [__name__]"
            echo "        action: drop"
            echo "        regex: .*"
        fi
    } >"$file"
}

# prometheus_start_private PORT DIR: prints the PID of a Prometheus that scrapes itself.
prometheus_start_private()
{
    local port=$1 dir=$2
    mkdir -p "$dir/data"
    _prometheus_config "$dir/prometheus.yml" "$port"
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
    echo $!
}

prometheus_start()
{
    local missing=()
    command -v prometheus >/dev/null || missing+=(prometheus)
    command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)
    command -v jq >/dev/null || missing+=(jq)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]})); then
        _prometheus_log "not installed: ${missing[*]}"
        return 1
    fi
    local port
    for port in "$PROMETHEUS_PORT" "$PUSHGATEWAY_PORT"; do
        if _prometheus_port_in_use "$port"; then
            _prometheus_log "127.0.0.1:$port is already in use"
            return 1
        fi
    done
    PROMETHEUS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/servo-prometheus-XXXXXX")
    mkdir -p "$PROMETHEUS_DIR/data" "$PROMETHEUS_DIR/envoy-targets"
    prometheus-pushgateway --web.listen-address="127.0.0.1:$PUSHGATEWAY_PORT" --log.level=warn \
        >"$PROMETHEUS_DIR/pushgateway.log" 2>&1 &
    PUSHGATEWAY_PID=$!
    _prometheus_config "$PROMETHEUS_DIR/prometheus.yml" "$PROMETHEUS_PORT" "$PUSHGATEWAY_PORT"
    prometheus --config.file="$PROMETHEUS_DIR/prometheus.yml" \
        --storage.tsdb.path="$PROMETHEUS_DIR/data" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn \
        >"$PROMETHEUS_DIR/prometheus.log" 2>&1 &
    PROMETHEUS_PID=$!
    local started=$SECONDS
    if ! prometheus_wait_up "http://127.0.0.1:$PROMETHEUS_PORT" 2 "$PROMETHEUS_START_TIMEOUT" \
        "$PROMETHEUS_PID"; then
        tail -n 20 "$PROMETHEUS_DIR/prometheus.log" "$PROMETHEUS_DIR/pushgateway.log" >&2 || true
        prometheus_stop
        return 1
    fi
    _prometheus_log "Prometheus on 127.0.0.1:$PROMETHEUS_PORT (pid $PROMETHEUS_PID) and" \
        "Pushgateway on 127.0.0.1:$PUSHGATEWAY_PORT (pid $PUSHGATEWAY_PID) up in" \
        "$((SECONDS - started))s"
}

prometheus_stop()
{
    local pid
    for pid in $PROMETHEUS_PID $PUSHGATEWAY_PID; do
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $PROMETHEUS_DIR && -d $PROMETHEUS_DIR ]]; then
        rm -rf "$PROMETHEUS_DIR"
    fi
    PROMETHEUS_PID='' PUSHGATEWAY_PID='' PROMETHEUS_DIR=''
    return 0
}

# ---- run as a script --------------------------------------------------------------------

_prometheus_main()
{
    local state=${SERVO_SERVICES_DIR:-/tmp/servo-services}/prometheus
    case ${1:-} in
    start)
        mkdir -p "$state"
        if [[ -f $state/pids ]]; then
            _prometheus_log "already started (see $state/pids); stop it first"
            return 1
        fi
        prometheus_start || return 1
        echo "$PROMETHEUS_PID $PUSHGATEWAY_PID $PROMETHEUS_DIR" >"$state/pids"
        # the processes outlive this script
        disown -a
        ;;
    stop)
        [[ -f $state/pids ]] || return 0
        read -r PROMETHEUS_PID PUSHGATEWAY_PID PROMETHEUS_DIR <"$state/pids"
        prometheus_stop
        rm -f "$state/pids"
        ;;
    status)
        prometheus_wait_up "http://127.0.0.1:$PROMETHEUS_PORT" 2 1 && echo "up" || echo "down"
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        return 2
        ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -uo pipefail
    _prometheus_main "$@"
    exit $?
fi
