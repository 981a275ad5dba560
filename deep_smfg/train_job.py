"""``deep-smfg train``: a learning run with its run folder, loggers, checkpoints, evaluation and report.

The learner is the class ``cfg.algo._target_`` names (:func:`~deep_smfg.config.build_learner`); evaluation is
the game kind's evaluator (:func:`~deep_smfg.evaluation.make_evaluator`) run as a callback.

Under ``trainer=ddp_*`` Lightning starts one process per extra rank (``python -m deep_smfg.cli``); the parent claims
the run folder (docs/reliability.md) and passes it, the checkpoint it resumes from and the resolved config to the
children through the environment, so every rank writes to one folder, and the children read the reference answer
from the cache the parent wrote (``runs/.cache``). Ranks a cluster launcher started (torchrun, srun: every rank runs
the whole command) get the folder and the checkpoint from global rank 0 (deep_smfg/distributed.py, docs/cluster.md).
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from . import quiet
from .checkpoints import RunCheckpoint, set_aside_after
from .config import ConfigError, RunEnded, build_learner, dtype_of, game_of
from .distributed import join_launched_ranks, launched_environment, process_group_for_this_fit, ranks_rerun_the_cli
from .evaluation import EvaluationCallback, evaluator_options, make_evaluator
from .evaluation.callbacks import regressions
from .exact import SOLVER_FAILURES
from .learners import DivergenceError
from .loggers import make_loggers
from .progress import IterationProgressBar
from .resume import ResumePlan, plan_resume
from .run_claim import claimed_run_dir, recording_outcome
from .run_folder import read_parts, record_part, write_config, write_summary
from .signals import Signals, StopOnSignal
from .stopping import StopRule, stop_rule
from .torch_threads import eval_threads, torch_threads
from .tracking import finish_tracking, tracking_callbacks

ENV_RUN_DIR = "DEEP_SMFG_RUN_DIR"
ENV_RESUME_FROM = "DEEP_SMFG_RESUME_FROM"
ENV_CONFIG = "DEEP_SMFG_JOB_CONFIG"
PRECISION = {"float32": "32-true", "float64": "64-true"}


def _checked(cfg: DictConfig):
    """The game and the learner of ``cfg``, or a :class:`ConfigError` (nothing written yet; the keys' types and
    ranges were checked with the config: deep_smfg/schema.py)."""
    game = game_of(cfg)
    algo = cfg.algo
    dtype_of(cfg.dtype)
    for key in ("checkpoint_every", "eval_every"):
        if algo[key] % algo.iterations_per_step:
            raise ConfigError(f"algo.{key}={algo[key]} must be a multiple of algo.iterations_per_step="
                              f"{algo.iterations_per_step} (the iterations of one training step)")
    if cfg.resume == "last" and not cfg.run_dir:
        raise ConfigError("resume=last needs run_dir=<the interrupted run's folder>")
    _check_trainer(cfg.trainer)
    checked_stop_rule(cfg, game)
    return game, build_learner(cfg, game)


def checked_stop_rule(cfg: DictConfig, game) -> StopRule:
    """``algo.stop`` against the metrics of the game's evaluator (deep_smfg/stopping.py)."""
    evaluator, _ = evaluator_options(game, cfg)
    node = cfg.algo.stop
    return stop_rule(OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node,
                     int(cfg.algo.eval_every), evaluator.better, evaluator.watch)


# what the train job sets on the Trainer itself: a trainer config may not (its callbacks are added to the job's)
JOB_TRAINER_KEYS = ("max_epochs", "max_steps", "min_epochs", "min_steps", "precision", "logger", "enable_progress_bar",
                    "enable_model_summary", "enable_checkpointing", "default_root_dir", "use_distributed_sampler",
                    "log_every_n_steps", "num_sanity_val_steps")


def make_trainer(node: DictConfig, callbacks: list, **job_settings) -> L.Trainer:
    """The Trainer of the ``trainer`` config group (``_target_`` and its keyword arguments, ``callbacks``: configs of
    extra callbacks, each with its ``_target_``), with the job's callbacks first and the job's settings."""
    params = OmegaConf.to_container(node, resolve=True)
    extra = [instantiate(c) for c in params.pop("callbacks", None) or []]
    trainer = instantiate(params, _partial_=True, _convert_="all")  # the job's objects are not copied into a config
    return trainer(callbacks=[*callbacks, *extra], **job_settings)


def _check_trainer(trainer: DictConfig) -> None:
    """Lightning's own checks of the trainer's settings, on a Trainer built and dropped (it writes nothing)."""
    if int(trainer.get("num_nodes", 1)) > 1 and launched_environment() is None:  # Lightning would wait for them
        raise ConfigError(f"trainer.num_nodes={trainer.num_nodes}: start the job on every node with a cluster launcher "
                          f"(torchrun --nnodes, srun, or hydra/launcher=submitit_slurm: docs/cluster.md)")
    taken = sorted(set(trainer) & set(JOB_TRAINER_KEYS))
    if taken:
        raise ConfigError(f"trainer.{taken[0]} is set by the train job (algo.iterations, dtype, logger, progress_bar "
                          f"decide it); the job sets {', '.join(JOB_TRAINER_KEYS)}")
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        make_trainer(trainer, [], logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False)
    except (MisconfigurationException, TypeError, ValueError, InstantiationException) as exc:
        reason = exc.__cause__ if isinstance(exc, InstantiationException) and exc.__cause__ else exc
        raise ConfigError(f"trainer (accelerator={trainer.accelerator}, devices={trainer.devices}, "
                          f"strategy={trainer.strategy}): {reason}") from exc
    finally:
        log.setLevel(level)


def check_config(cfg: DictConfig) -> None:
    """Everything :func:`run_train` checks before it writes (a sweep checks every job first: deep_smfg/cli.py)."""
    _checked(cfg)


def run_train(cfg: DictConfig) -> str:
    quiet.install()
    torch.set_num_threads(int(cfg.threads))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    game, learner = _checked(cfg)  # before anything is computed or written
    if cfg.dtype == "float64":
        learner = learner.double()
    if is_ddp_child():  # the parent claimed the folder and chose the checkpoint
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches every rank: rank 0 stops them all
        return _fit(cfg, learner, make_evaluator(game, cfg), Path(os.environ[ENV_RUN_DIR]), None, Signals(),
                    _path_or_none(os.environ.get(ENV_RESUME_FROM)))
    ranks = join_launched_ranks(str(cfg.trainer.accelerator))
    if ranks is None:
        return _claim_and_fit(cfg, game, learner, lambda payload: None)
    if ranks.rank > 0:  # a cluster launcher's rank: global rank 0 claims the folder
        return _follow_rank0(cfg, game, learner, ranks)
    try:
        return _claim_and_fit(cfg, game, learner, ranks.share)
    finally:
        if not ranks.shared:
            ranks.share(None)  # rank 0 stopped before training: the other ranks stop too


def _claim_and_fit(cfg: DictConfig, game, learner, tell) -> str:
    """Rank 0's run: claim the folder, plan the resume, record the part, train and report. ``tell((run_dir,
    checkpoint))`` reaches a cluster launcher's other ranks (a no-op without them)."""
    with Signals() as signals, claimed_run_dir(cfg, "train", game.name, resuming=bool(cfg.resume)) as claim:
        signals.on_exit = lambda message: claim.lock.release()
        run_dir = claim.path
        plan = plan_resume(run_dir, cfg)
        evaluator = make_evaluator(game, cfg)  # the reference answer: after every check
        tell((str(run_dir.resolve()), plan.checkpoint and str(plan.checkpoint.resolve())))
        part = len(read_parts(run_dir))
        abandoned = set_aside_after(run_dir / "checkpoints", plan.iteration, part) if plan.checkpoint else []
        write_config(run_dir, cfg)
        record_part(run_dir, {"part": part, "started": datetime.now().isoformat(timespec="seconds"),
                              "from_iteration": plan.iteration, "checkpoint": plan.checkpoint and plan.checkpoint.name,
                              "changed": plan.changed, "abandoned_checkpoints": abandoned})
        fields = {"game": game.name}
        write_summary(run_dir, {**fields, "run_dir": str(run_dir), "parts": read_parts(run_dir)}, "running")
        handover = {ENV_RUN_DIR: str(run_dir.resolve()), ENV_RESUME_FROM: str(plan.checkpoint.resolve())
                    if plan.checkpoint else "", ENV_CONFIG: OmegaConf.to_yaml(cfg, resolve=True)}
        os.environ.update(handover)
        try:
            with recording_outcome(claim, signals, fields):
                return _fit(cfg, learner, evaluator, run_dir, plan, signals, plan.checkpoint)
        finally:
            for key in handover:  # the DDP ranks' hand-over: not for a later run in this process
                os.environ.pop(key, None)


def _follow_rank0(cfg: DictConfig, game, learner, ranks) -> str:
    """A launched rank > 0: train in the folder global rank 0 claimed, from the checkpoint it chose. The folder
    Hydra made for this process (its own timestamp) is removed if it stayed empty."""
    told = ranks.share()
    own = Path(cfg.run_dir) if cfg.get("run_dir") else None
    if told is None:
        raise RunEnded("global rank 0 stopped before training (its error says why)", "failed", 1)
    run_dir, checkpoint = Path(told[0]), _path_or_none(told[1])
    if own is not None and own.resolve() != run_dir and own.is_dir() and not any(own.iterdir()):
        own.rmdir()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return _fit(cfg, learner, make_evaluator(game, cfg), run_dir, None, Signals(), checkpoint)


def is_ddp_child() -> bool:
    """A DDP rank > 0 Lightning started by re-running this process (rank 0 has LOCAL_RANK=0 too)."""
    return ENV_RUN_DIR in os.environ and int(os.environ.get("LOCAL_RANK", "0")) > 0


def run_ddp_child() -> int:
    """The job rank 0 handed over (its resolved config), on this rank; rank 0 reports."""
    run_train(OmegaConf.create(os.environ[ENV_CONFIG]))
    return 0


def why_it_stopped(evaluation: EvaluationCallback, iteration: int, iterations: int) -> dict:
    """summary.json's ``stop``: the stop rule's reason (``targets``, ``plateau``), ``iterations`` (the cap) or
    ``max_time`` (the trainer's clock), with the iteration and the cap ``of``."""
    if evaluation.stopped is not None:
        out = dict(evaluation.stopped)
    else:
        out = {"reason": "iterations" if iteration >= iterations else "max_time", "iteration": iteration}
    return {**out, "of": iterations}


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _fit(cfg: DictConfig, learner, evaluator, run_dir: Path, plan: ResumePlan | None, signals: Signals,
         ckpt_path: Path | None) -> str:
    """Train from ``ckpt_path`` (``plan``: rank 0's resume plan; None on the other ranks), then the report."""
    algo = cfg.algo
    steps_per_epoch = algo.checkpoint_every // algo.iterations_per_step
    learner.max_iterations = int(algo.iterations)
    checkpoint = RunCheckpoint(run_dir / "checkpoints", OmegaConf.to_container(cfg, resolve=True))
    evaluation = EvaluationCallback(evaluator, int(algo.eval_every), stop=checked_stop_rule(cfg, learner.game))
    bar = [IterationProgressBar(evaluation, int(algo.iterations), learner.game.name)] if cfg.progress_bar else []
    loggers = make_loggers(cfg, run_dir, plan.logged_steps if plan is not None else None)
    trainer = make_trainer(
        cfg.trainer, [checkpoint, evaluation, StopOnSignal(signals), *bar, *tracking_callbacks(cfg, run_dir)],
        max_epochs=math.ceil(algo.iterations / algo.checkpoint_every), precision=PRECISION[cfg.dtype],
        logger=loggers or False,
        use_distributed_sampler=False, enable_progress_bar=bool(cfg.progress_bar), enable_model_summary=False,
        log_every_n_steps=1, default_root_dir=str(run_dir), num_sanity_val_steps=0,
    )
    evaluation.world = trainer.world_size
    evaluation.threads = eval_threads(cfg.eval_threads, trainer.num_devices)  # the ranks on this machine
    t0 = time.perf_counter()
    signals.in_fit = True
    try:
        with ranks_rerun_the_cli(), process_group_for_this_fit():
            trainer.fit(learner, DataLoader(range(steps_per_epoch), batch_size=None), ckpt_path=ckpt_path)
    except SIGTERMException as exc:
        raise signals.ended(run_dir, int(learner.iteration), checkpoint.last_model_path) from exc
    except DivergenceError as exc:
        raise RunEnded(str(exc), "diverged", 1) from exc
    finally:
        signals.in_fit = False
    if signals.signum is not None:  # a signal as the fit was ending: the state is saved, the report is left
        raise signals.ended(run_dir, int(learner.iteration), checkpoint.last_model_path)
    seconds = time.perf_counter() - t0
    rank = trainer.global_rank
    if trainer.world_size > 1:
        torch.save(learner.final_parameters(), run_dir / f"final_params_rank{rank}.pt")
    if rank != 0:
        return ""
    try:
        with torch_threads(evaluation.threads):
            summary = evaluator.report(learner, evaluation.history, run_dir, seconds, trainer.world_size)
    except SOLVER_FAILURES as exc:
        raise RunEnded(f"the final evaluation at iteration {int(learner.iteration)} failed ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0]}): the learned policies have likely diverged; "
                       f"{learner.last_checkpoint_note()}", "diverged", 1) from exc
    summary["warnings"] = summary.get("warnings", []) + regressions(evaluation.history, evaluator.watch)
    summary["stop"] = why_it_stopped(evaluation, int(learner.iteration), int(algo.iterations))
    if summary["stop"]["reason"] == "max_time":
        summary["warnings"].append(f"the run stopped at iteration {int(learner.iteration)} of {int(algo.iterations)}: "
                                   f"trainer.max_time={cfg.trainer.get('max_time')} ran out")
    if evaluation.stopped is not None:
        stop = summary["stop"]
        print(f"stopped at iteration {stop['iteration']} of {stop['of']}: {stop['reason']} "
              f"({', '.join(f'{k}={v:.4g}' for k, v in stop.get('values', {}).items())})", file=sys.stderr)
    summary["run_dir"] = str(run_dir)
    summary["parts"] = read_parts(run_dir)
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    line = write_summary(run_dir, summary)
    finish_tracking(loggers, json.loads(line), run_dir)  # the report, the figures and the checkpoint in W&B
    return line
