# Helpers shared by the integration tests (tests/integration/test_*.sh). A test sources it right
# after `set -euo pipefail`:
#
#     . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sourcing checks SERVO_BIN (set by ctest) and makes it absolute. Then:
#   need_tools TOOL...     exits 77 (ctest: skipped) unless every TOOL is on PATH
#   scratch_dir NAME       a scratch directory in $scratch, removed at exit (after the test's
#                          own cleanup function, if it defines one), and made the working one
#   clean_env [NAME...]    unsets SERVO_*, OPSANI_* and NO_COLOR but SERVO_BIN, SERVO_SOURCE_DIR,
#                          SERVO_BUILD_DIR, SERVO_PYTHON and the NAMEs: nothing from the caller's
#                          environment may change the configuration
#   step TEXT              prints a heading
#   fail MESSAGE           prints the failure, the last `run` (command, exit code, stdout,
#                          stderr) if any, the tail of each file in $fail_logs (globs allowed),
#                          then exits 1; the message is prefixed with [$scenario] when set
#   run ARGS...            runs servo: $out, $err, $rc and the wall time in $elapsed (seconds)
#   check COMMAND...       counts a check; fails unless COMMAND succeeds (with the predicates
#                          contains FILE TEXT, lacks FILE TEXT, equals ACTUAL EXPECTED)
#   expect_* ...           checks about the last run (see each below)
#   free_port              a free TCP port on loopback (needs python3)
#   passed                 prints "<test>: N checks passed"
# shellcheck shell=bash
PATH=$PATH:/usr/sbin # nginx is in /usr/sbin, which is not on a user's PATH on Debian

: "${SERVO_BIN:?set SERVO_BIN to the servo binary}"
SERVO_BIN=$(cd "$(dirname "$SERVO_BIN")" && pwd -P)/$(basename "$SERVO_BIN")

test_name=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
checks=0
scenario=
fail_logs=()
fail_tail=40
last_command=
scratch=

need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || {
            echo "SKIP: $test_name: needs $tool (scripts/install-deps.sh installs it)"
            exit 77
        }
    done
}

# Runs the test's `cleanup` function (if any), then removes the scratch directory.
_lib_on_exit() {
    if declare -F cleanup >/dev/null; then
        cleanup || true
    fi
    if [[ -n $scratch ]]; then rm -rf "$scratch"; fi
}

scratch_dir() {
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX")
    trap _lib_on_exit EXIT
    scratch=$(cd "$scratch" && pwd -P) # paths are reported resolved
    cd "$scratch"
}

clean_env() {
    local variable keep
    for variable in $(compgen -e); do
        case $variable in
        SERVO_BIN | SERVO_SOURCE_DIR | SERVO_BUILD_DIR | SERVO_PYTHON) continue ;;
        SERVO_* | OPSANI_* | NO_COLOR) ;;
        *) continue ;;
        esac
        for keep in "$@"; do
            [[ $variable == "$keep" ]] && continue 2
        done
        unset "$variable"
    done
}

step() {
    printf '== %s\n' "$*"
}

fail() {
    {
        if [[ -n $scenario ]]; then
            printf 'FAIL [%s]: %s\n' "$scenario" "$1"
        else
            printf 'FAIL: %s\n' "$1"
        fi
        if [[ -n $last_command ]]; then
            printf '  command:   %s\n' "$last_command"
            printf '  exit code: %s\n' "${rc:-}"
            printf '  stdout:\n'
            sed 's/^/    | /' <<<"${out:-}"
            printf '  stderr:\n'
            sed 's/^/    | /' <<<"${err:-}"
        fi
        local pattern f
        for pattern in "${fail_logs[@]}"; do
            for f in $pattern; do
                [[ -f $f ]] || continue
                printf '  %s:\n' "$f"
                tail -n "$fail_tail" "$f" | sed 's/^/    | /'
            done
        done
    } >&2
    exit 1
}

# run ARGS...: runs servo with stdout in $out, stderr in $err, the status in $rc and the wall
# time in $elapsed (seconds).
run() {
    last_command="servo $*"
    local started
    started=$(date +%s.%N)
    set +e
    out=$("$SERVO_BIN" "$@" 2>"$scratch/stderr")
    rc=$?
    set -e
    elapsed=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN { printf "%.2f", a - b }')
    err=$(<"$scratch/stderr")
}

check() {
    checks=$((checks + 1))
    "$@" || fail "check failed: $*"
}
contains() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }
equals() { [[ $1 == "$2" ]] || { echo "expected: $2" >&2 && echo "actual:   $1" >&2 && false; }; }
# lines FILE: its number of lines (0 when it does not exist).
lines() { if [[ -f $1 ]]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

expect_rc() {
    checks=$((checks + 1))
    [[ $rc == "$1" ]] || fail "expected exit code $1, got $rc"
}

# expect_out TEXT: stdout contains TEXT (a fixed string); expect_no_out: it does not.
expect_out() {
    checks=$((checks + 1))
    grep -qF -- "$1" <<<"$out" || fail "stdout lacks: $1"
}

expect_no_out() {
    checks=$((checks + 1))
    ! grep -qF -- "$1" <<<"$out" || fail "stdout has: $1"
}

expect_err() {
    checks=$((checks + 1))
    grep -qF -- "$1" <<<"$err" || fail "stderr lacks: $1"
}

expect_no_err() {
    checks=$((checks + 1))
    ! grep -qF -- "$1" <<<"$err" || fail "stderr has: $1"
}

# expect_json FILTER EXPECTED: jq -c FILTER of stdout is EXPECTED (jq writes 4.0 as 4: check
# the number formats with expect_out). Needs jq.
expect_json() {
    checks=$((checks + 1))
    local got
    got=$(jq -c "$1" <<<"$out" 2>&1) || fail "stdout is not JSON ($got)"
    [[ $got == "$2" ]] || fail "jq '$1': expected $2, got $got"
}

# expect_file FILE EXPECTED: the file's content is EXPECTED.
expect_file() {
    checks=$((checks + 1))
    [[ -f $1 ]] || fail "missing $1"
    local got
    got=$(<"$1")
    [[ $got == "$2" ]] || fail "$1: expected $2, got $got"
}

expect_no_file() {
    checks=$((checks + 1))
    [[ ! -e $1 ]] || fail "$1 exists"
}

# expect_between LOW HIGH: the last run took LOW to HIGH seconds.
expect_between() {
    checks=$((checks + 1))
    awk -v t="$elapsed" -v low="$1" -v high="$2" 'BEGIN { exit !(t >= low && t <= high) }' ||
        fail "took ${elapsed}s, expected ${1}s to ${2}s"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

passed() {
    echo "$test_name: $checks checks passed"
}
