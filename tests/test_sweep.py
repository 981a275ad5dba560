"""Sweeps (``deep-smfg COMMAND -m ...``): Hydra's expansion, the summary tables, and whole sweeps (docs/sweeps.md)."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from deep_smfg import cli, hydra_app
from deep_smfg.sweep import (
    Job,
    JobResult,
    checked_jobs,
    expand,
    fmt,
    folder_name,
    metrics_of,
    setting_table,
    sweep_markdown,
)

TINY_TRAIN = ["game=congestion_toll", "algo.iterations=40", "algo.checkpoint_every=20", "algo.eval_every=20",
              "logger=none", "progress_bar=false", "reference.n_starts=1"]  # one start: a cheaper reference Phi*


pytestmark = pytest.mark.usefixtures("in_tmp_folder")  # tests/conftest.py


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- expansion ------------------------------------------------------------------------------------


def test_expand_is_the_cartesian_product_in_command_line_order():
    jobs = expand(["a=1,2", "b=x,y,z", "c=5"])
    assert [j.overrides for j in jobs[:2]] == [["a=1", "b=x", "c=5"], ["a=1", "b=y", "c=5"]]
    assert jobs[-1].overrides == ["a=2", "b=z", "c=5"]
    assert len(jobs) == 6 and [j.number for j in jobs] == list(range(6))
    assert [j.swept for j in jobs[:2]] == [{"a": "1", "b": "x"}, {"a": "1", "b": "y"}]  # c is not swept


def test_expand_supports_hydra_ranges_and_one_job_without_sweeps():
    assert [j.swept["seed"] for j in expand(["seed=range(0,3)"])] == ["0", "1", "2"]
    (job,) = expand(["seed=4", "game=four_rooms"])
    assert (job.overrides, job.swept) == (["seed=4", "game=four_rooms"], {})
    assert job.label == "(no swept keys)"


def test_intervals_are_checked_at_both_ends_and_large_sweeps_value_by_value():
    assert [j.swept for j in expand(["x=interval(0.5,2.0)", "y=3"])] == [{"x": "0.5"}, {"x": "2.0"}]
    jobs = checked_jobs(["a=range(0,10)", "b=range(0,10)", "c=1"])  # 100 combinations: each value once
    assert len(jobs) == 1 + 9 + 9 and jobs[0].overrides == ["a=0", "b=0", "c=1"]
    assert {j.swept["a"] for j in jobs} == {str(i) for i in range(10)} and jobs[-1].swept == {"a": "0", "b": "9"}


def test_job_folder_names_are_file_system_safe():
    assert folder_name("game=four_rooms,seed=0") == "game=four_rooms,seed=0"
    assert folder_name("game.fees=[1,2],x=a b/c") == "game.fees=_1,2_,x=a_b_c"
    assert len(folder_name("k=" + "v" * 200)) == 80


# --- summaries ------------------------------------------------------------------------------------


def result(number: int, swept: dict[str, str], metrics: dict[str, float], status: str = "ok") -> JobResult:
    return JobResult(Job(number, [f"{k}={v}" for k, v in swept.items()], swept), status, f"sweep/{number}", metrics)


def test_metrics_are_the_final_dict_of_train_or_the_top_level_numbers_of_solve():
    train = {"game": "g", "seconds": 3.0, "final": {"leader_gap": 0.5, "iteration": 40, "note": "x", "gap": "nan"}}
    assert metrics_of(train) == pytest.approx({"leader_gap": 0.5, "iteration": 40.0, "gap": math.nan}, nan_ok=True)
    solve = {"game": "g", "phi_star": -1.5, "mu": [0.5, 0.5], "converged": True, "fixed_point_iterations": 22}
    assert metrics_of(solve) == {"phi_star": -1.5, "fixed_point_iterations": 22.0}


def test_settings_table_has_mean_and_sample_sd_over_seeds_leaving_failed_jobs_out():
    results = [
        result(0, {"tau": "0.1", "seed": "0"}, {"gap": 1.0, "phi": 10.0}),
        result(1, {"tau": "0.1", "seed": "1"}, {"gap": 2.0, "phi": 10.0}),
        result(2, {"tau": "0.1", "seed": "2"}, {"gap": 4.0, "phi": 13.0}),
        result(3, {"tau": "0.5", "seed": "0"}, {"gap": 3.0, "phi": 7.0}),
        result(4, {"tau": "0.5", "seed": "1"}, {}, status="failed: RuntimeError: boom"),
    ]
    header, rows = setting_table(results)
    assert header == ["tau", "seeds", "gap", "phi"]
    # by hand: gap 1, 2, 4 -> mean 7/3, sd sqrt(((4/3)^2 + (1/3)^2 + (5/3)^2) / 2) = sqrt(7/3);
    #          phi 10, 10, 13 -> mean 11, sd sqrt((1 + 1 + 4) / 2) = sqrt(3)
    (tau, n, gap, phi), (tau2, n2, gap2, phi2) = rows
    assert (tau, n, tau2, n2) == ("0.1", 3, "0.5", 1)
    assert gap == pytest.approx((7 / 3, math.sqrt(7 / 3))) and phi == pytest.approx((11.0, math.sqrt(3)))
    assert gap2[0] == 3.0 and math.isnan(gap2[1])  # one finished seed: no sd
    text = sweep_markdown(results, "title")
    assert "| 0.1 | 3 | 2.333 ± 1.5 | 11 ± 1.7 |" in text
    assert "| 0.5 | 1 | 3 | 7 |" in text
    assert "| 4 | 0.5 | 1 | failed |  |  |" in text
    assert "## Failed jobs\n\n- job 4 (tau=0.5 seed=1): failed: RuntimeError: boom\n" in text


def test_cells_keep_counts_whole_and_means_to_four_digits():
    assert [fmt(10000.0), fmt(0.123456), fmt((10000.0, 0.0)), fmt((1.23456, 0.0123)), fmt(None)] == [
        "10000", "0.1235", "10000 ± 0", "1.235 ± 0.012", ""]


def test_without_swept_seeds_there_is_no_settings_table():
    text = sweep_markdown([result(0, {"tau": "0.1"}, {"gap": 1.0}), result(1, {"tau": "0.5"}, {"gap": 2.0})], "t")
    assert "## Jobs" in text and "Settings" not in text


# --- running --------------------------------------------------------------------------------------


def test_train_multirun_runs_one_job_per_seed_and_writes_the_tables(tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    assert cli.main(["train", "-m", "seed=0,1", *TINY_TRAIN, f"sweep_dir={sweep_dir}"]) == 0
    out = capsys.readouterr().out
    folders = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir())
    assert folders == ["0_seed=0", "1_seed=1"]
    rows = read_csv(sweep_dir / "sweep.csv")
    assert [(r["job"], r["seed"], r["status"]) for r in rows] == [("0", "0", "ok"), ("1", "1", "ok")]
    for row, folder in zip(rows, folders, strict=True):
        summary = json.loads((sweep_dir / folder / "summary.json").read_text())
        assert float(row["leader_gap"]) == pytest.approx(summary["final"]["leader_gap"])
        assert OmegaConf.load(sweep_dir / folder / "config.yaml").seed == int(row["seed"])
    markdown = (sweep_dir / "sweep.md").read_text()
    assert "## Jobs" in markdown and "## Settings: mean ± sd over seeds" in markdown
    assert "| seeds | leader_objective |" in markdown and "\n| 2 | " in markdown
    assert markdown.strip() in out and out.strip().endswith(f"sweep folder: {sweep_dir}")
    assert not (tmp_path / "runs" / "train").exists()  # every job ran in the sweep folder


def test_a_bad_value_in_one_job_writes_nothing(tmp_path, capsys):
    args = ["solve", "--multirun", "game=congestion_toll", "game.gamma=0.9,1.5", f"sweep_dir={tmp_path / 'sweep'}"]
    assert cli.main(args) == 2
    assert "job 1 (game.gamma=1.5): gamma must lie in (0, 1), got 1.5" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize(
    "extra, message",
    [
        (["run_dir=somewhere"], "choose the sweep's folder with sweep_dir="),
        (["sweep_dir=a,b"], "sweep_dir cannot be swept"),
    ],
)
def test_sweeps_reject_what_they_cannot_run(tmp_path, capsys, extra, message):
    assert cli.main(["train", "-m", "seed=0,1", *TINY_TRAIN, *extra]) == 2
    assert message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == []


def test_a_sweep_never_reuses_a_folder_that_holds_files(tmp_path, capsys):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "old.txt").write_text("")
    assert cli.main(["solve", "-m", "game=congestion_toll", f"sweep_dir={tmp_path / 'sweep'}"]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_a_failed_job_is_recorded_and_the_sweep_exits_non_zero(tmp_path, capsys, monkeypatch):
    def flaky_solve(cfg):
        if cfg.optimum.seed == 1:
            raise RuntimeError("boom")
        (Path(cfg.run_dir) / "summary.json").write_text(json.dumps({"phi_star": -1.0}))
        return "{}"

    flaky = hydra_app.Command(lambda cfg: None, flaky_solve, lambda cfg: Path(cfg.run_dir))
    monkeypatch.setattr(hydra_app, "commands", lambda: {"solve": flaky})
    sweep_dir = tmp_path / "sweep"
    assert cli.main(["solve", "-m", "game=congestion_toll", "optimum.seed=0,1,2", f"sweep_dir={sweep_dir}"]) == 1
    rows = read_csv(sweep_dir / "sweep.csv")
    assert [(r["optimum.seed"], r["status"], r["phi_star"]) for r in rows] == [
        ("0", "ok", "-1.0"), ("1", "failed: no summary.json written", ""), ("2", "ok", "-1.0")]
    assert "1 of 3 jobs failed" in capsys.readouterr().err
    assert "| 2 | -1 ± 0 |" in (sweep_dir / "sweep.md").read_text()  # two finished seeds
