"""OneByOne, the AC-SMFG paper's nested-loop baseline (docs/model.md section 4), reconstructed on AC-SMFG's updates.

Freeze the leader, run the lower level (both critics, follower, mean field) for ``inner_iterations``
iterations, then take one leader step, and repeat. Every iteration is one AC-SMFG iteration (the same chains,
``N`` samples on each, the same losses: :class:`~deep_smfg.learners.ac_smfg.ACSMFG`); what changes is which
groups step. With period ``T = inner_iterations + leader_iterations``, iteration ``k`` with
``k mod T < inner_iterations`` is a lower-level iteration (the leader's step size is 0) and the others are leader
iterations (the lower level's step sizes are 0): the leader's step is estimated from that iteration's fresh
samples, against the frozen follower, mean field and critics (``algo.leader_gradient``; the paper's
``partial``: ``omega += zeta_n delta_l grad log phi(b|s)``).

Reconstruction choices (the paper gives no detail):

* "to convergence" is a fixed budget, ``inner_iterations``: a convergence test on sampled losses would be a
  noisy stopping rule, and a fixed budget makes the samples per leader step known in advance.
* The lower level is warm-started (it continues from where it stopped) and its step sizes decay with its own
  step count ``n``: ``c / (n + 1 + k0)^p``; the leader's ``n``-th step is ``c_l / (n + 1 + k0)^p``, ``n`` its own
  count, so its constant must be larger than AC-SMFG's to move as far in the same number of samples
  (``configs/algo/one_by_one.yaml``).
* ``leader_iterations > 1`` makes each "leader step" that many consecutive leader-only iterations (a
  mini-batch of ``leader_iterations x N`` samples, the leader's count advancing each time).

Samples: every iteration draws ``N`` transitions on each chain, as AC-SMFG does, so ``iteration x n_envs`` is
the honest sample count; the critics, follower and mean field stand still on leader iterations.
"""

from __future__ import annotations

from ..games.base import FiniteGame
from ..games.continuous import ContinuousGame
from .ac_smfg import ACSMFG
from .kinds import ModelSpec
from .phased import gate
from .schedules import ordered
from .supports import Supports

LOWER = ("critic", "follower", "mean_field")  # the lower level's groups


class OneByOne(ACSMFG):
    ALGO = "one_by_one"
    SUPPORTS = Supports(nash=False)  # a bi-level method: a leader with a choice

    def __init__(self, game: FiniteGame | ContinuousGame, model: ModelSpec | None = None, *, step_sizes,
                 inner_iterations: int = 100, leader_iterations: int = 1, **learner):
        if inner_iterations < 1 or leader_iterations < 1:
            raise ValueError(f"inner_iterations and leader_iterations must be >= 1, got {inner_iterations}, "
                             f"{leader_iterations}")
        if "allow_any_step_order" in learner:  # not silently dropped: the option means nothing here
            raise ValueError("one_by_one's leader runs on its own clock, so the four-timescale order is not checked: "
                             "remove algo.allow_any_step_order")
        super().__init__(game, model, step_sizes=step_sizes, allow_any_step_order=True, **learner)
        # the lower level keeps its order mean_field <= follower <= critic
        for slow, fast in (("mean_field", "follower"), ("follower", "critic")):
            if self.optimizer_names[slow] == self.optimizer_names[fast] and not ordered(self.schedules[slow],
                                                                                       self.schedules[fast]):
                raise ValueError(f"step sizes break the lower level's order mean_field <= follower <= critic: {slow} "
                                 f"exceeds {fast} for some k")
        self.inner_iterations, self.leader_iterations = int(inner_iterations), int(leader_iterations)
        self._gate_schedules()

    def _gate_schedules(self) -> None:
        period = self.inner_iterations + self.leader_iterations
        inner, outer = range(self.inner_iterations), range(self.inner_iterations, period)
        self.schedules = {name: gate(s, period, outer if name == "leader" else inner) if name in LOWER + ("leader",)
                          else s for name, s in self.schedules.items()}

    def leader_steps(self) -> int:
        """Leader steps taken so far (outer iterations, times ``leader_iterations``)."""
        return self.schedules["leader"].steps_before(int(self.iteration))

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self._gate_schedules()
