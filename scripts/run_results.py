"""Run AC-SMFG over seeds on every finite SMFG configuration; write docs/results.md and curve PNGs.

    python scripts/run_results.py [--seeds 5] [--iterations 20000] [--jobs 2] [--out docs]

Each run is `deep-smfg train` with the default algo config (tabular, SGD, N = 64) and a CSV logger,
in runs/results/<config>/seed<k>. The table gives mean and standard deviation over seeds of each
final exact metric, the samples and the seconds per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CONFIGS = {
    "pricing_stake": ["game=equilibrium_pricing", "game.leader=stake"],
    "pricing_incentive": ["game=equilibrium_pricing", "game.leader=incentive"],
    "shop_positioning": ["game=shop_positioning"],
    "market_sell_skew": ["game=market_entrance", "game.leader=sell_skew"],
    "market_balanced": ["game=market_entrance", "game.leader=balanced"],
    "congestion_toll": ["game=congestion_toll"],
    # pricing_incentive's partial gradient is a weak signal (the leader's own cost kappa b^2 only):
    # slower-decaying steps (p = 0.4 for all four groups, leader c = 2 <= mean field c = 2) and twice the iterations
    "pricing_incentive_long": ["game=equilibrium_pricing", "game.leader=incentive", "algo.step_sizes.leader.c=2.0",
                               *[f"algo.step_sizes.{g}.p=0.4" for g in ("critic", "follower", "mean_field", "leader")]],
}
ITERATIONS = {"pricing_incentive_long": 40000}  # configs that run longer than --iterations
METRICS = ["follower_exploitability", "mean_field_error", "leader_gap", "gradient_alignment", "partial_grad_norm"]


SAME_RUN = ("seed", "dtype", "game", "model", "algo", "reference")  # what makes a finished run the one asked for


def other_config(overrides: list[str], run_dir: Path) -> str | None:
    """The first of :data:`SAME_RUN`'s sections where ``run_dir``'s stored config differs from the one ``overrides``
    compose (``None``: the same run), so that a folder trained with other overrides is never read as this run."""
    from omegaconf import OmegaConf

    from deep_smfg.cli import compose_config

    asked = OmegaConf.to_container(compose_config("train", overrides), resolve=True)
    stored = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=True)
    return next((key for key in SAME_RUN if asked.get(key) != stored.get(key)), None)


def train_once(overrides: list[str], run_dir: Path) -> dict:
    """``deep-smfg train`` with a CSV logger into ``run_dir`` unless it holds a completed run; the summary. A run
    folder left by an interrupted run (its summary's status is not ``completed``) is trained again from scratch; a
    completed run of another config (other overrides into the same folder) is an error naming the section."""
    summary = run_dir / "summary.json"
    done = summary.exists() and json.loads(summary.read_text()).get("status") == "completed"
    if done and (differs := other_config(overrides, run_dir)) is not None:
        raise RuntimeError(f"{run_dir} holds a completed run whose {differs} differs from {' '.join(overrides)}: "
                           "give these runs another folder")
    if not done:
        # jobs run side by side (--jobs): each evaluates on one thread, as the tables were measured
        cmd = [sys.executable, "-m", "deep_smfg.cli", "train", "eval_threads=1",
               *overrides, "logger=csv", "progress_bar=false",
               f"run_dir={run_dir}", "overwrite=true"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"{' '.join(overrides)} failed:\n{out.stderr[-2000:]}")
    return json.loads(summary.read_text())


def run_one(config: str, seed: int, iterations: int, root: Path) -> dict:
    iterations = ITERATIONS.get(config, iterations)
    return train_once([*CONFIGS[config], f"seed={seed}", f"algo.iterations={iterations}"],
                      root / config / f"seed{seed}")


def fmt(values: list[float], digits: int = 4) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}g}"
    return f"{statistics.mean(values):.{digits}g} ± {statistics.stdev(values):.2g}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--configs", nargs="*", default=list(CONFIGS))
    p.add_argument("--out", type=Path, default=Path("docs"))
    args = p.parse_args()
    root = Path("runs/results")
    jobs = [(c, s) for c in args.configs for s in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda cs: run_one(*cs, args.iterations, root), jobs))
    by_config: dict[str, list[dict]] = {}
    for (c, _), r in zip(jobs, results, strict=True):
        by_config.setdefault(c, []).append(r)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    header = ("| config | Phi(uniform) | Phi* | final Phi | leader_gap / (Phi* - Phi(uniform)) | exploitability | "
              "mean_field_error | partial grad norm reduction | alignment (start -> end) | samples | seconds |")
    rows += [header, "|" + " --- |" * (header.count("|") - 1)]
    for c, runs in by_config.items():
        f = [r["final"] for r in runs]
        i0 = runs[0]["initial"]
        gain = runs[0]["phi_star"] - i0["leader_objective"]
        rows.append(
            f"| {c} | {i0['leader_objective']:.4g} | {runs[0]['phi_star']:.4g} | "
            f"{fmt([x['leader_objective'] for x in f])} | "
            f"{fmt([x['leader_gap'] / gain for x in f], 2)} | {fmt([x['follower_exploitability'] for x in f], 2)} | "
            f"{fmt([x['mean_field_error'] for x in f], 2)} | "
            f"{fmt([r['partial_grad_norm_reduction'] for r in runs], 3)} | "
            f"{i0['gradient_alignment']:.2f} -> {fmt([x['gradient_alignment'] for x in f], 2)} | "
            f"{runs[0]['samples']} | "
            f"{fmt([r['seconds'] for r in runs], 3)} |"
        )
        fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
        for r in runs:
            hist = _history(Path(r["run_dir"]))
            its = [h["iteration"] for h in hist]
            for ax, key in zip(axes,
                               ["follower_exploitability", "mean_field_error", "leader_gap", "gradient_alignment"],
                               strict=True):
                ax.plot(its, [h[key] for h in hist], alpha=0.7)
                ax.set_title(key)
                ax.set_xlabel("iteration")
                if key != "gradient_alignment":
                    ax.set_yscale("symlog", linthresh=1e-3)
        fig.suptitle(f"AC-SMFG on {c} ({len(runs)} seeds)")
        fig.tight_layout()
        fig.savefig(args.out / f"results_{c}.png", dpi=90)
        plt.close(fig)
    table = "\n".join(rows)
    print(table)
    (root / "table.md").write_text(table + "\n")  # pasted into docs/results.md by hand


def _history(run_dir: Path) -> list[dict]:
    import csv

    with open(run_dir / "metrics.csv") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


if __name__ == "__main__":
    main()
