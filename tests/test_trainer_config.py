"""The Trainer from its config group (configs/trainer/, deep_smfg/train_job.py: make_trainer): Lightning's keyword
arguments, extra callbacks and profilers from the config; the keys the train job sets itself are refused."""

from __future__ import annotations

import json

import pytest
from lightning.pytorch.callbacks import Callback

from deep_smfg import cli

TINY = ["game=congestion_toll", "algo.checkpoint_every=20", "algo.eval_every=20", "logger=none", "progress_bar=false",
        "reference.n_starts=1"]
SEEN: list[dict] = []


class RecordStart(Callback):
    """An extra callback from the config: records its argument and the iteration the fit starts from."""

    def __init__(self, label: str):
        self.label = label

    def on_train_start(self, trainer, learner) -> None:
        SEEN.append({"label": self.label, "iteration": int(learner.iteration), "max_epochs": trainer.max_epochs})


pytestmark = pytest.mark.usefixtures("in_tmp_folder")  # tests/conftest.py


def summary_of(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_extra_callbacks_and_a_profiler_come_from_the_config(tmp_path, capsys):
    SEEN.clear()
    extra = "trainer.callbacks=[{_target_: test_trainer_config.RecordStart, label: mine}]"
    profiler = f"trainer.profiler={{_target_: lightning.pytorch.profilers.SimpleProfiler, dirpath: {tmp_path}, " \
               "filename: profile}"
    assert cli.main(["train", *TINY, "algo.iterations=40", extra, profiler, "run_dir=run"]) == 0
    assert SEEN == [{"label": "mine", "iteration": 0, "max_epochs": 2}]
    report = (tmp_path / "fit-profile.txt").read_text()
    assert "run_training_batch" in report and "Total" in report


def test_max_time_ends_the_fit_and_the_report_says_where(capsys):
    assert cli.main(["train", *TINY, "algo.iterations=4000000", "trainer.max_time={seconds: 1}", "run_dir=run"]) == 0
    summary = summary_of(capsys)
    stopped = summary["final"]["iteration"]
    assert 0 < stopped < 4000000 and summary["status"] == "completed"
    assert f"the run stopped at iteration {stopped} of 4000000: trainer.max_time" in " ".join(summary["warnings"])


@pytest.mark.parametrize("args, message", [
    (["+trainer.max_epochs=3"], "trainer.max_epochs is set by the train job"),
    (["trainer.num_nodes=2"], "trainer.num_nodes=2: start the job on every node with a cluster launcher"),
    (["+trainer.no_such_argument=1"], "unexpected keyword argument 'no_such_argument'"),
])
def test_what_the_trainer_cannot_take_is_refused_before_anything_is_written(tmp_path, capsys, args, message):
    assert cli.main(["train", *TINY, "algo.iterations=40", *args, "run_dir=run"]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
