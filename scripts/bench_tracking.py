"""What W&B tracking costs a run (docs/tracking.md): the same finite run with ``logger=none``, ``logger=wandb``
(offline; the curves figure at each evaluation) and ``logger=wandb logger.curves_every=0``, alternated, each in a
fresh process, timed as the fit (``summary.json``'s ``seconds``) and the whole process, as ratios to ``none``.

    .venv/bin/python scripts/bench_tracking.py [--iterations 2000] [--evaluations 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {"none": ["logger=none"], "wandb": ["logger=wandb"],
            "wandb, curves_every=0": ["logger=wandb", "logger.curves_every=0"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--evaluations", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    every = opts.iterations // opts.evaluations
    job = ["train", "game=congestion_toll", f"algo.iterations={opts.iterations}", f"algo.eval_every={every}",
           f"algo.checkpoint_every={every}", "reference.n_starts=1", "progress_bar=false"]
    fit: dict[str, list[float]] = {name: [] for name in SETTINGS}
    process: dict[str, list[float]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=tmp, PYTHONWARNINGS="ignore")
        for r in range(-1, opts.repeat):  # r = -1: caches Phi*, not timed
            for name, extra in SETTINGS.items():
                run_dir = Path(tmp) / f"{r}_{list(SETTINGS).index(name)}"
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "deep_smfg.cli", *job, *extra, f"run_dir={run_dir}"], cwd=tmp,
                               env=env, check=True, capture_output=True)
                if r >= 0:
                    process[name].append(time.perf_counter() - t0)
                    fit[name].append(json.loads((run_dir / "summary.json").read_text())["seconds"])
    print(f"{opts.iterations} iterations, {opts.evaluations + 1} evaluations, {opts.repeat} repetitions (means)\n")
    print("| logger | fit (s) | process (s) | fit ratio to none | process ratio to none |")
    print("|---|---|---|---|---|")
    base_fit, base_process = statistics.fmean(fit["none"]), statistics.fmean(process["none"])
    for name in SETTINGS:
        f, p = statistics.fmean(fit[name]), statistics.fmean(process[name])
        print(f"| {name} | {f:.2f} | {p:.2f} | {f / base_fit:.2f} | {p / base_process:.2f} |")


if __name__ == "__main__":
    main()
