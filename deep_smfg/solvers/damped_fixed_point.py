"""The damped mean-field fixed point for a fixed leader (docs/solvers.md, docs/model.md "Lower level").

One step: ``mu_{k+1} = (1 - lambda) mu_k + lambda Gamma(BR(phi, mu_k), phi, mu_k)``, then
``pi_{k+1} = BR(phi, mu_{k+1})``; the iterates are exactly those of ``exact.solve_equilibrium``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..exact.equilibrium import FixedPointStep, damped_update, fixed_point_step
from ..games.base import FiniteGame
from .base import Solver, SolverState


@dataclass
class DampedFixedPointState(SolverState):
    step: FixedPointStep  # BR(phi, mu) and Gamma(BR(phi, mu), phi, mu) at this state's mu


class DampedFixedPoint(Solver):
    """``mu <- (1 - lambda) mu + lambda Gamma(BR(phi, mu), phi, mu)`` with ``lambda`` = ``damping``
    (``None``: the game's ``default_damping``); ``phi`` stays fixed."""

    name = "damped_fixed_point"

    def __init__(self, damping: float | None = None):
        if damping is not None and not 0 < damping <= 1:
            raise ValueError(f"damping must lie in (0, 1], got {damping}")
        self.damping = damping

    def init(self, game: FiniteGame, phi: Tensor) -> DampedFixedPointState:
        phi = phi.detach()
        return self._state(game, phi, game.uniform_mean_field(phi.dtype, phi.device), V0=None)

    def step(self, game: FiniteGame, state: DampedFixedPointState) -> DampedFixedPointState:
        damping = game.default_damping if self.damping is None else self.damping
        mu = damped_update(state.mu, state.step.induced, damping)
        return self._state(game, state.phi, mu, V0=state.step.best_response.V)

    def metrics(self, game: FiniteGame, state: DampedFixedPointState) -> dict[str, float]:
        return {"fixed_point_residual": state.step.residual}

    @staticmethod
    @torch.no_grad()
    def _state(game: FiniteGame, phi: Tensor, mu: Tensor, V0: Tensor | None) -> DampedFixedPointState:
        # The map is evaluated at the new mu right away, so that pi = BR(phi, mu) always holds in the state.
        step = fixed_point_step(game, phi, mu, V0=V0)
        return DampedFixedPointState(pi=step.best_response.pi, mu=mu, phi=phi, step=step)
