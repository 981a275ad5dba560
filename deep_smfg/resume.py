"""Resuming a run: the same config but for the keys that may change, from the newest checkpoint by iteration.

:func:`plan_resume` checks a ``resume=`` request against the folder before anything is written: the config must
equal the one the run ran with except for :data:`MAY_CHANGE` (the budget, evaluation and report sizes, logging,
threads, the folder's own path), or the differences are refused, listed; the checkpoint is the one holding the
highest iteration (``resume=last``, whatever the files are called) or the named one, it must be readable, and it
must not lie past ``algo.iterations`` (docs/reliability.md).
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from .checkpoints import checkpoint_iteration, newest_checkpoint
from .config import ConfigError
from .schema import flatten

MAY_CHANGE = ("algo.iterations", "algo.eval_every", "algo.best_response_iterations", "algo.log_every", "logger.*",
              "progress_bar", "threads", "run_dir", "sweep_dir", "resume", "overwrite", "break_lock")


@dataclass
class ResumePlan:
    checkpoint: Path | None = None  # None: start from iteration 0
    iteration: int = 0
    logged_steps: int = 0  # the loggers' step at the checkpoint: rows after it are logged again
    changed: dict[str, list] = field(default_factory=dict)


def may_change(key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in MAY_CHANGE)


def config_changes(old: DictConfig, new: DictConfig) -> tuple[dict[str, list], dict[str, list]]:
    """``(allowed, refused)``: ``{key: [old value, new value]}`` for every key whose value differs."""
    a, b = flatten(old), flatten(new)
    allowed, refused = {}, {}
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            (allowed if may_change(key) else refused)[key] = [a.get(key, "<absent>"), b.get(key, "<absent>")]
    return allowed, refused


def plan_resume(run_dir: Path, cfg: DictConfig) -> ResumePlan:
    """What ``cfg.resume`` continues from, or a :class:`ConfigError` (see the module docstring)."""
    if not cfg.resume:
        return ResumePlan()
    if cfg.resume != "last" and not Path(cfg.resume).is_file():
        raise ConfigError(f"resume={cfg.resume}: no such checkpoint file (resume=last takes the newest in run_dir)")
    if cfg.get("overwrite", False):
        raise ConfigError("resume and overwrite=true contradict each other: choose one")
    changed = {}
    if (run_dir / "config.yaml").is_file():
        try:
            old = OmegaConf.load(run_dir / "config.yaml")
        except Exception as exc:  # noqa: BLE001 - an unreadable record of the first part
            raise ConfigError(f"{run_dir / 'config.yaml'} cannot be read ({type(exc).__name__}): the run's record "
                              f"is damaged, so what it ran with cannot be checked") from exc
        changed, refused = config_changes(old, cfg)
        if refused:
            diff = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in refused.items())
            raise ConfigError(f"resume: the config differs from the one {run_dir} ran with, and only "
                              f"{', '.join(MAY_CHANGE)} may change. Differences: {diff}")
    if cfg.resume == "last":
        newest = newest_checkpoint(run_dir / "checkpoints")
        if newest is None:
            if (run_dir / "summary.json").is_file():
                raise ConfigError(f"{run_dir} holds a finished run but no checkpoint to resume from")
            print(f"warning: resume=last: {run_dir} holds no checkpoint yet; starting from iteration 0",
                  file=sys.stderr)
            return ResumePlan(changed=changed)
        iteration, path = newest
    else:
        path = Path(cfg.resume)
        iteration = checkpoint_iteration(path)
    if iteration > cfg.algo.iterations:
        raise ConfigError(f"algo.iterations={cfg.algo.iterations} is below the checkpoint's iteration {iteration} "
                          f"({path}): a resumed run cannot end before where it was")
    return ResumePlan(path, iteration, logged_steps(path), changed)


def logged_steps(path: Path) -> int:
    """The loggers' step (Lightning's batches that stepped) when checkpoint ``path`` was written."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    return int(state["loops"]["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"])
