#!/usr/bin/env bash
# A whole optimizer session from the command line: the project's fake optimizer
# (tests/fake_optimizer.py) asks this servo to DESCRIBE, MEASURE and ADJUST, then to SLEEP;
# the servo answers through the exec connector's scripts, then a SIGTERM ends it with GOODBYE.
# Usage: examples/exec-session/run.sh [path/to/servo]   (default: build/servo)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
servo=${1:-$root/build/servo}
work=$(mktemp -d)
fake_pid=
servo_pid=
cleanup()
{
    [[ -n $servo_pid ]] && kill "$servo_pid" 2>/dev/null || true
    [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cp "$here"/servo.yaml "$here"/*.sh "$work"/
rm -f "$work/run.sh"
cd "$work"

python3 "$root/tests/fake_optimizer.py" --port 0 --token demo-token --log requests.jsonl \
    --sequence --cmd-uids --metrics throughput,latency_p99 --measure-duration 2 \
    --adjust main.cpu=1.5 --adjust main.replicas=3 --sleep 600 > fake.out &
fake_pid=$!
until [[ -s fake.out ]]; do sleep 0.1; done
url=$(sed -n 's/^listening on //p' fake.out)
echo "fake optimizer: $url"

"$servo" --url "$url/accounts/example.com/applications/demo/" --token demo-token run &
servo_pid=$!
# the fourth WHATS_NEXT is answered SLEEP: the session is over
for _ in $(seq 300); do
    (( $(grep -c WHATS_NEXT requests.jsonl 2>/dev/null || true) >= 4 )) && break
    sleep 0.1
done
sleep 1
kill -TERM "$servo_pid"
wait "$servo_pid" && echo "servo exited 0"
servo_pid=
echo
echo "what the servo sent:"
python3 - <<'PY'
import json
for line in open("requests.jsonl"):
    r = json.loads(line)
    body = r.get("body") or r.get("json") or {}
    param = body.get("param")
    summary = ""
    if isinstance(param, dict):
        if "progress" in param:
            summary = f"progress {param['progress']:.0f}%"
        elif "status" in param:
            summary = f"status {param['status']}"
        elif "reason" in param:
            summary = f"reason {param['reason']}"
    print(f"  {body.get('event', '?'):12} {summary}")
PY
