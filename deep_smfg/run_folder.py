"""Run folders: one directory per run holding its resolved config, summary and artefacts."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from .evaluation.plots import plot_curves


def make_run_dir(cfg: DictConfig, command: str, game_name: str) -> Path:
    """Create the run folder (``cfg.run_dir`` or ``runs/<command>/<game>/<timestamp>``)."""
    if cfg.get("run_dir"):
        path = Path(cfg.run_dir)
    else:
        stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
        path = Path("runs") / command / game_name / stamp
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return path


def _jsonable(x: Any) -> Any:
    """Tensors to lists; floats to 8 significant digits (enough for any figure we report)."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return _jsonable(x.tolist())
    if isinstance(x, float):
        return float(f"{x:.8g}") if math.isfinite(x) else str(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def write_summary(path: Path, summary: dict) -> str:
    """Write ``summary.json``; returns the one-line JSON that the CLI prints last."""
    summary = _jsonable(summary)
    (path / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
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
