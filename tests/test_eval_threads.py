"""``eval_threads``: the evaluations and the report run on their own torch thread count, the training on ``threads``
(deep_smfg/torch_threads.py)."""

from __future__ import annotations

import pytest
import torch

import deep_smfg
from deep_smfg.evaluation.exact_evaluator import ExactEvaluator
from deep_smfg.torch_threads import available_cores, eval_threads, torch_threads


def test_torch_threads_sets_the_count_inside_and_restores_it_even_on_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(before + 2):
            assert torch.get_num_threads() == before + 2
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_eval_threads_zero_shares_the_cores_among_the_ranks_here():
    cores = available_cores()
    assert cores >= 1
    assert eval_threads(3, 1) == 3 and eval_threads(3, 8) == 3  # a setting is taken as it is
    assert eval_threads(0, 1) == cores
    assert eval_threads(0, 2) == max(1, cores // 2)
    assert eval_threads(0, 10 * cores) == 1


def test_the_train_job_evaluates_and_reports_on_eval_threads_and_trains_on_threads(tmp_path, monkeypatch):
    seen: dict[str, list[int]] = {"evaluate": [], "report": [], "train": []}
    evaluate, report = ExactEvaluator.evaluate, ExactEvaluator.report

    def counting_evaluate(self, learner):
        seen["evaluate"].append(torch.get_num_threads())
        return evaluate(self, learner)

    def counting_report(self, learner, *args):
        seen["report"].append(torch.get_num_threads())
        return report(self, learner, *args)

    monkeypatch.setattr(ExactEvaluator, "evaluate", counting_evaluate)
    monkeypatch.setattr(ExactEvaluator, "report", counting_report)
    from deep_smfg.learners.ac_smfg import ACSMFG
    one_iteration = ACSMFG.one_iteration

    def counting_iteration(self, *args, **kwargs):
        seen["train"].append(torch.get_num_threads())
        return one_iteration(self, *args, **kwargs)

    monkeypatch.setattr(ACSMFG, "one_iteration", counting_iteration)
    before = torch.get_num_threads()
    run = deep_smfg.train("congestion_toll", ["algo.iterations=40", "algo.eval_every=20", "algo.checkpoint_every=20",
                                              "threads=1", "eval_threads=3", "logger=none", "progress_bar=false",
                                              f"run_dir={tmp_path / 'run'}"])
    assert run.summary["status"] == "completed"
    assert seen["evaluate"] == [3, 3, 3]  # iterations 0, 20 and 40
    assert seen["report"] == [3]
    assert set(seen["train"]) == {1} and len(seen["train"]) == 40
    torch.set_num_threads(before)
