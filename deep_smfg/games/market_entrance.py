"""Market Entrance, on MFGLib's ``left_right``, with a leader setting entry fees.

* State ``s in {out, L, R}``; action: where to be next period (``out, L, R``); the move happens with
  probability ``1 - noise`` (else the follower stays). Mean field ``z = s``.
* Congestion: operating in L pays ``v_L - mu(L)``, in R ``v_R - 2 mu(R)`` (``left_right``'s slopes);
  being out pays 0. Changing state costs ``switch_cost``; entering a market (``a in {L, R}``,
  ``a != s``) costs the leader's entry fee ``b``, priced by the follower's current state ``phi(b | s)``.
* ``r_f(s, a, b, mu) = value(s, mu) - switch_cost 1[a != s] - b 1[a in {L, R}, a != s]``.
* ``r_l(s, a, b, mu) = b 1[a in {L, R}, a != s] + w_L mu(L) + w_R mu(R)``: fee income plus the
  activity it wants in each market. ``leader="sell_skew"`` weighs the markets unequally
  (``w = (1.0, 0.0)``: it wants to sell in L); ``leader="balanced"`` weighs them equally
  (``w = (0.5, 0.5)``); ``leader="fees_only"`` keeps only the fee income.
"""

from __future__ import annotations

import torch

from .base import FiniteGame, GameDefinitionError

LEADER_CONFIGS = {"sell_skew": (1.0, 0.0), "balanced": (0.5, 0.5), "fees_only": (0.0, 0.0)}


def make_market_entrance(
    v_L: float = 1.0,
    v_R: float = 1.2,
    switch_cost: float = 0.1,
    fees: tuple[float, ...] = (0.0, 0.5, 1.0),
    leader: str = "sell_skew",
    noise: float = 0.1,
    gamma: float = 0.9,
    tau: float = 0.5,
) -> FiniteGame:
    if leader not in LEADER_CONFIGS:
        raise GameDefinitionError(f"leader must be one of {sorted(LEADER_CONFIGS)}, got {leader!r}")
    if not 0 <= noise <= 1:
        raise GameDefinitionError(f"noise must lie in [0, 1], got {noise}")
    if len(fees) < 1:
        raise GameDefinitionError("fees must hold at least one value (an empty space is not a game), "
                                  f"got {tuple(fees)}")
    w_L, w_R = LEADER_CONFIGS[leader]
    f64 = torch.float64
    n, n_b = 3, len(fees)
    eye = torch.eye(n, dtype=f64)
    P_sa = (1 - noise) * eye[None, :, :].expand(n, n, n) + noise * eye[:, None, :].expand(n, n, n)
    P = P_sa[:, :, None, :].expand(n, n, n_b, n).clone()
    moved = 1.0 - eye  # [S, A]: 1 when a != s
    enters = moved * torch.tensor([0.0, 1.0, 1.0], dtype=f64)[None, :]
    fee = torch.tensor(fees, dtype=f64)
    base_f = (-switch_cost * moved)[:, :, None] - enters[:, :, None] * fee[None, None, :]
    base_l = (enters[:, :, None] * fee[None, None, :]).expand(n, n, n_b).clone()
    v = torch.tensor([0.0, v_L, v_R], dtype=f64)
    slope = torch.tensor([0.0, 1.0, 2.0], dtype=f64)
    w = torch.tensor([0.0, w_L, w_R], dtype=f64)

    def reward_f(mu: torch.Tensor) -> torch.Tensor:
        value = v.to(mu) - slope.to(mu) * mu  # [S]
        return base_f.to(mu) + value[:, None, None]

    def reward_l(mu: torch.Tensor) -> torch.Tensor:
        return base_l.to(mu) + w.to(mu) @ mu

    rho = torch.tensor([1.0, 0.0, 0.0], dtype=f64)
    return FiniteGame(
        name="market_entrance", transition=P, reward_f=reward_f, reward_l=reward_l, rho=rho, gamma=gamma, tau=tau,
        default_damping=0.2, state_labels=["out", "L", "R"], action_labels=["out", "L", "R"],
        leader_action_labels=[f"fee {f}" for f in fees], z_labels=["out", "L", "R"],
        info=dict(v_L=v_L, v_R=v_R, switch_cost=switch_cost, fees=list(fees), leader=leader, w_L=w_L, w_R=w_R,
                  noise=noise),
    )


GAME = make_market_entrance  # the registry (deep_smfg/games/__init__.py) finds games by this name
