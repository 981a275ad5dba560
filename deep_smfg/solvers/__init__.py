"""Exact-model iterative solvers behind one protocol and one loop (docs/solvers.md); one file per solver,
named by ``configs/solver/<name>.yaml``'s ``_target_``."""

from .base import Solver, SolverResult, SolverState, run_solver

__all__ = ["Solver", "SolverResult", "SolverState", "run_solver"]
