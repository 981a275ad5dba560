"""The n-player evaluation (docs/n_player.md) against independent answers: a single-agent MDP built by hand in
numpy, the mean-field values, and the exact MDP of the measured player."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from helpers import np64, soft_policy_value, soft_value_iteration

from deep_smfg import exact
from deep_smfg.cli import main
from deep_smfg.evaluation.n_player import (
    evaluate_n_players,
    mean_field_values,
    player_mdp,
    player_values,
    simulate,
)
from deep_smfg.games import make_game

f64 = torch.float64
TINY_TRAIN = ["algo.iterations=40", "algo.checkpoint_every=20", "algo.eval_every=20", "logger=none",
              "progress_bar=false", "reference.n_starts=1", "reference.n_steps=2"]
# the main job's trusted exploitability on one coarse grid, few chains (its own tests: test_twin_best_response.py)
QUICK_MEASURE = ["game.evaluator.exploitability.grids=[[13,9]]", "game.evaluator.exploitability.report_chains=512",
                 "game.evaluator.exploitability.evaluation_chains=256"]


def equilibrium(name: str, **kw):
    game = make_game(name, **kw)
    phi = torch.softmax(torch.randn(game.n_states, game.n_leader_actions, generator=torch.Generator().manual_seed(3),
                                    dtype=f64), -1)
    return game, phi, exact.solve_equilibrium(game, phi).pi


def test_one_player_deviation_gain_is_the_single_agent_mdp_s_best_response_gain():
    """n = 1: the player's own z is the whole mean field. The MDP, built by hand in numpy from the game's reward
    at each unit mean field e_z, gives the exact gain; the module and the simulation must both find it."""
    game, phi, pi = equilibrium("equilibrium_pricing")
    g, ph = np64(game.g), np64(phi)
    units = np.eye(game.n_z)
    r = sum(g[..., z] * np64(game.reward_f_tensor(torch.tensor(units[z]))) for z in range(game.n_z))  # [S, A, B]
    r1 = np.einsum("sab,sb->sa", r, ph)
    P1 = np.einsum("sabt,sb->sat", np64(game.transition_tensor(torch.tensor(units[0]))), ph)
    v_star, _, _ = soft_value_iteration(r1, P1, game.gamma, game.tau)
    v_pi = soft_policy_value(r1, P1, np64(pi), game.gamma, game.tau)
    gain = float(np64(game.rho) @ (v_star - v_pi))
    assert gain > 1.0  # alone, the equilibrium policy is far from optimal (measured 2.51)

    values = player_values(game, pi, phi, player_mdp(game, phi, exact.induced_mean_field(game, pi, phi), n=1))
    assert values.deviation_gain == pytest.approx(gain, abs=1e-9)
    assert values.follower_return == pytest.approx(float(np64(game.rho) @ v_pi), abs=1e-9)
    _, _, simulated = simulate(game, pi, phi, values.best_response, n=1, games=16, ghosts=64, burn_in=0)
    se = float(simulated.std() / 4)
    assert abs(float(simulated.mean()) - gain) < 4 * se and se < 0.05


def test_the_evaluation_converges_to_the_mean_field_values():
    """At the exact equilibrium (pi, mu*) of a fixed leader the n-player values tend to the mean-field J_l and J_f:
    the measured player's exact MDP within 2e-3 of them at n = 10,000 (measured 5e-4 and 6e-4), and the
    simulation within 4 standard errors plus 1e-3 of that MDP at every n (1e-3: the Monte Carlo error of the
    MDP's expected rewards over the others' counts, measured up to 5e-4; the worst simulation gap was 2.7 s.e.)."""
    game, phi, pi = equilibrium("equilibrium_pricing")
    limit = mean_field_values(game, pi, phi, exact.induced_mean_field(game, pi, phi))
    assert limit.exploitability == pytest.approx(0, abs=1e-9)
    rows, limit2 = evaluate_n_players(game, pi, phi, [10, 1000, 10000], games=4, ghosts=64, periods=300)
    assert limit2 == limit
    last = rows[-1]
    assert last.exact_leader_objective == pytest.approx(limit.leader_objective, abs=2e-3)
    assert last.exact_follower_return == pytest.approx(limit.follower_return, abs=2e-3)
    assert last.exact_deviation_gain == pytest.approx(0, abs=1e-4)
    gaps = [abs(r.exact_leader_objective - limit.leader_objective) for r in rows]
    assert gaps[0] > 10 * gaps[-1]  # the finite-population effect fades
    for r in rows:
        for key in ("follower_return", "leader_objective", "deviation_gain"):
            simulated, se, exact_value = getattr(r, key), getattr(r, f"{key}_se"), getattr(r, f"exact_{key}")
            assert abs(simulated - exact_value) < 4 * se + 1e-3, (r.n, key, simulated, se, exact_value)


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name in ("equilibrium_pricing", "shop_positioning"):
        runs[name] = root / name
        assert main(["train", f"game={name}", f"run_dir={runs[name]}", *TINY_TRAIN]) == 0
    return runs


def test_evaluate_writes_its_folder(finished_runs, capsys):
    run = finished_runs["equilibrium_pricing"]
    before = sorted(p.name for p in run.iterdir())
    assert main(["evaluate", f"run_dir={run}", "n_players=[1,20]", "games=4", "ghosts=8", "periods=200"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    out = run / "n_player"
    assert sorted(p.name for p in run.iterdir()) == sorted(before + ["n_player"])
    assert sorted(p.name for p in out.iterdir()) == ["n_player.csv", "n_player.png", "summary.json"]
    rows = list(csv.DictReader(open(out / "n_player.csv")))
    assert [int(r["n"]) for r in rows] == [1, 20] and line["out_dir"] == str(out)
    assert float(rows[0]["exact_deviation_gain"]) > float(rows[1]["exact_deviation_gain"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["n_players=[0,10]"], "n_players=[0, 10]: must be an integer or a list of integers >= 1"),
        (["periods=10"], "periods must be >= the return horizon"),
        (["checkpoint=OTHER"], "does not fit the run's game equilibrium_pricing"),
        (["device=tpu"], "device must be auto, cpu, cuda or cuda:<index>"),
        pytest.param(["device=cuda"], "torch sees no CUDA device here",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(finished_runs, tmp_path, capsys, args, message):
    run = tmp_path / "run"  # a copy, so that the other tests' outputs do not interfere
    shutil.copytree(finished_runs["equilibrium_pricing"], run, ignore=shutil.ignore_patterns("n_player"))
    other = finished_runs["shop_positioning"] / "checkpoints" / "last.ckpt"
    args = [a.replace("OTHER", str(other)) for a in args]
    assert main(["evaluate", f"run_dir={run}", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (run / "n_player").exists()


def test_an_unfinished_run_is_refused(finished_runs, tmp_path, capsys):
    run = tmp_path / "run"
    skip = shutil.ignore_patterns("n_player", "summary.json")
    shutil.copytree(finished_runs["equilibrium_pricing"], run, ignore=skip)
    assert main(["evaluate", f"run_dir={run}"]) == 2
    assert "no finished run" in capsys.readouterr().err
    assert not (run / "n_player").exists()


# ----- continuous games ------------------------------------------------------------------------------------------

def continuous_learner():
    from deep_smfg.cli import compose_config
    from deep_smfg.config import build_learner

    game = make_game("continuous_pricing")
    torch.manual_seed(0)
    learner = build_learner(compose_config("train", []), game).double()
    with torch.no_grad():  # a policy away from its initial zero layer, so that states and actions matter
        for p in learner.follower.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return game, learner


def test_continuous_one_player_return_matches_an_independent_rollout():
    """n = 1: the player's own z is the whole mean field. A plain per-chain loop over the game's functions (one
    chain at a time, m = its own z) gives J_f; the batched simulation must agree within 4 standard errors. With the
    deviation equal to pi, common random numbers make the gain exactly 0."""
    from deep_smfg.evaluation.n_player import horizon
    from deep_smfg.evaluation.n_player_continuous import simulate_continuous

    game, learner = continuous_learner()
    f, _, gain = simulate_continuous(game, learner.follower, learner.leader, learner.follower, n=1, games=8,
                                     ghosts=64, burn_in=0, seed=1)
    assert torch.equal(gain, torch.zeros_like(gain))
    gen = torch.Generator().manual_seed(7)
    returns = []
    with torch.no_grad():
        for _ in range(128):
            s, total = game.initial_state(1, gen, torch.zeros(1, dtype=f64)), 0.0
            for t in range(horizon(game.gamma)):
                u, a = learner.follower.sample(s, gen)
                _, b = learner.leader.sample(s, gen)
                m = game.contribution(s, a, b)[0]
                reward = game.reward_f(s, a, b, m)[0] - game.tau * learner.follower.log_prob(s, u)[0]
                total += game.gamma**t * float(reward)
                s = game.sample_next_state(s, a, b, m, gen)
            returns.append(total)
    loop = torch.tensor(returns, dtype=f64)
    se = (float(f.var() / 8) + float(loop.var() / 128)) ** 0.5
    assert abs(float(f.mean()) - float(loop.mean())) < 4 * se, (float(f.mean()), float(loop.mean()), se)


def test_evaluate_a_continuous_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", f"run_dir={run}", "algo.iterations=40", "algo.checkpoint_every=20", "algo.eval_every=20",
                 "algo.best_response_iterations=0", "logger=none", "progress_bar=false", "reference.n_starts=1",
                 "reference.n_steps=2", *QUICK_MEASURE]) == 0
    capsys.readouterr()
    assert main(["evaluate", f"run_dir={run}", "n_players=[1,20]", "games=2", "ghosts=8", "periods=140",
                 "best_response_iterations=20", "mean_field_chains=1024"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = list(csv.DictReader(open(run / "n_player" / "n_player.csv")))
    assert [int(r["n"]) for r in rows] == [1, 20] and line["game"] == "continuous_pricing"
    assert all(np.isfinite(float(r["follower_return"])) and r["exact_follower_return"] == "nan" for r in rows)
    assert (run / "n_player" / "n_player.png").exists()


def test_the_deviator_game_sees_the_n_player_mean():
    """The deviator's rewards among n players, against the game's own functions at the mean (S + own z) / n:
    n = 1 reads the player's own z alone; with every other player's z fixed at c, S = (n - 1) c exactly; and the
    bank's sums of n - 1 pool draws have the moments of such a sum (mean (n-1) E z, variance (n-1) Var z)."""
    from deep_smfg.evaluation.n_player_deviation import deviator_game, others_sums, per_row

    game, learner = continuous_learner()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        s = game.initial_state(64, gen, torch.zeros(1, dtype=f64)) + torch.rand(64, 1, generator=gen, dtype=f64)
        _, a = learner.follower.sample(s, gen)
        _, b = learner.leader.sample(s, gen)
    z = game.contribution(s, a, b)
    ignored = torch.full((1,), 123.0, dtype=f64)  # the deviator's rewards do not read the learner's m
    alone = deviator_game(game, others_sums(torch.ones(1, 1, dtype=f64), 1), 1)
    assert torch.allclose(alone.reward_f(s, a, b, ignored), per_row(game.reward_f)(s, a, b, z), rtol=0, atol=1e-12)
    c, n = 0.8, 7
    among = deviator_game(game, others_sums(torch.full((1, 1), c, dtype=f64), n), n)
    expected = per_row(game.reward_l)(s, a, b, ((n - 1) * c + z) / n)
    assert torch.allclose(among.reward_l(s, a, b, ignored), expected, rtol=0, atol=1e-12)
    pool = torch.rand(5000, 1, generator=gen, dtype=f64) * 2
    sums = others_sums(pool, 101, bank=4096, seed=3)[:, 0]
    se_mean = (100 * pool.var() / 4096) ** 0.5
    assert abs(float(sums.mean()) - 100 * float(pool.mean())) < 4 * float(se_mean)
    assert abs(float(sums.var()) / (100 * float(pool.var())) - 1) < 0.1  # sd of the ratio about 0.022


@pytest.mark.slow  # 40-50 s of learning: make test-slow (the default suite stays under 10 minutes)
def test_the_learned_one_player_deviation_reaches_the_twin_s_exact_best_response(tmp_path, capsys):
    """n = 1 on continuous pricing: the deviator's problem is a single-agent MDP in which its own sales set the
    price. The independent answer is that MDP's exact soft best response on a fine twin (25 inventory levels,
    17 x 17 actions; its values shifted by the entropy constant tau log(cell) / (1 - gamma), docs/n_player.md).
    The learned deviation's return (pi's simulated return plus the simulated gain) must come within 10% of it
    (measured on the main job: 3.5%); the mean-field deviation, blind to its price impact, stays about 35% short."""
    import math

    from omegaconf import OmegaConf

    from deep_smfg.config import build_learner
    from deep_smfg.evaluation.continuous_metrics import induced_mean, project_policies
    from deep_smfg.evaluation.n_player_continuous import simulate_continuous
    from deep_smfg.evaluation.n_player_deviation import learned_deviation, stationary_pool
    from deep_smfg.games.continuous import discretise

    run = tmp_path / "run"
    assert main(["train", f"run_dir={run}", "algo.iterations=2000", "algo.checkpoint_every=2000",
                 "algo.eval_every=0", "algo.best_response_iterations=0", "logger=none", "progress_bar=false",
                 "reference.n_starts=1", "reference.n_steps=2", *QUICK_MEASURE]) == 0
    capsys.readouterr()
    game = make_game("continuous_pricing")
    learner = build_learner(OmegaConf.load(run / "config.yaml"), game).double()
    learner.load_state_dict(torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"])
    twin = discretise(game, 25, 17, 9)
    pi, phi = project_policies(twin, learner.follower, learner.leader)
    values = player_values(twin.game, pi, phi, player_mdp(twin.game, phi, twin.game.uniform_mean_field(), n=1))
    shift = game.tau * math.log(twin.game.info["action_cell"]) / (1 - game.gamma)
    exact_best = values.follower_return + values.deviation_gain + shift

    m_bar = induced_mean(game, learner.follower, learner.leader, learner.mean_field().detach())
    pool = stationary_pool(game, learner.follower, learner.leader, m_bar)
    deviation = learned_deviation(learner, pool, m_bar, n=1, iterations=3000)
    f, _, gain = simulate_continuous(game, learner.follower, learner.leader, deviation, n=1, games=4, ghosts=64,
                                     burn_in=0)
    learned_best = float((f + gain).mean())
    assert abs(learned_best / exact_best - 1) < 0.10, (learned_best, exact_best)
