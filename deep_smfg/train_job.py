"""``deep-smfg train``: a learning run with its run folder, loggers, checkpoints, evaluation and report.

The learner is the class ``cfg.algo._target_`` names (:func:`~deep_smfg.config.build_learner`); evaluation is
the game kind's evaluator (:func:`~deep_smfg.evaluation.make_evaluator`) run as a callback.

Under ``trainer=ddp_*`` Lightning re-runs this command once per extra rank; the parent claims the run folder
(docs/reliability.md) and passes it, and the checkpoint it resumes from, to the children through the
environment, so every rank writes to one folder, and the children read the reference answer from the cache the
parent wrote (``runs/.cache``).
"""

from __future__ import annotations

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
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from . import quiet
from .checkpoints import RunCheckpoint, set_aside_after
from .config import ConfigError, RunEnded, build_learner, dtype_of, game_of
from .evaluation import EvaluationCallback, make_evaluator
from .evaluation.callbacks import regressions
from .exact import SOLVER_FAILURES
from .learners import DivergenceError
from .loggers import make_loggers
from .progress import IterationProgressBar
from .resume import ResumePlan, plan_resume
from .run_claim import claimed_run_dir, recording_outcome
from .run_folder import read_parts, record_part, write_config, write_summary
from .signals import Signals, StopOnSignal

ENV_RUN_DIR = "DEEP_SMFG_RUN_DIR"
ENV_RESUME_FROM = "DEEP_SMFG_RESUME_FROM"
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
    return game, build_learner(cfg, game)


def _check_trainer(trainer: DictConfig) -> None:
    """Lightning's own checks of the trainer's settings, on a Trainer built and dropped (it writes nothing)."""
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        L.Trainer(accelerator=trainer.accelerator, devices=trainer.devices, strategy=trainer.strategy, logger=False,
                  enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    except (MisconfigurationException, TypeError, ValueError) as exc:
        raise ConfigError(f"trainer (accelerator={trainer.accelerator}, devices={trainer.devices}, "
                          f"strategy={trainer.strategy}): {exc}") from exc
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
        return _fit(cfg, learner, make_evaluator(game, cfg), Path(os.environ[ENV_RUN_DIR]), None, Signals())
    with Signals() as signals, claimed_run_dir(cfg, "train", game.name, resuming=bool(cfg.resume)) as claim:
        signals.on_exit = lambda message: claim.lock.release()
        run_dir = claim.path
        plan = plan_resume(run_dir, cfg)
        evaluator = make_evaluator(game, cfg)  # the reference answer: after every check
        part = len(read_parts(run_dir))
        abandoned = set_aside_after(run_dir / "checkpoints", plan.iteration, part) if plan.checkpoint else []
        write_config(run_dir, cfg)
        record_part(run_dir, {"part": part, "started": datetime.now().isoformat(timespec="seconds"),
                              "from_iteration": plan.iteration, "checkpoint": plan.checkpoint and plan.checkpoint.name,
                              "changed": plan.changed, "abandoned_checkpoints": abandoned})
        fields = {"game": game.name}
        write_summary(run_dir, {**fields, "run_dir": str(run_dir), "parts": read_parts(run_dir)}, "running")
        os.environ[ENV_RUN_DIR] = str(run_dir.resolve())
        os.environ[ENV_RESUME_FROM] = str(plan.checkpoint.resolve()) if plan.checkpoint else ""
        try:
            with recording_outcome(claim, signals, fields):
                return _fit(cfg, learner, evaluator, run_dir, plan, signals)
        finally:
            for key in (ENV_RUN_DIR, ENV_RESUME_FROM):  # the DDP ranks' hand-over: not for a later run here
                os.environ.pop(key, None)


def is_ddp_child() -> bool:
    """A DDP rank > 0, which Lightning starts by re-running this command (rank 0 has LOCAL_RANK=0 too)."""
    return ENV_RUN_DIR in os.environ and int(os.environ.get("LOCAL_RANK", "0")) > 0


def _fit(cfg: DictConfig, learner, evaluator, run_dir: Path, plan: ResumePlan | None, signals: Signals) -> str:
    """Train (resuming per ``plan``; None: a DDP rank > 0, which follows rank 0's checkpoint), then the report."""
    algo = cfg.algo
    steps_per_epoch = algo.checkpoint_every // algo.iterations_per_step
    learner.max_iterations = int(algo.iterations)
    checkpoint = RunCheckpoint(run_dir / "checkpoints", OmegaConf.to_container(cfg, resolve=True))
    evaluation = EvaluationCallback(evaluator, int(algo.eval_every))
    bar = [IterationProgressBar(evaluation, int(algo.iterations), learner.game.name)] if cfg.progress_bar else []
    ckpt_path = plan.checkpoint if plan is not None else _rank0_checkpoint()
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices, strategy=cfg.trainer.strategy,
        max_epochs=math.ceil(algo.iterations / algo.checkpoint_every), precision=PRECISION[cfg.dtype],
        logger=make_loggers(cfg, run_dir, plan.logged_steps if plan is not None else None) or False,
        use_distributed_sampler=False, enable_progress_bar=bool(cfg.progress_bar), enable_model_summary=False,
        log_every_n_steps=1, default_root_dir=str(run_dir), num_sanity_val_steps=0,
        callbacks=[checkpoint, evaluation, StopOnSignal(signals), *bar],
    )
    evaluation.world = trainer.world_size
    t0 = time.perf_counter()
    signals.in_fit = True
    try:
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
        summary = evaluator.report(learner, evaluation.history, run_dir, seconds, trainer.world_size)
    except SOLVER_FAILURES as exc:
        raise RunEnded(f"the final evaluation at iteration {int(learner.iteration)} failed ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0]}): the learned policies have likely diverged; "
                       f"{learner.last_checkpoint_note()}", "diverged", 1) from exc
    summary["warnings"] = regressions(evaluation.history, evaluator.watch)
    summary["run_dir"] = str(run_dir)
    summary["parts"] = read_parts(run_dir)
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return write_summary(run_dir, summary)


def _rank0_checkpoint() -> Path | None:
    """A DDP rank > 0 resumes from the checkpoint rank 0 chose and checked (passed in the environment)."""
    return Path(os.environ[ENV_RESUME_FROM]) if os.environ.get(ENV_RESUME_FROM) else None
