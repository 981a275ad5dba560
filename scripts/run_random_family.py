"""The leaders on the random SMFG family (game=random_smfg; docs/results.md, "The random family").

:func:`family` fixes 24 games before anything runs on them: sizes, how strongly the followers' rewards read ``mu``,
the leader's channel, whether the transitions read ``mu`` (a third of them), and what the leader cares about, each
knob cycling on its own period so that the knobs are not confounded. Every (game, learner seed, leader) runs the
default config of its ``algo`` for 20,000 iterations (``--iterations``); a run that fails is a row that says so, and
the script then exits with an error. The table reports the final leader gap as a share of the gain
``Phi* - Phi(uniform)`` and the follower's exploitability, beside what the exact ascent from the uniform leader
reaches (:func:`reference`: a game with a local optimum shows there).

    python scripts/run_random_family.py --games 0-23 --seeds 0 1 2 --leaders partial total_sampled total_exact
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run_results import train_once  # noqa: E402  (trains unless the folder holds a completed run)

SIZES = [(3, 2, 2), (4, 3, 3), (6, 3, 3), (8, 3, 2)]
REWARD_COUPLING = [0.25, 1.0, 2.0]
CHANNELS = ["rewards", "transitions", "both"]
LEADERS = {"partial": ["algo=ac_smfg"], "total_sampled": ["algo=ac_smfg_total"],
           "total_exact": ["algo=ac_smfg_total", "algo.leader_gradient=total_exact"]}


def family(i: int) -> dict:
    """Game ``i`` of the family (its knobs; ``game.seed = 100 + i``)."""
    S, A, B = SIZES[i % 4]
    return dict(seed=100 + i, n_states=S, n_actions=A, n_leader_actions=B, reward_coupling=REWARD_COUPLING[i % 3],
                leader_channel=CHANNELS[(i // 3) % 3], transition_coupling=0.5 if (i + i // 3) % 3 == 2 else 0.0,
                welfare_weight=0.5 if i % 2 else 0.0)


def run(i: int, seed: int, leader: str, out: Path, iterations: int, train: bool = True,
        overrides: tuple[str, ...] = ()) -> dict:
    run_dir = out / f"game{i:02d}_{leader}_seed{seed}"
    summary = run_dir / "summary.json"
    row = {"game": i, "seed": seed, "leader": leader}
    if not train and not (summary.exists() and json.loads(summary.read_text()).get("status") == "completed"):
        return {**row, "not run": "--no-run"}
    knobs = [f"game.{k}={v}" for k, v in family(i).items()]
    try:
        d = train_once(["game=random_smfg", *knobs, *LEADERS[leader], f"seed={seed}", f"algo.iterations={iterations}",
                        *overrides],
                       run_dir)
    except RuntimeError as exc:
        return {**row, "failed": str(exc).splitlines()[-1]}
    gain = d["phi_star"] - d["initial"]["leader_objective"]
    return {**row, "gap_share": d["final"]["leader_gap"] / gain,
            "exploitability": d["final"]["follower_exploitability"], "seconds": d["seconds"]}


def reference(i: int, out: Path) -> dict:
    """``Phi*`` of game ``i`` (the train job's multi-start reference) and what its first start, the exact ascent from
    the uniform leader that every learner starts at, reaches: where that stops short, the game has a local optimum."""
    path = out / f"reference_game{i:02d}.json"
    if not path.exists():
        from deep_smfg import exact
        from deep_smfg.games import make_game

        game = make_game("random_smfg", **family(i))
        opt = exact.reference_leader_optimum(game)
        uniform = exact.leader_objective(game, game.uniform_leader())
        path.write_text(json.dumps({"phi_star": opt.value, "uniform": uniform, "starts": opt.start_values}))
    d = json.loads(path.read_text())
    return {**d, "from_uniform_share": (d["phi_star"] - d["starts"][0]) / (d["phi_star"] - d["uniform"])}


def games(spec: str) -> list[int]:
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default="0-23")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--leaders", nargs="+", default=list(LEADERS), choices=list(LEADERS))
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/random_family"))
    parser.add_argument("--plot", type=Path, default=Path("docs/random_family.png"))
    parser.add_argument("--no-run", action="store_true", help="report the finished runs only")
    parser.add_argument("--overrides", nargs="*", default=[], help="more overrides for every run (a separate --out)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reference's ascent from uniform (a multi-start exact ascent per game)")
    args = parser.parse_args()
    jobs = [(i, s, leader) for i in games(args.games) for s in args.seeds for leader in args.leaders]
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda j: run(*j, args.out.resolve(), args.iterations, not args.no_run,
                                     tuple(args.overrides)), jobs))
    nan = {"from_uniform_share": float("nan")}
    refs = {i: nan if args.no_reference else reference(i, args.out) for i in games(args.games)}
    (args.out / "rows.json").write_text(json.dumps(rows, indent=1))
    print("| game | S, A, B | reward coupling | channel | transitions read mu | welfare | reference's ascent from "
          "uniform: gap / gain | leader | seed | gap / gain | exploitability |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        k = family(r["game"])
        head = (f"| {r['game']} | {k['n_states']}, {k['n_actions']}, {k['n_leader_actions']} | "
                f"{k['reward_coupling']} | {k['leader_channel']} | {'yes' if k['transition_coupling'] else 'no'} | "
                f"{k['welfare_weight']} | "
                f"{refs[r['game']]['from_uniform_share']:.4f} | {r['leader']} | {r['seed']} |")
        failed = next((why for why in ("failed", "not run") if why in r), None)
        print(head + (f" {failed} | |" if failed else f" {r['gap_share']:.4f} | {r['exploitability']:.4f} |"))
    print()
    print(summary(rows, refs))
    plot(rows, refs, args.plot)
    failed = [f"game {r['game']} {r['leader']} seed {r['seed']}: {r['failed']}" for r in rows if "failed" in r]
    if failed:
        sys.exit("runs that failed:\n" + "\n".join(failed))


def plot(rows: list[dict], refs: dict[int, dict], path: Path) -> None:
    """Final gap / gain per game (mean over seeds) for each leader, clipped to [-0.1, 1], with the exact ascent from
    the uniform leader as a marker and the 5% and 1% bounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games_run = sorted(refs)
    leaders = [name for name in LEADERS if any(r["leader"] == name for r in rows)]
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(games_run)), 4))
    width = 0.8 / len(leaders)
    for j, leader in enumerate(leaders):
        values = []
        for i in games_run:
            gaps = [r["gap_share"] for r in rows if r["game"] == i and r["leader"] == leader and "gap_share" in r]
            values.append(min(max(sum(gaps) / len(gaps), -0.1), 1.0) if gaps else float("nan"))
        ax.bar([i + (j - (len(leaders) - 1) / 2) * width for i in games_run], values, width, label=leader)
    ax.scatter(games_run, [min(refs[i]["from_uniform_share"], 1.0) for i in games_run], marker="_", s=200,
               color="black", label="reference's exact ascent from uniform (its first start)", zorder=3)
    for bound, style in ((0.05, "--"), (0.01, ":")):
        ax.axhline(bound, color="grey", linestyle=style, linewidth=0.8)
    ax.set_xticks(games_run)
    ax.set_xlabel("game of the family (scripts/run_random_family.py)")
    ax.set_ylabel("final leader gap / (Phi* - Phi(uniform))")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def summary(rows: list[dict], refs: dict[int, dict]) -> str:
    """The issue's acceptance counts: ``total_sampled`` within 5% of the gain, ``total_exact`` within 1%, and
    ``total_sampled`` never more than 1% of the gain worse than ``partial``; on every (game, seed), and on the games
    whose reference ascent from the uniform leader (the start every learner has) reaches ``Phi*`` within 1%."""
    by = {(r["game"], r["seed"], r["leader"]): r for r in rows}
    lines = []
    blocks = [("all", lambda i: True)]
    if not any(math.isnan(ref["from_uniform_share"]) for ref in refs.values()):  # skipped with --no-reference
        blocks.append(("where the reference's ascent from uniform reaches Phi* within 1%",
                       lambda i: refs[i]["from_uniform_share"] <= 0.01))
    for label, keep in blocks:
        for leader, bound in (("total_sampled", 0.05), ("total_exact", 0.01), ("partial", 0.05)):
            mine = [r for r in rows if r["leader"] == leader and keep(r["game"])]
            ran = [r for r in mine if "gap_share" in r]
            met = sum(r["gap_share"] <= bound for r in ran)
            lines.append(f"- {label}: {leader} within {bound:.0%} of the gain on {met} of {len(ran)} (game, seed) "
                         f"pairs ({len(mine) - len(ran)} failed or not run)")
        pairs = [(r, by.get((r["game"], r["seed"], "partial"))) for r in rows
                 if r["leader"] == "total_sampled" and "gap_share" in r and keep(r["game"])]
        worse = [r["game"] for r, p in pairs if p and "gap_share" in p and r["gap_share"] > p["gap_share"] + 0.01]
        lines.append(f"- {label}: total_sampled more than 1% of the gain worse than partial on {len(worse)} of "
                     f"{len(pairs)} pairs (games {worse})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
