#!/usr/bin/env bash
# The test command: installs the Debian packages, starts the services the tests talk to, runs
# every check CI runs, stops the services, and prints a summary. CI (.ci/run) runs exactly this.
#
#   scripts/test.sh            all steps
#   scripts/test.sh STEP...    only these steps (deps always runs first)
#
# Steps:
#   format  clang-format --dry-run --Werror over the C sources (.clang-format)
#   build   RelWithDebInfo build in build/, then ctest
#   asan    AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/, then ctest
#   fuzz    libFuzzer targets (clang) in build-fuzz/, each run for a short time on its seed
#           corpus; then every corpus (seeds, tests/fuzz/crashes-found, what fuzzing found) is
#           replayed through the normal gcc build (build/, the fuzz_*_replay programs)
#   image   the container image (scripts/image.sh), checked inside (tests/packaging/test_image.sh)
#   package the Debian packages (scripts/package.sh), installed and checked in a fresh root
#
# Services: the steps that run ctest (build, asan) need nginx, Prometheus with a Pushgateway
# and a Kubernetes API server (tests/services/lib.sh). They are started once, in the
# background right after deps, on free loopback ports, and stopped when this script exits
# (also on failure or Ctrl-C). `scripts/test.sh format` starts none. The first run on a
# machine builds the Kubernetes API server from Debian's source into /var/cache/servo-k8s
# (4-8 min, overlapping the servo's build); later runs reuse it.
#
# Skipped tests: a test that cannot run (a service that did not start, a tool that is missing)
# exits 77, which ctest reports as "Skipped". Skipping is a failure here: the script exits
# non-zero when any test was skipped, unless SERVO_ALLOW_SKIP=1.
#
# Every step runs even when an earlier one failed; the script exits non-zero if any failed.
# The summary gives each step's result and its tests passed / failed / skipped.
# Environment:
#   SERVO_JOBS=2               parallel build and test jobs
#   SERVO_FUZZ_SECONDS=20      fuzzing time per target
#   SERVO_BUILD_DIR, SERVO_ASAN_BUILD_DIR, SERVO_FUZZ_BUILD_DIR   build directories
#   SERVO_SKIP_DEPS=1          do not run scripts/install-deps.sh
#   SERVO_ALLOW_SKIP=1         skipped tests do not fail the run (they are still counted)
#   SERVO_K8S_CACHE            where the Kubernetes binaries are built (/var/cache/servo-k8s)
# shellcheck disable=SC2317 # the step_* functions are called indirectly, as "step_$step"
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=${SERVO_JOBS:-2}
fuzz_seconds=${SERVO_FUZZ_SECONDS:-20}
build_dir=${SERVO_BUILD_DIR:-build}
asan_dir=${SERVO_ASAN_BUILD_DIR:-build-asan}
fuzz_dir=${SERVO_FUZZ_BUILD_DIR:-build-fuzz}
allow_skip=${SERVO_ALLOW_SKIP:-0}
all_steps=(format build asan fuzz image package)
# the steps whose tests talk to the services of tests/services/lib.sh
service_steps=(build asan)

# shellcheck source=../tests/services/lib.sh
source "$root/tests/services/lib.sh"

say()
{
    printf '\n==> %s\n' "$*"
}

# Each step writes "PASSED FAILED SKIPPED" (its test counts) here; the summary reads them.
results=$(mktemp -d "${TMPDIR:-/tmp}/servo-test-results-XXXXXX")

record()
{
    echo "$2 $3 $4" >"$results/$1"
}

# ctest_counts JUNIT: "PASSED FAILED SKIPPED" from ctest's JUnit report.
ctest_counts()
{
    python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
        skipped += 1
    elif case.find("failure") is not None or case.find("error") is not None \
            or case.get("status") == "fail":
        failed += 1
    else:
        passed += 1
print(passed, failed, skipped)
PY
}

# run_ctest STEP DIR [CTEST_ARGS...]: runs the tests of DIR, records the counts for STEP,
# lists the skipped tests with the reason they gave.
run_ctest()
{
    local step=$1 dir=$2 junit rc=0 counts
    shift 2
    junit=$(cd "$dir" && pwd)/ctest-junit.xml
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" \
        --output-junit "$junit" "$@" || rc=$?
    if [[ -f $junit ]]; then
        counts=$(ctest_counts "$junit")
        # shellcheck disable=SC2086
        record "$step" $counts
        python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if case.find("skipped") is not None:
        out = (case.findtext("system-out") or "").strip().splitlines()
        why = next((l for l in reversed(out) if "SKIP" in l), out[-1] if out else "")
        print("skipped: %s: %s" % (case.get("name"), why.strip()))
PY
    fi
    return "$rc"
}

# Configures, builds and runs ctest in one build directory, once the services are up.
build_and_test()
{
    local step=$1 dir=$2
    shift 2
    cmake -S . -B "$dir" "$@"
    cmake --build "$dir" -j "$jobs"
    services_wait || true # a service that failed is reported; its tests are then skipped
    run_ctest "$step" "$dir"
}

step_format()
{
    local files=()
    mapfile -t files < <(find src include connectors tests examples bench \
        -name '*.[ch]' -type f 2>/dev/null | sort)
    echo "checking ${#files[@]} files"
    local out
    if out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
        echo "all formatted"
        return 0
    fi
    # One line per file (with its number of differences), not every difference in full.
    echo "not formatted as .clang-format says (count, file):"
    grep -E '^[^ ]+:[0-9]+:[0-9]+: error:' <<<"$out" | cut -d: -f1 | uniq -c
    echo "see the differences with: clang-format --dry-run FILE; fix with: clang-format -i FILE"
    return 1
}

step_build()
{
    build_and_test build "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVO_SANITIZE=OFF \
        -DSERVO_FUZZ=OFF
}

step_asan()
{
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # Debug keeps assert() on; -O1 (what the sanitizer documentation advises) keeps the
    # instrumented tests several times faster than -O0.
    build_and_test asan "$asan_dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
        -DSERVO_SANITIZE=ON -DSERVO_FUZZ=OFF
}

# Runs one libFuzzer target in the background; its log is $fuzz_dir/logs/NAME.log.
start_fuzzer()
{
    local name=$1
    local binary=$fuzz_dir/tests/fuzz/$name
    local work=$fuzz_dir/corpus/$name seeds=tests/fuzz/corpus/$name dict=tests/fuzz/$name.dict
    local args=(-max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$fuzz_dir/artifacts/$name-")
    mkdir -p "$work" "$fuzz_dir/artifacts" "$fuzz_dir/logs"
    [[ -f $dict ]] && args+=(-dict="$dict")
    # New inputs go to the first directory (the build's), never into the seed corpus.
    local dirs=("$work")
    [[ -d $seeds ]] && dirs+=("$seeds")
    "$binary" "${args[@]}" "${dirs[@]}" >"$fuzz_dir/logs/$name.log" 2>&1
}

# Replays the seeds, tests/fuzz/crashes-found/NAME and what fuzzing found through the normal
# (gcc, not instrumented) build: a fix that only holds under the sanitizers shows here.
replay_corpora()
{
    local names=("$@") name dirs failed=0
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVO_SANITIZE=OFF \
        -DSERVO_FUZZ=OFF >/dev/null
    cmake --build "$build_dir" -j "$jobs" --target "${names[@]/%/_replay}"
    for name in "${names[@]}"; do
        dirs=()
        for d in "tests/fuzz/corpus/$name" "tests/fuzz/crashes-found/$name" \
            "$fuzz_dir/corpus/$name"; do
            [[ -d $d ]] && dirs+=("$d")
        done
        if "$build_dir/tests/fuzz/${name}_replay" "${dirs[@]}" >"$fuzz_dir/logs/$name.replay.log" 2>&1
        then
            echo "$name: replay ok ($(tail -n 1 "$fuzz_dir/logs/$name.replay.log"))"
        else
            failed=$((failed + 1))
            echo "$name: replay FAILED; the end of $fuzz_dir/logs/$name.replay.log:"
            tail -n 30 "$fuzz_dir/logs/$name.replay.log"
        fi
    done
    return "$failed"
}

step_fuzz()
{
    cmake -S . -B "$fuzz_dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSERVO_FUZZ=ON -DSERVO_TESTS=OFF -DSERVO_BENCH=OFF
    cmake --build "$fuzz_dir" -j "$jobs" --target fuzz
    local names=() pids=() failed=0
    for source in tests/fuzz/fuzz_*.c; do
        names+=("$(basename "$source" .c)")
    done
    echo "fuzzing ${names[*]} for ${fuzz_seconds} s each"
    # One process per target, $jobs at a time.
    local i=0
    while ((i < ${#names[@]})); do
        local batch=()
        pids=()
        while ((i < ${#names[@]} && ${#batch[@]} < jobs)); do
            start_fuzzer "${names[i]}" &
            pids+=($!)
            batch+=("${names[i]}")
            i=$((i + 1))
        done
        for j in "${!batch[@]}"; do
            local name=${batch[j]} log=$fuzz_dir/logs/${batch[j]}.log
            if wait "${pids[j]}"; then
                echo "$name: ok ($(grep -E '^Done [0-9]+ runs' "$log" || echo 'no summary'))"
            else
                failed=$((failed + 1))
                echo "$name: FAILED; the end of $log:"
                tail -n 60 "$log"
                grep -h 'Test unit written to' "$log" || true
            fi
        done
    done
    local replay_failed=0
    replay_corpora "${names[@]}" || replay_failed=$?
    # one "test" per target fuzzed and per target replayed
    record fuzz $((2 * ${#names[@]} - failed - replay_failed)) $((failed + replay_failed)) 0
    ((failed + replay_failed == 0))
}

# The container image: scripts/image.sh, then the servo run inside the image's file system.
step_image()
{
    local failed=0
    tests/packaging/test_image.sh || failed=$((failed + 1))
    tests/packaging/test_failures.sh image || failed=$((failed + 1))
    record image $((2 - failed)) "$failed" 0
    ((failed == 0))
}

# The Debian packages: scripts/package.sh, then both installed into a fresh Debian 12 root.
step_package()
{
    local failed=0
    tests/packaging/test_package.sh || failed=$((failed + 1))
    tests/packaging/test_failures.sh package || failed=$((failed + 1))
    record package $((2 - failed)) "$failed" 0
    ((failed == 0))
}

steps=("$@")
((${#steps[@]})) || steps=("${all_steps[@]}")
for step in "${steps[@]}"; do
    if ! declare -F "step_$step" >/dev/null; then
        echo "test.sh: unknown step \"$step\" (steps: ${all_steps[*]})" >&2
        exit 2
    fi
done

if [[ ${SERVO_SKIP_DEPS:-} != 1 ]]; then
    say "deps"
    "$root/scripts/install-deps.sh"
fi

cleanup()
{
    services_stop
    rm -rf "$results"
}
trap cleanup EXIT
# the EXIT trap also runs on Ctrl-C and TERM (the services must not outlive the script)
trap 'exit 130' INT
trap 'exit 143' TERM

for step in "${steps[@]}"; do
    if [[ " ${service_steps[*]} " == *" $step "* ]]; then
        say "services (${SERVICES[*]}), started in the background"
        services_start "${SERVICES[@]}"
        break
    fi
done

summary=()
status=0
for step in "${steps[@]}"; do
    say "$step"
    started=$SECONDS
    set +e
    (
        set -e
        "step_$step"
    )
    rc=$?
    set -e
    counts=""
    result=ok
    if [[ -f $results/$step ]]; then
        read -r passed failed skipped <"$results/$step"
        counts="$passed passed, $failed failed, $skipped skipped"
        if ((skipped > 0 && allow_skip != 1)); then
            result=SKIPPED
            status=1
        fi
    fi
    if ((rc != 0)); then
        result=FAILED
        status=1
    fi
    summary+=("$(printf '%-7s %-8s %5d s   %s' "$step" "$result" $((SECONDS - started)) "$counts")")
done

say "summary"
printf '%s\n' "${summary[@]}"
if grep -q ' SKIPPED ' <<<"${summary[*]}"; then
    echo "some tests were skipped (see \"skipped:\" above); a skipped test fails the run" \
        "unless SERVO_ALLOW_SKIP=1"
fi
exit "$status"
