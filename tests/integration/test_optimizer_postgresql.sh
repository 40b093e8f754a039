#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The optimizer server for a fleet, on a real PostgreSQL (tests/services/postgresql.sh starts
# one and exports SERVO_POSTGRESQL_URI and SERVO_POSTGRESQL_PASSWORD_FILE; without them this
# test exits 77, which ctest reports as skipped):
#   - two replicas on one database behind a TCP balancer, three servos (one per application,
#     each with its servo_uid); one replica is killed (-9) in the middle of the sessions: the
#     servos' retries go to the other, and every study ends with exactly its budget of trials,
#     nothing measured twice;
#   - a second servo on an application gets 409 from either replica;
#   - `servo optimizer history`, `best` and `servo report` read the PostgreSQL store (password
#     from password_file);
#   - a schema newer than the server's is refused naming both versions; an unreachable
#     database is an error naming the host; `servo optimizer reset --app` starts a study anew;
#   - the database lost during operation (a TCP relay in between, killed): 503 and a log line,
#     /healthz 503; the relay back: the same replica answers again, the study where it was.
#
# Environment (set by ctest): SERVO_BIN. Needs curl, jq, python3 and psql.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ -z ${SERVO_POSTGRESQL_URI:-} || -z ${SERVO_POSTGRESQL_PASSWORD_FILE:-} ]]; then
    echo "$test_name: SKIP: no PostgreSQL (start tests/services/postgresql.sh and export what" \
        "its env command prints)" >&2
    exit 77
fi
need_tools curl jq python3 psql
pg_uri=$SERVO_POSTGRESQL_URI
pg_password_file=$SERVO_POSTGRESQL_PASSWORD_FILE
scratch_dir servo-optimizer-postgresql
clean_env
export SERVO_PLUGIN_PATH= NO_COLOR=1
replica_pids=()
servo_pids=()
proxy_pid=
cleanup() {
    local pid
    for pid in "${servo_pids[@]}" "${replica_pids[@]}" $proxy_pid; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    [[ -n ${db:-} ]] && sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
fail_logs=(replica*.stderr "app*/servo.stderr" "app*/events.log" proxy.log relay.log)
fail_tail=25

sql() { # sql DB STATEMENT
    PGPASSWORD=$(<"$pg_password_file") psql -v ON_ERROR_STOP=1 -qAt "${pg_uri%/*}/$1" -c "$2"
}

# a database of this test's own
db=servo_test_$$
sql postgres "CREATE DATABASE $db" >/dev/null
uri=${pg_uri%/*}/$db

cat >optimizer.yaml <<EOF
store: $uri
password_file: $pg_password_file
sleep: 1s
servo_timeout: 1m
applications:
  dev.opsani.com/app1: {token: tok-1, objective: {metric: throughput, goal: maximize}, budget: 4, seed: 1}
  dev.opsani.com/app2: {token: tok-2, objective: {metric: latency, goal: minimize}, budget: 4, seed: 2}
  dev.opsani.com/app3: {token: tok-3, objective: {metric: throughput, goal: maximize}, budget: 4, seed: 3}
EOF

start_replica() { # start_replica N: sets replica_url[N], replica_pid[N]
    : >"replica$1.stdout"
    "$SERVO_BIN" optimizer serve --listen 127.0.0.1:0 -c optimizer.yaml \
        >"replica$1.stdout" 2>>"replica$1.stderr" &
    replica_pid[$1]=$!
    replica_pids+=("$!")
    local i
    for i in $(seq 1 200); do
        replica_url[$1]=$(head -n1 "replica$1.stdout")
        [[ -n ${replica_url[$1]} ]] && return 0
        kill -0 "${replica_pid[$1]}" 2>/dev/null || fail "replica $1 exited"
        sleep 0.05
    done
    fail "replica $1 printed no URL"
}

# A TCP balancer: each connection to the next replica that accepts it (as a Kubernetes
# Service would, minus the dead endpoint once its connections are refused).
cat >proxy.py <<'EOF'
import asyncio, sys
listen, backends = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
turn = 0
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def handle(client_reader, client_writer):
    global turn
    for k in range(len(backends)):
        port = backends[(turn + k) % len(backends)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            continue
    else:
        client_writer.close()
        return
    turn += 1
    await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
EOF

# ---- two replicas, one killed in the middle ---------------------------------------------------

scenario="two replicas"
declare -a replica_url replica_pid
start_replica 1
start_replica 2
check equals "$(curl -s "${replica_url[1]}/healthz" | jq -r .store)" ok
check equals "$(curl -s "${replica_url[2]}/readyz" | jq -r .status)" ok
proxy_port=$(free_port)
python3 proxy.py "$proxy_port" "${replica_url[1]##*:}" "${replica_url[2]##*:}" >proxy.log 2>&1 &
proxy_pid=$!
for i in $(seq 1 100); do
    grep -q ready proxy.log && break
    sleep 0.05
done
url=http://127.0.0.1:$proxy_port
. "$(dirname "${BASH_SOURCE[0]}")/optimizer_servos.sh"
for n in 1 2 3; do
    make_app "app$n" "app$n" "tok-$n" 0.3 "servo-$n"
    start_servo "app$n"
done
wait_lines app1/events.log 4 60 # D M A M: in the first trial
# a second servo on app1, from either replica: 409 naming the application
for r in 1 2; do
    code=$(curl -s -o other.json -w '%{http_code}' -X POST -H 'Authorization: Bearer tok-1' \
        --data '{"event":"HELLO","param":{},"servo_uid":"intruder"}' \
        "${replica_url[$r]}/accounts/dev.opsani.com/applications/app1/servo")
    check equals "$code" 409
    check contains other.json "another servo is active on dev.opsani.com/app1 (servo_uid servo-1"
done
kill -KILL "${replica_pid[1]}"
for n in 1 2 3; do
    wait_phase "app$n" "tok-$n" done 120
done
for n in 1 2 3; do
    trials "app$n" "tok-$n" >"app$n.json"
    check equals "$(jq '.trials | length' "app$n.json")" 5
    check equals "$(jq '[.trials[] | select(.status == "ok")] | length' "app$n.json")" 5
    # every command carried out once: nothing measured or adjusted twice
    check equals "$(events "app$n")" "$(session_order 4)"
done
check contains replica2.stderr "Serving 3 applications"
for pid in "${servo_pids[@]}"; do
    stop_servo "$pid" TERM
    check equals "$rc" 0
done
servo_pids=()

# ---- reading and resetting ------------------------------------------------------------------

scenario="history"
run optimizer history -c optimizer.yaml --app dev.opsani.com/app2 -f json
expect_rc 0
check equals "$(jq '.trials | length' <<<"$out")" 5
run optimizer best -c optimizer.yaml --app dev.opsani.com/app2 -f json
expect_rc 0
check equals "$(jq -r .application <<<"$out")" dev.opsani.com/app2
run report -c optimizer.yaml --app dev.opsani.com/app2 -o report.html
expect_rc 0
check contains report.html "dev.opsani.com/app2"
run optimizer reset -c optimizer.yaml --app dev.opsani.com/app3
expect_rc 0
curl -s -H 'Authorization: Bearer tok-3' -X POST \
    --data '{"event":"WHATS_NEXT","param":null,"servo_uid":"servo-3"}' \
    "${replica_url[2]}/accounts/dev.opsani.com/applications/app3/servo" >next.json
check equals "$(jq -r .cmd next.json)" DESCRIBE

# ---- the database lost during operation, then back ------------------------------------------

# A replica reaches PostgreSQL through a TCP relay (proxy.py); the relay is killed (every
# connection cut, new ones refused): requests get 503 and the replica logs why, /healthz says
# the store does not answer; the relay comes back on the same port: the same replica, not
# restarted, answers again, with the study where it was.
scenario="database lost"
pg_hostport=${pg_uri#*@}
pg_hostport=${pg_hostport%%/*}
relay_port=$(free_port)
start_relay() {
    : >relay.log
    python3 proxy.py "$relay_port" "${pg_hostport##*:}" >relay.log 2>&1 &
    relay_pid=$!
    servo_pids+=("$relay_pid")
    for i in $(seq 1 100); do
        grep -q ready relay.log && return 0
        sleep 0.05
    done
    fail "the relay did not start: $(cat relay.log)"
}
start_relay
sed "s|^store: .*|store: ${uri/$pg_hostport/127.0.0.1:$relay_port}|" optimizer.yaml >lost.yaml
# created before the start, as start_replica does: the background job opens it only when it
# runs, and `head` on a missing file would end the test under set -e
: >replica3.stdout
"$SERVO_BIN" optimizer serve --listen 127.0.0.1:0 -c lost.yaml >replica3.stdout 2>replica3.stderr &
replica_pids+=("$!")
for i in $(seq 1 200); do
    lost_url=$(head -n1 replica3.stdout)
    [[ -n $lost_url ]] && break
    sleep 0.05
done
[[ -n $lost_url ]] || fail "the replica behind the relay printed no URL"
next3() {
    curl -s -o next3.json -w '%{http_code}' -H 'Authorization: Bearer tok-3' -X POST \
        --data '{"event":"WHATS_NEXT","param":null,"servo_uid":"servo-3"}' \
        "$lost_url/accounts/dev.opsani.com/applications/app3/servo"
}
check equals "$(next3)" 200
check equals "$(jq -r .cmd next3.json)" DESCRIBE
describe_uid=$(jq -r .cmd_uid next3.json)
kill -KILL "$relay_pid"
wait "$relay_pid" 2>/dev/null || true
check equals "$(next3)" 503
check equals "$(curl -s -o health3.json -w '%{http_code}' "$lost_url/healthz")" 503
check equals "$(jq -r .status health3.json)" unavailable
check contains replica3.stderr "127.0.0.1"
check equals "$(kill -0 "${replica_pids[-1]}" 2>/dev/null && echo alive)" alive
start_relay
check equals "$(next3)" 200
check equals "$(jq -r .cmd_uid next3.json)" "$describe_uid"
check equals "$(curl -s "$lost_url/healthz" | jq -r .store)" ok
kill -TERM "${replica_pids[-1]}" "$relay_pid"

scenario="bad stores"
cat >unreachable.yaml <<EOF
store: postgresql://servo@127.0.0.1:1/servo
applications:
  dev.opsani.com/app1: {token: t}
EOF
run optimizer serve -c unreachable.yaml --listen 127.0.0.1:0
expect_rc 1
check contains <(echo "$err") '127.0.0.1'
check contains <(echo "$err") 'postgresql://servo@127.0.0.1:1/servo'
sql "$db" "UPDATE schema_version SET version = 99"
run optimizer serve -c optimizer.yaml --listen 127.0.0.1:0
expect_rc 1
check contains <(echo "$err") "schema version 99, this servo knows version 2 (written by a newer servo)"
sql "$db" "UPDATE schema_version SET version = 2"
for f in replica2.stderr app*/servo.stderr; do
    check lacks "$f" "Sanitizer"
    check lacks "$f" "$(<"$pg_password_file")"
done
passed
