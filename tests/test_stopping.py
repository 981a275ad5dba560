"""The stop rule ``algo.stop`` (deep_smfg/stopping.py, docs/stopping.md): the plateau test on sequences whose answer
is known, targets, and a run it ends (bad values: tests/test_bad_inputs.py)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from deep_smfg import cli
from deep_smfg.checkpoints import newest_checkpoint
from deep_smfg.config import RunEnded
from deep_smfg.stopping import StopRule, plateaued, stop_reason


def test_a_metric_on_its_way_down_has_not_plateaued():
    """1/k, geometric and linear descents: each window's fitted descent and new best exceed the residuals' range,
    until the relative term (5% of the metric's size) takes over for 1/k at k >= 80 evaluations (W/k <= 0.05). A metric
    that only gets worse has nothing to wait for (its regression is flagged apart: evaluation/callbacks.py)."""
    assert not any(plateaued([1 / k for k in range(1, n)], "lower", 4, 0.05) for n in range(6, 80))
    assert plateaued([1 / k for k in range(1, 90)], "lower", 4, 0.05)
    assert not any(plateaued([0.5 ** k for k in range(n)], "lower", 4, 0.05) for n in range(5, 60))
    assert not any(plateaued([float(k) for k in range(n)], "higher", 4, 0.05) for n in range(5, 60))  # up
    assert all(plateaued([-float(k) for k in range(n)], "higher", 4, 0.05) for n in range(5, 60))  # worse: no wait


def test_noise_around_a_level_is_a_plateau_and_a_new_low_by_more_than_the_scatter_is_not():
    g = torch.Generator().manual_seed(0)
    level = (1.0 + 0.01 * torch.randn(200, generator=g)).tolist()
    stops = [n for n in range(5, 200) if plateaued(level[:n], "lower", 4, 0.0)]
    assert stops and stops[0] <= 12  # the first window without a new low by more than the scatter
    assert plateaued(level, "higher", 4, 0.0) or plateaued(level[:-1], "higher", 4, 0.0)
    assert not plateaued([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5], "lower", 4, 0.05)  # a drop: 0.5 > 0
    assert plateaued([1.0, 1.0, 1.0, 1.0, 1.0, 0.97, 0.97, 0.97, 0.97], "lower", 4, 0.05)  # 0.03 <= 5% of 1
    assert not plateaued([1.0, 1.0, 1.0, 1.0, 1.0, 1.03, 1.03, 1.03, 1.03], "higher", 4, 0.05)  # objectives: no size
    assert not plateaued([1.0, 0.5, 0.4, 0.3], "lower", 4, 1.0)  # fewer than window + 1 evaluations
    # shop_positioning's sampled total leader, seed 0, every 1,000 iterations: an early best, a dip, then a climb
    # whose window range (0.094) exceeds its new best (0.086); the climb's fitted descent (0.088, residuals' range
    # 0.019) does not stop it
    climb = [-4.7614, -3.7155, -3.8656, -3.8213, -3.745, -3.7235, -3.6867, -3.6763, -3.6292]
    assert not plateaued(climb, "higher", 4, 0.05)


def test_targets_and_plateau_need_every_metric():
    watch = {"a": "lower", "b": "higher"}
    rows = [{"a": 1.0 / (k + 1), "b": float(min(k, 3))} for k in range(12)]  # a still falls, b has stopped
    assert stop_reason(StopRule(plateau=True, relative=0.0), rows, watch, watch) is None
    assert stop_reason(StopRule(targets={"a": 0.1, "b": 3.0}), rows[:9], watch, watch) is None  # a = 1/9
    why = stop_reason(StopRule(targets={"a": 0.1, "b": 3.0}), rows[:10], watch, watch)
    assert why["reason"] == "targets" and math.isclose(why["values"]["a"], 0.1)
    flat = [{"a": 0.2, "b": 3.0}] * 6
    assert stop_reason(StopRule(plateau=True), flat, watch, watch)["reason"] == "plateau"
    assert stop_reason(StopRule(), flat, watch, watch) is None  # off by default in the rule itself
    with pytest.raises(RunEnded, match="algo.stop.targets.c: the evaluator reported no c at iteration"):
        stop_reason(StopRule(targets={"c": 1.0}), flat, {**watch, "c": "lower"}, watch)


@pytest.fixture(autouse=True)
def _here(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)


def test_a_target_ends_the_run_at_that_evaluation_with_its_checkpoint(tmp_path, capsys):
    """congestion_toll, 2,000 iterations as the cap: a leader-gap target of 1 (the gap starts near 0.011) is met at
    the first evaluation after iteration 0; the run stops there, says why in summary.json, and its last checkpoint
    holds that iteration."""
    args = ["train", "game=congestion_toll", "algo.iterations=2000", "algo.checkpoint_every=400", "algo.eval_every=100",
            "+algo.stop.targets.leader_gap=1.0", "logger=none", "progress_bar=false", "reference.n_starts=1",
            "run_dir=run"]
    assert cli.main(args) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stop"]["reason"] == "targets" and summary["stop"]["iteration"] == 100
    assert summary["stop"]["of"] == 2000 and summary["iterations"] == 100
    assert summary["final"]["iteration"] == 100 and summary["final"]["leader_gap"] <= 1.0
    assert newest_checkpoint(tmp_path / "run" / "checkpoints").iteration == 100
    assert not any("stopped at iteration" in w for w in summary["warnings"])
    assert "stopped at iteration 100 of 2000: targets (leader_gap=" in capsys.readouterr().err


def test_a_run_without_a_rule_says_it_ran_to_its_cap(tmp_path):
    args = ["train", "game=congestion_toll", "algo.iterations=200", "algo.checkpoint_every=100", "algo.eval_every=100",
            "logger=none", "progress_bar=false", "reference.n_starts=1", "run_dir=run"]
    assert cli.main(args) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stop"] == {"reason": "iterations", "iteration": 200, "of": 200}
