"""The game registry: ``make_game(name, **params)`` builds any built-in game by name.

A game is one module of this package whose ``GAME`` is its factory (``games/<name>.py``, ``GAME = make_<name>``):
adding a game adds a file. ``GAMES`` holds the finite games, ``CONTINUOUS_GAMES`` the continuous ones. A module
may also name the model ``deep-smfg train`` picks for it (``MODEL = "<configs/model name>"``, :func:`default_model`).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from typing import Callable

from .base import FiniteGame, GameDefinitionError, sample_categorical
from .continuous import ContinuousGame
from .market import Market


def _discover() -> tuple[dict[str, Callable[..., FiniteGame]], dict[str, Callable[..., ContinuousGame]]]:
    """Every module of this package that defines ``GAME`` (its factory) is a game named after the module;
    the factory's return annotation says whether it is finite or continuous."""
    finite, continuous = {}, {}
    for info in pkgutil.iter_modules(__path__):
        factory = getattr(importlib.import_module(f"{__name__}.{info.name}"), "GAME", None)
        if factory is not None:
            kind = typing.get_type_hints(factory)["return"]
            (continuous if kind is ContinuousGame else finite)[info.name] = factory
    return finite, continuous


GAMES, CONTINUOUS_GAMES = _discover()


def default_model(name: str) -> str | None:
    """The model game ``name``'s module declares (``MODEL``), or None."""
    _factory(name)
    return getattr(importlib.import_module(f"{__name__}.{name}"), "MODEL", None)


def is_continuous(name: str) -> bool:
    _factory(name)
    return name in CONTINUOUS_GAMES


def game_parameters(name: str) -> dict[str, object]:
    """The parameters of game ``name`` with their defaults."""
    return {k: p.default for k, p in inspect.signature(_factory(name)).parameters.items()}


def _factory(name: str) -> Callable[..., FiniteGame | ContinuousGame]:
    every = {**GAMES, **CONTINUOUS_GAMES}
    if name not in every:
        raise GameDefinitionError(f"unknown game {name!r}; valid games: {', '.join(sorted(every))}")
    return every[name]


def make_game(name: str, **params) -> FiniteGame | ContinuousGame:
    """Build a registered game; unknown parameter names get an error listing the valid ones."""
    factory = _factory(name)
    valid = game_parameters(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise GameDefinitionError(
            f"unknown parameter(s) {', '.join(unknown)} for game {name!r}; valid parameters: {', '.join(valid)}"
        )
    params = {k: tuple(v) if isinstance(valid[k], tuple) and not isinstance(v, str) else v for k, v in params.items()}
    return factory(**params)


__all__ = ["CONTINUOUS_GAMES", "ContinuousGame", "FiniteGame", "GAMES", "is_continuous", "GameDefinitionError",
           "game_parameters", "make_game", "Market", "sample_categorical"]
