"""Exact evaluation of a learner on the linear-quadratic game (docs/linear_quadratic.md, "Exact metrics during
training"): the closed form's answers against the learned mean field, follower and leader (:mod:`.lq_metrics`),
every ``eval_every`` iterations, and the report (history, plots, summary)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from ..exact.linear_quadratic import lq_equilibrium, lq_equilibrium_system, lq_leader_objective, lq_leader_optimum
from ..games.linear_quadratic import LinearQuadraticGame
from ..run_folder import write_history
from .callbacks import final_metrics
from .continuous_plots import save
from .lq_metrics import lq_metrics
from .plots import plt


class LQEvaluator:
    prefix = "exact"
    progress = (("m_err", "mean_error"), ("S_err", "cov_error"), ("expl_rel", "relative_exploitability"),
                ("theta", "theta_1"))
    watch = {"mean_error": "lower", "cov_error": "lower", "relative_exploitability": "lower"}
    better = {**watch, "theta_error": "lower", "leader_objective": "higher", "leader_gap": "lower",
              "exploitability": "lower", "gain_error": "lower", "offset_error": "lower", "policy_cov_error": "lower"}

    @classmethod
    def for_run(cls, game: LinearQuadraticGame, cfg: DictConfig, **options) -> LQEvaluator:
        """``options``: ``n_states``, the states the learned follower is projected on (the game config's evaluator)."""
        return cls(game, int(cfg.seed), **options)

    def __init__(self, game: LinearQuadraticGame, seed: int, n_states: int = 4096):
        self.game, self.params, self.seed, self.n_states = game, game.params, seed, n_states
        self.system = lq_equilibrium_system(self.params)
        self.theta_star = lq_leader_optimum(self.params, self.system)
        self.theta_prev: torch.Tensor | None = None

    def evaluate(self, learner) -> dict[str, float]:
        agents = learner.agents()
        mf = agents.mean_field
        metrics, theta = lq_metrics(self.params, self.system, self.theta_star, mf().detach(), mf.covariance().detach(),
                                    agents.follower, agents.leader, self.n_states, self.seed, self.theta_prev)
        self.theta_prev = theta
        return metrics

    def reference(self) -> dict:
        """The closed form's answers the metrics compare with."""
        p, system = self.params, self.system
        eq0, eq_star = lq_equilibrium(p, None, system), lq_equilibrium(p, self.theta_star, system)
        br = eq0.best_response
        return {"preset": self.game.preset, "theta_star": self.theta_star, "m_star_at_theta_star": eq_star.m,
                "m_star_at_0": eq0.m, "Sigma_star": eq0.Sigma, "J_L_star": lq_leader_objective(p, self.theta_star,
                                                                                                  system),
                "J_L_at_0": lq_leader_objective(p, None, system), "K": br.K, "k_at_0": br.k, "policy_cov": br.cov}

    def report(self, learner, history: list[dict], run_dir: Path, seconds: float, world: int) -> dict:
        write_history(history, self.game.name, run_dir)
        final = final_metrics(self, learner, history)
        if history:
            plot_convergence(history, run_dir / "convergence.png")
        agents = learner.agents()
        mf = agents.mean_field
        return {
            "game": self.game.name,
            "preset": self.game.preset,
            "iterations": int(learner.iteration),
            "samples": learner.progress(world).samples,
            "seconds": seconds,
            "closed_form": self.reference(),
            "initial": history[0] if history else {},
            "final": final,
            "learned_mean_field": {"mean": mf().detach(), "covariance": mf.covariance().detach()},
        }

    def state_dict(self) -> dict:
        return {"theta_prev": self.theta_prev}

    def load_state_dict(self, state: dict) -> None:
        self.theta_prev = state["theta_prev"]


def plot_convergence(history: list[dict], path: Path) -> Path:
    """Mean and covariance errors, relative exploitability, and the leader's ``theta`` error (log scales)."""
    its = [h["iteration"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key in ("mean_error", "cov_error"):
        axes[0].semilogy(its, [h[key] for h in history], label=key)
    axes[0].set_title("learned mean field vs N(m*(theta), Sigma*)")
    axes[1].semilogy(its, [h["relative_exploitability"] for h in history])
    axes[1].set_title("exploitability / |J_f| (projected follower)")
    axes[2].plot(its, [h["theta_error"] for h in history])
    axes[2].set_title("|theta - theta*| / |theta*|")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].legend()
    return save(fig, path)
