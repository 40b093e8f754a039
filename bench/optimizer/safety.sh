#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The safety benchmark: on the constrained problems of bench_engine.c, the engine without and
# with `safety: {min_feasibility: P}` (P from MIN_FEASIBILITY, default 0.9): SLO violations per
# study (measured trials that broke a constraint) and the normalized score of score.py
# (0 = optimum, 1 = random search's median), at 30 and 60 trials. Writes $out/safety.md;
# docs/optimizer.md records it.
#
#   bench/optimizer/safety.sh              20 seeds (random search: 50)
#   HELD_OUT=1 bench/optimizer/safety.sh   the held-out constrained problems instead
#                                          (bench_engine run -H; heldout.sh runs this)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seeds=${SEEDS:-20}
p=${MIN_FEASIBILITY:-0.9}
held_out=${HELD_OUT:-0}
name=safety
select=() # bench_engine run's selection of the problems
if [ "$held_out" = 1 ]; then
    name=safety-heldout
    select=(-H)
fi

bench_build bench_engine
"$bin" spec >"$out/spec.json"
problems=$($python -c 'import json, sys; print(",".join(p["name"] for p in json.load(open(sys.argv[1])) if p["constraints"] and p["held_out"] == (sys.argv[2] == "1")))' "$out/spec.json" "$held_out")
"$bin" run -c "${select[@]}" -s "$seeds" -b 30,60 >"$out/$name-off.jsonl" &
"$bin" run -c "${select[@]}" -s "$seeds" -b 30,60 -m "$p" >"$out/$name-on.jsonl"
wait
$python bench/optimizer/optuna_bench.py --binary "$bin" --methods random --seeds 50 \
    --budgets 30,60 --problems "$problems" >"$out/$name-random.jsonl"
$python - "$out/spec.json" "$out/$name-off.jsonl" "$out/$name-on.jsonl" "$out/$name-random.jsonl" <<'PY' | tee "$out/$name.md"
import json, statistics, sys
from collections import defaultdict
spec = {p["name"]: p for p in json.load(open(sys.argv[1]))}
runs = defaultdict(list)
for path in sys.argv[2:]:
    for line in open(path):
        r = json.loads(line)
        runs[(r["method"], r["problem"], r["budget"])].append(r)
print("| problem | trials | violations without | with safety | share | score without | with safety | worse by | goal |")
print("|---|---|---|---|---|---|---|---|---|")
for (method, problem, budget) in sorted(k for k in runs if k[0] == "engine"):
    optimum = spec[problem]["optimum"]
    scale = statistics.median(r["best"] for r in runs[("random", problem, budget)]) - optimum
    cells = []
    for m in ("engine", "engine-safe"):
        rs = runs[(m, problem, budget)]
        cells.append((statistics.mean(r["violations"] for r in rs),
                      statistics.mean((r["best"] - optimum) / scale for r in rs)))
    share = cells[1][0] / cells[0][0] if cells[0][0] > 0 else 0.0
    worse = cells[1][1] - cells[0][1]
    # The goal of issue #13: at most half the violations, a score at most 0.05 worse.
    goal = "met" if share <= 0.5 and worse <= 0.05 else "not met"
    print(f"| {problem} | {budget} | {cells[0][0]:.1f} | {cells[1][0]:.1f} | {100 * share:.0f} % | "
          f"{cells[0][1]:.3f} | {cells[1][1]:.3f} | {worse:+.3f} | {goal} |")
PY
