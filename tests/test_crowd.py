"""game=crowd (rewards that read the mean field's density), the Gaussian-mixture mean field, the W2 distances
against closed forms, the crowd's twin and evaluator, refusals, and a short run with each density."""

from __future__ import annotations

import json
import math

import pytest
import torch

from deep_smfg.cli import main
from deep_smfg.evaluation.density_distance import sliced_w2, w2_1d, w2_to_samples
from deep_smfg.games import GameDefinitionError, make_game
from deep_smfg.games.continuous import discretise
from deep_smfg.games.crowd import axis_game
from deep_smfg.modules import GaussianMeanField, MixtureMeanField


def normal_grid_law(mean: float, sd: float, n: int = 4001, half_width: float = 10.0):
    """A fine grid law of N(mean, sd^2): each node's mass the normal mass of its cell."""
    nodes = torch.linspace(mean - half_width, mean + half_width, n, dtype=torch.float64)
    mid = (nodes[1:] + nodes[:-1]) / 2
    edges = torch.cat([nodes[:1], mid, nodes[-1:]])
    return nodes, torch.special.ndtr((edges - mean) / sd).diff()


def one_gaussian(mean, var) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mean = torch.as_tensor(mean, dtype=torch.float64).reshape(1, -1)
    return torch.ones(1, dtype=torch.float64), mean, torch.diag(torch.as_tensor(var, dtype=torch.float64))[None]


def test_w2_1d_matches_the_closed_form_between_gaussians():
    # W2(N(m1, s1^2), N(m2, s2^2)) = sqrt((m1 - m2)^2 + (s1 - s2)^2)
    assert w2_1d(one_gaussian([0.0], [1.0]), *normal_grid_law(0.3, 1.0)) == pytest.approx(0.3, abs=2e-3)
    assert w2_1d(one_gaussian([0.0], [1.0]), *normal_grid_law(0.0, 2.0)) == pytest.approx(1.0, abs=3e-3)
    assert w2_1d(one_gaussian([0.5], [0.25]), *normal_grid_law(0.5, 0.5)) < 2e-3


def test_sliced_w2_matches_the_closed_form_for_a_shift():
    # a shift d along x1: SW2^2 = mean over directions of (d cos a)^2 = d^2 / 2; the x1 marginal's W2 is d
    law = [normal_grid_law(0.4, 1.0, n=801), normal_grid_law(0.0, 1.0, n=801)]
    gauss = one_gaussian([0.0, 0.0], [1.0, 1.0])
    assert sliced_w2(gauss, law) == pytest.approx(0.4 / math.sqrt(2), abs=0.01)
    assert w2_1d(gauss, *law[0], coordinate=0) == pytest.approx(0.4, abs=3e-3)
    assert w2_1d(gauss, *law[1], coordinate=1) < 3e-3


def test_w2_to_draws_matches_the_closed_form():
    y = 0.3 + torch.randn(200_000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert w2_to_samples(one_gaussian([0.0], [1.0]), y) == pytest.approx(0.3, abs=0.01)
    y2 = torch.cat([y, torch.randn(200_000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)], 1)
    assert w2_to_samples(one_gaussian([0.0, 0.0], [1.0, 1.0]), y2) == pytest.approx(0.3 / math.sqrt(2), abs=0.01)


def test_the_mixture_learns_a_bimodal_law_by_online_em():
    gen = torch.Generator().manual_seed(0)
    n = 20000
    left = torch.rand(n, generator=gen) < 0.3
    z = torch.where(left, -1.0 + 0.3 * torch.randn(n, generator=gen), 1.5 + 0.5 * torch.randn(n, generator=gen))
    z = z[:, None]
    mf = MixtureMeanField(torch.tensor([-3.0]), torch.tensor([3.0]), n_components=2)
    opt = torch.optim.SGD(mf.parameters(), lr=1.0)
    for k in range(3000):
        batch = z[torch.randint(0, n, (256,), generator=gen)]
        opt.zero_grad()
        mf.loss(batch).backward()
        opt.param_groups[0]["lr"] = min(1.0, 2.0 / (k + 1) ** 0.6)
        opt.step()
        mf.project_()
    w, m, cov = (t.detach() for t in mf.components())
    assert w.tolist() == pytest.approx([0.3, 0.7], abs=0.02)
    assert m[:, 0].tolist() == pytest.approx([-1.0, 1.5], abs=0.03)
    assert cov[:, 0, 0].sqrt().tolist() == pytest.approx([0.3, 0.5], abs=0.03)
    # the density is the mixture's and integrates to 1
    xs = torch.linspace(-6, 6, 4001)[:, None]
    dens = mf.log_density(xs).detach().exp()
    closed = sum(wk * torch.exp(-0.5 * ((xs[:, 0] - mk) / sk) ** 2) / (sk * math.sqrt(2 * math.pi))
                 for wk, mk, sk in zip(w, m[:, 0], cov[:, 0, 0].sqrt(), strict=True))
    assert torch.allclose(dens, closed, atol=1e-5)
    assert float(dens.sum() * (xs[1, 0] - xs[0, 0])) == pytest.approx(1.0, abs=1e-3)


def test_a_one_component_mixture_and_the_gaussian_agree_on_mean_and_covariance():
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(50000, 2, generator=gen) @ torch.tensor([[1.0, 0.0], [0.6, 0.5]]).T + torch.tensor([0.5, -0.2])
    mods = [MixtureMeanField(torch.tensor([-2.0, -2.0]), torch.tensor([2.0, 2.0]), n_components=1),
            GaussianMeanField(torch.zeros(2), torch.ones(2), covariance="full")]
    for mf in mods:
        opt = torch.optim.SGD(mf.parameters(), lr=0.0)
        for k in range(2000):
            opt.zero_grad()
            mf.loss(z[torch.randint(0, z.shape[0], (256,), generator=gen)]).backward()
            opt.param_groups[0]["lr"] = 1.0 / (k + 1) ** 0.6
            opt.step()
            mf.project_()
    want_mean, want_cov = z.mean(0), torch.cov(z.T)
    for mf in mods:
        assert torch.allclose(mf().detach(), want_mean, atol=0.03)
        assert torch.allclose(mf.covariance().detach(), want_cov, atol=0.05)


def test_set_mean_translates_either_density_and_keeps_its_covariance():
    for mf in (MixtureMeanField(torch.tensor([-1.0, 0.0]), torch.tensor([2.0, 1.0]), n_components=3),
               GaussianMeanField(torch.zeros(2), torch.ones(2), covariance="full")):
        cov = mf.covariance().detach().clone()
        mf.set_mean_(torch.tensor([0.7, -0.2]))
        assert torch.allclose(mf().detach(), torch.tensor([0.7, -0.2]), atol=1e-6)
        assert torch.allclose(mf.covariance().detach(), cov, atol=1e-5)


def test_the_twin_reads_the_density_as_mass_over_cell_width():
    game = make_game("crowd")
    twin = discretise(axis_game(game, 0), 11, 5, 3)
    S, A, B = 11, 5, 3
    mu = torch.softmax(torch.randn(S, generator=torch.Generator().manual_seed(0), dtype=torch.float64), 0)
    x = twin.states[:, 0]
    h = float(x[1] - x[0])
    cells = torch.full((S,), h, dtype=torch.float64)
    cells[[0, -1]] = h / 2
    s = x.repeat_interleave(A * B)[:, None]
    a = twin.actions.repeat_interleave(B, 0).repeat(S, 1)
    b = twin.leader_actions[:, 0].repeat(S * A)[:, None]
    m = (mu * x).sum().reshape(1)
    index = torch.arange(S).repeat_interleave(A * B)
    want = game.reward_f(s, a, b, m) - 0.3 * torch.log(mu / cells)[index]
    assert torch.allclose(twin.game.reward_f_tensor(mu).reshape(-1), want, atol=1e-10)
    # the continuous reward with the same density: the env's reading
    log_density = lambda z: torch.log(mu / cells)[torch.round((z[:, 0] - x[0]) / h).long()]  # noqa: E731
    assert torch.allclose(game.follower_reward(s, a, b, m, log_density), want, atol=1e-10)


def test_the_crowd_twin_equilibrium_is_symmetric_bimodal_and_grid_converged():
    from deep_smfg.evaluation.crowd_evaluator import CrowdEvaluator

    game = make_game("crowd")
    coarse = CrowdEvaluator(game, seed=0, n_states=51, n_actions=21).reference_law(0.0)[0]
    fine = CrowdEvaluator(game, seed=0, n_states=101, n_actions=41).reference_law(0.0)[0]
    for nodes, mu in (coarse, fine):
        assert float((mu * nodes).sum()) == pytest.approx(0.0, abs=1e-6)  # symmetric at theta = 0
    nodes, mu = fine
    dens = mu / (nodes[1] - nodes[0])
    at = lambda v: float(dens[torch.argmin((nodes - v).abs())])  # noqa: E731
    assert at(-0.9) > 2 * at(0.0) and at(0.9) > 2 * at(0.0)  # two rooms
    var = lambda law: float((law[1] * law[0] ** 2).sum())  # noqa: E731
    assert var(coarse) == pytest.approx(var(fine), abs=0.01)  # the grid's error
    # a positive incentive on x moves the crowd towards the right room
    right = CrowdEvaluator(game, seed=0, n_states=51, n_actions=21).reference_law(0.5)[0]
    assert float((right[1] * right[0]).sum()) > 0.2


def test_train_picks_the_mixture_for_the_crowd_and_the_quadratic_critic_for_lq():
    from deep_smfg.cli import compose_config

    for game in ("crowd", "crowd_2d"):
        model = compose_config("train", [f"game={game}"]).model
        assert (model.policy, model.critic, model.density) == ("gaussian", "mlp", "mixture")
    assert compose_config("train", ["game=crowd", "model.density=gaussian"]).model.density == "gaussian"
    assert compose_config("train", ["game=crowd_2d"]).algo.n_envs == 256  # the 1-D preset, included


def test_refusals():
    game = make_game("crowd")
    x = torch.zeros(4, 1)
    with pytest.raises(GameDefinitionError, match="pass log_density"):
        game.follower_reward(x, x, x, torch.zeros(1))
    with pytest.raises(GameDefinitionError, match="dim must be 1 or 2"):
        make_game("crowd", dim=3)
    with pytest.raises(GameDefinitionError, match="crowd_aversion must be > 0"):
        make_game("crowd", crowd_aversion=0.0)


@pytest.mark.parametrize("args, message", [
    (["game=crowd", "model.density=kde"], "model.density='kde': must be one of gaussian, mixture"),
    (["game=crowd", "model.density=mixture", "model.components=0"], "model.components=0: must be an integer >= 1"),
    (["game=four_rooms", "++model.density=mixture"], "model.density='mixture' is for continuous games"),
    (["game=crowd", "algo=ac_smfg_continuous_total"], "total_sampled"),
])
def test_bad_configs_are_refused_and_write_nothing(tmp_path, capsys, args, message):
    run_dir = tmp_path / "run"
    assert main(["train", *args, "logger=none", f"run_dir={run_dir}"]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()


@pytest.mark.parametrize("density", ["gaussian", pytest.param("mixture", marks=pytest.mark.slow)])  # 23 s each
def test_a_short_run_reports_w2_with_each_density(tmp_path, density):
    run_dir = tmp_path / density
    assert main(["train", "game=crowd_2d", f"model.density={density}", "logger=none", "progress_bar=false",
                 "algo.iterations=100", "algo.eval_every=50", "algo.checkpoint_every=50", "algo.n_envs=32",
                 f"run_dir={run_dir}"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary["final"]
    for key in ("density_w2", "w2_x1", "w2_x2", "fit_w2", "theta", "leader_objective", "follower_objective"):
        assert math.isfinite(final[key]), key
    assert len(summary["learned_mean_field"]["weights"]) == (3 if density == "mixture" else 1)
    assert (run_dir / "mean_field.png").exists() and (run_dir / "convergence.png").exists()


def test_the_exploitability_estimate_refuses_a_game_that_reads_the_density():
    from deep_smfg.cli import compose_config
    from deep_smfg.config import build_learner
    from deep_smfg.evaluation.exploitability_estimate import estimate_exploitability

    learner = build_learner(compose_config("train", ["game=crowd"]), make_game("crowd"))
    with pytest.raises(ValueError, match="reads the mean field's density"):
        estimate_exploitability(learner, 10)
