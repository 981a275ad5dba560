"""The ``deep-smfg`` command: ``deep-smfg COMMAND [Hydra's flags] [overrides...]``.

Commands: ``solve`` (exact lower level and reference ``Phi*`` of a finite game), ``train`` (learning runs) and
``evaluate`` (a finished run's policies among ``n`` players). Each is a Hydra app over ``configs/<command>.yaml``
(deep_smfg/hydra_app.py) from the package ``deep_smfg.configs`` (the repository's ``configs/`` folder, shipped in the
wheel; docs/installing.md) or ``$DEEP_SMFG_CONFIG_DIR``: Hydra's flags and plugins work as Hydra documents them
(``--help``, ``--cfg job``, ``-m``, ``--config-dir``, launchers and sweepers: docs/sweeps.md, docs/cluster.md). A
config that does not compose or that the checks refuse exits with 2 and writes nothing. :func:`compose_config` is
the compose API's way to the same configs, for the Python API (``deep_smfg.train``) and the scripts.
"""

from __future__ import annotations

import os
import sys
import threading
import typing
from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from . import schema
from .config import ConfigError
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


_COMPOSING = threading.Lock()  # Hydra's compose API keeps one global state: one composition at a time per process


def _compose(command: str, overrides: list[str]) -> DictConfig:
    with _COMPOSING, initialize_config_dir(config_dir=str(config_dir()), version_base=None, job_name=command):
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


USAGE = ("usage: deep-smfg {solve,train,evaluate} [Hydra's flags: --help, --cfg job, -m, --config-dir DIR, ...] "
         "[key=value ...]\n"
         "       (e.g. deep-smfg solve game=four_rooms; deep-smfg evaluate run_dir=RUN: docs/n_player.md;\n"
         "       deep-smfg train -m seed=0,1,2 game=shop_positioning runs one job per value: docs/sweeps.md;\n"
         "       deep-smfg train --help lists the config groups and the config)")
PLUGIN_HINT = ("the launchers and sweepers beyond Hydra's basic ones are optional plugins: "
               "pip install 'deep_smfg[cluster]' (docs/cluster.md)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from .train_job import is_ddp_child, run_ddp_child

    if is_ddp_child():  # a DDP rank Lightning started by re-running this process: it runs the job rank 0 handed over
        return run_ddp_child()
    names = ("solve", "train", "evaluate")
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        print("games: see configs/game/; commands: " + ", ".join(names))
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    if command not in names:
        print(f"error: unknown command {command!r}; valid commands: {', '.join(names)}", file=sys.stderr)
        return 2
    if os.getcwd() not in sys.path:  # a user's game module in the current folder imports, as under python -m
        sys.path.insert(0, os.getcwd())
    try:
        return run_command(command, with_game_kind(args))
    except (ConfigError, GameDefinitionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_command(command: str, args: list[str]) -> int:
    """``configs/<command>.yaml`` as a Hydra app with ``args`` (deep_smfg/hydra_app.py). Returns the exit code: the
    job's; 2 for a config Hydra cannot compose or a job the checks refuse (nothing written); 1 when a sweep's job
    failed."""
    from . import hydra_callbacks
    from .hydra_app import hydra_main

    saved = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = [saved[0][0] if saved[0] else "deep-smfg", *args]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra's errors reach this function (exit 2, one line), not a bare exit 1
    hydra_callbacks.LAST_SWEEP.clear()
    try:
        hydra_main(command, config_dir())()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except (HydraException, OmegaConfBaseException) as exc:
        GlobalHydra.instance().clear()
        message = _explain(exc, command, [a for a in args if "=" in a and not a.startswith("-")])
        hint = f"\n{PLUGIN_HINT}" if "hydra/launcher" in message or "hydra/sweeper" in message else ""
        raise ConfigError(message + hint) from exc
    finally:
        sys.argv = saved[0]
        _restore_env("HYDRA_FULL_ERROR", saved[1])
        GlobalHydra.instance().clear()  # the compose API (deep_smfg.train) may run next in this process
    return int(hydra_callbacks.LAST_SWEEP.get("code", 0))


def _restore_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


if __name__ == "__main__":
    sys.exit(main())
