"""Fault injection, end to end: the promises of docs/reliability.md, checked with the real command.

For each of six learners, one uninterrupted reference run, then ``--kills`` runs killed with SIGKILL at a random
moment (uniform over the reference run's timeline up to its summary: the start-up, the training, the
evaluations, the checkpoints and the report) and resumed with
``resume=last``: the final state (every tensor of last.ckpt), metrics.csv, the CSV logger's history and the
summary (less wall times) must equal the reference's. Then the other scenarios: SIGTERM and SIGINT (exit 143 and
130, ``status: interrupted``, resumed to the reference), two writers at once, a killed run resumed in a moved
folder, a second run into a used folder (refused; ``overwrite=true``), a truncated checkpoint, a garbage
config.yaml, and divergence. Every folder must hold one run, and no command may exit 0 without
``status: completed``. Prints a markdown table (the one in docs/reliability.md).

    python scripts/check_faults.py                 # 6 learners x 10 kills and the scenarios (about 40 minutes)
    python scripts/check_faults.py --kills 2 --learners ac_smfg   # a quick look
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

FINITE = ["algo.iterations=4000", "algo.checkpoint_every=400", "algo.eval_every=400", "algo.n_envs=16"]
LEARNERS = {
    "ac_smfg": ["game=equilibrium_pricing", *FINITE],
    "ac_smfg_total": ["game=equilibrium_pricing", "algo=ac_smfg_total", *FINITE],
    "mf_trpo": ["game=four_rooms", "algo=mf_trpo", "algo.iterations=2000", "algo.checkpoint_every=400",
                "algo.eval_every=400", "algo.n_envs=64"],
    "cui_koeppl": ["game=equilibrium_pricing", "algo=cui_koeppl", *FINITE],
    "adage": ["game=equilibrium_pricing", "algo=adage", *FINITE],
    "continuous (main job, learned BR)": ["algo.iterations=1200", "algo.checkpoint_every=200", "algo.eval_every=200",
                                          "algo.best_response_iterations=200"],
}
COMMON = ["seed=5", "logger=csv", "progress_bar=false"]
VOLATILE = ("seconds", "wall_time", "run_dir", "parts", "started")  # keys that differ between equal runs


class Check:
    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []
        self.exits: list[tuple[list[str], int, str | None]] = []  # each command: exit code, its summary's status

    def exited(self, args: list[str], code: int, folder: Path | None) -> None:
        self.exits.append((args, code, status_of(folder) if folder is not None else None))

    def row(self, scenario: str, ok: bool, detail: str) -> None:
        self.rows.append((scenario, "pass" if ok else "FAIL", detail))
        print(f"{'pass' if ok else 'FAIL'}  {scenario}: {detail}", flush=True)


def status_of(folder: Path) -> str | None:
    summary = folder / "summary.json"
    return json.loads(summary.read_text()).get("status") if summary.is_file() else None


def cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "deep_smfg.cli", *args]


def env() -> dict:
    e = dict(os.environ, PYTHONWARNINGS="ignore", WANDB_MODE="disabled")
    e.pop("DEEP_SMFG_RUN_DIR", None)
    return e


def run(check: Check, args: list[str], cwd: Path, run_dir: Path | None) -> subprocess.CompletedProcess:
    out = subprocess.run(cli(args), cwd=cwd, env=env(), capture_output=True, text=True, timeout=1800)
    check.exited(args, out.returncode, run_dir)
    return out


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(cli(args), cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if not any(v_ in k for v_ in VOLATILE)}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x


def table(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if "wall_time" not in k} for r in csv.DictReader(f)]


def fingerprint(folder: Path) -> dict:
    """What must be equal between an interrupted-and-resumed run and an uninterrupted one."""
    ckpt = torch.load(folder / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    return {"state": {k: v.clone() for k, v in ckpt["state_dict"].items()}, "metrics": table(folder / "metrics.csv"),
            "csv": table(folder / "csv" / "metrics.csv"),
            "summary": strip(json.loads((folder / "summary.json").read_text()))}


def equal(a: dict, b: dict) -> tuple[bool, str]:
    if a["state"].keys() != b["state"].keys():
        return False, "different state keys"
    bad = [k for k in a["state"] if not torch.equal(a["state"][k], b["state"][k])]
    if bad:
        return False, f"tensors differ: {bad[:3]}"
    for key in ("metrics", "csv", "summary"):
        if a[key] != b[key]:
            return False, f"{key} differs"
    return True, "bit-identical"


def one_run(folder: Path) -> tuple[bool, str]:
    """A folder holds one run: no versioned checkpoint names, the newest checkpoint is the summary's iteration,
    the CSV history has each step once, and the parts follow each other."""
    names = [p.name for p in (folder / "checkpoints").glob("*.ckpt")]
    if any(n.startswith("last-v") for n in names):
        return False, f"versioned checkpoints {names}"
    summary = json.loads((folder / "summary.json").read_text())
    newest = max(int(torch.load(folder / "checkpoints" / n, weights_only=False)["state_dict"]["iteration"])
                 for n in names)
    if summary.get("status") == "completed" and summary.get("iterations") != newest:
        return False, f"summary iteration {summary.get('iterations')} but newest checkpoint {newest}"
    steps = [r["step"] for r in table(folder / "csv" / "metrics.csv")]
    if len(steps) != len(set(steps)):
        return False, "csv history has repeated steps"
    starts = [json.loads(line)["from_iteration"] for line in (folder / "parts.jsonl").read_text().splitlines()]
    if starts != sorted(starts):
        return False, f"parts out of order {starts}"
    return True, "one run"


def kill_points(check: Check, name: str, args: list[str], work: Path, kills: int, rng: random.Random) -> None:
    ref = work / f"{name.split()[0]}_reference"
    t0 = time.monotonic()
    proc = start(["train", *args, *COMMON, f"run_dir={ref}"], work)
    while not (ref / "config.yaml").exists() and proc.poll() is None:
        time.sleep(0.05)
    t_folder = time.monotonic() - t0
    while status_of(ref) != "completed" and proc.poll() is None:  # "running" is written when the part starts
        time.sleep(0.05)
    t_end = time.monotonic() - t0  # the final summary is written: what is left is the interpreter's exit
    proc.wait()
    check.exited(["train", name], proc.returncode, ref)
    reference = fingerprint(ref)
    same, landed = 0, []
    for i in range(kills):
        folder = work / f"{name.split()[0]}_kill{i}"
        # a moment of the reference's timeline; after its config, timed from this run's own config, since
        # the reference answer (computed before the config is written) is cached after the first run
        moment = rng.uniform(0, t_end)
        proc = start(["train", *args, *COMMON, f"run_dir={folder}"], work)
        if moment < t_folder:
            time.sleep(moment)
        else:
            while not (folder / "config.yaml").exists() and proc.poll() is None:
                time.sleep(0.01)
            time.sleep(moment - t_folder)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        newest = sorted((folder / "checkpoints").glob("iteration_*.ckpt")) if folder.exists() else []
        landed.append("done" if status_of(folder) == "completed" else
                      max((int(p.stem.split("_")[1]) for p in newest), default=0))
        out = run(check, ["train", *args, *COMMON, f"run_dir={folder}", "resume=last"], work, folder)
        ok, why = equal(reference, fingerprint(folder)) if out.returncode == 0 else (False, out.stderr[-300:])
        whole, why_whole = one_run(folder)
        same += ok and whole
        if not (ok and whole):
            print(f"  kill {i} at {moment:.1f} s: {why}; {why_whole}", flush=True)
    check.row(f"kill -9 and resume: {name}", same == kills,
              f"{same}/{kills} bit-identical (killed at checkpoints {landed}; run {t_end:.0f} s)")


def signal_scenario(check: Check, sig: signal.Signals, args: list[str], ref: Path, work: Path) -> None:
    folder = work / f"signal_{sig.name}"
    proc = start(["train", *args, *COMMON, f"run_dir={folder}"], work)
    while not (folder / "checkpoints" / "last.ckpt").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(sig)  # after the first checkpoint: mid-run
    _, err = proc.communicate()
    check.exited(["train", sig.name], proc.returncode, folder)
    status = json.loads((folder / "summary.json").read_text()).get("status")
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    out = run(check, ["train", *args, *COMMON, f"run_dir={folder}", "resume=last"], work, folder)
    ok, why = equal(fingerprint(ref), fingerprint(folder)) if out.returncode == 0 else (False, out.stderr[-300:])
    good = proc.returncode == 128 + sig and status == "interrupted" and len(errors) == 1 and ok
    check.row(f"{sig.name} mid-run", good, f"exit {proc.returncode}, status {status}, {len(errors)} error line; "
                                         f"resumed: {why}")


def scenarios(check: Check, work: Path) -> None:
    args = LEARNERS["ac_smfg"]
    ref = work / "ac_smfg_reference"
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal_scenario(check, sig, args, ref, work)

    # two writers started together on one folder: the winner's run equals its uninterrupted reference
    fresh = work / "fresh_seed6"
    run(check, ["train", *args, *COMMON, "seed=6", f"run_dir={fresh}"], work, fresh)
    folder = work / "two_writers"
    a = start(["train", *args, *COMMON, f"run_dir={folder}"], work)
    b = start(["train", *args, *COMMON, "seed=6", f"run_dir={folder}"], work)
    _, err_b = b.communicate()
    _, err_a = a.communicate()
    check.exited(["train", "writer a"], a.returncode, folder)
    check.exited(["train", "writer b"], b.returncode, folder)
    codes = sorted([a.returncode, b.returncode])
    loser = err_b if b.returncode == 2 else err_a
    ok, why = equal(fingerprint(ref if a.returncode == 0 else fresh), fingerprint(folder))
    whole, _ = one_run(folder)
    check.row("two writers on one run_dir", codes == [0, 2] and "in use by another run" in loser and ok and whole,
              f"exit codes {codes}; the loser: {loser.strip().splitlines()[-1][:90]!r}; the folder: "
              f"{'seed 5' if a.returncode == 0 else 'seed 6'}'s run, {why}")

    # a killed run resumed in a moved folder
    folder, moved = work / "to_move", work / "moved" / "here"
    proc = start(["train", *args, *COMMON, f"run_dir={folder}"], work)
    while not (folder / "checkpoints" / "last.ckpt").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    moved.parent.mkdir(parents=True)
    shutil.move(folder, moved)
    out = run(check, ["train", *args, *COMMON, f"run_dir={moved}", "resume=last"], work, moved)
    ok, why = equal(fingerprint(ref), fingerprint(moved)) if out.returncode == 0 else (False, out.stderr[-300:])
    check.row("kill -9, move the folder, resume", ok and one_run(moved)[0], why)

    # a second run into a used folder: refused; overwrite=true replaces it
    folder = work / "used"
    shutil.copytree(ref, folder)
    before = sorted(p.name for p in folder.rglob("*"))
    refused = run(check, ["train", *args, *COMMON, "seed=6", f"run_dir={folder}"], work, None)
    unchanged = before == sorted(p.name for p in folder.rglob("*"))
    replaced = run(check, ["train", *args, *COMMON, "seed=6", f"run_dir={folder}", "overwrite=true"], work, folder)
    ok, why = equal(fingerprint(fresh), fingerprint(folder)) if replaced.returncode == 0 else (False, "failed")
    check.row("second run into a used folder", refused.returncode == 2 and unchanged and ok,
              f"without overwrite: exit {refused.returncode}, folder unchanged: {unchanged}; overwrite=true: {why}")

    # a truncated checkpoint
    folder = work / "truncated"
    shutil.copytree(ref, folder)
    last = folder / "checkpoints" / "last.ckpt"
    data = last.read_bytes()
    last.unlink()
    last.write_bytes(data[: len(data) // 2])
    ev = run(check, ["evaluate", f"run_dir={folder}", "games=2"], work, None)
    res = run(check, ["train", *args, *COMMON, "algo.iterations=4400", f"run_dir={folder}", "resume=last"], work, None)
    named = all("last.ckpt is corrupt" in o.stderr and "Intact checkpoints: iteration_3600.ckpt" in o.stderr
                for o in (ev, res))
    check.row("truncated last.ckpt", ev.returncode == res.returncode == 2 and named,
              f"evaluate exit {ev.returncode}, resume exit {res.returncode}; corrupt file named, intact ones listed:"
              f" {named}")

    # a garbage config.yaml: evaluate refuses it; a resume reads the config the checkpoint records and repairs it
    folder = work / "garbage"
    shutil.copytree(ref, folder)
    (folder / "config.yaml").write_text("game: [unclosed\n  : : -\n")
    ev = run(check, ["evaluate", f"run_dir={folder}", "games=2"], work, None)
    res = run(check, ["train", *args, *COMMON, "algo.iterations=4400", f"run_dir={folder}", "resume=last"], work,
              folder)
    repaired = res.returncode == 0 and "algo" in (folder / "config.yaml").read_text()
    last_line = ev.stderr.strip().splitlines()[-1]
    check.row("garbage config.yaml", ev.returncode == 2 and "config.yaml" in ev.stderr and repaired
              and status_of(folder) == "completed",
              f"evaluate exit {ev.returncode}: {last_line[:70]!r}; resume=last exit {res.returncode}, config.yaml "
              f"rewritten from the checkpoint's record: {repaired}")

    # divergence
    folder = work / "diverged"
    steps = [f"algo.step_sizes.{g}.c={c}" for g, c in (("critic", 1e30), ("follower", 1e30), ("mean_field", 1),
                                                        ("leader", 1))]
    out = run(check, ["train", *args, *COMMON, "algo.optimizer=adam", *steps, f"run_dir={folder}"], work, folder)
    status = json.loads((folder / "summary.json").read_text()).get("status")
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    check.row("divergence (non-finite loss)", out.returncode == 1 and status == "diverged" and len(errors) == 1
              and "Traceback" not in out.stderr, f"exit {out.returncode}, status {status}: {errors[0][:80]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="random kill points per learner")
    parser.add_argument("--learners", nargs="*", default=list(LEARNERS), help="a subset of: " + ", ".join(LEARNERS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--work", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--no-scenarios", action="store_true", help="only the kill points")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="deep_smfg_faults_"))
    work.mkdir(parents=True, exist_ok=True)
    rng, check, t0 = random.Random(args.seed), Check(), time.monotonic()
    for name in args.learners:
        kill_points(check, name, LEARNERS[name], work, args.kills, rng)
    if not args.no_scenarios and "ac_smfg" in args.learners:
        scenarios(check, work)
    lying = [(a, rc, status) for a, rc, status in check.exits if rc == 0 and status != "completed"]
    check.row("no exit 0 without status: completed", not lying, f"{len(check.exits)} commands, {len(lying)} lied")
    print(f"\n{len(check.rows)} checks in {time.monotonic() - t0:.0f} s (work folder {work})\n")
    print("| scenario | result | measured |\n| --- | --- | --- |")
    for scenario, result, detail in check.rows:
        print(f"| {scenario} | {result} | {detail} |")
    return 0 if all(r == "pass" for _, r, _ in check.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
