#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Mean (and standard error) of a value over seeds per method, problem and budget, as a
Markdown table, from JSON lines {method, problem, seed, budget, VALUE}; the best mean of a row
in bold. Used by pareto.sh (hypervolumes) and safety.sh (violations, scores)."""
import argparse
import json
import statistics
from collections import defaultdict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--value", required=True)
    parser.add_argument("--methods", required=True)
    parser.add_argument("--higher-is-better", action="store_true")
    parser.add_argument("results", nargs="+")
    args = parser.parse_args()
    runs = defaultdict(list)
    order = []
    for path in args.results:
        with open(path) as f:
            for line in f:
                if line.startswith("{"):
                    r = json.loads(line)
                    key = (r["problem"], r["budget"])
                    if key not in order:
                        order.append(key)
                    runs[(r["method"],) + key].append(r[args.value])
    methods = args.methods.split(",")
    print("| problem | trials | " + " | ".join(methods) + " | seeds |")
    print("|---|---|" + "---|" * (len(methods) + 1))
    problems = list(dict.fromkeys(p for p, _ in order))
    for problem, budget in sorted(order, key=lambda k: (problems.index(k[0]), k[1])):
        means = {m: statistics.mean(runs[(m, problem, budget)]) for m in methods
                 if runs.get((m, problem, budget))}
        if not means:
            continue
        best = (max if args.higher_is_better else min)(means.values())
        cells = []
        for m in methods:
            values = runs.get((m, problem, budget))
            if not values:
                cells.append("-")
                continue
            se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0
            text = f"{means[m]:.3f} ± {se:.3f}"
            cells.append(f"**{text}**" if means[m] == best else text)
        seeds = "/".join(str(len(runs.get((m, problem, budget), []))) for m in methods)
        print(f"| {problem} | {budget} | " + " | ".join(cells) + f" | {seeds} |")


if __name__ == "__main__":
    main()
