"""What a sweep costs on each Hydra launcher, as a user runs it: one ``deep-smfg train -m`` command per launcher, wall
time from the command to its last line (imports, the check of every job, the jobs, the table), in one run so that the
ratios compare like with like (docs/cluster.md).

    .venv/bin/python scripts/bench_launchers.py [--jobs 4] [--iterations 2000] [--repeat 2]

Each job is a finite AC-SMFG run on congestion_toll with ``threads=1``; the reference Phi* is cached first (every job
reads it). Launchers: basic (one after another in the command's process), joblib with 2 workers (started by the
command: a cold start), submitit_local (one fresh process per job, all at once). Also: the check of every job before a
sweep, from the ``--cfg job`` time of one config against a sweep refused at its 16th job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "deep_smfg.cli"]


def run(args: list[str], cwd: Path, expect: int = 0) -> float:
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    out = subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode != expect:
        raise SystemExit(f"{' '.join(args)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    opts = parser.parse_args()
    half = opts.iterations // 2
    job = ["game=congestion_toll", f"algo.iterations={opts.iterations}", f"algo.checkpoint_every={half}",
           f"algo.eval_every={half}", "reference.n_starts=1", "logger=none", "progress_bar=false", "eval_threads=1"]
    seeds = "seed=" + ",".join(str(s) for s in range(opts.jobs))
    launchers = {
        "basic": [],
        "joblib (2 workers)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        "submitit_local (all at once)": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=30"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        one = run(["train", *job, "seed=99", "run_dir=warm"], cwd)  # caches Phi*
        times: dict[str, list[float]] = {name: [] for name in launchers}
        for r in range(opts.repeat):
            for i, (name, extra) in enumerate(launchers.items()):
                times[name].append(run(["train", "-m", *job, seeds, *extra, f"sweep_dir=s{r}_{i}"], cwd))
        show = run(["train", "--cfg", "job", *job], cwd)
        # jobs 0-14 pass the check, job 15 (leader above the mean field's step) is refused: 16 configs checked
        bad = run(["train", "-m", *job, "algo.step_sizes.leader.c=1.0,10.0", "seed=range(0,15)",
                   "sweep_dir=refused"], cwd, expect=2)
    base = statistics.median(times["basic"])
    print(f"{opts.jobs} jobs of {opts.iterations} iterations (one job alone, from the command line: {one:.1f} s)\n")
    print("| launcher | wall seconds (median of {}) | ratio to basic |".format(opts.repeat))
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.median(values) / base:.2f} |")
    print(f"\n--cfg job (imports and one composition): {show:.1f} s; a sweep refused at its 16th job's check "
          f"(16 configs composed and checked): {bad:.1f} s")


if __name__ == "__main__":
    main()
