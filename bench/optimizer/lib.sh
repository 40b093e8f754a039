# SPDX-License-Identifier: Apache-2.0
# What the optimizer benchmarks (run.sh, safety.sh, heldout.sh, pareto.sh) share, sourced first:
# they run from the repository's root, build in $SERVO_BENCH_DIR (build-bench), write to $OUT
# (default $SERVO_BENCH_DIR/optimizer), and run Debian's python3, which has python3-optuna.
# shellcheck shell=bash disable=SC2034 # the variables are the sourcing script's
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit
dir=${SERVO_BENCH_DIR:-build-bench}
out=${OUT:-$dir/optimizer}
python=/usr/bin/python3

# bench_build TARGET [PACKAGE...]: installs the packages beyond scripts/packages.txt, builds the
# benchmark program TARGET (sets $bin to it) and creates $out.
bench_build()
{
    local target=$1
    shift
    scripts/install-deps.sh "$@"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVO_SANITIZE=OFF \
        -DSERVO_FUZZ=OFF -DSERVO_TESTS=OFF -DSERVO_BENCH=ON >/dev/null
    cmake --build "$dir" -j "${SERVO_JOBS:-2}" --target "$target"
    bin=$dir/bench/$target
    mkdir -p "$out"
}
