#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# shellcheck disable=SC2016 # single-quoted text holds `backticks` literally
# The ServoX commands and options of issue #14 that were missing here, end to end: init (from
# flags and on a terminal), config KEY..., validate CONNECTOR..., schema -a and -f text|html,
# the global --limit, run --debug/--no-banner and its banner, show events -a and
# --before/--on/--after, measure -v/--humanize; and the smaller fixes (check messages, a check
# filter that matches nothing, vegeta's not-found message, multi-document name errors, the
# optimizer flags in a multi-servo file). Every case checks the exit code and the output.
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. Needs script(1) (util-linux) for
# the terminal session of init.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVO_SOURCE_DIR=${SERVO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
need_tools script
scratch_dir servo-cli-servox
clean_env
export SERVO_PLUGIN_PATH=
fixtures=$SERVO_SOURCE_DIR/tests/fixtures/servox/cli

# has TEXT PART / hasnt TEXT PART: whether TEXT holds PART (several lines at once).
has() { [[ $1 == *"$2"* ]] || { echo "lacks: $2" >&2 && false; }; }
hasnt() { [[ $1 != *"$2"* ]] || { echo "holds: $2" >&2 && false; }; }

# ---- init ---------------------------------------------------------------------------------
step "init without an optimizer: servo.yaml with wait only, no .env"
mkdir init && cd init
run init
expect_rc 0
check has "$out" "Generated servo.yaml"
check has "$out" "No optimizer given: servo run uses the embedded optimizer"
check test -f servo.yaml
check test ! -e .env
run validate
expect_rc 0

step "init refuses to overwrite servo.yaml without --force"
run init vegeta
expect_rc 2
check equals "$err" "servo: error: init: servo.yaml already exists (use --force to overwrite it)"
check has "$(cat servo.yaml)" "wait:"

step "init from flags: connectors, and the optimizer and token in a private .env"
run init --force -o example.com/app -t s3cret vegeta wait
expect_rc 0
check has "$out" "Wrote .env: the optimizer example.com/app and its token"
check hasnt "$out" "s3cret"
check equals "$(cat .env)" "OPSANI_OPTIMIZER=example.com/app
OPSANI_TOKEN=s3cret
SERVO_LOG_LEVEL=DEBUG"
check equals "$(stat -c %a .env)" "600"
check hasnt "$(cat servo.yaml)" "optimizer"
run config optimizer -f json
expect_rc 0
check has "$out" '"id": "example.com/app"'
check hasnt "$out" "s3cret"
run list
check has "$out" "example.com/app"

step "init keeps an existing .env without --force"
rm servo.yaml
run init -o example.com/other -t t2
expect_rc 2
check equals "$err" "servo: error: init: .env already exists (use --force to overwrite it)"
check test ! -e servo.yaml

step "init --no-dotenv puts the optimizer in servo.yaml (0600)"
rm .env
run init --no-dotenv -o example.com/app -t s3cret
expect_rc 0
check test ! -e .env
check has "$(cat servo.yaml)" "id: example.com/app"
check equals "$(stat -c %a servo.yaml)" "600"

step "init refuses a token without an optimizer, an optimizer without a token, a bad id"
run init --force -t lonely
expect_rc 2
check has "$err" "--token and --base-url need an optimizer"
run init --force --no-dotenv -o example.com/app
expect_rc 2
check has "$err" "needs an API token (--token)"
run init --force --no-dotenv -o bad -t x
expect_rc 2
check has "$err" 'optimizer.id: "bad" does not match the pattern'
run init --force nope
expect_rc 2
check has "$err" 'no connector named "nope"'

step "init on a terminal asks for the optimizer, the token and the connectors"
rm -f servo.yaml .env
printf 'example.com/tty\ntty-token\nvegeta wait\n' >answers
set +e
script -qec "$SERVO_BIN init" /dev/null <answers >tty.out 2>&1
rc=$?
set -e
check equals "$rc" 0
check has "$(cat tty.out)" "Opsani optimizer?"
check has "$(cat tty.out)" "API token?"
check has "$(cat tty.out)" "Connectors?"
check equals "$(head -1 .env)" "OPSANI_OPTIMIZER=example.com/tty"
check has "$(cat servo.yaml)" "- vegeta"
check has "$(cat servo.yaml)" "- wait"

step "init on a terminal with the embedded optimizer writes no .env"
rm -f servo.yaml .env
printf '\n\n' >answers
set +e
script -qec "$SERVO_BIN init" /dev/null <answers >tty.out 2>&1
rc=$?
set -e
check equals "$rc" 0
check test ! -e .env
check has "$(cat servo.yaml)" "wait:"
cd ..

# ---- config KEY... --------------------------------------------------------------------------
step "config KEY... keeps only those top-level keys"
cat >servo.yaml <<'YAML'
connectors: [vegeta, wait]
vegeta:
  rate: 50/1s
  target: GET https://example.com/
wait:
  measure_enabled: false
YAML
run config vegeta
expect_rc 0
check has "$out" "vegeta:"
check has "$out" "rate: 50/1s"
check hasnt "$out" "wait:"
check hasnt "$out" "connectors:"
run config -f json wait connectors
expect_rc 0
check equals "$out" '{
  "connectors": {
    "vegeta": "vegeta",
    "wait": "wait"
  },
  "wait": {
    "description": null,
    "measure_enabled": false
  }
}'
run config nope
expect_rc 2
check has "$err" 'servo: error: config: no key "nope" in the configuration (keys: name, '

# ---- validate CONNECTOR... ------------------------------------------------------------------
step "validate CONNECTOR... reports only those connectors' errors"
cp "$fixtures/validate-invalid.input.yaml" invalid.yaml
run validate -f invalid.yaml
expect_rc 1
check has "$err" "vegeta.rate"
check has "$err" "prometheus.base_url"
run validate vegeta -f invalid.yaml
expect_rc 1
check equals "$err" 'X Invalid configuration in invalid.yaml
servo: error: invalid.yaml:8:9: vegeta.rate: invalid rate "fifty": hits must be a non-negative integer'
run validate prometheus -f invalid.yaml
expect_rc 1
check hasnt "$err" "vegeta"
check has "$err" "prometheus.base_url"
run validate wait -f invalid.yaml
expect_rc 1
check has "$err" 'no "wait" connector is configured in this file'
run validate nope -f invalid.yaml
expect_rc 2
check equals "$err" 'servo: error: validate: no connector named "nope" (see '"'"'servo connectors'"'"')'
run validate vegeta wait
expect_rc 0
check equals "$out" "√ Valid configuration in servo.yaml"

# ---- schema -a, -f text|html ------------------------------------------------------------------
step "schema -a: every connector, not only the configuration's"
run schema
expect_rc 0
check hasnt "$out" '"prometheus"'
run schema -a
expect_rc 0
check has "$out" '"prometheus": {'
check has "$out" '"kubernetes": {'

step "schema -f text: every setting with its type, default, variables and description"
run schema vegeta -f text
expect_rc 0
check equals "$(head -1 <<<"$out")" "VegetaConnector Configuration Schema"
check has "$out" "rate
  type:        string or integer (required)"
check has "$out" "  environment: SERVO_VEGETA_RATE"
check has "$out" "workers
  type:        integer or null
  default:     10"
run schema -f text
expect_rc 0
check has "$out" "optimizer.id
  type:        string or null
  environment: SERVO_OPTIMIZER_ID, OPSANI_OPTIMIZER"
check has "$out" "vegeta.rate"

step "schema -f html: one self-contained page"
run schema -a -f html -o schema.html
expect_rc 0
html=$(cat schema.html)
check has "$html" "<!DOCTYPE html>"
check has "$html" "<title>Servo Configuration Schema</title>"
check has "$html" "<tr><td><code>vegeta.rate</code> <span class=\"required\">required</span>"
check has "$html" "<code>SERVO_PROMETHEUS_BASE_URL</code>"
check hasnt "$html" "<script"
check hasnt "$html" "<link"
check hasnt "$html" "src="
run schema -f yaml
expect_rc 2

# ---- run: banner, --no-banner, --debug, --limit ---------------------------------------------
step "run: the banner names the version, the connectors and the optimizer"
printf 'wait: {measure_enabled: false}\n' >wait.yaml
run -c wait.yaml run --dry-run
expect_rc 0
check has "$err" "initialized"
check has "$err" "servo servo: connectors wait-"
check has "$err" 'embedded optimizer (study "servo")'
run -c wait.yaml run --dry-run --no-banner
expect_rc 0
check hasnt "$err" "initialized"
check hasnt "$err" "connectors wait-"

step "run --debug and SERVO_RUN_DEBUG log at DEBUG level"
run -c wait.yaml run --dry-run
check hasnt "$err" "| DEBUG"
run -c wait.yaml run --dry-run --debug
expect_rc 0
check has "$err" "| DEBUG"
SERVO_RUN_DEBUG=1 run -c wait.yaml run --dry-run
check has "$err" "| DEBUG"

step "--limit: a positive integer"
run --limit 0 list
expect_rc 2
check equals "$err" 'servo: error: invalid value for --limit: "0" (expected a positive integer: how many servos run at once)'
run --limit many list
expect_rc 2

step "--limit 1 runs the servos of a file one after the other"
mkdir limit && cd limit
cp "$SERVO_SOURCE_DIR/examples/exec-session/"*.sh .
cat >two.yaml <<'YAML'
name: first
exec: {describe: ./describe.sh, adjust: ./adjust.sh, measure: ./measure.sh}
optimizer: {local: {budget: 1, store: first.db}}
---
name: second
exec: {describe: ./describe.sh, adjust: ./adjust.sh, measure: ./measure.sh}
optimizer: {local: {budget: 1, store: second.db}}
YAML
SERVO_DURATION=0 run --limit 1 -c two.yaml run
expect_rc 0
check has "$err" "--limit 1: 2 servos, at most 1 at a time"
# the second study starts only after the first is over: its first line comes after the
# first's summary
printf '%s\n' "$err" >limit.log
first_done=$(grep -n "first" limit.log | tail -1 | cut -d: -f1)
second_start=$(grep -n "second" limit.log | grep -v "connectors\|embedded optimizer" | head -1 |
    cut -d: -f1)
check test -n "$first_done" -a -n "$second_start"
check test "$second_start" -gt "$first_done"
cd ..

# ---- show events filters ----------------------------------------------------------------------
step "show events --before/--on/--after and -a"
run show events
expect_rc 0
check has "$out" "measure   vegeta"
run show events --before
expect_rc 0
check equals "$out" "EVENT  CONNECTORS"
run show events --no-on
expect_rc 0
check equals "$out" "EVENT  CONNECTORS"
run show events --on --after -c
expect_rc 0
check has "$out" "vegeta     check
           describe"
run show events -a --before -c
expect_rc 0
check has "$out" "kubernetes    before measure"
check has "$out" "scripts       before attach"
check hasnt "$out" "vegeta     check"
run show events -a --no-before
expect_rc 0
check hasnt "$out" "before measure"

# ---- measure -v / --humanize ----------------------------------------------------------------
step "measure: times humanized by default, timestamps with --no-humanize, both with -v"
mkdir measure && cd measure
cp "$SERVO_SOURCE_DIR/examples/exec-session/"*.sh .
printf 'exec: {describe: ./describe.sh, adjust: ./adjust.sh, measure: ./measure.sh}\n' >servo.yaml
SERVO_DURATION=0 run measure
expect_rc 0
# "just now", or "N second(s) ago" on a loaded machine: the reading's age is the time since
# the script wrote it
ago='(just now|[0-9]+ seconds? ago)'
check grep -qE "1000\.00 \($ago\) \[exec main\]" <<<"$out"
SERVO_DURATION=0 run measure --no-humanize
expect_rc 0
check has "$out" "1000.00 ($(date +%Y-%m-%d) "
SERVO_DURATION=0 run measure -v
expect_rc 0
check grep -qE "1000\.00 \($ago, $(date +%Y-%m-%d) " <<<"$out"
check has "$out" "annotations:
  note: computed from cpu=1 replicas=2"

# ---- smaller fixes --------------------------------------------------------------------------
step "check messages name ./describe.sh once"
printf 'exec: {describe: ./describe.sh, adjust: ./adjust.sh, measure: ./measure.sh, working_dir: .}\n' >servo.yaml
run check -v
expect_rc 0
check has "$out" "./describe.sh is executable"
check hasnt "$out" "././"

step "check with a filter that matches nothing: an error and no 'passed'"
run check -t nope
expect_rc 1
check equals "$err" "servo: error: check: no check matched the filters"
check hasnt "$out$err" "All checks passed"
run check -p -t exec
expect_rc 0
check has "$err" "All checks passed"
cd ..

step "vegeta not found: said once"
printf 'vegeta:\n  rate: 1/1s\n  target: GET http://127.0.0.1:9/\n  binary: %s/none/vegeta\n' \
    "$scratch" >vegeta.yaml
run -c vegeta.yaml check
expect_rc 1
check has "$out" "cannot run vegeta: \"$scratch/none/vegeta\" was not found (install vegeta or set \`binary\` to its path)]"
check hasnt "$out" "not found;"

step "a multi-servo file: name errors reported with another document's errors"
cat >names.yaml <<'YAML'
wait: {measure_enabled: false}
---
wait: {measure_enabled: false}
vegeta: {rate: x, target: GET https://example.com/}
YAML
run validate -f names.yaml
expect_rc 1
check has "$err" 'names.yaml:4:16: vegeta.rate: invalid rate "x"'
check has "$err" 'names.yaml:1:1: document 1: in a multi-servo file every servo needs a `name` or an `optimizer.id` to tell it apart'

step "the optimizer flags are refused in a multi-servo file without --name"
cat >multi.yaml <<'YAML'
name: a
wait: {measure_enabled: false}
---
name: b
wait: {measure_enabled: false}
YAML
run -c multi.yaml --optimizer example.com/app --token t config
expect_rc 2
check has "$err" "an optimizer cannot be specified in a multi-servo configuration: multi.yaml holds 2 servos; pick one with --name"
run -c multi.yaml -n a --optimizer example.com/app --token t config optimizer -f json
expect_rc 0
check has "$out" '"id": "example.com/app"'

passed
