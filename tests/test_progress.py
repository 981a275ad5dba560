"""The train job's progress bar: one bar over the run's iterations, integers as integers, the warning in words."""

from __future__ import annotations

from types import SimpleNamespace

from deep_smfg.cli import main
from deep_smfg.progress import IterationProgressBar, shown


def test_numbers_are_shown_as_a_reader_expects():
    assert [shown(v) for v in (8000.0, 8100, 0.0123456, -1.5e-7, 2.0)] == ["8000", "8100", "0.0123", "-1.5e-07", "2"]


def test_the_bar_shows_the_last_evaluation_and_says_which_metric_got_worse():
    evaluator = SimpleNamespace(progress=(("expl", "follower_exploitability"), ("mf_err", "mean_field_error")),
                                watch={"follower_exploitability": "lower", "mean_field_error": "lower"})
    history = [{"iteration": 0, "follower_exploitability": 1.0, "mean_field_error": 0.1},
               {"iteration": 1000, "follower_exploitability": 0.25, "mean_field_error": 0.3}]
    bar = IterationProgressBar(SimpleNamespace(history=history, evaluator=evaluator), 2000, "game")
    seen = {}
    bar.bar = SimpleNamespace(set_postfix=lambda postfix, refresh: seen.update(postfix))
    bar._update_postfix()
    assert seen == {"expl": "0.25", "mf_err": "0.3", "warning": "mf_err worse"}


def test_a_run_draws_one_bar_over_its_iterations(tmp_path, capsys):
    assert main(["train", "game=congestion_toll", "algo.iterations=300", "algo.eval_every=100",
                 "algo.checkpoint_every=100", "logger=none", f"run_dir={tmp_path / 'run'}"]) == 0
    err = capsys.readouterr().err
    assert "congestion_toll: 100%" in err and "300/300" in err and "it/s" in err
    assert "Epoch" not in err and "v_num" not in err and "iteration=" not in err
