"""Plots a reader wants: the equilibrium mean field (a heat map on grids) and convergence curves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..games.base import FiniteGame  # noqa: E402


def plot_mean_field(game: FiniteGame, mu, path: Path, title: str | None = None, reference=None,
                    label: str = "equilibrium", reference_label: str = "reference") -> Path:
    """Bar chart of ``mu`` over ``Z``, or a heat map when ``Z = S`` lies on a 2-D grid."""
    mu = np.asarray(mu.detach().cpu() if isinstance(mu, torch.Tensor) else mu, dtype=float)
    coords = game.state_coords
    on_grid = coords is not None and game.n_z == game.n_states and len(set(coords[:, 1].tolist())) > 1
    fig, ax = plt.subplots(figsize=(6, 5) if on_grid else (max(5, 0.5 * len(mu) + 2), 3.5))
    if on_grid:
        xy = coords.long().numpy()
        grid = np.full((xy[:, 1].max() + 2, xy[:, 0].max() + 2), np.nan)
        grid[xy[:, 1], xy[:, 0]] = mu
        im = ax.imshow(grid, cmap="viridis", origin="upper")
        fig.colorbar(im, ax=ax, label="mass")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    else:
        labels = list(game.z_labels) if game.z_labels else [str(i) for i in range(len(mu))]
        pos = np.arange(len(mu))
        width = 0.4 if reference is not None else 0.8
        ax.bar(pos - (width / 2 if reference is not None else 0), mu, width, label=label)
        if reference is not None:
            ax.bar(pos + width / 2, np.asarray(reference, dtype=float), width, label=reference_label)
            ax.legend()
        ax.set_xticks(pos, labels, rotation=45 if len(mu) > 6 else 0)
        ax.set_ylabel("mass")
    ax.set_title(title or f"{game.name}: equilibrium mean field")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_curves(curves: Mapping[str, Sequence[float]], path: Path, xlabel: str, ylabel: str, title: str,
                x=None) -> Path:
    """Line plot of named curves (one axis)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in curves.items():
        xs = x if x is not None else np.arange(len(ys))
        ax.plot(xs, ys, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_solver_convergence(history: list[dict[str, float]], path: Path, title: str, tol: float | None = None,
                     mean_field_tol: float | None = None) -> Path:
    """The two figures the loop stops on, exploitability and ``||mu_k - Gamma(pi_k)||_1``, per recorded iteration,
    with their tolerances dashed; values <= 0 (round-off at the float64 floor) are left out of the log axis."""
    its = [h["iteration"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    marker = "." if len(its) < 50 else None
    for key, label, limit in (("exploitability", "exploitability", tol),
                              ("mean_field_gap", "||mu_k - Gamma(pi_k)||_1", mean_field_tol)):
        (line,) = ax.plot(its, [h[key] for h in history], label=label, marker=marker)
        if limit is not None:
            ax.axhline(limit, color=line.get_color(), linestyle="--", linewidth=1, alpha=0.6, label=f"tol {limit:.0e}")
    ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("iteration")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_curve_grid(history: Sequence[Mapping[str, float]], keys: Sequence[str], path: Path, title: str,
                    x_key: str = "iteration") -> Path:
    """The metrics ``keys`` of ``history`` against ``x_key`` in one figure, a small panel each (the curves so far,
    drawn at each evaluation for the tracker: about 0.03 s a panel, half the cost of a figure per metric)."""
    cols = max(1, math.ceil(math.sqrt(len(keys))))
    rows = max(1, math.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.9 * rows), squeeze=False)
    xs = [h[x_key] for h in history]
    for ax, key in zip(axes.flat, keys, strict=False):
        ax.plot(xs, [h.get(key, math.nan) for h in history])
        ax.set_title(key, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(f"{title} ({x_key} {xs[-1]:g})", fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.06, top=0.9, wspace=0.35, hspace=0.6)  # no tight_layout: 2x
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)
