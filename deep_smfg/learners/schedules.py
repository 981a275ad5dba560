"""Decaying step sizes ``c / (k + 1 + k0)^p`` (zero before ``start``) and the four-timescale order check."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PowerSchedule:
    """``lr_k = c / (k + 1 + k0)^p``.

    ``k0 >= 0`` delays the decay (Robbins-Monro steps ``c / (k + k0)^p``, as in Kushner and Yin): the first
    steps are ``c / (1 + k0)^p`` instead of ``c``, so a large ``c`` (fast asymptotic rate) need not mean
    overshooting steps while every chain still sits at the start. ``k0 = 0`` is the plain ``c / (k + 1)^p``.

    ``start >= 0`` holds the group still for its first ``start`` iterations (step 0: a warm-up; the linear-quadratic
    preset's total-gradient leader waits so while the estimator's critics and adjoint settle,
    docs/linear_quadratic.md) and then follows the same ``c / (k + 1 + k0)^p``. It is a mask: the timescale order of
    the unmasked schedules still holds.
    """

    c: float
    p: float = 0.5
    k0: float = 0.0
    start: int = 0

    def __post_init__(self):
        if self.k0 < 0:
            raise ValueError(f"the schedule offset k0 must be >= 0, got {self.k0}")
        if self.start < 0:
            raise ValueError(f"the schedule's start must be >= 0, got {self.start}")

    def __call__(self, k: int) -> float:
        return 0.0 if k < self.start else self.c / (k + 1 + self.k0) ** self.p


def as_schedule(node: PowerSchedule | Mapping) -> PowerSchedule:
    """A schedule from itself or from a ``{c: .., p: .., k0: .., start: ..}`` config node (``p``: 0.5, ``k0``: 0,
    ``start``: 0)."""
    if isinstance(node, PowerSchedule):
        return node
    return PowerSchedule(float(node["c"]), float(node.get("p", 0.5)), float(node.get("k0", 0.0)),
                         int(node.get("start", 0)))


TIMESCALES = ("leader", "mean_field", "follower", "critic")  # slowest to fastest: zeta <= xi <= alpha <= beta


def check_timescales(schedules: dict[str, PowerSchedule], allow_any_order: bool = False,
                     optimizers: dict[str, str] | None = None) -> None:
    """Reject schedules that break ``zeta_k <= xi_k <= alpha_k <= beta_k`` for some ``k``.

    :func:`ordered` decides each pair exactly.
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


def ordered(slow: PowerSchedule, fast: PowerSchedule) -> bool:
    """Whether ``slow(k) <= fast(k)`` for every real ``k >= 0``, decided exactly.

    With ``x = k + 1``, ``f(x) = log(fast / slow) = log(c2 / c1) + p1 log(x + a) - p2 log(x + b)`` (``a``, ``b`` the
    offsets). ``f'(x) = p1 / (x + a) - p2 / (x + b)`` has at most one zero. So the minimum of ``f`` over
    ``x >= 1`` is at ``x = 1``, at that zero ``x* = (p2 a - p1 b) / (p1 - p2)`` when ``p1 > p2``, or (``p1 = p2``) the
    limit ``log(c2 / c1)``; ``p1 < p2`` sends ``f`` to ``-inf``. Equal offsets: ``c1 <= c2`` and ``p1 >= p2``.
    A ``start`` masks a schedule to 0 before it: a slow group that waits longer keeps the order, a fast group that
    waits longer breaks it (it stands still while the slow one moves).
    """
    if slow.c == 0:
        return True
    if fast.c == 0 or slow.p < fast.p or fast.start > slow.start:
        return False

    def f(x: float) -> float:
        return (math.log(fast.c / slow.c) + slow.p * math.log(x + slow.k0) - fast.p * math.log(x + fast.k0))

    candidates = [f(1.0)]
    if slow.p > fast.p:
        x_star = (fast.p * slow.k0 - slow.p * fast.k0) / (slow.p - fast.p)
        if x_star > 1:
            candidates.append(f(x_star))
    else:
        candidates.append(math.log(fast.c / slow.c))
    return min(candidates) >= -1e-12


def _check_chain(schedules: dict[str, PowerSchedule], chain: list[str]) -> None:
    for slow, fast in itertools.pairwise(chain):
        a, b = schedules[slow], schedules[fast]
        if not ordered(a, b):
            raise ValueError(
                f"step sizes break the four-timescale order zeta <= xi <= alpha <= beta: {slow} "
                f"{a.c}/(k+1+{a.k0})^{a.p} exceeds {fast} {b.c}/(k+1+{b.k0})^{b.p} for some k; fix the constants "
                "or set algo.allow_any_step_order=true"
            )
