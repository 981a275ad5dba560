"""The train job's loggers (``logger.kind``: wandb, csv, none), which append when a run is resumed.

* csv: ``<run_dir>/csv/metrics.csv``. Lightning's CSV writer deletes an existing file when it starts; here the rows
  logged up to the checkpoint's step are kept and the resumed part appends after them (rows logged after the
  checkpoint, before the interruption, are dropped: the resumed part logs them again), so an interrupted and
  resumed run's file equals an uninterrupted run's.
* wandb: :class:`RunWandbLogger`, Lightning's W&B logger given the ``logger`` keys (configs/logger/wandb.yaml) and
  the learner's iteration as every row's step and x-axis. The run's id is kept in ``<run_dir>/wandb_id``; a resumed
  part continues the same W&B run, its history going on from the checkpoint's iteration (docs/tracking.md).
"""

from __future__ import annotations

import csv
import os
import secrets
import string
from pathlib import Path
from typing import Any, Mapping

from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from . import quiet

WANDB_ID = "wandb_id"
ITERATION = "iteration"  # the x-axis of every W&B metric
CHECKPOINT_ARTIFACT = "model"  # the W&B artifact type of logged checkpoints


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, appending to an existing ``metrics.csv`` under its header."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as f:
                self.metrics_keys = list(csv.DictReader(f).fieldnames or [])


class AppendingCSVLogger(CSVLogger):
    """``<save_dir>/csv/metrics.csv``, keeping the rows logged before step ``keep_before`` of an earlier part."""

    def __init__(self, save_dir: str, keep_before: int | None):
        super().__init__(save_dir=save_dir, name="csv", version="")
        path = Path(self.log_dir) / "metrics.csv"
        if keep_before is not None and path.is_file():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                header = list(reader.fieldnames or [])
                rows = [r for r in reader if int(float(r["step"])) < keep_before]
            tmp = path.with_name(".metrics.csv.tmp")
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=header)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, path)  # a kill while trimming leaves the old file, never half of it

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def new_wandb_id() -> str:
    """A W&B run id: 8 characters of [a-z0-9], as W&B makes them."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def wandb_run_id(run_dir: Path) -> str:
    """The W&B run id of ``run_dir``: the one kept in ``<run_dir>/wandb_id``, or a new one, which global rank 0
    keeps there (the other ranks never start a W&B run, and ranks a launcher starts together would race)."""
    id_file = run_dir / WANDB_ID
    if id_file.is_file():
        return id_file.read_text().strip()
    run_id = new_wandb_id()
    if rank_zero_only.rank == 0:
        id_file.write_text(run_id + "\n")
    return run_id


def row_iteration(metrics: Mapping[str, float], default: int) -> int:
    """The learner's iteration a row of metrics belongs to: the smallest one it carries, the learner's ``iteration``
    or an evaluation's ``<prefix>/iteration`` (``default`` when it carries none).

    The two differ in one row only, the first step's when losses are logged every step: Lightning sends the
    evaluation at iteration 0 (made before the step) and the step's losses in one row, filed here at iteration 0."""
    carried = [int(value) for key, value in metrics.items() if key == ITERATION or key.endswith("/" + ITERATION)]
    return min(carried, default=default)


class RunWandbLogger(WandbLogger):
    """Lightning's W&B logger for one run folder, with the learner's iteration as W&B's step.

    Every row is logged at W&B step = its iteration (:func:`row_iteration`) and carries ``iteration``, which every
    metric is plotted against (``define_metric``): the axis of ``metrics.csv`` and of the plots, and one a resumed
    part continues (Lightning's step counts batches, and W&B's own step restarts at 0 in each offline part, so
    synced parts would repeat steps). The methods besides Lightning's are :mod:`deep_smfg.tracking`'s."""

    def __init__(self, cfg: DictConfig, run_dir: Path, run_id: str):
        keys = cfg.logger
        super().__init__(entity=keys.entity, project=keys.project, group=keys.group, name=keys.name or run_dir.name,
                         tags=[str(tag) for tag in keys.tags], job_type=keys.job_type, notes=keys.notes,
                         save_dir=str(run_dir), mode=keys.mode, id=run_id, resume="allow",
                         config=OmegaConf.to_container(cfg, resolve=True))
        quiet.drop_wandb_anonymous(self)
        self.log_checkpoints = bool(keys.log_checkpoints)
        self.last_iteration = -1  # the highest iteration this part has logged
        self._checkpoints_logged: set[int] = set()

    @property
    @rank_zero_experiment
    def experiment(self):
        """The W&B run, started on first use with ``iteration`` as the x-axis of every metric. A run left open in
        this process (an earlier part or sweep job that ended early) is finished first: Lightning would log into it."""
        if self._experiment is None:
            import wandb

            if wandb.run is not None:
                wandb.run.finish()
            self._experiment = wandb.init(**self._wandb_init)
            self._experiment.define_metric(ITERATION)
            self._experiment.define_metric("*", step_metric=ITERATION, step_sync=True)
        return self._experiment

    @property
    def recording(self) -> bool:
        """Whether the W&B run keeps what it is given: not in mode disabled (``logger.mode`` or ``WANDB_MODE``)."""
        return not self.experiment.disabled

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Lightning's row (``step``: its count of batches, unused) at the row's iteration."""
        self.log_row(dict(metrics), row_iteration(metrics, max(self.last_iteration, 0)))

    @rank_zero_only
    def log_row(self, row: dict[str, Any], iteration: int) -> None:
        """``row`` and ``iteration`` at W&B step ``iteration``. Rows of one iteration merge into one; W&B drops a row
        below the run's current step (with a warning; online, a resumed run's current step is its last one)."""
        self.experiment.log({**row, ITERATION: iteration}, step=iteration)
        self.last_iteration = max(self.last_iteration, iteration)

    @rank_zero_only
    def log_images(self, images: Mapping[str, Path], iteration: int) -> None:
        """PNG files as W&B images (``{key: path}``), at ``iteration``; W&B copies each file into the run at once."""
        import wandb

        if images and self.recording:
            self.log_row({key: wandb.Image(str(path)) for key, path in images.items()}, iteration)

    @rank_zero_only
    def log_checkpoint(self, path: Path, iteration: int) -> None:
        """Checkpoint file ``path`` (the state at ``iteration``) as a version of the run's artifact ``model-<id>``
        (type ``model``, aliases ``latest`` and ``iteration_<k>``), once per iteration. W&B copies the file into its
        staging folder now, so the run may replace or delete it afterwards (not in mode disabled: W&B would still
        copy it, and never upload or delete the copy)."""
        if iteration in self._checkpoints_logged or not self.recording:
            return
        import wandb

        artifact = wandb.Artifact(f"model-{self.experiment.id}", type=CHECKPOINT_ARTIFACT,
                                  metadata={ITERATION: iteration})
        artifact.add_file(str(path), name=f"iteration_{iteration}.ckpt")
        self.experiment.log_artifact(artifact, aliases=["latest", f"iteration_{iteration}"])
        self._checkpoints_logged.add(iteration)

    @rank_zero_only
    def put_summary(self, values: Mapping[str, Any]) -> None:
        """``values`` into the W&B run's summary (over the last logged values of the same keys)."""
        self.experiment.summary.update(dict(values))

    @rank_zero_only
    def finish(self) -> None:
        """End the W&B run: its files are complete (offline: ready for ``wandb sync``)."""
        self.experiment.finish()


def make_loggers(cfg: DictConfig, run_dir: Path, keep_before: int | None) -> list:
    """The loggers of ``cfg.logger``. ``keep_before``: the csv rows of earlier parts kept (those logged before this
    step: the checkpoint's step when resuming, 0 for a new run); None keeps the file as it is (DDP's other ranks)."""
    kind = cfg.logger.kind
    if kind == "wandb":
        os.environ.setdefault("WANDB_SILENT", "true")
        return [RunWandbLogger(cfg, run_dir, wandb_run_id(run_dir))]
    if kind == "csv":
        return [AppendingCSVLogger(str(run_dir), keep_before)]
    return []
