"""``deep-smfg solve``: the exact lower level at the uniform leader and the reference ``Phi*``."""

from __future__ import annotations

import time

import torch
from omegaconf import DictConfig

from . import exact
from .config import ConfigError, dtype_of, game_kwargs
from .evaluation.plots import plot_curves, plot_mean_field
from .games import FiniteGame, make_game
from .run_folder import make_run_dir, write_summary


def run_solve(cfg: DictConfig) -> str:
    name, params = game_kwargs(cfg.game)
    game = make_game(name, **params)  # validates the game before anything is written
    if not isinstance(game, FiniteGame):
        raise ConfigError(f"solve handles finite games; {name} is continuous (deep-smfg train game={name} "
                          "solves its discretised twin as the reference)")
    dtype = dtype_of(cfg.dtype)
    if cfg.leader != "uniform":
        raise ConfigError(f"leader must be 'uniform' (the only preset for now), got {cfg.leader!r}")
    if cfg.solver.damping is not None and not 0 < cfg.solver.damping <= 1:
        raise ConfigError(f"solver.damping must lie in (0, 1], got {cfg.solver.damping}")
    torch.set_num_threads(int(cfg.threads))
    run_dir = make_run_dir(cfg, "solve", name)

    solver_kw = dict(damping=cfg.solver.damping, tol=cfg.solver.tol, max_iter=cfg.solver.max_iter)
    t0 = time.perf_counter()
    phi = game.uniform_leader(dtype)
    eq = exact.solve_equilibrium(game, phi, **solver_kw)
    grad = exact.stackelberg_gradient(game, phi, eq=eq)
    exploit = exact.follower_exploitability(game, eq.pi, phi)
    solve_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    opt = exact.reference_leader_optimum(
        game, n_starts=cfg.optimum.n_starts, n_steps=cfg.optimum.n_steps, lr=cfg.optimum.lr, seed=cfg.optimum.seed, dtype=dtype
    )
    opt_seconds = time.perf_counter() - t0
    eq_star = exact.solve_equilibrium(game, opt.phi, **solver_kw)

    plot_mean_field(game, eq.mu, run_dir / "mean_field.png", f"{name}: equilibrium mean field, uniform leader")
    if not game.is_nash:
        plot_mean_field(game, eq_star.mu, run_dir / "mean_field_optimum.png", f"{name}: equilibrium mean field at Phi*",
                        reference=eq.mu, label="at the Phi* leader", reference_label="at the uniform leader")
        plot_curves({f"start {i}": c for i, c in enumerate(opt.curves)}, run_dir / "leader_ascent.png",
                    "exact Stackelberg ascent step", "Phi", f"{name}: reference ascent to Phi*")
    summary = {
        "game": name,
        "leader": cfg.leader,
        "phi_uniform": grad.value,
        "phi_star": opt.value,
        "exploitability": exploit,
        "equilibrium_mean_field": eq.mu,
        "fixed_point_residual": eq.residual,
        "fixed_point_iterations": eq.iterations,
        "stackelberg_grad_norm": float(exact.logit_gradient(phi, grad.total).norm() ** 2),
        "gradient_alignment": exact.gradient_alignment(game, phi, grad),
        "optimum_mean_field": eq_star.mu,
        "seconds_solve": solve_seconds,
        "seconds_optimum": opt_seconds,
        "run_dir": str(run_dir),
    }
    if not game.is_nash:
        summary["optimum_leader"] = opt.phi
    if game.market is not None:
        summary["price_uniform"] = float(game.market.price(eq.mu))
        summary["price_optimum"] = float(game.market.price(eq_star.mu))
    if game.mean_field_summary is not None:
        summary.update(game.mean_field_summary(eq.mu))
    return write_summary(run_dir, summary)
