"""The train job's loggers (``logger.kind``: wandb, csv, none), which append when a run is resumed.

* csv: ``<run_dir>/csv/metrics.csv``. Lightning's CSV writer deletes an existing file when it starts; here the rows
  logged up to the checkpoint's step are kept and the resumed part appends after them (rows logged after the
  checkpoint, before the interruption, are dropped: the resumed part logs them again), so an interrupted and
  resumed run's file equals an uninterrupted run's.
* wandb: the run's id is kept in ``<run_dir>/wandb_id``; a resumed part continues the same W&B run.
"""

from __future__ import annotations

import csv
import os
import secrets
import string
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from omegaconf import DictConfig, OmegaConf

from . import quiet

WANDB_ID = "wandb_id"


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


def make_loggers(cfg: DictConfig, run_dir: Path, keep_before: int | None) -> list:
    """The loggers of ``cfg.logger``. ``keep_before``: the csv rows of earlier parts kept (those logged before this
    step: the checkpoint's step when resuming, 0 for a new run); None keeps the file as it is (DDP's other ranks)."""
    kind = cfg.logger.kind
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        id_file = run_dir / WANDB_ID
        run_id = id_file.read_text().strip() if id_file.is_file() else new_wandb_id()
        id_file.write_text(run_id + "\n")
        logger = WandbLogger(project=cfg.logger.project, save_dir=str(run_dir), mode=cfg.logger.mode,
                             name=run_dir.name, id=run_id, resume="allow",
                             config=OmegaConf.to_container(cfg, resolve=True))
        quiet.drop_wandb_anonymous(logger)
        return [logger]
    if kind == "csv":
        return [AppendingCSVLogger(str(run_dir), keep_before)]
    return []
