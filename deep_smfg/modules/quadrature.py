"""Deterministic rules for expectations over a policy's actions: what ``policy.expected(s, f)`` reads.

A Gaussian policy (squashed or not) integrates by a product Gauss-Hermite rule at its ``actions_at`` (``QUADRATURE``
nodes per action dimension: exact for polynomials of degree up to ``2 QUADRATURE - 1`` in the pre-squash draw); the
cells policy by blocks of cells, as many per dimension as the Gaussians' rule has nodes (``QUADRATURE``, or the
cells per dimension where fewer): each block's probability at the probability-weighted centroid of its cells' midpoints,

    E f(a) ~= sum_B P_B f(x_B),    P_B = sum_{c in B} p_c,    x_B = sum_{c in B} p_c x_c / P_B

exact where ``f`` is linear inside each block (the error is of the order of ``f``'s curvature times a block's width
squared: docs/stackelberg_gradient.md, "Continuous games"). ``QUADRATURE^d`` evaluations of ``f`` per state whatever
the family, where each cell's midpoint would cost ``K^d`` (256 on the main job's 16 x 16 cells).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

QUADRATURE = 5  # Gauss-Hermite nodes per action dimension of a Gaussian policy's expected


@lru_cache(maxsize=None)
def gauss_hermite(n: int, dim: int) -> tuple[Tensor, Tensor]:
    """Nodes ``[n^dim, dim]`` and weights ``[n^dim]`` (summing to 1) of the product rule for ``E f(x)``,
    ``x ~ N(0, I_dim)`` (float32; shared: never modified in place)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    x, w = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(w / w.sum(), dtype=torch.float32)
    nodes = torch.cartesian_prod(*[x] * dim).reshape(-1, dim)
    weights = torch.cartesian_prod(*[w] * dim).reshape(-1, dim).prod(-1)
    return nodes, weights


def gaussian_expected(policy, s: Tensor, f) -> Tensor:
    """``E_{a ~ pi(.|s)} f(a)`` ``[N]`` for a Gaussian policy (squashed or not) by the product Gauss-Hermite rule at its
    ``actions_at``; ``f`` maps actions ``[N, K, d]`` to values ``[N, K]``."""
    nodes, weights = gauss_hermite(QUADRATURE, policy.dim)
    return f(policy.actions_at(s, nodes.to(s))) @ weights.to(s)


def cells_expected(probs: Tensor, midpoints: Tensor, blocks: Tensor, centres: Tensor, f) -> Tensor:
    """``E f(a)`` ``[N]`` under cell probabilities ``probs [N, C]`` (cells' ``midpoints [C, d]``) by the module
    docstring's block rule: ``blocks [C, B]`` says which block holds each cell; a block without probability sits at its
    centre ``centres [B, d]`` (its weight is 0 there). ``f`` maps actions ``[N, B, d]`` to values ``[N, B]``."""
    mass = probs @ blocks                                                     # [N, B]
    moment = torch.einsum("nc,cd,cb->nbd", probs, midpoints, blocks)          # [N, B, d]
    held = mass > 0
    x = torch.where(held[..., None], moment / torch.where(held, mass, 1.0)[..., None], centres)
    return (f(x) * mass).sum(-1)
