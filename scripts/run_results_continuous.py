"""Run the main job (`deep-smfg train`, continuous Equilibrium Pricing) over seeds; write its section of
docs/results.md and copy the plots of seed 0 to docs/.

    python scripts/run_results_continuous.py [--seeds 3] [--jobs 2] [--out docs]

Each run is exactly the README's main job plus `seed=<k>` and `run_dir=runs/results/continuous/seed<k>`
(default config: W&B offline). Tolerances are stated in TOLERANCES and checked on every seed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run_results import fmt  # scripts/run_results.py: mean ± standard deviation over seeds

# (metric, how it is computed from a summary, bound, text)
TOLERANCES = [
    ("price_error", lambda s: s["final"]["price_error"], 0.05,
     "\\|p(m_hat) - p(mu*_twin(phi_k))\\|: the learned price against the twin's exact equilibrium price for the "
     "learned leader"),
    ("mean_field_error", lambda s: s["final"]["mean_field_error"], 0.1,
     "W2 between N(m_hat, s_hat^2) and the moments of mu*_twin(phi_k)"),
    ("relative leader gap", lambda s: s["final"]["leader_gap"] / (s["twin"]["phi_star"] - s["twin"]["phi_uniform"]),
     0.15, "(Phi*_twin - Phi_twin(phi_k)) / (Phi*_twin - Phi_twin(uniform))"),
    ("\\|J_l(MC) - Phi_twin(phi_k)\\|",
     lambda s: abs(s["final"]["leader_objective"] - s["final"]["twin_leader_objective"]), 0.25,
     "the Monte Carlo leader objective against the twin's exact objective of the same leader"),
    ("learned-BR exploitability", lambda s: s["learned_best_response"]["exploitability"], 0.05,
     "J_f(BR) - J_f(pi_k) at the induced mean field, BR trained 3000 iterations"),
]
COLUMNS = [
    ("Monte Carlo J_l", lambda s: s["final"]["leader_objective"]),
    ("Phi_twin(phi_k)", lambda s: s["final"]["twin_leader_objective"]),
    ("leader_gap", lambda s: s["final"]["leader_gap"]),
    ("price p(m_hat)", lambda s: s["final"]["price"]),
    ("twin price for phi_k", lambda s: s["final"]["twin_price"]),
    ("price_error", lambda s: s["final"]["price_error"]),
    ("mean_field_error", lambda s: s["final"]["mean_field_error"]),
    ("leader_schedule_error", lambda s: s["final"]["leader_schedule_error"]),
    ("gradient_alignment (start -> end)", None),
    ("learned-BR exploitability", lambda s: s["learned_best_response"]["exploitability"]),
    ("twin exploitability", lambda s: s["final"]["twin_exploitability"]),
    ("seconds", lambda s: s["seconds"]),
]
BEGIN, END = "<!-- continuous results: begin -->", "<!-- continuous results: end -->"


def run_one(seed: int, root: Path) -> dict:
    run_dir = root / f"seed{seed}"
    summary = run_dir / "summary.json"
    if not summary.exists():
        cmd = [sys.executable, "-m", "deep_smfg.cli", "train", f"seed={seed}", "progress_bar=false",
               f"run_dir={run_dir}"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"seed {seed} failed:\n{out.stderr[-2000:]}")
    return json.loads(summary.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("docs"))
    args = p.parse_args()
    root = Path("runs/results/continuous")
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda s: run_one(s, root), range(args.seeds)))
    s0 = runs[0]
    lines = [BEGIN, "", "## Continuous Equilibrium Pricing: the main job", "",
             "Command (3 seeds, 2 runs at a time; each run is `deep-smfg train seed=<k>`, the README's main job):", "",
             "```bash",
             f".venv/bin/python scripts/run_results_continuous.py --seeds {args.seeds} --jobs {args.jobs}", "```", "",
             f"{s0['iterations']} iterations, N = 64 chains, {s0['samples']} samples per run. "
             "Reference: the discretised "
             f"twin ({s0['twin']['grid']} inventory levels, 9 x 9 follower actions, 9 subsidies) solved exactly: "
             f"Phi*_twin = {s0['twin']['phi_star']:.4f}, Phi_twin(uniform) = {s0['twin']['phi_uniform']:.4f}, "
             f"price under Phi*'s leader {s0['twin']['price_star']:.4f}. Mean ± standard deviation over seeds "
             f"0-{args.seeds - 1}; seconds are wall time per run with two runs sharing the 2-core machine.", "",
             "| " + " | ".join(c for c, _ in COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    cells = []
    for _name, fn in COLUMNS:
        if fn is None:
            start = [r["initial"]["gradient_alignment"] for r in runs]
            end = [r["final"]["gradient_alignment"] for r in runs]
            cells.append(f"{statistics.mean(start):.2f} -> {fmt(end)}")
        else:
            cells.append(fmt([fn(r) for r in runs]))
    lines += ["| " + " | ".join(cells) + " |", "", "### Tolerances (stated, then checked on every seed)", "",
              "| criterion | definition | tolerance | worst seed | met |", "| --- | --- | --- | --- | --- |"]
    for name, fn, bound, text in TOLERANCES:
        vals = [fn(r) for r in runs]
        worst = max(vals)
        lines.append(f"| {name} | {text} | <= {bound:g} | {worst:.4g} | {'yes' if worst <= bound else '**no**'} |")
    for png in ("convergence.png", "mean_field.png", "plots/price.png", "plots/leader_schedule.png",
                "plots/follower_policy.png"):
        shutil.copy(root / "seed0" / png, args.out / f"continuous_{Path(png).name}")
    lines += ["", "Plots of seed 0: `docs/continuous_convergence.png`, `docs/continuous_price.png`, "
              "`docs/continuous_leader_schedule.png`, `docs/continuous_follower_policy.png`, "
              "`docs/continuous_mean_field.png`.",
              "", END]
    block = "\n".join(lines)
    doc = args.out / "results.md"
    text = doc.read_text() if doc.exists() else ""
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S) if BEGIN in text \
        else text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)
    print(block)


if __name__ == "__main__":
    main()
