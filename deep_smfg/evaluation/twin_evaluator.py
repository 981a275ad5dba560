"""Estimated evaluation of a learner on a continuous game (docs/ac_smfg.md, "estimated metrics"), and the report.

Along the run: the leader objective by Monte Carlo, the follower's exploitability by the twin's soft best response
played in the game (:mod:`.twin_best_response`, on the measure's first grid), and the learned policies projected on
the discretised twin against its exact answer (:func:`~.continuous_metrics.twin_metrics`). The report adds that
exploitability on every grid of the measure (the summary's ``exploitability``, the one to trust: docs/ac_smfg.md,
"How far from equilibrium: the three measures"), a learned best response (:mod:`.exploitability_estimate`), the
plots and the summary; its ``warnings`` say when the exploitability ends above the measure's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from .. import exact
from ..config import ConfigError
from ..run_folder import write_history
from . import continuous_plots as cp
from .callbacks import final_metrics
from .continuous_metrics import TwinReference, induced_mean, project_policies, rollout_returns, twin_metrics
from .exploitability_estimate import report_estimate
from .twin_best_response import TwinBestResponseGain, twin_best_response_gain


@dataclass(frozen=True)
class ExploitabilityMeasure:
    """The trusted exploitability (:mod:`.twin_best_response`): its grids ``(n_states, n_actions)`` coarse to fine, the
    leader levels, the Monte Carlo chains of the report and of each evaluation along the run (the first grid only),
    the refinement tolerance, and the threshold above which a run's final value is a warning."""

    grids: tuple[tuple[int, int], ...] = ((25, 17), (25, 33), (25, 65))
    n_leader: int = 17
    n_quadrature: int = 64
    report_chains: int = 32768
    evaluation_chains: int = 4096
    tolerance: float = 0.002
    threshold: float = 0.02

    def __post_init__(self) -> None:
        where = "game.evaluator.exploitability"

        def integer(v, low: int) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= low

        grids = self.grids
        if not (isinstance(grids, (list, tuple)) and grids and all(
                isinstance(g, (list, tuple)) and len(g) == 2 and all(integer(v, 2) for v in g) for g in grids)):
            raise ConfigError(f"{where}.grids={grids!r}: must be a non-empty list of [n_states, n_actions] pairs of "
                              f"integers >= 2")
        object.__setattr__(self, "grids", tuple(tuple(g) for g in grids))
        for key in ("n_leader", "n_quadrature", "report_chains", "evaluation_chains"):
            if not integer(getattr(self, key), 2):
                raise ConfigError(f"{where}.{key}={getattr(self, key)!r}: must be an integer >= 2")
        for key in ("tolerance", "threshold"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"{where}.{key}={value!r}: must be a number >= 0")


class TwinEvaluator:
    prefix = "estimated"
    progress = (("price", "price"), ("expl", "exploitability"), ("mf_err", "mean_field_error"),
                ("Phi_twin", "twin_leader_objective"))
    watch = {"exploitability": "lower", "mean_field_error": "lower", "twin_leader_objective": "higher"}
    better = {**watch, "leader_gap": "lower", "price_error": "lower", "density_w2": "lower",
              "leader_schedule_error": "lower", "twin_exploitability": "lower", "leader_objective": "higher"}

    @classmethod
    def for_run(cls, game, cfg: DictConfig, n_states: int = 13, n_actions: int = 9, n_leader: int = 9,
                n_quadrature: int = 64, exploitability: dict | None = None) -> TwinEvaluator:
        """Against the discretised twin on the grids the game's config declares (``game.evaluator.n_states``: states,
        ``n_actions``: levels per follower action dimension, ``n_leader``: leader levels, ``n_quadrature``: noise
        nodes) and its exact answer (``reference.*``; cached); the follower's exploitability by
        ``game.evaluator.exploitability`` (:class:`ExploitabilityMeasure`)."""
        from .references import twin_reference

        grid = dict(n_states=n_states, n_actions=n_actions, n_leader=n_leader, n_quadrature=n_quadrature)
        try:  # plain lists and numbers from the config node
            measure = ExploitabilityMeasure(**OmegaConf.to_container(OmegaConf.create(exploitability or {})))
        except TypeError as exc:
            raise ConfigError(f"game.evaluator.exploitability: {exc}") from exc
        return cls(twin_reference(game, cfg, grid), int(cfg.seed), int(cfg.algo.get("best_response_iterations", 0)),
                   measure)

    def __init__(self, reference: TwinReference | None, seed: int, best_response_iterations: int = 0,
                 measure: ExploitabilityMeasure | None = None):
        self.reference, self.seed, self.best_response_iterations = reference, seed, best_response_iterations
        self.measure = measure or ExploitabilityMeasure()
        self.mu_warm: torch.Tensor | None = None
        self.twins: dict = {}  # the measure's discretised twins, by grid (made once)

    def induced_mean(self, learner) -> torch.Tensor:
        agents = learner.agents()
        return induced_mean(learner.game, agents.follower, agents.leader, agents.mean_field().detach(), seed=self.seed)

    def exploitability(self, learner, grids, n_chains: int, m_bar: torch.Tensor | None = None) -> TwinBestResponseGain:
        """The trusted measure of the follower's exploitability on ``grids`` (:mod:`.twin_best_response`), at the
        induced mean ``m_bar`` (computed when not given)."""
        agents, m = learner.agents(), self.measure
        m_bar = self.induced_mean(learner) if m_bar is None else m_bar
        return twin_best_response_gain(learner.game, agents.follower, agents.leader, m_bar, list(grids), m.n_leader,
                                       m.n_quadrature, n_chains, self.seed + 7, m.tolerance, self.twins)

    def evaluate(self, learner) -> dict[str, float]:
        agents = learner.agents()
        mean = agents.mean_field().detach()
        metrics = {"leader_objective": rollout_returns(learner.game, agents.follower, agents.leader, mean,
                                                       seed=self.seed)["J_l"]}
        along = self.exploitability(learner, self.measure.grids[:1], self.measure.evaluation_chains)
        metrics.update(exploitability=along.exploitability, exploitability_se=along.standard_error)
        if self.reference is not None:
            twin, self.mu_warm = twin_metrics(self.reference, agents.follower, agents.leader, agents.mean_field,
                                              self.mu_warm)
            metrics.update(twin)
        return metrics

    def report(self, learner, history: list[dict], run_dir: Path, seconds: float, world: int) -> dict:
        game, ref = learner.game, self.reference
        write_history(history, game.name, run_dir)
        final = final_metrics(self, learner, history)
        m_bar = self.induced_mean(learner)  # the same for both estimates (the learned best response's seed is ours)
        expl = report_estimate(learner, self.best_response_iterations, m_bar)
        trusted = self.exploitability(learner, self.measure.grids, self.measure.report_chains, m_bar)
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
            "exploitability": {**trusted.as_dict(), "measure": "twin_best_response",
                               "threshold": self.measure.threshold},
            "learned_best_response": expl,
            "learned_mean_field": {"mean": mf().detach(), "covariance": mf.covariance().detach(),
                                   **dict(zip(("weights", "means", "covariances"), mf.components(), strict=True))},
            "warnings": self._warnings(trusted),
        }

    def _warnings(self, trusted: TwinBestResponseGain) -> list[str]:
        """The trusted exploitability above its threshold, or still moving with the grids."""
        out, m = [], self.measure
        if trusted.exploitability > m.threshold:
            out.append(f"the follower's exploitability (the twin's best response in the game) ended at "
                       f"{trusted.exploitability:.4g} ± {trusted.error_bar:.2g}, above "
                       f"game.evaluator.exploitability.threshold={m.threshold:g}")
        if not trusted.converged:
            out.append(f"the exploitability still moves with the grids: {trusted.grid_change:+.4g} from grid "
                       f"{list(m.grids[-2])} to {list(m.grids[-1])} (its error bar includes the change)")
        return out

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
