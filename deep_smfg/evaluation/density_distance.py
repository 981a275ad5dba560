"""The distance between a learned mean-field density and a reference law on grids (docs/crowd.md, "Metrics").

The learned density is a Gaussian mixture ``(w [K], m [K, d], Sigma [K, d, d])`` (a Gaussian is one component:
``components()`` of either mean-field module). The reference is a law on a product grid, given per coordinate
(``[(nodes, mass)]``, the coordinates independent, as the crowd's equilibrium is), each node's mass spread
uniformly over its cell.

* In 1-D: the 2-Wasserstein distance ``W2^2 = int_0^1 |F^-1(u) - G^-1(u)|^2 du``, from the quantile functions
  (``u`` on ``n_quantiles`` midpoints; the mixture's ``F^-1`` by inverting its CDF on a fine grid, the reference's
  exactly: its CDF is piecewise linear).
* Against draws (the law the learned policies induce): :func:`w2_to_samples`, the same with empirical quantiles.
* In ``d`` dimensions: the sliced ``W2``, ``SW2^2 = mean_j W2^2(<e_j, X>, <e_j, Y>)`` over ``n_directions``
  directions ``e_j`` (evenly spaced angles in 2-D), the reference projected from ``n_samples`` draws (a fixed
  seed); and the ``W2`` of each coordinate's marginal (exact, as in 1-D).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

Law = list[tuple[Tensor, Tensor]]  # per coordinate: (nodes [n], mass [n])


def _cells(nodes: Tensor) -> tuple[Tensor, Tensor]:
    """The cell ``[lo, hi]`` of each node: halfway to its neighbours (the ends' cells end at the end nodes)."""
    mid = (nodes[1:] + nodes[:-1]) / 2
    return torch.cat([nodes[:1], mid]), torch.cat([mid, nodes[-1:]])


def grid_quantiles(nodes: Tensor, mass: Tensor, u: Tensor) -> Tensor:
    """The quantile function of a grid law with each node's mass uniform on its cell, at ``u``."""
    lo, hi = _cells(nodes.double())
    edges = torch.cat([lo[:1], hi])
    cdf = torch.cat([torch.zeros(1, dtype=torch.float64), mass.double().cumsum(0)])
    cdf = cdf / cdf[-1]
    return _interp(u, cdf, edges)


def mixture_quantiles(w: Tensor, m: Tensor, sd: Tensor, u: Tensor, n_grid: int = 8001) -> Tensor:
    """The quantile function of the 1-D mixture ``sum_k w_k N(m_k, sd_k^2)`` at ``u`` (its CDF inverted on a grid
    of ``n_grid`` points over ``[min m - 9 sd, max m + 9 sd]``)."""
    w, m, sd = w.double(), m.double(), sd.double()
    x = torch.linspace(float((m - 9 * sd).min()), float((m + 9 * sd).max()), n_grid, dtype=torch.float64)
    cdf = (w * torch.special.ndtr((x[:, None] - m) / sd)).sum(-1)
    return _interp(u, cdf / w.sum(), x)


def _interp(u: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear interpolation of ``fp`` at ``u`` over the non-decreasing ``xp`` (flat runs skipped)."""
    keep = torch.cat([torch.tensor([True]), xp[1:] > xp[:-1]])
    xp, fp = xp[keep], fp[keep]
    i = torch.searchsorted(xp, u).clamp(1, xp.numel() - 1)
    t = ((u - xp[i - 1]) / (xp[i] - xp[i - 1])).clamp(0, 1)
    return fp[i - 1] + t * (fp[i] - fp[i - 1])


def _midpoints(n: int) -> Tensor:
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n


def w2_1d(components: tuple[Tensor, Tensor, Tensor], nodes: Tensor, mass: Tensor, coordinate: int = 0,
          n_quantiles: int = 4000) -> float:
    """``W2`` between coordinate ``coordinate``'s marginal of the mixture and the grid law ``(nodes, mass)``."""
    w, m, cov = (t.detach().double().cpu() for t in components)
    u = _midpoints(n_quantiles)
    q = mixture_quantiles(w, m[:, coordinate], cov[:, coordinate, coordinate].sqrt(), u)
    return math.sqrt(float(((q - grid_quantiles(nodes, mass, u)) ** 2).mean()))


def sample_grid_law(law: Law, n: int, seed: int = 0) -> Tensor:
    """``n`` draws ``[n, d]`` of the product of the coordinates' grid laws (uniform within the drawn cell)."""
    gen = torch.Generator().manual_seed(seed)
    cols = []
    for nodes, mass in law:
        lo, hi = _cells(nodes.double())
        i = torch.multinomial(mass.double().clamp_min(0), n, replacement=True, generator=gen)
        cols.append(lo[i] + torch.rand(n, generator=gen, dtype=torch.float64) * (hi[i] - lo[i]))
    return torch.stack(cols, -1)


def w2_to_samples(components: tuple[Tensor, Tensor, Tensor], y: Tensor, n_directions: int = 64,
                  n_quantiles: int = 2000) -> float:
    """``W2`` (1-D) or sliced ``W2`` (2-D: ``n_directions`` evenly spaced angles) between the mixture and the
    empirical law of the draws ``y`` ``[n, d]``."""
    w, m, cov = (t.detach().double().cpu() for t in components)
    y = y.detach().double().cpu()
    if y.shape[1] == 1:
        directions = torch.ones(1, 1, dtype=torch.float64)
    elif y.shape[1] == 2:
        angles = torch.arange(n_directions, dtype=torch.float64) * math.pi / n_directions
        directions = torch.stack([angles.cos(), angles.sin()], -1)
    else:
        raise ValueError(f"w2_to_samples handles 1-D and 2-D laws, got {y.shape[1]} coordinates")
    u = _midpoints(n_quantiles)
    total = 0.0
    for e in directions:
        q = mixture_quantiles(w, m @ e, torch.einsum("i,kij,j->k", e, cov, e).sqrt(), u)
        total += float(((q - torch.quantile(y @ e, u)) ** 2).mean())
    return math.sqrt(total / directions.shape[0])


def sliced_w2(components: tuple[Tensor, Tensor, Tensor], law: Law, n_directions: int = 64, n_samples: int = 200_000,
              n_quantiles: int = 2000, seed: int = 0) -> float:
    """The sliced ``W2`` between the mixture and the product grid law (2-D: ``n_directions`` evenly spaced angles)."""
    if len(law) != 2:
        raise ValueError(f"sliced_w2 handles 2-D laws, got {len(law)} coordinates")
    return w2_to_samples(components, sample_grid_law(law, n_samples, seed), n_directions, n_quantiles)
