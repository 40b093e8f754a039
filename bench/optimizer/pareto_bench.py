#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Optuna's NSGA-II and multi-objective TPE on the problems of bench_pareto.c.

Each run writes one JSON line {"method", "problem", "seed", "points": [[f1, .., fk], ..]}
(every trial's objectives, in order); `bench_pareto hv` turns them into hypervolumes.
Points are evaluated by `bench_pareto eval PROBLEM`, the single source of the problems.
"""
import argparse
import json
import subprocess
import sys

import optuna


def suggest(trial, params):
    x = []
    for p in params:
        if p["type"] == "enum":
            x.append(p["values"].index(trial.suggest_categorical(p["name"], p["values"])))
        elif p["type"] == "int":
            x.append(trial.suggest_int(p["name"], int(p["min"]), int(p["max"])))
        elif p["step"] > 0:
            x.append(trial.suggest_float(p["name"], p["min"], p["max"], step=p["step"]))
        else:
            x.append(trial.suggest_float(p["name"], p["min"], p["max"]))
    return x


def sampler_for(method, seed):
    if method == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if method == "motpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10)
    raise SystemExit(f"unknown method {method}")


def run(binary, problem, method, seed, budget):
    evaluator = subprocess.Popen([binary, "eval", problem["name"]], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
    study = optuna.create_study(directions=["minimize"] * problem["objectives"],
                                sampler=sampler_for(method, seed))
    points = []
    for _ in range(budget):
        trial = study.ask()
        x = suggest(trial, problem["params"])
        evaluator.stdin.write(" ".join(repr(float(v)) for v in x) + "\n")
        evaluator.stdin.flush()
        f = [float(v) for v in evaluator.stdout.readline().split()]
        study.tell(trial, f)
        points.append(f)
    evaluator.stdin.close()
    evaluator.wait()
    return points


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="path to bench_pareto")
    parser.add_argument("--methods", default="nsga2,motpe")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=80)
    parser.add_argument("--problems", default=None, help="comma-separated subset")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = json.loads(subprocess.run([args.binary, "spec"], check=True, capture_output=True,
                                     text=True).stdout)
    for problem in spec:
        if args.problems and problem["name"] not in args.problems.split(","):
            continue
        for method in args.methods.split(","):
            for seed in range(args.seeds):
                points = run(args.binary, problem, method, seed, args.budget)
                print(json.dumps({"method": method, "problem": problem["name"], "seed": seed,
                                  "points": points}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
