"""Run folders hold one run and never lie; failures say so (docs/reliability.md).

One regression test per defect of the run-folder issue: a resume in a moved folder, a second run into a folder
that holds one, two writers at once, the CSV history on resume, the record of each part, SIGTERM and SIGINT,
and divergence. (Bad values, ``n_starts=0`` among them, and sweeps' pre-checks: tests/test_bad_inputs.py.)
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deep_smfg import cli, hydra_app
from deep_smfg.checkpoints import newest_checkpoint, read_checkpoint
from deep_smfg.evaluation.callbacks import EvaluationCallback
from deep_smfg.exact import StationaryDistributionError
from deep_smfg.learners import DivergenceError
from deep_smfg.run_lock import LOCK_NAME

TINY = ["game=congestion_toll", "algo.checkpoint_every=40", "algo.eval_every=20", "algo.n_envs=16", "seed=7",
        "progress_bar=false", "reference.n_starts=1"]  # one start: a cheaper reference Phi*


@pytest.fixture(autouse=True)
def _here(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)


def train(*args: str) -> int:
    return cli.main(["train", *TINY, *args])


def state(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if "wall_time" not in k} for row in csv.DictReader(f)]


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONWARNINGS="ignore", WANDB_MODE="disabled")
    env.pop("DEEP_SMFG_RUN_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "deep_smfg.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(predicate, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_resume_in_a_moved_folder_ends_with_the_newest_state_and_keeps_every_record(tmp_path, capsys):
    """Defects 1, 4 and 6: last.ckpt was the state before the interruption; the CSV lost its first rows."""
    full, cut, moved = tmp_path / "full", tmp_path / "cut", tmp_path / "elsewhere" / "moved"
    assert train("algo.iterations=120", "logger=csv", f"run_dir={full}") == 0
    assert train("algo.iterations=40", "logger=csv", f"run_dir={cut}") == 0  # "interrupted" after 40
    moved.parent.mkdir()
    cut.rename(moved)
    assert train("algo.iterations=120", "logger=csv", f"run_dir={moved}", "resume=last") == 0
    assert read_checkpoint(moved / "checkpoints" / "last.ckpt").iteration == 120  # was 40: the state before the cut
    assert same_state(state(full), state(moved))
    files = sorted(p.name for p in (moved / "checkpoints").iterdir())
    assert files == ["iteration_120.ckpt", "iteration_80.ckpt", "last.ckpt"]  # no last-v1.ckpt
    assert csv_rows(full / "csv" / "metrics.csv") == csv_rows(moved / "csv" / "metrics.csv")
    assert csv_rows(full / "metrics.csv") == csv_rows(moved / "metrics.csv")
    summary = json.loads((moved / "summary.json").read_text())
    assert (summary["status"], summary["iterations"]) == ("completed", 120)
    assert [(p["part"], p["from_iteration"], p["changed"]) for p in summary["parts"]] == [
        (0, 0, {}),
        (1, 40, {"algo.iterations": [40, 120], "resume": [None, "last"], "run_dir": [str(cut), str(moved)]})]
    # a no-op resume of the finished run keeps the history
    history = (moved / "csv" / "metrics.csv").read_text()
    assert train("algo.iterations=120", "logger=csv", f"run_dir={moved}", "resume=last") == 0
    assert (moved / "csv" / "metrics.csv").read_text() == history
    # evaluate reads the newest state
    capsys.readouterr()
    assert cli.main(["evaluate", f"run_dir={moved}", "n_players=10", "games=2", "ghosts=4", "periods=200",
                     "samples=8"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == "completed"


def test_a_folder_holding_a_run_is_refused_or_emptied_by_overwrite(tmp_path, capsys):
    """Defect 2: a second run replaced the summary but left the first run's last.ckpt."""
    run = tmp_path / "run"
    assert train("algo.iterations=80", "logger=csv", f"run_dir={run}") == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert train("algo.iterations=40", "seed=3", f"run_dir={run}") == 2
    assert "already holds a run of congestion_toll, seed 7 (completed)" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert train("algo.iterations=40", "seed=3", "logger=none", f"run_dir={run}", "overwrite=true") == 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iteration_40.ckpt", "last.ckpt"]
    assert not (run / "csv").exists()  # the first run's files are gone, not mixed in
    fresh = tmp_path / "fresh"
    assert train("algo.iterations=40", "seed=3", "logger=none", f"run_dir={fresh}") == 0
    assert same_state(state(run), state(fresh))


def test_a_second_writer_fails_at_once_and_a_stale_lock_is_cleared(tmp_path, capsys):
    """Defect 3: two runs on one run_dir both exited 0 and left a mixed folder."""
    run = tmp_path / "run"
    first = spawn(["train", *TINY, "algo.iterations=400000", "logger=none", f"run_dir={run}"], tmp_path)
    try:
        wait_for(lambda: (run / "config.yaml").exists() or first.poll() is not None)
        assert first.poll() is None, first.communicate()
        t0 = time.monotonic()
        assert train("algo.iterations=40", f"run_dir={run}", "resume=last") == 2
        assert time.monotonic() - t0 < 30
        assert f"is in use by another run: pid {first.pid} on" in capsys.readouterr().err
        assert cli.main(["evaluate", f"run_dir={run}", "games=2"]) == 2  # nor is it read meanwhile
        assert f"is in use by another run: pid {first.pid} on" in capsys.readouterr().err
    finally:
        first.kill()  # kill -9: the kernel drops its lock; the lock file still names it
        first.communicate()
    assert json.loads((run / "summary.json").read_text())["status"] == "running"  # what was last known
    newest = newest_checkpoint(run / "checkpoints")
    end = (newest.iteration if newest else 0) + 40
    assert train(f"algo.iterations={end}", "logger=none", f"run_dir={run}", "resume=last") == 0
    err = capsys.readouterr().err
    assert f"cleared a stale lock of {run}: pid {first.pid}" in err and "is no longer running" in err
    assert (run / LOCK_NAME).read_text() == ""  # released
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_writes_the_status_and_exits_non_zero(tmp_path, sig):
    """Defect 7: SIGTERM exited 0 with no summary."""
    run = tmp_path / "run"
    proc = spawn(["train", *TINY, "algo.iterations=400000", "logger=none", f"run_dir={run}"], tmp_path)
    wait_for(lambda: (run / "checkpoints" / "last.ckpt").exists() or proc.poll() is not None)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"stopped by {signal.Signals(sig).name} at iteration" in errors[0]
    stopped_at = int(errors[0].split("at iteration ")[1].split(";")[0])
    assert newest_checkpoint(run / "checkpoints").iteration == stopped_at > 0
    assert (run / LOCK_NAME).read_text() == ""  # released
    # the interrupted run resumes and completes
    assert train(f"algo.iterations={stopped_at + 20}", "logger=none", f"run_dir={run}", "resume=last") == 0
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


def test_a_non_finite_loss_ends_as_diverged_with_one_error_line(tmp_path, capsys):
    """Defect 9: a raw traceback and no summary."""
    run = tmp_path / "run"
    steps = [f"algo.step_sizes.{g}.c={c}" for g, c in (("critic", 1e30), ("follower", 1e30), ("mean_field", 1),
                                                        ("leader", 1))]
    assert train("algo.iterations=40", "algo.optimizer=adam", *steps, "logger=none", f"run_dir={run}") == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "non-finite loss at iteration" in errors[0] and "Traceback" not in err
    assert "the last good checkpoint: none saved yet" in errors[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and "non-finite loss" in summary["error"]


def test_an_exact_solver_failing_inside_evaluation_is_a_divergence():
    """Defect 9: StationaryDistributionError inside evaluation, with no iteration named."""

    class Failing:
        prefix, progress, watch = "exact", (), {}

        def evaluate(self, learner):
            raise StationaryDistributionError("the chain has 2 closed classes")

    class Learner:
        iteration = torch.tensor(1230)

        def last_checkpoint_note(self) -> str:
            return "the last good checkpoint: runs/x/checkpoints/last.ckpt"

    with pytest.raises(DivergenceError, match=r"evaluation at iteration 1230 failed \(StationaryDistributionError: "
                                              r"the chain has 2 closed classes\).*runs/x/checkpoints/last.ckpt"):
        EvaluationCallback(Failing(), every=10).evaluate(Learner(), log=False)


def test_every_summary_carries_its_status(tmp_path, capsys):
    assert cli.main(["solve", "game=congestion_toll", "optimum.n_starts=1", "optimum.n_steps=5",
                     f"run_dir={tmp_path / 'solve'}"]) == 0
    assert json.loads((tmp_path / "solve" / "summary.json").read_text())["status"] == "completed"


def test_a_resumed_part_continues_the_same_wandb_run(tmp_path):
    """Every logger appends on resume: W&B gets the run's id kept in the folder."""
    from deep_smfg.loggers import make_loggers

    cfg = cli.compose_config("train", ["game=congestion_toll", "logger=wandb", "logger.mode=disabled"])
    (first,) = make_loggers(cfg, tmp_path, keep_before=0)
    (second,) = make_loggers(cfg, tmp_path, keep_before=None)
    run_id = (tmp_path / "wandb_id").read_text().strip()
    assert len(run_id) == 8 and first._wandb_init["id"] == second._wandb_init["id"] == run_id
    assert second._wandb_init["resume"] == "allow"


def test_solve_stopped_by_sigterm_says_so(tmp_path):
    run = tmp_path / "solve"
    proc = spawn(["solve", "game=four_rooms", "optimum.n_starts=50", f"run_dir={run}"], tmp_path)
    wait_for(lambda: (run / "config.yaml").exists() or proc.poll() is not None)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "error: stopped by SIGTERM while solving" in err
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert (run / LOCK_NAME).read_text() == ""


def test_resuming_from_an_older_checkpoint_sets_the_newer_ones_aside(tmp_path):
    """Left in place, a newer checkpoint of the abandoned line would be what resume=last and evaluate read."""
    run = tmp_path / "run"
    assert train("algo.iterations=120", "logger=none", f"run_dir={run}") == 0
    older = run / "checkpoints" / "iteration_80.ckpt"
    assert train("algo.iterations=100", "logger=none", f"run_dir={run}", f"resume={older}",
                 "algo.checkpoint_every=40") == 0
    assert newest_checkpoint(run / "checkpoints").iteration == 100
    assert sorted(p.name for p in (run / "checkpoints" / "abandoned-part1").iterdir()) == [
        "iteration_120.ckpt", "last.ckpt"]
    parts = json.loads((run / "summary.json").read_text())["parts"]
    assert parts[1]["abandoned_checkpoints"] == ["iteration_120.ckpt", "last.ckpt"]


def test_overwrite_empties_only_a_folder_holding_nothing_but_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert train("algo.iterations=40", "logger=none", f"run_dir={run}") == 0
    (run / "notes.txt").write_text("mine\n")
    assert train("algo.iterations=40", "logger=none", f"run_dir={run}", "overwrite=true") == 2
    assert "holds files a run does not write (notes.txt)" in capsys.readouterr().err
    assert (run / "notes.txt").read_text() == "mine\n" and (run / "checkpoints").is_dir()


def test_a_signal_stops_a_sweep(tmp_path, monkeypatch, capsys):
    from deep_smfg.config import RunEnded

    ran = []

    def stopped_on_seed_1(cfg):
        ran.append(int(cfg.optimum.seed))
        if cfg.optimum.seed == 1:
            raise RunEnded("stopped by SIGTERM while solving", "interrupted", 143)
        (Path(cfg.run_dir) / "summary.json").write_text(json.dumps({"status": "completed", "phi_star": -1.0}))
        return "{}"

    stopped = hydra_app.Command(lambda cfg: None, stopped_on_seed_1, lambda cfg: Path(cfg.run_dir))
    monkeypatch.setattr(hydra_app, "commands", lambda: {"solve": stopped})
    assert cli.main(["solve", "-m", "game=congestion_toll", "optimum.seed=0,1,2",
                     f"sweep_dir={tmp_path / 'sweep'}"]) == 143
    assert ran == [0, 1]
    assert "the sweep stopped at job 1: interrupted: stopped by SIGTERM" in capsys.readouterr().err
