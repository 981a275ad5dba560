"""The optimisers' step implementations on the AC-SMFG iteration: PyTorch's default (one tensor at a time on the
CPU), ``foreach`` (multi-tensor) and ``fused``; whether each leaves the learner bit-identical, and its time.

    python scripts/bench_optimizer_steps.py [--iterations 300]

Each variant runs the train job's learner (``make_learner`` of scripts/bench_throughput.py) from seed 0 for 20
iterations of warm-up and then ``--iterations`` timed ones, on the main job's continuous game at N = 64 and on
equilibrium_pricing (tabular) at N = 4096; the ratio is the variant's time over the default's, measured one after
the other in this process. One torch thread.
"""

from __future__ import annotations

import argparse
import functools
import time

import torch
from bench_throughput import make_learner

import deep_smfg.learners.base as base
from deep_smfg.games import make_game

DEFAULT = dict(base.OPTIMIZERS)


def run(game: str, n: int, variant: str | None, iterations: int) -> tuple[dict, float]:
    base.OPTIMIZERS.update(DEFAULT if variant is None else
                           {k: functools.partial(v, **{variant: True}) for k, v in DEFAULT.items()})
    try:
        torch.manual_seed(0)
        learner = make_learner(make_game(game), n, "cpu")
        learner.run_standalone(20)
        t0 = time.perf_counter()
        learner.run_standalone(iterations)
        return {k: v.detach().clone() for k, v in learner.state_dict().items()}, time.perf_counter() - t0
    finally:
        base.OPTIMIZERS.update(DEFAULT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| game | N | variant | same state as the default | time ratio |\n| --- | --- | --- | --- | --- |")
    for game, n in (("continuous_pricing", 64), ("equilibrium_pricing", 4096)):
        reference, seconds = run(game, n, None, args.iterations)
        for variant in ("foreach", "fused"):
            state, t = run(game, n, variant, args.iterations)
            diff = max(float((reference[k].double() - state[k].double()).abs().max())
                       for k in reference if reference[k].is_floating_point())
            same = "bit-identical" if all(torch.equal(reference[k], state[k]) for k in reference) else f"{diff:.1e}"
            print(f"| {game} | {n} | {variant} | {same} | {t / seconds:.2f} |")


if __name__ == "__main__":
    main()
