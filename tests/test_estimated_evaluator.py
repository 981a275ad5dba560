"""The generic evaluator of continuous games (a game that declares none), against the linear-quadratic closed form.

At a learner's linear-Gaussian follower ``u ~ N(-K x - k, C)`` and a learned mean ``m_hat``, the chain
``x' = A x + B u + Abar m_hat + c0 + w`` has the stationary mean
``m(m_hat) = (I - A + B K)^{-1} (Abar m_hat + c0 - B k)`` (the leader acts on rewards only), so
``mean_field_error = ||m_hat - m(m_hat)||``, which vanishes at the induced mean field ``lq_induced_mean_field``.
The evaluator estimates ``m(m_hat)`` by Monte Carlo (2,048 chains, 100 steps)."""

from __future__ import annotations

import pytest
import torch

from deep_smfg.cli import compose_config
from deep_smfg.config import build_learner
from deep_smfg.evaluation import make_evaluator
from deep_smfg.evaluation.estimated_evaluator import EstimatedEvaluator
from deep_smfg.evaluation.lq_metrics import draw_states, project_follower
from deep_smfg.exact.linear_quadratic import lq_induced_mean_field
from deep_smfg.games import make_game


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_mean_field_error_matches_the_closed_form(shift):
    cfg = compose_config("train", ["game=linear_quadratic"])
    game = make_game("linear_quadratic")
    params = game.params
    torch.manual_seed(0)
    learner = build_learner(cfg, game).double()
    agents = learner.agents()
    policy = project_follower(agents.follower, draw_states(torch.zeros(params.n, dtype=torch.float64),
                                                           torch.eye(params.n, dtype=torch.float64), 4096, 0))
    m_star, sigma = lq_induced_mean_field(params, policy.policy)
    m_hat = m_star + shift
    with torch.no_grad():
        agents.mean_field.set_mean_(m_hat)
    eye = torch.eye(params.n, dtype=torch.float64)
    m_chain = torch.linalg.solve(eye - params.A + params.B @ policy.policy.K,
                                 params.Abar @ m_hat + params.c0 - params.B @ policy.policy.k)
    expected = float((m_hat - m_chain).norm())
    metrics = EstimatedEvaluator(game, seed=0).evaluate(learner)
    # Monte Carlo: 2,048 chains x 100 correlated steps; the stationary sd is sqrt(Sigma)
    tolerance = 0.05 * float(sigma.diagonal().sqrt().max())
    assert abs(metrics["mean_field_error"] - expected) < tolerance
    assert set(metrics) == {"leader_objective", "follower_return", "mean_field_error"}


def test_a_continuous_game_without_an_evaluator_gets_the_generic_one():
    cfg = compose_config("train", ["game=continuous", "game._target_=deep_smfg.games.continuous_pricing."
                                   "make_continuous_pricing"])
    assert "evaluator" not in cfg.game
    evaluator = make_evaluator(make_game("continuous_pricing"), cfg)
    assert isinstance(evaluator, EstimatedEvaluator) and evaluator.best_response_iterations == 3000
