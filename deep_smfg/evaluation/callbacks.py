"""Evaluation during training, as a Lightning callback around an :class:`Evaluator`.

Every ``every`` iterations (and at iteration 0) the callback asks the evaluator for its metrics at the
learner's current modules, records them with ``iteration``, ``samples`` and ``wall_time`` in
:attr:`EvaluationCallback.history` (saved in checkpoints), logs them under ``<prefix>/`` and shows the
evaluator's short names on the progress bar (deep_smfg/progress.py reads the history). A run whose watched metrics
end worse than they started is flagged: ``worse=1`` in the logs and a ``warning=... worse`` on the bar while it
lasts, and in the summary's ``warnings``. After each evaluation the run's stop rule (``algo.stop``,
deep_smfg/stopping.py) may end the fit; :attr:`EvaluationCallback.stopped` says why and when. An exact solver that
fails on the learned policies (:data:`~deep_smfg.exact.SOLVER_FAILURES`) ends the run as diverged.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import torch
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from ..exact import SOLVER_FAILURES
from ..learners.base import DivergenceError
from ..stopping import StopRule, stop_reason
from ..torch_threads import torch_threads


class Evaluator(Protocol):
    prefix: str  # logger namespace: "exact" or "estimated"
    progress: tuple[tuple[str, str], ...]  # (short name on the progress bar, metric)
    watch: dict[str, str]  # metric -> "lower" or "higher" (is better): a run that ends worse is flagged
    better: dict[str, str]  # every metric with a direction (watch's included): what algo.stop.targets may name

    @classmethod
    def for_run(cls, game, cfg: DictConfig, **options) -> Evaluator:
        """The evaluator of ``game`` for the train config ``cfg`` (``options``: the keys of ``game.evaluator``)."""

    def evaluate(self, learner) -> dict[str, float]: ...

    def report(self, learner, history: list[dict], run_dir: Path, seconds: float, world: int) -> dict:
        """Plots and files in ``run_dir``; returns the summary (``summary.json``), with ``warnings`` of its own if
        it has any (the run's regressions are added to them)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def final_metrics(evaluator: Evaluator, learner, history: list[dict]) -> dict:
    """The run's last evaluation, or a fresh one when the history ends before the learner's iteration (a report's
    ``final``)."""
    at_end = bool(history) and history[-1]["iteration"] == int(learner.iteration)
    return history[-1] if at_end else evaluator.evaluate(learner)


def worse_metrics(history: list[dict], watch: dict[str, str]) -> list[str]:
    """The watched metrics whose last value is worse than their first."""
    if len(history) < 2:
        return []
    first, last = history[0], history[-1]
    sign = {"lower": 1.0, "higher": -1.0}  # worse: up where lower is better, down where higher is
    return [key for key, better in watch.items()
            if key in first and key in last and sign[better] * (float(last[key]) - float(first[key])) > 0]


def regressions(history: list[dict], watch: dict[str, str]) -> list[str]:
    """The watched metrics that ended worse than they started, in words."""
    first, last = (history[0], history[-1]) if history else ({}, {})
    return [f"{key} ended worse than it started: {float(first[key]):.4g} at iteration {first['iteration']}, "
            f"{float(last[key]):.4g} at iteration {last['iteration']} ({watch[key]} is better)"
            for key in worse_metrics(history, watch)]


class EvaluationCallback(Callback):
    def __init__(self, evaluator: Evaluator, every: int, world: int = 1, stop: StopRule | None = None,
                 threads: int | None = None):
        self.evaluator, self.every, self.world = evaluator, every, world
        self.threads = threads  # torch threads of each evaluation (None: the training's)
        self.stop = stop or StopRule()
        self.history: list[dict[str, float]] = []
        self.stopped: dict | None = None  # the stop rule's reason, with the iteration, once it has ended the fit
        self._wall_offset, self._t0 = 0.0, None

    def wall_time(self) -> float:
        return self._wall_offset + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)

    def evaluate(self, learner, log: bool = True) -> dict[str, float]:
        k = int(learner.iteration)
        try:
            with torch_threads(self.threads or torch.get_num_threads()):
                metrics = self.evaluator.evaluate(learner)
        except SOLVER_FAILURES as exc:
            raise DivergenceError(f"evaluation at iteration {k} failed ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0]}): the learned policies have likely diverged; "
                                  f"{learner.last_checkpoint_note()}") from exc
        metrics.update(iteration=k, samples=learner.progress(self.world).samples, wall_time=self.wall_time())
        self.history.append(metrics)
        if log:
            learner.log_dict({f"{self.evaluator.prefix}/{n}": float(v) for n, v in metrics.items()}, on_step=True)
            short = {short: metrics[name] for short, name in self.evaluator.progress if name in metrics}
            short["worse"] = float(bool(regressions(self.history, self.evaluator.watch)))
            learner.log_dict(short, on_step=True)  # the loggers keep the short names; the bar reads the history
        return metrics

    def is_current(self, learner) -> bool:
        return bool(self.history) and self.history[-1]["iteration"] == int(learner.iteration)

    def on_train_start(self, trainer, learner) -> None:
        self._t0 = time.perf_counter()

    def on_train_batch_start(self, trainer, learner, batch, batch_idx) -> None:
        if self.every and int(learner.iteration) == 0 and not self.history:
            self.evaluate(learner)

    def on_train_batch_end(self, trainer, learner, outputs, batch, batch_idx) -> None:
        if self.every and int(learner.iteration) % self.every == 0 and not self.is_current(learner):
            self.evaluate(learner)
            self.maybe_stop(trainer, learner)

    def maybe_stop(self, trainer, learner) -> None:
        """End the fit after this step when the stop rule says so (on every rank when one says so)."""
        if not self.stop.active or self.stopped is not None:
            return
        reason = stop_reason(self.stop, self.history, self.evaluator.better, self.evaluator.watch)
        if trainer.strategy.reduce_boolean_decision(reason is not None, all=False):
            self.stopped = {**(reason or {"reason": "another rank's stop rule"}), "iteration": int(learner.iteration),
                            "wall_time": self.wall_time()}
            trainer.should_stop = True

    def on_train_end(self, trainer, learner) -> None:
        if self.every and not self.is_current(learner):  # a last, short epoch
            self.evaluate(learner, log=False)

    def state_dict(self) -> dict:
        return {"history": list(self.history), "wall_time": self.wall_time(), "evaluator": self.evaluator.state_dict(),
                "stopped": self.stopped}

    def load_state_dict(self, state: dict) -> None:
        self.history = list(state["history"])
        self._wall_offset = state["wall_time"]
        self.stopped = None  # a resumed run goes on (to its algo.iterations) until its rule stops it again
        self.evaluator.load_state_dict(state["evaluator"])
