"""The learner structure: configs select classes, leader gradients are plug-ins, any iteration count works,
evaluation callbacks flag a run that ends worse than it started."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from deep_smfg.cli import compose_config, main
from deep_smfg.config import ConfigError, build_learner
from deep_smfg.evaluation.callbacks import regressions
from deep_smfg.games import make_game
from deep_smfg.learners import ACSMFG, ModelSpec, PowerSchedule
from deep_smfg.learners.leader_gradients import available, make_leader_gradient

QUIET = ["logger=none", "progress_bar=false"]


def test_the_algo_config_builds_the_class_it_names_with_its_values():
    cfg = compose_config("train", ["game=shop_positioning", "algo.n_envs=8", "algo.step_sizes.leader.c=0.5", "seed=3"])
    learner = build_learner(cfg, make_game("shop_positioning"))
    assert type(learner) is ACSMFG
    assert (learner.n_envs, learner.seed, learner.schedules["leader"]) == (8, 3, PowerSchedule(0.5, 0.5))
    assert learner.model_spec == ModelSpec("tabular", "tabular", (64, 64))


def test_unknown_algo_keys_are_refused_with_the_valid_ones():
    cfg = compose_config("train", ["game=shop_positioning", "+algo.warp_speed=9"])
    with pytest.raises(ConfigError, match="unknown algo key.*warp_speed.*valid: .*leader_gradient"):
        build_learner(cfg, make_game("shop_positioning"))


def test_leader_gradients_are_discovered_from_their_files():
    assert "partial" in available() and "base" not in available()
    with pytest.raises(ValueError, match="valid: .*partial"):
        make_leader_gradient("nope", make_game("congestion_toll"))


def test_the_partial_leader_loss_is_the_policy_gradient_with_the_td_error():
    """Step 7 by hand: for a tabular leader, d/d omega[s, :] of the loss is -mean(delta_l (e_b - phi(.|s)))."""
    game = make_game("congestion_toll")
    m = ACSMFG(game, step_sizes={g: PowerSchedule(0.1) for g in ACSMFG.GROUPS}, n_envs=16, seed=0).double()
    with torch.no_grad():
        m.leader.theta.copy_(torch.randn_like(m.leader.theta))
    m.setup("fit")
    t = m.transition()
    delta = torch.randn(16, dtype=torch.float64)
    loss = m.leader_gradient.losses(m, t, torch.zeros_like(delta), delta)["leader"]
    (grad,) = torch.autograd.grad(loss, m.leader.theta)
    phi = torch.softmax(m.leader.theta.detach(), -1)
    expected = torch.zeros_like(grad)
    eye = torch.eye(game.n_leader_actions, dtype=torch.float64)
    for i in range(16):
        expected[t.s[i]] -= delta[i] * (eye[t.b[i]] - phi[t.s[i]]) / 16
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("args, message", [
    (["train", "algo.leader_gradient=nope"], "unknown algo.leader_gradient 'nope'; valid: "),
    (["train", "game=four_rooms", "algo.eval_every=15"],
     "algo.eval_every=15 must be a multiple of algo.iterations_per_step=10"),
    (["train", "algo._target_=deep_smfg.games.make_game"], "is not a SampledLearner"),
    (["train", "+algo.warp_speed=9"], "unknown algo key(s) ['warp_speed']"),
])
def test_bad_learner_configs_are_refused_before_anything_is_written(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    assert main(args + QUIET + [f"run_dir={run_dir}"]) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()


def test_any_iteration_count_runs_with_a_short_last_epoch_and_a_final_evaluation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "game=congestion_toll", "algo.iterations=250", "algo.checkpoint_every=100",
                 "algo.eval_every=100", *QUIET, f"run_dir={run}"]) == 0
    s = json.loads((run / "summary.json").read_text())
    assert s["iterations"] == 250 and s["samples"] == 250 * 64
    assert s["final"]["iteration"] == 250  # evaluated at the end of the short epoch
    with open(run / "metrics.csv", newline="") as f:
        assert [int(row["iteration"]) for row in csv.DictReader(f)] == [0, 100, 200, 250]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert int(ckpt["state_dict"]["iteration"]) == 250


def test_a_run_that_ends_worse_than_it_started_is_flagged():
    history = [{"iteration": 0, "follower_exploitability": 1.0, "leader_objective": 0.5},
               {"iteration": 100, "follower_exploitability": 3.0, "leader_objective": 0.7}]
    watch = {"follower_exploitability": "lower", "leader_objective": "higher"}
    (warning,) = regressions(history, watch)
    assert warning.startswith("follower_exploitability ended worse than it started: 1 at iteration 0, "
                              "3 at iteration 100")
    assert regressions(history[:1], watch) == []


def test_total_exact_is_the_exact_stackelberg_gradient_in_the_leaders_logits():
    from deep_smfg import exact

    game = make_game("equilibrium_pricing", leader="incentive")
    m = ACSMFG(game, step_sizes={g: PowerSchedule(0.1) for g in ACSMFG.GROUPS}, leader_gradient="total_exact",
               n_envs=4, seed=0).double()
    with torch.no_grad():
        m.leader.theta.copy_(0.5 * torch.randn_like(m.leader.theta))
    m.setup("fit")
    t = m.transition()
    zero = torch.zeros(4, dtype=torch.float64)
    (got,) = torch.autograd.grad(m.leader_gradient.losses(m, t, zero, zero)["leader"], m.leader.theta)
    phi = torch.softmax(m.leader.theta.detach(), -1)
    expected = -exact.logit_gradient(phi, exact.stackelberg_gradient(game, phi).total)  # at mu*(phi), solved afresh
    assert float((got - expected).norm() / expected.norm()) < 1e-6
    # ... and it is not the partial gradient, which is blind here (cosine 0.2 at the uniform leader)
    partial = -exact.logit_gradient(phi, exact.stackelberg_gradient(game, phi).partial)
    assert exact.cosine(got, partial) < 0.9


def test_total_exact_is_refused_on_a_continuous_game_naming_what_works(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "algo.leader_gradient=total_exact", "model=squashed_gaussian", *QUIET,
                 f"run_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "total_exact does not support continuous games" in err
    assert "options that work there: partial, total_sampled" in err
    assert not (tmp_path / "run").exists()


ALGOS = ["ac_smfg", "ac_smfg_neural", "ac_smfg_total", "one_by_one", "cui_koeppl", "adage", "mf_trpo"]


@pytest.mark.parametrize("algo", ALGOS)
def test_the_declared_face_holds_what_the_learner_trains_and_nothing_it_fakes(algo):
    """agents() is the face evaluation reads; every parameter that asks for a gradient is one an optimiser moves
    (no module carried for show, no zero loss term needed under DDP); progress() is the one count of samples."""
    cfg = compose_config("train", ["game=equilibrium_pricing", f"algo={algo}"])
    learner = build_learner(cfg, make_game("equilibrium_pricing"))
    agents = learner.agents()
    assert {agents.follower, agents.leader, agents.mean_field} <= set(learner.children())
    critics = [m for m in (agents.critic_f, agents.critic_l) if m is not None]
    assert all(any(m is c for c in learner.modules()) for m in critics)
    trained = {id(p) for params in learner.parameter_groups().values() for p in params}
    wants_grad = {id(p) for p in learner.parameters() if p.requires_grad}
    assert wants_grad == trained
    if algo in ("cui_koeppl", "mf_trpo"):  # action-value learners: no state-value critics, carried or declared
        assert agents.critic_f is None and agents.critic_l is None
        assert not any(k.startswith(("critic_f.", "critic_l.")) for k in learner.state_dict())
    learner.run_standalone(3)
    progress = learner.progress(world=2)
    assert (progress.iteration, progress.samples) == (3, 3 * learner.samples_per_iteration * 2)


def test_a_learner_refuses_a_game_it_does_not_support_naming_what_runs(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "game=continuous_pricing", "algo=cui_koeppl", *QUIET, f"run_dir={run_dir}"]) == 2
    err = capsys.readouterr().err
    assert "algo=cui_koeppl does not support continuous games;" in err and "on continuous_pricing;" in err
    assert "options that work there: algo=ac_smfg, algo=one_by_one" in err
    assert not run_dir.exists()
    assert main(["train", "game=equilibrium_pricing", "algo=mf_trpo", "+algo.reward_centering=true", *QUIET,
                 f"run_dir={run_dir}"]) == 2
    assert "algo=mf_trpo does not support reward_centering=true" in capsys.readouterr().err
