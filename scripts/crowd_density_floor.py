"""What each mean-field density option can reach on the 1-D crowd, exactly (docs/crowd.md, "What each density can
reach").

    python scripts/crowd_density_floor.py [--components 3] [--theta 0]

A learner whose reward reads a Gaussian (or a K-component mixture) mean field cannot converge to the game's
equilibrium law ``mu*``: at its fixed point the population best-responds to the *fitted* density, and the fit is of
the law that population induces. On the 1-D twin (docs/crowd.md, "The reference answer") this restricted fixed
point is exact:

    mu <- (1 - lambda) mu + lambda Gamma(BR(r_f - K log p_fit(mu)), mu)

with ``p_fit(mu)`` the family's fit of the grid law ``mu``: its moments (Gaussian), or EM for the mixture
(weighted by the grid masses, warm-started, 50 steps per call). Printed per family: ``W2(p_fit(mu_F), mu*)``, the
distance a perfect learner with that density would report as ``density_w2``; ``W2(mu_F, mu*)``, how far the
population's own law moves; and the fixed point's residual. A mixture that can represent ``mu*`` should reach
about 0 (the check that the restricted fixed point is the reference's when the family is rich enough).
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import torch

from deep_smfg import exact
from deep_smfg.evaluation.crowd_evaluator import DAMPING, CrowdEvaluator
from deep_smfg.evaluation.density_distance import grid_quantiles, w2_1d
from deep_smfg.games import make_game
from deep_smfg.games.continuous import discretise, interpolation_weights
from deep_smfg.games.crowd import axis_game


def gaussian_fit(x: torch.Tensor, mu: torch.Tensor, state: dict) -> tuple[torch.Tensor, ...]:
    m = (mu * x).sum()
    var = (mu * (x - m) ** 2).sum() + float(x[1] - x[0]) ** 2 / 12  # the cells' own spread
    return torch.ones(1, dtype=x.dtype), m.reshape(1, 1), var.reshape(1, 1, 1)


def mixture_fit(x: torch.Tensor, mu: torch.Tensor, state: dict, k: int = 3, steps: int = 50):
    """EM on the grid law (``mu`` weights the nodes), warm-started from ``state``."""
    if "w" not in state:
        lo, hi = float(x[0]), float(x[-1])
        state.update(w=torch.full((k,), 1 / k, dtype=x.dtype),
                     m=lo + (torch.arange(k, dtype=x.dtype) + 0.5) / k * (hi - lo),
                     v=torch.full((k,), ((hi - lo) / k) ** 2 / 4, dtype=x.dtype))
    w, m, v = state["w"], state["m"], state["v"]
    for _ in range(steps):
        logp = torch.log(w) - 0.5 * (x[:, None] - m) ** 2 / v - 0.5 * torch.log(2 * math.pi * v)
        r = torch.softmax(logp, -1) * mu[:, None]  # [S, K]
        n = r.sum(0).clamp_min(1e-12)
        w = (n / n.sum()).clamp_min(1e-3)
        w = w / w.sum()
        m = (r * x[:, None]).sum(0) / n
        v = ((r * (x[:, None] - m) ** 2).sum(0) / n + float(x[1] - x[0]) ** 2 / 12).clamp_min(1e-4)
    state.update(w=w, m=m, v=v)
    return w, m[:, None], v[:, None, None]


def log_density(components, x: torch.Tensor) -> torch.Tensor:
    w, m, cov = components
    v = cov[:, 0, 0]
    return torch.logsumexp(torch.log(w) - 0.5 * (x[:, None] - m[:, 0]) ** 2 / v - 0.5 * torch.log(2 * math.pi * v),
                           -1)


def restricted_equilibrium(game, theta: float, fit, n_states: int = 101, n_actions: int = 41, max_iter: int = 4000):
    """The fixed point of the module docstring on the twin; returns ``(mu_F, p_fit(mu_F), residual)``."""
    axis = axis_game(game, 0)
    twin = discretise(dataclasses.replace(axis, density_aversion=0.0), n_states, n_actions, 3)
    x, K = twin.z_values[:, 0], axis.density_aversion
    phi = interpolation_weights(torch.tensor([theta], dtype=torch.float64), twin.leader_actions[:, 0])
    phi = phi.expand(n_states, -1)
    state: dict = {}
    mu = torch.full((n_states,), 1 / n_states, dtype=torch.float64)
    V, residual = None, float("inf")
    for _ in range(max_iter):
        comps = fit(x, mu, state)
        crowd = -K * log_density(comps, x)
        restricted = dataclasses.replace(twin.game, reward_f=lambda m_, c=crowd, base=twin.game.reward_f:
                                         base(m_) + c[:, None, None])
        step = exact.equilibrium.fixed_point_step(restricted, phi, mu, V0=V)
        V, residual = step.best_response.V, step.residual
        if residual < 1e-9:
            break
        mu = (1 - DAMPING) * mu + DAMPING * step.induced
    return x, mu, fit(x, mu, state), residual


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--components", type=int, default=3)
    p.add_argument("--theta", type=float, default=0.0)
    args = p.parse_args()
    torch.set_num_threads(1)
    game = make_game("crowd")
    fits = {"gaussian": gaussian_fit,
            f"mixture ({args.components})": lambda x, mu, s: mixture_fit(x, mu, s, args.components)}
    nodes, mu_star = CrowdEvaluator(game, 0).reference_law(args.theta)[0]
    u = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000
    print("| density | W2(p_fit(mu_F), mu*) | W2(mu_F, mu*) | residual |")
    print("| --- | --- | --- | --- |")
    for name, fit in fits.items():
        x, mu_f, comps, residual = restricted_equilibrium(game, args.theta, fit)
        w2_fit = w2_1d(comps, nodes, mu_star)
        w2_law = math.sqrt(float(((grid_quantiles(x, mu_f, u) - grid_quantiles(nodes, mu_star, u)) ** 2).mean()))
        print(f"| {name} | {w2_fit:.4f} | {w2_law:.4f} | {residual:.1e} |", flush=True)


if __name__ == "__main__":
    main()
