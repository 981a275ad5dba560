"""A run's checkpoints: written atomically, found by iteration, corrupt ones named.

:class:`RunCheckpoint` writes ``checkpoints/iteration=<k>.ckpt`` at the end of every epoch (every
``algo.checkpoint_every`` iterations) and when a run is interrupted (SIGTERM, SIGINT), each through a temporary
file and ``os.replace``, keeps the two newest, and points ``last.ckpt`` at the newest (a hard link, replaced
atomically). So a reader never sees half a file, and ``last.ckpt`` is never another run's or an older part's:
:func:`newest_checkpoint` reads the iteration inside each file rather than trusting names (docs/reliability.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Checkpoint

from .config import ConfigError

LAST = "last.ckpt"
KEEP = 2  # the newest periodic checkpoints kept besides last.ckpt


class CorruptCheckpoint(ConfigError):
    """A checkpoint file that cannot be read (truncated, not a checkpoint, no iteration)."""


def checkpoint_iteration(path: Path) -> int:
    """The learner's iteration stored in checkpoint ``path``; :class:`CorruptCheckpoint` if it cannot be read."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        return int(state["state_dict"]["iteration"])
    except Exception as exc:  # noqa: BLE001 - any failure to read means the file is unusable
        raise CorruptCheckpoint(f"checkpoint {path} is corrupt ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from exc


def scan(folder: Path) -> tuple[list[tuple[int, Path]], list[CorruptCheckpoint]]:
    """The intact checkpoints of ``folder`` as ``(iteration, path)``, oldest first, and the corrupt ones."""
    intact, corrupt = [], []
    for path in sorted(folder.glob("*.ckpt")) if folder.is_dir() else []:
        try:
            intact.append((checkpoint_iteration(path), path))
        except CorruptCheckpoint as exc:
            corrupt.append(exc)
    intact.sort(key=lambda item: (item[0], item[1].name != LAST))
    return intact, corrupt


def newest_checkpoint(folder: Path) -> tuple[int, Path] | None:
    """The checkpoint with the highest iteration in ``folder`` (None if there is none).

    A corrupt file makes this refuse, naming it and the intact ones: which state it held cannot be known, so
    guessing could resume or evaluate an older policy silently.
    """
    intact, corrupt = scan(folder)
    if corrupt:
        listed = ", ".join(f"{p.name} (iteration {k})" for k, p in intact) or "none"
        raise CorruptCheckpoint(f"{'; '.join(str(c) for c in corrupt)}. Intact checkpoints: {listed}. Delete the "
                                f"corrupt file to use the newest intact one, or pass its path (resume=<path> or "
                                f"checkpoint=<path>)")
    return intact[-1] if intact else None


def replace_atomically(source: Path, target: Path) -> None:
    """``target`` becomes a hard link to (or, where links fail, a copy of) ``source``, in one rename."""
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


class RunCheckpoint(Checkpoint):
    """Checkpoints at every epoch's end and on an interruption (see the module's docstring)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.last_model_path = ""  # the newest good checkpoint (named in the non-finite error)

    def save(self, trainer, learner) -> None:
        """One checkpoint at the learner's current iteration (every rank calls: saving has a barrier)."""
        k = int(learner.iteration)
        path = self.folder / f"iteration={k}.ckpt"
        tmp = self.folder / f".iteration={k}.ckpt.tmp"
        trainer.save_checkpoint(tmp, weights_only=False)
        if trainer.is_global_zero:
            os.replace(tmp, path)
            replace_atomically(path, self.folder / LAST)
            periodic = sorted((p for p in self.folder.glob("iteration=*.ckpt") if p != path),
                              key=lambda p: int(p.stem.split("=", 1)[1]))
            for old in periodic[:max(0, len(periodic) - (KEEP - 1))]:
                old.unlink(missing_ok=True)
        self.last_model_path = str(self.folder / LAST)

    def on_train_epoch_end(self, trainer, learner) -> None:
        self.save(trainer, learner)

    def on_exception(self, trainer, learner, exception: BaseException) -> None:
        if isinstance(exception, (SystemExit, KeyboardInterrupt)):  # SIGTERM (Lightning's SIGTERMException), SIGINT
            self.save(trainer, learner)

    def state_dict(self) -> dict:
        return {}
