"""The ``cells`` policy: a piecewise-uniform policy on an action box (:mod:`.cells`), for soft best responses that a
squashed Gaussian cannot represent (docs/ac_smfg.md, "The follower's policy family").

The box is cut into ``K`` equal cells per dimension (``K^d`` cells); ``logits(s) = MLP(features(s))`` give the cells'
probabilities ``p(s) = softmax(logits(s))`` (the last layer starts at zero: uniform on the box), and the action is a
point uniform inside the drawn cell::

    log pi(a|s) = log p_c(a)(s) - log |c(a)|

The interface is :class:`~.policies.SquashedGaussianPolicy`'s: ``sample`` returns ``(u, a)`` with ``u = a``,
``log_prob(s, u)``, ``median_action`` and ``cell_probs`` on the twin's grids (exact: each policy cell's mass is split
over the twin's cells in proportion to their overlap).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .cells import CellGrid
from .features import mlp
from .quadrature import QUADRATURE, cells_expected

MAX_CELLS = 4096  # K^d above this is refused: one logit per cell


class CellPolicy(nn.Module):
    def __init__(self, features: nn.Module, low: Tensor, high: Tensor, hidden: list[int], cells: int):
        super().__init__()
        low, high = torch.as_tensor(low, dtype=torch.float64), torch.as_tensor(high, dtype=torch.float64)
        self.grid = CellGrid.uniform(low, high, cells)
        if self.grid.n_cells > MAX_CELLS:
            raise ValueError(f"model.cells={cells} in {low.numel()} action dimensions makes {self.grid.n_cells} cells; "
                             f"at most {MAX_CELLS} (one logit per cell)")
        self.features = features
        self.dim = low.numel()
        self.net = mlp(features.dim, list(hidden), self.grid.n_cells)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("log_volumes", self.grid.log_volumes().float())
        self.register_buffer("midpoints", self.grid.midpoints().float(), persistent=False)
        blocks = self.grid.blocks(QUADRATURE)  # expected's blocks: as many points as the Gaussians' rule
        self.register_buffer("blocks", blocks.float(), persistent=False)
        self.register_buffer("block_centres", ((blocks.T @ self.grid.midpoints()) / blocks.sum(0)[:, None]).float(),
                             persistent=False)

    def forward(self, s: Tensor) -> Tensor:
        """``log p(s)``, ``[N, K^d]``."""
        return torch.log_softmax(self.net(self.features(s)), dim=-1)

    def sample(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(a, a)``: a drawn cell, then a point uniform inside it, without gradients."""
        a, _, _ = self.sample_log_prob(s, generator)
        return a, a

    @torch.no_grad()
    def sample_log_prob(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(a, a, log pi(a|s))`` from one pass of the network, without gradients (the draws of :meth:`sample`)."""
        log_p = self(s)
        cdf = log_p.exp().cumsum(-1)
        u = torch.rand(cdf.shape[0], 1, generator=generator, dtype=cdf.dtype, device=cdf.device) * cdf[:, -1:]
        idx = torch.searchsorted(cdf, u, right=True)[:, 0].clamp(max=cdf.shape[1] - 1)
        a = self.grid.draw(idx, generator, s)
        # the cell of a, as log_prob finds it (draw keeps a point inside its cell)
        return a, a, log_p.gather(1, idx[:, None])[:, 0] - self.log_volumes.to(a)[idx]

    def log_prob(self, s: Tensor, u: Tensor) -> Tensor:
        """``log pi(u|s) = log p_c(s) - log |c|`` with ``c`` the cell of ``u``, ``[N]``."""
        idx = self.grid.index(u)
        return self(s).gather(1, idx[:, None])[:, 0] - self.log_volumes.to(u)[idx]

    def expected(self, s: Tensor, f) -> Tensor:
        """``E_{a ~ pi(.|s)} f(a)`` ``[N]`` by blocks of cells (:func:`.quadrature.cells_expected`: each block's
        probability at its probability-weighted centroid); ``f`` maps actions ``[N, K, d]`` to values ``[N, K]``."""
        return cells_expected(self(s).exp(), self.midpoints.to(s), self.blocks.to(s), self.block_centres.to(s), f)

    def median_action(self, s: Tensor) -> Tensor:
        """The median of each action dimension's marginal (what plots of a schedule show)."""
        return self.grid.marginal_median(self(s).exp())

    def cell_probs(self, s: Tensor, grids: list[Tensor]) -> Tensor:
        """Probability of each cell around the points of a product grid (``torch.cartesian_prod`` order),
        ``[N, prod K_i]``: the cells of :meth:`.cells.CellGrid.around`, as the squashed Gaussian's."""
        return self.grid.transfer(self(s).exp().double(), CellGrid.around(grids)).to(s.dtype)
