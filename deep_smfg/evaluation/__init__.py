"""Metrics, reports and plots, run during training by :class:`.callbacks.EvaluationCallback`.

A game's config declares its evaluator (``game.evaluator._target_``, e.g. the twin's for continuous pricing, the
closed form's for the linear-quadratic game); a game that declares none gets the generic evaluator of its kind,
which its class names (``FiniteGame.GENERIC_EVALUATOR``: exact metrics, :mod:`.exact_evaluator`;
``ContinuousGame.GENERIC_EVALUATOR``: estimated metrics, :mod:`.estimated_evaluator`). Every evaluator is built by
its ``for_run(game, cfg, **options)`` (options: the node's other keys).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError, locate
from .callbacks import EvaluationCallback, Evaluator


def evaluator_options(game, cfg: DictConfig) -> tuple[type[Evaluator], dict]:
    """The evaluator class ``cfg.game.evaluator`` names (or the generic one of ``game``'s kind) and its options."""
    node = OmegaConf.select(cfg, "game.evaluator")
    options = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    target = options.pop("_target_", None) or game.GENERIC_EVALUATOR
    return locate(target, "game.evaluator._target_"), options


def make_evaluator(game, cfg: DictConfig) -> Evaluator:
    """The evaluator ``cfg.game.evaluator`` names, or the generic one of ``game``'s kind, with its reference answer
    (cached in ``runs/.cache``)."""
    cls, options = evaluator_options(game, cfg)
    try:
        return cls.for_run(game, cfg, **options)
    except TypeError as exc:
        raise ConfigError(f"game.evaluator={cls.__module__}.{cls.__qualname__} with options {options}: {exc}") from exc


__all__ = ["EvaluationCallback", "Evaluator", "evaluator_options", "make_evaluator"]
