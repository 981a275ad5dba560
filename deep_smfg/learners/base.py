"""What every sampled learner shares: a LightningModule that owns the env, its optimiser groups and their
decaying step sizes, the non-finite guard and the checkpointed chains.

A learner subclass declares

* ``GROUPS``: the names of its parameter groups (each gets its own optimiser and step size ``c/(k+1)^p``);
* :meth:`parameter_groups`: the parameters of each group;
* :meth:`losses`: one loss per group at iteration ``k``, every target detached.

and the base runs one iteration: one backward pass over the sum of the losses (the groups' parameters
are disjoint, so this is exact, and under DDP it is one gradient all-reduce), then one optimiser step per
group with its step size at ``k``, then :meth:`after_step` (projections).

Two ways to run:

* under a Lightning ``Trainer`` (``deep-smfg train``): each ``training_step`` runs ``iterations_per_step``
  iterations, never past :attr:`max_iterations`; evaluation, logging to W&B and plots are callbacks
  (:mod:`deep_smfg.evaluation.callbacks`);
* without one, :meth:`run_standalone` (tests, benchmarks, learned best responses): the same iterations,
  with optimisers the learner builds itself and a plain ``backward``.
"""

from __future__ import annotations

from typing import ClassVar, Mapping

import lightning as L
import torch
from tensordict import TensorDictBase
from torch import nn

from ..games.base import FiniteGame
from ..games.continuous import ContinuousGame
from .kinds import Agents, ModelSpec, Progress, Transition, kind_of
from .schedules import PowerSchedule, as_schedule
from .supports import Setting, Supports, check


def learner_supports() -> dict[str, Supports]:
    """``{"algo=<ALGO>": SUPPORTS}`` of every learner class (the candidates a refusal lists)."""
    found, todo = {}, list(SampledLearner.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo.extend(cls.__subclasses__())
        if cls.ALGO:
            found.setdefault(f"algo={cls.ALGO}", cls.SUPPORTS)
    return found


class DivergenceError(RuntimeError):
    """A run diverged: a non-finite value, or an exact solver that fails on the learned policies."""


class NonFiniteError(DivergenceError):
    """A loss or parameter became NaN or infinite."""


OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


def as_schedules(step_sizes: Mapping[str, PowerSchedule | Mapping]) -> dict[str, PowerSchedule]:
    """``{group: PowerSchedule}`` from schedules or config nodes (:func:`~.schedules.as_schedule`)."""
    return {k: as_schedule(v) for k, v in step_sizes.items()}


class SampledLearner(L.LightningModule):
    GROUPS: tuple[str, ...] = ()
    ALGO: ClassVar[str] = ""  # the learner's config, configs/algo/<ALGO>.yaml (named in refusals)
    SUPPORTS: ClassVar[Supports] = Supports()  # what it runs on (learners/supports.py), checked before it builds

    def __init__(self, game: FiniteGame | ContinuousGame, model: ModelSpec, step_sizes: Mapping,
                 optimizer: str | Mapping[str, str] = "sgd", n_envs: int = 64, occupancy_restart: bool = True,
                 iterations_per_step: int = 1, seed: int = 0, log_every: int = 100, reward_centering: bool = False):
        setting = Setting.of(game, model.policy, reward_centering, occupancy_restart)
        check(f"algo={self.ALGO}", self.SUPPORTS, setting, learner_supports(), game.name)
        super().__init__()
        self.automatic_optimization = False
        optimizers = dict(optimizer) if isinstance(optimizer, Mapping) else {name: optimizer for name in self.GROUPS}
        if set(optimizers) != set(self.GROUPS) or not set(optimizers.values()) <= set(OPTIMIZERS):
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, or one per group {list(self.GROUPS)}; "
                             f"got {optimizer!r}")
        if n_envs < 1 or iterations_per_step < 1:
            raise ValueError(f"n_envs and iterations_per_step must be >= 1, got {n_envs}, {iterations_per_step}")
        self.schedules = as_schedules(step_sizes)
        missing = set(self.GROUPS) - set(self.schedules)
        if missing:
            raise ValueError(f"step sizes missing for {sorted(missing)}")
        self.game, self.model_spec, self.kind = game, model, kind_of(game)
        self.optimizer_names, self.n_envs, self.occupancy_restart = optimizers, n_envs, occupancy_restart
        self.iterations_per_step, self.seed, self.log_every = iterations_per_step, seed, max(1, log_every)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self.max_iterations: int | None = None  # training_step never runs past it (set by the train job)
        self.env = None
        self._td: TensorDictBase | None = None
        self._pending_chain_state = None
        self._standalone_optimizers: list[torch.optim.Optimizer] | None = None
        self.last_transition: Transition | None = None

    # ----- what a learner declares (also GROUPS, ALGO, SUPPORTS) ---------------------------------
    @property
    def samples_per_iteration(self) -> int:
        """Transitions one process draws per iteration: the evaluation's ``samples`` is ``k`` times this times the
        number of processes. ``N`` here (one step of the N chains); a learner that draws more says so."""
        return self.n_envs

    def agents(self) -> Agents:
        """The learner's declared face (:class:`~.kinds.Agents`): its policies, its mean field, and its critics where it
        has them. Everything outside the learner (transitions, evaluators, estimators, the n-player evaluation, the
        learned best response, ``deep_smfg.load_run``) reads the learner through it."""
        raise NotImplementedError

    def progress(self, world: int = 1) -> Progress:
        """The iteration, and the transitions drawn so far by ``world`` processes: the one definition of the
        metrics' ``samples`` (``k`` times :attr:`samples_per_iteration` times ``world``)."""
        k = int(self.iteration)
        return Progress(iteration=k, samples=k * self.samples_per_iteration * world)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        raise NotImplementedError

    def losses(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def after_step(self) -> None:
        """After the optimiser steps (projections onto constraint sets)."""

    # ----- the env and its chains ------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        rank = self.trainer.global_rank if self._trainer is not None else 0
        dtype = next(self.parameters()).dtype
        self.env = self.kind.env(self.n_envs, self.occupancy_restart, self.device, dtype,
                                 seed=self.seed * 1000 + rank)  # each rank its own chains

    def transition(self) -> Transition:
        """Steps 1-2 of docs/ac_smfg.md on both chains (the game's kind draws and evaluates)."""
        if self._td is None:
            self._td = (self.env.load_chain_state(self._pending_chain_state) if self._pending_chain_state is not None
                        else self.env.reset())
            self._pending_chain_state = None
        t, self._td = self.kind.transition(self.agents(), self.env, self._td)
        self.last_transition = t
        return t

    # ----- optimisers ------------------------------------------------------------------------------
    def configure_optimizers(self):
        groups = self.parameter_groups()
        return [OPTIMIZERS[self.optimizer_names[name]](groups[name], lr=self.schedules[name](0))
                for name in self.GROUPS]

    def one_iteration(self) -> dict[str, torch.Tensor]:
        k = int(self.iteration)
        losses = self.losses()
        total = sum(losses.values())
        if not torch.isfinite(total):
            raise NonFiniteError(self._nonfinite_message(k, {n: float(v.detach()) for n, v in losses.items()}))
        if self._trainer is None:
            optimizers = self._standalone_optimizers
            for opt in optimizers:
                opt.zero_grad()
            total.backward()
        else:
            optimizers = self.optimizers()
            optimizers = optimizers if isinstance(optimizers, list) else [optimizers]  # Lightning unwraps a single one
            for opt in optimizers:
                opt.zero_grad()
            self.manual_backward(total)
        for opt, name in zip(optimizers, self.GROUPS, strict=True):
            for group in opt.param_groups:
                group["lr"] = self.schedules[name](k)
            opt.step()
        self.after_step()
        self.iteration += 1
        return losses

    def run_standalone(self, iterations: int) -> None:
        """Run ``iterations`` iterations without a Lightning ``Trainer`` (no callbacks, no logging)."""
        if self.env is None:
            self.setup("fit")
        if self._standalone_optimizers is None:
            self._standalone_optimizers = self.configure_optimizers()
        for _ in range(iterations):
            self.one_iteration()

    def last_checkpoint_note(self) -> str:
        """Where the last good state is, in words (for the errors that end a diverged run)."""
        callback = self._trainer.checkpoint_callback if self._trainer is not None else None
        ckpt = (callback.last_model_path if callback is not None else "") or "none saved yet"
        return f"the last good checkpoint: {ckpt}"

    def _nonfinite_message(self, k: int, values: dict[str, float]) -> str:
        return f"non-finite loss at iteration {k}: {values}; stopping; {self.last_checkpoint_note()}"

    # ----- under a Trainer -------------------------------------------------------------------------
    def on_train_batch_start(self, batch, batch_idx) -> int | None:
        """``-1`` (Lightning: end this epoch) once :attr:`max_iterations` is reached: the last epoch may be short."""
        if self.max_iterations is not None and int(self.iteration) >= self.max_iterations:
            return -1
        return None

    def training_step(self, batch, batch_idx):
        n = self.iterations_per_step
        if self.max_iterations is not None:
            n = min(n, self.max_iterations - int(self.iteration))
        for _ in range(n):
            losses = self.one_iteration()
        for p in self.parameters():
            if not torch.isfinite(p).all():
                raise NonFiniteError(self._nonfinite_message(int(self.iteration), {"parameter": float("nan")}))
        if n and int(self.iteration) % self.log_every < n:
            self.log_dict({f"loss/{g}": float(v.detach()) for g, v in losses.items()}, on_step=True, prog_bar=False)
            self.log("iteration", float(self.iteration), on_step=True)  # the bar counts iterations (progress.py)

    # ----- checkpoints hold the chains (with their RNG) and the schedules (plain numbers) ----------
    def rank_state(self) -> dict:
        """What this process's run holds besides parameters and optimisers: its chains (with their RNG); a learner
        with more per-process state (traces) adds it."""
        return {"chains": self.env.chain_state() if self.env is not None else None}

    def load_rank_state(self, state: dict) -> None:
        self._pending_chain_state = state["chains"]
        self._td = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Every rank's :meth:`rank_state` (Lightning dumps a checkpoint on every rank and writes rank 0's), so that
        under DDP each rank resumes its own chains."""
        by_rank = [self.rank_state()]
        if self._world() > 1:
            by_rank = [None] * self._world()
            torch.distributed.all_gather_object(by_rank, self.rank_state())
        checkpoint["learner"] = {"by_rank": by_rank,
                                 "schedules": {k: {"c": v.c, "p": v.p, "k0": v.k0, "start": v.start}
                                               for k, v in self.schedules.items()}}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["learner"]
        # checkpoints written before per-rank states kept rank 0's state beside the schedules
        by_rank = state["by_rank"] if "by_rank" in state else [{k: v for k, v in state.items() if k != "schedules"}]
        if len(by_rank) not in (1, self._world()):
            raise ValueError(f"the checkpoint holds the states of {len(by_rank)} processes; resume it on as many")
        self.load_rank_state(by_rank[self.trainer.global_rank if len(by_rank) > 1 else 0])
        self.schedules = as_schedules(state["schedules"])

    def _world(self) -> int:
        return self.trainer.world_size if self._trainer is not None else 1

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, game=None, **kwargs):
        """The learner a ``deep-smfg train`` checkpoint holds, its game rebuilt from the config stored in the
        checkpoint (or ``game``: a game object the run was given), its parameters loaded, in eval mode, on the CPU
        (``map_location`` and Lightning's other arguments are not used: the config says how to build it)."""
        from ..api import learner_from_checkpoint

        learner, _ = learner_from_checkpoint(checkpoint_path, game=game)
        if not isinstance(learner, cls):
            raise TypeError(f"{checkpoint_path} holds a {type(learner).__name__}, not a {cls.__name__}")
        return learner

    def final_parameters(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}
