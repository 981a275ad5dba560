"""What the SMFG baselines (OneByOne, CuiKoeppl, ADAGE) share: gated step sizes. (The games they run on, bi-level
games whose leader has a choice, each declares in ``SUPPORTS``: learners/supports.py.)

* :class:`GatedSchedule`: a group that steps only on some iterations of a period (OneByOne's inner and outer
  loops, ADAGE's alternation). On iteration ``k`` with ``k mod period`` in ``active`` the group takes its
  ``n``-th step, ``c / (n + 1 + k0)^p``, ``n`` counting only its own steps; on the others its step size is 0
  (with SGD: no change; with Adam the optimiser still folds that iteration's gradient into its moments).
  Checkpoints keep ``c, p, k0`` (the base's format); the learner re-gates the schedules on loading.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schedules import PowerSchedule


@dataclass(frozen=True)
class GatedSchedule(PowerSchedule):
    period: int = 1
    active: tuple[int, ...] = (0,)

    def __post_init__(self):
        super().__post_init__()
        if self.period < 1 or not self.active or not all(0 <= r < self.period for r in self.active):
            raise ValueError(f"a gated schedule needs residues in [0, {self.period}), got {self.active}")

    def steps_before(self, k: int) -> int:
        """How many steps the group has taken before iteration ``k``."""
        q, r = divmod(k, self.period)
        return q * len(self.active) + sum(1 for a in self.active if a < r)

    def __call__(self, k: int) -> float:
        if k % self.period not in self.active:
            return 0.0
        return super().__call__(self.steps_before(k))


def gate(schedule: PowerSchedule, period: int, active) -> GatedSchedule:
    return GatedSchedule(schedule.c, schedule.p, schedule.k0, period=int(period), active=tuple(sorted(active)))
