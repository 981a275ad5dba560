"""Metrics, reports and plots: exact for finite games (:mod:`.exact_evaluator`) and for the linear-quadratic game
(:mod:`.lq_evaluator`, from its closed form), against the twin's equilibrium law for the crowd
(:mod:`.crowd_evaluator`), estimated for the other continuous ones (:mod:`.twin_evaluator`), run during training by
:class:`.callbacks.EvaluationCallback`."""

from __future__ import annotations

from omegaconf import DictConfig

from ..games.continuous import ContinuousGame
from ..games.crowd import CrowdGame
from ..games.linear_quadratic import LinearQuadraticGame
from .callbacks import EvaluationCallback, Evaluator


def make_evaluator(game, cfg: DictConfig) -> Evaluator:
    """The evaluator for ``game``'s kind, with its reference answer (cached in ``runs/.cache``)."""
    # imported here, not above: the evaluators import run_folder, which imports this package's plots
    from .crowd_evaluator import CrowdEvaluator
    from .exact_evaluator import ExactEvaluator
    from .lq_evaluator import LQEvaluator
    from .references import reference_phi_star, twin_reference
    from .twin_evaluator import TwinEvaluator

    if isinstance(game, LinearQuadraticGame):  # a closed form: exact metrics, no twin
        return LQEvaluator(game, int(cfg.seed))
    if isinstance(game, CrowdGame):  # reads the density: W2 to the twin's equilibrium law
        return CrowdEvaluator(game, int(cfg.seed))
    if isinstance(game, ContinuousGame):
        return TwinEvaluator(twin_reference(game, cfg), int(cfg.seed), int(cfg.algo.get("best_response_iterations", 0)))
    return ExactEvaluator(game, reference_phi_star(game, cfg) if cfg.algo.eval_every else float("nan"))


__all__ = ["EvaluationCallback", "Evaluator", "make_evaluator"]
