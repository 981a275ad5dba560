"""Every follower policy's ``expected(s, f)`` (deep_smfg/modules/quadrature.py) against Monte Carlo of its own draws:
``E f(a)`` for an ``f`` linear in the actions plus a product term: exact for the Gauss-Hermite rule of an unsquashed
Gaussian, within a few hundredths for a squashed one, and for the cells' block rule exact in the linear part (the
product term's error is of the order of a block's width squared); then the block rule against every cell's
midpoint."""

from __future__ import annotations

import pytest
import torch

from deep_smfg.modules import BoxFeatures
from deep_smfg.modules.cell_policy import CellPolicy
from deep_smfg.modules.policies import GaussianPolicy, SquashedGaussianPolicy

LOW, HIGH = torch.tensor([0.0, -1.0]), torch.tensor([2.0, 1.0])


def _features():
    return BoxFeatures(torch.tensor([0.0]), torch.tensor([3.0]))


POLICIES = {
    "cells": (lambda: CellPolicy(_features(), LOW, HIGH, [16], 16), 0.01),
    # the squash is no polynomial of the pre-squash draw: 5 nodes per dimension leave a few hundredths
    "squashed_gaussian": (lambda: SquashedGaussianPolicy(_features(), LOW, HIGH, [16]), 0.05),
    "gaussian": (lambda: GaussianPolicy(_features(), 2, [16]), 0.01),
}


def f(a: torch.Tensor) -> torch.Tensor:  # [..., 2] -> [...]
    return 1.5 * a[..., 0] - 0.7 * a[..., 1] + a[..., 0] * a[..., 1]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_expected_matches_monte_carlo_of_the_policys_draws(name):
    make, tolerance = POLICIES[name]
    torch.manual_seed(0)
    policy = make().double()
    with torch.no_grad():  # non-trivial, state-dependent laws (the networks' last layers start at zero)
        for p in policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    s = torch.tensor([[0.3], [1.5], [2.7]], dtype=torch.float64)
    with torch.no_grad():
        rule = policy.expected(s, f)
        n = 200_000
        _, a = policy.sample(s.repeat_interleave(n, 0), torch.Generator().manual_seed(1))
        values = f(a).reshape(3, n)
    mc, se = values.mean(1), values.std(1) / n**0.5
    assert rule.shape == (3,)
    assert torch.all((rule - mc).abs() < 4 * se + tolerance), (rule, mc, se)
    assert float(rule.max() - rule.min()) > 0.05  # the three states' laws differ: not a comparison of constants


def test_cell_blocks_group_consecutive_cells_evenly():
    from deep_smfg.modules.cells import CellGrid
    grid = CellGrid.uniform(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0]), 16)
    blocks = grid.blocks(5)
    assert blocks.shape == (256, 25)
    assert torch.equal(blocks.sum(1), torch.ones(256))  # every cell in exactly one block
    first = blocks.reshape(16, 16, 5, 5)[:, 0, :, 0]  # the first dimension's cells in its 5 blocks
    assert first.sum(0).tolist() == [4.0, 3.0, 3.0, 3.0, 3.0]
    assert torch.equal(first.argmax(1), torch.arange(16) * 5 // 16)  # consecutive cells
    assert torch.equal(CellGrid.uniform(torch.tensor([0.0]), torch.tensor([1.0]), 3).blocks(5), torch.eye(3).double())


def test_cells_rule_is_exact_for_linear_f_and_close_to_every_cell_for_a_curved_one():
    """The block rule against the sum over all 256 cells' midpoints: the same to rounding for an ``f`` linear in the
    actions; for a curved one, about the curvature times a block's variance (blocks of 3-4 cells, 0.375-0.5 wide in
    the first dimension: ``2 * 0.5^2 / 12 = 0.021`` for the squared term under a uniform law in a block; 0.013 here)."""
    torch.manual_seed(0)
    policy = CellPolicy(_features(), LOW, HIGH, [16], 16).double()
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    s = torch.tensor([[0.3], [1.5], [2.7]], dtype=torch.float64)
    probs, mids = policy(s).exp(), policy.midpoints.double()

    def linear(a):
        return 1.5 * a[..., 0] - 0.7 * a[..., 1] + 0.2

    def curved(a):
        return (a[..., 0] - 1.0) ** 2 + a[..., 0] * a[..., 1]

    with torch.no_grad():
        for g, tolerance in ((linear, 1e-12), (curved, 0.02)):
            every_cell = (g(mids)[None] * probs).sum(-1)
            assert torch.allclose(policy.expected(s, g), every_cell, atol=tolerance, rtol=0), g


def test_cells_rule_at_an_empty_block_is_finite_with_gradients():
    from deep_smfg.modules.quadrature import cells_expected
    policy = CellPolicy(_features(), LOW, HIGH, [16], 16).double()
    probs = torch.zeros(1, 256, dtype=torch.float64)
    probs[0, 17] = 1.0  # one cell holds everything: 24 of the 25 blocks are empty
    probs.requires_grad_(True)
    value = cells_expected(probs, policy.midpoints.double(), policy.blocks.double(), policy.block_centres.double(),
                           lambda a: (a ** 2).sum(-1))
    (grad,) = torch.autograd.grad(value.sum(), probs)
    assert torch.allclose(value, (policy.midpoints.double()[17] ** 2).sum()[None])
    assert torch.isfinite(grad).all()
