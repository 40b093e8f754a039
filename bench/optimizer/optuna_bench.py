#!/usr/bin/env python3
"""Optuna's TPESampler, CmaEsSampler and random search on the engine benchmark's problems.

The problems are defined once, in bench_engine.c: this script reads their spaces from
`bench_engine spec` and evaluates every point through `bench_engine eval PROBLEM`, so both sides
score the same formulas and the same observation noise (keyed by seed and trial number).

Each run starts with the baseline (enqueue_trial), as the engine does. A failed trial (the
cost-latency problem's out-of-memory pods) is told as FAIL, a constraint as Optuna's
constraints_func (g <= 0 feasible). Prints one JSON line per run and budget, as bench_engine.
"""
import argparse
import json
import subprocess
import sys
import warnings

import optuna
from optuna.trial import TrialState


class Evaluator:
    """A `bench_engine eval` process for one problem."""

    def __init__(self, binary, problem):
        self.proc = subprocess.Popen([binary, "eval", problem], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def __call__(self, key, x):
        self.proc.stdin.write("%d %s\n" % (key, " ".join(repr(float(v)) for v in x)))
        self.proc.stdin.flush()
        fields = self.proc.stdout.readline().split()
        status, observed, truth = fields[0], float(fields[1]), float(fields[2])
        return status == "ok", observed, truth, [float(v) for v in fields[3:]]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def suggest(trial, param):
    name = param["name"]
    if param["type"] == "enum":
        return param["values"].index(trial.suggest_categorical(name, param["values"]))
    if param["type"] == "int":
        step = int(param["step"]) if param["step"] > 0 else 1
        return trial.suggest_int(name, int(param["min"]), int(param["max"]), step=step)
    step = param["step"] if param["step"] > 0 else None
    return trial.suggest_float(name, param["min"], param["max"], step=step)


def baseline(problem):
    params = {}
    for p in problem["params"]:
        if p["type"] == "enum":
            params[p["name"]] = p["values"][int(p["baseline"])]
        elif p["type"] == "int":
            params[p["name"]] = int(p["baseline"])
        else:
            params[p["name"]] = p["baseline"]
    return params


def make_sampler(method, seed, constrained):
    constraints = (lambda t: t.user_attrs["g"]) if constrained else None
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
    if method == "cmaes":  # enums go to its independent (random) sampler
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if method == "tpe-mv":
        return optuna.samplers.TPESampler(seed=seed, constraints_func=constraints,
                                          multivariate=True)
    return optuna.samplers.RandomSampler(seed=seed)


def run(problem, method, seed, budgets, evaluate):
    constrained = problem["constraints"] > 0
    study = optuna.create_study(direction="minimize",
                                sampler=make_sampler(method, seed, constrained))
    study.enqueue_trial(baseline(problem))
    best_observed, best_true = float("inf"), problem["worst"]
    results = {}
    for t in range(max(budgets)):
        trial = study.ask()
        x = [suggest(trial, p) for p in problem["params"]]
        ok, observed, truth, g = evaluate(seed * 1000003 + t, x)
        trial.set_user_attr("g", g if ok else [1e9] * problem["constraints"])
        if ok and method == "cmaes" and any(v > 0 for v in g):
            # CMA-ES takes no constraints: an infeasible trial ranks behind every feasible
            # one (the worst value), and by its violation among the infeasible ones.
            study.tell(trial, problem["worst"] + sum(max(v, 0.0) for v in g))
        elif ok:
            study.tell(trial, observed)
        else:
            study.tell(trial, state=TrialState.FAIL)
        if ok and all(v <= 0 for v in g) and observed < best_observed:
            best_observed, best_true = observed, truth
        if t + 1 in budgets:
            results[t + 1] = best_true
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="path to bench_engine")
    parser.add_argument("--methods", default="tpe,random")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--random-seeds", type=int, default=None,
                        help="seeds for random search (default: --seeds)")
    parser.add_argument("--budgets", default="30,60")
    parser.add_argument("--problems", default=None, help="comma-separated subset")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    budgets = [int(b) for b in args.budgets.split(",")]
    spec = json.loads(subprocess.check_output([args.binary, "spec"]))
    wanted = args.problems.split(",") if args.problems else None
    for problem in spec:
        # the held-out problems (bench_engine run -H) run only when named
        if (problem["name"] not in wanted) if wanted else problem["held_out"]:
            continue
        evaluate = Evaluator(args.binary, problem["name"])
        for method in args.methods.split(","):
            seeds = args.seeds
            if method == "random" and args.random_seeds:
                seeds = args.random_seeds
            for seed in range(args.first, args.first + seeds):
                for budget, best in sorted(run(problem, method, seed, budgets,
                                               evaluate).items()):
                    print(json.dumps({"method": method, "problem": problem["name"],
                                      "seed": seed, "budget": budget, "best": best}))
                    sys.stdout.flush()
        evaluate.close()


if __name__ == "__main__":
    main()
