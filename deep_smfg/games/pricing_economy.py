"""The Equilibrium Pricing economy, shared by the finite game and the continuous one (one formula each).

* market-clearing price ``p = (d / (supply + e0))^(1/sigma)`` with ``supply = E_mu[q]``;
* producer (follower) ``r_f = (p + b - c0) q - c1 q^2 - c2 h - (c2 + c3) max(q - x, 0) - c4 x``;
* regulator (leader) ``r_l = -w_price (p - p_target)^2 - kappa b^2 - w_stake b q``, with ``w_stake`` from
  ``LEADER_WEIGHTS``: ``incentive`` (0: it governs only through the producers' incentives) or ``stake``
  (1: it pays the subsidies and collects the taxes itself).

The functions broadcast over tensors (grids of the finite game, batches of the continuous one).
"""

from __future__ import annotations

from torch import Tensor

LEADER_WEIGHTS = {"incentive": 0.0, "stake": 1.0}


def market_price(supply: Tensor, d: float, e0: float, sigma: float) -> Tensor:
    return (d / (supply + e0)) ** (1.0 / sigma)


def producer_reward(x: Tensor, q: Tensor, h: Tensor, b: Tensor, p, costs: tuple[float, ...]) -> Tensor:
    c0, c1, c2, c3, c4 = costs
    return (p + b - c0) * q - c1 * q**2 - c2 * h - (c2 + c3) * (q - x).clamp_min(0) - c4 * x


def regulator_reward(q: Tensor, b: Tensor, p, p_target: float, kappa: float, w_price: float, w_stake: float) -> Tensor:
    return -w_price * (p - p_target) ** 2 - kappa * b**2 - w_stake * b * q
