"""The plateau rule (deep_smfg/stopping.py, docs/stopping.md) on finite games nobody tuned it on: random kernels and
rewards (``random_game`` of tests/test_total_sampled.py: crowd aversion ``-mu(s)`` for the followers, a stake in the
population's law for the leader), sizes and seeds fixed before running (:data:`GAMES`). Each game is trained with the
default config (AC-SMFG, partial leader, 20,000 iterations, an evaluation every 1,000) and the rule off; where the
default rule would have stopped, and the quality there against the cap, are read off the history as in
scripts/bench_time_to_quality.py (a stopped run is the same run's prefix).

    python scripts/check_stop_rule_on_generated_games.py [--jobs 2] [--out runs/stop_generated]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_time_to_quality import measure  # noqa: E402
from test_total_sampled import random_game  # noqa: E402

GAMES = [dict(S=4, A=3, B=2, seed=s) for s in (101, 102)] + [dict(S=6, A=2, B=3, seed=s) for s in (103, 104)]


def one(spec: dict, out: Path) -> tuple[str, dict]:
    from deep_smfg.api import train

    name = "random_S{S}_A{A}_B{B}_seed{seed}".format(**spec)
    run_dir = out / name
    if not (run_dir / "metrics.csv").exists():
        train(random_game(**spec), ["algo.stop.plateau=false", "logger=none", "progress_bar=false", "eval_threads=1",
                                    "overwrite=true", f"run_dir={run_dir}"])
    summary = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        history = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    return name, measure(name, summary, history, summary["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/stop_generated"))
    args = parser.parse_args()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, GAMES, [args.out.resolve()] * len(GAMES)))
    print("| game | stop rule: iteration | at the stop: gap / gain, exploitability | at the cap (20,000) |")
    print("| --- | --- | --- | --- |")
    for name, r in results:
        s, c = r["stop"], r["cap"]
        at = "{:.4f} / {:.4f}".format
        print(f"| {name} | {s['iteration']:,.0f} | {at(s['gap_share'], s['follower_exploitability'])} | "
              f"{at(c['gap_share'], c['follower_exploitability'])} |" if s else
              f"| {name} | no stop | - | {at(c['gap_share'], c['follower_exploitability'])} |")


if __name__ == "__main__":
    main()
