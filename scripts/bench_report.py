"""What a continuous run's evaluation costs: one evaluation along the run, and the end-of-run report's parts.

    python scripts/bench_report.py RUN_DIR [--threads 1]

RUN_DIR is a finished run of a game whose config declares the twin evaluator (the main job: ``deep-smfg train``).
Its learner is loaded (``deep_smfg.load_run``) and, in one fresh process, timed in the order the train job runs them:

- ``evaluation``: one evaluation along the run (``TwinEvaluator.evaluate``: the leader's Monte Carlo objective, the
  trusted exploitability on the measure's first grid, the twin's metrics), the first one (its twin is built) and a
  second one;
- the report's parts: the induced mean, the trusted exploitability on every grid at the report's chains (the finer
  grids' twins built here, as in a run), the learned best response (``algo.best_response_iterations``).

Each part's figure is printed with the value it computed, so that two versions of the code can be compared on the
same run for speed and for sameness (docs/performance.md, "What a report costs").
"""

from __future__ import annotations

import argparse
import time

import torch

import deep_smfg
from deep_smfg.evaluation import make_evaluator
from deep_smfg.evaluation.exploitability_estimate import report_estimate


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"| {label} | {time.perf_counter() - t0:.2f} |", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run = deep_smfg.load_run(args.run_dir)
    learner = run.learner
    evaluator = make_evaluator(run.game, run.config)
    print(f"{run.game.name}, {run.run_dir}, torch {torch.__version__}, threads={args.threads}")
    print("| part | seconds |")
    print("| --- | --- |")
    first = timed("evaluation along the run (the first: its twin built)", lambda: evaluator.evaluate(learner))
    timed("evaluation along the run (a later one)", lambda: evaluator.evaluate(learner))
    m_bar = timed("report: the induced mean", lambda: evaluator.induced_mean(learner))
    measure = evaluator.measure
    trusted = timed(f"report: the trusted exploitability ({len(measure.grids)} grids, {measure.report_chains} chains)",
                    lambda: evaluator.exploitability(learner, measure.grids, measure.report_chains, m_bar))
    learned = timed(f"report: the learned best response ({evaluator.best_response_iterations} iterations)",
                    lambda: report_estimate(learner, evaluator.best_response_iterations, m_bar))
    print(f"values: evaluation exploitability {first['exploitability']!r}, leader gap {first.get('leader_gap')!r}; "
          f"induced mean {m_bar.tolist()}; trusted {trusted.exploitability!r} (grids "
          f"{[g.gain for g in trusted.grids]}); learned best response {learned.get('exploitability')!r}")


if __name__ == "__main__":
    main()
