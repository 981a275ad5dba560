"""Leader-gradient estimators, chosen by ``algo.leader_gradient``: module ``<name>.py`` of this package
defines the estimator and names it ``ESTIMATOR`` (a class, or a function that picks one by the game's kind; see
:mod:`.base`). Adding an estimator is adding a file; the modules in ``_NOT_ESTIMATORS`` are the interface and
parts of an estimator (``total_sampled_continuous``: ``total_sampled`` on continuous games)."""

from __future__ import annotations

import importlib
import pkgutil

from ..supports import Setting, Supports, check, working_options
from .base import LeaderGradient

_NOT_ESTIMATORS = {"base", "traces", "total_sampled_continuous"}  # the interface, and parts of total_sampled


def available() -> list[str]:
    """The names ``algo.leader_gradient`` accepts."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_ESTIMATORS)


def _construct(name: str, game, options: dict) -> LeaderGradient:
    return importlib.import_module(f"{__name__}.{name}").ESTIMATOR(game, **options)


def supports(name: str) -> Supports:
    """What estimator ``name`` declares it runs on (its module's ``SUPPORTS``)."""
    return importlib.import_module(f"{__name__}.{name}").SUPPORTS


def make_leader_gradient(name: str, game, reward_centering: bool = False, **options) -> LeaderGradient:
    """The estimator ``name`` for ``game`` (``options``: ``model``, ``occupancy_restart``, see :mod:`.base`), after the
    check of what it declares it supports (:mod:`..supports`); a ``ValueError`` names the options that work for this
    game and config."""
    if name not in available():
        raise ValueError(f"unknown algo.leader_gradient {name!r}; valid: {', '.join(available())}")
    model = options.get("model")
    setting = Setting.of(game, model.policy if model is not None else "tabular", reward_centering,
                         options.get("occupancy_restart", True))
    candidates = {n: supports(n) for n in available()}

    def builds(other: str) -> bool:
        try:
            _construct(other, game, options)
            return True
        except ValueError:
            return False

    check(f"algo.leader_gradient={name}", supports(name), setting, candidates, game.name, builds)
    try:
        return _construct(name, game, options)
    except ValueError as exc:  # what the declaration cannot say (e.g. the policy family a continuous half needs)
        raise ValueError(f"algo.leader_gradient={name} does not work for {game.name}: {exc}; options that work "
                         f"there: {', '.join(working_options(setting, candidates, builds))}") from exc


__all__ = ["LeaderGradient", "available", "make_leader_gradient"]
