"""A reference leader optimum ``Phi*`` by multi-start exact gradient ascent on ``Phi``.

The leader is a tabular softmax ``phi = softmax(omega)``; each start runs Adam on ``omega`` along
the exact Stackelberg gradient (implicit differentiation through the equilibrium), warm-starting
each equilibrium solve from the last mean field. The best ``Phi`` seen is a reference, not a proof
of global optimality (``Phi`` is not concave in general).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..games.base import FiniteGame
from .stackelberg import leader_objective, logit_gradient, stackelberg_gradient


@dataclass
class LeaderOptimum:
    value: float  # Phi*
    phi: Tensor  # the best leader policy found, [S, B]
    start_values: list[float] = field(default_factory=list)  # best Phi of each start
    curves: list[list[float]] = field(default_factory=list)  # Phi along each ascent


def reference_leader_optimum(
    game: FiniteGame,
    n_starts: int = 4,
    n_steps: int = 150,
    lr: float = 0.1,
    seed: int = 0,
    init_scale: float = 1.0,
    dtype: torch.dtype = torch.float64,
    gradient: str = "total",
) -> LeaderOptimum:
    """Run ``n_starts`` ascents (the first from the uniform leader, the rest from random logits).

    ``gradient="partial"`` follows AC-SMFG's partial gradient instead (for comparisons).
    """
    if gradient not in ("total", "partial"):
        raise ValueError(f"gradient must be 'total' or 'partial', got {gradient!r}")
    if game.is_nash:
        phi = game.uniform_leader(dtype)
        value = leader_objective(game, phi)
        return LeaderOptimum(value=value, phi=phi, start_values=[value], curves=[[value]])
    gen = torch.Generator().manual_seed(seed)
    best = LeaderOptimum(value=-float("inf"), phi=game.uniform_leader(dtype))
    for start in range(n_starts):
        omega = torch.zeros(game.n_states, game.n_leader_actions, dtype=dtype)
        if start > 0:
            omega = init_scale * torch.randn(omega.shape, generator=gen, dtype=dtype)
        omega.requires_grad_(True)
        opt = torch.optim.Adam([omega], lr=lr)
        mu, curve, start_best = None, [], (-float("inf"), None)
        for _ in range(n_steps + 1):
            phi = torch.softmax(omega.detach(), -1)
            grad = stackelberg_gradient(game, phi, mu0=mu)
            mu = grad.equilibrium.mu
            curve.append(grad.value)
            if grad.value > start_best[0]:
                start_best = (grad.value, phi.clone())
            direction = grad.total if gradient == "total" else grad.partial
            omega.grad = -logit_gradient(phi, direction)
            opt.step()
        best.start_values.append(start_best[0])
        best.curves.append(curve)
        if start_best[0] > best.value:
            best.value, best.phi = start_best
    return best
