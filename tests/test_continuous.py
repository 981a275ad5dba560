"""Continuous Equilibrium Pricing: the Gaussian mean field, the squashed-Gaussian policy, the twin, the
env, and a short seeded training run against the twin's exact answer."""

from __future__ import annotations

import math

import pytest
import torch
from torchrl.envs.utils import check_env_specs

from deep_smfg.cli import compose_config
from deep_smfg.config import build_learner
from deep_smfg.envs import ContinuousSMFGEnv
from deep_smfg.evaluation.continuous_metrics import TwinReference, rollout_returns, twin_metrics
from deep_smfg.evaluation.exploitability_estimate import estimate_exploitability
from deep_smfg.games import make_game
from deep_smfg.games.continuous import discretise, interpolation_weights
from deep_smfg.learners import ACSMFG
from deep_smfg.modules import BoxFeatures, GaussianMeanField, SquashedGaussianPolicy


@pytest.mark.parametrize("kind", ["full", "diag"])
def test_gaussian_mean_field_recovers_the_mean_and_covariance_of_samples(kind):
    torch.manual_seed(0)
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)
    law = torch.distributions.MultivariateNormal(mean, cov)
    mf = GaussianMeanField(torch.zeros(2), torch.ones(2), covariance=kind).double()
    opt = torch.optim.SGD(mf.parameters(), lr=1.0)
    batch, steps = 256, 400
    for k in range(steps):
        opt.param_groups[0]["lr"] = 1.0 / (k + 1)  # xi_k = 1/(k+1): the running average
        opt.zero_grad()
        mf.loss(law.sample((batch,))).backward()
        opt.step()
        mf.project_()
    n = batch * steps
    assert torch.allclose(mf(), mean, atol=5 * math.sqrt(2.0 / n))
    expected = cov if kind == "full" else torch.diag(torch.diag(cov))
    # standard error of a sample covariance entry <= sqrt(2 * 2 * 2 / n); the early, inaccurate centring adds
    # O(log n / n)
    assert torch.allclose(mf.covariance(), expected, atol=0.03)
    if kind == "full":
        assert torch.linalg.eigvalsh(mf.covariance()).min() > 0


def _policy(low, high, bias: list[float]) -> SquashedGaussianPolicy:
    pol = SquashedGaussianPolicy(BoxFeatures(torch.zeros(1), torch.ones(1) * 3), torch.tensor(low), torch.tensor(high),
                                 [8]).double()
    with torch.no_grad():
        pol.net[-1].bias.copy_(torch.tensor(bias, dtype=torch.float64))
    return pol


def test_squashed_gaussian_log_prob_is_a_density_on_the_box_and_cells_match_samples():
    pol = _policy([-0.4], [0.4], [0.3, -0.5])  # m = 0.3, log sd = -0.5
    s = torch.ones(1, 1, dtype=torch.float64)
    a = torch.linspace(-0.4, 0.4, 200001, dtype=torch.float64)[1:-1]
    u = torch.atanh(a / 0.4)[:, None]
    dens = pol.log_prob(s.expand(len(a), 1), u).exp()
    assert torch.trapezoid(dens, a).item() == pytest.approx(1.0, abs=1e-4)
    # 2-D: the product-grid cell probabilities against sample frequencies
    pol2 = _policy([0.0, 0.0], [2.0, 2.0], [0.5, -0.7, -0.3, 0.2])
    grids = [torch.linspace(0, 2, 5, dtype=torch.float64)] * 2
    probs = pol2.cell_probs(s, grids)[0]
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    n = 200_000
    _, acts = pol2.sample(s.expand(n, 1), torch.Generator().manual_seed(1))
    idx = (interpolation_weights(acts[:, 0], grids[0]).argmax(-1) * 5
           + interpolation_weights(acts[:, 1], grids[1]).argmax(-1))
    freq = torch.bincount(idx, minlength=25).double() / n
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-4)


def test_twin_agrees_with_the_continuous_game_at_grid_points():
    game = make_game("continuous_pricing")
    twin = discretise(game, n_states=7, n_actions=5, n_leader=5)
    G = twin.game
    S, A, B = G.n_states, G.n_actions, G.n_leader_actions
    mu = torch.distributions.Dirichlet(torch.ones(G.n_z, dtype=torch.float64)).sample()
    m = (mu @ twin.z_values[:, 0]).reshape(1)
    s = twin.states.repeat_interleave(A * B, 0)
    a = twin.actions.repeat_interleave(B, 0).repeat(S, 1)
    b = twin.leader_actions.repeat(S * A, 1)
    assert torch.allclose(G.reward_f_tensor(mu).reshape(-1), game.reward_f(s, a, b, m), atol=1e-12)
    assert torch.allclose(G.reward_l_tensor(mu).reshape(-1), game.reward_l(s, a, b, m), atol=1e-12)
    # expected next inventory: the twin's law against Monte Carlo on the continuous kernel
    gen = torch.Generator().manual_seed(0)
    pick = torch.randperm(S * A * B, generator=gen)[:60]
    n = 20_000
    for i in pick.tolist():
        draws = game.sample_next_state(s[i : i + 1].expand(n, 1), a[i : i + 1].expand(n, 2), b[i : i + 1].expand(n, 1),
                                       m, gen)
        twin_mean = G.transition_tensor(mu).reshape(-1, S)[i] @ twin.states[:, 0]
        se = draws.std() / math.sqrt(n)
        assert abs(draws.mean() - twin_mean) <= 5 * se + 2e-3, (i, float(draws.mean()), float(twin_mean))
    # the price reads mu only through its mean
    assert float(G.market.price(mu)) == pytest.approx(float(game.market.price(m[0])), abs=1e-12)


def test_continuous_env_specs_and_restarts():
    env = ContinuousSMFGEnv(make_game("continuous_pricing"), n_envs=512, seed=0)
    check_env_specs(env)
    td = env.reset()
    restarts = 0
    for _ in range(40):
        td.update(env.action_spec.rand())
        out, td = env.step_and_maybe_reset(td)
        restarts += int(out["next", "truncated"].sum())
        assert torch.equal(td["state_bar"], out["next", "state_bar"])
        assert (out["next", "state"] >= 0).all() and (out["next", "state"] <= 3).all()
    p = 0.1
    assert abs(restarts / (40 * 512) - p) < 5 * math.sqrt(p * (1 - p) / (40 * 512))


def _default_learner(seed: int) -> ACSMFG:
    """The main job's learner, from the configs."""
    return build_learner(compose_config("train", [f"seed={seed}"]), make_game("continuous_pricing"))


def test_a_short_run_improves_the_leader_objective_and_tracks_the_twin():
    torch.manual_seed(0)
    game = make_game("continuous_pricing")
    ref = TwinReference.solve(game, discretise(game, 13, 9, 9), n_starts=1, n_steps=2)  # the configs' grids
    m = _default_learner(seed=0)
    start, _ = twin_metrics(ref, m.follower, m.leader, m.mean_field)
    start_mc = rollout_returns(game, m.follower, m.leader, m.mean_field().detach(), 1024)["J_l"]
    fresh_expl = estimate_exploitability(m, 300).exploitability
    m.run_standalone(1500)
    end, _ = twin_metrics(ref, m.follower, m.leader, m.mean_field)
    end_mc = rollout_returns(game, m.follower, m.leader, m.mean_field().detach(), 1024)["J_l"]
    # measured (seed 0): Phi_twin -1.83 -> about 0.2, Monte Carlo J_l -3.7 -> about 0.1
    assert end["twin_leader_objective"] > start["twin_leader_objective"] + 1.5
    assert end_mc > start_mc + 2.0
    assert end["price_error"] < 0.05 and end["mean_field_error"] < 0.1
    # Gelbrich: W2 between two laws is at least that between the Gaussians of their moments (less the grid's cell
    # spread, h^2 / 12 in variance); the learned density here is a Gaussian, the twin's law is not
    for metrics in (start, end):
        assert metrics["density_w2"] >= metrics["mean_field_error"] - 0.01
    assert end["density_w2"] < 0.2
    # the learned best response finds the untrained follower's slack, and little against the trained one
    trained_expl = estimate_exploitability(m, 300, every=100)
    assert fresh_expl > 0.5
    assert trained_expl.exploitability < 0.05 + 3 * trained_expl.standard_error
    assert [p["iteration"] for p in trained_expl.curve] == [100, 200, 300]
