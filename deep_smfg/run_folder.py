"""Run folders: one directory per run holding its resolved config, summary and artefacts, and one run only.

:func:`claimed_run_dir` is how a command takes its folder: it creates it (or refuses a path it cannot use),
takes the folder's lock (:mod:`deep_smfg.run_lock`), and refuses a folder that already holds a run unless the run
is being resumed (``resume=...``) or replaced (``overwrite=true``, which empties it first). However the block
ends, the lock is released and the folders the claim created are removed if they are still empty, so a job
refused before it wrote anything leaves nothing behind. Every ``summary.json`` carries ``status``:
``completed``, ``interrupted``, ``diverged`` or ``failed`` (docs/reliability.md).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError
from .evaluation.plots import plot_curves
from .run_lock import RunLock

# what a run writes first: a folder holding any of these holds a run
RUN_MARKERS = ("config.yaml", "summary.json", "checkpoints", "metrics.csv", "csv", "wandb")
STATUSES = ("completed", "interrupted", "diverged", "failed")


def run_path(cfg: DictConfig, command: str, game_name: str) -> Path:
    """``cfg.run_dir``, or ``runs/<command>/<game>/<timestamp>``."""
    if cfg.get("run_dir"):
        return Path(cfg.run_dir)
    return Path("runs") / command / game_name / datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")


def holds_run(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in RUN_MARKERS)


def _describe_run(path: Path) -> str:
    try:
        old = OmegaConf.load(path / "config.yaml")
        game, seed = OmegaConf.select(old, "game.name"), OmegaConf.select(old, "seed")
        what = f"a run of {game}" + (f", seed {seed}" if seed is not None else "")
    except Exception:  # noqa: BLE001 - a description only
        what = "a run"
    status = ""
    if (path / "summary.json").is_file():
        try:
            status = f" ({json.loads((path / 'summary.json').read_text()).get('status', 'completed')})"
        except ValueError:
            status = " (unreadable summary.json)"
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


def _empty(path: Path, keep: Path) -> None:
    for child in path.iterdir():
        if child == keep:
            continue
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


@contextmanager
def claimed_run_dir(cfg: DictConfig, command: str, game_name: str, resuming: bool = False) -> Iterator[Path]:
    """The run folder of ``cfg``, created, locked and checked to hold no other run (see the module docstring)."""
    path = run_path(cfg, command, game_name)
    created = _create(path)
    try:
        lock = RunLock.acquire(path, f"deep-smfg {command}", bool(cfg.get("break_lock", False)))
    except ConfigError:
        _undo(created)
        raise
    try:
        if holds_run(path) and not resuming:
            if not cfg.get("overwrite", False):
                raise ConfigError(f"run_dir={path} already holds {_describe_run(path)}: pass resume=last to "
                                  f"continue it, overwrite=true to replace it, or choose another run_dir")
            _empty(path, keep=lock.path)
        yield path
    finally:
        lock.release()
        _undo(created)  # removes only folders left empty: a job refused (or stopped) before it wrote anything


def _undo(created: list[Path]) -> None:
    for folder in created:  # deepest first; stops at the first that holds something
        try:
            folder.rmdir()
        except OSError:
            return


def write_config(path: Path, cfg: DictConfig) -> None:
    """``config.yaml``: the resolved config this part of the run runs with (written after every check)."""
    tmp = path / ".config.yaml.tmp"
    tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    os.replace(tmp, path / "config.yaml")


def record_part(path: Path, record: dict) -> list[dict]:
    """Append this part's record (start time, from which iteration, what changed) to ``parts.jsonl``; all parts."""
    with open(path / "parts.jsonl", "a") as f:
        f.write(json.dumps(_jsonable(record)) + "\n")
    return read_parts(path)


def read_parts(path: Path) -> list[dict]:
    file = path / "parts.jsonl"
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()] if file.is_file() else []


def _jsonable(x: Any) -> Any:
    """Tensors to lists; floats to 8 significant digits (enough for any figure we report)."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return _jsonable(x.tolist())
    if isinstance(x, float):
        return float(f"{x:.8g}") if math.isfinite(x) else str(x)
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def write_summary(path: Path, summary: dict, status: str = "completed") -> str:
    """Write ``summary.json`` (atomically, with ``status`` first); returns the one-line JSON the CLI prints last."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    summary = _jsonable({"status": status, **summary})
    tmp = path / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, path / "summary.json")
    return json.dumps(summary)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows with the same keys as one CSV table (the first row's keys are the header)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_history(history: list[dict[str, float]], title: str, run_dir: Path) -> None:
    """``metrics.csv`` and one PNG per logged metric (against iterations)."""
    if history:
        write_csv(run_dir / "metrics.csv", history)
        plots = run_dir / "plots"
        plots.mkdir(exist_ok=True)
        its = [h["iteration"] for h in history]
        for key in history[0]:
            if key not in ("iteration", "samples", "wall_time"):
                plot_curves({key: [h[key] for h in history]}, plots / f"{key}.png", "iteration", key,
                            f"{title}: {key}", x=its)
