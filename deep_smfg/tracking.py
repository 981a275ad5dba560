"""What a W&B run gets besides Lightning's rows of metrics: the curves as images while the run goes, the report at
its end, and, with ``logger.log_checkpoints=true``, its checkpoints as artifacts (docs/tracking.md).

* :func:`tracking_callbacks`: the train job's callbacks for ``cfg.logger`` (none but for ``logger.kind=wandb``);
* :func:`finish_tracking`: after ``summary.json`` is written (rank 0): the report into the W&B run's summary, the
  run folder's figures, the last checkpoint, then the W&B run is finished.

Both reach W&B through :class:`~deep_smfg.loggers.RunWandbLogger`, so every image and artifact is filed at the
learner's iteration, like the metrics.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from numbers import Real
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from .checkpoints import LAST
from .evaluation import EvaluationCallback
from .evaluation.plots import plot_curve_grid
from .loggers import RunWandbLogger

CURVES = "curves"  # W&B key of the figure of the key metrics' curves so far, drawn at each evaluation
REPORT = "report"  # W&B key prefix of the run folder's figures logged at the end
SHORT = 256  # the longest string put into the W&B summary (longer ones stay in summary.json)
SKIPPED_FOLDERS = ("wandb", "checkpoints")  # PNGs there are not the run's figures (W&B's own media copies)


def tracking_callbacks(cfg: DictConfig, run_dir: Path) -> list[Callback]:
    """The callbacks that log to the tracker of ``cfg.logger``: :class:`WandbTracking` for W&B, none otherwise."""
    return [WandbTracking(run_dir, int(cfg.logger.curves_every))] if cfg.logger.kind == "wandb" else []


def wandb_loggers(loggers: Iterable[Any]) -> list[RunWandbLogger]:
    """The run's W&B loggers among ``loggers`` (``make_loggers`` makes at most one)."""
    return [logger for logger in loggers if isinstance(logger, RunWandbLogger)]


def last_checkpoint(run_dir: Path) -> Path:
    """``<run_dir>/checkpoints/last.ckpt``: the newest checkpoint (a hard link to it: deep_smfg/checkpoints.py)."""
    return run_dir / "checkpoints" / LAST


class WandbTracking(Callback):
    """Every ``curves_every`` evaluations (the 1st, the 1+n-th, ...; 0: never), the curves so far of the metrics the
    evaluator shows on the progress bar and watches (:func:`key_metrics`), as one image ``curves`` (a panel each,
    drawn in a temporary folder: about 0.03 s a panel; every metric's own figure comes with the report);
    with ``log_checkpoints``, each checkpoint once the next epoch starts (it is written at an epoch's end, after
    this callback's hooks) and the last one when training ends. Rank 0 only."""

    def __init__(self, run_dir: Path, curves_every: int = 1):
        self.run_dir = Path(run_dir)
        self.curves_every = curves_every
        self._logger: RunWandbLogger | None = None
        self._evaluation: EvaluationCallback | None = None
        self._drawn = 0  # evaluations in the history already drawn
        self._checkpointed = 0  # the iteration of the newest checkpoint already logged (or resumed from)

    def on_train_start(self, trainer, learner) -> None:
        found = wandb_loggers(trainer.loggers)
        self._logger = found[0] if found else None
        self._evaluation = next((c for c in trainer.callbacks if isinstance(c, EvaluationCallback)), None)
        self._drawn = len(self._evaluation.history) if self._evaluation is not None else 0
        self._checkpointed = int(learner.iteration)

    def on_train_batch_end(self, trainer, learner, outputs, batch, batch_idx) -> None:
        self._log_curves(trainer, learner)

    def on_train_epoch_start(self, trainer, learner) -> None:
        self._log_checkpoint(trainer, learner)

    def on_train_end(self, trainer, learner) -> None:
        self._log_curves(trainer, learner)  # the evaluation after a last, short epoch
        self._log_checkpoint(trainer, learner)

    def _active(self, trainer) -> bool:
        """Rank 0 with a W&B run that records (in mode disabled the curves are not drawn)."""
        return self._logger is not None and trainer.is_global_zero and self._logger.recording

    def _log_curves(self, trainer, learner) -> None:
        """The curves, when the history has grown by an evaluation whose turn it is."""
        history = self._evaluation.history if self._evaluation is not None else []
        grown, self._drawn = len(history) > self._drawn, len(history)
        due = grown and self.curves_every > 0 and (len(history) - 1) % self.curves_every == 0
        if not (due and self._active(trainer)):
            return
        with tempfile.TemporaryDirectory(prefix="deep_smfg_curves_") as tmp:
            keys = [k for k in key_metrics(self._evaluation.evaluator) if k in history[-1]]
            figure = plot_curve_grid(history, keys, Path(tmp) / f"{CURVES}.png", learner.game.name)
            self._logger.log_images({CURVES: figure}, int(history[-1]["iteration"]))

    def _log_checkpoint(self, trainer, learner) -> None:
        """The newest checkpoint, when one newer than the last logged is there (it holds the learner's iteration)."""
        k, path = int(learner.iteration), last_checkpoint(self.run_dir)
        if self._active(trainer) and self._logger.log_checkpoints and k > self._checkpointed and path.is_file():
            self._logger.log_checkpoint(path, k)
            self._checkpointed = k


def key_metrics(evaluator) -> list[str]:
    """The metrics an evaluator declares as its own summary: those on the progress bar, then those it watches."""
    return list(dict.fromkeys([name for _, name in evaluator.progress] + list(evaluator.watch)))


def finish_tracking(loggers: Iterable[Any], summary: Mapping[str, Any], run_dir: Path) -> None:
    """The end of a run's tracking (rank 0, after ``summary.json``): for each W&B logger, the report into the run's
    summary (:func:`summary_values`), every figure of the run folder as an image ``report/<path>``, the last
    checkpoint with ``log_checkpoints`` (a completed run's is at its final iteration), then the W&B run is finished.
    Nothing for the csv and none loggers."""
    run_dir = Path(run_dir)
    for logger in wandb_loggers(loggers):
        iteration = max(int(summary.get("iterations", 0)), logger.last_iteration)
        logger.put_summary(summary_values(summary))
        logger.log_images(run_figures(run_dir), iteration)
        if logger.log_checkpoints and last_checkpoint(run_dir).is_file():
            logger.log_checkpoint(last_checkpoint(run_dir), iteration)
        logger.finish()


def summary_values(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The report as W&B summary values: nested dicts flattened to ``a/b`` keys, numbers and strings up to
    :data:`SHORT` characters kept, ``warnings`` joined into one string ("; "); lists (mean fields, the parts'
    records) and longer strings stay in ``summary.json``."""
    values: dict[str, Any] = {"warnings": "; ".join(str(w) for w in summary.get("warnings", []))}
    for key, value in _leaves(summary, ""):
        if key != "warnings" and _scalar(value):
            values[key] = value
    return values


def _leaves(node: Mapping[str, Any], prefix: str) -> Iterable[tuple[str, Any]]:
    for key, value in node.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{key}/")
        else:
            yield f"{prefix}{key}", value


def _scalar(value: Any) -> bool:
    """A number or a short string: what a runs table shows in a column."""
    return isinstance(value, Real) or (isinstance(value, str) and len(value) <= SHORT)


def run_figures(run_dir: Path) -> dict[str, Path]:
    """Every PNG of the run folder, keyed ``report/<path without .png>`` (``report/plots/leader_gap``,
    ``report/mean_field``), but for W&B's and the checkpoints' folders."""
    figures = {}
    for png in sorted(run_dir.rglob("*.png")):
        relative = png.relative_to(run_dir)
        if relative.parts[0] not in SKIPPED_FOLDERS:
            figures[f"{REPORT}/{relative.with_suffix('').as_posix()}"] = png
    return figures
