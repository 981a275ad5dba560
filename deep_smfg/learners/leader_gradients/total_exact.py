"""The total Stackelberg gradient from the exact model (finite games): the upper bound for any estimator.

At iteration ``k`` the leader's table ``phi_k[s, b] = softmax(omega_k(s))_b`` is handed to
``exact.stackelberg_gradient``, which solves the lower level *exactly* for ``phi_k`` and differentiates
``Phi(phi) = J_l(phi; pi*(phi), mu*(phi))`` implicitly (docs/model.md). The loss ``-sum_{s,b} G[s, b] phi[s, b]``
with ``G = dPhi/dphi(phi_k)`` held fixed has gradient ``-dPhi/domega`` in the leader's parameters.

Where it is evaluated: at the exact equilibrium ``(pi*(phi_k), mu*(phi_k))`` of the current leader, not at the
learned follower and mean field. ``dPhi/dphi`` is only defined there (the implicit function theorem
differentiates the equilibrium map), and it is the direction the learned lower level is converging to; the
learner's own follower and mean field still learn from samples and are measured as before. The exact solve
starts from the learned mean field (deterministic in the learner's state, so a resumed run stays identical), or
from the uniform one where that warm start fails.
Cost: one exact equilibrium and one Jacobian of size ``|S| + |Z|`` every ``REFRESH_EVERY`` iterations (the
leader moves on the slowest timescale, so ``G`` between refreshes is the gradient at a leader a few tiny steps
back; the chain rule through the current ``phi`` stays exact); no samples.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ... import exact
from ...exact.equilibrium import EquilibriumNotConverged
from ...modules.policies import policy_table
from ..kinds import Transition
from ..supports import Supports
from .base import LeaderGradient

REFRESH_EVERY = 10  # iterations between exact solves


class TotalExact(LeaderGradient):
    def __init__(self, game, **options) -> None:
        super().__init__()
        self.game = game
        self.grad: Tensor | None = None  # dPhi/dphi at the last refresh

    def losses(self, learner, t: Transition, delta_f: Tensor, delta_l: Tensor) -> dict[str, Tensor]:
        agents = learner.agents()  # the learner's declared face
        phi = policy_table(agents.leader)  # [S, B], differentiable in the leader's parameters
        if self.grad is None or int(learner.iteration) % REFRESH_EVERY == 0:
            mu0 = agents.mean_field().detach().to(device="cpu", dtype=torch.float64)
            phi64 = phi.detach().to(device="cpu", dtype=torch.float64)
            phi64 = phi64 / phi64.sum(-1, keepdim=True)  # rows of a float32 softmax sum to 1 only to ~1e-7
            try:
                self.grad = exact.stackelberg_gradient(self.game, phi64, mu0=mu0).total
            except EquilibriumNotConverged:  # the warm start, not the game: a learned mean field with empty cells
                # (the simplex projection makes exact zeros) can make the best response's chain reducible under
                # crowd-averse rewards (shop_positioning); the equilibrium is unique, so the cold start finds it
                self.grad = exact.stackelberg_gradient(self.game, phi64).total
        return {"leader": -(self.grad.to(phi) * phi).sum()}

    def chain_state(self) -> dict[str, Tensor] | None:  # so that a resumed run refreshes where this one would
        return None if self.grad is None else {"grad": self.grad.clone()}

    def load_chain_state(self, state: dict[str, Tensor] | None) -> None:
        self.grad = None if state is None else state["grad"]


ESTIMATOR = TotalExact
SUPPORTS = Supports(continuous=False)  # the exact solvers read a finite game's tensors
