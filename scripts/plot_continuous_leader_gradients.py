"""Partial against total_sampled leaders on continuous Equilibrium Pricing: curves and the per-seed table.

    python scripts/plot_continuous_leader_gradients.py [--seeds 3] [--out docs/continuous_leader_gradients.png]

Reads the runs of scripts/run_results_continuous.py: `runs/results/continuous/ac_smfg_continuous/seed<k>`
(`--algo ac_smfg_continuous`, the partial leader) and `runs/results/continuous/seed<k>` (the main job, its
total_sampled leader).
Plots, per leader, the mean and range over seeds of the twin leader gap as a share of `Phi*_twin -
Phi_twin(uniform)`, the price error and the mean-field error along the runs; prints the per-seed table
(docs/stackelberg_gradient.md).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path("runs/results/continuous")
LEADERS = {"partial (algo=ac_smfg_continuous)": ROOT / "ac_smfg_continuous",
           "total_sampled (the main job, algo=ac_smfg_continuous_total)": ROOT}


def curves(run: Path, gain: float) -> dict[str, list[float]]:
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    return {"iteration": [int(float(r["iteration"])) for r in rows],
            "gap share": [float(r["leader_gap"]) / gain for r in rows],
            "price_error": [float(r["price_error"]) for r in rows],
            "mean_field_error": [float(r["mean_field_error"]) for r in rows]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("docs/continuous_leader_gradients.png"))
    args = p.parse_args()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    print("| leader | seed | twin leader gap / gain | price error | learned-BR exploitability | twin exploitability "
          "| mean-field error | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (name, root), color in zip(LEADERS.items(), ("tab:blue", "tab:red"), strict=True):
        runs = [root / f"seed{k}" for k in range(args.seeds)]
        per_seed = []
        for k, run in enumerate(runs):
            s = json.loads((run / "summary.json").read_text())
            gain = s["twin"]["phi_star"] - s["twin"]["phi_uniform"]
            f = s["final"]
            print(f"| {name.split()[0]} | {k} | {100 * f['leader_gap'] / gain:.2f}% | {f['price_error']:.4f} "
                  f"| {s['learned_best_response']['exploitability']:.4f} | {f['twin_exploitability']:.3f} "
                  f"| {f['mean_field_error']:.4f} | {s['seconds']:.0f} |")
            per_seed.append(curves(run, gain))
        for ax, key in zip(axes, ("gap share", "price_error", "mean_field_error"), strict=True):
            it = per_seed[0]["iteration"]
            values = list(zip(*[c[key] for c in per_seed], strict=True))
            ax.plot(it, [sum(v) / len(v) for v in values], color=color, label=name)
            ax.fill_between(it, [min(v) for v in values], [max(v) for v in values], color=color, alpha=0.2)
    titles = ("twin leader gap / (Phi* - Phi(uniform))", "price error |p(m_hat) - p(mu*_twin)|",
              "mean-field error (W2)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("symlog", linthresh=0.01)  # the gap ends below 0: above the twin's Phi*
    axes[0].axhline(0.03, color="k", ls="--", lw=0.8, label="3% threshold")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Continuous Equilibrium Pricing: partial vs total_sampled leader (mean, range; {args.seeds} seeds)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
