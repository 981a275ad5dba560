"""The exact-model solver protocol and the one loop that runs every solver (docs/solvers.md).

A solver iterates on a finite game's exact model: ``state_{k+1} = step(game, state_k)``, each state
holding the follower policy ``pi[s, a]``, the mean field ``mu[z]`` and the leader ``phi[s, b]``.
Lower-level (Nash) solvers keep ``phi`` fixed; Stackelberg solvers move it.

:func:`run_solver` records, on every ``record_every``-th step (and the last one):

* ``exploitability = exact.follower_exploitability(game, pi_k, phi_k)`` (docs/model.md, Metrics): what a
  follower gains by deviating from ``pi_k`` when the population plays ``pi_k``;
* ``quality = exact.quality(game, pi_k, phi_k, mu_k)``: what a follower gains by deviating from ``pi_k`` when the
  population is the state's own ``mu_k`` (seed 002's "quality");
* ``mean_field_gap = ||mu_k - mu_bar(pi_k)||_1``, ``mu_bar = Gamma(pi_k, phi_k, mu_bar)`` the mean field that
  ``pi_k`` induces: ``(pi_k, mu_k)`` is an equilibrium exactly when both this and the exploitability vanish;
* ``mean_field_delta = ||mu_k - mu_{k-1}||_1``;
* ``leader_objective = Phi(phi_k)`` and ``leader_return = J_l(phi_k; pi_k, mu_k)`` (Stackelberg games only);
* the solver's own diagnostics (:meth:`Solver.metrics`) and ``wall_time``, the seconds spent in
  ``init`` and ``step`` so far (metrics excluded);

and stops after the first recorded step whose exploitability is below ``tol`` (and, when
``mean_field_tol`` is given, whose ``mean_field_gap`` is below it: the exploitability judges the policy
alone, and a damped mean field can lag far behind a policy that is already optimal).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from .. import exact
from ..games.base import FiniteGame


def default_tols(dtype: torch.dtype) -> tuple[float, float]:
    """``(tol, mean_field_tol)`` for ``deep-smfg solve``: just above the round-off floors of ``dtype``
    (the exploitability is quadratic in the distance to the equilibrium, the gap linear)."""
    return (1e-12, 1e-10) if dtype == torch.float64 else (1e-5, 1e-4)


@dataclass
class SolverState:
    """What every solver exposes; a solver subclasses it for its own fields (warm starts, averages, ...)."""

    pi: Tensor  # [S, A] the current follower policy
    mu: Tensor  # [Z] the current mean field
    phi: Tensor  # [S, B] the current leader (fixed by lower-level solvers)


class Solver(ABC):
    """An exact-model iterative solver. ``step`` returns a new state and never modifies its argument
    (the loop keeps the previous ``mu`` to measure the step)."""

    name: ClassVar[str]  # the config's name: configs/solver/<name>.yaml

    @abstractmethod
    def init(self, game: FiniteGame, phi: Tensor) -> SolverState:
        """The state before the first step, for the starting leader ``phi``."""

    @abstractmethod
    def step(self, game: FiniteGame, state: SolverState) -> SolverState:
        """One iteration."""

    def check(self, game: FiniteGame) -> None:
        """Raise ``ValueError`` if this solver's parameters do not suit ``game`` (called before anything is written)."""
        return None

    def metrics(self, game: FiniteGame, state: SolverState) -> dict[str, float]:
        """Solver-specific scalars recorded next to the shared ones (the same keys at every step)."""
        return {}


@dataclass
class SolverResult:
    state: SolverState  # the final state
    history: list[dict[str, float]]  # one row per recorded step
    iterations: int  # steps taken
    converged: bool  # the stopping test held at the last recorded step
    seconds: float  # wall time of init and the steps (metrics excluded)

    @property
    def final_exploitability(self) -> float:
        return self.history[-1]["exploitability"]


class _LeaderObjective:
    """``Phi(phi)``, recomputed only when ``phi`` moves: a lower-level solver pays for it once."""

    def __init__(self, game: FiniteGame):
        self.game, self.phi, self.value = game, None, math.nan

    def __call__(self, phi: Tensor) -> float:
        if self.phi is None or not torch.equal(self.phi, phi):
            self.phi, self.value = phi.detach().clone(), exact.leader_objective(self.game, phi)
        return self.value


def run_solver(
    solver: Solver,
    game: FiniteGame,
    phi: Tensor,
    iterations: int,
    tol: float | None = None,
    mean_field_tol: float | None = None,
    record_every: int = 1,
) -> SolverResult:
    """Run ``solver`` from leader ``phi`` for at most ``iterations`` steps; ``tol=None`` never stops early.

    Metrics are computed on the recorded steps only, so early stopping is checked there too.
    """
    if iterations < 1 or record_every < 1:
        raise ValueError(f"iterations and record_every must be >= 1, got {iterations} and {record_every}")
    solver.check(game)
    phi_objective = None if game.is_nash else _LeaderObjective(game)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    state = solver.init(game, phi)
    seconds = time.perf_counter() - t0
    converged = False
    for k in range(1, iterations + 1):
        t0 = time.perf_counter()
        previous, state = state, solver.step(game, state)
        seconds += time.perf_counter() - t0
        if k % record_every and k < iterations:
            continue
        with torch.no_grad():
            mu_bar = exact.induced_mean_field(game, state.pi, state.phi)
        row = {"iteration": k,
               # exact.follower_exploitability's own formula, sharing mu_bar with the gap
               "exploitability": exact.quality(game, state.pi, state.phi, mu_bar),
               "quality": exact.quality(game, state.pi, state.phi, state.mu),
               "mean_field_gap": exact.mean_field_error(state.mu, mu_bar),
               "mean_field_delta": exact.mean_field_error(state.mu, previous.mu)}
        if phi_objective is not None:
            row["leader_objective"] = phi_objective(state.phi)
            with torch.no_grad():
                row["leader_return"] = float(exact.leader_return(game, state.phi, state.pi, state.mu))
        row.update(solver.metrics(game, state))
        row["wall_time"] = seconds
        history.append(row)
        converged = (tol is not None and row["exploitability"] < tol
                     and (mean_field_tol is None or row["mean_field_gap"] < mean_field_tol))
        if converged:
            break
    return SolverResult(state=state, history=history, iterations=k, converged=converged, seconds=seconds)
