#!/usr/bin/env bash
# The load generators end to end, against a real nginx on loopback (tests/services/nginx.sh):
#   wrk (the real one): `servo measure -f json` against `/` (throughput > 0, no errors, sane
#     latencies), against /status500 (error_rate 100), against a port that refuses
#     connections (exit 1, a clear message), with a user Lua script whose done() still runs,
#     `servo check`, and a missing wrk;
#   vegeta (the stand-in tests/tools/vegeta on PATH, which replays the recorded real output
#     byte for byte and refuses any flag not written -flag=value): `servo measure -f json`
#     with the exact values of the recording, `servo vegeta attack`, `servo check`, a missing
#     vegeta; no process of any pipeline survives.
#
# Uses $SERVO_NGINX_URL when it is set and answers (scripts/test.sh starts nginx), else
# starts its own nginx on a free port, and stops it at exit. When nginx or wrk is missing it
# prints SKIP and exits 77 (ctest: skipped).
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${SERVO_SOURCE_DIR:?set SERVO_SOURCE_DIR to the source tree}"

missing=()
for tool in nginx wrk curl python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "SKIP: ${missing[*]} not installed (scripts/install-deps.sh installs them)"
    exit 77
fi

scratch_dir servo-load
nginx_dir=""
cleanup()
{
    [[ -n $nginx_dir ]] && "$SERVO_SOURCE_DIR/tests/services/nginx.sh" stop "$nginx_dir"
    # every stand-in process this test started: gone already, or stopped here
    if [[ -f $scratch/standin.pids ]]; then
        while read -r pid; do
            kill -KILL "$pid" 2>/dev/null || true
        done <"$scratch/standin.pids"
    fi
}

clean_env SERVO_NGINX_URL
export NO_COLOR=1
export VEGETA_STANDIN_PIDFILE=$scratch/standin.pids
export VEGETA_STANDIN_ARGS=$scratch/standin.args
tools=$SERVO_SOURCE_DIR/tests/tools
fixtures=$SERVO_SOURCE_DIR/tests/fixtures

# expect_py PYTHON: the expression holds for m = the measurement JSON on stdout (v(name):
# a data point's value).
cat >"$scratch/expect.py" <<'PY'
import json, math, sys
m = json.load(sys.stdin)
def v(name):
    return m["metrics"][name]["value"]
assert eval(sys.argv[1], {"m": m, "v": v, "math": math}), sys.argv[1]
PY
expect_py()
{
    checks=$((checks + 1))
    python3 "$scratch/expect.py" "$1" <<<"$out" 2>"$scratch/python.err" || {
        err="$err
$(<"$scratch/python.err")"
        fail "expected: $1"
    }
}

# No process the stand-in recorded is still alive.
expect_no_standin_left()
{
    checks=$((checks + 1))
    [[ -f $scratch/standin.pids ]] || return 0
    local pid state i
    while read -r pid; do
        for ((i = 0; i < 100; i++)); do
            state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
            [[ $state == gone || $state == Z ]] && break
            sleep 0.05
        done
        [[ $state == gone || $state == Z ]] ||
            fail "stand-in process $pid survived: $(ps -o args= -p "$pid")"
    done <"$scratch/standin.pids"
}

# ---- nginx -------------------------------------------------------------------------------

if [[ -n ${SERVO_NGINX_URL:-} ]] && curl -sf -o /dev/null "$SERVO_NGINX_URL/"; then
    base=$SERVO_NGINX_URL
else
    nginx_dir=$scratch/nginx
    base=$("$SERVO_SOURCE_DIR/tests/services/nginx.sh" start "$nginx_dir" "$(free_port)")
fi
refused_port=$(free_port)
echo "nginx at $base; refused port $refused_port"

# ---- wrk ---------------------------------------------------------------------------------

cat >wrk.yaml <<EOF
wrk:
  url: $base/
  threads: 1
  connections: 4
EOF
run -c wrk.yaml measure -d 2s -f json
expect_rc 0
expect_py 'v("throughput") > 0 and v("error_rate") == 0'
expect_py 'abs(v("throughput_rpm") - 60 * v("throughput")) < 1e-6 * v("throughput_rpm")'
expect_py '0 < v("latency_50th") <= v("latency_90th") <= v("latency_99th") <= v("latency_max")'
expect_py 'v("latency_max") < 5000'
expect_py '0 < v("latency_mean") <= v("latency_max")'
expect_py 'm["metrics"]["throughput"]["unit"] == "rps"'
expect_py 'm["metrics"]["latency_max"]["unit"] == "ms"'
expect_py 'm["annotations"]["load_profile"].startswith(
    "Loading '"$base"'/ with 1 threads and 4 connections for 2s")'

cat >wrk500.yaml <<EOF
wrk:
  url: $base/status500
  threads: 1
  connections: 2
EOF
run -c wrk500.yaml measure -d 1s -f json error_rate throughput
expect_rc 0
expect_py 'v("error_rate") == 100 and v("throughput") > 0 and len(m["metrics"]) == 2'

cat >refused.yaml <<EOF
wrk:
  url: http://127.0.0.1:$refused_port/
EOF
run -c refused.yaml measure -d 1s -f json
expect_rc 1
expect_err "wrk cannot reach http://127.0.0.1:$refused_port/: unable to connect to \
127.0.0.1:$refused_port Connection refused"

# a user script: its request changes and its done() still run, then the connector's
cat >user.lua <<EOF
wrk.headers["X-From-Script"] = "1"
function done(summary, latency, requests)
  local f = io.open("$scratch/user_done.txt", "w")
  f:write("user done " .. summary.requests .. "\n")
  f:close()
  io.write("user output without a newline")
end
EOF
cat >script.yaml <<EOF
wrk:
  url: $base/
  threads: 1
  connections: 1
  script: user.lua
  timeout: 1s
  headers: {X-Test: a b}
EOF
run -c script.yaml measure -d 1s -f json
expect_rc 0
expect_py 'v("throughput") > 0 and v("error_rate") == 0'
checks=$((checks + 1))
grep -q '^user done [1-9]' "$scratch/user_done.txt" || fail "the user script's done() did not run"

run -c wrk.yaml check -v
expect_rc 0
expect_out "wrk present"
expect_out "target reachable"
expect_out "answered"
run -c refused.yaml check
expect_rc 1
expect_out "X FAILED"

cat >nowrk.yaml <<EOF
wrk:
  url: $base/
  binary: $scratch/no-such-dir/wrk
EOF
run -c nowrk.yaml measure -d 1s
expect_rc 1
expect_err "cannot run wrk: \"$scratch/no-such-dir/wrk\" was not found"
run -c nowrk.yaml check -v
expect_rc 1
expect_out "was not found"

# ---- vegeta (the stand-in) -----------------------------------------------------------------

cat >vegeta.yaml <<EOF
vegeta:
  rate: 50/1s
  target: GET $base/
  reporting_interval: 1s
EOF
PATH=$tools:$PATH run -c vegeta.yaml measure -d 5s -f json
expect_rc 0
# exactly the recorded reports: throughput x 60, 100 - success x 100, latencies ns / 1e6
cat >"$scratch/recorded.py" <<'PY'
import json, re, sys
raw = open(sys.argv[1], "rb").read().decode()
reports = [json.loads(line) for line in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw).splitlines()]
expected = {
    "throughput": [r["throughput"] * 60 for r in reports],
    "error_rate": [100 - r["success"] * 100 for r in reports],
}
for key in ("total", "mean", "50th", "90th", "95th", "99th", "max", "min"):
    expected["latency_" + key] = [r["latencies"][key] / 1e6 for r in reports]
m = json.load(sys.stdin)
assert set(m["metrics"]) == set(expected), sorted(m["metrics"])
for name, values in expected.items():
    series = m["metrics"][name]["values"]
    assert len(series) == 1, (name, series)
    got = [point[1] for point in series[0]["data"]]
    assert got == values, (name, got, values)
assert m["annotations"]["load_profile"].startswith(
    "Loading 1 URL(s) for 5s (delay of 0, warmup of 0)")
PY
checks=$((checks + 1))
python3 "$scratch/recorded.py" "$fixtures/vegeta/report_json_every1s_stdout.raw" <<<"$out" \
    2>"$scratch/python.err" || {
    err="$err
$(<"$scratch/python.err")"
    fail "the measurement is not the recorded reports"
}
expect_no_standin_left
checks=$((checks + 1))
attack="attack -rate=50/1s -duration=5s -targets=stdin -format=http -connections=10000"
attack+=" -workers=10 -max-body=-1 -http2=true -keepalive=true -insecure=false"
grep -qxF -- "$attack" "$scratch/standin.args" ||
    fail "the attack flags were not all -flag=value: $(cat "$scratch/standin.args")"

# `servo vegeta attack` (the connector subcommand)
PATH=$tools:$PATH run -c vegeta.yaml vegeta attack --help
expect_rc 0
expect_out "Usage: servo vegeta attack"
PATH=$tools:$PATH run -c vegeta.yaml vegeta attack -d 2s -e 1s -f json
expect_rc 0
checks=$((checks + 1))
[[ $(wc -l <<<"$out") == 2 ]] || fail "expected two reports (one periodic, the final)"
checks=$((checks + 1))
! grep -q $'\033' <<<"$out" || fail "escape codes in the reports"
expect_out '"requests":51,'
expect_out '"requests":250,'
PATH=$tools:$PATH run -c vegeta.yaml vegeta attack -d 2s -e 1s
expect_rc 0
expect_out "requests 51: throughput 3040.405 rpm, error_rate 0.000 %, latency_total 21.396 ms"
expect_no_standin_left

PATH=$tools:$PATH run -c vegeta.yaml check -v
expect_rc 0
expect_out "Vegeta execution"
expect_out "5 reports aggregated"
expect_out "0.00% errors in 250 requests"
expect_no_standin_left

# no vegeta at all
PATH=/usr/bin:/bin run -c vegeta.yaml measure -d 1s
expect_rc 1
expect_err 'cannot run vegeta: "vegeta" was not found (install vegeta or set `binary` to its path)'
PATH=/usr/bin:/bin run -c vegeta.yaml check -v
expect_rc 1
expect_out "X FAILED"

passed
