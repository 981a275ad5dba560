"""Training runs end to end: the TorchRL env, DDP on 2 CPU processes, resume, and a slow learning check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchrl.envs.utils import check_env_specs

from deep_smfg.envs import SMFGEnv
from deep_smfg.games import GAMES, make_game

SHORT = ["logger=none", "progress_bar=false", "algo.eval_every=0", "algo.iterations_per_step=10"]
# continuous runs always solve their twin (for the final plots): a quick one in tests
QUICK_TWIN = ["reference.n_starts=1", "reference.n_steps=3", "algo.best_response_iterations=0"]
GAME_ARGS = {"equilibrium_pricing": ["game=equilibrium_pricing"],
             "continuous_pricing": ["game=continuous_pricing", *QUICK_TWIN]}


def deep_smfg(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore", WANDB_MODE="disabled")
    env.pop("DEEP_SMFG_RUN_DIR", None)
    cmd = [sys.executable, "-m", "deep_smfg.cli", *args]
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", sorted(GAMES))
def test_env_specs_and_chains(name):
    env = SMFGEnv(make_game(name), n_envs=512, seed=0)
    check_env_specs(env)
    td = env.reset()
    restarts, steps = 0, 50
    for _ in range(steps):
        td.update(env.action_spec.rand())
        out, td = env.step_and_maybe_reset(td)
        truncated = out["next", "truncated"].squeeze(-1)
        restarts += int(truncated.sum())
        # the stationary chain is never restarted; the occupancy chain restarts only where truncated
        assert torch.equal(td["state_bar"], out["next", "state_bar"])
        assert torch.equal(td["state"][~truncated], out["next", "state"][~truncated])
    p = 1 - env.game.gamma
    n = steps * 512
    assert abs(restarts / n - p) < 5 * (p * (1 - p) / n) ** 0.5


@pytest.mark.parametrize("game", sorted(GAME_ARGS))
def test_ddp_two_cpu_processes_end_with_identical_parameters(tmp_path, game):
    run = tmp_path / "ddp"
    deep_smfg(["train", "trainer=ddp_cpu", "algo.iterations=60", "algo.checkpoint_every=30", f"run_dir={run}", *SHORT,
               *GAME_ARGS[game]], tmp_path)
    a, b = (torch.load(run / f"final_params_rank{r}.pt") for r in (0, 1))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    trained = a["follower.theta"] if game == "equilibrium_pricing" else a["follower.net.4.weight"]
    assert trained.abs().sum() > 0  # it trained (both start at zero)
    assert json.loads((run / "summary.json").read_text())["samples"] == 60 * 64 * 2


def test_a_resumed_ddp_run_matches_an_uninterrupted_one_on_every_rank(tmp_path):
    """Each rank resumes its own chains and traces (the checkpoint holds every rank's; rank 1 used to get rank 0's)."""
    common = ["trainer=ddp_cpu", "game=equilibrium_pricing", "algo=ac_smfg_total", "algo.checkpoint_every=40",
              "algo.n_envs=16", "seed=7", *SHORT]
    full, cut = tmp_path / "full", tmp_path / "cut"
    deep_smfg(["train", "algo.iterations=80", f"run_dir={full}", *common], tmp_path)
    deep_smfg(["train", "algo.iterations=40", f"run_dir={cut}", *common], tmp_path)
    deep_smfg(["train", "algo.iterations=80", f"run_dir={cut}", "resume=last", *common], tmp_path)
    for rank in (0, 1):
        a, b = (torch.load(run / f"final_params_rank{rank}.pt") for run in (full, cut))
        assert all(torch.equal(a[k], b[k]) for k in a), rank


# the sampled total-gradient leader carries traces with the chains: a resumed run must restore them too
RESUME_ARGS = {**GAME_ARGS, "pricing_total_sampled": ["game=equilibrium_pricing", "algo=ac_smfg_total"]}


@pytest.mark.parametrize("game", sorted(RESUME_ARGS))
def test_resumed_run_matches_an_uninterrupted_run(tmp_path, game):
    common = ["algo.checkpoint_every=40", "algo.n_envs=16", "seed=7", *SHORT, *RESUME_ARGS[game]]
    full, cut = tmp_path / "full", tmp_path / "cut"
    deep_smfg(["train", "algo.iterations=120", f"run_dir={full}", *common], tmp_path)
    deep_smfg(["train", "algo.iterations=40", f"run_dir={cut}", *common], tmp_path)  # "interrupted" after 40
    deep_smfg(["train", "algo.iterations=120", f"run_dir={cut}", "resume=last", *common], tmp_path)
    a = torch.load(full / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(cut / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert int(a["iteration"]) == int(b["iteration"]) == 120
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_ac_smfg_learns_pricing_stake(tmp_path):
    """Looser than docs/results.md: 10k iterations instead of 20k."""
    run = tmp_path / "learn"
    deep_smfg(["train", "game.leader=stake", "algo.iterations=10000", "algo.eval_every=2000", "logger=csv",
               "progress_bar=false", f"run_dir={run}"], tmp_path)
    s = json.loads((run / "summary.json").read_text())
    assert s["final"]["follower_exploitability"] < 0.05
    assert s["final"]["mean_field_error"] < 0.1
    assert s["partial_grad_norm_reduction"] > 10
    gain = s["phi_star"] - s["initial"]["leader_objective"]
    assert s["final"]["leader_gap"] < 0.1 * gain
