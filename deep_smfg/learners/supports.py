"""What a learner or a leader-gradient estimator runs on, declared and checked in one place.

Each learner class declares ``SUPPORTS`` and each estimator module (``leader_gradients/<name>.py``) ``SUPPORTS``, a
:class:`Supports`; :func:`check` compares it with the :class:`Setting` of the game and config at hand (computed
here, the one place that reads a game's kind and flags for this) and refuses with what is missing and, from the
candidates, what works. :func:`deep_smfg.config.build_learner` checks the learner (candidates: the learner configs
of ``configs/algo/``); :func:`~.leader_gradients.make_leader_gradient` the estimator (candidates: every estimator).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Supports:
    """What runs: ``finite``/``continuous`` games; ``nash``: games whose leader has one action (a Nash MFG, nothing
    for a bi-level method to learn); ``transition_reads_mean_field``; ``reads_density``: continuous rewards that read
    the mean field's density; ``reward_centering`` (AC-SMFG's centred follower reward); ``without_restart``:
    ``algo.occupancy_restart=false``; ``policies``: the ``model.policy`` kinds it takes (empty: any)."""

    finite: bool = True
    continuous: bool = True
    nash: bool = True
    transition_reads_mean_field: bool = True
    reads_density: bool = True
    reward_centering: bool = True
    without_restart: bool = True
    policies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setting:
    """The facts about a game and a config that :class:`Supports` are checked against."""

    finite: bool
    nash: bool
    transition_reads_mean_field: bool
    reads_density: bool
    reward_centering: bool
    occupancy_restart: bool
    policy: str

    @classmethod
    def of(cls, game, policy: str, reward_centering: bool = False, occupancy_restart: bool = True) -> Setting:
        return cls(finite=game.KIND == "finite", nash=game.is_nash,
                   transition_reads_mean_field=game.transition_reads_mean_field, reads_density=game.reads_density,
                   reward_centering=bool(reward_centering), occupancy_restart=bool(occupancy_restart),
                   policy=str(policy))


def missing(supports: Supports, setting: Setting) -> list[str]:
    """What of ``setting`` ``supports`` lacks, in words (empty: it runs)."""
    out = []
    if setting.finite and not supports.finite:
        out.append("finite games")
    if not setting.finite and not supports.continuous:
        out.append("continuous games")
    if setting.nash and not supports.nash:
        out.append("Nash MFGs (a leader with one action: nothing to learn for a bi-level method)")
    if setting.transition_reads_mean_field and not supports.transition_reads_mean_field:
        out.append("transitions that read the mean field")
    if setting.reads_density and not supports.reads_density:
        out.append("rewards that read the mean field's density")
    if setting.reward_centering and not supports.reward_centering:
        out.append("reward_centering=true")
    if not setting.occupancy_restart and not supports.without_restart:
        out.append("occupancy_restart=false")
    if supports.policies and setting.policy not in supports.policies:
        out.append(f"model.policy={setting.policy} (it takes {', '.join(supports.policies)})")
    return out


def check(what: str, supports: Supports, setting: Setting, candidates: Mapping[str, Supports], game_name: str,
          runs: Callable[[str], bool] = lambda name: True) -> None:
    """Raise ``ValueError`` naming what ``what`` does not support here, and which ``candidates`` would run (those whose
    supports cover ``setting`` and for which ``runs(name)``, a further check such as building it, holds)."""
    lacking = missing(supports, setting)
    if lacking:
        working = working_options(setting, candidates, runs)
        raise ValueError(f"{what} does not support {'; '.join(lacking)}, on {game_name}; options that work there: "
                         f"{', '.join(working) or 'none'}")


def working_options(setting: Setting, candidates: Mapping[str, Supports],
                    runs: Callable[[str], bool] = lambda name: True) -> list[str]:
    """The ``candidates`` that support ``setting`` (and pass ``runs``)."""
    return [name for name, s in candidates.items() if not missing(s, setting) and runs(name)]
