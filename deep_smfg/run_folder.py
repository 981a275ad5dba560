"""Run folders: one directory per run holding its resolved config, the record of its parts, its summary and
artefacts (how a command takes its folder: :mod:`deep_smfg.run_claim`).

Every ``summary.json`` carries ``status``: ``running`` (written when a part starts: a folder left so was killed),
``completed``, ``interrupted``, ``diverged`` or ``failed`` (docs/reliability.md).
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from .evaluation.plots import plot_curves

STATUSES = ("running", "completed", "interrupted", "diverged", "failed")


def _write_atomically(path: Path, text: str) -> None:
    """``path`` holds ``text`` or what it held before, never half of it (a temporary file, then one rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_config(path: Path, cfg: DictConfig) -> None:
    """``config.yaml``: the resolved config this part of the run runs with (written after every check)."""
    _write_atomically(path / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))


def record_part(path: Path, record: dict) -> None:
    """Append this part's record (start time, from which iteration, what changed) to ``parts.jsonl``."""
    with open(path / "parts.jsonl", "a") as f:
        f.write(json.dumps(_jsonable(record)) + "\n")


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
    _write_atomically(path / "summary.json", json.dumps(summary, indent=2) + "\n")
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
