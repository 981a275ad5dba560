"""Metrics, reports and plots: exact for finite games (:mod:`.exact_evaluator`), estimated for continuous ones
(:mod:`.twin_evaluator`), run during training by :class:`.callbacks.EvaluationCallback`."""

from __future__ import annotations

from omegaconf import DictConfig

from ..games.continuous import ContinuousGame
from .callbacks import EvaluationCallback, Evaluator


def make_evaluator(game, cfg: DictConfig) -> Evaluator:
    """The evaluator for ``game``'s kind, with its reference answer (cached in ``runs/.cache``)."""
    # imported here, not above: the evaluators import run_folder, which imports this package's plots
    from .exact_evaluator import ExactEvaluator
    from .references import reference_phi_star, twin_reference
    from .twin_evaluator import TwinEvaluator

    if isinstance(game, ContinuousGame):
        return TwinEvaluator(twin_reference(game, cfg), int(cfg.seed), int(cfg.algo.get("best_response_iterations", 0)))
    return ExactEvaluator(game, reference_phi_star(game, cfg) if cfg.algo.eval_every else float("nan"))


__all__ = ["EvaluationCallback", "Evaluator", "make_evaluator"]
