"""Sample-based MF-TRPO (deep_smfg/learners/mf_trpo.py, configs/algo/mf_trpo.yaml): close to exact MF-TRPO on a
small game, bad configs refused before anything runs, and a short Four Rooms run that gets better than uniform."""

from __future__ import annotations

import pytest
import torch

from deep_smfg import exact
from deep_smfg.cli import compose_config
from deep_smfg.config import ConfigError, build_learner
from deep_smfg.games import make_game
from deep_smfg.learners import ModelSpec, SampledMFTRPO
from deep_smfg.modules.policies import policy_table
from deep_smfg.solvers.mf_trpo import MFTRPO

STEP = {"critic": {"c": 1.0, "p": 0.5}}


def test_sampled_close_to_exact_mf_trpo_on_a_small_game():
    """shop_positioning (9 states, 3 actions, leader uniform): 3,000 iterations, 64 agents, a TRPO step every 20."""
    game = make_game("shop_positioning")
    phi = game.uniform_leader(torch.float64)
    solver = MFTRPO()
    state = solver.init(game, phi)
    for _ in range(300):  # exact MF-TRPO at its fixed point (= exact.solve_equilibrium's, to 1e-11)
        state = solver.step(game, state)
    torch.manual_seed(0)
    learner = SampledMFTRPO(game, step_sizes=STEP, n_envs=64, evaluation_steps=20, seed=0).double()
    learner.run_standalone(3000)
    with torch.no_grad():
        pi, mu = policy_table(learner.follower), learner.mean_field().detach()
    # the uniform start: max |pi - pi_trpo| 0.083, ||mu - mu_trpo||_1 0.47, exploitability 2.21
    assert (pi - state.pi).abs().max() < 0.04  # measured 0.019 (seed 0)
    assert exact.mean_field_error(mu, state.mu) < 0.04  # measured 0.011
    assert exact.follower_exploitability(game, pi, phi) < 0.3  # measured 0.094
    assert torch.allclose(mu.sum(), torch.ones((), dtype=mu.dtype)) and (mu > 0).all()


@pytest.mark.parametrize(("overrides", "match"), [
    (["algo.eta=0.2"], "eta must be >= tau / 2"),
    (["model=mlp"], "does not support model.policy=mlp"),
    (["algo.optimizer=adam"], "optimizer must be sgd"),
    (["algo.population_step.c=1.0", "algo.population_step.k0=0"], r"population step .* must lie in \(0, 1\)"),
    (["algo.evaluation_steps=0"], "evaluation_steps"),
])
def test_bad_configs_are_config_errors(overrides, match):
    with pytest.raises(ConfigError, match=match):  # the config's schema, or the learner's own checks
        build_learner(compose_config("train", ["game=four_rooms", "algo=mf_trpo", *overrides]), make_game("four_rooms"))


def test_continuous_games_refused():
    with pytest.raises(ValueError, match="algo=mf_trpo does not support continuous games, on continuous_pricing"):
        SampledMFTRPO(make_game("continuous_pricing"), ModelSpec(), step_sizes=STEP)


def test_four_rooms_short_run_improves():
    cfg = compose_config("train", ["game=four_rooms", "algo=mf_trpo", "seed=0"])  # the defaults a user gets
    game = make_game("four_rooms")
    learner = build_learner(cfg, game).double()
    phi = game.uniform_leader(torch.float64)
    start = exact.follower_exploitability(game, policy_table(learner.follower).detach(), phi)
    learner.run_standalone(5000)  # 100 outer iterations; the first 2,000 iterations overshoot (exploitability 7-12)
    with torch.no_grad():
        pi, mu = policy_table(learner.follower), learner.mean_field().detach()
    assert start > 10  # 10.35
    # the samples the evaluation counts: the N agents' steps and one rollout from each of the 104 x 5 pairs
    assert learner.samples_per_iteration == 256 + 104 * 5
    assert exact.follower_exploitability(game, pi, phi) < 4.0  # measured at 5,000 iterations: 2.05 (30,000: 0.04-0.05)
    assert exact.mean_field_error(mu, exact.solve_equilibrium(game, phi).mu) < 0.1  # measured 0.022 (30,000: <= 0.005)
