#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The held-out check: the engine and the references of run.sh on the problems of
# bench_engine.c that the engine was never tuned against (`bench_engine run -H`), scored by
# score.py (0 = optimum, 1 = random search's median); then safety.sh on the held-out
# constrained problems. Writes $out/heldout.md and $out/safety-heldout.md; docs/optimizer.md
# records them.
#
#   bench/optimizer/heldout.sh                20 seeds (GP-EI 10, random search 50)
#   SEEDS=5 GP_SEEDS=3 bench/optimizer/heldout.sh    (quicker)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seeds=${SEEDS:-20}
gp_seeds=${GP_SEEDS:-10}

bench_build bench_engine python3-sklearn python3-cmaes
"$bin" spec >"$out/spec.json"
problems=$($python -c 'import json, sys; print(",".join(p["name"] for p in json.load(open(sys.argv[1])) if p["held_out"]))' "$out/spec.json")
# two jobs at a time, one per core
"$bin" run -H -s "$seeds" -b 30,60 >"$out/heldout-engine.jsonl" 2>"$out/heldout-engine-time.txt" &
$python bench/optimizer/gp_ei_bench.py --binary "$bin" --seeds "$gp_seeds" --budgets 30,60 \
    --problems "$problems" >"$out/heldout-gp-ei.jsonl"
wait
$python bench/optimizer/optuna_bench.py --binary "$bin" --methods random,tpe,tpe-mv,cmaes \
    --seeds "$seeds" --random-seeds 50 --budgets 30,60 --problems "$problems" \
    >"$out/heldout-references.jsonl"
$python bench/optimizer/score.py --spec "$out/spec.json" \
    --methods engine,gp-ei,tpe,tpe-mv,cmaes,random --markdown "$out/heldout.md" \
    "$out/heldout-engine.jsonl" "$out/heldout-gp-ei.jsonl" "$out/heldout-references.jsonl"
echo
HELD_OUT=1 SEEDS=$seeds bench/optimizer/safety.sh
