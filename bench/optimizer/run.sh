#!/usr/bin/env bash
# The optimizer benchmark: the engine, Optuna's TPESampler and random search on the problems of
# bench_engine.c, scored Bayesmark-style by score.py; then the suggestion times. Writes its
# results to $out (default build-bench/optimizer/) and the table to $out/table.md;
# docs/optimizer.md records them.
#
#   bench/optimizer/run.sh                 20 seeds (random search: 50), budgets 30 and 60
#   SEEDS=10 RANDOM_SEEDS=30 bench/optimizer/run.sh     (quicker)
#   METHODS=tpe,random bench/optimizer/run.sh   (without Optuna's multivariate TPE)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
dir=${SERVO_BENCH_DIR:-build-bench}
out=${OUT:-$dir/optimizer}
seeds=${SEEDS:-20}
random_seeds=${RANDOM_SEEDS:-50}
methods=${METHODS:-tpe,tpe-mv,random}
budgets=${BUDGETS:-30,60}
python=/usr/bin/python3 # Debian's, which has python3-optuna

scripts/install-deps.sh
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVO_SANITIZE=OFF -DSERVO_FUZZ=OFF \
    -DSERVO_TESTS=OFF -DSERVO_BENCH=ON >/dev/null
cmake --build "$dir" -j "${SERVO_JOBS:-2}" --target bench_engine
bin=$dir/bench/bench_engine
mkdir -p "$out"

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), $(gcc --version | head -n 1)," \
    "optuna $($python -c 'import optuna; print(optuna.__version__)')"
"$bin" spec >"$out/spec.json"
rm -f "$out"/optuna-*.jsonl
# The engine and each Optuna method are separate jobs, two at a time (one per core).
jobs_running() { jobs -rp | wc -l; }
"$bin" run -s "$seeds" -b "$budgets" >"$out/engine.jsonl" 2>"$out/engine-time.txt" &
for method in ${methods//,/ }; do
    while [ "$(jobs_running)" -ge 2 ]; do
        wait -n
    done
    $python bench/optimizer/optuna_bench.py --binary "$bin" --methods "$method" \
        --seeds "$seeds" --random-seeds "$random_seeds" --budgets "$budgets" \
        >"$out/optuna-$method.jsonl" &
done
wait
$python bench/optimizer/score.py --spec "$out/spec.json" --methods "engine,${methods}" \
    --markdown "$out/table.md" "$out/engine.jsonl" "$out"/optuna-*.jsonl
echo
echo "engine CPU time per suggestion during the benchmark runs:"
cat "$out/engine-time.txt"
echo
echo "suggestion time (target: < 100 ms at 200 trials x 20 settings):"
for shape in "-n 30 -d 4 -c 1" "-n 60 -d 6 -c 0" "-n 100 -d 10 -c 1" "-n 200 -d 20 -c 0" \
    "-n 200 -d 20 -c 1" "-n 300 -d 25 -c 2" "-n 200 -d 30 -c 1"; do
    # shellcheck disable=SC2086
    "$bin" time $shape -r 10
done
