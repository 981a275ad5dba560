"""What a game with a market declares: its price as a function of the mean field, and a target price.

A game that has a market sets ``market=Market(...)``; reports and metrics read ``game.market`` (``None``
for a game without one) instead of probing for attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor


@dataclass(frozen=True)
class Market:
    """``price(mean_field) -> scalar tensor`` (a finite game's ``mu``, or a continuous game's mean ``m``)
    and the price the leader aims for (``None``: no target)."""

    price: Callable[[Tensor], Tensor]
    target: float | None = None
