"""The game registry: ``make_game(name, **params)`` builds any built-in game by name.

``GAMES`` holds the finite games, ``CONTINUOUS_GAMES`` the continuous ones (each has a discretised twin).
"""

from __future__ import annotations

import inspect
from typing import Callable

from .base import FiniteGame, GameDefinitionError, sample_categorical
from .continuous import ContinuousGame
from .continuous_pricing import make_continuous_pricing
from .equilibrium_pricing import make_equilibrium_pricing
from .four_rooms import make_four_rooms
from .market import Market
from .market_entrance import make_market_entrance
from .shop_positioning import make_shop_positioning
from .verification import make_congestion_toll

GAMES: dict[str, Callable[..., FiniteGame]] = {
    "equilibrium_pricing": make_equilibrium_pricing,
    "shop_positioning": make_shop_positioning,
    "market_entrance": make_market_entrance,
    "four_rooms": make_four_rooms,
    "congestion_toll": make_congestion_toll,
}

CONTINUOUS_GAMES: dict[str, Callable[..., ContinuousGame]] = {
    "continuous_pricing": make_continuous_pricing,
}


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


__all__ = ["CONTINUOUS_GAMES", "ContinuousGame", "FiniteGame", "GAMES", "is_continuous", "GameDefinitionError", "game_parameters", "make_game", "Market", "sample_categorical"]
