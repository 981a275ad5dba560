"""AC-SMFG throughput: follower transitions per second, batched vs a plain per-sample loop.

    python scripts/bench_throughput.py [--game equilibrium_pricing] [--threads 1] [--seconds 3]
                                       [--sizes 1 64 4096 65536] [--device cpu] [--models cells squashed_gaussian]
                                       [--algo ac_smfg_continuous]

"Transitions" counts the occupancy chain's follower transitions, N per iteration (the stationary
chain's N steps come on top, uncounted). One iteration = one batched step of both chains through the
TorchRL env and the four updates (one backward, four SGD steps), tabular modules, float32, no
Lightning loop and no exact metrics. The per-sample loop performs the same tabular updates one
sample at a time in plain Python/numpy (N = 1), as a hand-written implementation would; the hand-written batched
loop performs them on N chains in plain torch (no autograd, optimisers or TorchRL env): the floor of the batched
learner's arithmetic on this machine.
``--game continuous_pricing`` measures the main job's learner instead (the cells follower, a squashed-Gaussian
leader, MLP critics, Gaussian mean field, the sampled total-gradient leader, Adam/SGD as in
configs/algo/ac_smfg_continuous_total.yaml); ``--algo ac_smfg_continuous`` the paper's partial leader; ``--models``
gives one column per ``model=NAME``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from deep_smfg.cli import compose_config
from deep_smfg.config import build_learner
from deep_smfg.games import ContinuousGame, make_game
from deep_smfg.games.base import draws_from_cdf, sample_from_cdf
from deep_smfg.learners import ACSMFG


def make_learner(game, n: int, device: str, model: str | None = None, algo: str | None = None) -> ACSMFG:
    """The train job's default learner for ``game`` (tabular and SGD on a finite game, the main job's on a
    continuous one), with ``N = n`` chains (and ``model=<model>``, ``algo=<algo>`` if given)."""
    extra = [f"model={model}"] * bool(model) + [f"algo={algo}"] * bool(algo)
    m = build_learner(compose_config("train", [f"game={game.name}", f"algo.n_envs={n}", *extra]), game)
    m = m.to(device)
    m._device = torch.device(device)
    return m


def batched_rate(game, n: int, seconds: float, device: str, model: str | None = None,
                 algo: str | None = None) -> float:
    m = make_learner(game, n, device, model, algo)
    m.run_standalone(5)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        m.run_standalone(10)
        k += 10
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return k * n / (time.perf_counter() - t0)


def per_sample_rate(game, seconds: float) -> float:
    """The seven steps of docs/ac_smfg.md for one sample at a time, numpy tables."""
    rng = np.random.default_rng(0)
    mu = np.full(game.n_z, 1 / game.n_z)
    S, A, B = game.n_states, game.n_actions, game.n_leader_actions
    theta, omega, vf, vl = np.zeros((S, A)), np.zeros((S, B)), np.zeros(S), np.zeros(S)
    P = game.transition_tensor(torch.tensor(mu)).numpy()
    g_idx = game.g.argmax(-1).numpy()
    rho = game.rho.numpy()
    s, sb = rng.choice(S, p=rho), rng.choice(S, p=rho)
    gamma, tau = game.gamma, game.tau
    schedules = make_learner(game, 1, "cpu").schedules  # the train job's step sizes
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        mu_t = torch.from_numpy(mu)
        rf, rl = game.reward_f_tensor(mu_t).numpy(), game.reward_l_tensor(mu_t).numpy()
        lr = [schedules[n](k) for n in ("critic", "follower", "mean_field", "leader")]
        pi = np.exp(theta[s] - theta[s].max())
        pi /= pi.sum()
        ph = np.exp(omega[s] - omega[s].max())
        ph /= ph.sum()
        a, b = rng.choice(A, p=pi), rng.choice(B, p=ph)
        s2 = rng.choice(S, p=P[s, a, b])
        pib = np.exp(theta[sb] - theta[sb].max())
        pib /= pib.sum()
        phb = np.exp(omega[sb] - omega[sb].max())
        phb /= phb.sum()
        ab, bb = rng.choice(A, p=pib), rng.choice(B, p=phb)
        z = g_idx[sb, ab, bb]
        sb = rng.choice(S, p=P[sb, ab, bb])
        df = rf[s, a, b] - tau * math.log(pi[a]) + gamma * vf[s2] - vf[s]
        dl = rl[s, a, b] + gamma * vl[s2] - vl[s]
        vf[s] += lr[0] * df
        vl[s] += lr[0] * dl
        theta[s] += lr[1] * df * (np.eye(A)[a] - pi)
        mu += lr[2] * (np.eye(game.n_z)[z] - mu)
        omega[s] += lr[3] * dl * (np.eye(B)[b] - ph)
        s = rng.choice(S, p=rho) if rng.random() > gamma else s2
        k += 1
    return k / (time.perf_counter() - t0)


def hand_written_rate(game, n: int, seconds: float) -> float:
    """The seven steps of docs/ac_smfg.md on ``N`` batched chains, written directly in torch: tables updated in place
    (no autograd, no optimisers, no TorchRL env, no checks). What eager torch allows on this machine for the same
    arithmetic, the batched learner's floor (docs/performance.md)."""
    g = torch.Generator().manual_seed(0)
    S, A, B, Z = game.n_states, game.n_actions, game.n_leader_actions, game.n_z
    theta, omega, vf, vl = torch.zeros(S, A), torch.zeros(S, B), torch.zeros(S), torch.zeros(S)
    mu = torch.full((Z,), 1 / Z)
    P_cdf = game.transition_tensor(mu.double()).float().cumsum(-1).reshape(-1, S)  # (a kernel that reads mu: fixed)
    z_of = game.g.argmax(-1).reshape(-1)
    rho_cdf = game.rho.float().cumsum(-1)
    schedules = make_learner(game, 1, "cpu").schedules
    s = draws_from_cdf(rho_cdf, 2 * n, g)
    gamma, tau, rows = game.gamma, game.tau, torch.arange(n)

    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        lr = [schedules[name](k) / n for name in ("critic", "follower", "mean_field", "leader")]
        mu_d = mu.double()
        r_f, r_l = game.reward_f_tensor(mu_d).float().reshape(-1), game.reward_l_tensor(mu_d).float().reshape(-1)
        pi, ph = torch.softmax(theta, -1), torch.softmax(omega, -1)
        a, b = sample_from_cdf(pi.cumsum(-1)[s], g), sample_from_cdf(ph.cumsum(-1)[s], g)
        flat = (s * A + a) * B + b
        s2 = sample_from_cdf(P_cdf[flat], g)
        so, ao, bo, fo, sn = s[:n], a[:n], b[:n], flat[:n], s2[:n]
        df = r_f[fo] - tau * torch.log(pi[so, ao]) + gamma * vf[sn] - vf[so]
        dl = r_l[fo] + gamma * vl[sn] - vl[so]
        vf.index_add_(0, so, lr[0] * df)
        vl.index_add_(0, so, lr[0] * dl)
        score_f, score_l = -pi[so], -ph[so]
        score_f[rows, ao] += 1
        score_l[rows, bo] += 1
        theta.index_add_(0, so, lr[1] * df[:, None] * score_f)
        mu += lr[2] * n * (torch.bincount(z_of[flat[n:]], minlength=Z).float() / n - mu)
        omega.index_add_(0, so, lr[3] * dl[:, None] * score_l)
        fresh = draws_from_cdf(rho_cdf, n, g)
        s = torch.cat([torch.where(torch.rand(n, generator=g) > gamma, fresh, sn), s2[n:]])
        k += 1
    return k * n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="equilibrium_pricing")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--sizes", type=int, nargs="*", default=[1, 64, 4096, 65536])
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="*", default=[None], help="model=NAME per column (default: the game's own)")
    p.add_argument("--algo", default=None, help="algo=NAME (default: the game's own; continuous games)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    game = make_game(args.game)
    print(f"{args.game}, algo={args.algo or 'default'}, torch {torch.__version__}, threads={torch.get_num_threads()}, "
          f"device={args.device}")
    if isinstance(game, ContinuousGame):  # no hand-written loop of the neural updates to compare with
        print("| N | " + " | ".join(f"transitions/s, model={m or 'default'}" for m in args.models) + " |")
        print("| --- |" + " --- |" * len(args.models))
        for n in args.sizes:
            rates = [batched_rate(game, n, args.seconds, args.device, m, args.algo) for m in args.models]
            print(f"| {n} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |")
        return
    loop = per_sample_rate(game, args.seconds)
    print("| N | transitions/s | x per-sample loop | hand-written batched torch (the floor) | learner / floor |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| per-sample loop (numpy) | {loop:,.0f} | 1 | | |")
    for n in args.sizes:
        rate = batched_rate(game, n, args.seconds, args.device)
        floor = hand_written_rate(game, n, args.seconds) if args.device == "cpu" else float("nan")
        print(f"| {n} | {rate:,.0f} | {rate / loop:,.0f} | {floor:,.0f} | {rate / floor:.2f} |")


if __name__ == "__main__":
    main()
