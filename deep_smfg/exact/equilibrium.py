"""The induced mean field and the regularised mean field equilibrium for a fixed leader.

* Induced mean field ``Gamma(pi, phi, mu)(z) = sum_s d(s) sum_{a,b} pi(a|s) phi(b|s) g(z|s,a,b)``,
  with ``d`` the stationary law of ``K(s'|s) = sum_{a,b} pi phi P(s'|s,a,b,mu)``.
* Equilibrium ``(pi*, mu*)``: ``pi* = BR(phi, mu*)`` and ``mu* = Gamma(pi*, phi, mu*)``, found by the
  damped fixed point ``mu <- (1 - lambda) mu + lambda Gamma(BR(phi, mu), phi, mu)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..games.base import FiniteGame
from .markov import StationaryDistributionError, leader_averaged, state_kernel, stationary_distribution
from .soft_bellman import SoftValues, soft_best_response


class EquilibriumNotConverged(RuntimeError):
    """The damped fixed point did not reach its tolerance; the message names the residual."""

    def __init__(self, message: str, residual: float):
        super().__init__(message)
        self.residual = residual


@dataclass
class FollowerMDP:
    """The follower's MDP for a fixed leader and mean field: ``r_phi[s, a]``, ``P_phi[s, a, s']``."""

    r_phi: Tensor
    P_phi: Tensor
    P: Tensor  # the full kernel [S, A, B, S], kept for Gamma


def follower_mdp(game: FiniteGame, phi: Tensor, mu: Tensor) -> FollowerMDP:
    P = game.transition_tensor(mu)
    return FollowerMDP(r_phi=leader_averaged(game.reward_f_tensor(mu), phi), P_phi=leader_averaged(P, phi), P=P)


def mean_field_of(game: FiniteGame, d: Tensor, pi: Tensor, phi: Tensor) -> Tensor:
    """The law of ``z = g(s,a,b)`` with ``s ~ d``, ``a ~ pi``, ``b ~ phi``: a state law seen as a mean field."""
    return torch.einsum("s,sa,sb,sabz->z", d, pi, phi, game.g_tensor(pi))


def gamma_map(game: FiniteGame, pi: Tensor, phi: Tensor, P: Tensor, check: bool = True) -> Tensor:
    """``Gamma``: the law of ``z = g(s,a,b)`` with ``s ~ d`` stationary under ``P``, ``a ~ pi``, ``b ~ phi``."""
    return mean_field_of(game, stationary_distribution(state_kernel(P, pi, phi), check=check), pi, phi)


def induced_mean_field(
    game: FiniteGame, pi: Tensor, phi: Tensor, mu0: Tensor | None = None, tol: float | None = None, max_iter: int = 1000
) -> Tensor:
    """``mu_bar = Gamma(pi, phi, mu_bar)``: the mean field that the population playing ``pi`` induces.

    When the transition does not read ``mu`` this is one evaluation of ``Gamma``; otherwise the fixed
    point in ``mu`` is iterated (with the game's default damping).
    """
    mu = game.uniform_mean_field(pi.dtype, pi.device) if mu0 is None else mu0
    if not game.transition_depends_on_mu:
        return gamma_map(game, pi, phi, game.transition_tensor(mu))
    tol = _default_tol(pi.dtype) if tol is None else tol
    lam = game.default_damping
    for _ in range(max_iter):
        new = gamma_map(game, pi, phi, game.transition_tensor(mu))
        residual = (new - mu).abs().sum().item()
        if residual < tol:
            return new
        mu = (1 - lam) * mu + lam * new
    raise EquilibriumNotConverged(
        f"induced mean field: residual ||Gamma(mu) - mu||_1 = {residual:.3e} after {max_iter} iterations", residual
    )


@dataclass
class Equilibrium:
    """A regularised MFE for a fixed leader ``phi``."""

    pi: Tensor  # [S, A] the follower's soft best response to mu
    mu: Tensor  # [Z]
    values: SoftValues  # the follower's soft-optimal values at mu
    residual: float  # ||Gamma(pi, phi, mu) - mu||_1 at exit
    iterations: int


def _default_tol(dtype: torch.dtype) -> float:
    return 1e-11 if dtype == torch.float64 else 1e-5


@dataclass
class FixedPointStep:
    """One evaluation of the fixed-point map at ``mu``: ``BR(phi, mu)`` and ``Gamma(BR(phi, mu), phi, mu)``."""

    best_response: SoftValues  # .pi = BR(phi, mu), .V its soft values (the next warm start)
    induced: Tensor  # Gamma(BR(phi, mu), phi, mu), [Z]
    residual: float  # ||Gamma(BR(phi, mu), phi, mu) - mu||_1


def fixed_point_step(game: FiniteGame, phi: Tensor, mu: Tensor, V0: Tensor | None = None) -> FixedPointStep:
    """``BR(phi, mu)`` (warm-started from ``V0``) and the mean field it induces; raises
    :class:`StationaryDistributionError` when the chain it induces has no unique stationary law."""
    mdp = follower_mdp(game, phi, mu)
    br = soft_best_response(mdp.r_phi, mdp.P_phi, game.gamma, game.tau, V0=V0)
    new = gamma_map(game, br.pi, phi, mdp.P)
    return FixedPointStep(best_response=br, induced=new, residual=(new - mu).abs().sum().item())


def damped_update(mu: Tensor, induced: Tensor, damping: float) -> Tensor:
    """``(1 - lambda) mu + lambda Gamma``: one damped move of the mean field towards the induced one."""
    return (1 - damping) * mu + damping * induced


def solve_equilibrium(
    game: FiniteGame,
    phi: Tensor,
    damping: float | None = None,
    tol: float | None = None,
    max_iter: int = 5000,
    mu0: Tensor | None = None,
) -> Equilibrium:
    """The regularised mean field equilibrium for leader ``phi`` by a damped fixed point.

    Raises :class:`EquilibriumNotConverged` (naming the residual) when ``||Gamma(mu) - mu||_1`` is
    still above ``tol`` after ``max_iter`` iterations.
    """
    damping = game.default_damping if damping is None else damping
    if not 0 < damping <= 1:
        raise ValueError(f"damping must lie in (0, 1], got {damping}")
    tol = _default_tol(phi.dtype) if tol is None else tol
    with torch.no_grad():
        phi = phi.detach()
        mu = game.uniform_mean_field(phi.dtype, phi.device) if mu0 is None else mu0.detach().clone()
        V = None
        residual = float("inf")
        for it in range(1, max_iter + 1):
            try:
                step = fixed_point_step(game, phi, mu, V0=V)
            except StationaryDistributionError as exc:  # an iterate so extreme the chain degenerates
                raise EquilibriumNotConverged(
                    f"{game.name}: the mean-field fixed point diverged at iteration {it} (last residual "
                    f"||Gamma(mu) - mu||_1 = {residual:.3e}, damping {damping}): {exc}; try a smaller damping",
                    residual,
                ) from exc
            V, residual = step.best_response.V, step.residual
            if residual < tol:
                return Equilibrium(pi=step.best_response.pi, mu=mu, values=step.best_response, residual=residual,
                                   iterations=it)
            mu = damped_update(mu, step.induced, damping)
    raise EquilibriumNotConverged(
        f"{game.name}: the mean-field fixed point did not converge: residual ||Gamma(mu) - mu||_1 = "
        f"{residual:.3e} > tol {tol:.1e} after {max_iter} iterations with damping {damping}; "
        "try a smaller damping, more iterations or a larger tau",
        residual,
    )
