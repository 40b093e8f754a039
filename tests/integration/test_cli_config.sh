#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted text holds `backticks` and $ literally
# The configuration commands end to end: validate, config (yaml, json, configmap), generate,
# schema, list, show connectors, version, connectors, help; the global options (-c, -n, -l,
# --no-color), SERVO_CONFIG_FILE and .env; and hostile input (missing files, directories,
# 100 MB files, binary garbage, deep nesting, alias bombs, duplicate keys). Every case checks
# the exit code and the message; stdout and stderr are captured apart.
#
# Environment (set by ctest): SERVO_BIN (the servo under test), SERVO_SOURCE_DIR (for the
# project version). Needs python3 with the yaml module (Debian python3-yaml).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVO_SOURCE_DIR=${SERVO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}

# Debian's python3 (python3-yaml) rather than whatever python3 comes first on PATH.
PYTHON=${SERVO_PYTHON:-}
if [[ -z $PYTHON ]]; then
    PYTHON=python3
    [[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
fi
if ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
    echo "SKIP: test_cli_config: $PYTHON cannot import yaml (scripts/install-deps.sh" \
        "installs python3-yaml)"
    exit 77
fi

scratch_dir servo-cli

# Nothing from the caller's environment may change the configuration.
clean_env
export SERVO_PLUGIN_PATH= # built-ins only (plus the installed plugin directory, if any)

version=$(sed -n 's/^project(servo VERSION \([0-9.]*\).*/\1/p' "$SERVO_SOURCE_DIR/CMakeLists.txt")
[[ -n $version ]] || {
    echo "cannot read the project version from $SERVO_SOURCE_DIR/CMakeLists.txt" >&2
    exit 1
}

checks=0
failures=0
current=""
runner=() # a command prefix for servo (to run it as another user)

case_() {
    current=$*
    printf '== %s\n' "$current"
}

report() {
    failures=$((failures + 1))
    {
        printf 'FAIL [%s]: %s\n' "$current" "$1"
        printf '  command:   %s\n' "$last_command"
        printf '  exit code: %s\n' "$rc"
        printf '  stdout:\n'
        head -c 4000 "$scratch/.out" | sed 's/^/    | /'
        printf '  stderr:\n'
        head -c 4000 "$scratch/.err" | sed 's/^/    | /'
    } >&2
}

# run [ENV=VALUE...] -- ARGS...: runs servo with a time limit; $out, $err and $rc.
run() {
    local assignments=()
    while [[ $1 != -- ]]; do
        assignments+=("$1")
        shift
    done
    shift
    last_command="${assignments[*]} servo $*"
    set +e
    env "${assignments[@]}" "${runner[@]}" timeout 60 "$SERVO_BIN" "$@" >"$scratch/.out" \
        2>"$scratch/.err" </dev/null
    rc=$?
    set -e
    out=$(cat "$scratch/.out")
    err=$(cat "$scratch/.err")
    checks=$((checks + 1))
    if grep -qE 'Sanitizer|runtime error:|LeakSanitizer' "$scratch/.err"; then
        report "sanitizer report"
    fi
}

servo() {
    run -- "$@"
}

expect_rc() {
    checks=$((checks + 1))
    [[ $rc == "$1" ]] || report "expected exit code $1, got $rc"
}

expect_out() {
    checks=$((checks + 1))
    [[ $out == "$1" ]] || report "stdout differs from:
$1"
}

expect_err() {
    checks=$((checks + 1))
    [[ $err == "$1" ]] || report "stderr differs from:
$1"
}

expect_out_has() {
    checks=$((checks + 1))
    [[ $out == *"$1"* ]] || report "stdout lacks: $1"
}

expect_err_has() {
    checks=$((checks + 1))
    [[ $err == *"$1"* ]] || report "stderr lacks: $1"
}

expect_out_line() { # a whole line matching the extended regex
    checks=$((checks + 1))
    grep -qE "^$1\$" "$scratch/.out" || report "no stdout line matches /^$1\$/"
}

# py EXPECTATION... : runs python with the last stdout on stdin; it prints a problem or nothing.
check_py() {
    checks=$((checks + 1))
    local problem
    problem=$("$PYTHON" -c "$1" <"$scratch/.out" 2>&1) || problem="python failed: $problem"
    [[ -z $problem ]] || report "$problem"
}

expect_file() { # FILE CONTENT
    checks=$((checks + 1))
    [[ -f $1 && $(cat "$1") == "$2" ]] || report "$1 differs from:
$2"
}

# Valid stanzas.
vegeta_stanza='vegeta:
  rate: 50/1s
  target: GET https://example.com/'
prometheus_stanza='prometheus:
  metrics:
  - name: up
    query: up'

# ---- version ----------------------------------------------------------------------------

case_ "version"
servo version
expect_rc 0
expect_err ""
expect_out_line "Servo v${version//./\\.} \"[a-z]+\" \((Experimental|Stable|Robust)\)"
expect_out_line "Continuous Optimization Orchestrator"
expect_out_line "Licensed under the terms of Apache 2\.0"
cryptonym=$(sed -n '1s/^Servo v[^ ]* "\([a-z]*\)".*/\1/p' "$scratch/.out")

case_ "version --short"
servo version -s
expect_rc 0
expect_out "Servo v$version \"$cryptonym\""
servo version --short
expect_out "Servo v$version \"$cryptonym\""

case_ "version -f json"
servo version -f json
expect_rc 0
check_py "
import json, sys
v = json.load(sys.stdin)
want = {'name': 'Servo', 'version': '$version', 'cryptonym': '$cryptonym',
        'description': 'Continuous Optimization Orchestrator', 'license': 'Apache 2.0'}
for k, x in want.items():
    if v.get(k) != x: print(k, '=', repr(v.get(k)), 'expected', repr(x))
"
servo version -s -f json
expect_rc 0
check_py "
import json, sys
v = json.load(sys.stdin)
if v['name'] != 'Servo' or v['version'] != '$version': print(v)
"

case_ "version: bad format and argument"
servo version -f yaml
expect_rc 2
expect_out ""
expect_err 'servo: error: invalid value "yaml" for --format (expected one of: text, json)'
servo version extra
expect_rc 2
expect_err 'servo: error: version: no connector named "extra" (see '"'servo connectors')"
servo version wait extra
expect_rc 2
expect_err 'servo: error: version: unexpected argument "extra"'

case_ "version CONNECTOR, as ServoX prints it"
servo version prometheus
expect_rc 0
check equals "$out" "$(<"$SERVO_SOURCE_DIR/tests/fixtures/servox/cli/version-prometheus.stdout")"
servo version -s wait
expect_rc 0
check equals "$out" "Wait Connector v0.0.1"
servo version -f json vegeta
expect_rc 0
check_py "
import json, sys
v = json.load(sys.stdin)
if (v['name'], v['version'], v['license']) != ('Vegeta Connector', '0.5.0', 'Apache 2.0'): print(v)
"

# ---- connectors -------------------------------------------------------------------------

case_ "connectors"
servo connectors
expect_rc 0
expect_err ""
expect_out_line "NAME +VERSION +DESCRIPTION"
expect_out_line "vegeta +0\.5\.0 +Vegeta load testing connector"
expect_out_line "prometheus +1\.5\.0 +Prometheus Connector for Opsani"
expect_out_line "wait +0\.0\.1 +Wait \(no-op\) Connector for Opsani"
for name in exec kubernetes scripts; do
    expect_out_line "$name +[0-9]+\.[0-9]+\.[0-9]+ +.+"
done

case_ "connectors -v"
servo connectors -v
expect_rc 0
expect_out_line "NAME +VERSION +DESCRIPTION +HOMEPAGE +MATURITY +LICENSE +ORIGIN"
expect_out_line "vegeta +0\.5\.0 +Vegeta load testing connector +https://github\.com/opsani/vegeta-connector +Stable +Apache 2\.0 +built-in"

case_ "connectors -f json"
servo connectors -f json
expect_rc 0
cp "$scratch/.out" "$scratch/connectors.json"
check_py "
import json, sys
items = json.load(sys.stdin)
by = {c['name']: c for c in items}
for n in ['exec', 'kubernetes', 'prometheus', 'scripts', 'vegeta', 'wait']:
    if n not in by: print('missing', n)
v = by.get('vegeta', {})
if (v.get('class_name'), v.get('version'), v.get('origin')) != ('VegetaConnector', '0.5.0', 'built-in'):
    print('vegeta is', v)
"
servo connectors -f xml
expect_rc 2
expect_err 'servo: error: invalid value "xml" for --format (expected one of: text, json)'

# ---- help and usage errors --------------------------------------------------------------

case_ "help"
servo --help
expect_rc 0
expect_err ""
expect_out_line 'Usage: servo \[OPTIONS\] COMMAND \[ARGS\]\.\.\.'
for command in list connectors show config schema validate generate version help; do
    expect_out_line "  $command +[A-Z].*"
done
help_text=$out
servo help
expect_rc 0
expect_out "$help_text"
servo
expect_rc 2
expect_out ""
expect_err "$help_text"

case_ "help COMMAND and COMMAND --help"
for command in list connectors show config schema validate generate version; do
    servo help "$command"
    expect_rc 0
    expect_out_has "Usage: servo $command "
    help_text=$out
    servo "$command" --help
    expect_rc 0
    expect_out "$help_text"
    expect_err ""
done
servo help validate
expect_out_line 'Usage: servo validate \[CONNECTOR...\] \[-f FILE\] \[-q\]'
servo help nope
expect_rc 2
expect_err 'servo: error: help: no such command "nope"'
servo help --help
expect_rc 0
expect_out_line 'Usage: servo help \[COMMAND \[SUBCOMMAND\]\]'
servo help optimizer serve
expect_rc 0
expect_out_line 'Usage: servo optimizer serve .*'
servo help optimizer nope
expect_rc 2
expect_err 'servo: error: help: no such command "optimizer nope"'
servo help optimizer serve extra
expect_rc 2
expect_err 'servo: error: help: unexpected argument "extra"'

case_ "unknown command and options"
servo nope
expect_rc 2
expect_out ""
expect_err "servo: error: no such command \"nope\" (see 'servo --help')"
servo --bogus version
expect_rc 2
expect_err "servo: error: unknown option \"--bogus\" (see 'servo --help')"
servo -c
expect_rc 2
expect_err 'servo: error: option "-c" needs a value'
servo validate --bogus
expect_rc 2
expect_err "servo: error: validate: unknown option or missing value \"--bogus\" (see 'servo validate --help')"
servo validate -f
expect_rc 2
expect_err 'servo: error: validate: option "-f" needs a value'
# validate takes connector names and config takes keys (test_cli_servox.sh): an unknown
# one is refused by name
printf 'wait: {measure_enabled: false}\n' >extra.yaml
servo validate -f extra.yaml extra
expect_rc 2
expect_err "servo: error: validate: no connector named \"extra\" (see 'servo connectors')"
servo -c extra.yaml config bogus
expect_rc 2
expect_err 'servo: error: config: no key "bogus" in the configuration (keys: name, description, servo_uid, optimizer, settings, checks, extra, no_diagnostics, connectors, wait)'
rm extra.yaml
# extra arguments are refused, not ignored (COMMAND|WORDS BEFORE "extra")
for case in "list|list" "connectors|connectors" "schema|schema wait" \
    "show connectors|show connectors" "show events|show events" "version|version wait" \
    "completion bash|completion bash"; do
    # shellcheck disable=SC2086 # the command's words
    servo ${case#*|} extra
    expect_rc 2
    expect_out ""
    expect_err "servo: error: ${case%%|*}: unexpected argument \"extra\""
done
servo show events -v
expect_rc 2
expect_err "servo: error: show events: unknown option or missing value \"-v\" (see 'servo show events --help')"
servo config --format
expect_rc 2
expect_err 'servo: error: config: option "--format" needs a value'
servo show
expect_rc 2
expect_err_has 'servo: error: show: expected a subject: connectors'
servo -l LOUD version
expect_rc 2
expect_err 'servo: error: invalid log level "LOUD" (expected TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR or CRITICAL)'
run SERVO_LOG_LEVEL=loud -- version
expect_rc 2
expect_err 'servo: error: invalid log level "loud" (expected TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR or CRITICAL)'
servo -l DEBUG --log-level=ERROR version -s
expect_rc 0
expect_out "Servo v$version \"$cryptonym\""

# ---- validate ---------------------------------------------------------------------------

case_ "validate: no file"
# as ServoX: a file that does not exist is a usage error (2), an invalid one a failure (1)
servo validate
expect_rc 2
expect_out ""
expect_err 'servo: error: validate: invalid value for --file: servo.yaml does not exist'
servo validate -f nope.yaml
expect_rc 2
expect_err 'servo: error: validate: invalid value for --file: nope.yaml does not exist'

case_ "validate: good"
printf '%s\n%s\n' "$vegeta_stanza" "$prometheus_stanza" >servo.yaml
servo validate
expect_rc 0
expect_err ""
expect_out "√ Valid configuration in servo.yaml"
servo validate -q
expect_rc 0
expect_out ""
expect_err ""
cp servo.yaml other.yaml
servo validate --file other.yaml
expect_rc 0
expect_out "√ Valid configuration in other.yaml"
servo -c other.yaml validate
expect_out "√ Valid configuration in other.yaml"
: >empty.yaml
servo validate -f empty.yaml
expect_rc 0
expect_out "√ Valid configuration in empty.yaml"

case_ "validate: bad, every error listed"
cat >bad.yaml <<'EOF'
optimizer:
  id: generated-id.test/generated
  token: generated-token
connectors:
- vegeta
- prometheus
- wait
vegeta:
  rate: fifty
  target: GET https://example.com/
prometheus:
  base_url: not a url
  metrics:
  - name: throughput
    unit: rps
stray: 1
EOF
servo validate -f bad.yaml
expect_rc 1
expect_out ""
expect_err 'X Invalid configuration in bad.yaml
servo: error: bad.yaml:16:1: stray: unknown top-level key "stray": not a servo setting nor an instance named in `connectors` (use --allow-unknown or `extra: ignore` to ignore foreign keys)
servo: error: bad.yaml:9:9: vegeta.rate: invalid rate "fifty": hits must be a non-negative integer
servo: error: bad.yaml:12:13: prometheus.base_url: invalid URL "not a url": missing scheme (expected http:// or https://)
servo: error: bad.yaml:14:5: prometheus.metrics[0].query: field required
servo: error: bad.yaml:7:3: wait: connector "wait" is routed in `connectors` but the document has no "wait" stanza'
servo validate -q -f bad.yaml
expect_rc 1
expect_err_has 'X Invalid configuration in bad.yaml'

case_ "validate: --allow-unknown and extra: ignore"
printf 'stray: 1\n%s\n' "$vegeta_stanza" >stray.yaml
servo -c stray.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in stray.yaml
servo: error: stray.yaml:1:1: stray: unknown top-level key "stray": not a servo setting nor the key of an available connector (use --allow-unknown or `extra: ignore` to ignore foreign keys)'
servo --allow-unknown -c stray.yaml validate
expect_rc 0
expect_out "√ Valid configuration in stray.yaml"
printf 'extra: ignore\nstray: 1\n%s\n' "$vegeta_stanza" >ignore.yaml
servo -c ignore.yaml validate
expect_rc 0

case_ "validate: environment"
run SERVO_VEGETA_RATE=seven -- validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: $SERVO_VEGETA_RATE: vegeta.rate: invalid rate "seven": hits must be a non-negative integer'
run 'SERVO_VEGETA={"rate": "5/1s"' -- validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: $SERVO_VEGETA:1:15: vegeta: invalid JSON: '"'}'"' expected near end of file'
run 'SERVO_VEGETA=["rate"]' -- validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: $SERVO_VEGETA: vegeta: expected a JSON object, got a sequence'
run 'SERVO_CONNECTORS=[vegeta]' -- validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: $SERVO_CONNECTORS:1:7: connectors: invalid JSON: invalid token near '"'vegeta'"
run 'SERVO_CONNECTORS=["vegeta"]' -- validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: servo.yaml:4:1: prometheus: unknown top-level key "prometheus": not a servo setting nor an instance named in `connectors` (use --allow-unknown or `extra: ignore` to ignore foreign keys)'
run OPSANI_TOKEN=t OPSANI_TOKEN_FILE=/tmp/t -- validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: $OPSANI_TOKEN_FILE: optimizer.token_file: token and token_file cannot both be given'
servo --token t --token-file /tmp/t validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: command line: optimizer.token_file: token and token_file cannot both be given'
servo --optimizer bad validate
expect_rc 1
expect_err 'X Invalid configuration in servo.yaml
servo: error: command line: optimizer.id: "bad" does not match the pattern /^(?!-)([A-Za-z0-9-.]{5,50})/[a-zA-Z_\-.0-9]{1,64}$/'

# ---- config -----------------------------------------------------------------------------

case_ "config: yaml"
servo schema vegeta -o "$scratch/vegeta-schema.json"
cat >servo.yaml <<'EOF'
optimizer:
  id: example.com/app
  token: s3cret-token
connectors: {load: vegeta, prom1: prometheus}
load:
  rate: 50/1s
  target: GET https://example.com/
prom1:
  metrics:
  - name: up
    query: up
  password: hunter2
  username: admin
EOF
servo config
expect_rc 0
expect_err ""
yaml_config=$out
cp "$scratch/.out" "$scratch/config-out.yaml"
check_py "
import json, sys, yaml
c = yaml.safe_load(sys.stdin)
keys = list(c)
want = ['name', 'description', 'servo_uid', 'optimizer', 'settings', 'checks', 'extra',
        'no_diagnostics', 'connectors', 'load', 'prom1']
if keys != want: print('keys', keys)
if c['name'] != 'example.com/app': print('name', c['name'])
if c['connectors'] != {'load': 'vegeta', 'prom1': 'prometheus'}: print(c['connectors'])
if c['optimizer'] != {'id': 'example.com/app', 'token': '**********', 'token_file': None,
                      'base_url': 'https://api.opsani.com', 'url': None, 'local': None}: print(c['optimizer'])
load = c['load']
want = {'description': None, 'rate': '50/1s', 'format': 'http',
        'target': 'GET https://example.com/', 'targets': None, 'connections': 10000,
        'workers': 10, 'max_workers': None, 'max_body': -1, 'http2': True, 'keepalive': True,
        'insecure': False, 'reporting_interval': '15s'}
if {k: load.get(k) for k in want} != want: print('load', load)
if list(load) != list(json.load(open('$scratch/vegeta-schema.json'))['properties']):
    print('load has not every field of the vegeta table, in order:', list(load))
p = c['prom1']
if (p['password'], p['username'], p['base_url'], p['timeout']) != ('**********', 'admin', 'https://prometheus:9090', '30s'):
    print('prom1', p)
if p['metrics'] != [{'name': 'up', 'unit': '', 'query': 'up', 'step': '1m', 'absent': 'ignore'}]:
    print('metrics', p['metrics'])
if c['settings']['timeouts'] != {'connect': '10s', 'read': '30s', 'write': '30s', 'pool': '10s'}:
    print(c['settings'])
"
[[ $out != *s3cret-token* && $out != *hunter2* ]] || report "a secret is shown"
servo config -f yaml
expect_rc 0
expect_out "$yaml_config"

case_ "config: json"
servo config -f json
expect_rc 0
expect_err ""
json_config=$out
cp "$scratch/.out" "$scratch/config-out.json"
check_py "
import json, sys, yaml
j = json.load(sys.stdin)
y = yaml.safe_load(open('$scratch/config-out.yaml'))
if j != y: print('json and yaml differ')
if list(j) != list(y): print('key order differs')
"

case_ "config: --show-secrets"
servo config --show-secrets -f json
expect_rc 0
check_py "
import json, sys
j = json.load(sys.stdin)
if j['optimizer']['token'] != 's3cret-token': print(j['optimizer'])
if j['prom1']['password'] != 'hunter2': print(j['prom1'])
"

case_ "config: -o FILE"
servo config -f json -o out.json
expect_rc 0
expect_out ""
expect_err ""
expect_file out.json "$json_config"
servo config -o /nonexistent/dir/out.yaml
expect_rc 1
expect_err_has 'servo: error: cannot write /nonexistent/dir/out.yaml: No such file or directory'

case_ "config: configmap"
servo config -f configmap
expect_rc 0
expect_err ""
check_py "
import json, sys, yaml
docs = list(yaml.safe_load_all(sys.stdin))
if len(docs) != 1: print('documents', len(docs))
m = docs[0]
if m['apiVersion'] != 'v1' or m['kind'] != 'ConfigMap': print(m['apiVersion'], m['kind'])
md = m['metadata']
if md['name'] != 'opsani-servo-config': print(md['name'])
if md['labels'] != {'app.kubernetes.io/name': 'servo', 'app.kubernetes.io/version': '$version'}:
    print(md['labels'])
connectors = json.loads(md['annotations']['servo.opsani.com/connectors'])
if [(c['name'], c['type']) for c in connectors] != [('load', 'VegetaConnector'), ('prom1', 'PrometheusConnector')]:
    print(connectors)
stamp = md['annotations']['servo.opsani.com/configured_at']
if not isinstance(stamp, str) or not stamp.startswith('20'):
    print('configured_at is not a string (an annotation must be one):', repr(stamp))
data = yaml.safe_load(m['data']['servo.yaml'])
if 'optimizer' in data: print('the optimizer (and its token) is in the ConfigMap')
full = yaml.safe_load(open('$scratch/config-out.yaml'))
del full['optimizer']
if data != full: print('data differs from the configuration')
open('configmap-servo.yaml', 'w').write(m['data']['servo.yaml'])
"
servo validate -f configmap-servo.yaml
expect_rc 0
expect_out "√ Valid configuration in configmap-servo.yaml"
# the configuration read back is the same one (the optimizer aside)
servo -c configmap-servo.yaml config -f json
check_py "
import json, sys
again = json.load(sys.stdin)
first = json.load(open('$scratch/config-out.json'))
first['optimizer'] = None
if again != first: print('the configuration read back differs')
"

case_ "config: round trip of yaml and json output"
printf '%s\n' "$yaml_config" >roundtrip.yaml
servo -c roundtrip.yaml config --show-secrets
expect_rc 0
servo config --show-secrets
secret_config=$out
printf '%s\n' "$secret_config" >roundtrip.yaml
servo -c roundtrip.yaml config --show-secrets
expect_rc 0
expect_out "$secret_config"
servo config --show-secrets -f json -o roundtrip.json
servo -c roundtrip.json config --show-secrets
expect_rc 0
expect_out "$secret_config"

case_ "config: environment and flags"
# flag > per-field variable > whole-stanza variable > file > default
run SERVO_LOAD_WORKERS=3 'SERVO_LOAD={"workers": 2, "max_workers": 9}' OPSANI_TOKEN=env-token \
    -- --base-url https://flag.example.com config -f json --show-secrets
expect_rc 0
check_py "
import json, sys
j = json.load(sys.stdin)
got = (j['load']['workers'], j['load']['max_workers'], j['optimizer']['token'], j['optimizer']['base_url'])
if got != (3, 9, 'env-token', 'https://flag.example.com'): print(got)
"
cat >env.yaml <<'EOF'
wait:
  measure_enabled: true
EOF
run OPSANI_OPTIMIZER=example.com/env OPSANI_TOKEN=env-token -- -c env.yaml config -f json --show-secrets
expect_rc 0
check_py "
import json, sys
j = json.load(sys.stdin)
if j['name'] != 'example.com/env' or j['optimizer']['token'] != 'env-token': print(j['name'], j['optimizer'])
"
run OPSANI_OPTIMIZER=example.com/env OPSANI_TOKEN=env-token -- --optimizer example.com/flag --token flag-token --url http://localhost:8080/ -c env.yaml config -f json --show-secrets
check_py "
import json, sys
j = json.load(sys.stdin)
o = j['optimizer']
if (j['name'], o['id'], o['token'], o['url']) != ('example.com/flag', 'example.com/flag', 'flag-token', 'http://localhost:8080/'):
    print(o)
"
printf 'tok\n' >token.txt
servo --optimizer example.com/flag --token-file token.txt -c env.yaml config -f json
check_py "
import json, sys
o = json.load(sys.stdin)['optimizer']
if (o['token'], o['token_file']) != (None, 'token.txt'): print(o)
"

case_ "config: bad format, bad file"
servo config -f toml
expect_rc 2
expect_err 'servo: error: invalid value "toml" for --format (expected one of: yaml, json, configmap)'
servo -c bad.yaml config
expect_rc 1
expect_out ""
expect_err_has 'servo: error: bad.yaml:9:9: vegeta.rate: invalid rate "fifty"'
servo -c nope.yaml config
expect_rc 2
expect_err 'servo: error: nope.yaml: file does not exist'

# ---- multi-servo: list, -n, show connectors ---------------------------------------------

case_ "multi-servo: list"
cat >multi.yaml <<'EOF'
name: first
description: The first servo
wait:
  measure_enabled: true
---
optimizer:
  id: example.com/second
connectors:
  load: vegeta
  prom1: PrometheusConnector
load:
  rate: 50/1s
  target: GET https://example.com/
prom1:
  metrics:
  - name: up
    query: up
EOF
servo -c multi.yaml list
expect_rc 0
expect_err ""
expect_out 'NAME                OPTIMIZER           DESCRIPTION
first               (embedded)          The first servo
example.com/second  example.com/second  -'

case_ "multi-servo: show connectors"
servo -c multi.yaml show connectors
expect_rc 0
expect_out 'first:
NAME  TYPE           VERSION  DESCRIPTION
wait  WaitConnector  0.0.1    Wait (no-op) Connector for Opsani

example.com/second:
NAME   TYPE                 VERSION  DESCRIPTION
load   VegetaConnector      0.5.0    Vegeta load testing connector
prom1  PrometheusConnector  1.5.0    Prometheus Connector for Opsani'
servo -c multi.yaml -n first show connectors -v
expect_rc 0
expect_out 'first:
NAME  TYPE           VERSION  DESCRIPTION                        ORIGIN
wait  WaitConnector  0.0.1    Wait (no-op) Connector for Opsani  built-in'

servo -c multi.yaml -n example.com/second show connectors
expect_rc 0
expect_out 'example.com/second:
NAME   TYPE                 VERSION  DESCRIPTION
load   VegetaConnector      0.5.0    Vegeta load testing connector
prom1  PrometheusConnector  1.5.0    Prometheus Connector for Opsani'
servo -c multi.yaml -n nobody show connectors
expect_rc 2
expect_out ""
expect_err 'servo: error: no servo named "nobody" in multi.yaml'
servo -c multi.yaml -n nobody schema
expect_rc 2
expect_out ""
expect_err 'servo: error: no servo named "nobody" in multi.yaml'
servo -c multi.yaml -n example.com/second schema
expect_rc 0
check_py "
import json, sys
p = json.load(sys.stdin)['properties']
if 'load' not in p or 'prom1' not in p or 'wait' in p: print(list(p))
"

case_ "multi-servo: config and -n"
servo -c multi.yaml config
expect_rc 0
check_py "
import sys, yaml
docs = list(yaml.safe_load_all(sys.stdin))
if [d['name'] for d in docs] != ['first', 'example.com/second']: print([d['name'] for d in docs])
"
servo -c multi.yaml config -f json
check_py "
import json, sys
docs = json.load(sys.stdin)
if [d['name'] for d in docs] != ['first', 'example.com/second']: print(docs)
"
servo -c multi.yaml -n example.com/second config -f json
expect_rc 0
check_py "
import json, sys
d = json.load(sys.stdin)
if d['name'] != 'example.com/second' or d['connectors'] != {'load': 'vegeta', 'prom1': 'prometheus'}: print(d)
"
run SERVO_NAME=first -- -c multi.yaml config -f json
check_py "
import json, sys
d = json.load(sys.stdin)
if d['name'] != 'first' or d['connectors'] != {'wait': 'wait'}: print(d)
"
servo -c multi.yaml --name nobody config
expect_rc 2
expect_out ""
expect_err 'servo: error: no servo named "nobody" in multi.yaml'

case_ "multi-servo: configmap"
servo -c multi.yaml config -f configmap
expect_rc 0
check_py "
import json, sys, yaml
m = yaml.safe_load(sys.stdin)
names = [c['name'] for c in json.loads(m['metadata']['annotations']['servo.opsani.com/connectors'])]
if names != ['wait', 'load', 'prom1']: print(names)
docs = list(yaml.safe_load_all(m['data']['servo.yaml']))
if [d['name'] for d in docs] != ['first', 'example.com/second']: print(docs)
open('multi-configmap.yaml', 'w').write(m['data']['servo.yaml'])
"
servo -c multi-configmap.yaml list
expect_rc 0
expect_out 'NAME                OPTIMIZER   DESCRIPTION
first               (embedded)  The first servo
example.com/second  (embedded)  -'
servo -c multi.yaml -n first config -f configmap
expect_rc 0
check_py "
import json, sys, yaml
m = yaml.safe_load(sys.stdin)
names = [c['name'] for c in json.loads(m['metadata']['annotations']['servo.opsani.com/connectors'])]
if names != ['wait']: print('connectors of the other servo listed:', names)
if yaml.safe_load(m['data']['servo.yaml'])['name'] != 'first': print(m['data'])
"

case_ "multi-servo: naming rules"
printf 'name: a\n---\ndescription: unnamed\n' >unnamed.yaml
servo -c unnamed.yaml list
expect_rc 1
expect_err 'servo: error: unnamed.yaml:3:1: document 2: in a multi-servo file every servo needs a `name` or an `optimizer.id` to tell it apart'
printf 'name: a\n---\nname: a\n' >twice.yaml
servo -c twice.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in twice.yaml
servo: error: twice.yaml:3:1: document 2: servo name "a" is already used by document 1'

# ---- generate ---------------------------------------------------------------------------

mkdir gen && cd gen

case_ "generate: every connector, named"
# shellcheck disable=SC2046 # the connector names
servo generate -q -f all.yaml $(python3 -c "
import json
print(' '.join(x['name'] for x in json.load(open('$scratch/connectors.json'))))")
expect_rc 0
servo -c all.yaml config -f json
expect_rc 0
check_py "
import json, sys
c = json.load(sys.stdin)
available = sorted(x['name'] for x in json.load(open('$scratch/connectors.json')))
# opsani_dev brings its own kubernetes and prometheus instances (opsani_dev.kubernetes, ...)
named = sorted(k for k in c['connectors'] if not k.startswith('opsani_dev.'))
if named != available: print(named, 'is not', available)
"

case_ "generate: no connector named writes only wait, which changes nothing"
servo generate
expect_rc 0
expect_err ""
[[ $out == *$'\nGenerated servo.yaml' ]] || report "no 'Generated servo.yaml' line"
expect_file servo.yaml "${out%$'\n'Generated servo.yaml}"
check_py "
import sys, yaml
text = sys.stdin.read().rsplit('Generated servo.yaml', 1)[0]
if not text.startswith('# Only the wait connector, which changes nothing.'): print(text)
c = yaml.safe_load(text)
if c != {'wait': {'measure_enabled': False}}: print(c)
"
servo validate
expect_rc 0
expect_out "√ Valid configuration in servo.yaml"
servo list
expect_rc 0
expect_out 'NAME   OPTIMIZER   DESCRIPTION
servo  (embedded)  -'

case_ "generate: an existing file needs --force"
cp servo.yaml before.yaml
servo generate vegeta
expect_rc 2
expect_out ""
expect_err 'servo: error: generate: servo.yaml already exists (use --force to overwrite it or --append to add another servo to it)'
cmp -s servo.yaml before.yaml || report "servo.yaml was changed"
servo generate --force -q vegeta
expect_rc 0
expect_out ""
check_py "
import yaml
c = yaml.safe_load(open('servo.yaml'))
if list(c) != ['connectors', 'vegeta'] or c['connectors'] != ['vegeta']: print(c)
"

case_ "generate: vegeta prometheus"
rm servo.yaml
servo generate vegeta prometheus
expect_rc 0
expect_out_has $'\nGenerated servo.yaml'
check_py "
import yaml
c = yaml.safe_load(open('servo.yaml'))
if list(c) != ['connectors', 'vegeta', 'prometheus']: print(list(c))
if c['connectors'] != ['vegeta', 'prometheus']: print(c['connectors'])
if c['vegeta'].get('rate') is None or not c['prometheus'].get('metrics'): print(c)
"
servo validate
expect_rc 0
servo show connectors
expect_out 'NAME        TYPE                 VERSION  DESCRIPTION
vegeta      VegetaConnector      0.5.0    Vegeta load testing connector
prometheus  PrometheusConnector  1.5.0    Prometheus Connector for Opsani'

case_ "generate: aliases"
servo generate -f aliases.yaml prom1:prometheus prom2:PrometheusConnector
expect_rc 0
check_py "
import yaml
c = yaml.safe_load(open('aliases.yaml'))
if list(c) != ['connectors', 'prom1', 'prom2']: print(list(c))
if c['connectors'] != {'prom1': 'prometheus', 'prom2': 'prometheus'}: print(c['connectors'])
if c['prom1'] != c['prom2']: print('stanzas differ')
"
servo -c aliases.yaml validate
expect_rc 0
expect_out "√ Valid configuration in aliases.yaml"
servo -c aliases.yaml show connectors
expect_out 'NAME   TYPE                 VERSION  DESCRIPTION
prom1  PrometheusConnector  1.5.0    Prometheus Connector for Opsani
prom2  PrometheusConnector  1.5.0    Prometheus Connector for Opsani'
servo generate -q -f mixed.yaml vegeta load2:vegeta
check_py "
import yaml
c = yaml.safe_load(open('mixed.yaml'))
if c['connectors'] != {'vegeta': 'vegeta', 'load2': 'vegeta'}: print(c['connectors'])
"
servo -c mixed.yaml validate
expect_rc 0

case_ "generate: --defaults"
servo generate -q --defaults -f defaults.yaml vegeta wait
expect_rc 0
check_py "
import json, yaml
c = yaml.safe_load(open('defaults.yaml'))
v = c['vegeta']
want = list(json.load(open('$scratch/vegeta-schema.json'))['properties'])
if list(v) != want: print(list(v), 'is not', want)
if (v['workers'], v['connections'], v['reporting_interval'], v['targets']) != (10, 10000, '15s', None): print(v)
if c['wait'] != {'description': None, 'measure_enabled': False}: print(c['wait'])
"
servo -c defaults.yaml validate
expect_rc 0

case_ "generate: --standalone"
servo generate -q --standalone -f standalone.yaml vegeta
expect_rc 0
check_py "
import yaml
c = yaml.safe_load(open('standalone.yaml'))
if list(c) != ['vegeta']: print(list(c))
"
servo -c standalone.yaml validate
expect_rc 0

case_ "generate: --append"
servo generate -q -f two.yaml -n first vegeta
expect_rc 0
servo generate -f two.yaml --append -n second wait
expect_rc 0
expect_out_has $'---\nname: second\n'
check_py "
import yaml
docs = list(yaml.safe_load_all(open('two.yaml')))
if [d.get('name') for d in docs] != ['first', 'second']: print(docs)
"
servo -c two.yaml list
expect_rc 0
expect_out 'NAME    OPTIMIZER   DESCRIPTION
first   (embedded)  -
second  (embedded)  -'
servo -c two.yaml validate
expect_rc 0
# without a name, the appended servo gets the next free one
servo generate -q -f two.yaml --append prometheus
expect_rc 0
servo -c two.yaml list
expect_out 'NAME     OPTIMIZER   DESCRIPTION
first    (embedded)  -
second   (embedded)  -
servo-3  (embedded)  -'
# appending to a servo that has no name would make an invalid file: refused
servo generate -q -f unnamed.yaml vegeta
cp unnamed.yaml unnamed.before
servo generate -f unnamed.yaml --append -n other wait
expect_rc 2
expect_out ""
expect_err 'servo: error: generate: cannot append to unnamed.yaml: document 1 has no `name` or `optimizer.id`; every servo of a multi-servo file needs one'
cmp -s unnamed.yaml unnamed.before || report "unnamed.yaml was changed"
servo generate -f two.yaml --append -n first wait
expect_rc 2
expect_err 'servo: error: generate: cannot append to two.yaml: a servo named "first" is already in it'
# appending to a file that does not exist creates it
servo generate -q -f fresh.yaml --append wait
expect_rc 0
servo -c fresh.yaml validate
expect_rc 0

case_ "generate: errors"
servo generate -f x.yaml nope
expect_rc 2
expect_err "servo: error: generate: no connector named \"nope\" (see 'servo connectors')"
[[ ! -e x.yaml ]] || report "x.yaml was written"
servo generate -f /nonexistent/dir/servo.yaml vegeta
expect_rc 1
expect_err 'servo: error: generate: cannot write /nonexistent/dir/servo.yaml'
# nothing invalid is written: bad, reserved and repeated instance names, a bad servo name
servo generate -f x.yaml ab:wait
expect_rc 2
expect_err 'servo: error: generate: the configuration would not be valid:
servo: error: generated:2:3: connectors.ab: invalid instance name "ab": use 3 to 128 letters, digits or -_/.'
servo generate -f x.yaml settings:wait
expect_rc 2
expect_err_has 'servo: error: generated:2:3: connectors.settings: name "settings" is reserved'
servo generate -f x.yaml vegeta:prometheus
expect_rc 2
expect_err 'servo: error: generate: the configuration would not be valid:
servo: error: generated:2:3: connectors.vegeta: name "vegeta" is reserved by VegetaConnector'
servo generate -f x.yaml wait WaitConnector
expect_rc 2
expect_err 'servo: error: generate: "wait" is given twice (name the instances with ALIAS:CONNECTOR)'
servo generate -f x.yaml w1x:wait w1x:vegeta
expect_rc 2
expect_err 'servo: error: generate: "w1x" is given twice (name the instances with ALIAS:CONNECTOR)'
servo generate -f x.yaml -n 'bad name' wait
expect_rc 2
expect_err 'servo: error: generate: the configuration would not be valid:
servo: error: generated:1:7: name: "bad name" does not match the pattern /^[0-9a-zA-Z_./-]{1,128}$/'
servo generate -f x.yaml --standalone p1x:prometheus
expect_rc 2
expect_err_has 'servo: error: generated:1:1: p1x: unknown top-level key "p1x"'
[[ ! -e x.yaml ]] || report "x.yaml was written"
# what is generated does not depend on the environment, and validates without it
run SERVO_WAIT_MEASURE_ENABLED=maybe -- generate -q -f env.yaml wait
expect_rc 0
servo -c env.yaml validate
expect_rc 0

cd "$scratch"

# ---- schema -----------------------------------------------------------------------------

case_ "schema"
mkdir schema && cd schema
servo schema
expect_rc 0
expect_err ""
check_py "
import json, sys
s = json.load(sys.stdin)
if s['\$schema'] != 'https://json-schema.org/draft/2020-12/schema': print(s['\$schema'])
if s['title'] != 'Servo Configuration Schema': print(s['title'])
props = list(s['properties'])
for k in ['name', 'optimizer', 'connectors', 'settings', 'checks', 'exec', 'kubernetes',
          'prometheus', 'scripts', 'vegeta', 'wait']:
    if k not in props: print('missing', k)
if sorted(s['else']['propertyNames']['enum']) != sorted(props): print('else', s.get('else'))
if s['if'] != {'properties': {'extra': {'const': 'ignore'}}, 'required': ['extra']}: print(s.get('if'))
v = s['properties']['vegeta']
if v['properties']['rate']['env_names'] != ['SERVO_VEGETA_RATE']: print(v['properties']['rate'])
if s['properties']['connectors']['env_names'] != ['SERVO_CONNECTORS']: print('connectors')
"
servo schema vegeta
expect_rc 0
check_py "
import json, sys
s = json.load(sys.stdin)
if s['title'] != 'VegetaConnector Configuration Schema': print(s['title'])
if s.get('required') != ['rate']: print(s.get('required'))
if s['properties']['workers']['default'] != 10: print(s['properties']['workers'])
"
servo schema --top-level
expect_rc 0
check_py "
import json, sys
s = json.load(sys.stdin)
v = s['properties']['vegeta']
if v['env_names'] != ['SERVO_VEGETA'] or 'properties' in v: print(v)
"
servo schema -o schema.json
expect_rc 0
expect_out ""
[[ -s schema.json ]] || report "schema.json is empty"
servo schema nope
expect_rc 2
expect_err "servo: error: schema: no connector named \"nope\" (see 'servo connectors')"
servo schema -f yaml
expect_rc 2
expect_err 'servo: error: invalid value "yaml" for --format (expected one of: json, text, html)'
# with an alias map, the instances are the properties
printf 'connectors: {prom1: prometheus}\nprom1: {metrics: [{name: up, query: up}]}\n' >servo.yaml
servo schema
expect_rc 0
check_py "
import json, sys
p = json.load(sys.stdin)['properties']
if 'prom1' not in p or 'prometheus' in p: print(list(p))
if p['prom1']['properties']['base_url']['env_names'] != ['SERVO_PROM1_BASE_URL']: print(p['prom1'])
"
# with implicit routing every connector stays available
printf '%s\n' "$vegeta_stanza" >servo.yaml
servo schema
check_py "
import json, sys
p = json.load(sys.stdin)['properties']
for k in ['vegeta', 'prometheus', 'wait']:
    if k not in p: print('missing', k)
"
cd "$scratch"

# ---- .env, SERVO_CONFIG_FILE, -c --------------------------------------------------------

case_ ".env"
mkdir dotenv && cd dotenv
printf '%s\n' "$vegeta_stanza" >from-dotenv.yaml
printf 'wait:\n  measure_enabled: true\n' >servo.yaml
cat >.env <<'EOF'
# comment
SERVO_CONFIG_FILE=from-dotenv.yaml
export SERVO_VEGETA_WORKERS=7
SERVO_VEGETA_MAX_WORKERS="8"
EOF
servo config -f json
expect_rc 0
check_py "
import json, sys
j = json.load(sys.stdin)
if j['connectors'] != {'vegeta': 'vegeta'} or (j['vegeta']['workers'], j['vegeta']['max_workers']) != (7, 8):
    print(j['connectors'], j.get('vegeta'))
"
# a variable that is already set wins over .env
run SERVO_VEGETA_WORKERS=9 -- config -f json
check_py "
import json, sys
j = json.load(sys.stdin)
if j['vegeta']['workers'] != 9: print(j['vegeta'])
"
# ... so does -c
servo -c servo.yaml config -f json
check_py "
import json, sys
j = json.load(sys.stdin)
if j['connectors'] != {'wait': 'wait'}: print(j['connectors'])
"
servo validate
expect_out "√ Valid configuration in from-dotenv.yaml"
printf 'SERVO_VEGETA_WORKERS=7\nnot a line\n' >.env
servo validate
expect_rc 1
expect_err 'servo: error: .env:2:1: expected NAME=VALUE'
# ... but only a warning for the commands that read no configuration
servo --help
expect_rc 0
for command in version help connectors "completion bash" "generate -f gen.yaml wait"; do
    # shellcheck disable=SC2086 # the command's words
    servo $command
    expect_rc 0
    expect_err 'servo: warning: .env:2:1: expected NAME=VALUE'
done
servo config
expect_rc 1
expect_err 'servo: error: .env:2:1: expected NAME=VALUE'
# a directory named .env (a Python virtualenv, say) is no dotenv file
rm .env
mkdir -p .env/bin
servo validate
expect_rc 0
expect_out "√ Valid configuration in servo.yaml"
cd "$scratch"

case_ ".env found in a parent directory, as ServoX's find_dotenv(usecwd=True)"
mkdir -p up/down/deeper && cd up/down/deeper
printf 'SERVO_WAIT_DESCRIPTION=from the parent .env\n' >"$scratch/up/.env"
mkdir .env # a directory is passed over
printf 'wait:\n  measure_enabled: true\n' >servo.yaml
servo config -f json
expect_rc 0
check_py "
import json, sys
j = json.load(sys.stdin)
if j['wait'].get('description') != 'from the parent .env': print(j['wait'])
"
# the nearest one wins
printf 'SERVO_WAIT_DESCRIPTION=from the nearer .env\n' >"$scratch/up/down/.env"
servo config -f json
check_py "
import json, sys
j = json.load(sys.stdin)
if j['wait'].get('description') != 'from the nearer .env': print(j['wait'])
"
printf 'bad line\n' >"$scratch/up/down/.env"
servo config
expect_rc 1
expect_err "servo: error: $scratch/up/down/.env:1:1: expected NAME=VALUE"
cd "$scratch"
rm -r up

case_ "SERVO_CONFIG_FILE"
run SERVO_CONFIG_FILE=multi.yaml -- list
expect_rc 0
expect_out_has "example.com/second"
run SERVO_CONFIG_FILE=multi.yaml -- -c env.yaml list
expect_out 'NAME   OPTIMIZER   DESCRIPTION
servo  (embedded)  -'
run SERVO_CONFIG_FILE=nope.yaml -- validate
expect_rc 2
expect_err 'servo: error: validate: invalid value for --file: nope.yaml does not exist'

case_ "--no-color"
servo --no-color -c multi.yaml list
expect_rc 0
expect_out_has "first"
[[ $out$err != *$'\e'* ]] || report "escape sequences in the output"
run NO_COLOR=1 -- -c bad.yaml validate
expect_rc 1
[[ $out$err != *$'\e'* ]] || report "escape sequences in the output"

# ---- hostile input ----------------------------------------------------------------------

mkdir hostile && cd hostile

# fast: each must fail in well under the limit
fast() {
    local start=$SECONDS
    run -- "$@"
    ((SECONDS - start <= 20)) || report "took $((SECONDS - start)) s"
}

case_ "a directory"
mkdir adir
fast -c adir validate
expect_rc 1
expect_err 'X Invalid configuration in adir
servo: error: adir: is a directory, not a file'
fast -c adir config
expect_rc 1
expect_err 'servo: error: adir: is a directory, not a file'

case_ "a device"
fast -c /dev/zero validate
expect_rc 1
expect_err 'X Invalid configuration in /dev/zero
servo: error: /dev/zero: is not a regular file'

case_ "100 MB of zeros"
truncate -s 100M zeros.yaml
fast -c zeros.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in zeros.yaml
servo: error: zeros.yaml: file is too large (104857600 bytes; the limit is 8388608)'

case_ "100 MB of random bytes"
head -c 100M /dev/urandom >random.yaml
fast -c random.yaml config
expect_rc 1
expect_err 'servo: error: random.yaml: file is too large (104857600 bytes; the limit is 8388608)'

case_ "binary garbage"
head -c 4096 /dev/urandom >garbage.yaml
fast -c garbage.yaml validate
expect_rc 1
expect_err_has 'servo: error: garbage.yaml'
fast -c garbage.yaml config
expect_rc 1
expect_err_has 'servo: error: garbage.yaml'
printf 'wait:\n  measure_enabled: true\n  description: "a\0b"\n' >nul.yaml
fast -c nul.yaml validate
expect_rc 1
expect_err_has 'servo: error: nul.yaml:'
printf 'description: \xff\xfe\n' >latin.yaml
fast -c latin.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in latin.yaml
servo: error: latin.yaml: invalid leading UTF-8 octet (byte 13)'

case_ "deep nesting"
head -c 10000 /dev/zero | tr '\0' '[' >deep.yaml
fast -c deep.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in deep.yaml
servo: error: deep.yaml:1:65: nesting is deeper than 64 levels'
"$PYTHON" -c "print(''.join('%sk:\n' % (' ' * i) for i in range(200)))" >deepmap.yaml
fast -c deepmap.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in deepmap.yaml
servo: error: deepmap.yaml:65:65: nesting is deeper than 64 levels'
for ((i = 0; i < 10000; i++)); do printf '{a: '; done >deepflow.yaml
fast -c deepflow.yaml config
expect_rc 1
expect_err 'servo: error: deepflow.yaml:1:257: nesting is deeper than 64 levels'

case_ "billion laughs"
cat >bomb.yaml <<'EOF'
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
EOF
fast -c bomb.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in bomb.yaml
servo: error: bomb.yaml:7:14: document is too large (more than 2000000 values, aliases included)'

case_ "duplicate keys"
printf 'wait:\n  measure_enabled: true\n  measure_enabled: false\nwait: {}\n' >dup.yaml
fast -c dup.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in dup.yaml
servo: error: dup.yaml:3:3: duplicate key "measure_enabled" (first defined at line 2)
servo: error: dup.yaml:4:1: duplicate key "wait" (first defined at line 1)'

case_ "malformed YAML"
printf 'wait:\n  measure_enabled: true\n    description: x\n' >indent.yaml
fast -c indent.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in indent.yaml
servo: error: indent.yaml:3:16: mapping values are not allowed in this context'
printf 'description: "unterminated\n' >quote.yaml
fast -c quote.yaml config
expect_rc 1
expect_err 'servo: error: quote.yaml:2:1: found unexpected end of stream while scanning a quoted scalar'
printf 'wait:\n\tmeasure_enabled: true\n' >tab.yaml
fast -c tab.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in tab.yaml
servo: error: tab.yaml:2:1: found character that cannot start any token while scanning for the next token'
printf -- '- wait\n- vegeta\n' >list.yaml
fast -c list.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in list.yaml
servo: error: list.yaml:1:1: a servo configuration must be a mapping, got a sequence'

case_ "wrong types and unknown keys"
cat >types.yaml <<'EOF'
name: [a]
no_diagnostics: sometimes
settings:
  timeouts: {connect: soon}
wait:
  measure_enabled: 1.5
  color: red
vegeta:
  rate: 50/1s
  target: GET https://example.com/
  workers: many
  http2: 'true'
EOF
fast -c types.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in types.yaml
servo: error: types.yaml:1:7: name: expected a string, got a sequence
servo: error: types.yaml:4:23: settings.timeouts.connect: invalid duration "soon": missing number
servo: error: types.yaml:2:17: no_diagnostics: invalid boolean "sometimes": expected true or false
servo: error: types.yaml:11:12: vegeta.workers: invalid integer "many"
servo: error: types.yaml:12:10: vegeta.http2: invalid boolean "true": expected true or false
servo: error: types.yaml:7:3: wait.color: unknown key "color" (allowed: description, measure_enabled)
servo: error: types.yaml:6:20: wait.measure_enabled: invalid boolean "1.5": expected true or false'

case_ "a long line"
{
    printf 'description: '
    head -c 7000000 /dev/zero | tr '\0' 'x'
    printf '\n'
} >long.yaml
fast -c long.yaml validate
expect_rc 0
expect_out "√ Valid configuration in long.yaml"

case_ "unreadable file"
printf 'wait: {measure_enabled: true}\n' >secret.yaml
chmod 000 secret.yaml
tested_bin=$SERVO_BIN
if ((EUID == 0)); then
    # root reads every file: run the servo as nobody (setpriv is in util-linux, always there)
    command -v setpriv >/dev/null || {
        echo "SKIP: test_cli_config: running as root without setpriv (util-linux)"
        exit 77
    }
    # nobody may not reach the build directory (a checkout under /root, mode 0700): it runs a
    # copy of the servo from the scratch directory, which it may read
    chmod 755 "$scratch" "$scratch/hostile"
    mkdir -m 755 "$scratch/bin"
    cp "$SERVO_BIN" "$scratch/bin/servo"
    chmod 755 "$scratch/bin/servo"
    SERVO_BIN=$scratch/bin/servo
    runner=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
fast -c secret.yaml validate
expect_rc 1
expect_err 'X Invalid configuration in secret.yaml
servo: error: secret.yaml: Permission denied'
fast -c secret.yaml config
expect_rc 1
expect_err 'servo: error: secret.yaml: Permission denied'
runner=()
SERVO_BIN=$tested_bin
chmod 600 secret.yaml

cd "$scratch"

printf '\n%d checks, %d failures\n' "$checks" "$failures"
((failures == 0))
