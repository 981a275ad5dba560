"""The paper's leader gradient: the *partial* gradient of ``J_l`` with the follower and the mean field frozen.

Policy gradient with the leader critic's TD error as the advantage:
``omega += zeta_k delta_l grad_omega log phi_omega(b | s)``, i.e. SGD on ``-delta_l log phi(b | s)``.
Blind to how the population answers the leader (docs/model.md, "when the partial gradient is blind").
"""

from __future__ import annotations

from torch import Tensor

from ..kinds import Transition


class Partial:
    def __init__(self, game) -> None:  # every game supports it
        pass

    def loss(self, learner, t: Transition, delta_l: Tensor) -> Tensor:
        return -(delta_l * t.logp_l).mean()


ESTIMATOR = Partial
