"""The cells follower against the squashed Gaussian on continuous pricing games nobody tuned on (docs/ac_smfg.md,
"The follower's policy family"): each game's parameters are drawn, seeded, from ranges fixed before any run
(:data:`RANGES`); each game is trained with both followers (3,000 iterations, two runs at a time) and the summaries'
trusted exploitability compared.

    python scripts/check_cells_on_generated_games.py [--games 0 1] [--iterations 3000] [--out runs/generated]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

# parameter -> (low, high), drawn uniformly; fixed before running anything
RANGES = {"d": (3.0, 5.0), "e0": (0.5, 1.5), "noise": (0.05, 0.2), "tau": (0.1, 0.3), "kappa": (1.0, 3.0)}
COST_RANGES = [(0.3, 0.7), (0.15, 0.35), (0.2, 0.4), (0.3, 0.7), (0.05, 0.15)]  # c0..c4
MODELS = ("cells", "squashed_gaussian")


def game_overrides(seed: int) -> list[str]:
    rng = random.Random(seed)
    values = {k: round(rng.uniform(*r), 3) for k, r in RANGES.items()}
    costs = [round(rng.uniform(*r), 3) for r in COST_RANGES]
    return [f"game.{k}={v}" for k, v in values.items()] + [f"game.costs=[{','.join(map(str, costs))}]"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=Path("runs/generated"))
    args = ap.parse_args()
    print("| game seed | parameters | follower | trusted exploitability ± error bar | price error | warnings |")
    print("| --- | --- | --- | --- | --- | --- |")
    for seed in args.games:
        game = game_overrides(seed)
        procs, dirs = [], []
        for model in MODELS:
            run_dir = (args.out / f"game{seed}_{model}").resolve()
            dirs.append(run_dir)
            cmd = [sys.executable, "-m", "deep_smfg.cli", "train", "eval_threads=1", *game, f"model={model}",
                   f"algo.iterations={args.iterations}", "algo.best_response_iterations=0", "reference.n_starts=1",
                   "reference.n_steps=20", "logger=none", "progress_bar=false", f"run_dir={run_dir}", "overwrite=true"]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for p in procs:
            if p.wait():
                raise SystemExit(f"a run failed: {' '.join(p.args)}")
        for model, run_dir in zip(MODELS, dirs, strict=True):
            s = json.loads((run_dir / "summary.json").read_text())
            e = s["exploitability"]
            print(f"| {seed} | {' '.join(game)} | {model} | {e['exploitability']:.4f} ± {e['error_bar']:.4f} | "
                  f"{s['final']['price_error']:.4f} | {len(s['warnings'])} |", flush=True)


if __name__ == "__main__":
    main()
