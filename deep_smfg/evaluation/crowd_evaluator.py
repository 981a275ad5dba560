"""Evaluation of a learner on the crowd game (docs/crowd.md, "Metrics"): the learned mean-field density against the
discretised twin's equilibrium law at the learner's leader.

The lower level depends on the leader only through ``theta``, its mean incentive (the crowd's reward is linear
in ``b``). At each evaluation, per coordinate, the twin of :func:`~deep_smfg.games.crowd.axis_game` gets the leader
``phi = `` the interpolation of ``theta`` onto its leader grid (mean-preserving), and its exact equilibrium law
``mu*(theta)`` (the damped fixed point, damping 0.05, warm-started from the last evaluation's law); the 2-D law
is the product of the coordinates'. The metrics:

* ``density_w2``: ``W2`` (1-D) or sliced ``W2`` (2-D) between the learned density and ``mu*(theta)``
  (:mod:`.density_distance`); in 2-D also ``w2_x1``, ``w2_x2``, the marginals';
* ``fit_w2``: the same distance between the learned density and the law the *learned* policies induce (the
  stationary chain's states, 2,048 chains, 20 periods after 100), which separates the mean-field module's fit
  of its population from the follower's distance to the equilibrium;
* ``theta``; ``leader_objective``, ``J_l`` by Monte Carlo at the learned mean field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from .. import exact
from ..games.continuous import ContinuousGame, discretise, interpolation_weights
from ..games.crowd import axis_game
from ..run_folder import write_history
from .callbacks import final_metrics
from .continuous_metrics import rollout_returns, stationary_contributions
from .continuous_plots import save
from .density_distance import Law, sliced_w2, w2_1d, w2_to_samples
from .plots import plt

DAMPING = 0.05  # the damped fixed point converges on the crowd's twin at 0.05, not at 0.2 (docs/crowd.md)


class CrowdEvaluator:
    prefix = "estimated"
    progress = (("W2", "density_w2"), ("fit", "fit_w2"), ("theta", "theta"))
    watch = {"density_w2": "lower", "fit_w2": "lower"}
    better = {**watch, "leader_objective": "higher"}

    @classmethod
    def for_run(cls, game: ContinuousGame, cfg: DictConfig, **grids) -> CrowdEvaluator:
        """``grids``: ``n_states``, ``n_actions`` of the per-coordinate twins (the game config's evaluator node)."""
        return cls(game, int(cfg.seed), **grids)

    def __init__(self, game: ContinuousGame, seed: int, n_states: int = 101, n_actions: int = 41):
        self.game, self.seed, self.dim = game, seed, game.state_space.dim
        self.twins = [discretise(axis_game(game, i), n_states, n_actions, 3) for i in range(self.dim)]
        self.mu_warm: list[torch.Tensor | None] = [None] * self.dim

    def reference_law(self, theta: float) -> Law:
        """Per coordinate, ``(nodes, mu*(theta))`` of its twin (module docstring)."""
        law = []
        for i, twin in enumerate(self.twins):
            S = twin.states.shape[0]
            phi = interpolation_weights(torch.tensor([theta], dtype=torch.float64), twin.leader_actions[:, 0])
            eq = exact.solve_equilibrium(twin.game, phi.expand(S, -1), damping=DAMPING, tol=1e-8, mu0=self.mu_warm[i])
            self.mu_warm[i] = eq.mu
            law.append((twin.z_values[:, 0], eq.mu))
        return law

    @staticmethod
    @torch.no_grad()
    def theta(learner) -> float:
        leader = learner.agents().leader
        p = next(leader.parameters())
        return float(leader.median_action(torch.zeros(1, learner.game.state_space.dim).to(p))[0, 0])

    def distances(self, mean_field, law: Law) -> dict[str, float]:
        components = mean_field.components()
        if self.dim == 1:
            return {"density_w2": w2_1d(components, *law[0])}
        out = {"density_w2": sliced_w2(components, law, seed=self.seed)}
        out.update({f"w2_x{i + 1}": w2_1d(components, *law[i], coordinate=i) for i in range(self.dim)})
        return out

    def evaluate(self, learner) -> dict[str, float]:
        theta = self.theta(learner)
        agents = learner.agents()
        mf = agents.mean_field
        returns = rollout_returns(self.game, agents.follower, agents.leader, mf().detach(), seed=self.seed,
                                  log_density=mf.log_density)
        induced = torch.cat(stationary_contributions(self.game, agents.follower, agents.leader, mf().detach(),
                                                     steps=20, seed=self.seed))
        return {**self.distances(mf, self.reference_law(theta)), "fit_w2": w2_to_samples(mf.components(), induced),
                "theta": theta,
                "leader_objective": returns["J_l"], "follower_objective": returns["J_f"]}

    def report(self, learner, history: list[dict], run_dir: Path, seconds: float, world: int) -> dict:
        write_history(history, self.game.name, run_dir)
        final = final_metrics(self, learner, history)
        law = self.reference_law(final["theta"])
        plot_densities(learner.agents().mean_field, law, self.game, run_dir / "mean_field.png", final["density_w2"])
        if history:
            plot_w2(history, run_dir / "convergence.png")
        w, m, cov = (t.detach() for t in learner.agents().mean_field.components())
        return {
            "game": self.game.name,
            "dim": self.dim,
            "iterations": int(learner.iteration),
            "samples": learner.progress(world).samples,
            "seconds": seconds,
            "twin": {"n_states": self.twins[0].game.info["n_states"], "n_actions": self.twins[0].game.info["n_actions"],
                     "damping": DAMPING},
            "initial": history[0] if history else {},
            "final": final,
            "learned_mean_field": {"weights": w, "means": m, "covariances": cov},
        }

    def state_dict(self) -> dict:
        return {"mu_warm": self.mu_warm}

    def load_state_dict(self, state: dict) -> None:
        self.mu_warm = state["mu_warm"]


@torch.no_grad()
def plot_densities(mean_field, law: Law, game: ContinuousGame, path: Path, w2: float) -> Path:
    """Per coordinate, the learned density's marginal against the twin's equilibrium law (mass / cell width)."""
    w, m, cov = (t.detach().double().cpu() for t in mean_field.components())
    fig, axes = plt.subplots(1, len(law), figsize=(6.5 * len(law), 4), squeeze=False)
    for i, (ax, (nodes, mass)) in enumerate(zip(axes[0], law, strict=True)):
        x = nodes.double()
        width = float(x[1] - x[0])
        cells = torch.full_like(x, width)
        cells[[0, -1]] = width / 2
        ax.bar(x.numpy(), (mass / cells).numpy(), width * 0.9, alpha=0.5, label="twin: mu*(theta) (exact)")
        xs = torch.linspace(float(x[0]), float(x[-1]), 400, dtype=torch.float64)
        sd = cov[:, i, i].sqrt()
        dens = (w * torch.exp(-0.5 * ((xs[:, None] - m[:, i]) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))).sum(-1)
        ax.plot(xs.numpy(), dens.numpy(), color="k", label=f"learned ({len(w)} component{'s' * (len(w) > 1)})")
        ax.set_xlabel(game.z_names[i] if game.z_names else f"z{i + 1}")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"mean field: learned density vs the twin's equilibrium law (W2 {w2:.4f})")
    return save(fig, path)


def plot_w2(history: list[dict], path: Path) -> Path:
    its = [h["iteration"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].semilogy(its, [h["density_w2"] for h in history])
    axes[0].set_title("W2(learned density, twin's mu*(theta))")
    axes[1].plot(its, [h["theta"] for h in history])
    axes[1].set_title("theta (the leader's mean incentive)")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    return save(fig, path)
