#!/usr/bin/env python3
"""Bayesmark-style normalized scores of the optimizer benchmark.

score = (best found - optimum) / (median over seeds of random search's best - optimum):
0 is the optimum, 1 is random search at the same budget. The "best reference" column is the
lowest mean among the methods other than the engine. Reads JSON lines (method, problem,
seed, budget, best) and the problem spec (`bench_engine spec`), prints a Markdown table of the
mean score over seeds per method, problem and budget, and writes it to --markdown.
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict


def load_results(paths):
    runs = defaultdict(list)  # (method, problem, budget) -> [best]
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    r = json.loads(line)
                    runs[(r["method"], r["problem"], r["budget"])].append(r["best"])
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="JSON from `bench_engine spec`")
    parser.add_argument("--markdown", help="write the table here too")
    parser.add_argument("--methods", default="engine,tpe,random", help="columns, in order")
    parser.add_argument("results", nargs="+")
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    runs = load_results(args.results)
    methods = [m for m in args.methods.split(",")
               if any(key[0] == m for key in runs)]
    budgets = sorted({key[2] for key in runs})
    header = "| problem | budget | " + " | ".join(methods) + " | best reference |"
    lines = [header, "|" + "---|" * (len(methods) + 3)]
    totals = defaultdict(list)
    wins = defaultdict(int)
    cells = defaultdict(int)
    ahead = defaultdict(int)  # engine at least as good as the best reference
    compared = defaultdict(int)
    for budget in budgets:
        for problem in spec:
            name, optimum = problem["name"], problem["optimum"]
            randoms = runs.get(("random", name, budget))
            if not randoms:
                continue
            scale = statistics.median(randoms) - optimum
            if scale <= 0:
                scale = 1e-12
            means = {}
            for m in methods:
                bests = runs.get((m, name, budget))
                if bests:
                    means[m] = statistics.mean((b - optimum) / scale for b in bests)
                    totals[(m, budget)].append(means[m])
            if "engine" in means and "tpe" in means:
                cells[budget] += 1
                wins[budget] += means["engine"] < means["tpe"]
            references = {m: v for m, v in means.items() if m != "engine"}
            best_ref = min(references, key=references.get) if references else None
            if best_ref and "engine" in means:
                compared[budget] += 1
                ahead[budget] += means["engine"] <= references[best_ref]
            row = " | ".join("%.3f" % means[m] if m in means else "-" for m in methods)
            best = "%.3f (%s)" % (references[best_ref], best_ref) if best_ref else "-"
            lines.append("| %s | %d | %s | %s |" % (name, budget, row, best))
        row = " | ".join("**%.3f**" % statistics.mean(totals[(m, budget)])
                         if totals[(m, budget)] else "-" for m in methods)
        lines.append("| **mean** | %d | %s | |" % (budget, row))
    seeds = {m: max((len(v) for k, v in runs.items() if k[0] == m), default=0)
             for m in methods}
    lines.append("")
    lines.append("Mean normalized score over seeds (" +
                 ", ".join("%s: %d seeds" % (m, seeds[m]) for m in methods) +
                 "); 0 = optimum, 1 = random search's median.")
    for budget in budgets:
        if compared[budget]:
            lines.append("Budget %d: engine at least as good as the best reference on %d of %d "
                         "problems." % (budget, ahead[budget], compared[budget]))
        if cells[budget]:
            lines.append("Budget %d: engine better than TPE on %d of %d problems." %
                         (budget, wins[budget], cells[budget]))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
