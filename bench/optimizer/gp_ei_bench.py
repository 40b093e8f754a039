#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A textbook GP-EI on the engine benchmark's problems: the reference Bayesian optimizer.

scikit-learn's Gaussian process (Debian python3-sklearn): a Matern-5/2 kernel with one length
scale per input (ARD) times a constant, plus a WhiteKernel, normalize_y. Expected improvement
over the best feasible observation times the probability of feasibility from one more GP per
constraint (g <= 0 feasible); with no feasible trial yet, the probability of feasibility alone.
The acquisition is maximized over random candidates plus Gaussian perturbations of the best
points, as scikit-optimize's gp_minimize does. Ranges are scaled to [0, 1], enums one-hot;
every candidate is snapped to the grid before it is scored. A failed trial (no value) gets no
objective and the worst constraint values seen so far, so the constraint GPs steer away from it.

Each run starts with the baseline, then random points up to the initial design (as
gp_minimize's n_initial_points, here one per setting within [5, 10], the engine's rule).
Prints one JSON line per run and budget, as bench_engine.
"""
import argparse
import os
import json
import subprocess
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per run.sh job
import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402
from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: E402
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel  # noqa: E402

from optuna_bench import Evaluator  # noqa: E402

CANDIDATES = 1000
INCUMBENTS = 5
PERTURBATIONS = 40


class Encoding:
    """Settings <-> points of [0, 1]^D (ranges scaled, enums one-hot)."""

    def __init__(self, params):
        self.params = params
        self.width = sum(len(p["values"]) if p["type"] == "enum" else 1 for p in params)

    def snap(self, p, v):
        lo, hi, step = p["min"], p["max"], p["step"]
        if p["type"] == "int" and step <= 0:
            step = 1
        v = min(max(v, lo), hi)
        if step > 0:
            k = round((v - lo) / step)
            k = min(k, int(np.floor((hi - lo) / step + 1e-9)))
            v = lo + k * step
        return v

    def random(self, rng):
        x = []
        for p in self.params:
            if p["type"] == "enum":
                x.append(int(rng.integers(len(p["values"]))))
            else:
                x.append(self.snap(p, rng.uniform(p["min"], p["max"])))
        return x

    def encode(self, x):
        u = []
        for p, v in zip(self.params, x):
            if p["type"] == "enum":
                one = [0.0] * len(p["values"])
                one[int(v)] = 1.0
                u.extend(one)
            else:
                span = p["max"] - p["min"]
                u.append((v - p["min"]) / span if span > 0 else 0.0)
        return u

    def decode(self, u):
        x, i = [], 0
        for p in self.params:
            if p["type"] == "enum":
                n = len(p["values"])
                x.append(int(np.argmax(u[i:i + n])))
                i += n
            else:
                x.append(self.snap(p, p["min"] + u[i] * (p["max"] - p["min"])))
                i += 1
        return x


def fit_gp(u, y, seed, previous=None):
    """A GP on (u, y). Its hyperparameters are fitted by L-BFGS from two starts (sklearn's
    n_restarts_optimizer=1) the first time, then from the previous trial's fit alone: one
    more point moves them little, and the machine is shared (a reference must not take hours)."""
    kernel = previous
    if kernel is None:
        kernel = (ConstantKernel(1.0, (1e-3, 1e3))
                  * Matern(length_scale=np.ones(u.shape[1]), length_scale_bounds=(1e-2, 1e2),
                           nu=2.5)
                  + WhiteKernel(1e-4, (1e-8, 1e0)))
    gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True,
                                  n_restarts_optimizer=0 if previous is not None else 1,
                                  random_state=seed)
    gp.fit(u, y)
    return gp


def perturb(encoding, x, rng, scale):
    """A neighbour of settings x: ranges moved by N(0, scale^2) of their span, an enum changed
    with probability 1/D."""
    y = list(x)
    d = len(encoding.params)
    for k, p in enumerate(encoding.params):
        if p["type"] == "enum":
            if rng.random() < 1.0 / d:
                y[k] = int(rng.integers(len(p["values"])))
        else:
            span = p["max"] - p["min"]
            y[k] = encoding.snap(p, x[k] + scale * span * rng.normal())
    return y


def suggest(encoding, history, constraint_count, rng, seed, kernels):
    ok = [h for h in history if h["ok"]]
    if not ok:
        return encoding.random(rng)
    u_ok = np.array([encoding.encode(h["x"]) for h in ok])
    u_all = np.array([encoding.encode(h["x"]) for h in history])
    objective = fit_gp(u_ok, np.array([h["y"] for h in ok]), seed, kernels.get("y"))
    kernels["y"] = objective.kernel_
    constraint_gps = []
    for c in range(constraint_count):
        seen = [h["g"][c] for h in ok]
        worst = max(max(seen), 1.0)
        g = np.array([h["g"][c] if h["ok"] else worst for h in history])
        constraint_gps.append(fit_gp(u_all, g, seed, kernels.get(c)))
        kernels[c] = constraint_gps[-1].kernel_
    failed = [h for h in history if not h["ok"]]
    failure_gp = None
    if failed and constraint_count == 0:  # failures alone: a GP on +1 failed / -1 measured
        labels = np.array([-1.0 if h["ok"] else 1.0 for h in history])
        failure_gp = fit_gp(u_all, labels, seed, kernels.get("failed"))
        kernels["failed"] = failure_gp.kernel_
    feasible = [h for h in ok if h["feasible"]]
    candidates = [encoding.random(rng) for _ in range(CANDIDATES)]
    ranked = sorted(feasible or ok, key=lambda h: h["y"])[:INCUMBENTS]
    for h in ranked:
        for i in range(PERTURBATIONS):
            candidates.append(perturb(encoding, h["x"], rng, (0.02, 0.05, 0.1, 0.2)[i % 4]))
    u = np.array([encoding.encode(x) for x in candidates])
    log_pf = np.zeros(len(candidates))
    for gp in constraint_gps + ([failure_gp] if failure_gp else []):
        mu, sd = gp.predict(u, return_std=True)
        log_pf += norm.logcdf(-mu / np.maximum(sd, 1e-12))
    if feasible:
        best = min(h["y"] for h in feasible)
        mu, sd = objective.predict(u, return_std=True)
        sd = np.maximum(sd, 1e-12)
        z = (best - mu) / sd
        ei = sd * (z * norm.cdf(z) + norm.pdf(z))
        score = np.log(np.maximum(ei, 1e-300)) + log_pf
    else:
        score = log_pf
    return candidates[int(np.argmax(score))]


def run(problem, seed, budgets, evaluate):
    rng = np.random.default_rng(seed)
    encoding = Encoding(problem["params"])
    constraint_count = problem["constraints"]
    design = min(max(len(problem["params"]), 5), 10)
    history, kernels = [], {}
    best_observed, best_true = float("inf"), problem["worst"]
    results = {}
    for t in range(max(budgets)):
        if t == 0:
            x = [p["baseline"] if p["type"] != "enum" else int(p["baseline"])
                 for p in problem["params"]]
        elif t <= design:
            x = encoding.random(rng)
        else:
            x = suggest(encoding, history, constraint_count, rng, seed, kernels)
        ok, observed, truth, g = evaluate(seed * 1000003 + t, x)
        feasible = ok and all(v <= 0 for v in g)
        history.append({"x": x, "ok": ok, "y": observed, "g": g, "feasible": feasible})
        if feasible and observed < best_observed:
            best_observed, best_true = observed, truth
        if t + 1 in budgets:
            results[t + 1] = best_true
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="path to bench_engine")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--budgets", default="30,60")
    parser.add_argument("--problems", default=None, help="comma-separated subset")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    budgets = [int(b) for b in args.budgets.split(",")]
    spec = json.loads(subprocess.check_output([args.binary, "spec"]))
    wanted = args.problems.split(",") if args.problems else None
    for problem in spec:
        # the held-out problems (bench_engine run -H) run only when named
        if (problem["name"] not in wanted) if wanted else problem["held_out"]:
            continue
        evaluate = Evaluator(args.binary, problem["name"])
        for seed in range(args.first, args.first + args.seeds):
            for budget, best in sorted(run(problem, seed, budgets, evaluate).items()):
                print(json.dumps({"method": "gp-ei", "problem": problem["name"], "seed": seed,
                                  "budget": budget, "best": best}))
                sys.stdout.flush()
        evaluate.close()


if __name__ == "__main__":
    main()
