"""Exact MF-TRPO (seed 002, docs/solvers.md): K regularised TRPO steps on the follower at a frozen
population, then one damped move of the population along M steps of its own chain.

Outer iteration ``p`` (one :meth:`MFTRPO.step`), for the leader ``phi`` held fixed:

* inner loop, ``k = 0 .. K-1``, at the frozen ``mu_p``: ``q_k`` the soft action value of ``pi_k`` (exact
  policy evaluation, ``tau`` the game's entropy weight) and
  ``pi_{k+1}(a|s) ∝ pi_k(a|s)^(1 - tau / (eta (k+2))) exp(q_k(s,a) / (eta (k+2)))``, started from the previous
  outer iteration's policy (``k`` restarts at 0);
* population: ``d_{p+1} = d_p + beta (d_p K^M - d_p)`` with ``K`` the state kernel of ``pi_{p+1}`` at ``mu_p``,
  and ``mu_{p+1}`` the law of ``z = g(s, a, b)`` under ``d_{p+1}``, ``pi_{p+1}``, ``phi``.

The slide writes ``+ lambda log pi_k`` inside the exponential; with ``q`` a reward to maximise that
stalls, and the sign above (docs/model.md §4) is the one whose fixed point is the soft best response.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..exact import follower_mdp, mean_field_of, mirror_step, soft_policy_evaluation, state_kernel
from ..games.base import FiniteGame
from .base import Solver, SolverState


@dataclass
class MFTRPOState(SolverState):
    log_pi: Tensor  # [S, A] log pi (the TRPO step works in logs)
    d: Tensor  # [S] the population's state law


class MFTRPO(Solver):
    """``eta``: the proximity weight (inner step ``1 / (eta (k+2))``; needs ``eta >= tau / 2``); ``inner_steps``: K;
    ``population_step``: beta in (0, 1]; ``kernel_power``: M >= 1. Defaults: configs/solver/mf_trpo.yaml."""

    name = "mf_trpo"

    def __init__(self, eta: float = 1.0, inner_steps: int = 1, population_step: float = 0.5, kernel_power: int = 5):
        if eta <= 0:
            raise ValueError(f"eta must be > 0, got {eta}")
        if inner_steps < 1 or kernel_power < 1:
            raise ValueError(f"inner_steps and kernel_power must be >= 1, got {inner_steps} and {kernel_power}")
        if not 0 < population_step <= 1:
            raise ValueError(f"population_step must lie in (0, 1], got {population_step}")
        self.eta, self.inner_steps = eta, inner_steps
        self.population_step, self.kernel_power = population_step, kernel_power

    def check(self, game: FiniteGame) -> None:
        if self.eta < game.tau / 2:
            raise ValueError(f"eta must be >= tau / 2 = {game.tau / 2:g} (the first inner step 1 / (2 eta) times "
                             f"tau must not exceed 1), got {self.eta}")

    def init(self, game: FiniteGame, phi: Tensor) -> MFTRPOState:
        phi = phi.detach()
        pi = game.uniform_follower(phi.dtype, phi.device)
        d = torch.full((game.n_states,), 1.0 / game.n_states, dtype=phi.dtype, device=phi.device)
        return MFTRPOState(pi=pi, mu=mean_field_of(game, d, pi, phi), phi=phi, log_pi=pi.log(), d=d)

    @torch.no_grad()
    def step(self, game: FiniteGame, state: MFTRPOState) -> MFTRPOState:
        mdp = follower_mdp(game, state.phi, state.mu)
        log_pi = state.log_pi
        for k in range(self.inner_steps):
            q = soft_policy_evaluation(mdp.r_phi, mdp.P_phi, log_pi.exp(), game.gamma, game.tau).Q
            log_pi = mirror_step(log_pi, q, 1.0 / (self.eta * (k + 2)), game.tau)
        pi = log_pi.exp()
        moved = state.d @ torch.linalg.matrix_power(state_kernel(mdp.P, pi, state.phi), self.kernel_power)
        d = state.d + self.population_step * (moved - state.d)
        return MFTRPOState(pi=pi, mu=mean_field_of(game, d, pi, state.phi), phi=state.phi, log_pi=log_pi, d=d)
