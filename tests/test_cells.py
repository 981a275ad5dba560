"""Piecewise-uniform laws on boxes (deep_smfg/modules/cells.py) and the ``cells`` policy, against counts of their own
draws (binned independently, with numpy) and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deep_smfg.modules import BoxFeatures
from deep_smfg.modules.cell_policy import CellPolicy
from deep_smfg.modules.cells import CellGrid

LOW, HIGH = torch.tensor([0.0, 0.0]), torch.tensor([2.0, 1.0])


def _policy(cells=4, seed=0) -> CellPolicy:
    torch.manual_seed(seed)
    pol = CellPolicy(BoxFeatures(torch.tensor([0.0]), torch.tensor([3.0])), LOW, HIGH, [16], cells)
    torch.nn.init.normal_(pol.net[-1].weight, std=1.0)  # a non-uniform law
    return pol


def _numpy_bins(points: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Cell counts of ``points`` on a product of bins (last dimension fastest), by numpy's own histogram."""
    counts, _ = np.histogramdd(points, bins=edges)
    return counts.reshape(-1)


def test_a_fresh_cells_policy_is_uniform_on_the_box():
    pol = CellPolicy(BoxFeatures(torch.tensor([0.0]), torch.tensor([3.0])), LOW, HIGH, [8], 5)
    s = torch.rand(7, 1) * 3
    _, a = pol.sample(s)
    assert torch.allclose(pol.log_prob(s, a), torch.full((7,), -math.log(2.0)))  # 1 / |box|


def test_draws_land_in_their_cell_with_the_policy_s_probabilities():
    pol, n = _policy(), 200_000
    s = torch.full((n, 1), 1.3)
    _, a = pol.sample(s, torch.Generator().manual_seed(1))
    assert bool(((a >= LOW) & (a <= HIGH)).all())
    edges = [np.linspace(0, 2, 5), np.linspace(0, 1, 5)]
    freq = _numpy_bins(a.numpy(), edges) / n
    p = torch.softmax(pol.net(pol.features(s[:1])), -1)[0].detach().numpy()
    assert np.abs(freq - p).max() < 4 * math.sqrt(0.25 / n)
    # the density: log_prob = log p_c - log |c|, with |c| = 0.5 * 0.25
    lp = pol.log_prob(s[:5], a[:5]).detach()
    idx = pol.grid.index(a[:5])
    assert torch.allclose(lp, torch.log(torch.tensor(p[idx.numpy()])) - math.log(0.125), atol=1e-5)


def test_index_finds_every_drawn_point_s_cell_even_next_to_an_edge():
    grid = CellGrid.uniform(LOW.double(), HIGH.double(), 7)
    idx = torch.arange(grid.n_cells).repeat(2000)
    a = grid.draw(idx, torch.Generator().manual_seed(0), torch.zeros(1))  # float32 points
    assert torch.equal(grid.index(a), idx)


def test_cell_probs_on_the_twin_s_cells_match_counts_of_draws():
    pol, n = _policy(cells=5, seed=3), 200_000
    grids = [torch.linspace(0, 2, 4, dtype=torch.float64), torch.linspace(0, 1, 3, dtype=torch.float64)]
    s = torch.full((n, 1), 0.4)
    _, a = pol.sample(s, torch.Generator().manual_seed(2))
    edges = [np.concatenate([[g[0]], (g[1:] + g[:-1]) / 2, [g[-1]]]) for g in (x.numpy() for x in grids)]
    freq = _numpy_bins(a.numpy(), edges) / n
    probs = pol.cell_probs(s[:1], grids)[0].detach().numpy()
    assert probs.shape == (12,) and probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.abs(freq - probs).max() < 4 * math.sqrt(0.25 / n)


def test_the_median_action_is_the_marginals_median():
    pol, n = _policy(cells=6, seed=5), 400_000
    s = torch.full((n, 1), 2.2)
    _, a = pol.sample(s, torch.Generator().manual_seed(3))
    median = pol.median_action(s[:1])[0].detach().numpy()
    assert np.allclose(median, np.median(a.numpy(), axis=0), atol=0.01)


def test_too_many_cells_are_refused_with_the_count():
    with pytest.raises(ValueError, match="makes 4225 cells; at most 4096"):
        CellPolicy(BoxFeatures(torch.tensor([0.0]), torch.tensor([1.0])), LOW, HIGH, [8], 65)
