"""Equilibrium Pricing (continuous): the finite game's economy with continuous inventory and actions.

* State: inventory ``x in [0, x_max]``, ``x_0 = 0``.
* Follower action ``a = (q, h) in [0, q_max] x [0, h_max]``: produce and sell ``q``, replenish ``h``.
* Leader action: a per-unit subsidy (``b > 0``) or tax (``b < 0``), ``b in [-b_max, b_max]``, ``phi(b | x)``.
* Transition with noise: ``x' = clip(x - min(q, x) + h + sigma_x eps, 0, x_max)``, ``eps ~ N(0, 1)``.
* Mean field: the law of ``z = q`` (a Gaussian density in the learner); the rewards read its mean
  ``m = E_mu[q]`` through the market-clearing price ``p(m) = (d / (m + e0))^(1 / sigma)``.
* Follower reward ``r_f = (p + b - c0) q - c1 q^2 - c2 h - (c2 + c3) max(q - x, 0) - c4 x``.
* Leader reward ``r_l = -w_price (p - p_target)^2 - kappa b^2 - w_stake b q`` (``leader="stake"``:
  ``w_stake = 1``, the regulator pays the subsidies and collects the taxes; ``"incentive"``: 0).

The price and reward formulas are the finite game's, from :mod:`.pricing_economy`.

The defaults make the leader's optimum interior (``kappa = 2``: a tax of about 0.2 per unit, not the
corner ``-b_max``), see ``docs/environments.md``. Its twin on grids, solved by the exact solvers, is
:func:`~deep_smfg.games.continuous.discretise` (grid sizes: the ``evaluator`` node of
``configs/game/continuous_pricing.yaml``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import GameDefinitionError
from .continuous import Box, ContinuousGame
from .market import Market
from .pricing_economy import LEADER_WEIGHTS, market_price, producer_reward, regulator_reward


def make_continuous_pricing(
    x_max: float = 3.0,
    q_max: float = 2.0,
    h_max: float = 2.0,
    d: float = 4.0,
    e0: float = 1.0,
    sigma: float = 1.0,
    costs: tuple[float, float, float, float, float] = (0.5, 0.25, 0.3, 0.5, 0.1),
    b_max: float = 0.4,
    leader: str = "stake",
    p_target: float = 1.5,
    kappa: float = 2.0,
    w_price: float = 1.0,
    noise: float = 0.1,
    gamma: float = 0.9,
    tau: float = 0.2,
) -> ContinuousGame:
    """Build continuous Equilibrium Pricing (see the module docstring for every formula)."""
    if leader not in LEADER_WEIGHTS:
        raise GameDefinitionError(f"leader must be one of {sorted(LEADER_WEIGHTS)}, got {leader!r}")
    if len(costs) != 5:
        raise GameDefinitionError(f"costs must hold 5 numbers (c0..c4), got {len(costs)}")
    if min(x_max, q_max, h_max, b_max, d, e0, sigma) <= 0:
        raise GameDefinitionError("x_max, q_max, h_max, b_max, d, e0 and sigma must be > 0")
    if noise < 0:
        raise GameDefinitionError(f"noise must be >= 0, got {noise}")
    costs = tuple(float(c) for c in costs)
    w_stake = LEADER_WEIGHTS[leader]

    def price(m: Tensor) -> Tensor:
        """``p(m) = (d / (m + e0))^(1/sigma)`` with ``m = E_mu[q]`` (clamped at 0 from below)."""
        return market_price(m.clamp_min(0), d, e0, sigma)

    def next_state(s: Tensor, a: Tensor, b: Tensor, m: Tensor, eps: Tensor) -> Tensor:
        x, q, h = s[:, 0], a[:, 0], a[:, 1]
        return (x - torch.minimum(q, x) + h + noise * eps[:, 0]).clamp(0.0, x_max).unsqueeze(-1)

    def sample_noise(n: int, generator=None, like: Tensor | None = None) -> Tensor:
        kw = {} if like is None else dict(dtype=like.dtype, device=like.device)
        return torch.randn(n, 1, generator=generator, **kw)

    def noise_quadrature(k: int) -> tuple[Tensor, Tensor]:
        """``k`` equal-weight nodes at the midpoint quantiles of N(0, 1) (a deterministic quadrature)."""
        u = (torch.arange(k, dtype=torch.float64) + 0.5) / k
        return (torch.special.ndtri(u)[:, None], torch.full((k,), 1.0 / k, dtype=torch.float64))

    def reward_f(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
        return producer_reward(s[:, 0], a[:, 0], a[:, 1], b[:, 0], price(m), costs)

    def reward_l(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
        return regulator_reward(a[:, 0], b[:, 0], price(m), p_target, kappa, w_price, w_stake)

    def contribution(s: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return a[:, :1]

    def initial_state(n: int, generator=None, like: Tensor | None = None) -> Tensor:
        kw = {} if like is None else dict(dtype=like.dtype, device=like.device)
        return torch.zeros(n, 1, **kw)

    return ContinuousGame(
        name="continuous_pricing", state_space=Box((0.0,), (x_max,)), action_space=Box((0.0, 0.0), (q_max, h_max)),
        leader_action_space=Box((-b_max,), (b_max,)), z_space=Box((0.0,), (q_max,)), next_state=next_state,
        sample_noise=sample_noise,
        noise_quadrature=noise_quadrature, reward_f=reward_f, reward_l=reward_l, contribution=contribution,
        initial_state=initial_state, gamma=gamma, tau=tau, action_names=("q", "h"), state_names=("inventory x",),
        leader_action_names=("subsidy b (< 0: tax)",), z_names=("q (quantity sold)",),
        info=dict(leader=leader, p_target=p_target, kappa=kappa, w_price=w_price, w_stake=w_stake, noise=noise),
        market=Market(price, p_target),
    )


GAME = make_continuous_pricing  # the registry (deep_smfg/games/__init__.py) finds games by this name
