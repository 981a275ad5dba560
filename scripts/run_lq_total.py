"""The sampled total-gradient leader on the linear-quadratic game against its closed form
(docs/linear_quadratic.md, "The total-gradient leader").

Each (preset, seed) is ``deep-smfg train game=<linear_quadratic|linear_quadratic_2d> algo=ac_smfg_continuous_total
seed=S`` with its default config (configs/algo/for_game/ac_smfg_continuous_total_linear_quadratic.yaml), trained
unless its folder holds a completed run. The table gives the learned ``theta`` against ``theta*``, the leader gap
``J_L(theta*) - J_L(theta)`` as a share of ``|J_L(theta*)|``, and the lower level's errors, with the thresholds
stated before running: ``theta`` within 2% of ``theta*``, ``J_L`` within 1% of ``J_L(theta*)``, and the LQ docs'
lower-level thresholds (mean within 2% of ``m*(theta)``, covariance within 10%, exploitability at most 1% of
``|J_f|``).

    python scripts/run_lq_total.py --seeds 0 1 2 --jobs 2
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run_results import train_once  # noqa: E402  (trains unless the folder holds a completed run)

PRESETS = {"1d": "linear_quadratic", "2d": "linear_quadratic_2d"}
THRESHOLDS = {"theta_error": 0.02, "objective_share": 0.01, "mean_error": 0.02, "cov_error": 0.10,
              "relative_exploitability": 0.01}


def run(preset: str, seed: int, out: Path, overrides: tuple[str, ...]) -> dict:
    d = train_once([f"game={PRESETS[preset]}", "algo=ac_smfg_continuous_total", f"seed={seed}", *overrides],
                   out / f"{preset}_s{seed}")
    final, closed = d["final"], d["closed_form"]
    row = {k: final[k] for k in ("theta_error", "mean_error", "cov_error", "relative_exploitability")}
    row["objective_share"] = final["leader_gap"] / abs(closed["J_L_star"])
    theta = [final[k] for k in sorted(final) if k.startswith("theta_") and k[6:].isdigit()]
    return {"preset": preset, "seed": seed, "theta": theta, "theta_star": closed["theta_star"],
            "start_gap": d["initial"]["leader_gap"], "gap": final["leader_gap"], "seconds": d["seconds"],
            "met": all(row[k] <= v for k, v in THRESHOLDS.items()), **row}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs/lq_total"))
    p.add_argument("--overrides", nargs="*", default=[], help="more overrides for every run (a separate --out)")
    args = p.parse_args()
    jobs = [(preset, seed) for preset in args.presets for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda j: run(*j, args.out.resolve(), tuple(args.overrides)), jobs))
    print("| preset | seed | theta | theta* | theta error | leader gap (start -> end) | gap / abs(J_L*) | mean error "
          "| cov error | exploitability / abs(J_f) | seconds | thresholds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        fmt = lambda v: "(" + ", ".join(f"{x:.3f}" for x in v) + ")"  # noqa: E731
        print(f"| {r['preset']} | {r['seed']} | {fmt(r['theta'])} | {fmt(r['theta_star'])} | {r['theta_error']:.4f} | "
              f"{r['start_gap']:.4f} -> {r['gap']:.4f} | {r['objective_share']:.4f} | {r['mean_error']:.4f} | "
              f"{r['cov_error']:.4f} | {r['relative_exploitability']:.2e} | {r['seconds']:.0f} | "
              f"{'met' if r['met'] else '**missed**'} |")
    print(f"\nthresholds met on {sum(r['met'] for r in rows)} of {len(rows)} runs")


if __name__ == "__main__":
    main()
