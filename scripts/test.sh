#!/usr/bin/env bash
# The test command: installs the Debian packages, then runs every check CI runs.
#
#   scripts/test.sh            all steps
#   scripts/test.sh STEP...    only these steps (deps always runs first)
#
# Steps:
#   format  clang-format --dry-run --Werror over the C sources (.clang-format)
#   build   RelWithDebInfo build in build/, then ctest
#   asan    AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/, then ctest
#   fuzz    libFuzzer targets (clang) in build-fuzz/, each run for a short time on its seed corpus
#   image   the container image (scripts/image.sh), checked inside (tests/packaging/test_image.sh)
#   package the Debian packages (scripts/package.sh), installed and checked in a fresh root
#
# Every step runs even when an earlier one failed; the script exits non-zero if any failed.
# Environment:
#   SERVO_JOBS=2               parallel build and test jobs
#   SERVO_FUZZ_SECONDS=20      fuzzing time per target
#   SERVO_BUILD_DIR, SERVO_ASAN_BUILD_DIR, SERVO_FUZZ_BUILD_DIR   build directories
#   SERVO_SKIP_DEPS=1          do not run scripts/install-deps.sh
# shellcheck disable=SC2317 # the step_* functions are called indirectly, as "step_$step"
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=${SERVO_JOBS:-2}
fuzz_seconds=${SERVO_FUZZ_SECONDS:-20}
build_dir=${SERVO_BUILD_DIR:-build}
asan_dir=${SERVO_ASAN_BUILD_DIR:-build-asan}
fuzz_dir=${SERVO_FUZZ_BUILD_DIR:-build-fuzz}
all_steps=(format build asan fuzz image package)

say()
{
    printf '\n==> %s\n' "$*"
}

# Configures, builds and runs ctest in one build directory.
build_and_test()
{
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@"
    cmake --build "$dir" -j "$jobs"
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs"
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
    build_and_test "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVO_SANITIZE=OFF \
        -DSERVO_FUZZ=OFF
}

step_asan()
{
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # Debug keeps assert() on; -O1 (what the sanitizer documentation advises) keeps the
    # instrumented tests several times faster than -O0.
    build_and_test "$asan_dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
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
                failed=1
                echo "$name: FAILED; the end of $log:"
                tail -n 60 "$log"
                grep -h 'Test unit written to' "$log" || true
            fi
        done
    done
    return "$failed"
}

# The container image: scripts/image.sh, then the servo run inside the image's file system.
step_image()
{
    tests/packaging/test_image.sh
    tests/packaging/test_failures.sh image
}

# The Debian packages: scripts/package.sh, then both installed into a fresh Debian 12 root.
step_package()
{
    tests/packaging/test_package.sh
    tests/packaging/test_failures.sh package
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
    if ((rc == 0)); then
        summary+=("$(printf '%-7s ok      %4d s' "$step" $((SECONDS - started)))")
    else
        summary+=("$(printf '%-7s FAILED  %4d s' "$step" $((SECONDS - started)))")
        status=1
    fi
done

say "summary"
printf '%s\n' "${summary[@]}"
exit "$status"
