"""Seed 002's experiment on Four Rooms: MF-TRPO, fictitious play and online mirror descent from the uniform start.

    python scripts/run_four_rooms_solvers.py [--iterations 300] [--out docs]

Each solver is built from its config (configs/solver/<name>.yaml, the defaults of `deep-smfg solve`) and run
through `solvers.run_solver` (float64, one thread). Writes

* `<out>/four_rooms_solvers.png`: exploitability, quality and mean-field delta against iterations (log scale);
* `<out>/four_rooms_heat_maps.png`: each solver's mean field at several iterations, and the equilibrium's;

and prints the table of docs/results.md ("Nash solvers on Four Rooms").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from deep_smfg import exact  # noqa: E402
from deep_smfg.cli import compose_config  # noqa: E402
from deep_smfg.games import make_game  # noqa: E402
from deep_smfg.solve import make_solver  # noqa: E402
from deep_smfg.solvers import run_solver  # noqa: E402

SOLVERS = ("mf_trpo", "fictitious_play", "mirror_descent")
PANELS = (("exploitability", "exploitability"), ("quality", "quality (against its own mu_k)"),
          ("mean_field_delta", "||mu_k - mu_{k-1}||_1"))
SNAPSHOTS = (1, 5, 20, 100)


def grid(game, mu) -> np.ndarray:
    xy = game.state_coords.long().numpy()
    out = np.full((xy[:, 1].max() + 2, xy[:, 0].max() + 2), np.nan)
    out[xy[:, 1], xy[:, 0]] = mu.numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    game = make_game("four_rooms")
    phi = game.uniform_leader(torch.float64)
    eq = exact.solve_equilibrium(game, phi)
    solvers = {name: make_solver(compose_config("solve", [f"solver={name}"]).solver)[0] for name in SOLVERS}
    runs = {name: run_solver(s, game, phi, args.iterations) for name, s in solvers.items()}

    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4))
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        for name, run in runs.items():
            its = [h["iteration"] for h in run.history]
            ax.plot(its, [max(h[key], 1e-16) for h in run.history], label=name)
        ax.set_yscale("log")
        ax.set_xlabel("outer iteration")
        ax.set_title(label)
    axes[0].legend()
    fig.suptitle("four_rooms, uniform start: exact solvers (configs/solver/ defaults)")
    fig.tight_layout()
    fig.savefig(args.out / "four_rooms_solvers.png", dpi=100)
    plt.close(fig)

    vmax = float(eq.mu.max()) * 1.5
    fig, axes = plt.subplots(len(SOLVERS), len(SNAPSHOTS) + 1, figsize=(3 * (len(SNAPSHOTS) + 1), 3 * len(SOLVERS)))
    for row, (name, solver) in zip(axes, solvers.items(), strict=True):
        for ax, k in zip(row, SNAPSHOTS, strict=False):
            mu = run_solver(solver, game, phi, k).state.mu  # the runs are deterministic: the k-th iterate
            ax.imshow(grid(game, mu), cmap="viridis", vmin=0, vmax=vmax)
            ax.set_title(f"{name}, k = {k}", fontsize=9)
        row[-1].imshow(grid(game, eq.mu), cmap="viridis", vmin=0, vmax=vmax)
        row[-1].set_title("equilibrium", fontsize=9)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(args.out / "four_rooms_heat_maps.png", dpi=90)
    plt.close(fig)

    print("| solver | exploitability at k = 1 / 10 / 50 / 300 | steps to 1e-3 | to 1e-8 | seconds to 1e-8 | "
          "final ‖mu - mu*‖_1 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, run in runs.items():
        h = run.history
        at = " / ".join(f"{h[k - 1]['exploitability']:.1e}" for k in (1, 10, 50, len(h)))
        first = {tol: next((r for r in h if r["exploitability"] < tol), None) for tol in (1e-3, 1e-8)}
        steps = [str(first[t]["iteration"]) if first[t] else "never" for t in (1e-3, 1e-8)]
        secs = f"{first[1e-8]['wall_time']:.3f}" if first[1e-8] else "-"
        print(f"| `{name}` | {at} | {steps[0]} | {steps[1]} | {secs} | "
              f"{exact.mean_field_error(run.state.mu, eq.mu):.1e} |")


if __name__ == "__main__":
    main()
