"""Iterations and seconds to exploitability 1e-3: our Nash solvers on Four Rooms, MFGLib's and OpenSpiel's on theirs.

    python scripts/bench_mfg.py [--threads 1] [--repeats 10] [--tol 1e-3] [--fine-tol 1e-8]
    PYTHONPATH=/tmp/bench_extras .venv/bin/python scripts/bench_mfg.py   # with both libraries (below)

Ours: every solver config in ``configs/solver/*.yaml``, built as ``deep-smfg solve`` builds it, run
through ``run_solver`` on ``four_rooms`` at the uniform leader (float64, cold start) until the
exploitability drops below ``--tol`` (then ``--fine-tol``). Seconds are solver time only (the loop's
metrics are not counted); median and min of ``--repeats`` runs after one warm-up (the min is the
least disturbed run on a shared machine). A solver that has not
reached ``--fine-tol`` after ``--fine-max-iter`` steps is reported once, with its final value.

Theirs (optional extras of this script only, never dependencies of the package): MFGLib 0.3.0 on its
``crowd_motion`` (defaults: 20 x 20 grid, 5 actions, T = 3) and OpenSpiel 2.0.2 on
``mfg_crowd_modelling_2d`` with its ``FOUR_ROOMS`` layout (the same 13 x 13 walls and start cell as
ours, horizon 40), each solver at its default settings. One run each, capped by ``--their-iterations``
and ``--their-seconds``; seconds are the solver's own steps, the exploitability evaluation excluded
(except MFGLib's MFOMO, timed by its own ``solve``). Without a library the script prints how to get it
and skips it. Install them outside the project's environment, with ``--no-deps`` so that its torch
and numpy are neither replaced nor touched, then run with ``PYTHONPATH=/tmp/bench_extras``:

    .venv/bin/pip install --no-deps --target /tmp/bench_extras mfglib==0.3.0 open_spiel==2.0.2 \\
        "scipy>=1.17,<2" "optuna>=3,<4" "osqp<1" qdldl "rich>=14,<15" markdown-it-py mdurl \\
        colorlog alembic sqlalchemy mako absl-py ml-collections

The three exploitabilities measure different games in different units (docs/performance.md): ours is
an entropy-regularised discounted (gamma = 0.9) gap at the stationary mean field, theirs are
unregularised finite-horizon gaps along a mean-field flow. The "uniform policy" column gives each
game's scale.
"""

from __future__ import annotations

import argparse
import statistics
import time
from importlib import metadata
from pathlib import Path

import torch

from deep_smfg import exact
from deep_smfg.cli import compose_config
from deep_smfg.games import make_game
from deep_smfg.solve import make_solver
from deep_smfg.solvers import run_solver

GAME = "four_rooms"
SOLVER_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "solver"


def fmt_ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def fmt_times(seconds: list[float]) -> str:
    """Median / min in ms: the min is the least disturbed run on a shared machine."""
    return f"{fmt_ms(statistics.median(seconds))} / {fmt_ms(min(seconds))}"


def not_reached(iterations: int, seconds: float, value: float) -> str:
    return f"not reached in {iterations} iterations ({seconds:.2f} s), final {value:.3g}"


# ---------------------------------------------------------------------------------------------- ours


def solver_names() -> list[str]:
    return sorted(p.stem for p in SOLVER_CONFIGS.glob("*.yaml"))


def time_to(solver, game, phi, tol: float, max_iter: int, repeats: int) -> tuple[int, list[float], float, float]:
    """(iterations, seconds per repeat (empty when not reached), seconds of the first run, final exploitability)."""
    first = run_solver(solver, game, phi, max_iter, tol=tol)
    final = first.history[-1]["exploitability"]
    if not first.converged:
        return first.iterations, [], first.seconds, final
    seconds = []
    for _ in range(repeats):
        result = run_solver(solver, game, phi, max_iter, tol=tol)
        assert result.iterations == first.iterations, "the solvers are deterministic"
        seconds.append(result.seconds)
    return first.iterations, seconds, first.seconds, final


def bench_ours(args) -> list[tuple[str, float | None]]:
    game = make_game(GAME)
    phi = game.uniform_leader(torch.float64)
    uniform = torch.full((game.n_states, game.n_actions), 1 / game.n_actions, dtype=torch.float64)
    scale = exact.follower_exploitability(game, uniform, phi)
    print(f"\n## Ours: {GAME} ({game.n_states} states x {game.n_actions} actions), float64, median of {args.repeats}")
    print(f"Exploitability of the uniform policy: {scale:.3g}\n")
    print(f"| solver | iterations to {args.tol:g} | ms to {args.tol:g} (median / min) "
          f"| iterations to {args.fine_tol:g} | ms to {args.fine_tol:g} (median / min) |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for name in solver_names():
        cfg = compose_config("solve", [f"solver={name}", f"game={GAME}"])
        solver, _ = make_solver(cfg.solver)
        run_solver(solver, game, phi, 5)  # warm-up
        it, sec, first, final = time_to(solver, game, phi, args.tol, args.max_iter, args.repeats)
        coarse = (f"{it} | {fmt_times(sec)}" if sec
                  else f"{not_reached(it, first, final)} | -")
        fit, fsec, ffirst, ffinal = time_to(solver, game, phi, args.fine_tol, args.fine_max_iter, args.repeats)
        fine = (f"{fit} | {fmt_times(fsec)}" if fsec
                else f"{not_reached(fit, ffirst, ffinal)} | -")
        print(f"| {name} | {coarse} | {fine} |", flush=True)
        rows.append((name, statistics.median(sec) if sec else None))
    return rows


# -------------------------------------------------------------------------------------------- theirs


def drive(init, step, exploitability, tol: float, max_iter: int, max_seconds: float) -> dict:
    """Step until exploitability < tol, max_iter steps or max_seconds of solver time; only init/step are timed."""
    t0 = time.perf_counter()
    state = init()
    seconds = time.perf_counter() - t0
    value = exploitability(state)
    k = 0
    while value >= tol and k < max_iter and seconds < max_seconds:
        t0 = time.perf_counter()
        state = step(state)
        seconds += time.perf_counter() - t0
        k += 1
        value = exploitability(state)
    return dict(iterations=k, seconds=seconds, value=value, reached=value < tol)


def their_row(library: str, game: str, solver: str, scale: float, res: dict) -> str:
    if res["reached"]:
        cells = f"{res['iterations']} | {res['seconds']:.2f} | {res['value']:.3g}"
    else:
        cells = f"{not_reached(res['iterations'], res['seconds'], res['value'])} | - | {res['value']:.3g}"
    return f"| {library} | {game} | {solver} | {scale:.3g} | {cells} |"


THEIR_HEADER = ("| library | game | solver (defaults) | uniform policy | iterations | seconds | final value |\n"
                "| --- | --- | --- | --- | --- | --- | --- |")


def bench_mfglib(args) -> list[tuple[str, dict]]:
    try:
        from mfglib.alg import MFOMO, FictitiousPlay, OnlineMirrorDescent, PriorDescent
        from mfglib.env import Environment
        from mfglib.scoring import exploitability_score
    except ImportError as err:
        print(f"\nMFGLib not installed ({err}): pip install mfglib==0.3.0 (see this script's docstring)")
        return []
    env = Environment.crowd_motion()  # T=3, 20 x 20, 5 actions: a 2-D crowd with -log(mu) aversion
    game = f"crowd_motion (T={env.T}, {env.n_states} x {env.n_actions})"
    pi0 = torch.ones((env.T + 1,) + env.S + env.A) / env.n_actions
    scale = exploitability_score(env, pi0)
    print(f"\n## MFGLib {metadata.version('mfglib')}: {game}, one run each\n")
    print(THEIR_HEADER)
    results = []
    for alg in (FictitiousPlay(), OnlineMirrorDescent(), PriorDescent()):
        res = drive(lambda alg=alg: alg.init_state(env, pi0.clone()),
                    lambda state, alg=alg: alg.step_next_state(state, None, None),
                    lambda state: exploitability_score(env, state.pi),
                    args.tol, args.their_iterations, args.their_seconds)
        print(their_row("MFGLib", game, str(alg), scale, res), flush=True)
        results.append((type(alg).__name__, res))
    # MFOMO is not an `Iterative`: its own solve() times it, exploitability evaluations included.
    _, expls, rts = MFOMO().solve(env, max_iter=args.their_iterations, atol=args.tol, rtol=None)
    res = dict(iterations=len(expls) - 1, seconds=rts[-1], value=expls[-1], reached=expls[-1] < args.tol)
    print(their_row("MFGLib", game, "MFOMO() [time incl. exploitability]", scale, res), flush=True)
    results.append(("MFOMO", res))
    return results


def bench_openspiel(args) -> list[tuple[str, dict]]:
    try:
        import pyspiel
        from open_spiel.python import policy as policy_lib
        from open_spiel.python.mfg.algorithms import fictitious_play, fixed_point, mirror_descent, nash_conv
        from open_spiel.python.mfg.games import crowd_modelling_2d
    except ImportError as err:
        print(f"\nOpenSpiel not installed ({err}): pip install open_spiel==2.0.2 (see this script's docstring)")
        return []
    g = pyspiel.load_game("mfg_crowd_modelling_2d", crowd_modelling_2d.FOUR_ROOMS)
    game = f"crowd_modelling_2d FOUR_ROOMS (horizon {crowd_modelling_2d.FOUR_ROOMS['horizon']})"
    scale = nash_conv.NashConv(g, policy_lib.UniformRandomPolicy(g)).nash_conv()
    print(f"\n## OpenSpiel {metadata.version('open_spiel')}: {game}, one run each\n")
    print(THEIR_HEADER)
    results = []
    makers = (("fictitious_play.FictitiousPlay", lambda: fictitious_play.FictitiousPlay(g)),
              ("mirror_descent.MirrorDescent", lambda: mirror_descent.MirrorDescent(g)),
              ("fixed_point.FixedPoint", lambda: fixed_point.FixedPoint(g)))

    def step(alg):
        alg.iteration()
        return alg

    for name, make in makers:
        res = drive(make, step, lambda alg: nash_conv.NashConv(g, alg.get_policy()).nash_conv(),
                    args.tol, args.their_iterations, args.their_seconds)
        print(their_row("OpenSpiel", game, name, scale, res), flush=True)
        results.append((name, res))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--fine-tol", type=float, default=1e-8)
    parser.add_argument("--max-iter", type=int, default=5000, help="our cap to --tol")
    parser.add_argument("--fine-max-iter", type=int, default=1000, help="our cap to --fine-tol")
    parser.add_argument("--their-iterations", type=int, default=300)
    parser.add_argument("--their-seconds", type=float, default=30.0, help="solver time cap per library solver")
    parser.add_argument("--only", nargs="+", choices=["ours", "mfglib", "openspiel"],
                        default=["ours", "mfglib", "openspiel"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, target exploitability < {args.tol:g}")
    ours = bench_ours(args) if "ours" in args.only else []
    theirs = []
    if "mfglib" in args.only:
        theirs += [("MFGLib " + name, res) for name, res in bench_mfglib(args)]
    if "openspiel" in args.only:
        theirs += [("OpenSpiel " + name, res) for name, res in bench_openspiel(args)]

    reached = [(sec, name) for name, sec in ours if sec is not None]
    if reached:
        sec, name = min(reached)
        print(f"\nOur fastest to {args.tol:g}: {name}, {fmt_ms(sec)} ms (goal: under 20 ms): "
              f"{'met' if sec < 0.020 else 'not met'}.")
        for their_name, res in theirs:
            if res["reached"]:
                verdict = "ahead" if sec < res["seconds"] else "behind"
                print(f"  {their_name}: {res['seconds']:.2f} s to {args.tol:g} on its own game: ours {verdict}.")
            else:
                print(f"  {their_name}: did not reach {args.tol:g} ({res['iterations']} iterations, "
                      f"{res['seconds']:.2f} s).")


if __name__ == "__main__":
    main()
