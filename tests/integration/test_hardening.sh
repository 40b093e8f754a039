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
: "${SERVO_BUILD_DIR:?set SERVO_BUILD_DIR to the build directory}"
plugins_built=$SERVO_BUILD_DIR/tests/plugins
[[ -f $plugins_built/plugtest.so ]] || fail "no test plugin in $plugins_built (build the tests)"

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
step ".env cannot set what loads or locates code"
mkdir dotenv && cd dotenv
printf 'wait:\n  measure_enabled: true\n' >servo.yaml
mkdir plugins && cp "$plugins_built/plugtest.so" plugins/ && chmod 755 plugins
cat >.env <<EOF
# a directory someone else wrote
SERVO_PLUGIN_PATH=$PWD/plugins
LD_PRELOAD=$PWD/plugins/plugtest.so
SERVO_WAIT_MEASURE_ENABLED=false
EOF
run connectors
expect_rc 0
expect_no_out plugtest
expect_err ".env:2: SERVO_PLUGIN_PATH is ignored: it locates code"
expect_err ".env:3: LD_PRELOAD is ignored: it loads code"
run config -f json
expect_rc 0
expect_out '"measure_enabled": false' # the other lines of .env still apply
# the same variable from the real environment loads the plugin
rm .env
SERVO_PLUGIN_PATH=$PWD/plugins run connectors
expect_rc 0
expect_out plugtest

step "a plugin others can write is refused"
chmod 775 plugins
SERVO_PLUGIN_PATH=$PWD/plugins run connectors
expect_rc 1
expect_err "$PWD/plugins: refusing the plugin directory: it is writable by group or others"
chmod 755 plugins
chmod 666 plugins/plugtest.so
SERVO_PLUGIN_PATH=$PWD/plugins/plugtest.so run connectors
expect_rc 1
expect_err "$PWD/plugins/plugtest.so: refusing the plugin: it is writable by group or others"
chmod 644 plugins/plugtest.so
cd "$scratch"

step "passwords in URLs are masked in servo config and in logs"
mkdir secrets && cd secrets
cat >servo.yaml <<'EOF'
prometheus:
  base_url: http://user:hunter2@127.0.0.1:9/
  metrics: []
exec:
  measure: ./measure
  metrics: [{name: noise}]
EOF
run config
expect_rc 0
expect_out "base_url: http://user:***@127.0.0.1:9/"
expect_no_out hunter2
run config --show-secrets
expect_rc 0
expect_out "base_url: http://user:hunter2@127.0.0.1:9/"

step "a chatty driver's repeated progress lines are collapsed"
# 20000 progress lines in well under a second, then a result; one log line echoes a URL
cat >measure <<'EOF'
#!/bin/sh
i=0
while [ $i -lt 20000 ]; do echo '{"progress": 50, "message": "still measuring"}'; i=$((i + 1)); done
echo '{"progress": 60, "message": "posting to http://bob:s3cr3t@127.0.0.1:9/ done"}'
echo '{"measurement": {"noise": {"unit": "", "value": 1}}}'
EOF
chmod +x measure
run -l INFO measure -c exec
expect_rc 0
lines=$(grep -c "still measuring" <<<"$err" || true)
check awk -v n="$lines" 'BEGIN { exit !(n >= 1 && n < 200) }'
expect_err "similar lines suppressed"
expect_err "posting to http://bob:***@127.0.0.1:9/ done"
expect_no_err s3cr3t
cd "$scratch"

step "an environment override that is not UTF-8 is refused by validate and config alike"
printf 'vegeta:\n  rate: 10/1s\n  target: GET http://127.0.0.1:9/\n' >utf8.yaml
for command in validate config; do
    SERVO_VEGETA_TARGET=$'GET http://127.0.0.1:9/\xff' run -c utf8.yaml "$command"
    expect_rc 1
    expect_err 'servo: error: $SERVO_VEGETA_TARGET: vegeta.target: the value is not valid UTF-8'
done

passed
