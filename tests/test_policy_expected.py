"""Every follower policy's ``expected(s, f)`` (deep_smfg/modules/quadrature.py) against Monte Carlo of its own draws:
``E f(a)`` for an ``f`` linear in the actions plus a product term: exact for the Gauss-Hermite rule of an unsquashed
Gaussian, within a few hundredths for a squashed one, and for the cells' midpoint rule exact in the linear part (the
product term's error is of the order of a cell's width squared)."""

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
