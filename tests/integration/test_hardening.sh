#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile surroundings of the CLI (issue 11): output that cannot be written, a .env that tries
# to load code, plugin files others can write, secrets in children's environments and in
# printed URLs, environment overrides that are not UTF-8. Every case checks the exit code and
# the message.
#
# Environment (set by ctest): SERVO_BIN, SERVO_BUILD_DIR (for the test plugins).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scratch_dir servo-hardening
clean_env
export SERVO_PLUGIN_PATH= # built-ins only

printf 'wait:\n  measure_enabled: true\n' >servo.yaml

step "a failed write to stdout exits non-zero"
if [[ -w /dev/full ]]; then
    set +e
    "$SERVO_BIN" config -f json >/dev/full 2>"$scratch/stderr"
    rc=$?
    set -e
    err=$(<"$scratch/stderr")
    last_command="servo config -f json >/dev/full"
    expect_rc 1
    expect_err "servo: error: cannot write to standard output: No space left on device"
    set +e
    "$SERVO_BIN" --help >/dev/full 2>"$scratch/stderr"
    rc=$?
    set -e
    err=$(<"$scratch/stderr")
    expect_rc 1
    expect_err "cannot write to standard output"
else
    fail "/dev/full is not writable: the case cannot run"
fi
run config -f json
expect_rc 0
expect_out '"measure_enabled": true'
passed
