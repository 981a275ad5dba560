"""The paper-style comparison: AC-SMFG (partial and sampled-total leaders) and the three SMFG baselines on every
finite SMFG configuration, several seeds each.

    python scripts/compare.py [--seeds 5] [--iterations 20000] [--jobs 2] [--out docs]

Each run is `deep-smfg train <config> algo=<method> seed=<k>` with one thread and a CSV logger, in
runs/compare/<method>/<config>/seed<k> (a run whose summary.json exists is not run again; `ac_smfg_total` reuses
runs/leader_gradients/total_sampled/, the same command, when scripts/run_leader_gradients.py made it).

Prints the table of docs/results.md: per method and configuration, the samples and seconds until the leader
first comes within 5% and 1% of the reference `Phi*` (gap share `(Phi* - Phi) / (Phi* - Phi(uniform))`; the
median over the seeds that get there, and how many do; "never" when none does). Writes `<out>/compare.png`:
the leader's gap share and the follower's exploitability against samples and against seconds, the mean over
seeds with a band of two standard errors.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from run_results import CONFIGS, train_once  # noqa: E402

METHODS = {
    "ac_smfg": [],  # the paper's partial leader gradient
    "ac_smfg_total": ["algo=ac_smfg_total"],  # the sampled total gradient (docs/stackelberg_gradient.md)
    "one_by_one": ["algo=one_by_one"],
    "cui_koeppl": ["algo=cui_koeppl"],
    "adage": ["algo=adage"],
}
ROOTS = {"ac_smfg_total": Path("runs/leader_gradients/total_sampled")}  # the same command, already run
GAME_CONFIGS = [c for c in CONFIGS if c != "pricing_incentive_long"]
LEVELS = (0.05, 0.01)


def run_dir(method: str, config: str, seed: int) -> Path:
    return ROOTS.get(method, Path("runs/compare") / method) / config / f"seed{seed}"


def history(method: str, config: str, seed: int, iterations: int) -> tuple[dict, list[dict]]:
    path = run_dir(method, config, seed)
    summary = train_once([*CONFIGS[config], *METHODS[method], f"seed={seed}", f"algo.iterations={iterations}",
                          "threads=1"], path)
    rows = [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(open(path / "metrics.csv"))]
    phi_star, phi_0 = summary["phi_star"], rows[0]["leader_objective"]
    for r in rows:
        r["gap_share"] = (phi_star - r["leader_objective"]) / (phi_star - phi_0)
    return summary, rows


def first_within(rows: list[dict], level: float) -> tuple[float, float] | None:
    hit = next((r for r in rows if r["gap_share"] <= level), None)
    return None if hit is None else (hit["samples"], hit["wall_time"])


def cell(hits: list, index: int, seeds: int) -> str:
    got = [h[index] for h in hits if h is not None]
    if not got:
        return "never"
    value = statistics.median(got)
    text = f"{value / 1e6:.2f}M" if index == 0 else f"{value:.0f} s"
    return text if len(got) == seeds else f"{text} ({len(got)}/{seeds})"


def band(ax, curves: list[tuple[np.ndarray, np.ndarray]], label: str, log_y: bool = False) -> None:
    """The mean over seeds on a common grid and a band of two standard errors (on a log axis: clipped at a tenth
    of the mean, so that a band reaching 0 does not drop off the axis)."""
    grid = np.linspace(0, min(x[-1] for x, _ in curves), 60)
    ys = np.array([np.interp(grid, x, y) for x, y in curves])
    mean, se = ys.mean(0), ys.std(0, ddof=1) / np.sqrt(len(ys)) if len(ys) > 1 else np.zeros(len(grid))
    low = np.maximum(mean - 2 * se, mean / 10) if log_y else mean - 2 * se
    line, = ax.plot(grid, mean, label=label)
    ax.fill_between(grid, low, mean + 2 * se, color=line.get_color(), alpha=0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    # seed-major: an interrupted comparison has its first seeds complete on every configuration
    jobs = [(m, c, s) for s in range(args.seeds) for c in GAME_CONFIGS for m in METHODS]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(lambda j: history(*j, args.iterations), jobs), strict=True))

    print("| configuration | method | samples to 5% | seconds to 5% | samples to 1% | seconds to 1% | final gap share "
          "(mean ± sd) | final exploitability (worst) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for config in GAME_CONFIGS:
        for method in METHODS:
            runs = [results[(method, config, s)] for s in range(args.seeds)]
            hits = {level: [first_within(rows, level) for _, rows in runs] for level in LEVELS}
            finals = [rows[-1]["gap_share"] for _, rows in runs]
            worst = max(rows[-1]["follower_exploitability"] for _, rows in runs)
            spread = f" ± {statistics.stdev(finals):.3f}" if len(finals) > 1 else ""
            print(f"| {config} | {method} | {cell(hits[0.05], 0, args.seeds)} | {cell(hits[0.05], 1, args.seeds)} | "
                  f"{cell(hits[0.01], 0, args.seeds)} | {cell(hits[0.01], 1, args.seeds)} | "
                  f"{statistics.mean(finals):.3f}{spread} | {worst:.3g} |")

    fig, axes = plt.subplots(len(GAME_CONFIGS), 3, figsize=(16, 3.2 * len(GAME_CONFIGS)))
    for row, config in zip(axes, GAME_CONFIGS, strict=True):
        for method in METHODS:
            runs = [results[(method, config, s)][1] for s in range(args.seeds)]
            for ax, (x_key, y_key) in zip(row, (("samples", "gap_share"), ("wall_time", "gap_share"),
                                                ("samples", "follower_exploitability")), strict=True):
                band(ax, [(np.array([r[x_key] for r in rows]), np.array([r[y_key] for r in rows])) for rows in runs],
                     method, log_y=y_key == "follower_exploitability")
        row[0].set_ylabel(f"{config}\nleader gap share")
        row[2].set_ylabel("follower exploitability")
        row[2].set_yscale("log")
        for ax in row[:2]:
            ax.axhline(0, color="k", lw=0.8)
            ax.axhline(0.05, color="k", ls=":", lw=0.8)
        for ax, label in zip(row, ("samples", "seconds", "samples"), strict=True):
            ax.set_xlabel(label)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"AC-SMFG and the SMFG baselines, {args.seeds} seeds (mean, band: 2 standard errors)")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(args.out / "compare.png", dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
