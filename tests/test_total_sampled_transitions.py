"""total_sampled on continuous games whose transitions read the mean field (the linear-quadratic game), against
closed forms: the follower quadrature the baselines integrate with, the transitions' part of the adjoint's target,
and (slow) the estimator's direction at a frozen leader against the closed-form total gradient."""

from __future__ import annotations

import pytest
import torch

from deep_smfg.cli import compose_config
from deep_smfg.config import build_learner, game_of
from deep_smfg.exact.linear_quadratic import lq_leader_gradient
from deep_smfg.games import make_game
from deep_smfg.learners import PowerSchedule
from deep_smfg.learners.kinds import ModelSpec
from deep_smfg.learners.leader_gradients.total_sampled_continuous import TotalSampledContinuous
from deep_smfg.modules.features import BoxFeatures
from deep_smfg.modules.policies import GaussianPolicy, SquashedGaussianPolicy
from deep_smfg.modules.quadrature import gauss_hermite


def test_the_gaussian_followers_quadrature_gives_its_mean_and_covariance_exactly():
    torch.manual_seed(0)
    policy = GaussianPolicy(BoxFeatures(-torch.ones(2), torch.ones(2)), 2, [8])
    with torch.no_grad():
        for p in policy.parameters():
            p.normal_(0, 0.5)
    s = torch.randn(4, 2)
    nodes, weights = gauss_hermite(5, 2)
    a = policy.actions_at(s, nodes)  # [4, 25, 2]
    mean, L = policy.mean_and_factor(s)
    torch.testing.assert_close(torch.einsum("k,nkd->nd", weights, a), mean, atol=1e-5, rtol=1e-5)
    centred = a - mean[:, None, :]
    cov = torch.einsum("k,nki,nkj->nij", weights, centred, centred)
    torch.testing.assert_close(cov, L @ L.transpose(-1, -2), atol=1e-5, rtol=1e-4)


def test_the_squashed_followers_quadrature_matches_monte_carlo():
    torch.manual_seed(1)
    policy = SquashedGaussianPolicy(BoxFeatures(-torch.ones(1), torch.ones(1)), torch.tensor([0.0, -1.0]),
                                    torch.tensor([2.0, 3.0]), [8])
    with torch.no_grad():
        for p in policy.parameters():
            p.normal_(0, 0.5)
    s = torch.randn(3, 1)
    nodes, weights = gauss_hermite(5, 2)
    quadrature = torch.einsum("k,nkd->nd", weights, policy.actions_at(s, nodes))
    draws = torch.stack([policy.sample(s, torch.Generator().manual_seed(i))[1] for i in range(20000)])
    torch.testing.assert_close(quadrature, draws.mean(0), atol=0.01, rtol=0)  # Monte Carlo error about 0.003


def test_the_transitions_part_of_the_adjoint_is_the_closed_forms_derivative_in_m():
    """``d/dm E_eps W(s'(m, eps))`` for a quadratic ``W(x) = x'Gx`` on the 2-D LQ game's kernel
    ``s' = A x + B u + Abar m + c0 + w``: ``E W = mu'G mu + tr(G W)`` with ``mu`` the next state's mean, so the
    derivative is ``2 Abar' G mu`` (the game's noise quadrature at 2 nodes per dimension is exact for it)."""
    game = make_game("linear_quadratic", preset="2d")
    p = game.params
    estimator = TotalSampledContinuous(game, ModelSpec(policy="gaussian", critic="mlp", hidden=[8]))
    torch.manual_seed(2)
    G = torch.randn(2, 2, dtype=torch.float64)
    G = G @ G.T
    s, a, b = torch.randn(5, 2), torch.randn(5, 2), torch.randn(5, 2)
    m = torch.tensor([0.7, -0.3], requires_grad=True)

    def worth(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return ((x.double() @ G) * x.double()).sum(-1).float()

    value = estimator.expected_next(worth, s, a, b, m)
    f64 = torch.float64
    mu = (s.to(f64) @ p.A.T + a.to(f64) @ p.B.T + p.Abar @ m.detach().to(f64) + p.c0)
    expected = ((mu @ G) * mu).sum(-1) + torch.trace(G @ p.W)
    torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=1e-4)
    (grad,) = torch.autograd.grad(value.sum(), m)
    torch.testing.assert_close(grad.double(), (2 * mu @ G @ p.Abar).sum(0), rtol=1e-5, atol=1e-4)


@pytest.mark.slow  # about 4 minutes of learning: make test-slow
@pytest.mark.xfail(strict=True, reason="known defect, issue 22: the estimator's direction at a frozen LQ leader "
                   "depends on the networks' initialisation (seeded here: 4.7 times dJ_L/dtheta; unseeded: 0.79, "
                   "-0.03, 0.42)")
def test_total_sampled_follows_the_lq_total_gradient_at_a_frozen_leader():
    """At ``theta = 0`` the partial gradient vanishes and the whole total gradient is the followers' and the
    population's answer, through transitions that read ``m``. Settled lower level (3,000 iterations), then the
    leader's direction averaged over 2,000 more (the preset's lower level). Measured here (seed 0, pytest's threads):
    -3.11 against the closed form's ``dJ_L/dtheta`` of -0.66, 4.7 times too large. Unseeded initialisations gave
    -0.53, +0.023 and -0.28. The same dependence shows in training: 1-D seed 0 reaches ``theta*`` and seed 1 stays near
    -0.3 (docs/linear_quadratic.md, "The total-gradient leader"). A strict xfail: it fails the suite once it passes."""
    cfg = compose_config("train", ["game=linear_quadratic", "algo=ac_smfg_continuous_total"])
    game = game_of(cfg)
    torch.manual_seed(cfg.seed)  # the train job seeds the modules' initialisation so (seed_everything)
    m = build_learner(cfg, game)
    m.schedules["leader"] = PowerSchedule(0.0)
    m.run_standalone(3000)
    theta = m.leader.out
    total = torch.zeros(1)
    loss_of = m.leader_gradient.leader_terms

    def spy(*terms):
        out = loss_of(*terms)
        (g,) = torch.autograd.grad(sum(out.values()), theta, retain_graph=True)
        total.sub_(g[:1] / 2000)
        return out

    m.leader_gradient.leader_terms = spy
    m.run_standalone(2000)
    exact = lq_leader_gradient(game.params, torch.zeros(1, dtype=torch.float64)).total
    assert 0.6 < float(total) / float(exact) < 1.3
