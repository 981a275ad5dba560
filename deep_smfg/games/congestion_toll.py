"""A verification game with a closed-form answer: a congestion toll on two routes.

One state, follower actions ``a in {0, 1}`` (route 0, route 1), leader actions: a toll on route 1
of ``0`` or ``b_max`` (``phi = (1 - p, p)``), mean field ``z = a`` (the share on each route).

* ``r_f(a, b, mu) = c_a - k mu(a) - b 1[a = 1]``;  ``r_l(a, b, mu) = -w (mu(1) - target)^2 - kappa b^2``.
* With one state, ``BR(1) = sigmoid((c_1 - c_0 - k (2 mu_1 - 1) - p b_max) / tau)`` and the equilibrium
  share solves the scalar monotone equation ``mu_1 = BR(1)`` (unique root, found by bisection).
* ``Phi(p) = (-w (mu_1(p) - target)^2 - kappa p b_max^2) / (1 - gamma)``; by the implicit function theorem
  ``dmu_1/dp = -b_max (s'/tau) / (1 + 2 k s'/tau)`` with ``s' = mu_1 (1 - mu_1)``.
"""

from __future__ import annotations

import math

import torch

from .base import FiniteGame


def make_congestion_toll(
    c0: float = 0.0,
    c1: float = 0.8,
    k: float = 1.0,
    b_max: float = 1.0,
    target: float = 0.3,
    w: float = 1.0,
    kappa: float = 0.2,
    gamma: float = 0.9,
    tau: float = 0.3,
) -> FiniteGame:
    f64 = torch.float64
    P = torch.ones(1, 2, 2, 1, dtype=f64)
    toll = torch.tensor([0.0, b_max], dtype=f64)
    route = torch.tensor([0.0, 1.0], dtype=f64)
    c = torch.tensor([c0, c1], dtype=f64)

    def reward_f(mu: torch.Tensor) -> torch.Tensor:
        per_route = c.to(mu) - k * mu  # [A]
        return (per_route[:, None] - toll.to(mu)[None, :] * route.to(mu)[:, None])[None]

    def reward_l(mu: torch.Tensor) -> torch.Tensor:
        return (-w * (mu[1] - target) ** 2 - kappa * toll.to(mu) ** 2)[None, None, :].expand(1, 2, 2)

    g = torch.eye(2, dtype=f64)[None, :, None, :].expand(1, 2, 2, 2).clone()
    game = FiniteGame(
        name="congestion_toll", transition=P, reward_f=reward_f, reward_l=reward_l, rho=torch.ones(1, dtype=f64),
        gamma=gamma, tau=tau, g=g, default_damping=0.5, state_labels=["road"], action_labels=["route 0", "route 1"],
        leader_action_labels=["no toll", f"toll {b_max}"], z_labels=["route 0", "route 1"],
        info=dict(c0=c0, c1=c1, k=k, b_max=b_max, target=target, w=w, kappa=kappa),
    )
    game.closed_form = CongestionTollClosedForm(c0, c1, k, b_max, target, w, kappa, gamma, tau)
    return game


class CongestionTollClosedForm:
    """The answer of :func:`make_congestion_toll` by scalar algebra, independent of the solvers."""

    def __init__(self, c0, c1, k, b_max, target, w, kappa, gamma, tau):
        self.c0, self.c1, self.k, self.b_max = c0, c1, k, b_max
        self.target, self.w, self.kappa, self.gamma, self.tau = target, w, kappa, gamma, tau

    def share(self, p: float) -> float:
        """Equilibrium share ``mu_1`` on route 1 when the toll is charged with probability ``p``."""
        def f(m: float) -> float:
            u = (self.c1 - self.c0 - self.k * (2 * m - 1) - p * self.b_max) / self.tau
            return m - 1.0 / (1.0 + math.exp(-u))

        lo, hi = 0.0, 1.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
        return 0.5 * (lo + hi)

    def phi_value(self, p: float) -> float:
        m = self.share(p)
        return (-self.w * (m - self.target) ** 2 - self.kappa * p * self.b_max**2) / (1 - self.gamma)

    def phi_derivative(self, p: float) -> float:
        """``dPhi/dp``."""
        m = self.share(p)
        sp = m * (1 - m) / self.tau
        dm = -self.b_max * sp / (1 + 2 * self.k * sp)
        return (-2 * self.w * (m - self.target) * dm - self.kappa * self.b_max**2) / (1 - self.gamma)

    def optimum(self, n_grid: int = 2001) -> tuple[float, float]:
        """``(p*, Phi*)``: a grid scan of ``[0, 1]`` refined by golden-section search."""
        grid = [i / (n_grid - 1) for i in range(n_grid)]
        i = max(range(n_grid), key=lambda j: self.phi_value(grid[j]))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(100):
            a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            lo, hi = (lo, b) if self.phi_value(a) > self.phi_value(b) else (a, hi)
        p = 0.5 * (lo + hi)
        return p, self.phi_value(p)


GAME = make_congestion_toll  # the registry (deep_smfg/games/__init__.py) finds games by this name
