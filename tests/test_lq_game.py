"""game=linear_quadratic: the game's torch functions against the closed form (Monte Carlo), the unsquashed Gaussian
policy, the projection to a linear-Gaussian follower, the exact evaluator, refusals, and a short run."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from deep_smfg.cli import main
from deep_smfg.envs import ContinuousSMFGEnv
from deep_smfg.evaluation.lq_metrics import lq_metrics, project_follower
from deep_smfg.exact.linear_quadratic import (
    LinearGaussianPolicy,
    lq_equilibrium,
    lq_equilibrium_system,
    lq_follower_return,
    lq_leader_objective,
    lq_leader_optimum,
    scalar_reference,
    two_dim_reference,
)
from deep_smfg.games import make_game
from deep_smfg.games.linear_quadratic import LinearQuadraticGame
from deep_smfg.modules import BoxFeatures
from deep_smfg.modules.policies import GaussianPolicy

f64 = torch.float64


class LinearGaussianModule(nn.Module):
    """A follower with the policy interface whose mean is exactly ``-K x - k`` and covariance ``C`` (float64)."""

    def __init__(self, policy: LinearGaussianPolicy):
        super().__init__()
        self.K, self.k = nn.Parameter(policy.K.clone()), nn.Parameter(policy.k.clone())
        self.register_buffer("L", torch.linalg.cholesky(policy.C))

    def mean_and_factor(self, s):
        return -s @ self.K.T - self.k, self.L.expand(s.shape[0], -1, -1)

    def sample(self, s, generator=None):
        mean, L = self.mean_and_factor(s)
        u = mean + (L @ torch.randn(mean.shape, generator=generator, dtype=f64).unsqueeze(-1)).squeeze(-1)
        return u, u

    def log_prob(self, s, u):
        mean, L = self.mean_and_factor(s)
        return torch.distributions.MultivariateNormal(mean, scale_tril=L).log_prob(u)

    def sample_log_prob(self, s, generator=None):
        u, _ = self.sample(s, generator)
        return u, u, self.log_prob(s, u)


def constant_leader(theta, sd: float) -> GaussianPolicy:
    theta = torch.as_tensor(theta, dtype=f64).reshape(-1)
    leader = GaussianPolicy(None, theta.numel(), [], state_dependent=False).double()
    with torch.no_grad():
        leader.out.zero_()
        leader.out[: theta.numel()] = theta
        leader.out[theta.numel() : 2 * theta.numel()] = math.log(sd)
    return leader


@pytest.mark.parametrize("preset", ["1d", "2d"])
def test_the_game_reads_the_closed_form_parameters(preset):
    game = make_game("linear_quadratic", preset=preset)
    assert isinstance(game, LinearQuadraticGame) and game.transition_reads_mean_field
    expected = scalar_reference() if preset == "1d" else two_dim_reference()
    assert game.params.as_dict() == expected.as_dict()
    assert (game.gamma, game.tau) == (expected.gamma, expected.beta)
    # no clipping: a state far outside the (wide) box moves by the linear dynamics
    n, k = expected.n, expected.k
    s = torch.full((1, n), 100.0, dtype=f64)
    a, b, m, eps = torch.full((1, k), -50.0, dtype=f64), torch.zeros(1, k, dtype=f64), torch.ones(n, dtype=f64), \
        torch.zeros(1, n, dtype=f64)
    want = s @ expected.A.T + a @ expected.B.T + expected.Abar @ m + expected.c0
    torch.testing.assert_close(game.next_state(s, a, b, m, eps), want)
    assert float(want.abs().max()) > max(abs(v) for v in game.state_space.high)


def test_the_env_steps_outside_the_boxes_without_clipping():
    game = make_game("linear_quadratic")
    env = ContinuousSMFGEnv(game, n_envs=2, occupancy_restart=False, dtype=f64)
    td = env.reset()
    td["state"][:] = 100.0  # far outside the state box, and an action far outside the action box
    a, b = torch.full((4, 1), -50.0, dtype=f64), torch.zeros(4, 1, dtype=f64)
    out, _ = env.act(td, a, b)
    p, m = game.params, env.mean_field
    want = float(p.A) * 100 + float(p.B) * -50 + float(p.Abar) * float(m) + float(p.c0)
    assert torch.all((out["next", "state"][:, 0] - want).abs() < 5 * math.sqrt(float(p.W)))
    assert float(out["next", "state"].min()) > game.state_space.high[0]


@pytest.mark.parametrize("preset, theta", [("1d", [0.7]), ("2d", [0.3, -0.4])])
def test_monte_carlo_rollouts_of_the_soft_best_response_match_the_closed_form(preset, theta):
    """The closed-form soft best response played in the game's torch functions at ``m = m*(theta)``, with the leader
    ``b ~ N(theta, 0.5^2)``: the stationary law ``N(m*, Sigma*)``, the soft return ``J_f`` from ``x_0 ~ N(m*, Sigma*)``
    and the leader's stationary reward ``J_L(theta) - kappa k s^2``, within 5 standard errors."""
    game = make_game("linear_quadratic", preset=preset)
    p = game.params
    eq = lq_equilibrium(p, theta)
    follower, leader = LinearGaussianModule(eq.best_response.policy), constant_leader(theta, 0.5)
    n_chains, horizon, burn_in = 20_000, 260, 40
    gen = torch.Generator().manual_seed(0)
    x = eq.m + torch.randn(n_chains, p.n, generator=gen, dtype=f64) @ torch.linalg.cholesky(eq.Sigma).T
    j_f = torch.zeros(n_chains, dtype=f64)
    stationary, r_l = [], []
    with torch.no_grad():
        for t in range(horizon):
            u, a = follower.sample(x, gen)
            _, b = leader.sample(x, gen)
            j_f += p.gamma**t * (game.reward_f(x, a, b, eq.m) - game.tau * follower.log_prob(x, u))
            if t >= burn_in and t % 20 == 0:
                stationary.append(x.clone())
                r_l.append(game.reward_l(x, a, b, eq.m).mean())
            x = game.sample_next_state(x, a, b, eq.m, gen)
    want = lq_follower_return(p, eq.best_response.policy, eq.m, theta, eq.m, eq.Sigma)
    se = float(j_f.std()) / n_chains**0.5
    assert float(j_f.mean()) == pytest.approx(want, abs=5 * se)
    xs = torch.stack(stationary)  # [T, N, n]: chains independent, snapshots 20 steps apart (rho^20 ~ 1e-8)
    mean, cov = xs.reshape(-1, p.n).mean(0), torch.stack([torch.cov(v.T).reshape(p.n, p.n) for v in xs]).mean(0)
    n_draws = xs.shape[0] * n_chains
    torch.testing.assert_close(mean, eq.m, atol=5 * float(eq.Sigma.diagonal().max().sqrt()) / n_draws**0.5, rtol=0)
    torch.testing.assert_close(cov, eq.Sigma, atol=0.02 * float(eq.Sigma.abs().max()), rtol=0)  # ~5 se at 2e5 draws
    j_l = lq_leader_objective(p, theta) - p.kappa * p.k * 0.25
    assert float(torch.stack(r_l).mean()) == pytest.approx(j_l, abs=0.02 * abs(j_l))


def test_gaussian_policy_density_and_samples():
    torch.manual_seed(0)
    features = BoxFeatures(torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0]))
    pol = GaussianPolicy(features, 2, [16]).double()
    with torch.no_grad():
        for param in pol.net[-1].parameters():
            param.normal_(0, 0.3)
    s = torch.randn(5, 2, dtype=f64)
    mean, L = pol.mean_and_factor(s)
    assert torch.all(torch.diagonal(L, dim1=-2, dim2=-1) > 0) and torch.all(L.triu(1) == 0)
    u = torch.randn(5, 2, dtype=f64) * 3  # unbounded: far from any box
    want = torch.distributions.MultivariateNormal(mean, scale_tril=L).log_prob(u)
    torch.testing.assert_close(pol.log_prob(s, u), want)
    one = s[:1].expand(200_000, -1)
    draws, a = pol.sample(one, torch.Generator().manual_seed(1))
    assert torch.equal(draws, a)
    torch.testing.assert_close(draws.mean(0), mean[0], atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), pol.covariance(s[:1])[0], atol=0.02, rtol=0)


@pytest.mark.parametrize("params", [scalar_reference(), two_dim_reference()])
def test_the_projection_recovers_a_linear_gaussian_policy(params):
    br = lq_equilibrium(params, None).best_response
    states = torch.randn(500, params.n, generator=torch.Generator().manual_seed(2), dtype=f64) + 1.0
    proj = project_follower(LinearGaussianModule(br.policy), states)
    torch.testing.assert_close(proj.policy.K, br.K, atol=1e-10, rtol=0)
    torch.testing.assert_close(proj.policy.k, br.k, atol=1e-10, rtol=0)
    torch.testing.assert_close(proj.policy.C, br.cov, atol=1e-12, rtol=0)
    assert proj.residual < 1e-10


@pytest.mark.parametrize("params", [scalar_reference(), two_dim_reference()])
def test_the_evaluator_scores_the_exact_stackelberg_equilibrium_as_exact(params):
    system = lq_equilibrium_system(params)
    theta_star = lq_leader_optimum(params, system)
    eq = lq_equilibrium(params, theta_star, system)
    follower, leader = LinearGaussianModule(eq.best_response.policy), constant_leader(theta_star, 0.1)
    m, theta = lq_metrics(params, system, theta_star, eq.m, eq.Sigma, follower, leader,
                          theta_prev=torch.zeros(params.k, dtype=f64))
    torch.testing.assert_close(theta, theta_star)
    for key in ("mean_error", "cov_error", "mean_error_at_theta_star", "theta_error", "gain_error", "offset_error",
                "policy_cov_error", "induced_mean_error"):
        assert m[key] < 1e-9, key
    assert abs(m["exploitability"]) < 1e-9 and abs(m["leader_gap"]) < 1e-9
    assert m["leader_sd"] == pytest.approx(0.1)
    # from theta = 0 the leader moved along the exact total gradient at 0 only if theta* is that direction
    assert -1 <= m["leader_direction_cosine"] <= 1
    # a worse follower (gain halved) and a learned mean field off by 10%: positive figures
    bad = LinearGaussianPolicy(K=0.5 * eq.best_response.K, k=eq.best_response.k, C=eq.best_response.cov)
    m2, _ = lq_metrics(params, system, theta_star, 1.1 * eq.m, eq.Sigma, LinearGaussianModule(bad), leader)
    assert m2["mean_error"] == pytest.approx(0.1) and m2["relative_exploitability"] > 1e-3
    assert m2["gain_error"] == pytest.approx(0.5, abs=1e-6)


def test_the_1d_leader_direction_cosine_is_the_sign_agreement():
    p = scalar_reference()
    system = lq_equilibrium_system(p)
    theta_star = lq_leader_optimum(p, system)
    eq = lq_equilibrium(p, 0.0, system)
    follower = LinearGaussianModule(eq.best_response.policy)
    down, _ = lq_metrics(p, system, theta_star, eq.m, eq.Sigma, follower, constant_leader([-0.1], 0.1),
                         theta_prev=torch.zeros(1, dtype=f64))
    up, _ = lq_metrics(p, system, theta_star, eq.m, eq.Sigma, follower, constant_leader([0.1], 0.1),
                       theta_prev=torch.zeros(1, dtype=f64))
    assert down["leader_direction_cosine"] == pytest.approx(1.0) and up["leader_direction_cosine"] == pytest.approx(-1)
    # the partial gradient -2 kappa theta points back to 0; the total one (about -0.66 near 0) towards theta* < 0
    assert down["partial_total_cosine"] == pytest.approx(-1.0) and up["partial_total_cosine"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["game=linear_quadratic", "model=squashed_gaussian"], "use model=gaussian"),
        (["game=continuous_pricing", "model=gaussian"], "continuous_pricing has bounded actions"),
        (["game=linear_quadratic", "model=gaussian", "game.preset=3d"], "preset must be one of 1d, 2d"),
        (["game=linear_quadratic", "model=tabular"], "continuous games need model=squashed_gaussian"),
    ],
)
def test_bad_config_is_refused_and_writes_nothing(tmp_path, capsys, args, message):
    run_dir = tmp_path / "run"
    assert main(["train", *args, "logger=none", f"run_dir={run_dir}"]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()


def test_train_picks_the_gaussian_model_the_game_declares():
    from deep_smfg.cli import compose_config

    assert compose_config("train", ["game=linear_quadratic"]).model.policy == "gaussian"
    assert compose_config("train", ["game=linear_quadratic_2d"]).model.policy == "gaussian"
    assert compose_config("train", ["game=linear_quadratic"]).model.critic == "mlp_quadratic"
    assert compose_config("train", []).model.policy == "cells"  # the main job's game is bounded: its own choice


def test_a_short_run_writes_exact_metrics(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "game=linear_quadratic", "model=gaussian", "logger=none", "progress_bar=false",
                 "algo.iterations=200", "algo.eval_every=100", "algo.checkpoint_every=100", "algo.n_envs=32",
                 f"run_dir={run_dir}"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary["final"]
    assert summary["closed_form"]["theta_star"][0] == pytest.approx(-4.281781, abs=1e-6)
    for key in ("mean_error", "cov_error", "relative_exploitability", "leader_gap", "theta_1"):
        assert math.isfinite(final[key]), key
    assert final["iteration"] == 200 and (run_dir / "convergence.png").exists()


def test_the_quadratic_critic_adds_every_pair_of_features():
    from deep_smfg.modules.critics import QuadraticMLPCritic

    critic = QuadraticMLPCritic(BoxFeatures(torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0])), [8])
    with torch.no_grad():
        critic.net[-1].weight.zero_()
        critic.net[-1].bias.zero_()
        # [f1, f2, f1 f1, f1 f2, f2 f2]
        critic.quadratic.weight.copy_(torch.tensor([[0.5, -1.0, 2.0, 3.0, -4.0]]))
    x = torch.tensor([[0.3, -0.7], [1.0, 0.5]])
    f1, f2 = x[:, 0], x[:, 1]
    want = 0.5 * f1 - f2 + 2 * f1**2 + 3 * f1 * f2 - 4 * f2**2
    assert torch.allclose(critic(x), want, atol=1e-6)
