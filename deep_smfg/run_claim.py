"""How a command takes its run folder, and how the folder learns how the command ended.

:func:`claimed_run_dir` creates the folder (or refuses a path it cannot use), takes its lock
(:mod:`deep_smfg.run_lock`), and refuses a folder that already holds a run unless the run is being resumed
(``resume=...``) or replaced (``overwrite=true``, which empties a folder holding only a run's files). However the
block ends, the lock is released and the folders the claim created are removed if nothing but the lock file was
written in them, so a refused job leaves nothing behind. :func:`recording_outcome` writes the summary of a job
that ends early: ``failed``, ``diverged`` or ``interrupted`` (docs/reliability.md).
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, RunEnded
from .run_folder import read_parts, write_summary
from .run_lock import LOCK_NAME, RunLock
from .signals import Signals

# a folder holding any of these holds a run (of this or an older version of deep_smfg)
RUN_MARKERS = ("config.yaml", "summary.json", "checkpoints", "parts.jsonl")
# what a run writes: overwrite=true empties a folder holding only these (anything else is the user's)
RUN_FILES = ("config.yaml", "summary.json", "parts.jsonl", "metrics.csv", "wandb_id", "*.png", "checkpoints",
             "csv", "wandb", "plots", "n_player", "final_params_rank*.pt", ".lock", ".*.tmp*")


@dataclass
class Claim:
    path: Path
    lock: RunLock


def run_path(cfg: DictConfig, command: str, game_name: str) -> Path:
    """``cfg.run_dir``, or ``runs/<command>/<game>/<timestamp>``."""
    if cfg.get("run_dir"):
        return Path(cfg.run_dir)
    return Path("runs") / command / game_name / datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")


def holds_run(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in RUN_MARKERS)


def describe_run(path: Path) -> str:
    """``a run of <game>, seed <k> (<status>)``: the game as its summary names it (written when the run starts), else
    the factory its config names."""
    summary, status = {}, ""
    if (path / "summary.json").is_file():
        try:
            summary = json.loads((path / "summary.json").read_text())
            status = f" ({summary.get('status', 'completed')})"
        except ValueError:
            status = " (unreadable summary.json)"
    try:
        old = OmegaConf.load(path / "config.yaml")
        game, seed = summary.get("game") or OmegaConf.select(old, "game._target_"), OmegaConf.select(old, "seed")
        what = f"a run of {game}" + (f", seed {seed}" if seed is not None else "")
    except Exception:  # noqa: BLE001 - a description only
        what = "a run"
    return what + status


def _create(path: Path) -> list[Path]:
    """``mkdir -p path``; returns the folders it created, deepest first (to undo it)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"run_dir={path} is a file, not a folder: choose another run_dir")
    created = []
    probe = path
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"run_dir={path} cannot be created: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"run_dir={path} is not writable by this user: choose another run_dir")
    return created


def check_run_path(path: Path) -> list[Path]:
    """Refuse a run folder that cannot be made or written (a file, an unwritable parent), by making its missing
    folders and removing them again; returns those folders, deepest first (Hydra makes them next: a job refused
    later removes them with :func:`remove_if_empty`)."""
    created = _create(path)
    _undo(created)
    return created


def remove_if_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while nothing but a lock file was written in them: a refused job leaves no
    folder behind."""
    _undo([folder for folder in folders if folder.is_dir()])


def _empty(path: Path) -> None:
    foreign = sorted(c.name for c in path.iterdir() if not any(fnmatch.fnmatch(c.name, p) for p in RUN_FILES))
    if foreign:
        raise ConfigError(f"run_dir={path} holds files a run does not write ({', '.join(foreign[:5])}): "
                          f"overwrite=true only empties run folders; move them or choose another run_dir")
    for child in path.iterdir():
        if child.name != LOCK_NAME:
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


@contextmanager
def claimed_run_dir(cfg: DictConfig, command: str, game_name: str, resuming: bool = False) -> Iterator[Claim]:
    """The run folder of ``cfg``, created, locked and checked to hold no other run (see the module docstring)."""
    path = run_path(cfg, command, game_name)
    created = _create(path)
    lock = RunLock(path, f"deep-smfg {command}")
    try:
        lock.acquire()
        if holds_run(path) and not resuming:
            if not cfg.get("overwrite", False):
                raise ConfigError(f"run_dir={path} already holds {describe_run(path)}: pass resume=last to "
                                  f"continue it, overwrite=true to replace it, or choose another run_dir")
            _empty(path)
        yield Claim(path, lock)
    finally:
        lock.release()
        _undo(created)


def _undo(created: list[Path]) -> None:
    """Remove the folders the claim created, deepest first, where nothing but the lock file was written."""
    for folder in created:
        if [p.name for p in folder.iterdir()] == [LOCK_NAME]:
            (folder / LOCK_NAME).unlink()
        try:
            folder.rmdir()
        except OSError:
            return


@contextmanager
def recording_outcome(claim: Claim, signals: Signals, fields: dict) -> Iterator[None]:
    """Inside the block the folder holds this part's config: a job that ends early writes its summary (``status``
    failed, diverged or interrupted, the error, the parts) before the error goes on, and a signal outside a fit
    writes it, releases the lock and exits."""

    def ended(message: str, status: str) -> None:
        write_summary(claim.path, {**fields, "error": message, "run_dir": str(claim.path),
                                   "parts": read_parts(claim.path)}, status)

    signals.on_exit = lambda message: (ended(message, "interrupted"), claim.lock.release())
    try:
        yield
    except RunEnded as exc:
        ended(str(exc), exc.status)
        raise
    except Exception as exc:
        ended(f"{type(exc).__name__}: {exc}", "failed")
        raise
    finally:
        signals.on_exit = lambda message: claim.lock.release()
