"""The end of a continuous training run: final estimated metrics, a learned best response, plots, summary."""

from __future__ import annotations

from pathlib import Path

import torch

from . import exact
from .algorithms.ac_smfg import ACSMFG
from .algorithms.best_response import train_best_response
from .evaluation import continuous_plots as cp
from .evaluation.continuous_metrics import TwinReference, induced_mean, project_policies, rollout_returns
from .run_folder import write_history, write_summary


def learned_exploitability(module: ACSMFG, iterations: int, n_chains: int = 4096) -> dict[str, float]:
    """``J_f(BR; phi_k, mu_bar) - J_f(pi_k; phi_k, mu_bar)`` with ``mu_bar``'s mean the one ``pi_k`` induces
    and BR trained ``iterations`` iterations (a lower bound on the exploitability, up to Monte Carlo error)."""
    game = module.game
    m_bar = induced_mean(game, module.follower, module.leader, module.mean_field().detach(), seed=module.seed)
    br = train_best_response(module, m_bar, iterations)
    mine = rollout_returns(game, module.follower, module.leader, m_bar, n_chains, seed=module.seed + 7)
    best = rollout_returns(game, br.follower, module.leader, m_bar, n_chains, seed=module.seed + 7)
    return {"exploitability": best["J_f"] - mine["J_f"], "J_f": mine["J_f"], "J_f_best_response": best["J_f"],
            "standard_error": (mine["J_f_se"] ** 2 + best["J_f_se"] ** 2) ** 0.5, "induced_mean": float(m_bar[0]),
            "iterations": iterations}


def write_continuous_results(module: ACSMFG, ref: TwinReference, run_dir: Path, seconds: float, world: int,
                             br_iterations: int) -> str:
    game, history = module.game, module.history
    write_history(history, game.name, run_dir)
    at_end = history and history[-1]["iteration"] == int(module.iteration)
    final = history[-1] if at_end else module.evaluation_metrics()  # the last evaluation, unless it is stale
    expl = learned_exploitability(module, br_iterations) if br_iterations else {}
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    twin = ref.twin
    xs = torch.linspace(game.state_space.low[0], game.state_space.high[0], 121, dtype=torch.float64)[:, None]
    p = next(module.parameters())
    with torch.no_grad():
        pi, phi = project_policies(twin, module.follower, module.leader)
        eq = exact.solve_equilibrium(twin.game, phi)
        eq_star = exact.solve_equilibrium(twin.game, ref.phi_star_table)
        low, high = game.leader_action_space.tensors(xs)
        b_start = ((low + high) / 2).expand_as(xs)  # the initial leader's median: its last layer starts at zero
        cp.plot_leader_schedule(cp.as_numpy(xs[:, 0]), cp.as_numpy(module.leader.median_action(xs.to(p))[:, 0]),
                                cp.as_numpy(ref.leader_schedule(phi)), cp.as_numpy(twin.states[:, 0]),
                                cp.as_numpy(ref.leader_schedule(ref.phi_star_table)), cp.as_numpy(b_start[:, 0]),
                                plots / "leader_schedule.png")
        cp.plot_follower_policy(cp.as_numpy(xs[:, 0]), cp.as_numpy(module.follower.median_action(xs.to(p))),
                                game.action_names, cp.as_numpy(twin.states[:, 0]), cp.as_numpy(eq.pi @ twin.actions),
                                plots / "follower_policy.png")
        mf = module.mean_field
        cp.plot_density(float(mf()[0]), float(mf.covariance()[0, 0].sqrt()), cp.as_numpy(twin.z_values[:, 0]),
                        cp.as_numpy(eq.mu), cp.as_numpy(eq_star.mu), run_dir / "mean_field.png")
    if history:
        cp.plot_price(history, game.info["p_target"], ref.price_star, plots / "price.png")
        cp.plot_convergence(history, ref.phi_star, ref.phi_uniform, run_dir / "convergence.png")
    summary = {
        "game": game.name,
        "iterations": int(module.iteration),
        "samples": int(module.iteration) * module.n_envs * world,
        "seconds": seconds,
        "twin": {"phi_star": ref.phi_star, "phi_uniform": ref.phi_uniform, "price_star": ref.price_star,
                 "grid": twin.game.info["n_states"]},
        "initial": history[0] if history else {},
        "final": final,
        "learned_best_response": expl,
        "learned_mean_field": {"mean": mf().detach(), "covariance": mf.covariance().detach()},
        "run_dir": str(run_dir),
    }
    return write_summary(run_dir, summary)
