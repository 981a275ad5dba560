"""The built-in games train the same before and after a change: state dicts and metrics, bit for bit.

    python scripts/check_same_training.py record OUT      # train the cases below into OUT/<case>/
    python scripts/check_same_training.py compare A B     # exit 1 unless A and B hold the same results

Run ``record`` on the tree before a change (a ``git worktree`` of the old commit, with this script copied in) and on
the tree after it, then ``compare``. Each case is 300 iterations through ``deep-smfg train`` (csv logger, metrics
every 100 iterations): a finite game with tabular modules, the same with MLP modules, and the continuous main job.
Two more cases run the baselines MF-TRPO and Cui-Koeppl. Compared: every tensor of the final checkpoint's
``state_dict`` (``torch.equal``; tensors that only one side holds fail the case, except those listed in
``REMOVED_OK``), every column of ``metrics.csv`` and every number of ``summary.json`` (the report: the learned best
response included), except the wall-clock ones (``wall_time``, ``*seconds*``) and the folder's own records.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import torch

SHORT = ["algo.iterations=300", "algo.eval_every=100", "algo.checkpoint_every=100", "logger=csv",
         "progress_bar=false"]
CASES = {
    "finite_tabular": ["game=equilibrium_pricing"],
    "finite_mlp": ["game=equilibrium_pricing", "model=mlp"],
    "main_job": ["algo.best_response_iterations=200"],
    "mf_trpo": ["game=equilibrium_pricing", "algo=mf_trpo"],
    "cui_koeppl": ["game=equilibrium_pricing", "algo=cui_koeppl"],
}
# tensors a change removed on purpose (issue 19: learners no longer carry critics they never train)
REMOVED_OK = {"mf_trpo": ("critic_f.", "critic_l."), "cui_koeppl": ("critic_f.", "critic_l.")}
CLOCK = ("wall_time", "seconds", "time", "started", "run_dir", "parts")


def record(out: Path) -> None:
    for case, overrides in CASES.items():
        cmd = [sys.executable, "-m", "deep_smfg.cli", "train", *overrides, *SHORT, f"run_dir={out / case}"]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if not any(c in k for c in CLOCK)} for row in csv.DictReader(f)]


def _state(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


def _summary(run: Path) -> dict:
    def flat(x, prefix=""):
        if isinstance(x, dict):
            kept = {k: v for k, v in x.items() if not any(c in k for c in CLOCK)}
            return {k2: v2 for k, v in kept.items() for k2, v2 in flat(v, f"{prefix}{k}.").items()}
        return {prefix[:-1]: x}

    return flat(json.loads((run / "summary.json").read_text()))


def compare(a: Path, b: Path) -> int:
    bad = 0
    for case in CASES:
        sa, sb = _state(a / case), _state(b / case)
        removed = [k for k in sorted(set(sa) ^ set(sb)) if k.startswith(REMOVED_OK.get(case, ()))]
        keys = sorted((set(sa) | set(sb)) - set(removed))
        differ = [k for k in keys if k not in sa or k not in sb or not torch.equal(sa[k], sb[k])]
        ra, rb = _rows(a / case), _rows(b / case)
        rows_same = ra == rb
        ya, yb = _summary(a / case), _summary(b / case)
        summary_differ = sorted(k for k in set(ya) | set(yb) if ya.get(k) != yb.get(k))
        gone = f", {len(removed)} removed on purpose" if removed else ""
        print(f"{case}: {len(keys)} tensors, {len(differ)} differ{gone}; "
              f"metrics.csv {len(ra)} rows, {'identical' if rows_same else 'DIFFERENT'}; summary.json "
              f"{len(ya)} values, {len(summary_differ)} differ {summary_differ[:5]}")
        rows_same = rows_same and not summary_differ
        for k in differ[:5]:
            print(f"  differs: {k}")
        if not rows_same:
            pairs = list(zip(ra, rb, strict=False))
            cols = sorted({k for r in ra + rb for k in r if any(x.get(k) != y.get(k) for x, y in pairs)})
            print(f"  columns that differ: {cols[:10]}")
        bad += bool(differ) or not rows_same
    print("SAME" if not bad else f"{bad} case(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "record":
        record(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
