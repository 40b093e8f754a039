#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted text holds `backticks` and $ literally
# The JSON Schemas of `servo schema` checked with a real JSON Schema validator (Debian's
# python3-jsonschema, Draft202012Validator): the whole configuration's, --top-level, and each
# connector's, against the draft 2020-12 meta-schema; then example and generated
# configurations -- as written, and as `servo config` prints them with every default and null
# -- against them; then invalid configurations both the schema and `servo validate` reject.
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. Needs python3 with jsonschema
# (>= 4.0 for draft 2020-12) and yaml: Debian python3-jsonschema and python3-yaml.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SERVO_SOURCE_DIR=${SERVO_SOURCE_DIR:-$(cd "$here/../.." && pwd -P)}
check_schema=$here/check_schema.py

# Debian's python3 and its python3-jsonschema, not whatever python3 comes first on PATH.
PYTHON=${SERVO_PYTHON:-}
if [[ -z $PYTHON ]]; then
    PYTHON=python3
    [[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
fi
if ! "$PYTHON" -c 'import yaml, jsonschema; jsonschema.Draft202012Validator' 2>/dev/null; then
    echo "SKIP: test_schema: $PYTHON lacks yaml or jsonschema.Draft202012Validator" \
        "(scripts/install-deps.sh installs python3-jsonschema python3-yaml)"
    exit 77
fi
# jsonschema checks the "uri" format only with rfc3987 (a Recommends of python3-jsonschema)
if ! "$PYTHON" -c 'import jsonschema, sys; sys.exit("uri" not in jsonschema.FormatChecker.checkers)'
then
    echo "SKIP: test_schema: $PYTHON's jsonschema cannot check the uri format" \
        "(scripts/install-deps.sh installs python3-rfc3987)"
    exit 77
fi
"$PYTHON" -c 'import importlib.metadata as m; print("jsonschema", m.version("jsonschema"))'

scratch_dir servo-schema

# Nothing from the caller's environment may change the configuration.
clean_env
export SERVO_PLUGIN_PATH=

failures=0
fail() {
    failures=$((failures + 1))
    printf 'FAIL: %s\n' "$*" >&2
}

# servo ARGS...: runs servo (60 s limit); a non-zero exit is a failure.
servo() {
    if ! timeout 60 "$SERVO_BIN" "$@" </dev/null; then
        fail "servo $* exited non-zero"
        return 1
    fi
}

# check ARGS...: a check_schema.py command, queued; run_checks runs them all in one Python
# (each start of Python with jsonschema costs more than the checks themselves).
check() {
    local IFS=$'\t'
    echo "$*" >>"$scratch/checks.tsv"
}

run_checks() {
    [[ -f $scratch/checks.tsv ]] || return 0
    "$PYTHON" "$check_schema" batch "$scratch/checks.tsv" ||
        fail "check_schema.py: $(grep -c . "$scratch/checks.tsv") checks, some failed (above)"
    rm -f "$scratch/checks.tsv"
}

# ---- the checker itself -----------------------------------------------------------------

# broken schemas it must refuse: a bad keyword value, a pattern that does not compile, a
# default its own schema rejects
mkdir broken
printf '%s\n' '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "objekt"}' \
    >broken/type.json
printf '%s\n' '{"$schema": "https://json-schema.org/draft/2020-12/schema", "properties":
    {"a": {"type": "string", "pattern": "([a-"}}}' >broken/pattern.json
printf '%s\n' '{"$schema": "https://json-schema.org/draft/2020-12/schema", "properties":
    {"a": {"type": "integer", "default": "ten"}}}' >broken/default.json
for schema in broken/*.json; do
    if "$PYTHON" "$check_schema" meta "$schema" >/dev/null; then
        fail "check_schema.py accepts $schema"
    fi
done

# ---- the schemas against the meta-schema --------------------------------------------------

mkdir schemas
servo schema -o schemas/servo.json
servo schema --top-level -o schemas/top-level.json
connectors=$(servo connectors -f json | "$PYTHON" -c '
import json, sys
print(" ".join(c["name"] for c in json.load(sys.stdin)))')
[[ $connectors == *vegeta* && $connectors == *prometheus* && $connectors == *wait* ]] ||
    fail "connectors: $connectors"
for name in $connectors; do
    servo schema "$name" -o "schemas/$name.json"
done
check meta schemas/*.json

# the schema tells which keys exist: every connector, the servo's settings, `connectors`
"$PYTHON" - "$connectors" <<'EOF' || fail "the schema's properties"
import json, sys
for path in ("schemas/servo.json", "schemas/top-level.json"):
    props = json.load(open(path))["properties"]
    want = ["name", "description", "servo_uid", "optimizer", "settings", "checks", "extra",
            "no_diagnostics", "connectors"] + sys.argv[1].split()
    if sorted(props) != sorted(want):
        sys.exit("%s: properties %s" % (path, sorted(props)))
EOF

# ---- valid configurations ---------------------------------------------------------------

# config DIR: the configuration DIR/servo.yaml, its schema in context (instance names come
# from its `connectors`), and `servo config -f json` of it; all checked.
config() {
    local dir=$1
    (
        cd "$dir"
        servo schema -o schema.json
        servo schema --top-level -o top-level.json
        servo config -f json -o effective.json
        servo config -f json --show-secrets -o effective-secrets.json
        servo validate -q
    ) || {
        fail "$dir: servo failed on its configuration"
        return 0
    }
    check meta "$dir/schema.json" "$dir/top-level.json"
    check valid "$dir/schema.json" "$dir/servo.yaml" "$dir/effective.json" \
        "$dir/effective-secrets.json"
    check valid "$dir/top-level.json" "$dir/servo.yaml" "$dir/effective.json"
    # without a configuration, the schema of every connector at its key accepts it too when
    # the routing is implicit
    if ! grep -q '^connectors:' "$dir/servo.yaml"; then
        check valid schemas/servo.json "$dir/servo.yaml" "$dir/effective.json"
    fi
    # each instance's stanza against its connector's own schema
    "$PYTHON" - "$dir" <<'EOF' >"$dir/instances"
import json, sys
c = json.load(open(sys.argv[1] + "/effective.json"))
for instance, connector in c["connectors"].items():
    print(instance, connector)
EOF
    local instance connector
    while read -r instance connector; do
        check valid "schemas/$connector.json" --key "$instance" "$dir/servo.yaml" \
            "$dir/effective.json" "$dir/effective-secrets.json"
    done <"$dir/instances"
}

# generated DIR ARGS...: `servo generate -q ARGS...` in a new DIR
generated() {
    mkdir "$1"
    (cd "$1" && servo generate -q "${@:2}") || fail "servo generate ${*:2}"
}

generated all
config all

generated vegeta-prometheus vegeta prometheus
config vegeta-prometheus

generated aliases prom1:prometheus prom2:PrometheusConnector
config aliases

generated defaults --defaults
config defaults

generated standalone --standalone wait vegeta
config standalone

mkdir hand-written
cat >hand-written/servo.yaml <<'EOF'
name: hand-written
description: Every servo-level setting
servo_uid: 01H000000000000000000000
optimizer:
  id: example.com/app
  token: 00000000-0000-0000-0000-000000000000
  base_url: https://api.example.com/
settings:
  proxies: http://proxy:3128
  timeouts: 5s
  ssl_verify: false
  backoff:
    __default__: {max_time: 5m, max_tries: 3}
checks:
  name: one
  halt_on: warning
  delay: 10s
no_diagnostics: false
extra: forbid
connectors:
  load: vegeta
  prom1: prometheus
load:
  rate: 0
  target: GET http://localhost:8080/
  format: http
  workers: 5
  max_workers: 50
prom1:
  base_url: http://prometheus:9090
  fast_fail: {disabled: 1, period: 30s}
  metrics:
  - {name: throughput, query: 'sum(rate(requests_total[1m]))', unit: rps, step: 10s}
  - {name: latency, query: 'histogram_quantile(0.9, x)', unit: ms, absent: zero}
  targets:
  - {scrapePool: app, health: up, labels: {job: app}}
EOF
config hand-written

# foreign keys are allowed with `extra: ignore`
mkdir extra-ignore
printf 'extra: ignore\nstray: 1\nmetadata: {team: x}\nwait: {measure_enabled: true}\n' \
    >extra-ignore/servo.yaml
config extra-ignore

# the examples recorded from ServoX itself, when the fixtures are there
fixtures=$SERVO_SOURCE_DIR/tests/fixtures/servox
for example in "$fixtures/prometheus/servo.yaml" "$fixtures/cli/generate-vegeta-prometheus.servo.yaml"; do
    [[ -f $example ]] || continue
    name=fixture-$(basename "$(dirname "$example")")-$(basename "$example" .yaml)
    mkdir "$name"
    cp "$example" "$name/servo.yaml"
    config "$name"
done
# and any example configuration of the repository
while IFS= read -r -d '' example; do
    name=example-$(echo "${example#"$SERVO_SOURCE_DIR"/}" | tr '/' '-')
    mkdir "$name"
    cp "$example" "$name/servo.yaml"
    config "$name"
done < <(find "$SERVO_SOURCE_DIR/examples" -name 'servo*.yaml' -print0 2>/dev/null)

# ---- invalid configurations -------------------------------------------------------------

# invalid NAME YAML: the schema (of every connector at its key) and `servo validate` reject it.
invalid() {
    mkdir "invalid-$1"
    printf '%s\n' "$2" >"invalid-$1/servo.yaml"
    check invalid schemas/servo.json "invalid-$1/servo.yaml"
    if (cd "invalid-$1" && timeout 60 "$SERVO_BIN" validate -q 2>/dev/null); then
        fail "servo validate accepts invalid-$1"
    fi
}

vegeta='vegeta: {rate: 50/1s, target: GET https://example.com/}'
invalid unknown-key "stray: 1
$vegeta"
invalid unknown-key-extra-forbid "extra: forbid
stray: 1"
invalid unknown-stanza-key "vegeta: {rate: 50/1s, target: GET https://example.com/, speed: 3}"
invalid wrong-type-integer "vegeta: {rate: 50/1s, target: GET https://example.com/, workers: many}"
invalid wrong-type-boolean "no_diagnostics: sometimes"
invalid wrong-type-stanza "vegeta: [50/1s]"
invalid missing-required "vegeta: {target: GET https://example.com/}"
invalid missing-nested-required "prometheus: {metrics: [{name: up}]}"
invalid bad-enum "extra: sometimes"
invalid bad-pattern "optimizer: {id: -bad/app}"
invalid bad-duration "settings: {timeouts: {connect: soon}}"
invalid bad-rate "vegeta: {rate: fast, target: GET https://example.com/}"
invalid connectors-type "connectors: 5"
invalid name-empty "name: ''"

# a connector's own schema rejects a bad stanza
printf 'rate: 50/1s\ntarget: GET https://example.com/\nspeed: 3\n' >bad-vegeta-stanza.yaml
check invalid schemas/vegeta.json bad-vegeta-stanza.yaml
printf 'measure_enabled: maybe\n' >bad-wait-stanza.yaml
check invalid schemas/wait.json bad-wait-stanza.yaml

run_checks
if ((failures > 0)); then
    printf '\n%d failures\n' "$failures" >&2
    exit 1
fi
printf '\nall schema checks passed\n'
