"""Plots of a continuous run (1-D states): the market price against its target (games with a market), the
leader's schedule ``b(x)``, the follower policy, the learned mean-field density against the twin's, and the
convergence curves. Axis labels come from the game's declared names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .plots import plt


def save(fig, path: Path) -> Path:
    """Lay out, write (110 dpi) and close ``fig``."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_price(history: list[dict], p_target: float, price_star: float, path: Path) -> Path:
    its = [h["iteration"] for h in history]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(its, [h["price"] for h in history], label="learned p(m_hat)")
    ax.plot(its, [h["twin_price"] for h in history], "--", label="twin: exact equilibrium price for phi_k")
    ax.axhline(p_target, color="k", lw=1, label=f"target p_target = {p_target:g}")
    ax.axhline(price_star, color="tab:red", lw=1, ls=":", label=f"twin: price under Phi*'s leader ({price_star:.3f})")
    ax.set_xlabel("iteration")
    ax.set_ylabel("price")
    ax.set_title("the market price along training")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_leader_schedule(xs: np.ndarray, b_median: np.ndarray, b_mean: np.ndarray, grid_x: np.ndarray,
                         b_star: np.ndarray, b_start: np.ndarray, path: Path, x_label: str, b_label: str) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(xs, b_median, label="learned: median b(x)")
    ax.plot(grid_x, b_mean, "o", ms=4, label="learned: E[b | x] (grid)")
    ax.plot(grid_x, b_star, "s--", ms=4, label="twin: E[b | x] under the reference optimum")
    ax.plot(xs, b_start, ":", color="gray", label="at the start")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel(x_label)
    ax.set_ylabel(b_label)
    ax.set_title("the leader's schedule b(x)")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_follower_policy(xs: np.ndarray, median: np.ndarray, names: tuple[str, ...], grid_x: np.ndarray,
                         twin_mean: np.ndarray, path: Path, x_label: str) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, name in enumerate(names):
        line, = ax.plot(xs, median[:, i], label=f"learned: median {name}(x)")
        ax.plot(grid_x, twin_mean[:, i], "o--", ms=4, color=line.get_color(), alpha=0.7,
                label=f"twin: E[{name} | x] at the equilibrium for phi_k")
    ax.set_xlabel(x_label)
    ax.set_ylabel("action")
    ax.set_title("the follower policy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_density(components, z_grid: np.ndarray, twin_mu: np.ndarray, twin_mu_star: np.ndarray,
                 path: Path, z_label: str) -> Path:
    """The learned density (a Gaussian or a mixture: ``components`` ``(w, m, Sigma)``, first coordinate) against
    the twin's laws of ``z`` (mass / cell width: a density)."""
    width = float(z_grid[1] - z_grid[0])
    cells = np.full(len(z_grid), width)
    cells[[0, -1]] = width / 2  # the end points own half cells
    w, m, cov = (as_numpy(t.detach().double()) for t in components)
    mean, sd = m[:, 0], np.sqrt(cov[:, 0, 0])
    zs = np.linspace(z_grid[0] - 0.5, z_grid[-1] + 0.5, 400)
    dens = (w * np.exp(-0.5 * ((zs[:, None] - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))).sum(-1)
    label = f"learned N({mean[0]:.3f}, {sd[0]:.3f}^2)" if len(w) == 1 else f"learned mixture ({len(w)} components)"
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.bar(z_grid, twin_mu / cells, width * 0.8, alpha=0.5, label="twin: mu*(phi_k) (exact)")
    ax.step(z_grid, twin_mu_star / cells, where="mid", color="tab:red", label="twin: mu* under Phi*'s leader")
    ax.plot(zs, dens, color="k", label=label)
    ax.set_xlabel(z_label)
    ax.set_ylabel("density")
    ax.set_title("mean field: learned density vs the discretised reference")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_convergence(history: list[dict], phi_star: float, phi_uniform: float, path: Path) -> Path:
    its = [h["iteration"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    ax.plot(its, [h["leader_objective"] for h in history], label="Monte Carlo J_l(phi_k; pi_k, m_hat)")
    if "twin_leader_objective" in history[0]:
        ax.plot(its, [h["twin_leader_objective"] for h in history], label="twin: Phi(phi_k) (exact)")
    ax.axhline(phi_star, color="tab:red", ls=":", label="twin: Phi*")
    ax.axhline(phi_uniform, color="gray", ls=":", label="twin: Phi(uniform leader)")
    ax.set_title("leader objective")
    ax.legend(fontsize=8)
    for ax, keys, title in ((axes[1], ("mean_field_error", "price_error"), "lower level vs the twin"),
                            (axes[2], ("twin_exploitability", "leader_schedule_error"), "policies vs the twin")):
        for key in keys:
            if key in history[0]:
                ax.plot(its, [h[key] for h in history], label=key)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    return save(fig, path)


def as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().double().cpu().numpy()
