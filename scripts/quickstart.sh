#!/usr/bin/env bash
# The main job, for now a demonstration: installs the Debian packages, builds the servo, then
# in a scratch directory generates a configuration for a few connectors, validates it, and
# shows the effective configuration and a connector's JSON Schema. (It becomes the real
# optimization run once the run loop and the embedded optimizer exist.)
#
#   scripts/quickstart.sh            (SERVO_BUILD_DIR=... to build elsewhere than build/)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${SERVO_BUILD_DIR:-build}

step()
{
    printf '\n\033[1m==> %s\033[0m\n' "$*"
}

step "installing the Debian packages (scripts/packages.txt)"
scripts/install-deps.sh
step "building the servo in $dir/"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j "${SERVO_JOBS:-2}" --target servo
servo=$root/$dir/servo

demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cd "$demo"
run()
{
    printf '\n$ %s\n' "$*"
    "$@"
}

step "a demonstration in $demo"
run "$servo" version
run "$servo" connectors
run "$servo" generate load:vegeta prom:prometheus wait -f servo.yaml -q
run cat servo.yaml
run "$servo" validate
# Environment variables override the file: per field, or a whole stanza as JSON.
export SERVO_LOAD_RATE=100/1s
export SERVO_WAIT='{"measure_enabled": true}'
echo
echo "\$ export SERVO_LOAD_RATE=100/1s SERVO_WAIT='{\"measure_enabled\": true}'"
run "$servo" config
printf '\n$ %s schema vegeta | head -n 25\n' "$servo"
"$servo" schema vegeta | head -n 25
step "done: see README.md for the commands and docs/configuration.md for the format"
