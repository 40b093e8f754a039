#!/usr/bin/env bash
# `servo check` end to end, with the checktest plugin (tests/integration/plugins/checktest.c,
# built as $SERVO_BUILD_DIR/tests/integration-plugins/checktest.so): the summary and verbose
# tables, JSON, quiet, every filter form (exact, comma list, /regex/, repeated; name, id,
# tag; AND-ed), connector arguments, --halt-on, --remedy, --wait with --delay, the `checks:`
# settings as defaults with flags winning, the global -n before the command, exit codes.
#
# Environment (set by ctest): SERVO_BIN, SERVO_BUILD_DIR.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${SERVO_BUILD_DIR:?set SERVO_BUILD_DIR to the build directory}"

plugin="$SERVO_BUILD_DIR/tests/integration-plugins/checktest.so"
[[ -f $plugin ]] || {
    echo "missing $plugin (build the integration_plugin_checktest target)" >&2
    exit 1
}

scratch_dir servo-check
clean_env
export SERVO_PLUGIN_PATH="$plugin"
export NO_COLOR=1

# expect_ids IDS: the ids of the checks that ran (verbose table, comma-joined).
expect_ids() {
    checks=$((checks + 1))
    local got
    got=$(awk 'NR == 1 { at = index($0, " ID ") + 1; next }
               { id = substr($0, at); sub(/ .*/, "", id); print id }' <<<"$out" | paste -sd, -)
    [[ $got == "$1" ]] || fail "expected checks $1, got $got"
}

config() {
    cat >servo.yaml
}

marker_id=4792c2ed # FNV-1a 32 of "Marker exists"
all=connect,query,disk,queries_item_0,queries_item_1,$marker_id,eventually

step "everything passes"
config <<'EOF'
checktest: {}
EOF
run check
expect_rc 0
expect_out "CONNECTOR  STATUS    ERRORS"
expect_out "checktest  √ PASSED"
expect_err "✅ Check 'Connect to service' passed"
expect_err "🔥 All checks passed."
run check -v
expect_rc 0
expect_out "CONNECTOR  CHECK               ID              TAGS            STATUS    MESSAGE"
expect_ids "$all"
expect_out "connected"
expect_out "metrics, query"
run check --help
expect_rc 0
expect_out "Usage: servo check"

step "failures: summary, verbose, warnings"
config <<'EOF'
checktest:
  fail: [query, p90, disk]
  queries: [p50, p90, p99]
EOF
run check
expect_rc 1
expect_out "checktest  X FAILED  (1/3) Query works: [syntax error at line 1]"
expect_out "                     (2/3) Disk space: [only 1% free]"
expect_out "                     (3/3) Run query p90: [query p90 returned no data]"
expect_err "❌ Check 'Query works' failed (1 passed): syntax error at line 1"
expect_err "Hint: Fix the query syntax"
expect_no_err "All checks passed"
run check --verbose
expect_rc 1
expect_out "Disk space          disk            disk            ! WARNING  only 1% free"
expect_out "Query works         query           metrics, query  X FAILED   syntax error at line 1"
expect_out "Run query p99       queries_item_2  metrics         √ PASSED   query p99 returned 3 series"
# a failed warning alone does not fail the run
run check -t disk
expect_rc 0
expect_out "checktest  √ PASSED  (1/1) Disk space: [only 1% free]"

step "quiet, progressive, json"
run check -q
expect_rc 1
[[ -z $out ]] || fail "-q printed to stdout"
expect_no_err "Check 'Query works'"
run check --no-progressive
expect_rc 1
expect_no_err "Check 'Query works'"
expect_out "X FAILED"
run check -f json -n /Disk/
expect_rc 0
if command -v python3 >/dev/null; then
    checks=$((checks + 1))
    python3 - "$out" <<'EOF' || fail "unexpected JSON"
import json, sys
checks = json.loads(sys.argv[1])
assert [c["id"] for c in checks] == ["connect", "disk"], checks
keys = ["connector", "name", "id", "description", "severity", "tags", "success", "message",
        "hint", "remedy", "runtime_ms"]
assert all(list(c) == keys for c in checks), checks
disk = checks[1]
assert disk["connector"] == "checktest" and disk["severity"] == "warning"
assert disk["success"] is False and disk["message"] == "only 1% free"
assert checks[0]["tags"] == ["network"] and checks[0]["success"] is True
assert isinstance(disk["runtime_ms"], (int, float))
EOF
fi
expect_out '"connector": "checktest"'
run check -f json -q
expect_rc 1
[[ -z $out ]] || fail "-q -f json printed to stdout"

step "filters"
config <<'EOF'
checktest:
  queries: [p50, p90, p99]
EOF
run check -v -n "Query works"
expect_rc 0
expect_ids connect,query # a critical check before the selected one runs too
run check -v -n "Disk space,Run query p90"
expect_ids connect,disk,queries_item_1
run check -v -n "Disk space" -n "Run query p99"
expect_ids connect,disk,queries_item_2
run check -v -n "/query p9/"
expect_ids connect,queries_item_1,queries_item_2
run check -v -i disk
expect_ids connect,disk
run check -v -i "queries_item_0,eventually"
expect_ids connect,queries_item_0,eventually
run check -v -i "/^queries_item_[02]$/"
expect_ids connect,queries_item_0,queries_item_2
run check -v -t metrics
expect_ids connect,query,queries_item_0,queries_item_1,queries_item_2
run check -v -t "disk,query"
expect_ids connect,query,disk
run check -v -t "/^net/"
expect_ids connect
run check -v -t metrics -n /p99/ # AND
expect_ids connect,queries_item_2
run check -v -t disk -n /p99/
expect_rc 1
expect_err "no check matched the filters"
run check -v checktest -i disk
expect_rc 0
expect_ids connect,disk

step "halt on"
config <<'EOF'
checktest:
  fail: [connect, query, disk]
EOF
run check -v
expect_rc 1
expect_ids connect # critical failure: stop (default critical)
config <<'EOF'
checktest:
  fail: [query, disk]
EOF
run check -v --halt-on critical
expect_ids "$all"
run check -v --halt-on common
expect_ids connect,query
config <<'EOF'
checktest:
  fail: [disk]
EOF
run check -v --halt-on common
expect_rc 0
expect_ids "$all"
run check -v --halt-on warning
expect_rc 0 # the warning failed (and halted the run), but warnings do not fail it
expect_ids connect,query,disk

step "remedy"
config <<'EOF'
checktest:
  marker: true
EOF
rm -f checktest.marker
run check
expect_rc 1
expect_out "Marker exists: [no checktest.marker here]"
[[ ! -e checktest.marker ]] || fail "the remedy ran without --remedy"
run check --remedy
expect_rc 0
expect_err "💡 Attempting to apply remedy..."
[[ -e checktest.marker ]] || fail "the remedy did not run"

step "wait and delay"
config <<EOF
checktest:
  counter: $scratch/counter
  pass_after: 3
EOF
rm -f counter
run check --wait 20s --delay 0.2s
expect_rc 0
[[ $(<counter) == 3 ]] || fail "expected 3 runs, got $(<counter)"
expect_err "waiting for 200ms before rerunning failing checks"
expect_err "❌ Check 'Eventually ready' failed (6 passed): not ready yet (run 1 of 3)"
rm -f counter
run check -w 0.5s -d 0.2s -n "Eventually ready" --halt-on critical
[[ $(<counter) == 3 ]] || fail "expected 3 runs, got $(<counter)"
expect_rc 0
rm -f counter
start=$(date +%s%N)
config <<EOF
checktest:
  counter: $scratch/counter
  pass_after: 1000
EOF
run check --wait 0.6s --delay 0.2s
expect_rc 1
expect_err "timed out waiting for checks to pass 600ms"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
((elapsed_ms < 5000)) || fail "--wait 0.6s took ${elapsed_ms} ms"
rm -f counter
run check # no --wait: one round (checks.wait is for `servo run --check`)
expect_rc 1
[[ $(<counter) == 1 ]] || fail "expected one run, got $(<counter)"

step "the checks: settings as defaults, flags win"
config <<'EOF'
checktest:
  fail: [query]
checks:
  halt_on: common
  verbose: true
  progressive: false
  tag: [metrics, network]
EOF
run check
expect_rc 1
expect_out "CONNECTOR  CHECK"
expect_ids connect,query
expect_no_err "Check 'Connect to service' passed"
run check --halt-on critical -t "/./" -p
expect_ids connect,query,disk,queries_item_0,queries_item_1
expect_err "Check 'Connect to service' passed"
config <<'EOF'
checktest: {}
checks:
  name: "Disk space,/^Run query/"
  quiet: true
EOF
run check
expect_rc 0
[[ -z $out ]] || fail "checks.quiet printed"
run check -v -q
[[ -z $out ]] || fail "-q printed"
config <<'EOF'
checktest: {}
checks:
  connectors: [nope]
EOF
run check
expect_rc 2
expect_err 'no connector named "nope"'
run check checktest # arguments replace checks.connectors
expect_rc 0

step "the servo is picked with the global -n"
config <<'EOF'
name: healthy
checktest: {}
---
name: broken
checktest:
  fail: [query]
EOF
run -n healthy check
expect_rc 0
run -n broken check
expect_rc 1
run -n broken check -n "Disk space"
expect_rc 0
run check
expect_rc 2
expect_err "pick one with --name"

step "usage errors"
config <<'EOF'
checktest: {}
EOF
for args in "--halt-on sometimes" "--wait soon" "--wait -1s" "--delay never" "-f xml" \
    "-n /(/" "-t /[/" "--bogus" "nope"; do
    # shellcheck disable=SC2086
    run check $args
    expect_rc 2
done
expect_err 'no connector named "nope" (available: checktest)'
config <<'EOF'
{}
EOF
run check
expect_rc 1
expect_err "no connector of this servo has checks"

printf 'ok: %d checks\n' "$checks"
