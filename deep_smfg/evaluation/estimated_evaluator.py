"""The generic evaluator of a continuous game (a game whose config declares no ``evaluator``): estimated metrics
that need nothing but the game's functions (docs/custom_games.md, "What train measures").

Along the run, at the learner's policies ``(pi, phi)`` and learned mean ``m_hat``:

* ``leader_objective``: ``J_L`` by Monte Carlo (2,048 chains; :func:`~.continuous_metrics.rollout_returns`);
* ``follower_return``: ``J_F``, the follower's entropy-regularised return, on the same chains;
* ``mean_field_error``: ``||m_hat - m(pi, phi)||_2``, the learned mean against the mean ``E[z]`` that the policies
  induce on the stationary chain (:func:`~.continuous_metrics.induced_mean`): zero at a mean field equilibrium.

The report adds the learned best response at the induced mean (``algo.best_response_iterations``; an estimate of the
follower's exploitability with its learning curve, :mod:`.exploitability_estimate`), the convergence plot and the
summary. The run is flagged (``warnings``) when a watched metric ends worse than it started.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from ..games.continuous import ContinuousGame
from ..run_folder import write_history
from .callbacks import final_metrics
from .continuous_metrics import induced_mean, rollout_returns
from .exploitability_estimate import report_estimate
from .plots import plot_curves


class EstimatedEvaluator:
    prefix = "estimated"
    progress = (("mf_err", "mean_field_error"), ("J_L", "leader_objective"))
    watch = {"mean_field_error": "lower", "leader_objective": "higher"}
    better = {**watch, "follower_return": "higher"}

    def __init__(self, game: ContinuousGame, seed: int, best_response_iterations: int = 0):
        self.game, self.seed, self.best_response_iterations = game, seed, best_response_iterations

    @classmethod
    def for_run(cls, game: ContinuousGame, cfg: DictConfig) -> EstimatedEvaluator:
        return cls(game, int(cfg.seed), int(cfg.algo.get("best_response_iterations", 0)))

    def evaluate(self, learner) -> dict[str, float]:
        agents = learner.agents()
        m_hat = agents.mean_field().detach()
        returns = rollout_returns(self.game, agents.follower, agents.leader, m_hat, seed=self.seed)
        m = induced_mean(self.game, agents.follower, agents.leader, m_hat, seed=self.seed)
        return {"leader_objective": returns["J_l"], "follower_return": returns["J_f"],
                "mean_field_error": float((m_hat - m).norm())}

    def report(self, learner, history: list[dict], run_dir: Path, seconds: float, world: int) -> dict:
        write_history(history, self.game.name, run_dir)
        final = final_metrics(self, learner, history)
        expl = report_estimate(learner, self.best_response_iterations)
        if history:
            steps = [h["iteration"] for h in history]
            plot_curves({k: [h[k] for h in history] for k in ("mean_field_error", "leader_objective")},
                        run_dir / "convergence.png", "iteration", "value", f"{self.game.name}: estimated metrics",
                        x=steps)
        mf = learner.agents().mean_field
        return {"game": self.game.name, "iterations": int(learner.iteration),
                "samples": learner.progress(world).samples, "seconds": seconds,
                "initial": history[0] if history else {}, "final": final, "learned_best_response": expl,
                "learned_mean_field": {"mean": mf().detach(), "covariance": mf.covariance().detach()}}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
