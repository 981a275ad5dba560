"""Every continuous policy's ``sample_log_prob``: the draws of ``sample`` (same generator) and ``log_prob`` at them,
from one pass of the network (what the Monte Carlo rollouts read: deep_smfg/evaluation/continuous_metrics.py)."""

from __future__ import annotations

import pytest
import torch

from deep_smfg.evaluation.twin_best_response import TwinSoftBestResponse
from deep_smfg.modules import BoxFeatures
from deep_smfg.modules.cell_policy import CellPolicy
from deep_smfg.modules.cells import CellGrid
from deep_smfg.modules.policies import GaussianPolicy, SquashedGaussianPolicy

LOW, HIGH = torch.tensor([0.0, -1.0]), torch.tensor([2.0, 1.0])


def _features():
    return BoxFeatures(torch.tensor([0.0]), torch.tensor([3.0]))


def _twin_policy():
    gen = torch.Generator().manual_seed(3)
    grids = [torch.linspace(0.0, 2.0, 5, dtype=torch.float64), torch.linspace(-1.0, 1.0, 4, dtype=torch.float64)]
    pi = torch.rand(6, 20, generator=gen, dtype=torch.float64) + 0.1
    return TwinSoftBestResponse(pi / pi.sum(-1, keepdim=True), torch.linspace(0.0, 3.0, 6), CellGrid.around(grids))


POLICIES = {
    "cells": lambda: CellPolicy(_features(), LOW, HIGH, [16], 4),
    "squashed_gaussian": lambda: SquashedGaussianPolicy(_features(), LOW, HIGH, [16]),
    "gaussian": lambda: GaussianPolicy(_features(), 2, [16]),
    "twin_best_response": _twin_policy,
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_sample_log_prob_is_sample_then_log_prob(name):
    torch.manual_seed(0)
    policy = POLICIES[name]()
    with torch.no_grad():  # non-trivial outputs (the networks' last layers start at zero)
        for p in policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    s = 3.0 * torch.rand(512, 1)
    u, a = policy.sample(s, torch.Generator().manual_seed(7))
    u2, a2, log_pi = policy.sample_log_prob(s, torch.Generator().manual_seed(7))
    assert torch.equal(u, u2) and torch.equal(a, a2)
    with torch.no_grad():
        expected = policy.log_prob(s, u)
    assert log_pi.shape == (512,) and torch.allclose(log_pi, expected, rtol=1e-6, atol=1e-6)
    assert float(log_pi.std()) > 0.01  # the densities differ across draws: the comparison is not of constants
