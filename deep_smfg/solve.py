"""``deep-smfg solve``: a chosen exact-model solver at the uniform leader, the exact lower level and ``Phi*``.

The solver (``configs/solver/<name>.yaml``, docs/solvers.md) runs through ``solvers.run_solver``; its
history goes to ``metrics.csv`` and ``convergence.png``. The summary's reference fields (``phi_uniform``,
``exploitability``, ``equilibrium_mean_field``, the gradients, ``phi_star``) come from ``exact``, as before.
"""

from __future__ import annotations

import sys
import time

import torch
from omegaconf import DictConfig, OmegaConf

from . import exact
from .config import ConfigError, dtype_of, game_of, locate
from .evaluation.plots import plot_curves, plot_mean_field, plot_solver_convergence
from .games import GAMES, FiniteGame
from .run_claim import claimed_run_dir, recording_outcome
from .run_folder import write_config, write_history, write_summary
from .signals import Signals
from .solvers import Solver, run_solver
from .solvers.base import default_tols

# run_solver's knobs, shared by every solver (configs/solve.yaml); the other keys of a solver node are its own
LOOP_KEYS = ("tol", "mean_field_tol", "max_iter", "record_every")


def make_solver(node: DictConfig) -> tuple[Solver, dict]:
    """The solver class named by ``node._target_``, built from the node's other keys, and the loop's knobs."""
    params = OmegaConf.to_container(node, resolve=True)
    target = params.pop("_target_")
    loop = {k: params.pop(k) for k in LOOP_KEYS}
    cls = locate(target, "solver._target_")
    if not (isinstance(cls, type) and issubclass(cls, Solver)):
        raise ConfigError(f"solver._target_ {target!r} is not a deep_smfg.solvers.Solver")
    try:
        solver = cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"solver {cls.name}: {exc}") from exc
    return solver, loop


def _checked(cfg: DictConfig) -> tuple[str, FiniteGame, torch.dtype, Solver, dict]:
    """The game, dtype, solver and loop knobs of ``cfg``, or a :class:`ConfigError` (nothing written yet)."""
    game = game_of(cfg)
    name = game.name
    if game.KIND != "finite":  # the exact solvers read dense tensors
        raise ConfigError(f"solve handles finite games ({', '.join(sorted(GAMES))}, or a FiniteGame of your own); "
                          f"{name} is continuous (deep-smfg train on it solves its discretised twin as the reference)")
    dtype = dtype_of(cfg.dtype)
    if cfg.leader != "uniform":
        raise ConfigError(f"leader must be 'uniform' (the only preset for now), got {cfg.leader!r}")
    solver, loop = make_solver(cfg.solver)
    try:
        solver.check(game)
    except ValueError as exc:
        raise ConfigError(f"solver {solver.name} on {name}: {exc}") from exc
    for key, default in zip(("tol", "mean_field_tol"), default_tols(dtype), strict=True):
        loop[key] = default if loop[key] is None else loop[key]
    return name, game, dtype, solver, loop


def check_config(cfg: DictConfig) -> None:
    """Everything :func:`run_solve` checks before it writes (a sweep checks every job first: deep_smfg/cli.py)."""
    _checked(cfg)


def run_solve(cfg: DictConfig) -> str:
    name, game, dtype, solver, loop = _checked(cfg)
    torch.set_num_threads(int(cfg.threads))
    with Signals("while solving") as signals, claimed_run_dir(cfg, "solve", name) as claim:
        signals.on_exit = lambda message: claim.lock.release()
        write_config(claim.path, cfg)
        with recording_outcome(claim, signals, {"game": name}):
            return _solve(cfg, name, game, dtype, solver, loop, claim.path)


def _solve(cfg: DictConfig, name: str, game: FiniteGame, dtype: torch.dtype, solver: Solver, loop: dict,
           run_dir) -> str:

    phi = game.uniform_leader(dtype)
    run = run_solver(solver, game, phi, loop["max_iter"], tol=loop["tol"], mean_field_tol=loop["mean_field_tol"],
                     record_every=loop["record_every"])
    t0 = time.perf_counter()
    eq = exact.solve_equilibrium(game, phi)  # the reference the solver is checked against
    grad = exact.stackelberg_gradient(game, phi, eq=eq)
    exploit = exact.follower_exploitability(game, eq.pi, phi)
    solve_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    opt = exact.reference_leader_optimum(game, n_starts=cfg.optimum.n_starts, n_steps=cfg.optimum.n_steps,
                                         lr=cfg.optimum.lr, seed=cfg.optimum.seed, dtype=dtype)
    opt_seconds = time.perf_counter() - t0
    eq_star = exact.solve_equilibrium(game, opt.phi)

    write_history(run.history, f"{name}: {solver.name}", run_dir)
    plot_solver_convergence(run.history, run_dir / "convergence.png", f"{name}: {solver.name}, uniform leader",
                     tol=loop["tol"], mean_field_tol=loop["mean_field_tol"])
    plot_mean_field(game, eq.mu, run_dir / "mean_field.png", f"{name}: equilibrium mean field, uniform leader")
    if not game.is_nash:
        plot_mean_field(game, eq_star.mu, run_dir / "mean_field_optimum.png", f"{name}: equilibrium mean field at Phi*",
                        reference=eq.mu, label="at the Phi* leader", reference_label="at the uniform leader")
        plot_curves({f"start {i}": c for i, c in enumerate(opt.curves)}, run_dir / "leader_ascent.png",
                    "exact Stackelberg ascent step", "Phi", f"{name}: reference ascent to Phi*")
    summary = {
        "game": name,
        "leader": cfg.leader,
        "solver": solver.name,
        "solver_iterations": run.iterations,
        "solver_converged": run.converged,
        "final_exploitability": run.final_exploitability,
        "final_mean_field_gap": run.history[-1]["mean_field_gap"],
        "seconds_solver": run.seconds,
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
    if torch.equal(run.state.phi, phi):  # a Stackelberg solver moves phi: its mean field answers another leader
        summary["solver_mean_field_error"] = exact.mean_field_error(run.state.mu, eq.mu)
    if not game.is_nash:
        summary["optimum_leader"] = opt.phi
    if game.market is not None:
        summary["price_uniform"] = float(game.market.price(eq.mu))
        summary["price_optimum"] = float(game.market.price(eq_star.mu))
    if game.mean_field_summary is not None:
        summary.update(game.mean_field_summary(eq.mu))
    summary["warnings"] = [] if run.converged else [
        f"{solver.name} did not converge in {run.iterations} iterations: exploitability {run.final_exploitability:.3g} "
        f"(tol {loop['tol']:.0e}), mean-field gap {run.history[-1]['mean_field_gap']:.3g} (tol "
        f"{loop['mean_field_tol']:.0e}); see convergence.png, and raise solver.max_iter or change the solver's "
        f"parameters (configs/solver/{solver.name}.yaml, docs/solvers.md)"]
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return write_summary(run_dir, summary)
