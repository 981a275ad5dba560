"""The paper's leader gradient: the *partial* gradient of ``J_l`` with the follower and the mean field frozen.

Policy gradient with the leader critic's TD error as the advantage:
``omega += zeta_k delta_l grad_omega log phi_omega(b | s)``, i.e. SGD on ``-delta_l log phi(b | s)``.
Blind to how the population answers the leader (docs/stackelberg_gradient.md).
"""

from __future__ import annotations

from torch import Tensor

from ..kinds import Transition
from ..supports import Supports
from .base import LeaderGradient


class Partial(LeaderGradient):
    def __init__(self, game, **options) -> None:  # every game supports it
        super().__init__()

    def losses(self, learner, t: Transition, delta_f: Tensor, delta_l: Tensor) -> dict[str, Tensor]:
        return {"leader": -(delta_l * t.logp_l).mean()}


ESTIMATOR = Partial
SUPPORTS = Supports()  # any game
