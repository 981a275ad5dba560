"""Torch's intra-op threads for a block: the evaluations and the report run on more threads than the training.

The training's tensors are small (N chains, 64-unit layers): one thread is fastest, and several jobs can share a
machine one core each (``threads``). An evaluation's are large (4,096-32,768 Monte Carlo chains, twins with millions
of transitions): it runs under ``eval_threads`` (docs/performance.md, "What a report costs"), and the training's
count is back for the next iteration.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import torch


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity on Linux, the machine's count elsewhere)."""
    return len(os.sched_getaffinity(0)) if sys.platform == "linux" else (os.cpu_count() or 1)


def eval_threads(setting: int, processes_here: int) -> int:
    """``eval_threads``: the setting, or for 0 this process's share of the cores among the ``processes_here`` of the
    job on this machine (its ranks), at least 1."""
    return int(setting) or max(1, available_cores() // max(1, int(processes_here)))


@contextmanager
def torch_threads(n: int):
    """``n`` intra-op threads inside the block, the count before it afterwards (also when the block raises)."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
