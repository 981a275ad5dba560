"""Run the main job (`deep-smfg train`, continuous Equilibrium Pricing) over seeds; write its section of
docs/results.md and copy the plots of seed 0 to docs/.

    python scripts/run_results_continuous.py [--seeds 3] [--jobs 2] [--out docs] [--algo NAME --gap-tolerance X]

Each run is exactly the README's main job plus `seed=<k>` and `run_dir=runs/results/continuous/seed<k>`
(default config: W&B offline). Tolerances are stated in TOLERANCES and checked on every seed.
`--algo NAME` runs the main job with `algo=NAME` instead (e.g. `ac_smfg_continuous_total`, the total-gradient
leader of docs/stackelberg_gradient.md) under `runs/results/continuous/NAME/seed<k>`, into its own section of
results.md; `--gap-tolerance` states its relative leader gap bound (0.15 by default, the partial leader's).
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


def relative_gap(s: dict) -> float:
    """``(Phi*_twin - Phi_twin(phi_k)) / (Phi*_twin - Phi_twin(uniform))``."""
    return s["final"]["leader_gap"] / (s["twin"]["phi_star"] - s["twin"]["phi_uniform"])


# (metric, how it is computed from a summary, bound, text); the relative leader gap's bound is --gap-tolerance
TOLERANCES = [
    ("price_error", lambda s: s["final"]["price_error"], 0.015,
     "\\|p(m_hat) - p(mu*_twin(phi_k))\\|: the learned price against the twin's exact equilibrium price for the "
     "learned leader"),
    ("mean_field_error", lambda s: s["final"]["mean_field_error"], 0.1,
     "W2 between N(m_hat, s_hat^2) and the moments of mu*_twin(phi_k)"),
    ("relative leader gap", relative_gap, 0.15, "(Phi*_twin - Phi_twin(phi_k)) / (Phi*_twin - Phi_twin(uniform))"),
    ("\\|J_l(MC) - Phi_twin(phi_k)\\|",
     lambda s: abs(s["final"]["leader_objective"] - s["final"]["twin_leader_objective"]), 0.25,
     "the Monte Carlo leader objective against the twin's exact objective of the same leader"),
    ("exploitability", lambda s: s["exploitability"]["exploitability"], 0.02,
     "the trusted measure: J_f(BR_twin) - J_f(pi_k) in the game at the induced mean field, BR_twin the twin's soft "
     "best response on the finest grid (docs/ac_smfg.md, \"How far from equilibrium\")"),
    ("learned-BR exploitability", lambda s: s["learned_best_response"]["exploitability"], 0.05,
     "J_f(BR) - J_f(pi_k) at the induced mean field, BR trained 3000 iterations"),
]
COLUMNS = [
    ("Monte Carlo J_l", lambda s: s["final"]["leader_objective"]),
    ("Phi_twin(phi_k)", lambda s: s["final"]["twin_leader_objective"]),
    ("leader_gap", lambda s: s["final"]["leader_gap"]),
    ("leader gap / gain", relative_gap),
    ("price p(m_hat)", lambda s: s["final"]["price"]),
    ("twin price for phi_k", lambda s: s["final"]["twin_price"]),
    ("price_error", lambda s: s["final"]["price_error"]),
    ("mean_field_error", lambda s: s["final"]["mean_field_error"]),
    ("leader_schedule_error", lambda s: s["final"]["leader_schedule_error"]),
    ("gradient_alignment (start -> end)", None),
    ("exploitability (trusted)", lambda s: s["exploitability"]["exploitability"]),
    ("its error bar", lambda s: s["exploitability"]["error_bar"]),
    ("learned-BR exploitability", lambda s: s["learned_best_response"]["exploitability"]),
    ("twin exploitability", lambda s: s["final"]["twin_exploitability"]),
    ("seconds", lambda s: s["seconds"]),
]
PER_SEED = [(name, fn) for name, fn in COLUMNS if name in (
    "Phi_twin(phi_k)", "leader gap / gain", "price_error", "mean_field_error", "exploitability (trusted)",
    "its error bar", "learned-BR exploitability", "twin exploitability", "seconds")]
BEGIN, END = "<!-- continuous results: begin -->", "<!-- continuous results: end -->"


def run_one(seed: int, root: Path, algo: str | None = None, model: str | None = None) -> dict:
    run_dir = root / f"seed{seed}"
    summary = run_dir / "summary.json"
    if not summary.exists() or json.loads(summary.read_text()).get("status") != "completed":
        cmd = [sys.executable, "-m", "deep_smfg.cli", "train", "eval_threads=1", *([f"algo={algo}"] if algo else []),
               *([f"model={model}"] if model else []), f"seed={seed}",
               "progress_bar=false", f"run_dir={run_dir}", "overwrite=true"]  # an unfinished run starts again
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"seed {seed} failed:\n{out.stderr[-2000:]}")
    return json.loads(summary.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.add_argument("--algo", default=None, help="algo=NAME instead of the main job's (default: the main job's)")
    p.add_argument("--model", default=None, help="model=NAME too (default: the game's own, cells on this game)")
    p.add_argument("--gap-tolerance", type=float, default=0.03,
                   help="bound on the relative leader gap (0.03: the main job's bar; 0.15 for the partial leader)")
    args = p.parse_args()
    root = Path("runs/results/continuous") / (args.algo or "")
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda s: run_one(s, root, args.algo, args.model), range(args.seeds)))
    s0 = runs[0]
    marker = "results" if args.algo is None else f"results, algo={args.algo}"
    begin, finish = BEGIN.replace("results", marker), END.replace("results", marker)
    algo = ("" if args.algo is None else f" algo={args.algo}") + ("" if args.model is None else f" model={args.model}")
    flags = ("" if args.algo is None else f" --algo {args.algo} --gap-tolerance {args.gap_tolerance:g}") + \
        ("" if args.model is None else f" --model {args.model}")
    tolerances = [(n, f, args.gap_tolerance if n == "relative leader gap" else b, t) for n, f, b, t in TOLERANCES]
    title, what = ("the main job", "the README's main job") if args.algo is None else \
        (f"the main job with `algo={args.algo}`", f"the main job with `algo={args.algo}`")
    lines = [begin, "", f"## Continuous Equilibrium Pricing: {title}", "",
             f"Command ({args.seeds} seeds, {args.jobs} run(s) at a time; each run is "
             f"`deep-smfg train{algo} seed=<k>`, {what}):", "",
             "```bash",
             f".venv/bin/python scripts/run_results_continuous.py --seeds {args.seeds} --jobs {args.jobs}{flags}",
             "```", "",
             f"{s0['iterations']} iterations, N = 64 chains, {s0['samples']} samples per run. "
             "Reference: the discretised "
             f"twin ({s0['twin']['grid']} inventory levels, 9 x 9 follower actions, 9 subsidies) solved exactly: "
             f"Phi*_twin = {s0['twin']['phi_star']:.4f}, Phi_twin(uniform) = {s0['twin']['phi_uniform']:.4f}, "
             f"price under Phi*'s leader {s0['twin']['price_star']:.4f}. Mean ± standard deviation over seeds "
             f"0-{args.seeds - 1}; seconds are wall time per run ({args.jobs} run(s) at a time on the 2-core "
             "machine).", "",
             "| " + " | ".join(c for c, _ in COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    cells = []
    for _name, fn in COLUMNS:
        if fn is None:
            start = [r["initial"]["gradient_alignment"] for r in runs]
            end = [r["final"]["gradient_alignment"] for r in runs]
            cells.append(f"{statistics.mean(start):.2f} -> {fmt(end)}")
        else:
            cells.append(fmt([fn(r) for r in runs]))
    lines += ["| " + " | ".join(cells) + " |", "", "Per seed:", "",
              "| seed | " + " | ".join(c for c, _ in PER_SEED) + " |", "| --- |" + " --- |" * len(PER_SEED)]
    lines += [f"| {k} | " + " | ".join(f"{fn(r):.4g}" for _, fn in PER_SEED) + " |" for k, r in enumerate(runs)]
    lines += ["", "### Tolerances (stated, then checked on every seed)", "",
              "| criterion | definition | tolerance | worst seed | met |", "| --- | --- | --- | --- | --- |"]
    for name, fn, bound, text in tolerances:
        vals = [fn(r) for r in runs]
        worst = max(vals)
        lines.append(f"| {name} | {text} | <= {bound:g} | {worst:.4g} | {'yes' if worst <= bound else '**no**'} |")
    prefix = "continuous_" if args.algo is None else f"continuous_{args.algo}_"
    names = []
    for png in ("convergence.png", "mean_field.png", "plots/price.png", "plots/leader_schedule.png",
                "plots/follower_policy.png"):
        names.append(f"`{args.out}/{prefix}{Path(png).name}`")
        shutil.copy(root / "seed0" / png, args.out / f"{prefix}{Path(png).name}")
    lines += ["", f"Plots of seed 0: {', '.join(names)}.", "", finish]
    block = "\n".join(lines)
    doc = args.out / "results.md"
    text = doc.read_text() if doc.exists() else ""
    text = re.sub(re.escape(begin) + ".*?" + re.escape(finish), lambda _: block, text, flags=re.S) if begin in text \
        else text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)
    print(block)


if __name__ == "__main__":
    main()
