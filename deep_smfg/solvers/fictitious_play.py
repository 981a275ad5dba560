"""Fictitious play (Perrin et al. 2020, discrete time; docs/solvers.md) for a fixed leader.

Iteration ``j`` (one :meth:`FictitiousPlay.step`): the soft best response to the averaged mean field,
``beta_j = BR(phi, mu_bar_j)``, the mean field it induces, ``mu_j = Gamma(beta_j, phi, mu_bar_j)``, and the averages

    mu_bar_{j+1} = (1 - w_j) mu_bar_j + w_j mu_j,      N_{j+1}(s, a) = (1 - w_j) N_j(s, a) + w_j d_j(s) beta_j(a|s),

with ``w_j = 1 / (j + 1)`` and ``d_j`` the stationary state law under ``beta_j``. The reported policy is the
average policy ``pi_bar(a|s) = N(s, a) / sum_a N(s, a)``: the mixture of the past best responses weighted by how
often each visits ``s``, whose stationary law is the average of theirs (exactly, when the transition does not
read ``mu``), so that ``Gamma(pi_bar) = mu_bar``. The start (``j = 0``) is the uniform policy and its mean field.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..exact import follower_mdp, mean_field_of, soft_best_response, state_kernel, stationary_distribution
from ..games.base import FiniteGame
from .base import Solver, SolverState


@dataclass
class FictitiousPlayState(SolverState):
    occupancy: Tensor  # [S, A] N: the averaged state-action law of the past best responses
    iteration: int  # j
    V: Tensor | None  # the last best response's soft values (the next warm start)


class FictitiousPlay(Solver):
    """Fictitious play with averaging weights ``1 / (j + 1)``; no parameters."""

    name = "fictitious_play"

    def init(self, game: FiniteGame, phi: Tensor) -> FictitiousPlayState:
        phi = phi.detach()
        pi = game.uniform_follower(phi.dtype, phi.device)
        mu, occupancy = self._mean_field(game, pi, phi, game.uniform_mean_field(phi.dtype, phi.device))
        return FictitiousPlayState(pi=pi, mu=mu, phi=phi, occupancy=occupancy, iteration=0, V=None)

    @torch.no_grad()
    def step(self, game: FiniteGame, state: FictitiousPlayState) -> FictitiousPlayState:
        mdp = follower_mdp(game, state.phi, state.mu)
        br = soft_best_response(mdp.r_phi, mdp.P_phi, game.gamma, game.tau, V0=state.V)
        mu_j, occupancy_j = self._mean_field(game, br.pi, state.phi, state.mu)
        w = 1.0 / (state.iteration + 2)  # the start counts as j = 0: mu_bar_1 = (mu_0 + mu_1) / 2
        mu = (1 - w) * state.mu + w * mu_j
        occupancy = (1 - w) * state.occupancy + w * occupancy_j
        visits = occupancy.sum(-1, keepdim=True)
        pi = torch.where(visits > 0, occupancy / visits.clamp_min(torch.finfo(visits.dtype).tiny), br.pi)
        return FictitiousPlayState(pi=pi, mu=mu, phi=state.phi, occupancy=occupancy, iteration=state.iteration + 1,
                                   V=br.V)

    @staticmethod
    def _mean_field(game: FiniteGame, pi: Tensor, phi: Tensor, mu: Tensor) -> tuple[Tensor, Tensor]:
        """``Gamma(pi, phi, mu)`` and the state-action law ``d(s) pi(a|s)`` behind it."""
        d = stationary_distribution(state_kernel(game.transition_tensor(mu), pi, phi))
        return mean_field_of(game, d, pi, phi), d[:, None] * pi
