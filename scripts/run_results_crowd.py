"""Train the crowd (docs/crowd.md) with each mean-field density, over seeds, and print the W2 table of
docs/results.md ("The crowd: which density").

    python scripts/run_results_crowd.py [--seeds 3] [--jobs 2] [--dims 1 2] [--table-only]

Each run is `deep-smfg train game=crowd|crowd_2d model.density=gaussian|mixture seed=<k>` with
`run_dir=runs/results/crowd/<dim>d_<density>/seed<k>` (W&B off). With `--table-only` the existing run folders are
read and nothing is run. Every run's final checkpoint is measured again by the crowd evaluator (its
`density_w2`, and `fit_w2`: the distance to the law its own policies induce). The plots of seed 0 are copied to
docs/ (`crowd_<dim>d_<density>_mean_field.png`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run_results import fmt  # scripts/run_results.py: mean ± standard deviation over seeds

ROOT = Path("runs/results/crowd")
DENSITIES = ("gaussian", "mixture")


def run_dir(dim: int, density: str, seed: int) -> Path:
    return ROOT / f"{dim}d_{density}" / f"seed{seed}"


def run_one(dim: int, density: str, seed: int) -> None:
    game = "crowd" if dim == 1 else "crowd_2d"
    cmd = [sys.executable, "-m", "deep_smfg.cli", "train", "eval_threads=1",
           f"game={game}", f"model.density={density}", f"seed={seed}",
           "logger=none", "progress_bar=false", f"run_dir={run_dir(dim, density, seed)}"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")


def final_metrics(path: Path) -> dict:
    """The crowd evaluator's metrics at the run's last checkpoint (so that every run is measured by today's
    evaluator, ``fit_w2`` included), with the summary's ``initial`` W2, seconds and warnings."""
    import torch
    from omegaconf import OmegaConf

    from deep_smfg.config import build_learner, game_of
    from deep_smfg.evaluation.crowd_evaluator import CrowdEvaluator

    torch.set_num_threads(1)
    cfg = OmegaConf.load(path / "config.yaml")
    game = game_of(cfg)
    learner = build_learner(cfg, game)
    learner.load_state_dict(torch.load(path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"],
                            strict=False)
    summary = json.loads((path / "summary.json").read_text())
    return {**CrowdEvaluator(game, int(cfg.seed)).evaluate(learner), "initial_w2": summary["initial"]["density_w2"],
            "seconds": summary["seconds"], "flagged": bool(summary.get("warnings"))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--dims", type=int, nargs="+", default=[1, 2])
    p.add_argument("--table-only", action="store_true")
    args = p.parse_args()
    runs = [(d, density, s) for d in args.dims for density in DENSITIES for s in range(args.seeds)]
    if not args.table_only:
        todo = [r for r in runs if not (run_dir(*r) / "summary.json").exists()]
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda r: run_one(*r), todo))
    print("| dim | density | seeds | W2 at the start | W2 to mu* at the end (per seed) | W2 to mu* | W2 to its own "
          "population (fit_w2) | theta | seconds | flagged |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for d in args.dims:
        for density in DENSITIES:
            done = [run_dir(d, density, s) for s in range(args.seeds)]
            done = [path for path in done if (path / "summary.json").exists()]
            if not done:
                continue
            ms = [final_metrics(path) for path in done]
            final = [m["density_w2"] for m in ms]
            extra = f" (x1 {fmt([m['w2_x1'] for m in ms])}, x2 {fmt([m['w2_x2'] for m in ms])})" if d == 2 else ""
            print(f"| {d} | {density} | {len(ms)} | {fmt([m['initial_w2'] for m in ms])} | "
                  f"{' / '.join(f'{v:.3f}' for v in final)} | {fmt(final)}{extra} | {fmt([m['fit_w2'] for m in ms])} | "
                  f"{fmt([m['theta'] for m in ms])} | {fmt([m['seconds'] for m in ms])} | "
                  f"{sum(m['flagged'] for m in ms)} |", flush=True)
            plot = run_dir(d, density, 0) / "mean_field.png"
            if plot.exists():
                shutil.copy(plot, Path("docs") / f"crowd_{d}d_{density}_mean_field.png")


if __name__ == "__main__":
    main()
