"""Shop Positioning (Hotelling), on MFGLib's ``beach_bar``, with a landlord setting location fees.

* State: a shop's position ``x in {0..n-1}`` on a street. Action: move ``m in {-1, 0, +1}``
  (index ``a = m + 1``); the move happens with probability ``1 - noise`` (else the shop stays),
  clipped at the street's ends. The mean field is the shops' distribution, ``z = x``.
* Customers live around the centre ``c = (n - 1) / 2``: a shop at ``x`` earns
  ``revenue * (1 - |x - c| / c)``.
* Leader: a landlord (the city) charging a per-period location fee ``b`` from ``fees``, priced by
  position ``phi(b | x)``.
* Follower reward ``r_f = revenue (1 - |x - c| / c) - crowd log(mu(x) + eps) - move_cost |m| - b``
  (``move_cost = 0.05``, the paper's ``c``).
* Leader reward ``r_l = b - spread sum_x mu(x)^2``: it earns the fees and wants the shops spread out
  (``sum mu^2`` is smallest for the uniform street). Charging the crowded centre more both earns
  and spreads, so the fee schedule moves the equilibrium visibly.
"""

from __future__ import annotations

import torch

from .base import FiniteGame, GameDefinitionError, check_size


def make_shop_positioning(
    n: int = 9,
    noise: float = 0.1,
    revenue: float = 1.0,
    crowd: float = 0.5,
    move_cost: float = 0.05,
    fees: tuple[float, ...] = (0.0, 0.25, 0.5),
    spread: float = 5.0,
    eps: float = 1e-6,
    gamma: float = 0.9,
    tau: float = 0.5,
) -> FiniteGame:
    check_size(n, "n (positions)")
    check_size(len(fees), "the number of fees")
    if n < 2:
        raise GameDefinitionError(f"n must be at least 2, got {n}")
    if not 0 <= noise <= 1:
        raise GameDefinitionError(f"noise must lie in [0, 1], got {noise}")
    f64 = torch.float64
    x = torch.arange(n)
    moves = torch.tensor([-1, 0, 1])
    target = (x[:, None] + moves[None, :]).clamp(0, n - 1)  # [S, A]
    one_hot = torch.nn.functional.one_hot
    P_sa = (1 - noise) * one_hot(target, n).to(f64) + noise * one_hot(x, n).to(f64)[:, None, :]
    n_b = len(fees)
    P = P_sa[:, :, None, :].expand(n, 3, n_b, n).clone()
    centre = (n - 1) / 2
    income = revenue * (1 - (x.to(f64) - centre).abs() / centre)
    fee = torch.tensor(fees, dtype=f64)
    base_f = income[:, None, None] - move_cost * moves.abs().to(f64)[None, :, None] - fee[None, None, :]
    base_f = base_f.expand(n, 3, n_b).clone()
    base_l = fee[None, None, :].expand(n, 3, n_b).clone()

    def reward_f(mu: torch.Tensor) -> torch.Tensor:
        return base_f.to(mu) - crowd * torch.log(mu + eps)[:, None, None]

    def reward_l(mu: torch.Tensor) -> torch.Tensor:
        return base_l.to(mu) - spread * (mu**2).sum()

    rho = torch.full((n,), 1.0 / n, dtype=f64)
    return FiniteGame(
        name="shop_positioning", transition=P, reward_f=reward_f, reward_l=reward_l, rho=rho, gamma=gamma, tau=tau,
        default_damping=0.1, state_labels=[f"x={i}" for i in range(n)], action_labels=["left", "stay", "right"],
        leader_action_labels=[f"fee {f}" for f in fees], z_labels=[f"x={i}" for i in range(n)],
        state_coords=torch.stack([x.to(f64), torch.zeros(n, dtype=f64)], -1),
        info=dict(n=n, noise=noise, revenue=revenue, crowd=crowd, move_cost=move_cost, fees=list(fees), spread=spread),
    )


GAME = make_shop_positioning  # the registry (deep_smfg/games/__init__.py) finds games by this name
