#!/usr/bin/env bash
# The optimizer benchmark: the engine and the references (Optuna's TPE, multivariate TPE and
# CMA-ES, random search, and a textbook GP-EI on scikit-learn) on the problems of
# bench_engine.c, scored Bayesmark-style by score.py; then the suggestion times. Writes its
# results to $out (default build-bench/optimizer/) and the table to $out/table.md;
# docs/optimizer.md records them.
#
#   bench/optimizer/run.sh                 20 seeds (random search: 50), budgets 30 and 60
#   SEEDS=5 RANDOM_SEEDS=30 bench/optimizer/run.sh     (quicker)
#   METHODS=tpe,random bench/optimizer/run.sh   (fewer references)
#   GP_SEEDS=10 bench/optimizer/run.sh     fewer seeds for GP-EI alone, the slowest reference
#   REUSE=1 bench/optimizer/run.sh         keep the references' results of an earlier run with
#                                          the same settings (they do not change with the
#                                          engine) and run the engine only
#
# Its own packages, beyond scripts/packages.txt: python3-sklearn (GP-EI) and python3-cmaes
# (Optuna's CmaEsSampler).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seeds=${SEEDS:-20}
random_seeds=${RANDOM_SEEDS:-50}
gp_seeds=${GP_SEEDS:-$seeds}
methods=${METHODS:-random,gp-ei,tpe,tpe-mv,cmaes}
budgets=${BUDGETS:-30,60}

bench_build bench_engine python3-sklearn python3-cmaes

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), $(gcc --version | head -n 1)," \
    "optuna $($python -c 'import optuna; print(optuna.__version__)')"
"$bin" spec >"$out/spec.json"
# The engine and each reference are separate jobs, two at a time (one per core); GP-EI, the
# slowest, in two halves of the seeds.
jobs_running() { jobs -rp | wc -l; }
start() {
    while [ "$(jobs_running)" -ge 2 ]; do
        wait -n
    done
    "$@" &
}
reference() { # METHOD FIRST COUNT OUTPUT
    if [ "$1" = gp-ei ]; then
        $python bench/optimizer/gp_ei_bench.py --binary "$bin" --first "$2" --seeds "$3" \
            --budgets "$budgets" >"$4"
    else
        $python bench/optimizer/optuna_bench.py --binary "$bin" --methods "$1" \
            --seeds "$3" --random-seeds "$random_seeds" --budgets "$budgets" >"$4"
    fi
}
settings="seeds=$seeds random_seeds=$random_seeds gp_seeds=$gp_seeds budgets=$budgets $(sha256sum <"$out/spec.json")"
if [ "${REUSE:-0}" != 1 ] || [ "$(cat "$out/reference-settings.txt" 2>/dev/null)" != "$settings" ]; then
    rm -f "$out"/ref-*.jsonl "$out/reference-settings.txt"
fi
start "$bin" run -s "$seeds" -b "$budgets" >"$out/engine.jsonl" 2>"$out/engine-time.txt"
for method in ${methods//,/ }; do
    if [ "$method" = gp-ei ]; then
        half=$(((gp_seeds + 1) / 2))
        [ -s "$out/ref-gp-ei-a.jsonl" ] || start reference gp-ei 0 "$half" "$out/ref-gp-ei-a.jsonl"
        [ -s "$out/ref-gp-ei-b.jsonl" ] ||
            start reference gp-ei "$half" "$((gp_seeds - half))" "$out/ref-gp-ei-b.jsonl"
    elif [ ! -s "$out/ref-$method.jsonl" ]; then
        start reference "$method" 0 "$seeds" "$out/ref-$method.jsonl"
    fi
done
wait
echo "$settings" >"$out/reference-settings.txt"
$python bench/optimizer/score.py --spec "$out/spec.json" --methods "engine,${methods}" \
    --markdown "$out/table.md" "$out/engine.jsonl" "$out"/ref-*.jsonl
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
