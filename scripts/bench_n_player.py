"""Time the n-player simulation: n players over a number of periods, for a few numbers of games.

    python scripts/bench_n_player.py [--n 10000] [--periods 1000] [--threads 1]

The game is finite Equilibrium Pricing at its exact equilibrium for the uniform leader; the deviation is the
follower itself (the cost does not depend on it). One warm-up run, then the median of three.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from deep_smfg import exact
from deep_smfg.evaluation.n_player import horizon, simulate
from deep_smfg.games import make_game


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--periods", type=int, default=1000)
    parser.add_argument("--ghosts", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    game = make_game("equilibrium_pricing")
    phi = game.uniform_leader(torch.float64)
    pi = exact.solve_equilibrium(game, phi).pi
    burn_in = args.periods - horizon(game.gamma)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, n={args.n}, periods={args.periods}, "
          f"ghosts={args.ghosts}")
    print("| games | seconds (median of 3) |")
    print("| --- | --- |")
    for games in (1, 4, 16):
        simulate(game, pi, phi, pi, args.n, games, args.ghosts, burn_in)
        times = []
        for seed in range(3):
            t0 = time.perf_counter()
            simulate(game, pi, phi, pi, args.n, games, args.ghosts, burn_in, seed=seed)
            times.append(time.perf_counter() - t0)
        print(f"| {games} | {statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
