"""Exact evaluation of a learner on a finite game: the metrics of docs/model.md along the run, and the report.

The report writes ``metrics.csv``, one PNG per metric, ``mean_field.png`` (the learned mean field against
``mu*`` of the learned leader) and the summary: the first and last evaluations, the partial-gradient-norm
reduction, the learned and the equilibrium mean fields.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from .. import exact
from ..games.base import FiniteGame
from ..modules.policies import policy_table
from ..run_folder import write_history
from .finite_metrics import exact_metrics
from .plots import plot_mean_field


class ExactEvaluator:
    prefix = "exact"
    progress = (("expl", "follower_exploitability"), ("mf_err", "mean_field_error"), ("Phi", "leader_objective"))
    watch = {"follower_exploitability": "lower", "mean_field_error": "lower", "leader_objective": "higher"}
    better = {**watch, "leader_gap": "lower", "stackelberg_grad_norm": "lower", "partial_grad_norm": "lower"}

    @classmethod
    def for_run(cls, game: FiniteGame, cfg: DictConfig) -> ExactEvaluator:
        """With the reference ``Phi*`` (exact multi-start ascent, ``reference.*``; cached) when metrics are on."""
        from .references import reference_phi_star

        return cls(game, reference_phi_star(game, cfg) if cfg.algo.eval_every else float("nan"))

    def __init__(self, game: FiniteGame, phi_star: float):
        self.game, self.phi_star = game, phi_star
        self.mu_warm: torch.Tensor | None = None  # mu*(phi) of the last evaluation: the next solve's warm start

    def evaluate(self, learner) -> dict[str, float]:
        agents = learner.agents()
        metrics, self.mu_warm = exact_metrics(self.game, agents.follower, agents.leader, agents.mean_field(),
                                              self.phi_star, self.mu_warm)
        return metrics

    def report(self, learner, history: list[dict], run_dir: Path, seconds: float, world: int) -> dict:
        game = self.game
        write_history(history, game.name, run_dir)
        mu_hat = learner.agents().mean_field().detach().double().cpu()
        with torch.no_grad():
            phi = policy_table(learner.agents().leader).double().cpu()
        eq = exact.solve_equilibrium(game, phi)
        plot_mean_field(game, mu_hat, run_dir / "mean_field.png", f"{game.name}: learned mean field vs mu*(phi)",
                        reference=eq.mu, label="learned mu_hat", reference_label="exact mu*(phi) of the learned leader")
        first, last = (history[0], history[-1]) if history else ({}, {})
        return {
            "game": game.name,
            "iterations": int(learner.iteration),
            "samples": learner.progress(world).samples,
            "seconds": seconds,
            "phi_star": self.phi_star,
            "final": last,
            "initial": first,
            "partial_grad_norm_reduction": (first.get("partial_grad_norm", float("nan")) / last["partial_grad_norm"])
            if last.get("partial_grad_norm") else float("inf"),
            "learned_mean_field": mu_hat,
            "equilibrium_mean_field": eq.mu,
        }

    def state_dict(self) -> dict:
        return {"mu_warm": self.mu_warm}

    def load_state_dict(self, state: dict) -> None:
        self.mu_warm = state["mu_warm"]
