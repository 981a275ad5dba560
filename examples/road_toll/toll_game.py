"""A finite SMFG of your own: commuters choose between two roads, a city tolls the first one.

States: the road a commuter took last period (0 or 1). Actions: the road to take now. Leader actions: the toll on
road 0, one of ``tolls``. Mean field: the share of commuters on each road (``z = s``, the default ``g``).

* follower reward ``r_f(s, a, b, mu) = -congestion[a] * mu[a] - toll[b] * [a == 0] - switch_cost * [a != s]``;
* leader reward ``r_l(s, a, b, mu) = -(mu[0] - target)^2 + revenue_weight * toll[b] * [a == 0]``;
* transition: a commuter ends on the road it chose with probability ``1 - slip``, on the other one otherwise.
"""

from __future__ import annotations

import torch

from deep_smfg.games import FiniteGame


def make_road_toll(congestion: tuple[float, float] = (1.0, 3.0), tolls: tuple[float, ...] = (0.0, 0.2, 0.4),
                   switch_cost: float = 0.1, target: float = 0.5, revenue_weight: float = 0.1, slip: float = 0.1,
                   gamma: float = 0.9, tau: float = 0.5) -> FiniteGame:
    S, A, B = 2, 2, len(tolls)
    dt = torch.float64
    toll = torch.tensor(tolls, dtype=dt)
    P = torch.zeros(S, A, B, S, dtype=dt)
    for a in range(A):
        P[:, a, :, a] = 1.0 - slip
        P[:, a, :, 1 - a] = slip
    switch = (torch.arange(S)[:, None] != torch.arange(A)[None, :]).to(dt)  # [S, A]
    on_road0 = torch.tensor([1.0, 0.0], dtype=dt)  # [A]

    def reward_f(mu: torch.Tensor) -> torch.Tensor:  # [S, A, B]
        congestion_cost = torch.tensor(congestion, dtype=dt) * mu  # [A]: the road's cost at its load
        r = -congestion_cost[None, :, None] - switch_cost * switch[:, :, None] - on_road0[None, :, None] * toll
        return r.expand(S, A, B)

    def reward_l(mu: torch.Tensor) -> torch.Tensor:  # [S, A, B]
        r = -(mu[0] - target) ** 2 + revenue_weight * on_road0[None, :, None] * toll
        return r.expand(S, A, B)

    return FiniteGame("road_toll", P, reward_f, reward_l, torch.full((S,), 1.0 / S, dtype=dt), gamma, tau,
                      default_damping=0.2,  # the soft best response flips roads steeply: damp the fixed point
                      state_labels=("road 0", "road 1"), action_labels=("road 0", "road 1"),
                      leader_action_labels=tuple(f"toll {t:g}" for t in tolls), z_labels=("road 0", "road 1"))
