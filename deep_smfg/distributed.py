"""Ranks a cluster launcher started (torchrun, SLURM's ``srun``): one process per device on every node, each
running the whole command. Global rank 0 claims the run folder and tells the others (docs/cluster.md).

Lightning's own launcher (``trainer.devices > 1`` on one node, no cluster launcher) starts its extra ranks by
re-running the command (:func:`ranks_rerun_the_cli`); those receive the run folder and the resolved config from
their parent instead (deep_smfg/train_job.py).
"""

from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch.distributed as dist
from lightning.fabric.plugins.environments import ClusterEnvironment, SLURMEnvironment, TorchElasticEnvironment

LAUNCHERS = (TorchElasticEnvironment, SLURMEnvironment)  # the environments Lightning reads, in the order it tries


def launched_environment() -> ClusterEnvironment | None:
    """The cluster launcher's environment when it started more than one process for this job, else None."""
    for environment in LAUNCHERS:
        if environment.detect():
            env = environment()
            return env if env.world_size() > 1 else None
    return None


@dataclass
class RankGroup:
    """This process's place among the launched ranks, and a channel from rank 0 to the others."""

    rank: int
    world: int
    channel: Any  # a gloo process group: objects go through the CPU whatever the training backend
    shared: bool = False  # rank 0 has sent its payload

    def share(self, payload: Any = None) -> Any:
        """Rank 0's ``payload``, on every rank (rank 0 returns its own); once per job."""
        box = [payload]
        dist.broadcast_object_list(box, src=0, group=self.channel)
        self.shared = True
        return box[0]


def join_launched_ranks(accelerator: str) -> RankGroup | None:
    """Join the ranks a cluster launcher started (the default process group: gloo on CPUs, nccl on GPUs, which
    Lightning then uses as it is), or None when this process runs alone or under Lightning's own launcher."""
    env = launched_environment()
    if env is None:
        return None
    if not dist.is_initialized():
        dist.init_process_group("gloo" if accelerator == "cpu" else "nccl",
                                init_method=f"tcp://{env.main_address}:{env.main_port}",
                                world_size=env.world_size(), rank=env.global_rank())
    return RankGroup(env.global_rank(), env.world_size(), dist.new_group(backend="gloo"))


@contextmanager
def ranks_rerun_the_cli() -> Iterator[None]:
    """Inside the block, Lightning's launcher starts the extra ranks as ``python -m deep_smfg.cli`` (whose ranks run
    the job rank 0 hands over in the environment: deep_smfg/train_job.py).

    Lightning re-runs the process's main module with its arguments; in a sweep launcher's worker (joblib, submitit),
    a notebook or a test that module is not deep-smfg, and re-running it would restart the worker or the sweep."""
    main = sys.modules["__main__"]
    saved = main.__dict__.get("__spec__"), sys.argv
    main.__spec__, sys.argv = importlib.util.find_spec("deep_smfg.cli"), [sys.argv[0] if sys.argv else "deep-smfg"]
    try:
        yield
    finally:
        main.__spec__, sys.argv = saved


@contextmanager
def process_group_for_this_fit() -> Iterator[None]:
    """The default process group ends with the fit (Lightning leaves it open): the next DDP job of a sweep in this
    process would otherwise talk to the ranks of the last one, which have exited."""
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
