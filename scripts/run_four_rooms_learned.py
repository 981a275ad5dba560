"""Four Rooms learned from samples: AC-SMFG and sample-based MF-TRPO on seeds 0, 1, 2.

    python scripts/run_four_rooms_learned.py [--seeds 3] [--out docs]

Each run is a README command, with a CSV logger and one thread:
- `deep-smfg train game=four_rooms` (algo=ac_smfg with its Four Rooms settings, configs/algo/for_game/);
- `deep-smfg train game=four_rooms algo=mf_trpo`.

Runs go in runs/four_rooms_learned/<method>/seed<k>; a run whose summary.json exists is not run again.
Prints the table of docs/results.md ("Four Rooms, learned") against the stated thresholds and writes
`<out>/four_rooms_learned.png`: exploitability and mean-field error against samples and wall time, one colour
per method, one line per seed.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from run_results import train_once  # noqa: E402

EXPLOITABILITY, MEAN_FIELD_ERROR, SECONDS = 0.1, 0.1, 300  # stated in issue 10
KEYS = (("follower_exploitability", "exploitability"), ("mean_field_error", "||mu_hat - mu*||_1"))
METHODS = {"ac_smfg": [], "mf_trpo": ["algo=mf_trpo"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    root = Path("runs/four_rooms_learned")
    runs = {}
    for method, overrides in METHODS.items():
        for seed in range(args.seeds):
            run_dir = root / method / f"seed{seed}"
            summary = train_once(["game=four_rooms", *overrides, f"seed={seed}", "threads=1"], run_dir)
            runs[method, seed] = (summary, list(csv.DictReader(open(run_dir / "metrics.csv"))))

    print("| method | seed | exploitability: start -> end | mean-field error: start -> end | seconds | samples | "
          "within |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (method, seed), (summary, _) in runs.items():
        first, last = summary["initial"], summary["final"]
        ok = (last["follower_exploitability"] <= EXPLOITABILITY and last["mean_field_error"] <= MEAN_FIELD_ERROR
              and summary["seconds"] <= SECONDS)
        expl = f"{first['follower_exploitability']:.3g} -> {last['follower_exploitability']:.3g}"
        print(f"| {method} | {seed} | {expl} | "
              f"{first['mean_field_error']:.3g} -> {last['mean_field_error']:.3g} | {summary['seconds']:.0f} | "
              f"{summary['samples']:,} | {'yes' if ok else 'NO'} |")

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    colours = dict(zip(METHODS, ("tab:blue", "tab:orange"), strict=True))
    for row, (key, label) in zip(axes, KEYS, strict=True):
        for x_key, ax in zip(("samples", "wall_time"), row, strict=True):
            for (method, seed), (_, history) in runs.items():
                ax.plot([float(h[x_key]) for h in history], [float(h[key]) for h in history], color=colours[method],
                        alpha=0.8, label=method if seed == 0 else None)
            ax.axhline(EXPLOITABILITY if key == "follower_exploitability" else MEAN_FIELD_ERROR, color="k", ls=":",
                       label="threshold")
            ax.set_yscale("log")
            ax.set_xscale("log" if x_key == "samples" else "linear")
            ax.set_xlabel("samples" if x_key == "samples" else "seconds")
            ax.set_title(label)
    axes[0][0].legend()
    fig.suptitle("four_rooms learned from samples: AC-SMFG and sample-based MF-TRPO, seeds 0-2")
    fig.tight_layout()
    fig.savefig(args.out / "four_rooms_learned.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
