"""What a leader-gradient estimator is: the loss of step 7 of docs/ac_smfg.md.

``loss(learner, t, delta_l)`` is a scalar whose gradient in the leader's parameters is minus the estimated
ascent direction of the leader objective (targets detached, so the learner's single backward pass stays
exact). ``t`` is the iteration's :class:`~deep_smfg.learners.kinds.Transition`; ``delta_l`` the leader
critic's TD error at it (detached). An estimator that a game cannot support raises ``ValueError`` in its
constructor, saying why.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor

from ..kinds import Transition


class LeaderGradient(Protocol):
    def loss(self, learner, t: Transition, delta_l: Tensor) -> Tensor: ...
