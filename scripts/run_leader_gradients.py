"""Partial, exact-total and sampled-total leaders side by side on every finite SMFG configuration.

    python scripts/run_leader_gradients.py [--seeds 5] [--iterations 20000] [--jobs 2] [--out docs]

Each run is `deep-smfg train` with one thread and a CSV logger, in runs/leader_gradients/<leader>/<config>/seed<k>
(a run whose summary.json exists is not run again; `ITERATIONS` names the runs that need more iterations, in
seed<k>_<iterations>it). The leaders:

* `partial`: the paper's AC-SMFG, default `algo=ac_smfg` (tabular SGD, leader c = 1);
* `partial_adam`: the partial gradient with the total leaders' Adam leader (`algo=ac_smfg_total
  algo.leader_gradient=partial`), so that the comparison is not one of optimisers;
* `total_exact`, `total_sampled`: `algo=ac_smfg_total` with that `algo.leader_gradient`.

Prints the table of docs/results.md (final leader gap as a share of `Phi* - Phi(uniform)`, the lower level's
worst seed against the stated thresholds, samples, exact solves, seconds) and writes the curves
`<out>/leader_gradients.png` (leader gap) and `<out>/leader_gradients_lower.png` (exploitability).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deep_smfg.learners.leader_gradients.total_exact import REFRESH_EVERY

sys.path.insert(0, str(Path(__file__).parent))
from run_results import CONFIGS, train_once  # noqa: E402  (the configurations of docs/results.md)

LEADERS = {
    "partial": [],
    "partial_adam": ["algo=ac_smfg_total", "algo.leader_gradient=partial"],
    "total_exact": ["algo=ac_smfg_total", "algo.leader_gradient=total_exact"],
    "total_sampled": ["algo=ac_smfg_total"],
}
GAP_THRESHOLD = {"total_exact": 0.02, "total_sampled": 0.05}  # share of Phi* - Phi(uniform), stated in issue 9
# runs longer than --iterations: the sampled leader on shop_positioning is still descending at 20,000 iterations
# (its estimator settles slowly there: docs/stackelberg_gradient.md); at 40,000 every seed is within 5%
ITERATIONS = {("total_sampled", "shop_positioning"): 40000}
EXPLOITABILITY, MEAN_FIELD_ERROR = 0.05, 0.15
EXACT_SOLVES_EVERY = {"total_exact": REFRESH_EVERY}


def run_one(leader: str, config: str, seed: int, iterations: int, root: Path) -> dict:
    longer = ITERATIONS.get((leader, config))
    folder = f"seed{seed}_{longer}it" if longer else f"seed{seed}"
    return train_once([*CONFIGS[config], *LEADERS[leader], f"seed={seed}", f"algo.iterations={longer or iterations}",
                       "threads=1"], root / leader / config / folder)


def fmt(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}g}"
    return f"{statistics.mean(values):.{digits}g} ± {statistics.stdev(values):.1g}"


def gap_share(run: dict, key: str = "final") -> float:
    return run[key]["leader_gap"] / (run["phi_star"] - run["initial"]["leader_objective"])


def table(results: dict[tuple[str, str], list[dict]]) -> str:
    rows = ["| config | leader | final gap / (Phi* - Phi(uniform)) | worst seed | exploitability (worst) | "
            "mean-field error (worst) | samples | exact solves | seconds | met |",
            "|" + " --- |" * 10]
    for (leader, config), runs in results.items():
        gaps = [gap_share(r) for r in runs]
        expl = [r["final"]["follower_exploitability"] for r in runs]
        mf = [r["final"]["mean_field_error"] for r in runs]
        met = max(expl) <= EXPLOITABILITY and max(mf) <= MEAN_FIELD_ERROR
        if leader in GAP_THRESHOLD:
            met = met and max(gaps) <= GAP_THRESHOLD[leader]
            verdict = "yes" if met else "**no**"
        else:
            verdict = "(no gap threshold)" if met else "**lower level: no**"
        solves = runs[0]["iterations"] // EXACT_SOLVES_EVERY[leader] if leader in EXACT_SOLVES_EVERY else 0
        rows.append(f"| {config} | {leader} | {fmt(gaps)} | {max(gaps):.3g} | {max(expl):.2g} | {max(mf):.2g} | "
                    f"{runs[0]['samples']} | {solves} | {fmt([r['seconds'] for r in runs], 3)} | {verdict} |")
    return "\n".join(rows)


def history(run: dict) -> list[dict]:
    with open(Path(run["run_dir"]) / "metrics.csv") as fh:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]


def plot(results: dict[tuple[str, str], list[dict]], configs: list[str], key: str, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = -(-len(configs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, config in zip(axes.flat, configs, strict=False):
        for leader in LEADERS:
            runs = results.get((leader, config))
            if not runs:
                continue
            curves = []
            for r in runs:
                h = history(r)
                gain = r["phi_star"] - r["initial"]["leader_objective"]
                curves.append(([x["iteration"] for x in h],
                               [x[key] / gain if key == "leader_gap" else x[key] for x in h]))
            its = curves[0][0]
            n = min(len(c[1]) for c in curves)
            mean = [statistics.mean(c[1][i] for c in curves) for i in range(n)]
            lo = [min(c[1][i] for c in curves) for i in range(n)]
            hi = [max(c[1][i] for c in curves) for i in range(n)]
            line, = ax.plot(its[:n], mean, label=leader)
            ax.fill_between(its[:n], lo, hi, color=line.get_color(), alpha=0.2)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_title(config)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(configs):]:
        ax.axis("off")
    axes.flat[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--leaders", nargs="*", default=list(LEADERS), choices=list(LEADERS))
    p.add_argument("--configs", nargs="*", default=[c for c in CONFIGS if c != "pricing_incentive_long"],
                   choices=list(CONFIGS))
    p.add_argument("--root", type=Path, default=Path("runs/leader_gradients"))
    p.add_argument("--out", type=Path, default=Path("docs"))
    args = p.parse_args()
    jobs = [(leader, c, s) for leader in args.leaders for c in args.configs for s in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        done = list(pool.map(lambda job: run_one(*job, args.iterations, args.root), jobs))
    results: dict[tuple[str, str], list[dict]] = {}
    for (leader, c, _), r in zip(jobs, done, strict=True):
        results.setdefault((leader, c), []).append(r)
    text = table(dict(sorted(results.items(), key=lambda kv: (args.configs.index(kv[0][1]),
                                                              args.leaders.index(kv[0][0])))))
    print(text)
    args.root.mkdir(parents=True, exist_ok=True)
    (args.root / "table.md").write_text(text + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.configs, "leader_gap", args.out / "leader_gradients.png",
         f"leader gap / (Phi* - Phi(uniform)), mean and range over {args.seeds} seeds")
    plot(results, args.configs, "follower_exploitability", args.out / "leader_gradients_lower.png",
         f"follower exploitability, mean and range over {args.seeds} seeds")


if __name__ == "__main__":
    main()
