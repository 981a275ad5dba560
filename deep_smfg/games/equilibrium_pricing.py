"""Equilibrium Pricing (finite), on MFGLib's ``equilibrium_price``, stationary and with a regulator.

* State: inventory ``x in {0..x_max}``. Follower action ``a = (q, h) in {0..Q} x {0..H}`` (produce and
  sell ``q``, replenish ``h``), index ``a = q (H + 1) + h``.
* Transition: ``x' = min(x - min(q, x) + h, x_max)``; with probability ``delivery_noise`` the
  replenishment is lost and ``x' = x - min(q, x)``.
* Mean field: the law of the quantity sold, ``z = q`` (``|Z| = Q + 1``); supply ``E_mu[q]``.
* Market-clearing price ``p(mu) = (d / (E_mu[q] + e0))^(1 / sigma)`` (the formulas of this bullet and
  the reward bullets live in :mod:`.pricing_economy`, shared with the continuous game).
* Leader: a regulator choosing a per-unit subsidy (``b > 0``) or tax (``b < 0``) from
  ``n_subsidy`` levels evenly spaced in ``[-b_max, b_max]`` (the paper's knob ``i``), state-dependent
  ``phi(b | x)``.
* Follower reward ``r_f = (p + b - c0) q - c1 q^2 - c2 h - (c2 + c3) max(q - x, 0) - c4 x``.
* Leader reward ``r_l = -w_price (p - p_target)^2 - kappa b^2 - w_stake b q``:
  ``leader="incentive"`` sets ``w_stake = 0`` (governs only through the followers' incentives: the
  partial gradient is blind, docs/model.md); ``leader="stake"`` sets ``w_stake = 1``, so
  the leader pays the subsidies and collects the taxes itself (a direct stake in each unit sold).
"""

from __future__ import annotations

import torch

from .base import FiniteGame, GameDefinitionError, check_size
from .market import Market
from .pricing_economy import LEADER_WEIGHTS, market_price, producer_reward, regulator_reward


def make_equilibrium_pricing(
    x_max: int = 3,
    q_max: int = 2,
    h_max: int = 2,
    d: float = 4.0,
    e0: float = 1.0,
    sigma: float = 1.0,
    costs: tuple[float, float, float, float, float] = (0.5, 0.25, 0.3, 0.5, 0.1),
    n_subsidy: int = 5,
    b_max: float = 0.4,
    leader: str = "incentive",
    p_target: float = 1.5,
    kappa: float = 0.3,
    w_price: float = 1.0,
    delivery_noise: float = 0.0,
    gamma: float = 0.9,
    tau: float = 0.2,
) -> FiniteGame:
    """Build the finite Equilibrium Pricing game (defaults: docs/environments.md)."""
    for value, label in ((x_max + 1, "x_max + 1"), (q_max + 1, "q_max + 1"), (h_max + 1, "h_max + 1"),
                         (n_subsidy, "n_subsidy")):
        check_size(value, label)
    if leader not in LEADER_WEIGHTS:
        raise GameDefinitionError(f"leader must be one of {sorted(LEADER_WEIGHTS)}, got {leader!r}")
    if len(costs) != 5:
        raise GameDefinitionError(f"costs must hold 5 numbers (c0..c4), got {len(costs)}")
    if not 0 <= delivery_noise <= 1:
        raise GameDefinitionError(f"delivery_noise must lie in [0, 1], got {delivery_noise}")
    if d <= 0 or e0 <= 0 or sigma <= 0:
        raise GameDefinitionError(f"d, e0 and sigma must be > 0, got d={d}, e0={e0}, sigma={sigma}")
    w_stake = LEADER_WEIGHTS[leader]
    n_x, n_q, n_h = x_max + 1, q_max + 1, h_max + 1
    f64 = torch.float64
    x = torch.arange(n_x, dtype=f64)[:, None, None]  # [S, 1, 1]
    q = torch.arange(n_q, dtype=f64).repeat_interleave(n_h)[None, :, None]  # [1, A, 1]
    h = torch.arange(n_h, dtype=f64).repeat(n_q)[None, :, None]  # [1, A, 1]
    b = torch.linspace(-b_max, b_max, n_subsidy, dtype=f64) if n_subsidy > 1 else torch.zeros(1, dtype=f64)
    b = b[None, None, :]  # [1, 1, B]

    sold = torch.minimum(q, x)
    x_kept = (x - sold).expand(n_x, n_q * n_h, 1)
    x_full = torch.clamp(x - sold + h, max=x_max)
    P = torch.zeros(n_x, n_q * n_h, n_subsidy, n_x, dtype=f64)
    one_hot = torch.nn.functional.one_hot
    P += (1 - delivery_noise) * one_hot(x_full.long().squeeze(-1), n_x).to(f64)[:, :, None, :]
    P += delivery_noise * one_hot(x_kept.long().squeeze(-1), n_x).to(f64)[:, :, None, :]

    # Both rewards are affine in the price: tabulate them at p = 0 (r_f) and p = p_target (r_l) once,
    # then add the price term per mu: r_f = r_f|_{p=0} + p q, r_l = r_l|_{p=p_target} - w_price (p - p_target)^2.
    shape = (n_x, n_q * n_h, n_subsidy)
    base_f = producer_reward(x, q, h, b, 0.0, costs).expand(shape).clone()
    q_full = q.expand(shape)
    base_l = regulator_reward(q, b, p_target, p_target, kappa, w_price, w_stake).expand(shape).clone()
    q_levels = torch.arange(n_q, dtype=f64)

    def price(mu: torch.Tensor) -> torch.Tensor:
        """``p(mu)`` at the supply ``E_mu[q]``."""
        return market_price(mu @ q_levels.to(mu), d, e0, sigma)

    def reward_f(mu: torch.Tensor) -> torch.Tensor:
        return base_f.to(mu) + price(mu) * q_full.to(mu)

    def reward_l(mu: torch.Tensor) -> torch.Tensor:
        return base_l.to(mu) - w_price * (price(mu) - p_target) ** 2

    g = torch.zeros(n_x, n_q * n_h, n_subsidy, n_q, dtype=f64)
    g[:, torch.arange(n_q * n_h), :, torch.arange(n_q).repeat_interleave(n_h)] = 1.0
    rho = torch.zeros(n_x, dtype=f64)
    rho[0] = 1.0
    return FiniteGame(
        name="equilibrium_pricing",
        transition=P,
        reward_f=reward_f,
        reward_l=reward_l,
        rho=rho,
        gamma=gamma,
        tau=tau,
        g=g,
        default_damping=0.5,
        state_labels=[f"x={i}" for i in range(n_x)],
        action_labels=[f"q={i // n_h},h={i % n_h}" for i in range(n_q * n_h)],
        leader_action_labels=[f"b={v:+.2f}" for v in b.flatten().tolist()],
        z_labels=[f"q={i}" for i in range(n_q)],
        info=dict(leader=leader, p_target=p_target, kappa=kappa, w_price=w_price, w_stake=w_stake,
                  subsidies=b.flatten().tolist()),
        market=Market(price, p_target),
    )


GAME = make_equilibrium_pricing  # the registry (deep_smfg/games/__init__.py) finds games by this name
