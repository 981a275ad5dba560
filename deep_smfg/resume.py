"""Resuming a run: the same config but for the keys that may change, from the newest checkpoint by iteration.

:func:`plan_resume` checks a ``resume=`` request against the folder before anything is written: the config must
equal the one the run ran with except for :data:`MAY_CHANGE` (the budget, evaluation and report sizes, logging,
threads, the folder's own path), or the differences are refused, listed; the checkpoint is the one holding the
highest iteration (``resume=last``, whatever the files are called) or the named one, it must be readable, and it
must not lie past ``algo.iterations``. The config is compared with the one the checkpoint itself records (so a
``resume=<path>`` from another folder is checked too), or, for a checkpoint written before configs were recorded,
with its run folder's ``config.yaml`` (docs/reliability.md).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from .checkpoints import newest_checkpoint, read_checkpoint
from .config import ConfigError
from .schema import flatten

MAY_CHANGE = ("algo.iterations", "algo.eval_every", "algo.stop.*", "algo.best_response_iterations", "algo.log_every",
              "logger.*", "progress_bar", "threads", "eval_threads", "run_dir", "sweep_dir", "resume", "overwrite",
              "optimized_metric",
              "trainer.max_time*", "trainer.profiler*", "trainer.callbacks*")  # the trainer's: not the learning


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
    info = newest_checkpoint(run_dir / "checkpoints") if cfg.resume == "last" else read_checkpoint(Path(cfg.resume))
    if info is None:
        changed = _compare(_recorded_config(run_dir), cfg, run_dir) if (run_dir / "config.yaml").is_file() else {}
        if _status(run_dir) == "completed":
            raise ConfigError(f"{run_dir} holds a finished run but no checkpoint to resume from")
        print(f"warning: resume=last: {run_dir} holds no checkpoint yet; starting from iteration 0", file=sys.stderr)
        return ResumePlan(changed=changed)
    # the checkpoint's own record of its config (older checkpoints: the run folder's config.yaml)
    recorded = OmegaConf.create(info.config) if info.config is not None else _recorded_config(info.path.parent.parent)
    changed = _compare(recorded, cfg, info.path)
    if info.iteration > cfg.algo.iterations:
        raise ConfigError(f"algo.iterations={cfg.algo.iterations} is below the checkpoint's iteration {info.iteration} "
                          f"({info.path}): a resumed run cannot end before where it was")
    return ResumePlan(info.path, info.iteration, info.logged_steps, changed)


def _status(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "summary.json").read_text()).get("status", "completed")
    except (OSError, ValueError):
        return None


def _recorded_config(run_dir: Path) -> DictConfig:
    try:
        return OmegaConf.load(run_dir / "config.yaml")
    except Exception as exc:  # noqa: BLE001 - an unreadable record of the run
        raise ConfigError(f"{run_dir / 'config.yaml'} cannot be read ({type(exc).__name__}): the run's record "
                          f"is damaged, so what it ran with cannot be checked") from exc


def _compare(old: DictConfig, new: DictConfig, source: Path) -> dict[str, list]:
    changed, refused = config_changes(old, new)
    if refused:
        diff = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in refused.items())
        raise ConfigError(f"resume: the config differs from the one {source} was written with, and only "
                          f"{', '.join(MAY_CHANGE)} may change. Differences: {diff}")
    return changed
