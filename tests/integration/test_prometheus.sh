#!/usr/bin/env bash
# The prometheus connector end to end through the CLI.
#
# Without any service: `servo prometheus` instance selection and help, and bad servers (an
# HTML error page, a cut body, garbage, a server that never answers) served by a small
# Python server: clear failures, no hang.
#
# Against a real Prometheus ($SERVO_PROMETHEUS_URL) scraping a Pushgateway
# ($SERVO_PUSHGATEWAY_URL, with honor_labels), as tests/services/prometheus.sh starts them
# (scripts/test.sh does, through tests/services/lib.sh): known values are
# pushed, then `servo measure -f json` must return them exactly (1200, 1180.5, NaN, +Inf,
# -Inf), with series ids and annotations from the labels; the absent policies on a metric
# that does not exist; a bad query (bad_data); a private Prometheus stopped in the middle of
# a measurement; fast fail aborting on a pushed SLO breach; `servo prometheus targets`; and
# `servo check` passing and failing.
#
# When the services are not running the test prints SKIP and exits 77 (ctest: skipped;
# scripts/test.sh fails on a skip). Every process it starts is stopped.
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. Needs jq, curl and python3.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVO_SOURCE_DIR=${SERVO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
need_tools jq curl python3

PROMETHEUS_URL=${SERVO_PROMETHEUS_URL:-}
PUSHGATEWAY_URL=${SERVO_PUSHGATEWAY_URL:-}

scratch_dir servo-prometheus-test
started_pids=()
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# Nothing from the caller's environment may change the configuration.
clean_env
export SERVO_PLUGIN_PATH= # built-ins only
export NO_COLOR=1

# ---- connector commands: instance selection and help ----------------------------------------

cat >none.yaml <<'EOF'
wait:
  measure_enabled: false
EOF
cat >two.yaml <<'EOF'
connectors:
  prom1: prometheus
  prom2: prometheus
prom1:
  base_url: http://127.0.0.1:9
  metrics: [{name: up, query: up}]
prom2:
  base_url: http://127.0.0.1:9
  metrics: [{name: up, query: up}]
EOF

run -c none.yaml prometheus targets
expect_rc 2
expect_err 'no instances of "PrometheusConnector" are active in the servo "servo"'

run -c two.yaml prometheus targets
expect_rc 2
expect_err "multiple instances of \"PrometheusConnector\" are active in the servo \"servo\": select one of ['prom1', 'prom2'] with -c NAME"

run -c two.yaml prometheus -c prom3 targets
expect_rc 2
expect_err "no instance of \"PrometheusConnector\" named \"prom3\" is active in the servo \"servo\""

run -c two.yaml prometheus -c prom2 targets
expect_rc 1
expect_err "servo: error: cannot query Prometheus at http://127.0.0.1:9 (/api/v1/targets)"

run prometheus --help
expect_rc 0
expect_out "Usage: servo prometheus [-c NAME] COMMAND [ARGS]..."
expect_out "targets      Display the targets being scraped"

run prometheus
expect_rc 2
expect_err "Usage: servo prometheus"

run prometheus nope
expect_rc 2
expect_err 'prometheus: no such command "nope"'

run help prometheus targets
expect_rc 0
expect_out "Usage: servo prometheus targets [-f text|json]"

run -c none.yaml prometheus targets --help
expect_rc 0
expect_out "Usage: servo prometheus targets"

run --help
expect_rc 0
expect_out "Connector Commands:"
expect_out "prometheus   Prometheus Connector for Opsani (targets)"

# ---- bad servers ----------------------------------------------------------------------------

cat >bad_server.py <<'EOF'
import http.server, sys, time

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the connection closes after each answer

    def log_message(self, *args):
        pass

    def answer(self, status, content_type, body, length=True):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/html/"):
            self.answer(502, "text/html", b"<html>\n<head><title>502 Bad Gateway</title></head>\n"
                        b"<body><center><h1>502 Bad Gateway</h1></center></body>\n</html>\n")
        elif self.path.startswith("/cut/"):
            self.answer(200, "application/json", b'{"status":"success","data":{"resultType":'
                        b'"matrix","result":[{"metric":{},"values":[[1,"1"],', length=False)
        elif self.path.startswith("/garbage/"):
            self.answer(200, "application/json", b'{"status":"success","data":"nope"}')
        elif self.path.startswith("/hang/"):
            time.sleep(3600)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
EOF
python3 bad_server.py >bad_server.port &
started_pids+=($!)
for _ in $(seq 100); do
    [[ -s bad_server.port ]] && break
    sleep 0.05
done
bad_port=$(<bad_server.port)

bad_config() {
    cat >"$1.yaml" <<EOF
prometheus:
  base_url: http://127.0.0.1:$bad_port/$1
  timeout: 2s
  metrics:
  - {name: throughput, query: up, step: 1s}
EOF
}
for kind in html cut garbage hang; do
    bad_config "$kind"
done

run -c html.yaml measure -f json
expect_rc 1
expect_err "measure failed (http-error): metric \"throughput\": Prometheus answered /api/v1/query_range with HTTP 502 (text/html): <html> <head><title>502 Bad Gateway</title></head>"

run -c cut.yaml measure -f json
expect_rc 1
expect_err "measure failed (invalid-response)"
expect_err "the response ends too early (truncated)"

run -c garbage.yaml measure -f json
expect_rc 1
expect_err "data: expected an object, found a string"

run -c hang.yaml measure -f json
expect_rc 1
expect_err "measure failed (timeout): metric \"throughput\": Prometheus at http://127.0.0.1:$bad_port/hang did not answer /api/v1/query_range within 2s"
expect_between 1.5 6

run -c hang.yaml check
expect_rc 1
expect_out "X FAILED"

# ---- the services ---------------------------------------------------------------------------

services_up() {
    local count
    count=$(curl -sf -G --max-time 2 --data-urlencode 'query=count(up==1)' \
        "$PROMETHEUS_URL/api/v1/query" 2>/dev/null | jq -r '.data.result[0].value[1] // 0' 2>/dev/null)
    [[ $count =~ ^[0-9]+$ ]] && ((count >= 2)) &&
        curl -sf --max-time 2 "$PUSHGATEWAY_URL/-/ready" >/dev/null 2>&1
}

if ! services_up; then
    why="Prometheus (SERVO_PROMETHEUS_URL=$PROMETHEUS_URL) with a Pushgateway"
    why+=" (SERVO_PUSHGATEWAY_URL=$PUSHGATEWAY_URL) is not running"
    echo "test_prometheus: $checks checks passed without services"
    echo "SKIP: $why; scripts/test.sh starts them (tests/services/lib.sh)"
    exit 77
fi

# Each run pushes under its own job, so runs never see each other's values.
job=servo_it_$$_$RANDOM

push() { # push INSTANCE BODY
    curl -sS --fail --data-binary @- "$PUSHGATEWAY_URL/metrics/job/$job/instance/$1" <<<"$2" ||
        fail "cannot push to the Pushgateway"
}

# wait_for QUERY COUNT: until the query returns COUNT series (at most 20 s).
wait_for() {
    local got
    for _ in $(seq 100); do
        got=$(curl -sf -G --data-urlencode "query=$1" "$PROMETHEUS_URL/api/v1/query" |
            jq '.data.result | length')
        [[ $got == "$2" ]] && return 0
        sleep 0.2
    done
    fail "Prometheus never returned $2 series for $1 (got $got)"
}

push a $'# TYPE servo_it_throughput gauge\nservo_it_throughput 1200'
push b $'# TYPE servo_it_throughput gauge\nservo_it_throughput 1180.5'
push nan $'# TYPE servo_it_errors gauge\nservo_it_errors NaN'
push inf $'# TYPE servo_it_errors gauge\nservo_it_errors +Inf'
push neg $'# TYPE servo_it_errors gauge\nservo_it_errors -Inf'
push lat $'# TYPE servo_it_latency gauge\nservo_it_latency 50'
wait_for "servo_it_throughput{job=\"$job\"}" 2
wait_for "servo_it_errors{job=\"$job\"}" 3
wait_for "servo_it_latency{job=\"$job\"}" 1

cat >servo.yaml <<EOF
prometheus:
  base_url: $PROMETHEUS_URL
  fast_fail: {period: 1s}
  metrics:
  - {name: throughput, unit: rps, query: 'servo_it_throughput{job="$job"}', step: 1s}
  - {name: errors, unit: '%', query: 'servo_it_errors{job="$job"}', step: 1s}
  - {name: latency, unit: ms, query: 'servo_it_latency{job="$job"}', step: 1s}
  - {name: gone_ignore, query: 'servo_it_gone{job="$job"}', absent: ignore}
  - {name: gone_zero, query: 'servo_it_gone{job="$job"}', absent: zero}
  - {name: gone_warn, query: 'servo_it_gone{job="$job"}', absent: warn}
  - {name: gone_fail, query: 'servo_it_gone{job="$job"}', absent: fail}
EOF

# ---- measure: exact values ------------------------------------------------------------------

run measure -d 2s -f json throughput errors
expect_rc 0
expect_json '.metrics.throughput.unit' '"rps"'
expect_json "[.metrics.throughput.values[] | {id, v: (.data | map(.[1]) | unique)}] | sort_by(.id)" \
    "[{\"id\":\"{instance=a,job=$job}\",\"v\":[1200]},{\"id\":\"{instance=b,job=$job}\",\"v\":[1180.5]}]"
expect_json '[.metrics.throughput.values[].data | length]' '[3,3]'
expect_json '.metrics.throughput.values[0].data | [(.[1][0] - .[0][0]), (.[2][0] - .[1][0])] | map(. * 1000 | round)' '[1000,1000]'
expect_json '[.metrics.throughput.values[].annotation] | sort' \
    "[\"__name__=servo_it_throughput instance=a job=$job\",\"__name__=servo_it_throughput instance=b job=$job\"]"
expect_json "[.metrics.errors.values[] | {id, v: (.data | map(.[1]) | unique)}] | sort_by(.id)" \
    "[{\"id\":\"{instance=inf,job=$job}\",\"v\":[\"+Inf\"]},{\"id\":\"{instance=nan,job=$job}\",\"v\":[\"NaN\"]},{\"id\":\"{instance=neg,job=$job}\",\"v\":[\"-Inf\"]}]"
expect_json '.metrics.errors.unit' '"%"'
expect_out '1180.5'
expect_err "Measuring 2 metrics for 2s: throughput and errors"
# a progress report half way (its percentage is when the servo woke up: 50 %, or more when
# the machine is busy)
check grep -qE 'measuring Prometheus metrics for 2s \([0-9]+% complete\)' <<<"$err"
expect_between 1.9 8

run measure -f json throughput
expect_rc 0
expect_json '[.metrics.throughput.values[].data | length]' '[1,1]'

run measure throughput
expect_rc 0
expect_out "throughput  rps   1200.00 ("
expect_out "[prometheus {instance=a,job=$job}]"
expect_out "1180.50 ("

# ---- measure: absent policies ---------------------------------------------------------------

run measure -f json gone_ignore gone_zero gone_warn
expect_rc 0
expect_json '.metrics | keys' '["gone_zero"]'
expect_json '.metrics.gone_zero.values | map({id, v: (.data | map(.[1]))})' '[{"id":"{}","v":[0]}]'
expect_err "Found absent metric for query (\`servo_it_gone{job=\"$job\"}\`)"

run measure -f json gone_fail
expect_rc 1
expect_err "servo: error: measure failed (metric-absent): Required metric 'gone_fail' is absent from Prometheus"

# ---- measure: a bad query -------------------------------------------------------------------

cat >bad_query.yaml <<EOF
prometheus:
  base_url: $PROMETHEUS_URL
  metrics:
  - {name: throughput, query: 'servo_it_throughput{job="$job"}'}
  - {name: bad, query: 'sum(rate(servo_it_throughput[5s])'}
EOF
run -c bad_query.yaml measure -f json
expect_rc 1
expect_err "servo: error: measure failed (query-failed): metric \"bad\": Prometheus query request failed with error 'bad_data': 1:34: parse error: unclosed left parenthesis"

# ---- targets and checks ---------------------------------------------------------------------

run prometheus targets
expect_rc 0
expect_out "POOL"
expect_out "LAST SCRAPED"
expect_out "pushgateway  up"
expect_out "job=pushgateway"

run prometheus targets -f json
expect_rc 0
expect_json '[.[] | select(.pool == "pushgateway") | .health]' '["up"]'

run check -v
expect_rc 0
expect_out "Connect to \"$PROMETHEUS_URL\""
expect_out "Active targets"
expect_out "√ PASSED"

run -c bad_query.yaml check -v
expect_rc 1
expect_out "Run query \"sum(rate(servo_it_throughput[5s])\""
expect_out "X FAILED"

cat >refused.yaml <<EOF
prometheus:
  base_url: http://127.0.0.1:$(free_port)
  metrics: [{name: up, query: up}]
EOF
run -c refused.yaml check
expect_rc 1
expect_out "X FAILED"
expect_out "Connect to"

# ---- fast fail ------------------------------------------------------------------------------

slo='{"userdata": {"slo": {"conditions": [{"metric": "latency", "threshold": 100, "keep": "below", "trigger_count": 2}]}}}'

# below the threshold: the measurement runs its course
run measure -d 3s --control "$slo" -f json latency
expect_rc 0
expect_err "SLO statuses from last check: x1 passed [(latency below 100)]"
expect_json '[.metrics.latency.values[0].data[][1]] | unique' '[50]'

# a breach pushed in the middle: aborted long before the 60 s
(
    sleep 3
    push lat $'# TYPE servo_it_latency gauge\nservo_it_latency 500'
) &
pusher=$!
started_pids+=("$pusher")
run measure -d 60s --control "$slo" -f json latency
wait "$pusher" || true
expect_rc 1
expect_err "servo: error: measure aborted (slo-violation): SLO violation(s) observed: (latency below 100)["
expect_err "SLO failed metric value 500 was not below threshold value 100"
expect_between 3 20

# ---- a Prometheus stopped in the middle of a measurement ------------------------------------

# shellcheck source=../services/prometheus.sh
source "$SERVO_SOURCE_DIR/tests/services/prometheus.sh"
private_port=$(free_port)
private_pid=$(prometheus_start_private "$private_port" "$scratch/private")
started_pids+=("$private_pid")
prometheus_wait_up "http://127.0.0.1:$private_port" 1 60 "$private_pid" ||
    fail "the private Prometheus did not start"
cat >private.yaml <<EOF
prometheus:
  base_url: http://127.0.0.1:$private_port
  timeout: 5s
  metrics: [{name: up, query: up, step: 1s}]
EOF
run -c private.yaml measure -f json
expect_rc 0
expect_json '.metrics.up.values | length' '1'
(
    sleep 1.5
    kill "$private_pid"
) &
killer=$!
started_pids+=("$killer")
run -c private.yaml measure -d 4s -f json
wait "$killer" || true
expect_rc 1
expect_err "servo: error: measure failed (unreachable): metric \"up\": cannot query Prometheus at http://127.0.0.1:$private_port (/api/v1/query_range)"
expect_between 3.5 15

passed
