"""Bias, noise and cost of the continuous leader gradients at a frozen leader, against the twin's exact total gradient.

    python scripts/bench_total_sampled_continuous.py [--settle 3000] [--average 2000] [--leader init|random]

Continuous Equilibrium Pricing with the main job's modules and step sizes (configs/algo/ac_smfg_continuous.yaml),
float32, N = 64, one thread. The leader is frozen (step size 0) at its initial parameters (``init``: the seed-0
network, ``E[b | x] = 0`` everywhere) or at a state-dependent one (``random``: the last layer drawn
``0.5 N(0, 1)``, seed 3). AC-SMFG runs ``--settle`` iterations so that critics, follower, mean field and the
estimator's own critics settle, then the leader direction (minus the leader's loss gradient) is recorded over
``--average`` iterations. The reference is the discretised twin's exact total gradient mapped to the leader's
parameters: with ``phi_twin = leader.cell_probs`` on the twin's grid and ``G = dPhi_twin/dphi_twin``
(``exact.stackelberg_gradient``), ``grad_omega sum G phi_twin``; the twin's partial gradient is mapped the same
way. Printed per estimator: the cosine of the averaged direction with the twin's total and partial gradients,
the norm ratio to ``(1 - gamma)`` times the twin's (the sampled estimators follow the normalised occupancy), the
per-iteration signal-to-noise ratio ``|mean| / sqrt(mean |g - mean|^2)``, and ms per iteration. Both learners
share the seed and draw the same random numbers (the estimator draws none), so their lower levels are identical
and the difference of their averaged directions is total_sampled's implicit term (the follower's and the mean
field's answer), compared with the twin's ``total - partial``.
"""

from __future__ import annotations

import argparse
import time

import torch

from deep_smfg import exact
from deep_smfg.evaluation.continuous_metrics import project_policies
from deep_smfg.games import make_game
from deep_smfg.games.continuous import discretise
from deep_smfg.learners import ACSMFG, PowerSchedule
from deep_smfg.learners.kinds import ModelSpec

MODEL = ModelSpec(policy="squashed_gaussian", critic="mlp", hidden=(64, 64))
OPTIMIZER = {"critic": "adam", "follower": "adam", "mean_field": "sgd", "leader": "adam"}
FROZEN_LEADER = {"critic": PowerSchedule(0.03, 0.5), "follower": PowerSchedule(0.01, 0.5),
                 "mean_field": PowerSchedule(0.05, 0.5), "leader": PowerSchedule(0.0)}


def learner(game, estimator: str, leader: str) -> ACSMFG:
    torch.manual_seed(0)  # the networks' initialisation, as in the train job (seed=0)
    m = ACSMFG(game, MODEL, step_sizes=FROZEN_LEADER, optimizer=OPTIMIZER, leader_gradient=estimator, n_envs=64,
               seed=0)
    if leader == "random":
        last = m.leader.net[-1]
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            last.weight.copy_(0.5 * torch.randn(last.weight.shape, generator=g))
            last.bias.copy_(0.5 * torch.randn(last.bias.shape, generator=g))
    return m


def flat_grad(params) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in params])


def twin_directions(game, m: ACSMFG) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The twin's exact total and partial gradients in the leader's parameters, and their cosine there."""
    twin = discretise(game, 13, 9, 9, 64)
    _, phi0 = project_policies(twin, m.follower, m.leader)
    grad = exact.stackelberg_gradient(twin.game, phi0)
    params = list(m.leader.parameters())
    out = []
    for g in (grad.total, grad.partial):
        phi = m.leader.cell_probs(twin.states.float(), twin.leader_grids).double()
        d = torch.autograd.grad((g * phi).sum(), params)
        out.append(torch.cat([x.reshape(-1) for x in d]).double())
    return out[0], out[1], exact.cosine(out[0], out[1])


def measure(game, leader: str, settle: int, average: int) -> dict:
    """Both estimators side by side on identical lower levels (same seed, no extra draws)."""
    runs = {est: learner(game, est, leader) for est in ("partial", "total_sampled")}
    total, partial, alignment = twin_directions(game, runs["partial"])
    scale = 1 - game.gamma  # the sampled estimators follow (1 - gamma) dPhi/domega
    samples = {est: [] for est in runs}
    ms = {}
    for est, m in runs.items():
        m.run_standalone(settle)
        params = list(m.leader.parameters())
        start = time.perf_counter()
        for _ in range(average):
            m.run_standalone(1)  # the leader's step size is 0: its gradient stays in .grad, its parameters stay put
            samples[est].append(-flat_grad(params).double())
        ms[est] = 1000 * (time.perf_counter() - start) / average
    same = all(torch.equal(p, q) for p, q in zip(runs["partial"].follower.parameters(),
                                                   runs["total_sampled"].follower.parameters(), strict=True))
    out = {"twin partial . total": alignment, "identical lower levels": same}
    for est, g in samples.items():
        g = torch.stack(g)
        mean = g.mean(0)
        noise = ((g - mean) ** 2).sum(1).mean().sqrt()
        out[est] = dict(cosine=exact.cosine(mean, total), ratio=float(mean.norm() / (scale * total.norm())),
                        snr=float(mean.norm() / noise), ms=ms[est], mean=mean)
    implicit = out["total_sampled"]["mean"] - out["partial"]["mean"]  # the estimator's follower + mean-field terms
    out["implicit cosine"] = exact.cosine(implicit, total - partial)
    out["implicit ratio"] = float(implicit.norm() / (scale * (total - partial).norm()))
    out["y"] = runs["total_sampled"].leader_gradient.y.tolist()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settle", type=int, default=3000)
    p.add_argument("--average", type=int, default=2000)
    p.add_argument("--leader", nargs="*", default=["init", "random"])
    args = p.parse_args()
    torch.set_num_threads(1)
    game = make_game("continuous_pricing")
    print(f"settle {args.settle}, average {args.average}, N = 64, float32, 1 thread")
    print("| leader | twin: cos(partial, total) | estimator | cosine with twin total | norm ratio "
          "| signal/noise per iteration | ms / iteration |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for leader in args.leader:
        r = measure(game, leader, args.settle, args.average)
        for est in ("partial", "total_sampled"):
            e = r[est]
            print(f"| {leader} | {r['twin partial . total']:.3f} | {est} | {e['cosine']:.3f} | {e['ratio']:.3f} "
                  f"| {e['snr']:.3f} | {e['ms']:.2f} |")
        print(f"| {leader} | | implicit term (total_sampled - partial) | {r['implicit cosine']:.3f} "
              f"| {r['implicit ratio']:.3f} | | |   (y = {r['y']}, identical lower levels: "
              f"{r['identical lower levels']})", flush=True)

if __name__ == "__main__":
    main()
