"""Time the exact solvers per finite game: one Phi + exploitability evaluation, one Stackelberg gradient.

    python scripts/bench_exact.py [--threads 1] [--repeats 20] [--dtype float64]

"Phi + exploitability" = solve the equilibrium at the uniform leader (cold start), evaluate Phi,
then the follower exploitability of the equilibrium policy. "exploitability" alone = the metric for a
given follower policy (what training logs every E iterations). "gradient" = the implicit
Stackelberg gradient at a solved equilibrium. Median of --repeats runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from deep_smfg import exact
from deep_smfg.games import GAMES, make_game


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, dtype={args.dtype}, median of {args.repeats}")
    print("| game | S x A x B | fixed-point iters | Phi + exploitability (ms) | exploitability (ms) "
          "| Stackelberg gradient (ms) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in GAMES:
        game = make_game(name)
        phi = game.uniform_leader(dtype)
        eq = exact.solve_equilibrium(game, phi)

        def phi_and_exploitability():
            e = exact.solve_equilibrium(game, phi)
            exact.leader_objective(game, phi, eq=e)
            exact.follower_exploitability(game, e.pi, phi)

        t_full = median_ms(phi_and_exploitability, args.repeats)
        t_expl = median_ms(lambda: exact.follower_exploitability(game, eq.pi, phi), args.repeats)
        t_grad = median_ms(lambda: exact.stackelberg_gradient(game, phi, eq=eq), max(3, args.repeats // 4))
        size = f"{game.n_states} x {game.n_actions} x {game.n_leader_actions}"
        print(f"| {name} | {size} | {eq.iterations} | {t_full:.2f} | {t_expl:.3f} | {t_grad:.2f} |")


if __name__ == "__main__":
    main()
