"""Four Rooms crowd modelling (seed 002; OpenSpiel's ``crowd_modelling_2d`` FOUR_ROOMS layout).

A Nash MFG (``|B| = 1``). A 13 x 13 grid with border walls and inner walls on ``x = 6`` and ``y = 6``
that leave four doors at ``(x, y) = (6, 3), (6, 9), (3, 6), (9, 6)``: 104 free cells.

* Actions stay, left, right, up, down (``y`` grows downwards); a move into a wall stays put. With
  probability ``noise`` the chosen action is replaced by one drawn uniformly from all five.
* Renewal: each step a follower exits with probability ``kappa`` and a newcomer enters at ``rho``
  (the start cell, default ``(1, 1)``), so ``P = (1 - kappa) P_move + kappa rho``.
* Reward ``r(s, a, mu) = -K log mu(s) + Gamma(a)``, ``Gamma(stay) = 0.2``, ``Gamma(move) = -0.2``.
  The leader reward is 0 (there is no leader to speak of).
"""

from __future__ import annotations

import torch

from .base import FiniteGame, GameDefinitionError

SIZE = 13
DOORS = ((6, 3), (6, 9), (3, 6), (9, 6))
MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))  # stay, left, right, up, down as (dx, dy)


def is_wall(x: int, y: int) -> bool:
    border = x in (0, SIZE - 1) or y in (0, SIZE - 1)
    inner = (x == 6 or y == 6) and (x, y) not in DOORS
    return border or inner


def free_cells() -> list[tuple[int, int]]:
    """The 104 free cells, ordered row by row (``y`` then ``x``)."""
    return [(x, y) for y in range(SIZE) for x in range(SIZE) if not is_wall(x, y)]


def room_of(x: int, y: int) -> int | None:
    """0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right; ``None`` for the doors."""
    if x == 6 or y == 6:
        return None
    return (x > 6) + 2 * (y > 6)


def make_four_rooms(
    noise: float = 0.1,
    kappa: float = 0.02,
    K: float = 1.0,
    stay_bonus: float = 0.2,
    move_penalty: float = -0.2,
    start: tuple[int, int] = (1, 1),
    eps: float = 1e-12,
    gamma: float = 0.9,
    tau: float = 0.5,
) -> FiniteGame:
    if not 0 <= noise <= 1 or not 0 <= kappa <= 1:
        raise GameDefinitionError(f"noise and kappa must lie in [0, 1], got noise={noise}, kappa={kappa}")
    cells = free_cells()
    index = {c: i for i, c in enumerate(cells)}
    start = tuple(start)
    if start not in index:
        raise GameDefinitionError(f"start {start} is a wall cell; choose a free cell")
    n, n_a = len(cells), len(MOVES)
    f64 = torch.float64
    move = torch.zeros(n, n_a, n, dtype=f64)
    for i, (x, y) in enumerate(cells):
        for a, (dx, dy) in enumerate(MOVES):
            j = index.get((x + dx, y + dy), i)
            move[i, a, j] = 1.0
    noisy = (1 - noise) * move + noise * move.mean(1, keepdim=True)
    rho = torch.zeros(n, dtype=f64)
    rho[index[start]] = 1.0
    P = ((1 - kappa) * noisy + kappa * rho)[:, :, None, :]
    bonus = torch.tensor([stay_bonus] + [move_penalty] * 4, dtype=f64)[None, :, None].expand(n, n_a, 1)

    def reward_f(mu: torch.Tensor) -> torch.Tensor:
        return bonus.to(mu) - K * torch.log(mu + eps)[:, None, None]

    coords = torch.tensor(cells, dtype=f64)
    return FiniteGame(
        name="four_rooms", transition=P, reward_f=reward_f, reward_l=torch.zeros(n, n_a, 1, dtype=f64), rho=rho,
        gamma=gamma, tau=tau, default_damping=0.1, state_labels=[f"({x},{y})" for x, y in cells],
        action_labels=["stay", "left", "right", "up", "down"], leader_action_labels=["none"],
        z_labels=[f"({x},{y})" for x, y in cells], state_coords=coords,
        info=dict(noise=noise, kappa=kappa, K=K, stay_bonus=stay_bonus, move_penalty=move_penalty, start=list(start)),
        mean_field_summary=lambda mu: {"room_masses": room_masses(mu)},
    )


def room_masses(mu: torch.Tensor) -> list[float]:
    """Mass in (top-left, top-right, bottom-left, bottom-right); the doors belong to none."""
    masses = [0.0] * 4
    for i, (x, y) in enumerate(free_cells()):
        r = room_of(x, y)
        if r is not None:
            masses[r] += float(mu[i])
    return masses


GAME = make_four_rooms  # the registry (deep_smfg/games/__init__.py) finds games by this name
