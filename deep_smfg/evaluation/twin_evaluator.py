"""Estimated evaluation of a learner on a continuous game (docs/ac_smfg.md, "estimated metrics"), and the report.

Along the run: the leader objective by Monte Carlo, and the learned policies projected on the discretised
twin against its exact answer (:func:`~.continuous_metrics.twin_metrics`). The report adds a learned best
response (an exploitability estimate with its learning curve, :mod:`.exploitability_estimate`), the plots and the
summary.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from .. import exact
from ..run_folder import write_history
from . import continuous_plots as cp
from .callbacks import final_metrics
from .continuous_metrics import TwinReference, project_policies, rollout_returns, twin_metrics
from .exploitability_estimate import report_estimate


class TwinEvaluator:
    prefix = "estimated"
    progress = (("price", "price"), ("mf_err", "mean_field_error"), ("Phi_twin", "twin_leader_objective"))
    watch = {"twin_exploitability": "lower", "mean_field_error": "lower", "twin_leader_objective": "higher"}

    @classmethod
    def for_run(cls, game, cfg: DictConfig, n_states: int = 13, n_actions: int = 9, n_leader: int = 9,
                n_quadrature: int = 64) -> TwinEvaluator:
        """Against the discretised twin on the grids the game's config declares (``game.evaluator.n_states``: states,
        ``n_actions``: levels per follower action dimension, ``n_leader``: leader levels, ``n_quadrature``: noise
        nodes) and its exact answer (``reference.*``; cached)."""
        from .references import twin_reference

        grid = dict(n_states=n_states, n_actions=n_actions, n_leader=n_leader, n_quadrature=n_quadrature)
        return cls(twin_reference(game, cfg, grid), int(cfg.seed), int(cfg.algo.get("best_response_iterations", 0)))

    def __init__(self, reference: TwinReference | None, seed: int, best_response_iterations: int = 0):
        self.reference, self.seed, self.best_response_iterations = reference, seed, best_response_iterations
        self.mu_warm: torch.Tensor | None = None

    def evaluate(self, learner) -> dict[str, float]:
        agents = learner.agents()
        mean = agents.mean_field().detach()
        metrics = {"leader_objective": rollout_returns(learner.game, agents.follower, agents.leader, mean,
                                                       seed=self.seed)["J_l"]}
        if self.reference is not None:
            twin, self.mu_warm = twin_metrics(self.reference, agents.follower, agents.leader, agents.mean_field,
                                              self.mu_warm)
            metrics.update(twin)
        return metrics

    def report(self, learner, history: list[dict], run_dir: Path, seconds: float, world: int) -> dict:
        game, ref = learner.game, self.reference
        write_history(history, game.name, run_dir)
        final = final_metrics(self, learner, history)
        expl = report_estimate(learner, self.best_response_iterations)
        plots = run_dir / "plots"
        plots.mkdir(exist_ok=True)
        self._plot_policies_and_density(learner, ref, run_dir)
        if history:
            if game.market is not None and game.market.target is not None:
                cp.plot_price(history, game.market.target, ref.price_star, plots / "price.png")
            cp.plot_convergence(history, ref.phi_star, ref.phi_uniform, run_dir / "convergence.png")
        mf = learner.agents().mean_field
        return {
            "game": game.name,
            "iterations": int(learner.iteration),
            "samples": learner.progress(world).samples,
            "seconds": seconds,
            "twin": {"phi_star": ref.phi_star, "phi_uniform": ref.phi_uniform, "price_star": ref.price_star,
                     "grid": ref.twin.game.info["n_states"]},
            "initial": history[0] if history else {},
            "final": final,
            "learned_best_response": expl,
            "learned_mean_field": {"mean": mf().detach(), "covariance": mf.covariance().detach(),
                                   **dict(zip(("weights", "means", "covariances"), mf.components(), strict=True))},
        }

    @staticmethod
    @torch.no_grad()
    def _plot_policies_and_density(learner, ref: TwinReference, run_dir: Path) -> None:
        """The leader's schedule, the follower's policy and the mean-field density, against the twin's."""
        game, twin, plots = learner.game, ref.twin, run_dir / "plots"
        xs = torch.linspace(game.state_space.low[0], game.state_space.high[0], 121, dtype=torch.float64)[:, None]
        agents = learner.agents()
        p = next(agents.leader.parameters())
        _, phi = project_policies(twin, agents.follower, agents.leader)
        eq = exact.solve_equilibrium(twin.game, phi)
        eq_star = exact.solve_equilibrium(twin.game, ref.phi_star_table)
        low, high = game.leader_action_space.tensors(xs)
        b_start = ((low + high) / 2).expand_as(xs)  # the initial leader's median: its last layer starts at zero
        x_label = game.state_names[0] if game.state_names else "state x"
        cp.plot_leader_schedule(cp.as_numpy(xs[:, 0]), cp.as_numpy(agents.leader.median_action(xs.to(p))[:, 0]),
                                cp.as_numpy(ref.leader_schedule(phi)), cp.as_numpy(twin.states[:, 0]),
                                cp.as_numpy(ref.leader_schedule(ref.phi_star_table)), cp.as_numpy(b_start[:, 0]),
                                plots / "leader_schedule.png", x_label,
                                game.leader_action_names[0] if game.leader_action_names else "leader action b")
        cp.plot_follower_policy(cp.as_numpy(xs[:, 0]), cp.as_numpy(agents.follower.median_action(xs.to(p))),
                                game.action_names, cp.as_numpy(twin.states[:, 0]), cp.as_numpy(eq.pi @ twin.actions),
                                plots / "follower_policy.png", x_label)
        mf = agents.mean_field
        cp.plot_density(mf.components(), cp.as_numpy(twin.z_values[:, 0]),
                        cp.as_numpy(eq.mu), cp.as_numpy(eq_star.mu), run_dir / "mean_field.png",
                        game.z_names[0] if game.z_names else "z")

    def state_dict(self) -> dict:
        return {"mu_warm": self.mu_warm}

    def load_state_dict(self, state: dict) -> None:
        self.mu_warm = state["mu_warm"]
