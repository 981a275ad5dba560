"""The ``deep-smfg`` command: ``deep-smfg COMMAND [hydra overrides...]``.

Commands: ``solve`` (exact lower level and reference ``Phi*`` of a finite game) and ``train``
(learning runs, once available). Configs are composed with Hydra's compose API from the
repository's ``configs/`` folder (or ``$DEEP_SMFG_CONFIG_DIR``), so that a run that fails
validation writes nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from .config import ConfigError
from .games import GameDefinitionError, game_parameters, is_continuous


def config_dir() -> Path:
    env = os.environ.get("DEEP_SMFG_CONFIG_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "configs"
    if not path.is_dir():
        raise ConfigError(f"config folder {path} not found; set DEEP_SMFG_CONFIG_DIR to the repository's configs/")
    return path


def _compose(command: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None, job_name=command):
        return compose(config_name=command, overrides=overrides)


FINITE_TRAIN_DEFAULTS = {"algo": "ac_smfg", "model": "tabular"}


def compose_config(command: str, overrides: list[str]) -> DictConfig:
    """Compose ``configs/<command>.yaml`` with ``overrides``; bad keys get the list of valid ones.

    ``train`` on a finite game takes ``FINITE_TRAIN_DEFAULTS`` for the groups the user did not choose
    (the file's defaults are the continuous main job's).
    """
    try:
        cfg = _compose(command, overrides)
        if command == "train" and not is_continuous(cfg.game.name):
            chosen = {o.lstrip("+~").split("=", 1)[0] for o in overrides}
            extra = [f"{g}={v}" for g, v in FINITE_TRAIN_DEFAULTS.items() if g not in chosen]
            if extra:
                cfg = _compose(command, extra + overrides)
        return cfg
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_explain(exc, command, overrides)) from exc


def _explain(exc: Exception, command: str, overrides: list[str]) -> str:
    msg = str(exc)
    for ov in overrides:
        key = ov.lstrip("+~").split("=", 1)[0]
        if f"Could not override '{key}'" not in msg and not ("not in struct" in msg and key in msg):
            continue
        if key.startswith("game."):
            others = [o for o in overrides if o != ov]
            try:
                game = _compose(command, others).game.name
                valid = ", ".join(game_parameters(game))
            except Exception:  # noqa: BLE001 - fall back to a pointer
                game, valid = "this game", "see configs/game/<name>.yaml"
            return f"unknown parameter {key.split('.', 1)[1]!r} for {game}; valid parameters: {valid}"
        return f"unknown config key {key!r} (append a new key with +{key}=...): {msg.splitlines()[0]}"
    return msg


def _commands() -> dict[str, Callable[[DictConfig], str]]:
    from .solve import run_solve

    commands: dict[str, Callable[[DictConfig], str]] = {"solve": run_solve}
    try:
        from .train import run_train

        commands["train"] = run_train
    except ImportError:  # training not installed in this build
        pass
    return commands


USAGE = "usage: deep-smfg {solve,train} [key=value ...]   (e.g. deep-smfg solve game=four_rooms)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = _commands()
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        print("games: see configs/game/; commands: " + ", ".join(commands))
        return 0 if argv else 2
    command, overrides = argv[0], argv[1:]
    if command not in commands:
        print(f"error: unknown command {command!r}; valid commands: {', '.join(commands)}", file=sys.stderr)
        return 2
    try:
        cfg = compose_config(command, overrides)
        summary_line = commands[command](cfg)
    except (ConfigError, GameDefinitionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
