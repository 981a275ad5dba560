"""Online mirror descent (Perolat et al. 2022; docs/solvers.md) for a fixed leader, in its entropy-regularised form.

One iteration (:meth:`OnlineMirrorDescent.step`): the soft action value ``q_k`` of ``pi_k`` against the
population that ``pi_k`` induces, ``mu_k = Gamma(pi_k, phi, mu_k)``, then the regularised mirror step

    pi_{k+1}(a|s) ∝ pi_k(a|s)^(1 - eta tau) exp(eta q_k(s,a)),        mu_{k+1} = Gamma(pi_{k+1}, phi, mu_{k+1}).

The unregularised original accumulates ``y_{k+1} = y_k + eta q_k`` and plays ``softmax(y)``; the factor
``(1 - eta tau)`` is the entropy's share, and makes ``softmax(q / tau)`` (the regularised equilibrium's
follower) the fixed point. ``eta tau = 1`` is the undamped best-response iteration (the soft policy iteration
of the population's own values).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..exact import follower_mdp, induced_mean_field, mirror_step, soft_policy_evaluation
from ..games.base import FiniteGame
from .base import Solver, SolverState


@dataclass
class MirrorDescentState(SolverState):
    log_pi: Tensor  # [S, A]


class OnlineMirrorDescent(Solver):
    """``learning_rate``: eta, with ``0 < eta tau <= 1``. Default: configs/solver/mirror_descent.yaml."""

    name = "mirror_descent"

    def __init__(self, learning_rate: float = 0.1):
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        self.learning_rate = learning_rate

    def check(self, game: FiniteGame) -> None:
        if self.learning_rate * game.tau > 1:
            raise ValueError(f"learning_rate must be <= 1 / tau = {1 / game.tau:g}, got {self.learning_rate}")

    def init(self, game: FiniteGame, phi: Tensor) -> MirrorDescentState:
        phi = phi.detach()
        pi = game.uniform_follower(phi.dtype, phi.device)
        return MirrorDescentState(pi=pi, mu=induced_mean_field(game, pi, phi), phi=phi, log_pi=pi.log())

    @torch.no_grad()
    def step(self, game: FiniteGame, state: MirrorDescentState) -> MirrorDescentState:
        mdp = follower_mdp(game, state.phi, state.mu)
        q = soft_policy_evaluation(mdp.r_phi, mdp.P_phi, state.pi, game.gamma, game.tau).Q
        log_pi = mirror_step(state.log_pi, q, self.learning_rate, game.tau)
        pi = log_pi.exp()
        return MirrorDescentState(pi=pi, mu=induced_mean_field(game, pi, state.phi, mu0=state.mu), phi=state.phi,
                                  log_pi=log_pi)
