"""What the SMFG baselines (OneByOne, CuiKoeppl, ADAGE) share: the game check and gated step sizes.

* :func:`check_stackelberg_game`: the baselines are bi-level algorithms for a leader with a choice; a Nash MFG
  (one leader action) or a continuous game is refused with a ``ValueError`` that says what works (the train
  job turns it into a config error before anything is written).
* :class:`GatedSchedule`: a group that steps only on some iterations of a period (OneByOne's inner and outer
  loops, ADAGE's alternation). On iteration ``k`` with ``k mod period`` in ``active`` the group takes its
  ``n``-th step, ``c / (n + 1 + k0)^p``, ``n`` counting only its own steps; on the others its step size is 0
  (with SGD: no change; with Adam the optimiser still folds that iteration's gradient into its moments).
  Checkpoints keep ``c, p, k0`` (the base's format); the learner re-gates the schedules on loading.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..games.base import FiniteGame
from ..games.continuous import ContinuousGame
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


def check_stackelberg_game(game, algo: str, continuous_ok: bool = False) -> None:
    """Refuse what ``algo`` cannot run, naming what works."""
    if isinstance(game, ContinuousGame) and not continuous_ok:
        raise ValueError(f"algo {algo} is implemented for finite games; {game.name} is continuous (finite "
                         f"Stackelberg games: {', '.join(stackelberg_games())}; continuous games: "
                         "algo=ac_smfg_continuous)")
    if isinstance(game, FiniteGame) and game.is_nash:
        raise ValueError(f"algo {algo} is a Stackelberg (bi-level) baseline, and {game.name} is a Nash MFG (one leader "
                         f"action): nothing for its leader to learn. It runs on the finite Stackelberg games "
                         f"({', '.join(stackelberg_games())}); for a Nash MFG use algo=ac_smfg or `deep-smfg solve`")


def stackelberg_games() -> list[str]:
    """The built-in finite games whose default configuration has more than one leader action."""
    from ..games import GAMES, make_game

    names = []
    for name in sorted(GAMES):
        try:
            if not make_game(name).is_nash:
                names.append(name)
        except ValueError:  # a game whose defaults need a parameter: not listed
            pass
    return names
