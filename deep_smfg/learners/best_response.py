"""A learned best response: the follower's actor-critic against a frozen leader and a frozen mean field.

Used to estimate follower exploitability on continuous games (docs/model.md, metrics): copy the learner,
set the mean field to ``mu_bar`` (what the current follower policy induces), freeze the leader and the
mean field (step size 0), and run the same AC-SMFG iterations for a set budget. The critics and the
follower keep their schedules (unless ``step_sizes`` replaces them), restarted at ``k = 0``; the follower starts
from the current policy.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..games.continuous import ContinuousGame
from .ac_smfg import ACSMFG
from .schedules import PowerSchedule

FROZEN = ("leader", "mean_field")  # the groups a best response never moves


def train_best_response(learner: ACSMFG, mean: torch.Tensor, iterations: int, seed: int = 12345,
                        game: ContinuousGame | None = None, n_envs: int | None = None, *,
                        step_sizes: Mapping[str, PowerSchedule] | None = None) -> ACSMFG:
    """A copy of ``learner`` whose follower was trained ``iterations`` iterations against ``(phi_k, mean)``.

    ``game``: another game with the learner's spaces to train on (default: the learner's), e.g. the deviator's
    problem among ``n`` players (:mod:`deep_smfg.evaluation.n_player_deviation`). ``n_envs``: chains per iteration
    (default: the learner's). ``step_sizes``: schedules that replace the learner's for the ``critic`` and/or
    ``follower`` groups (default: none replaced; the leader and the mean field stay frozen at 0). The copy can
    train on: ``br.run_standalone(more)``."""
    overrides = dict(step_sizes or {})
    if not set(overrides) <= {"critic", "follower"}:
        raise ValueError(f"step_sizes may replace only the critic and follower schedules (the leader and the mean "
                         f"field are frozen), got {sorted(overrides)}")
    step_sizes = dict(learner.schedules, **overrides, **{name: PowerSchedule(0.0) for name in FROZEN})
    game = learner.game if game is None else game
    br = ACSMFG(game, learner.model_spec, step_sizes=step_sizes, optimizer=learner.optimizer_names,
                allow_any_step_order=True, n_envs=n_envs or learner.n_envs, occupancy_restart=learner.occupancy_restart,
                reward_centering=learner.reward_centering, seed=seed)
    br.load_agents(learner.agents())  # the learner's declared face: policies, mean field, critics (if any)
    br.to(device=learner.device, dtype=next(learner.parameters()).dtype)
    with torch.no_grad():
        br.mean_field.set_mean_(mean)
        br.iteration.zero_()
    br.run_standalone(iterations)
    return br
