"""The n-player evaluation's figure: each quantity against ``n`` (log scale), the mean-field values dashed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_n_player(rows, limit, path: Path, title: str) -> Path:
    n = [r.n for r in rows]
    panels = (("follower_return", "a follower's return J_f", limit.follower_return),
              ("leader_objective", "leader objective J_l", limit.leader_objective),
              ("deviation_gain", "deviation gain (epsilon-Nash gap)", limit.exploitability))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (key, label, reference) in zip(axes, panels, strict=True):
        mean = [getattr(r, key) for r in rows]
        se = [getattr(r, f"{key}_se") for r in rows]
        ax.errorbar(n, mean, yerr=[2 * s for s in se], fmt="o-", capsize=3, label="simulated (2 s.e.)")
        ax.plot(n, [getattr(r, f"exact_{key}") for r in rows], "x--", label="the player's exact MDP")
        ax.axhline(reference, color="k", ls=":", label="mean field (n = infinity)")
        ax.set_xscale("log")
        ax.set_xlabel("n players")
        ax.set_title(label)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
