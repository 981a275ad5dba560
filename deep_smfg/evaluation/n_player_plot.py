"""The n-player evaluation's figure: each quantity against ``n`` (log scale) with the mean-field values dotted, and
the exact MDP's distance to the mean-field values on log-log axes with ``1/n`` and ``1/n^2`` guides."""

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
    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    for ax, (key, label, reference) in zip(axes, panels, strict=False):
        mean = [getattr(r, key) for r in rows]
        se = [getattr(r, f"{key}_se") for r in rows]
        ax.errorbar(n, mean, yerr=[2 * s for s in se], fmt="o-", capsize=3, label="simulated (2 s.e.)")
        exact = [getattr(r, f"exact_{key}") for r in rows]
        if any(v == v for v in exact):  # NaN for continuous games: no exact MDP
            ax.plot(n, exact, "x--", label="the player's exact MDP")
        ax.axhline(reference, color="k", ls=":", label="mean field (n = infinity)")
        ax.set_xscale("log")
        ax.set_xlabel("n players")
        ax.set_title(label)
    axes[0].legend(fontsize=8)
    ax = axes[3]
    for key, label, reference in panels:
        values = [getattr(r, f"exact_{key}") for r in rows]  # NaN (continuous games): the simulated values
        values = [v if v == v else getattr(r, key) for v, r in zip(values, rows, strict=True)]
        gaps = [(r.n, abs(v - reference)) for r, v in zip(rows, values, strict=True)]
        gaps = [(x, y) for x, y in gaps if y > 0]
        if gaps:
            ax.plot(*zip(*gaps, strict=True), "o-", label=label)
    if len(n) > 1:
        for power, style in ((1, ":"), (2, "--")):
            ax.plot(n, [1 / m**power for m in n], "k" + style, lw=0.8, label=f"1/n^{power}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n players")
    ax.set_title("|n-player value - mean-field value|")
    ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
