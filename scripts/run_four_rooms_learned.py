"""AC-SMFG on Four Rooms, learned from samples: `deep-smfg train game=four_rooms` on seeds 0, 1, 2.

    python scripts/run_four_rooms_learned.py [--seeds 3] [--out docs]

Each run is the README's command (algo=ac_smfg with its Four Rooms settings, configs/algo/for_game/) with a CSV
logger, one thread, in runs/four_rooms_learned/seed<k> (a run whose summary.json exists is not run again).
Prints the table of docs/results.md ("Four Rooms, learned") against the stated thresholds and writes
`<out>/four_rooms_learned.png`: exploitability and mean-field error against iterations and wall time.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    root = Path("runs/four_rooms_learned")
    runs = {}
    for seed in range(args.seeds):
        run_dir = root / f"seed{seed}"
        summary = train_once(["game=four_rooms", f"seed={seed}", "threads=1"], run_dir)
        runs[seed] = (summary, list(csv.DictReader(open(run_dir / "metrics.csv"))))

    print("| seed | exploitability: start -> end | mean-field error: start -> end | seconds | samples | within |")
    print("| --- | --- | --- | --- | --- | --- |")
    for seed, (summary, _) in runs.items():
        first, last = summary["initial"], summary["final"]
        ok = (last["follower_exploitability"] <= EXPLOITABILITY and last["mean_field_error"] <= MEAN_FIELD_ERROR
              and summary["seconds"] <= SECONDS)
        print(f"| {seed} | {first['follower_exploitability']:.3g} -> {last['follower_exploitability']:.3g} | "
              f"{first['mean_field_error']:.3g} -> {last['mean_field_error']:.3g} | {summary['seconds']:.0f} | "
              f"{summary['samples']:,} | {'yes' if ok else 'NO'} |")

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for row, (key, label) in zip(axes, KEYS, strict=True):
        for x_key, ax in zip(("iteration", "wall_time"), row, strict=True):
            for seed, (_, history) in runs.items():
                ax.plot([float(h[x_key]) for h in history], [float(h[key]) for h in history], label=f"seed {seed}")
            ax.axhline(EXPLOITABILITY if key == "follower_exploitability" else MEAN_FIELD_ERROR, color="k", ls=":",
                       label="threshold")
            ax.set_yscale("log")
            ax.set_xlabel("iteration" if x_key == "iteration" else "seconds")
            ax.set_title(label)
    axes[0][0].legend()
    fig.suptitle("four_rooms: AC-SMFG learned from samples (deep-smfg train game=four_rooms)")
    fig.tight_layout()
    fig.savefig(args.out / "four_rooms_learned.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
