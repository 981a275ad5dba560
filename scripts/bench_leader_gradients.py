"""Bias, noise and cost of the leader-gradient estimators at a fixed leader, against the exact implicit gradient.

    python scripts/bench_leader_gradients.py [--settle 3000] [--average 2000] [--n-envs 64] [--threads 1]

For each finite configuration of docs/results.md and a random leader (logits 0.5 N(0, 1), seed 3): AC-SMFG runs
with its leader frozen (step size 0) for `--settle` iterations, so that critics, follower, mean field and the
estimator's own critics settle; then for `--average` iterations each leader direction is recorded. Printed per
estimator: the cosine of the averaged direction with the exact total gradient `dPhi/domega` (its bias in
direction; the sampled estimators target `(1 - gamma) dPhi/domega`, total_exact `dPhi/domega` itself), the
norm ratio (bias in size), the per-iteration signal-to-noise ratio `|mean| / sqrt(mean |g - mean|^2)`, and
milliseconds per iteration (the whole AC-SMFG iteration).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from deep_smfg import exact
from deep_smfg.games import make_game
from deep_smfg.learners import ACSMFG, PowerSchedule

sys.path.insert(0, str(Path(__file__).parent))
from run_results import CONFIGS  # noqa: E402

FROZEN_LEADER = {"critic": PowerSchedule(1.0, 0.3), "follower": PowerSchedule(1.0, 0.3),
                 "mean_field": PowerSchedule(0.5, 0.3), "leader": PowerSchedule(0.0)}


def game_of(config: str):
    kw = dict(a.split("=", 1) for a in CONFIGS[config])
    return make_game(kw.pop("game"), **{k.removeprefix("game."): v for k, v in kw.items() if k.startswith("game.")})


def measure(game, estimator: str, settle: int, average: int, n_envs: int) -> dict:
    m = ACSMFG(game, step_sizes=FROZEN_LEADER, leader_gradient=estimator, n_envs=n_envs, seed=0).double()
    theta = 0.5 * torch.randn(m.leader.theta.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        m.leader.theta.copy_(theta)
    phi = torch.softmax(theta, -1)
    grad = exact.stackelberg_gradient(game, phi)
    scale = 1.0 if estimator == "total_exact" else 1 - game.gamma  # the sampled ones sample the normalised occupancy
    total = scale * exact.logit_gradient(phi, grad.total)
    m.run_standalone(settle)
    samples = []
    start = time.perf_counter()
    for _ in range(average):
        m.run_standalone(1)  # one whole iteration; the leader's step size is 0, so its gradient stays in .grad
        samples.append(-m.leader.theta.grad.clone())
    ms = 1000 * (time.perf_counter() - start) / average
    g = torch.stack(samples)
    mean = g.mean(0)
    noise = ((g - mean) ** 2).sum((1, 2)).mean().sqrt()
    return dict(cosine=exact.cosine(mean, total), ratio=float(mean.norm() / total.norm()),
                snr=float(mean.norm() / noise), ms=ms,
                partial_cosine=exact.cosine(exact.logit_gradient(phi, grad.partial), total))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settle", type=int, default=3000)
    p.add_argument("--average", type=int, default=2000)
    p.add_argument("--n-envs", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--estimators", nargs="*", default=["partial", "total_sampled", "total_exact"])
    p.add_argument("--configs", nargs="*", default=[c for c in CONFIGS if c != "pricing_incentive_long"])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"N = {args.n_envs}, settle {args.settle}, average {args.average}, float64, {args.threads} thread(s)")
    print("| config | estimator | cosine with exact total | norm ratio | signal/noise per iteration | ms / iteration |")
    print("| --- | --- | --- | --- | --- | --- |")
    for config in args.configs:
        game = game_of(config)
        for est in args.estimators:
            r = measure(game, est, args.settle, args.average, args.n_envs)
            print(f"| {config} | {est} | {r['cosine']:.3f} | {r['ratio']:.3f} | {r['snr']:.3f} | {r['ms']:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
