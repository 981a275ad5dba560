"""Time to quality: wall seconds and samples until a run's answer is good enough, and where the stop rule ends it.

    python scripts/bench_time_to_quality.py [--seeds 3] [--only pricing_stake,main] [--jobs 1] [--out DIR]

Each (configuration, leader, seed) is one `deep-smfg train` run with the default config and the stop rule off, so
that its history runs to the cap (`algo.iterations`). From the history (one row per evaluation, every
`algo.eval_every` iterations):

* **to quality**: the first evaluation that meets the thresholds, its samples and wall seconds (training with its
  evaluations, from the run's start). Finite games: the follower's exploitability <= 0.01 and the leader's gap
  <= 5% of its gain `Phi* - Phi(uniform)`. The main job (continuous pricing), and the same job with the paper's
  partial leader (`main/partial`, the main job until it took the total leader): price error <= 0.015 and the twin's
  leader gap <= 0.221 (the partial job's plateau: its 20,000-iteration value over 3 seeds, 0.2158 +- 0.0026, plus
  two standard deviations; docs/results.md), the quality the main job had when this measure was set.
* **the stop rule**: the evaluation where the default `algo.stop.plateau=true` rule (deep_smfg/stopping.py) would
  have ended the run. A stopped run is this run's prefix (same seed, same draws), so its metrics are read here.
* the report's cost: the process's wall time less its training.

Writes `<out>/time_to_quality.json` and prints the markdown table of docs/performance.md. Threads: 1 per run.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_results import CONFIGS, ITERATIONS  # noqa: E402  (the finite configurations of docs/results.md)

from deep_smfg.evaluation.exact_evaluator import ExactEvaluator  # noqa: E402
from deep_smfg.evaluation.twin_evaluator import TwinEvaluator  # noqa: E402
from deep_smfg.stopping import StopRule, stop_reason  # noqa: E402

FINITE = {name: args for name, args in CONFIGS.items() if name not in ITERATIONS}  # the six, default iterations
LEADERS = {"partial": ["algo=ac_smfg"], "total_sampled": ["algo=ac_smfg_total"]}
MAIN = {"main": [], "main/partial": ["algo=ac_smfg_continuous"]}  # the main job; with the paper's partial leader
MAIN_GAP = 0.221  # the partial main job's twin leader gap at its plateau (module docstring)


def jobs(seeds: int, only: set[str] | None) -> list[tuple[str, str, list[str]]]:
    out = [(f"{game}/{leader}", f"seed{s}", [*args, *largs, f"seed={s}"])
           for game, args in FINITE.items() for leader, largs in LEADERS.items() for s in range(seeds)]
    out += [(name, f"seed{s}", [*args, f"seed={s}"]) for name, args in MAIN.items() for s in range(seeds)]
    return [j for j in out if only is None or j[0].split("/")[0] in only]


def run(name: str, seed: str, args: list[str], root: Path) -> dict:
    run_dir = root / name / seed
    if not (run_dir / "process_seconds.txt").exists():  # written once the run has completed
        cmd = [sys.executable, "-m", "deep_smfg.cli", "train", "eval_threads=1",
               *args, "algo.stop.plateau=false", "logger=none",
               "progress_bar=false", "overwrite=true", f"run_dir={run_dir}"]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"{name} {seed} failed:\n{out.stderr[-2000:]}")
        (run_dir / "process_seconds.txt").write_text(f"{time.perf_counter() - t0}\n")
    summary = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        history = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    return measure(name, summary, history, float((run_dir / "process_seconds.txt").read_text()))


def good_enough(name: str, summary: dict, row: dict) -> bool:
    if name in MAIN:
        return row["price_error"] <= 0.015 and row["leader_gap"] <= MAIN_GAP
    gain = summary["phi_star"] - summary["initial"]["leader_objective"]
    return row["follower_exploitability"] <= 0.01 and row["leader_gap"] <= 0.05 * gain


def measure(name: str, summary: dict, history: list[dict], process_seconds: float) -> dict:
    watch = TwinEvaluator.watch if name in MAIN else ExactEvaluator.watch
    stop_row = next((history[n - 1] for n in range(1, len(history) + 1)
                     if stop_reason(StopRule(plateau=True), history[:n], watch, watch)), None)
    hit = next((row for row in history if good_enough(name, summary, row)), None)
    keys = ("price_error", "leader_gap", "exploitability") if name in MAIN else (
        "follower_exploitability", "leader_gap")
    gain = None if name in MAIN else summary["phi_star"] - summary["initial"]["leader_objective"]

    def metrics(row: dict) -> dict:
        out = {k: row[k] for k in keys}
        if gain is not None:
            out["gap_share"] = row["leader_gap"] / gain
        return out

    return {"to_quality": hit and {"iteration": hit["iteration"], "samples": hit["samples"],
                                   "seconds": hit["wall_time"]},
            "stop": stop_row and {"iteration": stop_row["iteration"], "seconds": stop_row["wall_time"],
                                  **metrics(stop_row)},
            "cap": {"iteration": history[-1]["iteration"], "seconds": summary["seconds"], **metrics(history[-1])},
            "report_seconds": process_seconds - summary["seconds"]}


def cell(values: list[float | None], whole: bool = False, none: str = "not reached") -> str:
    """Mean ± standard deviation over the seeds that got there (how many, when not all)."""
    got = [v for v in values if v is not None]
    if not got:
        return none
    mean, sd = ((lambda v: f"{v:,.0f}"),) * 2 if whole else ((lambda v: f"{v:.3g}"), (lambda v: f"{v:.2g}"))
    text = mean(statistics.mean(got)) + (f" ± {sd(statistics.stdev(got))}" if len(got) > 1 else "")
    return text + (f" ({len(got)}/{len(values)} seeds)" if len(got) < len(values) else "")


def table(results: dict[str, list[dict]]) -> str:
    lines = ["| configuration | to quality: seconds | samples | stop rule: iteration | seconds | quality at the stop "
             "| at the cap | report seconds |", "|---|---|---|---|---|---|---|---|"]
    for name, rows in results.items():
        quality = [r["to_quality"] for r in rows]
        stops = [r["stop"] for r in rows]
        key = "leader_gap" if name in MAIN else "gap_share"
        at = "gap {} / expl {}".format
        expl = "exploitability" if name in MAIN else "follower_exploitability"
        lines.append(" | ".join([
            f"| {name}", cell([q and q["seconds"] for q in quality]),
            cell([q and q["samples"] for q in quality], whole=True),
            cell([s and s["iteration"] for s in stops], whole=True, none="no stop: the cap"),
            cell([s and s["seconds"] for s in stops], none="-"),
            at(cell([s and s[key] for s in stops], none="-"), cell([s and s[expl] for s in stops], none="-")),
            at(cell([r["cap"][key] for r in rows]), cell([r["cap"][expl] for r in rows])),
            cell([r["report_seconds"] for r in rows]) + " |"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated configurations (main, pricing_stake, ...)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/time_to_quality"))
    args = parser.parse_args()
    todo = jobs(args.seeds, set(args.only.split(",")) if args.only else None)
    with ThreadPoolExecutor(args.jobs) as pool:
        done = list(pool.map(lambda j: (j[0], run(*j, args.out)), todo))
    results: dict[str, list[dict]] = {}
    for name, result in done:
        results.setdefault(name, []).append(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "time_to_quality.json").write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
