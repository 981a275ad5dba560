"""Decaying step sizes ``c / (k + 1)^p`` and the four-timescale order check."""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class PowerSchedule:
    """``lr_k = c / (k + 1)^p``."""

    c: float
    p: float = 0.5

    def __call__(self, k: int) -> float:
        return self.c / (k + 1) ** self.p


TIMESCALES = ("leader", "mean_field", "follower", "critic")  # slowest to fastest: zeta <= xi <= alpha <= beta


def check_timescales(schedules: dict[str, PowerSchedule], allow_any_order: bool = False,
                     optimizers: dict[str, str] | None = None) -> None:
    """Reject schedules that break ``zeta_k <= xi_k <= alpha_k <= beta_k`` for some ``k``.

    ``c1/(k+1)^p1 <= c2/(k+1)^p2`` for every ``k >= 0`` exactly when ``c1 <= c2`` and ``p1 >= p2``.
    Step sizes of different optimisers (an Adam step size and an SGD one) are not comparable: with
    ``optimizers`` given, the order is checked among the groups that share an optimiser.
    """
    if allow_any_order:
        return
    kinds = optimizers or {}
    chains = ([[g for g in TIMESCALES if kinds.get(g) == kind] for kind in set(kinds.values())] if kinds
              else [list(TIMESCALES)])
    for chain in chains:
        _check_chain(schedules, chain)


def _check_chain(schedules: dict[str, PowerSchedule], chain: list[str]) -> None:
    for slow, fast in itertools.pairwise(chain):
        a, b = schedules[slow], schedules[fast]
        if a.c > b.c or a.p < b.p:
            raise ValueError(
                f"step sizes break the four-timescale order zeta <= xi <= alpha <= beta: {slow} "
                f"{a.c}/(k+1)^{a.p} exceeds {fast} {b.c}/(k+1)^{b.p} for some k; fix the constants or set "
                "algo.allow_any_step_order=true"
            )

