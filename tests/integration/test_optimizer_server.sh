#!/usr/bin/env bash
# `servo optimizer serve` driven by real `servo run` processes over HTTP, with exec connectors
# whose measure script returns a deterministic function of the settings:
#   - a full session: DESCRIBE, the baseline MEASURE, ADJUST+MEASURE per trial, the final
#     ADJUST to the best, then SLEEP "optimization complete"; GET .../trials, /healthz, /metrics;
#   - auth before the application is looked up: 401 without a token or with an unknown one,
#     403 with another application's, a refused body never read, and a servo with a wrong
#     token gives up (exit 1); ambiguous framing 400;
#   - two servos at once, one per application;
#   - the server killed and restarted in the middle of a session: the servo carries on, the
#     study ends with exactly budget + 1 trials;
#   - a servo killed in the middle of a measure and started again: it gets the pending command
#     again and the study completes;
#   - bad requests: unknown application 404, not JSON 400, too large 413, wrong method 405;
#   - /metrics: counters and gauges kept up by the requests, latency histograms per route and
#     of the store that move with the requests; metrics_token: 401 without it, 200 with it;
#     metrics_labels org and none: the series summed, no application id;
#   - max_body_memory: bodies in flight over it get 503 (declared or chunked), then room again;
#   - a study whose row is corrupt is quarantined (503 with the reason, the others served);
#     `servo optimizer reset` refused while a server holds the store, then starts it anew;
#   - a second `servo run` on a driven application: 409, logged, retried (no exit), then it
#     takes over after the first servo's GOODBYE and completes the study;
#   - a servo request waiting on the store's lock, with one connection thread: /healthz and
#     /metrics answered meanwhile (the request is on a worker, its connection suspended).
#
# Environment (set by ctest): SERVO_BIN. Needs curl and jq.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools curl jq
scratch_dir servo-optimizer-server
server_pid=
servo_pids=()
cleanup() {
    local pid
    for pid in "${servo_pids[@]}" $server_pid; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
clean_env
export SERVO_PLUGIN_PATH= NO_COLOR=1

fail_logs=(server.stderr "app*/servo.stderr" "app*/events.log")
fail_tail=25

cat >optimizer.yaml <<'EOF'
store: server.db
sleep: 1s
applications:
  dev.opsani.com/app1:
    token: tok-1
    objective: {metric: throughput, goal: maximize}
    constraints:
      - {metric: latency, keep: below, threshold: 150}
    budget: 4
    seed: 1
    measure: {duration: 0s}
  dev.opsani.com/app2:
    token: tok-2
    objective: {metric: latency, goal: minimize}
    constraints:
      - {metric: throughput, keep: above, baseline_multiplier: 0.5}
    budget: 3
    seed: 2
  dev.opsani.com/app3:
    token: tok-3
    objective: {metric: throughput, goal: maximize}
    budget: 6
    seed: 3
  dev.opsani.com/app5:
    token_file: app5.token
    budget: 1
  dev.opsani.com/app4:
    token: tok-4
    objective: {metric: throughput, goal: maximize}
    budget: 3
    seed: 4
EOF
cp optimizer.yaml sessions.yaml # the sessions' applications, for the scenarios that reopen their store

# start_server [LISTEN]: sets $server_pid and $url.
start_server() {
    : >server.stdout
    "$SERVO_BIN" optimizer serve --listen "${1:-127.0.0.1:0}" -c optimizer.yaml \
        >server.stdout 2>>server.stderr &
    server_pid=$!
    local i
    for i in $(seq 1 100); do
        url=$(head -n1 server.stdout)
        [[ -n $url ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
        sleep 0.05
    done
    fail "the server printed no URL"
}

stop_server() { # stop_server SIGNAL: sets $server_rc
    kill "-$1" "$server_pid" 2>/dev/null || true
    set +e
    wait "$server_pid" 2>/dev/null
    server_rc=$?
    set -e
    server_pid=
}

. "$(dirname "${BASH_SOURCE[0]}")/optimizer_servos.sh"

# ---- requests that are refused --------------------------------------------------------------

scenario="refusals"
printf 'tok-5\n' >app5.token
start_server
check equals "$(curl -s "$url/healthz" | jq -r .status)" ok
check equals "$(api app1 '' '{"event":"HELLO","param":{},"servo_uid":null}')" 401
# authentication before the application is looked up: 401 for no token or an unknown one
# whether or not the application exists, 403 for another application's token
check equals "$(api app1 tok-2 '{"event":"HELLO","param":{},"servo_uid":null}')" 403
check equals "$(api app1 bogus '{"event":"HELLO","param":{},"servo_uid":null}')" 401
check equals "$(curl -s -o /dev/null -w '%{http_code}' "$url/accounts/dev.opsani.com/applications/app1/trials")" 401
check equals "$(api nope tok-1 '{"event":"HELLO","param":{},"servo_uid":null}')" 403
check equals "$(api nope '' '{"event":"HELLO","param":{},"servo_uid":null}')" 401
check equals "$(api nope bogus '{"event":"HELLO","param":{},"servo_uid":null}')" 401
# a token from a file (a mounted Secret)
check equals "$(api app5 tok-5 '{"event":"HELLO","param":{},"servo_uid":null}')" 200
check equals "$(api app5 tok-1 '{"event":"HELLO","param":{},"servo_uid":null}')" 403
sed 's/token_file: app5.token/token_file: app5.token\n    token: both/' optimizer.yaml >both.yaml
run optimizer serve -c both.yaml --listen 127.0.0.1:0
expect_rc 1
expect_err "applications.dev.opsani.com/app5: token and token_file are exclusive"
# a refused request is answered from its headers: its body is never read
head -c 3000000 /dev/zero | tr '\0' ' ' >refused.json
check equals "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer bogus' \
    --data-binary @refused.json "$url/accounts/dev.opsani.com/applications/app1/servo")" 401
# ambiguous framing is refused before the body
check equals "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer tok-1' \
    -H 'Transfer-Encoding: chunked' -H 'Content-Length: 5' --data-binary '{"a":1}' \
    "$url/accounts/dev.opsani.com/applications/app1/servo")" 400
check equals "$(printf 'POST /accounts/dev.opsani.com/applications/app1/servo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-1\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' |
    python3 -c 'import socket,sys; s=socket.create_connection(("'"${url#http://}"'".split(":")[0], int("'"${url##*:}"'"))); s.sendall(sys.stdin.buffer.read()); print(s.recv(100).split()[1].decode())')" 400
check equals "$(api app1 tok-1 '{"event":')" 400
check equals "$(api app1 tok-1 '{"event":"REBOOT","param":null}')" 400
check equals "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-1' \
    "$url/accounts/dev.opsani.com/applications/app1/servo")" 405
head -c 5000000 /dev/zero | tr '\0' ' ' >big.json
check equals "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer tok-1' \
    --data-binary @big.json "$url/accounts/dev.opsani.com/applications/app1/servo")" 413
# a declared length over the limit is refused from the headers, the body never waited for
check equals "$(printf 'POST /accounts/dev.opsani.com/applications/app1/servo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-1\r\nContent-Length: 99999999999\r\n\r\n{}' |
    python3 -c 'import socket,sys; s=socket.create_connection(("'"${url#http://}"'".split(":")[0], int("'"${url##*:}"'"))); s.settimeout(60); s.sendall(sys.stdin.buffer.read()); print(s.recv(100).split()[1].decode())')" 413
check equals "$(curl -s -o /dev/null -w '%{http_code}' "$url/nowhere")" 404
check equals "$(api app1 tok-1 '{"event":"HELLO","param":{"agent":"curl"},"servo_uid":"x"}')" 200
check equals "$(jq -c . body.json)" '{"status":"ok"}'
# an out-of-order result and a wrong cmd_uid, answered as an Opsani optimizer would
api app1 tok-1 '{"event":"WHATS_NEXT","param":null,"servo_uid":"x"}' >/dev/null
check equals "$(jq -r .cmd body.json)" DESCRIBE
uid=$(jq -r .cmd_uid body.json)
api app1 tok-1 '{"event":"MEASUREMENT","param":{"status":"ok","metrics":{}},"servo_uid":"x"}' >/dev/null
check equals "$(jq -c . body.json)" \
    '{"status":"unexpected-event","reason":"Out of order event \"MEASUREMENT\", expected \"DESCRIPTION\"; ignoring"}'
api app1 tok-1 '{"event":"DESCRIPTION","param":{"status":"ok","cmd_uid":"other"},"servo_uid":"x"}' >/dev/null
check equals "$(jq -c . body.json)" '{"status":"invalid","reason":"unexpected cmd_uid"}'
api app1 tok-1 '{"event":"WHATS_NEXT","param":null,"servo_uid":"x"}' >/dev/null
check equals "$(jq -r .cmd_uid body.json)" "$uid"

# a servo with the wrong token retries HELLO (as ServoX: the token may be rotated), naming where
# the token comes from, then gives up when the connect back-off runs out
make_app appx app1 wrong-token
sed -i 's/connect: {max_time: 90s}/connect: {max_time: 3s}/' appx/servo.yaml
(cd appx && timeout 60 "$SERVO_BIN" run >servo.stdout 2>servo.stderr) && rc=0 || rc=$?
check equals "$rc" 1
check contains appx/servo.stderr "HELLO failed (HTTP 401: the optimizer refused the token of optimizer.token (OPSANI_TOKEN, --token)"
check contains appx/servo.stderr "retrying in"
check contains appx/servo.stderr "Cannot connect to the optimizer"
check lacks appx/servo.stderr "wrong-token"

# ---- two servos at once, each through a whole session ---------------------------------------

scenario="two servos"
make_app app1 app1 tok-1
make_app app2 app2 tok-2
start_servo app1
pid1=$servo_pid
start_servo app2
pid2=$servo_pid
wait_phase app1 tok-1 done 60
wait_phase app2 tok-2 done 60
sleep 1.5 # a SLEEP, then WHATS_NEXT again: still SLEEP, nothing more runs
stop_servo "$pid1" TERM
check equals "$rc" 0
stop_servo "$pid2" TERM
check equals "$rc" 0
check equals "$(events app1)" "$(session_order 4)"
check equals "$(events app2)" "$(session_order 3)"
check contains app1/servo.stderr 'Sleeping for 1s (optimization complete).'
check contains app1/servo.stderr "Saying GOODBYE (SIGTERM)."
trials app1 tok-1 >app1.json
check equals "$(jq '.trials | length' app1.json)" 5
check equals "$(jq -r '.trials[0].baseline' app1.json)" true
check equals "$(jq -r '.reason' app1.json)" "optimization complete"
check equals "$(jq '[.trials[] | .adjust_uid != null] | map(select(.)) | length' app1.json)" 4
# the application ends at the best trial's settings
best=$(jq .best app1.json)
check equals "$(cat app1/state)" \
    "$(jq -r ".trials[$best].settings | \"\(.[\"main.cpu\"]) \(.[\"main.replicas\"])\"" app1.json |
        sed 's/\.0 / /; s/\.0$//')"
trials app2 tok-2 >app2.json
check equals "$(jq '.trials | length' app2.json)" 4
check equals "$(jq -r '.objective.goal' app2.json)" minimize
curl -s "$url/metrics" >metrics.txt
check contains metrics.txt 'servo_optimizer_trials_total{app="dev.opsani.com/app1",status="ok"} 5'
check contains metrics.txt 'servo_optimizer_trials_total{app="dev.opsani.com/app2",status="ok"} 4'
check contains metrics.txt 'servo_optimizer_study_over{app="dev.opsani.com/app1"} 1'
check contains metrics.txt 'servo_optimizer_requests_total{code="401"}'
check contains metrics.txt '# TYPE servo_optimizer_best_objective gauge'
check grep -q '^servo_optimizer_best_objective{app="dev.opsani.com/app1"} [0-9.e+-]*$' metrics.txt
check grep -q '^servo_optimizer_requests_total{code="200"} [0-9]*$' metrics.txt
# latency histograms: per route and of the store, moving with the requests in between
sample() { # sample FILE SERIES: the value of the series (its name and labels as written)
    awk -v series="$2" '$1 == series { print $2 }' "$1"
}
request_series=servo_optimizer_request_duration_seconds
check contains metrics.txt "# TYPE $request_series histogram"
check contains metrics.txt '# TYPE servo_optimizer_store_duration_seconds histogram'
curl -s "$url/healthz" >/dev/null
curl -s "$url/healthz" >/dev/null
trials app1 tok-1 >/dev/null
curl -s "$url/metrics" >metrics2.txt
for route in healthz trials metrics; do
    before=$(sample metrics.txt "${request_series}_count{route=\"$route\"}")
    after=$(sample metrics2.txt "${request_series}_count{route=\"$route\"}")
    case $route in healthz) added=2 ;; *) added=1 ;; esac
    check equals "$after" "$((${before:-0} + added))"
    check equals "$(sample metrics2.txt "${request_series}_bucket{route=\"$route\",le=\"+Inf\"}")" "$after"
done
check equals "$(awk -v a="$(sample metrics.txt "${request_series}_sum{route=\"healthz\"}")" \
    -v b="$(sample metrics2.txt "${request_series}_sum{route=\"healthz\"}")" 'BEGIN { print (b > a) }')" 1
# the buckets are cumulative: never decreasing, ending at the count
check equals "$(awk -v p="${request_series}_bucket{route=\"servo\"," 'index($1, p) == 1 {
    if ($2 < last) bad = 1; last = $2 } END { print bad + 0 }' metrics2.txt)" 0
check equals "$(sample metrics2.txt "${request_series}_bucket{route=\"servo\",le=\"+Inf\"}")" \
    "$(sample metrics2.txt "${request_series}_count{route=\"servo\"}")"
# each /healthz pings the store: two more observations at least
store_before=$(sample metrics.txt servo_optimizer_store_duration_seconds_count)
store_after=$(sample metrics2.txt servo_optimizer_store_duration_seconds_count)
check equals "$((store_after >= store_before + 2))" 1
check equals "$(sample metrics2.txt 'servo_optimizer_store_duration_seconds_bucket{le="+Inf"}')" "$store_after"

# ---- the server restarts in the middle of a session -----------------------------------------

scenario="server restart"
port=${url##*:}
make_app app3 app3 tok-3 0.4
start_servo app3
pid3=$servo_pid
wait_lines app3/events.log 5 30 # D M A M A: in the second trial
stop_server KILL
sleep 1
start_server "127.0.0.1:$port"
wait_phase app3 tok-3 done 90
stop_servo "$pid3" TERM
check equals "$rc" 0
trials app3 tok-3 >app3.json
check equals "$(jq '.trials | length' app3.json)" 7
check equals "$(jq '[.trials[] | select(.status == "ok")] | length' app3.json)" 7
# a measure whose result arrived while the server was away is not repeated
check equals "$(events app3)" "$(session_order 6)"

# ---- the servo vanishes in the middle of a measure and comes back ---------------------------

scenario="servo restart"
make_app app4 app4 tok-4
touch app4/gate
start_servo app4
pid4=$servo_pid
wait_lines app4/events.log 4 30 # D M A M: measuring trial 1, held at the gate
api app4 tok-4 '{"event":"WHATS_NEXT","param":null,"servo_uid":null}' >/dev/null
pending=$(jq -c '{cmd, cmd_uid}' body.json)
check equals "$(jq -r .cmd body.json)" MEASURE
trials app4 tok-4 >app4-before.json
stop_servo "$pid4" KILL
kill -KILL "$(cat app4/measure.pid)" 2>/dev/null || true # its orphaned measure script
touch app4/release
echo "1 2" >app4/state # the application was reset meanwhile
echo R >>app4/events.log # the restart
start_servo app4
pid4=$servo_pid
wait_phase app4 tok-4 done 60
stop_servo "$pid4" TERM
check equals "$rc" 0
trials app4 tok-4 >app4.json
check equals "$(jq '.trials | length' app4.json)" 4
# the restarted servo's HELLO: trial 1's ADJUST again (a new cmd_uid), then its MEASURE
check test "$(jq -r '.trials[1].adjust_uid' app4.json)" != \
    "$(jq -r '.trials[1].adjust_uid' app4-before.json)"
check test "$(jq -r '.trials[1].measure_uid' app4.json)" != "$(jq -r .cmd_uid <<<"$pending")"
check equals "$(jq -c '.trials[1].settings' app4.json)" "$(jq -c '.trials[1].settings' app4-before.json)"
check contains server.stderr "Trial 1: the servo said HELLO with the MEASURE pending: adjusting to its settings again"
# (the D: the exec connector of a new process describes before it adjusts)
check equals "$(events app4)" "D M A M R D A M A M A M A"
check equals "$(cat app4/state)" "$(jq -r '.trials[.best].settings | "\(.["main.cpu"]) \(.["main.replicas"])"' app4.json | sed 's/\.0 / /; s/\.0$//')"
# the old command's measurement is refused, saying why
api app4 tok-4 "$(jq -nc --arg uid "$(jq -r .cmd_uid <<<"$pending")" \
    '{event: "MEASUREMENT", param: {status: "ok", cmd_uid: $uid, metrics: {}}, servo_uid: null}')" >/dev/null
check equals "$(jq -r .status body.json)" invalid
check contains body.json "stale cmd_uid $(jq -r .cmd_uid <<<"$pending")"

stop_server TERM
check equals "$server_rc" 0
check equals "$(grep -c 'Received SIGTERM: shutting down' server.stderr)" 1
# ---- slow clients do not lock anyone out -----------------------------------------------------

scenario="slow-loris"
cp optimizer.yaml plain.yaml
printf 'max_connections_per_address: 2000\nconnection_timeout: 3s\n' >>optimizer.yaml
start_server
# 600 connections that send half a request and then nothing
cat >slow.py <<'EOF'
import socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(count):
    s = socket.create_connection((host, port))
    s.sendall(b"POST /accounts/dev.opsani.com/applications/app1/servo HTTP/1.1\r\nHost: x\r\n")
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(60)
EOF
hostport=${url#http://}
python3 slow.py "${hostport%:*}" "${hostport##*:}" 600 >slow.out 2>&1 &
slow_pid=$!
for i in $(seq 1 200); do
    grep -q holding slow.out && break
    kill -0 "$slow_pid" 2>/dev/null || fail "the slow client died: $(cat slow.out)"
    sleep 0.05
done
check contains slow.out "holding 600"
# others are served meanwhile (a generous bound: this is liveness, not speed)
check equals "$(curl -s -m 10 "$url/healthz" | jq -r .status)" ok
check equals "$(api app1 tok-1 '{"event":"WHATS_NEXT","param":null,"servo_uid":"x"}')" 200
# and the slow connections are dropped after connection_timeout
established() { ss -Htn state established "( sport = :${hostport##*:} )" | wc -l; }
for i in $(seq 1 200); do
    (($(established) == 0)) && break
    sleep 0.1
done
check equals "$(established)" 0
kill "$slow_pid" 2>/dev/null || true
wait "$slow_pid" 2>/dev/null || true
stop_server TERM
mv plain.yaml optimizer.yaml

# ---- HTTPS, and a servo that trusts its CA --------------------------------------------------

scenario="tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem \
    >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout tls.key -out tls.csr >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
    -out tls.pem >/dev/null 2>&1
sed -i 's/^store: server.db$/store: tls.db/' optimizer.yaml
printf 'tls: {cert: tls.pem, key: tls.key}\n' >>optimizer.yaml
start_server
check equals "${url%%://*}" https
check equals "$(curl -s --cacert ca.pem "$url/healthz" | jq -r .status)" ok
check equals "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" || true)" 000
make_app apptls app2 tok-2
sed -i "s|^settings:\$|settings:\\n  ssl_verify: $PWD/ca.pem|" apptls/servo.yaml
start_servo apptls
pidtls=$servo_pid
tls_trials() {
    curl -s --cacert ca.pem -H 'Authorization: Bearer tok-2' \
        "$url/accounts/dev.opsani.com/applications/app2/trials"
}
for i in $(seq 1 600); do
    [[ $(tls_trials | jq -r .phase) == done ]] && break
    sleep 0.1
done
stop_servo "$pidtls" TERM
check equals "$rc" 0
check equals "$(tls_trials | jq -r .phase)" done
check equals "$(tls_trials | jq '.trials | length')" 4
stop_server TERM
# a malformed certificate: an error naming the file
echo "not a certificate" >bad.pem
sed -i 's/cert: tls.pem/cert: bad.pem/' optimizer.yaml
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:0
expect_rc 1
expect_err "tls.cert bad.pem: not a PEM file"

# ---- /metrics behind a metrics_token ---------------------------------------------------------

scenario="metrics token"
cat >optimizer.yaml <<'EOF'
store: metrics.db
metrics_token: m3trics
applications:
  dev.opsani.com/app1: {token: tok-1}
EOF
start_server
scrape() { curl -s -o metrics3.txt -w '%{http_code}' "$@" "$url/metrics"; }
check equals "$(scrape)" 401
check equals "$(scrape -H 'Authorization: Bearer wrong')" 401
check equals "$(scrape -H 'Authorization: Bearer tok-1')" 401 # an application's token is not it
check equals "$(scrape -H 'Authorization: Bearer m3trics')" 200
check contains metrics3.txt 'servo_optimizer_study_over{app="dev.opsani.com/app1"} 0'
check grep -q '^servo_optimizer_request_duration_seconds_count{route="metrics"} 3$' metrics3.txt
stop_server TERM

# ---- /metrics labels: per organization, or no ids at all -------------------------------------

# The store of the sessions above (app1: 5 trials, app2: 4, both over), and an application of
# another organization with no trial yet.
scenario="metrics labels"
cp server.db labels.db
sed 's/^store: server.db/store: labels.db/' sessions.yaml >optimizer.yaml
printf '  other.org/app9: {token: tok-9}\nmetrics_labels: org\n' >>optimizer.yaml
start_server
curl -s "$url/metrics" >labels-org.txt
check contains labels-org.txt 'servo_optimizer_trials_total{org="dev.opsani.com",status="ok"} '
ok_trials=0
for i in 1 2 3 4 5; do
    ok_trials=$((ok_trials + $(trials "app$i" "tok-$i" | jq '[.trials[] | select(.status == "ok")] | length')))
done
check equals "$(sample labels-org.txt 'servo_optimizer_trials_total{org="dev.opsani.com",status="ok"}')" "$ok_trials"
check equals "$(sample labels-org.txt 'servo_optimizer_studies{org="dev.opsani.com"}')" 5
check equals "$(sample labels-org.txt 'servo_optimizer_studies{org="other.org"}')" 1
check equals "$(sample labels-org.txt 'servo_optimizer_study_over{org="other.org"}')" 0
check equals "$(($(sample labels-org.txt 'servo_optimizer_study_over{org="dev.opsani.com"}') >= 2))" 1
check lacks labels-org.txt 'app1'
check lacks labels-org.txt 'app='
check lacks labels-org.txt 'servo_optimizer_best_objective'
stop_server TERM
sed -i 's/^metrics_labels: org/metrics_labels: none/' optimizer.yaml
start_server
curl -s "$url/metrics" >labels-none.txt
check equals "$(sample labels-none.txt 'servo_optimizer_studies')" 6
check equals "$(sample labels-none.txt 'servo_optimizer_trials_total{status="ok"}')" \
    "$(sample labels-org.txt 'servo_optimizer_trials_total{org="dev.opsani.com",status="ok"}')"
check lacks labels-none.txt 'opsani'
check lacks labels-none.txt 'other.org'
check lacks labels-none.txt 'org='
stop_server TERM
sed -i 's/^metrics_labels: none/metrics_labels: apps/' optimizer.yaml
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:0
expect_rc 2
expect_err 'metrics_labels: "apps" is not one of: app, org, none'

# ---- the memory of request bodies in flight is bounded across connections --------------------

# max_body_memory 100000: one request that declared 60000 bytes and sent 10 holds 60001; another
# declaring 60000 gets 503 (Retry-After) from its headers, a chunked one of 50000 gets 503 once
# it outgrows what is left; the first completes, and the memory is free again.
scenario="body memory"
cat >optimizer.yaml <<'EOF'
store: bodies.db
max_request_size: 65536
max_body_memory: 100000
applications:
  dev.opsani.com/app1: {token: tok-1}
EOF
start_server
cat >bodies.py <<'EOF'
import http.client, json, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
path = "/accounts/dev.opsani.com/applications/app1/servo"
head = "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-1\r\n" % path
def held():  # the server's gauge of what bodies in flight hold
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request("GET", "/metrics")
    for line in c.getresponse().read().decode().splitlines():
        if line.startswith("servo_optimizer_request_body_bytes "):
            return int(line.split()[1])
def wait_held(predicate):
    for _ in range(200):
        if predicate(held()):
            return
        time.sleep(0.05)
    sys.exit("the bodies in flight never reached the expected size: %d" % held())
def reply(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")
def status(text):
    return text.split()[1] if text else "none"
body = json.dumps({"event": "HELLO", "param": {}, "servo_uid": "m"}).ljust(60000).encode()
a = socket.create_connection((host, port))
a.sendall(("%sContent-Length: %d\r\n\r\n" % (head, len(body))).encode() + body[:10])
wait_held(lambda n: n >= 60001)
print("held", held())
b = socket.create_connection((host, port))
b.sendall(("%sContent-Length: %d\r\n\r\n" % (head, len(body))).encode())
text = reply(b)
print("declared", status(text), "retry-after" if "Retry-After: 1" in text else "no-retry-after")
c = socket.create_connection((host, port))
c.sendall(("%sTransfer-Encoding: chunked\r\n\r\n" % head).encode())
for _ in range(50):
    c.sendall(b"3e8\r\n" + b" " * 1000 + b"\r\n")
c.sendall(b"0\r\n\r\n")
print("chunked", status(reply(c)))
a.sendall(body[10:])
print("first", status(reply(a)))
for s in (a, b, c):
    s.close()
wait_held(lambda n: n == 0)
print("held", held())
again = http.client.HTTPConnection(host, port, timeout=10)
again.request("POST", path, body, {"Authorization": "Bearer tok-1"})
print("again", again.getresponse().status)
EOF
hostport=${url#http://}
python3 bodies.py "${hostport%:*}" "${hostport##*:}" >bodies.out 2>&1 || true
check equals "$(cat bodies.out)" "$(printf 'held 60001\ndeclared 503 retry-after\nchunked 503\nfirst 200\nheld 0\nagain 200')"
stop_server TERM
# a bound smaller than the largest request is refused, naming both
sed -i 's/^max_body_memory: .*/max_body_memory: 50000/' optimizer.yaml
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:0
expect_rc 1
expect_err "max_body_memory (50000 bytes) is smaller than max_request_size (65536 bytes)"

# ---- a study that cannot be read is quarantined; reset starts it anew ------------------------

# app2's row is corrupted while the server is down: the server starts all the same, app2's
# requests get 503 naming the reason, app1 is served; `servo optimizer reset` is refused while
# a server holds the store, then (server stopped) starts app2 anew.
scenario="quarantine"
cat >optimizer.yaml <<'EOF'
store: quarantine.db
applications:
  dev.opsani.com/app1: {token: tok-1}
  dev.opsani.com/app2: {token: tok-2}
EOF
next() { api "$1" "$2" '{"event":"WHATS_NEXT","param":null,"servo_uid":"q"}'; }
start_server
check equals "$(next app1 tok-1)" 200
check equals "$(next app2 tok-2)" 200
stop_server TERM
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE applications SET pending = ? WHERE id = ?", ("{bad", "dev.opsani.com/app2"))
db.commit()' quarantine.db
start_server
check equals "$(next app2 tok-2)" 503
check contains body.json "the study of dev.opsani.com/app2 is quarantined: quarantine.db: the state of dev.opsani.com/app2 is inconsistent"
check equals "$(next app1 tok-1)" 200
check equals "$(jq -r .cmd body.json)" DESCRIBE
check contains server.stderr "dev.opsani.com/app2: quarantined: quarantine.db"
check equals "$(curl -s "$url/healthz" | jq -r .status)" ok
run optimizer reset -c optimizer.yaml --app dev.opsani.com/app2
expect_rc 1
expect_err "optimizer reset: quarantine.db is in use by pid $server_pid"
# and a second server on the same SQLite store is refused, naming the holder
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:0
expect_rc 1
expect_err "quarantine.db is in use by pid $server_pid"
stop_server TERM
run optimizer reset -c optimizer.yaml --app dev.opsani.com/app2
expect_rc 0
start_server
check equals "$(next app2 tok-2)" 200
check equals "$(jq -r .cmd body.json)" DESCRIBE
check equals "$(next app1 tok-1)" 200
stop_server TERM
# bad settings, each named: a port out of range (it once wrapped), two stores, an unknown scheme
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:99999
expect_rc 1
expect_err "--listen 127.0.0.1:99999: expected HOST:PORT, the port a number from 0 to 65535"
printf 'store: other.db\n' >>optimizer.yaml
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:0
expect_rc 2
expect_err 'duplicate key "store" (first defined at line 1)'
sed -i '$d; s|^store: .*|store: mysql://servo@db/servo|' optimizer.yaml
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:0
expect_rc 2
expect_err "store: unknown kind of store: a SQLite file path or a postgresql:// URI"

# ---- a second servo on an application: 409, it waits, then takes over after GOODBYE ---------

# "holder" drives app1 (a HELLO by hand); a real `servo run` with another servo_uid gets 409
# naming the application and the holder, logs it and keeps retrying (it does not exit); the
# holder says GOODBYE: the servo takes over and carries the study to its end.
scenario="second servo"
cat >optimizer.yaml <<'EOF'
store: busy.db
sleep: 1s
applications:
  dev.opsani.com/app1: {token: tok-1, objective: {metric: throughput, goal: maximize}, budget: 2, measure: {duration: 0s}}
EOF
start_server
check equals "$(api app1 tok-1 '{"event":"HELLO","param":{"agent":"curl"},"servo_uid":"holder"}')" 200
rm -rf app1
make_app app1 app1 tok-1 0 servo-b
start_servo app1
busy_pid=$servo_pid
for i in $(seq 1 400); do
    grep -q "Another servo is active on this application" app1/servo.stderr 2>/dev/null && break
    kill -0 "$busy_pid" 2>/dev/null || fail "the second servo exited"
    sleep 0.05
done
check contains app1/servo.stderr "Another servo is active on this application"
check contains app1/servo.stderr "another servo is active on dev.opsani.com/app1 (servo_uid holder"
check equals "$(kill -0 "$busy_pid" 2>/dev/null && echo running)" running
check equals "$(test -f app1/events.log && echo acted || echo idle)" idle
check equals "$(api app1 tok-1 '{"event":"GOODBYE","param":{"reason":"shutdown"},"servo_uid":"holder"}')" 200
wait_phase app1 tok-1 done 90
stop_servo "$busy_pid" TERM
check equals "$rc" 0
check equals "$(events app1)" "$(session_order 2)"
check equals "$(trials app1 tok-1 | jq '.trials | length')" 3
stop_server TERM

# ---- a slow exchange does not hold the connection threads -----------------------------------

# One connection thread; a servo request waits on the store's write lock (held here by another
# SQLite connection) on one of the server's workers, its connection suspended: /healthz (a read,
# which WAL allows) and /metrics are answered while it is still waiting.
scenario="slow exchange"
cat >optimizer.yaml <<'EOF'
store: slow.db
threads: 1
applications:
  dev.opsani.com/app1: {token: tok-1}
EOF
start_server
cat >lock.py <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes the pipe
db.execute("ROLLBACK")
EOF
mkfifo hold
python3 lock.py slow.db <hold >lock.out 2>&1 &
lock_pid=$!
servo_pids+=("$lock_pid")
exec 7>hold
for i in $(seq 1 200); do
    grep -q locked lock.out && break
    kill -0 "$lock_pid" 2>/dev/null || fail "the lock holder died: $(cat lock.out)"
    sleep 0.05
done
check contains lock.out locked
(
    exec 7>&- # (the pipe's only writer is the test)
    api app1 tok-1 '{"event":"HELLO","param":{"agent":"servo/0.1.0"},"servo_uid":"s1"}' >hello.code
) &
hello_pid=$!
# the request is in: the server took its body and is waiting (nothing answers it while locked)
for i in $(seq 1 200); do
    (($(ss -Htn state established "( dport = :${url##*:} )" | wc -l) > 0)) && break
    sleep 0.05
done
sleep 0.3
check equals "$(curl -s -m 4 "$url/healthz" | jq -r .status)" ok
check equals "$(curl -s -m 4 -o /dev/null -w '%{http_code}' "$url/metrics")" 200
check equals "$(kill -0 "$hello_pid" 2>/dev/null && echo waiting)" waiting
exec 7>&- # the lock is released: the HELLO goes on
wait "$hello_pid"
check equals "$(cat hello.code)" 200
wait "$lock_pid"
stop_server TERM

for f in server.stderr app*/servo.stderr; do
    check lacks "$f" "Sanitizer" # an ASan build reports leaks and errors at exit
done
passed
