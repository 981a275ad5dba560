"""Piecewise-uniform laws on a box: a box cut into a product of cells, a categorical law over the cells and a point
uniform inside the drawn cell (docs/ac_smfg.md, "The follower's policy family").

Its density at ``a`` is ``p_c / |c|`` with ``c`` the cell holding ``a``, so that
``log pi(a) = log p_c - log |c|``: the differential entropy of the continuous game, exactly. Two readers share it:
the ``cells`` policy (:class:`~.cell_policy.CellPolicy`, the learner's) and the twin's soft best response played as a
continuous policy (:mod:`deep_smfg.evaluation.twin_best_response`).
"""

from __future__ import annotations

import torch
from torch import Tensor

EDGE = 1e-4  # draws stay this share of a cell's width inside it (float32 rounding near an edge is ~1e-7)


class CellGrid:
    """The product of per-dimension cells with sorted ``edges[i]`` (``K_i + 1`` values from the box's low to high end);
    cells are numbered ``torch.cartesian_prod`` order (the last dimension fastest)."""

    def __init__(self, edges: list[Tensor]):
        self.edges = [e.detach().clone() for e in edges]
        self.sizes = [e.numel() - 1 for e in self.edges]
        if min(self.sizes) < 1 or any(bool((e.diff() <= 0).any()) for e in self.edges):
            raise ValueError("cell edges must be increasing, at least two per dimension")
        self.n_cells = 1
        for k in self.sizes:
            self.n_cells *= k

    @classmethod
    def uniform(cls, low: Tensor, high: Tensor, cells: int) -> CellGrid:
        """``cells`` equal cells per dimension of the box ``[low, high]``."""
        return cls([torch.linspace(float(lo), float(hi), cells + 1, dtype=torch.float64)
                    for lo, hi in zip(low.tolist(), high.tolist(), strict=True)])

    @classmethod
    def around(cls, grids: list[Tensor]) -> CellGrid:
        """The cells around grid points: between the midpoints of neighbours, the box ends at the ends (the twin's
        cells, each grid point's share of the box)."""
        return cls([torch.cat([g[:1], (g[1:] + g[:-1]) / 2, g[-1:]]).double() for g in grids])

    def midpoints(self) -> Tensor:
        """Every cell's midpoint, ``[n_cells, d]`` (float64, the cells' order)."""
        return torch.cartesian_prod(*[(e[:-1] + e[1:]) / 2 for e in self.edges]).reshape(-1, len(self.edges))

    def blocks(self, per_dim: int) -> Tensor:
        """Which block holds each cell, ``[n_cells, n_blocks]`` (0 or 1, float64): the cells grouped into
        ``min(per_dim, K_i)`` blocks of consecutive cells per dimension (cell ``j`` in block ``floor(j B_i / K_i)``:
        sizes differing by at most one), the blocks numbered in ``torch.cartesian_prod`` order like the cells."""
        out = torch.ones(1, 1, dtype=torch.float64)
        for k in self.sizes:
            b = min(per_dim, k)
            member = torch.nn.functional.one_hot(torch.arange(k) * b // k, b).double()
            out = torch.kron(out, member)
        return out

    def log_volumes(self) -> Tensor:
        """``log |c|`` for every cell, ``[n_cells]`` (float64)."""
        out = torch.zeros(1, dtype=torch.float64)
        for e in self.edges:
            out = (out[:, None] + torch.log(e.diff())[None, :]).reshape(-1)
        return out

    def index(self, a: Tensor) -> Tensor:
        """The cell holding each point of ``a [N, d]`` (points on an inner edge go to the upper cell), ``[N]``."""
        idx = torch.zeros(a.shape[0], dtype=torch.long, device=a.device)
        for i, e in enumerate(self.edges):
            e = e.to(a)
            j = (torch.searchsorted(e[1:-1].contiguous(), a[:, i].contiguous(), right=True))
            idx = idx * self.sizes[i] + j
        return idx

    def log_volume_at(self, idx: Tensor) -> Tensor:
        return self.log_volumes().to(idx.device)[idx]

    def draw(self, idx: Tensor, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """A point uniform inside each cell ``idx [N]``, ``[N, d]`` of ``like``'s dtype (kept ``EDGE`` of the cell's
        width away from its edges, so that rounding never puts it in a neighbour: :meth:`index` finds it again)."""
        cols, rest = [], idx
        for i in reversed(range(len(self.edges))):
            j, rest = rest % self.sizes[i], rest // self.sizes[i]
            e = self.edges[i].to(device=like.device, dtype=like.dtype)
            u = EDGE + (1 - 2 * EDGE) * torch.rand(idx.shape[0], generator=generator, dtype=like.dtype,
                                                   device=like.device)
            cols.append(e[j] + (e[j + 1] - e[j]) * u)
        return torch.stack(cols[::-1], dim=1)

    def overlaps(self, other: CellGrid) -> list[Tensor]:
        """Per dimension, ``O[k, i] = |c_k ∩ c'_i| / |c_k|``: the share of this grid's cell ``k`` inside ``other``'s
        cell ``i`` (rows sum to 1 when both cover the same box)."""
        out = []
        for e, f in zip(self.edges, other.edges, strict=True):
            lo = torch.maximum(e[:-1, None], f[None, :-1])
            hi = torch.minimum(e[1:, None], f[None, 1:])
            out.append((hi - lo).clamp_min(0) / e.diff()[:, None])
        return out

    def transfer(self, probs: Tensor, other: CellGrid) -> Tensor:
        """Cell probabilities ``[N, n_cells]`` of a piecewise-uniform law, carried to ``other``'s cells,
        ``[N, other.n_cells]``."""
        p = probs.reshape(probs.shape[0], *self.sizes)
        for i, o in enumerate(self.overlaps(other)):
            p = torch.movedim(torch.tensordot(p, o.to(p), dims=([1 + i], [0])), -1, 1 + i)
        return p.reshape(probs.shape[0], -1)

    def marginal_median(self, probs: Tensor) -> Tensor:
        """The median of each dimension's marginal law, ``[N, d]`` (linear inside the cell where the CDF crosses
        1/2)."""
        p = probs.reshape(probs.shape[0], *self.sizes)
        cols = []
        for i, e in enumerate(self.edges):
            dims = [1 + j for j in range(len(self.sizes)) if j != i]
            m = p.sum(dim=dims) if dims else p
            cdf = m.cumsum(-1)
            j = torch.searchsorted(cdf.contiguous(), torch.full_like(cdf[:, :1], 0.5)).clamp(max=m.shape[1] - 1)[:, 0]
            below = cdf.gather(1, j[:, None])[:, 0] - m.gather(1, j[:, None])[:, 0]
            frac = ((0.5 - below) / m.gather(1, j[:, None])[:, 0].clamp_min(1e-12)).clamp(0, 1)
            e = e.to(probs)
            cols.append(e[j] + (e[j + 1] - e[j]) * frac)
        return torch.stack(cols, dim=1)
