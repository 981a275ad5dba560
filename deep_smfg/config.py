"""What the command-line jobs share: the error types, dtype names, the game and the learner of a config."""

from __future__ import annotations

import inspect

import torch
from omegaconf import DictConfig, OmegaConf

from .dotted import import_dotted

DTYPES = {"float64": torch.float64, "float32": torch.float32}


class ConfigError(ValueError):
    """A bad command line or config value (the CLI exits with 2, nothing written)."""


class RunEnded(Exception):
    """A run that ended without completing (interrupted, diverged): its summary.json says ``status``; the CLI
    prints the message as its ``error:`` line and exits with ``code``."""

    def __init__(self, message: str, status: str, code: int):
        super().__init__(message)
        self.status, self.code = status, code


def dtype_of(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def game_of(cfg: DictConfig):
    """The game ``cfg.game`` describes (``_target_`` and its parameters), built and checked
    (:func:`deep_smfg.games.build_game`; a bad one raises :class:`~deep_smfg.games.GameDefinitionError`)."""
    from .games import build_game

    return build_game(OmegaConf.to_container(cfg.game, resolve=True))


# Keys of an ``algo`` node that the train job reads (the rest are the learner class's arguments).
RUN_KEYS = ("_target_", "iterations", "checkpoint_every", "eval_every", "best_response_iterations", "stop")


def build_learner(cfg: DictConfig, game):
    """The learner ``cfg.algo._target_`` names, built from ``cfg.algo`` (less :data:`RUN_KEYS`), ``cfg.model`` and
    ``cfg.seed``; unknown keys and bad values become a :class:`ConfigError`."""
    from .learners import ModelSpec, SampledLearner

    cls = locate(cfg.algo._target_, "algo._target_")
    if not (isinstance(cls, type) and issubclass(cls, SampledLearner)):
        raise ConfigError(f"algo._target_={cfg.algo._target_!r} is not a SampledLearner")
    model = {k: tuple(v) if isinstance(v, list) else v
             for k, v in OmegaConf.to_container(cfg.model, resolve=True).items()}
    algo = {k: v for k, v in OmegaConf.to_container(cfg.algo, resolve=True).items() if k not in RUN_KEYS}
    valid = set(inspect.signature(ModelSpec).parameters)
    if set(model) - valid:
        raise ConfigError(f"unknown model key(s) {sorted(set(model) - valid)}; valid: {', '.join(sorted(valid))}")
    valid = _arguments(cls)
    if set(algo) - valid:
        raise ConfigError(f"unknown algo key(s) {sorted(set(algo) - valid)} for {cls.__name__}; valid: "
                          f"{', '.join(sorted(valid | set(RUN_KEYS[1:])))}")
    try:
        return cls(game, ModelSpec(**model), seed=int(cfg.seed), **algo)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def locate(path: str, key: str):
    """The object at the dotted ``path`` (``package.module.Name``), or a :class:`ConfigError` naming ``key``."""
    try:
        return import_dotted(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{key}={path!r} names nothing importable: {exc}") from exc


def _arguments(cls) -> set[str]:
    """Keyword arguments of ``cls`` and the classes it forwards ``**kwargs`` to."""
    names: set[str] = set()
    for klass in cls.__mro__:
        params = inspect.signature(klass.__init__).parameters if "__init__" in vars(klass) else {}
        names |= {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if params and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return names - {"self", "game", "model", "seed"}
