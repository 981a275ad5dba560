"""A continuous pricing game of your own: producers sell into a market with an exponential demand curve, a
regulator subsidises (or taxes) each unit sold to steer the price.

* State: inventory ``x in [0, x_max]``, ``x_0 = 0``. Follower action ``(q, h) in [0, 1]^2``: sell ``q`` (at most
  ``x``), restock ``h``. Leader action: a per-unit subsidy ``b in [-b_max, b_max]`` (``< 0``: a tax).
* Mean field: the law of ``z = min(q, x)``, the quantity sold; the price reads its mean ``m``:
  ``p(m) = p0 exp(-m / scale)``.
* ``x' = clip(x - min(q, x) + h + noise eps, 0, x_max)``, ``eps ~ N(0, 1)``.
* ``r_f = (p(m) + b) min(q, x) - cost q^2 - restock h``; ``r_l = -(p(m) - p_target)^2 - kappa b^2``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deep_smfg.games import ContinuousGame
from deep_smfg.games.continuous import Box


def make_exponential_demand(p0: float = 3.0, scale: float = 0.5, cost: float = 0.5, restock: float = 0.3,
                            b_max: float = 0.5, p_target: float = 1.2, kappa: float = 1.0, x_max: float = 2.0,
                            noise: float = 0.1, gamma: float = 0.9, tau: float = 0.2) -> ContinuousGame:
    def price(m: Tensor) -> Tensor:
        return p0 * torch.exp(-m.clamp_min(0) / scale)

    def next_state(s: Tensor, a: Tensor, b: Tensor, m: Tensor, eps: Tensor) -> Tensor:  # [N, 1]
        x, q, h = s[:, 0], a[:, 0], a[:, 1]
        return (x - torch.minimum(q, x) + h + noise * eps[:, 0]).clamp(0.0, x_max)[:, None]

    def sample_noise(n: int, generator=None, like: Tensor | None = None) -> Tensor:  # [N, 1]
        kw = {} if like is None else dict(dtype=like.dtype, device=like.device)
        return torch.randn(n, 1, generator=generator, **kw)

    def noise_quadrature(k: int) -> tuple[Tensor, Tensor]:  # nodes [k, 1], weights [k]
        u = (torch.arange(k, dtype=torch.float64) + 0.5) / k
        return torch.special.ndtri(u)[:, None], torch.full((k,), 1.0 / k, dtype=torch.float64)

    def reward_f(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:  # [N]
        x, q, h = s[:, 0], a[:, 0], a[:, 1]
        return (price(m) + b[:, 0]) * torch.minimum(q, x) - cost * q ** 2 - restock * h

    def reward_l(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:  # [N]
        return -(price(m) - p_target) ** 2 - kappa * b[:, 0] ** 2

    def contribution(s: Tensor, a: Tensor, b: Tensor) -> Tensor:  # [N, 1]: what reaches the market
        return torch.minimum(a[:, 0], s[:, 0])[:, None]

    def initial_state(n: int, generator=None, like: Tensor | None = None) -> Tensor:  # [N, 1]
        kw = {} if like is None else dict(dtype=like.dtype, device=like.device)
        return torch.zeros(n, 1, **kw)

    return ContinuousGame(
        name="exponential_demand", state_space=Box((0.0,), (x_max,)), action_space=Box((0.0, 0.0), (1.0, 1.0)),
        leader_action_space=Box((-b_max,), (b_max,)), z_space=Box((0.0,), (1.0,)), next_state=next_state,
        sample_noise=sample_noise, noise_quadrature=noise_quadrature, reward_f=reward_f, reward_l=reward_l,
        contribution=contribution, initial_state=initial_state, gamma=gamma, tau=tau, action_names=("q", "h"),
        state_names=("inventory x",), leader_action_names=("subsidy b",), z_names=("quantity sold",))
