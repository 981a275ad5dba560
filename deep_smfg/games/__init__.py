"""Games: a game is a factory, a function (or class) whose keyword arguments are its parameters and which returns a
:class:`FiniteGame` or a :class:`ContinuousGame`. A config names it by ``_target_`` (configs/game/<name>.yaml, or a
user's own: docs/custom_games.md); :func:`build_game` builds and checks it.

The package's own games are the modules of this package that define ``GAME`` (their factory): :data:`GAMES` holds
the finite ones, :data:`CONTINUOUS_GAMES` the continuous ones, and :func:`make_game` builds one by name (a
convenience for tests and scripts; the commands read ``_target_``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Mapping
from typing import Callable

from ..dotted import import_dotted
from .base import FiniteGame, GameDefinitionError, sample_categorical
from .continuous import ContinuousGame
from .market import Market

# keys of a game node that are not the factory's arguments: the factory itself, and what train measures it with
RESERVED = ("_target_", "evaluator")


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


def factory(target: str) -> Callable[..., FiniteGame | ContinuousGame]:
    """The callable at the dotted path ``target`` (``my_pkg.games.make_my_game``), or a :class:`GameDefinitionError`."""
    try:
        found = import_dotted(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise GameDefinitionError(f"game._target_={target!r} cannot be imported ({type(exc).__name__}: {exc}); it "
                                  f"must name a function returning a FiniteGame or a ContinuousGame, importable "
                                  f"from where the command runs (docs/custom_games.md)") from exc
    if not callable(found):
        raise GameDefinitionError(f"game._target_={target!r} is a {type(found).__name__}, not a function returning "
                                  f"a game")
    return found


def game_parameters(target: str) -> dict[str, object]:
    """The keyword arguments of the factory ``target`` with their defaults (``inspect.Parameter.empty``: required)."""
    return {k: p.default for k, p in inspect.signature(factory(target)).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def build_game(node: Mapping) -> FiniteGame | ContinuousGame:
    """The game a config's ``game`` node describes: ``_target_`` called with the node's other keys (less
    :data:`RESERVED`), checked. Unknown parameters, a factory that fails or returns something else than a game, and
    a game whose functions return wrong shapes or non-finite values raise :class:`GameDefinitionError`."""
    params = {k: v for k, v in dict(node).items() if k not in RESERVED}
    if not node.get("_target_") or node["_target_"] == "???":
        raise GameDefinitionError("game._target_ is required: the factory of the game (game=<a config in "
                                  "configs/game/>, or game=finite|continuous game._target_=my_pkg.make_my_game)")
    target = str(node["_target_"])
    make = factory(target)
    valid = game_parameters(target)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(make).parameters.values())
    unknown = sorted(set(params) - set(valid))
    if unknown and not takes_any:
        raise GameDefinitionError(f"unknown parameter(s) {', '.join(unknown)} for game {target}; valid parameters: "
                                  f"{', '.join(valid) or 'none'}")
    missing = [k for k, d in valid.items() if d is inspect.Parameter.empty and k not in params]
    if missing:
        raise GameDefinitionError(f"game {target} needs parameter(s) {', '.join(missing)} (+game.<name>=...)")
    params = {k: tuple(v) if isinstance(valid.get(k), tuple) and isinstance(v, list) else v for k, v in params.items()}
    try:
        game = make(**params)
    except GameDefinitionError:
        raise
    except Exception as exc:  # a user's factory: say whose call failed
        raise GameDefinitionError(f"game._target_={target}({', '.join(f'{k}={v!r}' for k, v in params.items())}) "
                                  f"failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(game, (FiniteGame, ContinuousGame)):
        raise GameDefinitionError(f"game._target_={target} returned a {type(game).__name__}, not a "
                                  f"deep_smfg.games.FiniteGame or ContinuousGame")
    try:
        game.check()
    except GameDefinitionError:
        raise
    except Exception as exc:  # a user's function that fails when called: an error line, not a traceback
        raise GameDefinitionError(f"game {game.name} ({target}): one of its functions failed when called: "
                                  f"{type(exc).__name__}: {exc}") from exc
    return game


def make_game(name: str, **params) -> FiniteGame | ContinuousGame:
    """Build one of the package's games by its module's name (unknown parameters get the list of valid ones)."""
    every = {**GAMES, **CONTINUOUS_GAMES}
    if name not in every:
        raise GameDefinitionError(f"unknown game {name!r}; valid games: {', '.join(sorted(every))}")
    return build_game({"_target_": f"{every[name].__module__}.{every[name].__name__}", **params})


__all__ = ["CONTINUOUS_GAMES", "ContinuousGame", "FiniteGame", "GAMES", "GameDefinitionError", "Market",
           "build_game", "factory", "game_parameters", "make_game", "sample_categorical"]
