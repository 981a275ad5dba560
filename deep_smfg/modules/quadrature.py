"""Deterministic rules for expectations over a policy's actions: what ``policy.expected(s, f)`` reads.

A Gaussian policy (squashed or not) integrates by a product Gauss-Hermite rule at its ``actions_at`` (``QUADRATURE``
nodes per action dimension: exact for polynomials of degree up to ``2 QUADRATURE - 1`` in the pre-squash draw); the
cells policy by each cell's midpoint weighted by the cell's probability (exact where ``f`` is linear inside each cell).
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
