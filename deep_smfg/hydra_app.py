"""The commands as Hydra apps: ``deep-smfg COMMAND ARGS`` runs ``@hydra.main`` on ``configs/<command>.yaml`` with
``ARGS``, so Hydra's flags and plugins work as Hydra documents them (``--help``, ``--cfg job``, ``-m``,
``--config-dir``, ``hydra.run.dir``, launchers and sweepers: docs/sweeps.md, docs/cluster.md).

A job's run folder is Hydra's output folder (``hydra.run.dir``, or ``hydra.sweep.dir``/``hydra.sweep.subdir`` under
``-m``); the job function writes it into ``cfg.run_dir`` for the command. Before Hydra makes any folder, the
callbacks of configs/hydra_app/default.yaml check every job (deep_smfg/hydra_callbacks.py). A job returns the
number ``optimized_metric`` names in its summary, for sweepers such as Optuna.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from . import schema
from .config import ConfigError, RunEnded
from .games import GameDefinitionError
from .run_claim import remove_if_empty
from .sweep import folder_name


def _first_set(value, default):
    return default if value in (None, "") else value


def _game_folder(target: str | None) -> str:
    """A run folder's game part from the factory's name: ``pkg.make_road_toll`` -> ``road_toll``."""
    name = str(target or "game").rsplit(".", 1)[-1]
    return re.sub(r"^make_", "", name) or "game"


# The resolvers configs/hydra_app/default.yaml uses (registered wherever a job's config is resolved: this module is
# imported with the job function, also in a launcher's worker process)
for _name, _resolver in (("deep_smfg.or", _first_set), ("deep_smfg.game_folder", _game_folder),
                         ("deep_smfg.safe", folder_name)):
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _resolver)


# the folders Hydra makes for this process's run (CheckJobs.on_run_start): a job refused later removes them
FRESH_FOLDERS: list[Path] = []


@dataclass(frozen=True)
class Command:
    """A command: ``check(cfg)`` raises :class:`ConfigError` for anything ``run(cfg)`` would refuse, before it writes;
    ``run(cfg)`` writes the run folder and returns the summary line; ``result_dir(cfg)`` is the folder holding the
    job's ``summary.json``; ``owns_output_dir``: the command's run folder is Hydra's output folder (``evaluate``
    writes into the run it evaluates instead)."""

    check: Callable[[DictConfig], None]
    run: Callable[[DictConfig], str]
    result_dir: Callable[[DictConfig], Path]
    owns_output_dir: bool = True


def commands() -> dict[str, Command]:
    from . import evaluate, solve
    from . import train_job as train

    def own(cfg: DictConfig) -> Path:
        return Path(cfg.run_dir)

    return {"solve": Command(solve.check_config, solve.run_solve, own),
            "train": Command(train.check_config, train.run_train, own),
            "evaluate": Command(evaluate.check_config, evaluate.run_evaluate,
                                lambda cfg: Path(cfg.run_dir) / "n_player", owns_output_dir=False)}


def check_job(command: str, cfg: DictConfig) -> None:
    """Everything a job checks before it writes: the schema of every key (deep_smfg/schema.py), then the command's
    own checks (the game, the learner or solver with its arguments, the trainer)."""
    schema.validate(command, cfg)
    commands()[command].check(cfg)


def job_config(full: DictConfig) -> DictConfig:
    """A composed config without Hydra's node: what the job function receives."""
    cfg = OmegaConf.masked_copy(full, [k for k in full if k != "hydra"])
    return cfg


def _with_folders(command: Command, cfg: DictConfig) -> DictConfig:
    """``cfg`` with its run folder (Hydra's output folder) and, in a sweep, the W&B group (the sweep folder's name)
    and run name (the job folder's: its number and swept values) where the logger config leaves them null."""
    hydra_cfg = HydraConfig.get()
    with open_dict(cfg):
        if command.owns_output_dir:
            cfg.run_dir = hydra_cfg.runtime.output_dir
        if hydra_cfg.mode == RunMode.MULTIRUN:
            cfg.sweep_dir = str(Path(hydra_cfg.sweep.dir).resolve())
            logger = cfg.get("logger") or {}
            if "group" in logger and logger.group is None:  # a logger that groups runs (configs/logger/wandb.yaml)
                logger.group = Path(hydra_cfg.sweep.dir).name
            if "name" in logger and logger.name is None:
                logger.name = Path(hydra_cfg.runtime.output_dir).name
    return cfg


@contextmanager
def own_environment() -> Iterator[None]:
    """A job runs on a copy of the process environment: Lightning's DDP sets MASTER_PORT and the ranks' variables
    in it, which the next job of a sweep in this process (or a later run in a notebook) must not inherit."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def summary_number(summary: dict, path: str | None) -> float | None:
    """The number at the dotted ``path`` of a summary (``final.leader_gap``); None without a path, nan if missing."""
    if not path:
        return None
    node = summary
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    try:
        return float(node)
    except (TypeError, ValueError):
        print(f"warning: optimized_metric={path} is not a number of the summary", file=sys.stderr)
        return math.nan


def run_job(command_name: str, cfg: DictConfig) -> float | None:
    """One job: run the command, print its summary line, return ``optimized_metric``'s value.

    A single run ends the process with the command's exit code on an error (2: a refused config, 1: a failure,
    128 + signal: interrupted). In a sweep a failed job is recorded (its summary.json, then the sweep's table) and
    returns nan, so the others go on; an interrupted job stops the sweep."""
    command = commands()[command_name]
    cfg = _with_folders(command, cfg)
    sweeping = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        with own_environment():
            schema.validate(command_name, cfg)
            line = command.run(cfg)
    except (ConfigError, GameDefinitionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if not sweeping:
            remove_if_empty(FRESH_FOLDERS)  # refused: nothing written
            raise SystemExit(2) from exc
        return math.nan
    except RunEnded as exc:  # interrupted or diverged: summary.json says so
        if sweeping and exc.status == "interrupted":
            print(f"error: the sweep stopped at job {HydraConfig.get().job.num}: interrupted: {exc}", file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        if exc.status == "interrupted" or not sweeping:
            raise SystemExit(exc.code) from exc
        return math.nan
    except Exception as exc:  # a failure: the traceback for a bug report, then one line (summary.json: failed)
        traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if not sweeping:
            raise SystemExit(1) from exc
        return math.nan
    print(line)
    summary = json.loads(line) if line else {}
    return summary_number(summary, cfg.get("optimized_metric"))


def hydra_main(command: str, config_dir: Path) -> Callable[[], None]:
    """``@hydra.main`` over ``config_dir/<command>.yaml`` running :func:`run_job` (reads ``sys.argv[1:]``)."""

    def job(cfg: DictConfig) -> float | None:
        return run_job(command, cfg)

    job.__name__ = command  # hydra.job.name is set in each command's config; this only names the function
    return hydra.main(config_path=str(config_dir), config_name=command, version_base=None)(job)
