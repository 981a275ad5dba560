"""A run's checkpoints: written atomically, found by the iteration inside them, corrupt ones named.

:class:`RunCheckpoint` writes ``checkpoints/iteration_<k>.ckpt`` at the end of every epoch (every
``algo.checkpoint_every`` iterations) and when a run is interrupted (SIGTERM, SIGINT), each through a temporary
file, ``fsync`` and ``os.replace``, keeps the two newest, and points ``last.ckpt`` at the newest (a hard link,
replaced atomically). Each checkpoint also holds the resolved config it was written under (``run_config``), so a
resume is checked against the run it continues. A reader never sees half a file, and ``last.ckpt`` is never
another run's or an older part's: :func:`newest_checkpoint` reads the iteration inside each file rather than
trusting names (docs/reliability.md).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Checkpoint

from .config import ConfigError

LAST = "last.ckpt"
KEEP = 2  # the newest periodic checkpoints kept besides last.ckpt


class CorruptCheckpoint(ConfigError):
    """A checkpoint file that cannot be read (truncated, not a checkpoint, no iteration)."""


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    iteration: int  # the learner's iteration
    logged_steps: int  # the loggers' step when it was written (rows after it are logged again on resume)
    config: dict | None  # the resolved config it was written under (None: written before configs were stored)


def read_checkpoint(path: Path) -> CheckpointInfo:
    """What a resume or an evaluation needs from checkpoint ``path``; :class:`CorruptCheckpoint` if unreadable."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        iteration = int(state["state_dict"]["iteration"])
        # the CSV logger's step is Lightning's count of batches that stepped, kept in the fit loop's state
        logged = int(state["loops"]["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"])
    except Exception as exc:  # noqa: BLE001 - any failure to read means the file is unusable
        raise CorruptCheckpoint(f"checkpoint {path} is corrupt ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from exc
    return CheckpointInfo(Path(path), iteration, logged, state.get("run_config"))


def scan(folder: Path) -> tuple[list[CheckpointInfo], list[CorruptCheckpoint]]:
    """The intact checkpoints of ``folder``, oldest first (``last.ckpt`` after its twin), and the corrupt ones."""
    intact, corrupt, read = [], [], {}
    for path in sorted(folder.glob("*.ckpt")) if folder.is_dir() else []:
        inode = path.stat().st_ino  # last.ckpt is a hard link to the newest: read each file once
        try:
            if inode not in read:
                read[inode] = read_checkpoint(path)
            intact.append(replace(read[inode], path=path))
        except CorruptCheckpoint as exc:
            corrupt.append(exc)
    intact.sort(key=lambda info: (info.iteration, info.path.name == LAST))
    return intact, corrupt


def newest_checkpoint(folder: Path) -> CheckpointInfo | None:
    """The checkpoint with the highest iteration in ``folder`` (None if there is none).

    A corrupt file makes this refuse, naming it and the intact ones: which state it held cannot be known, so
    guessing could resume or evaluate an older policy silently.
    """
    intact, corrupt = scan(folder)
    if corrupt:
        listed = ", ".join(f"{i.path.name} (iteration {i.iteration})" for i in intact) or "none"
        raise CorruptCheckpoint(f"{'; '.join(str(c) for c in corrupt)}. Intact checkpoints: {listed}. Delete the "
                                f"corrupt file to use the newest intact one, or pass its path (resume=<path> or "
                                f"checkpoint=<path>)")
    return intact[-1] if intact else None


def set_aside_after(folder: Path, iteration: int, part: int) -> list[str]:
    """Move the checkpoints of ``folder`` holding more than ``iteration`` into ``abandoned-part<part>/`` (a resume
    from an older checkpoint abandons them: left in place, they would be the newest). Returns their names."""
    intact, _ = scan(folder)
    later = [info.path for info in intact if info.iteration > iteration]
    if later:
        aside = folder / f"abandoned-part{part}"
        aside.mkdir(exist_ok=True)
        for path in later:
            os.replace(path, aside / path.name)
    return [p.name for p in later]


def _durable_replace(tmp: Path, target: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)


def replace_atomically(source: Path, target: Path) -> None:
    """``target`` becomes a hard link to (or, where links fail, a copy of) ``source``, in one rename."""
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    _durable_replace(tmp, target)


class RunCheckpoint(Checkpoint):
    """Checkpoints at every epoch's end and on an interruption (see the module's docstring)."""

    def __init__(self, folder: Path, run_config: dict):
        self.folder = Path(folder)
        self.run_config = run_config
        self.last_model_path = ""  # the newest good checkpoint (named in the divergence error)

    def save(self, trainer, learner) -> None:
        """One checkpoint at the learner's current iteration (every rank calls: saving has a barrier)."""
        k = int(learner.iteration)
        path = self.folder / f"iteration_{k}.ckpt"
        tmp = self.folder / f".iteration_{k}.ckpt.tmp"
        trainer.save_checkpoint(tmp, weights_only=False)
        if trainer.is_global_zero:
            _durable_replace(tmp, path)
            replace_atomically(path, self.folder / LAST)
            periodic = sorted((p for p in self.folder.glob("iteration_*.ckpt") if p != path),
                              key=lambda p: int(p.stem.split("_", 1)[1]))
            for old in periodic[:max(0, len(periodic) - (KEEP - 1))]:
                old.unlink(missing_ok=True)
        self.last_model_path = str(self.folder / LAST)

    def on_save_checkpoint(self, trainer, learner, checkpoint: dict) -> None:
        checkpoint["run_config"] = self.run_config

    def on_train_epoch_end(self, trainer, learner) -> None:
        self.save(trainer, learner)

    def on_exception(self, trainer, learner, exception: BaseException) -> None:
        if isinstance(exception, (SystemExit, KeyboardInterrupt)):  # SIGTERM (Lightning's SIGTERMException), SIGINT
            self.save(trainer, learner)

    def state_dict(self) -> dict:
        return {}
