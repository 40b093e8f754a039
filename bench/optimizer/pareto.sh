#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The multi-objective benchmark: the engine (ParEGO scalarizations, as a study with
# `objectives:` runs it) against Optuna's NSGA-II and multi-objective TPE on the problems of
# bench_pareto.c, by hypervolume after 40 and 80 trials (1 = the whole reference box). Writes
# $out/pareto.md; docs/optimizer.md records it.
#
#   bench/optimizer/pareto.sh              10 seeds
#   SEEDS=20 bench/optimizer/pareto.sh
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seeds=${SEEDS:-10}
bench_build bench_pareto
"$bin" run -s "$seeds" -b 40,80 >"$out/pareto-engine.jsonl" &
$python bench/optimizer/pareto_bench.py --binary "$bin" --seeds "$seeds" --budget 80 |
    "$bin" hv -b 40,80 >"$out/pareto-optuna.jsonl"
wait
$python bench/optimizer/table.py --value hv --higher-is-better --methods engine,nsga2,motpe \
    "$out/pareto-engine.jsonl" "$out/pareto-optuna.jsonl" | tee "$out/pareto.md"
