"""The ``deep-smfg`` command: ``deep-smfg COMMAND [-m] [hydra overrides...]``.

Commands: ``solve`` (exact lower level and reference ``Phi*`` of a finite game), ``train`` (learning runs) and
``evaluate`` (a finished run's policies among ``n`` players). Configs are composed with Hydra's compose API from the
package ``deep_smfg.configs`` (the repository's ``configs/`` folder, shipped in the wheel; docs/installing.md)
or ``$DEEP_SMFG_CONFIG_DIR``, so that a run that fails validation writes nothing. ``-m`` / ``--multirun``
runs a sweep: one job per combination of comma-separated values (deep_smfg/sweep.py, docs/sweeps.md).
"""

from __future__ import annotations

import os
import shlex
import sys
import traceback
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from . import schema, sweep
from .config import ConfigError, RunEnded
from .games import ContinuousGame, FiniteGame, GameDefinitionError, factory, game_parameters

CONFIG_DIR_ENV = "DEEP_SMFG_CONFIG_DIR"
MULTIRUN_FLAGS = ("-m", "--multirun")


def config_dir() -> Path:
    """The config folder: ``$DEEP_SMFG_CONFIG_DIR`` if set, else the installed package ``deep_smfg.configs``.

    In an editable install that package is the repository's ``configs/`` itself (pyproject.toml maps it).
    """
    env = os.environ.get(CONFIG_DIR_ENV)
    path = Path(env) if env else _packaged_config_dir()
    if not path.is_dir():
        raise ConfigError(f"config folder {path} not found; set {CONFIG_DIR_ENV} to a folder laid out like configs/")
    return path


def _packaged_config_dir() -> Path:
    try:
        return Path(str(resources.files("deep_smfg.configs")))
    except ModuleNotFoundError as exc:  # an editable install made before the configs became a package
        raise ConfigError(f"the package deep_smfg.configs is not installed; reinstall (make setup) or set "
                          f"{CONFIG_DIR_ENV}") from exc


def _compose(command: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None, job_name=command):
        return compose(config_name=command, overrides=overrides)


def compose_config(command: str, overrides: list[str]) -> DictConfig:
    """Compose ``configs/<command>.yaml`` with ``overrides`` (after :func:`with_game_kind`); bad keys get the list of
    valid ones, and every key is checked against its type and range (deep_smfg/schema.py)."""
    overrides = with_game_kind(overrides)
    try:
        cfg = _compose(command, overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_explain(exc, command, overrides)) from exc
    schema.validate(command, cfg)  # every key's type and range (docs/reliability.md)
    return cfg


def with_game_kind(overrides: list[str]) -> list[str]:
    """``game._target_=F`` without ``game=``: start from the empty game node of F's kind (``game=finite`` or
    ``game=continuous``, read from F's return annotation), not from the default game's parameters."""
    chosen = {o.lstrip("+~").split("=", 1)[0]: o.split("=", 1)[-1] for o in overrides if "=" in o}
    if "game._target_" not in chosen or "game" in chosen:
        return overrides
    make = factory(chosen["game._target_"])
    try:
        returns = typing.get_type_hints(make).get("return")
    except Exception:  # noqa: BLE001 - an annotation that does not resolve says nothing of the kind
        returns = None
    if not (isinstance(returns, type) and issubclass(returns, (FiniteGame, ContinuousGame))):
        raise ConfigError(f"game._target_={chosen['game._target_']}: annotate its return type (-> FiniteGame or -> "
                          f"ContinuousGame), or say the kind: game=finite or game=continuous")
    return [f"game={returns.KIND}", *(o if not o.startswith("+game._target_=") else o[1:] for o in overrides)]


def _explain(exc: Exception, command: str, overrides: list[str]) -> str:
    msg = str(exc)
    odd = [ov for ov in overrides if not ov.isascii() or " " in ov]
    if odd and ("LexerNoViableAlt" in msg or "token recognition" in msg or "mismatched input" in msg
                or "no viable alternative" in msg):
        key, _, value = odd[0].partition("=")
        return (f"{odd[0]!r} cannot be read as key=value: a value with spaces or non-ASCII characters must be "
                f"quoted for Hydra, inside the shell's quotes: \"{key}='{value}'\"")
    for ov in overrides:
        key = ov.lstrip("+~").split("=", 1)[0]
        if f"Could not override '{key}'" not in msg and not ("not in struct" in msg and key in msg):
            continue
        if key.startswith("game."):
            others = [o for o in overrides if o != ov]
            try:
                game = str(_compose(command, others).game._target_)
                valid = ", ".join(game_parameters(game))
            except Exception:  # noqa: BLE001 - fall back to a pointer
                game, valid = "this game", "see configs/game/<name>.yaml"
            return f"unknown parameter {key.split('.', 1)[1]!r} for {game}; valid parameters: {valid}"
        return f"unknown config key {key!r} (append a new key with +{key}=...): {msg.splitlines()[0]}"
    return msg


@dataclass(frozen=True)
class Command:
    """A job: ``check(cfg)`` raises :class:`ConfigError` for anything ``run(cfg)`` would refuse, before it writes;
    ``run(cfg)`` writes the run folder and returns the summary line."""

    check: Callable[[DictConfig], None]
    run: Callable[[DictConfig], str]


def _commands() -> dict[str, Command]:
    from . import evaluate, solve
    from . import train_job as train

    return {"solve": Command(solve.check_config, solve.run_solve),
            "train": Command(train.check_config, train.run_train),
            "evaluate": Command(evaluate.check_config, evaluate.run_evaluate)}


def expand_overrides(command: str, overrides: list[str]) -> list[sweep.Job]:
    """The jobs of a sweep; Hydra's config loader lists a group's options for ``glob(...)`` sweeps."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None, job_name=command):
        try:
            return sweep.expand(overrides, GlobalHydra.instance().config_loader())
        except HydraException as exc:
            raise ConfigError(str(exc)) from exc


def checked_config(command: str, overrides: list[str], job: Command) -> DictConfig:
    """A sweep job's config, composed and checked (``job.check``, a single-process trainer) before any job runs."""
    cfg = compose_config(command, overrides)
    job.check(cfg)
    trainer = cfg.get("trainer")
    if trainer is not None and (trainer.devices != 1 or "ddp" in str(trainer.strategy)):
        # Lightning's DDP re-runs the whole command line once per extra rank: that would re-run the sweep
        raise ConfigError("a sweep runs its jobs one by one in this process; run multi-process trainers "
                          "(trainer=ddp_*) without -m")
    return cfg


def run_sweep(command: str, overrides: list[str], job: Command) -> int:
    """``-m``: check every job, run them one after another, write and print the sweep's tables.

    Returns 0 when every job finished, 1 when any failed (its status column says why).
    """
    jobs = expand_overrides(command, overrides)
    sweep_dir, cfgs = sweep.plan(jobs, lambda job_overrides: checked_config(command, job_overrides, job), command)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    results = sweep.run_jobs(jobs, cfgs, job.run)
    print(sweep.write_summary(sweep_dir, results, "deep-smfg " + shlex.join([command, "-m", *overrides])))
    print(f"sweep folder: {sweep_dir}")
    stopped = [r for r in results if r.code]
    if stopped:
        print(f"error: the sweep stopped at job {stopped[0].job.number}: {stopped[0].status}; "
              f"{len(jobs) - len(results)} jobs did not run", file=sys.stderr)
        return stopped[0].code
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"error: {len(failed)} of {len(results)} jobs failed (status column of {sweep_dir / 'sweep.csv'})",
              file=sys.stderr)
        return 1
    return 0


CONFIG_DIR_FLAGS = ("--config-dir", "-cd")


def config_dir_overrides(args: list[str]) -> list[str]:
    """Hydra's ``--config-dir DIR`` (``-cd DIR``, ``--config-dir=DIR``): DIR joins the config search path, after the
    package's configs (a user's ``DIR/game/my_game.yaml`` is then ``game=my_game``), as ``hydra.searchpath``."""
    out, dirs, args = [], [], list(args)
    while args:
        arg = args.pop(0)
        flag, eq, value = arg.partition("=")
        if flag in CONFIG_DIR_FLAGS:
            if not eq:
                if not args:
                    raise ConfigError(f"{arg} needs a folder: {arg} ./conf")
                value = args.pop(0)
            folder = Path(value).expanduser().resolve()
            if not folder.is_dir():
                raise ConfigError(f"{flag} {value}: no such folder")
            dirs.append(f"file://{folder}")
        else:
            out.append(arg)
    return out + ([f"hydra.searchpath=[{','.join(dirs)}]"] if dirs else [])


USAGE = ("usage: deep-smfg {solve,train,evaluate} [-m|--multirun] [--config-dir DIR] [key=value ...]\n"
         "       (e.g. deep-smfg solve game=four_rooms; deep-smfg evaluate run_dir=RUN: docs/n_player.md;\n"
         "       deep-smfg train -m seed=0,1,2 game=shop_positioning runs one job per value: docs/sweeps.md)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    multirun = any(arg in MULTIRUN_FLAGS for arg in argv)
    argv = [arg for arg in argv if arg not in MULTIRUN_FLAGS]
    commands = _commands()
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        print("games: see configs/game/; commands: " + ", ".join(commands))
        return 0 if argv else 2
    command, overrides = argv[0], argv[1:]
    if command not in commands:
        print(f"error: unknown command {command!r}; valid commands: {', '.join(commands)}", file=sys.stderr)
        return 2
    if os.getcwd() not in sys.path:  # a user's game module in the current folder imports, as under python -m
        sys.path.insert(0, os.getcwd())
    try:
        overrides = config_dir_overrides(overrides)
        if multirun:
            return run_sweep(command, overrides, commands[command])
        cfg = compose_config(command, overrides)
        summary_line = commands[command].run(cfg)
    except (ConfigError, GameDefinitionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RunEnded as exc:  # interrupted or diverged: summary.json says so
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:  # a failure: the traceback for a bug report, then one line (summary.json: failed)
        traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(summary_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
