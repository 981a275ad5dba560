"""Training runs end to end: the TorchRL env, DDP on 2 CPU processes, resume, and a slow learning check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torchrl.envs.utils import check_env_specs

from deep_smfg.envs import SMFGEnv
from deep_smfg.games import GAMES, make_game

SHORT = ["logger=none", "progress_bar=false", "algo.eval_every=0", "algo.iterations_per_step=10"]
# continuous runs always solve their twin (for the final plots): a quick one in tests
QUICK_TWIN = ["reference.n_starts=1", "reference.n_steps=3", "algo.best_response_iterations=0",
              # the trusted exploitability on one coarse grid, few chains (its own tests: test_twin_best_response.py)
              "game.evaluator.exploitability.grids=[[13,9]]", "game.evaluator.exploitability.report_chains=512",
              "game.evaluator.exploitability.evaluation_chains=256"]
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


@pytest.mark.parametrize("game", ["equilibrium_pricing", pytest.param("continuous_pricing", marks=pytest.mark.slow)])
def test_ddp_two_cpu_processes_end_with_identical_parameters(tmp_path, game):  # DDP is the game's kind's: 11 s each
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


def test_the_stop_rule_stops_every_ddp_rank_at_one_iteration(tmp_path):
    """A leader-gap target of 1 (the gap starts near 0.01) is met at the first evaluation after iteration 0, on both
    ranks: both stop there, with identical parameters, and the summary says why (deep_smfg/stopping.py)."""
    run = tmp_path / "ddp"
    deep_smfg(["train", "game=congestion_toll", "trainer=ddp_cpu", "algo.iterations=600", "algo.checkpoint_every=200",
               "algo.eval_every=100", "+algo.stop.targets.leader_gap=1.0", "logger=none", "progress_bar=false",
               "reference.n_starts=1", f"run_dir={run}"], tmp_path)
    a, b = (torch.load(run / f"final_params_rank{r}.pt") for r in (0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop"]["reason"] == "targets" and summary["stop"]["iteration"] == 100
    assert summary["samples"] == 100 * 64 * 2


def test_a_ddp_job_runs_inside_a_sweep_launched_from_any_process(tmp_path, monkeypatch):
    """Lightning starts a DDP job's second rank by re-running the main module: here pytest's, in a joblib worker
    joblib's; the rank runs deep_smfg.cli instead, with the job rank 0 hands over (deep_smfg/distributed.py)."""
    from deep_smfg import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    before = dict(os.environ)
    assert cli.main(["train", "-m", "trainer=ddp_cpu", "algo.iterations=60", "algo.checkpoint_every=30", *SHORT,
                     *GAME_ARGS["equilibrium_pricing"], "seed=4,5", "sweep_dir=sweep"]) == 0
    runs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert [run.name for run in runs] == ["0_seed=4", "1_seed=5"]
    for run in runs:
        a, b = (torch.load(run / f"final_params_rank{r}.pt") for r in (0, 1))
        assert all(torch.equal(a[k], b[k]) for k in a) and a["follower.theta"].abs().sum() > 0
        assert json.loads((run / "summary.json").read_text())["samples"] == 60 * 64 * 2
    ddp_keys = {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "NODE_RANK", "LOCAL_RANK", "DEEP_SMFG_RUN_DIR"}
    assert {k: os.environ.get(k) for k in ddp_keys} == {k: before.get(k) for k in ddp_keys}  # stayed in the jobs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launcher_env(launcher: str, rank: int, port: int) -> dict[str, str]:
    """What torchrun or SLURM's srun sets for rank ``rank`` of 2 nodes x 1 process (under SLURM a free MASTER_PORT,
    as a job script may set it, rather than Lightning's default from the job id)."""
    if launcher == "torchrun":
        return dict(TORCHELASTIC_RUN_ID="simulated", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                    RANK=str(rank), GROUP_RANK=str(rank), LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")
    return dict(SLURM_NTASKS="2", SLURM_PROCID=str(rank), SLURM_LOCALID="0", SLURM_NODEID=str(rank),
                SLURM_JOB_ID="4242", MASTER_PORT=str(port), SLURM_NODELIST="localhost", SLURM_JOB_NAME="simulated",
                SLURM_NTASKS_PER_NODE="1", SLURM_TASKS_PER_NODE="1")


@pytest.mark.parametrize("launcher", ["torchrun", pytest.param("srun", marks=pytest.mark.slow)])  # 8 s each
def test_two_simulated_nodes_share_rank_0s_run_folder_and_end_with_identical_parameters(tmp_path, launcher):
    """2 nodes x 1 process, as torchrun or srun starts them: each runs the whole command with its own clock, so
    each would name its own timestamped folder; global rank 0 claims one and tells the other (docs/cluster.md)."""
    port, procs = free_port(), []
    for rank in (0, 1):
        env = dict(os.environ, PYTHONWARNINGS="ignore", WANDB_MODE="disabled", **launcher_env(launcher, rank, port))
        cmd = [sys.executable, "-m", "deep_smfg.cli", "train", "trainer=ddp_cpu", "trainer.devices=1",
               "trainer.num_nodes=2", "algo.iterations=60", "algo.checkpoint_every=30", *SHORT,
               *GAME_ARGS["equilibrium_pricing"]]
        procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
        time.sleep(1.5)  # a later clock on the second node: another default folder name
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    (run,) = (tmp_path / "runs" / "train").glob("*/*")  # one run folder for both ranks
    a, b = (torch.load(run / f"final_params_rank{r}.pt") for r in (0, 1))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert a["follower.theta"].abs().sum() > 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["samples"] == 60 * 64 * 2 and summary["status"] == "completed"


def test_a_resumed_ddp_run_matches_an_uninterrupted_one_on_every_rank(tmp_path):
    """Each rank resumes its own chains and traces (the checkpoint holds every rank's; rank 1 used to get rank 0's)."""
    common = ["trainer=ddp_cpu", "game=equilibrium_pricing", "algo=ac_smfg_total", "algo.checkpoint_every=40",
              "algo.n_envs=16", "algo.step_sizes.leader.start=0", "seed=7", *SHORT]  # start=0: the leader moves
    full, cut = tmp_path / "full", tmp_path / "cut"
    deep_smfg(["train", "algo.iterations=80", f"run_dir={full}", *common], tmp_path)
    deep_smfg(["train", "algo.iterations=40", f"run_dir={cut}", *common], tmp_path)
    deep_smfg(["train", "algo.iterations=80", f"run_dir={cut}", "resume=last", *common], tmp_path)
    for rank in (0, 1):
        a, b = (torch.load(run / f"final_params_rank{rank}.pt") for run in (full, cut))
        assert all(torch.equal(a[k], b[k]) for k in a), rank


# the sampled total-gradient leader carries traces with the chains: a resumed run must restore them too
# (its leader moves from the first iteration: the config's 2,000-iteration hold would leave it still here)
RESUME_ARGS = {**GAME_ARGS, "pricing_total_sampled": ["game=equilibrium_pricing", "algo=ac_smfg_total",
                                                      "algo.step_sizes.leader.start=0"]}


# equilibrium_pricing with the partial leader is a subset of pricing_total_sampled's state (the same game, chains and
# modules, without the traces): in make test-slow
@pytest.mark.parametrize("game", [pytest.param(g, marks=pytest.mark.slow) if g == "equilibrium_pricing" else g
                                  for g in sorted(RESUME_ARGS)])
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
