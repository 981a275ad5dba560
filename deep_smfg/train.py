"""``deep-smfg train``: a learning run with its run folder, loggers, checkpoints, evaluation and report.

The learner is the class ``cfg.algo._target_`` names (:func:`~deep_smfg.config.build_learner`); evaluation is
the game kind's evaluator (:func:`~deep_smfg.evaluation.make_evaluator`) run as a callback.

Under ``trainer=ddp_*`` Lightning re-runs this command once per extra rank; the parent passes the run
folder to the children through the environment, so every rank writes to one folder, and the children read
the reference answer from the cache the parent wrote (``runs/.cache``).
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from . import quiet
from .config import ConfigError, build_learner, dtype_of, game_kwargs
from .evaluation import EvaluationCallback, make_evaluator
from .evaluation.callbacks import regressions
from .games import make_game
from .run_folder import make_run_dir, write_summary

ENV_RUN_DIR = "DEEP_SMFG_RUN_DIR"
PRECISION = {"float32": "32-true", "float64": "64-true"}
LOGGERS = ("wandb", "csv", "none")


def _checked(cfg: DictConfig):
    """The game and the learner of ``cfg``, or a :class:`ConfigError` (nothing written yet)."""
    name, params = game_kwargs(cfg.game)
    game = make_game(name, **params)
    algo = cfg.algo
    dtype_of(cfg.dtype)
    if algo.iterations < 1 or algo.checkpoint_every < 1 or algo.eval_every < 0:
        raise ConfigError(f"algo.iterations and algo.checkpoint_every must be >= 1 and algo.eval_every >= 0, got "
                          f"{algo.iterations}, {algo.checkpoint_every}, {algo.eval_every}")
    for key in ("checkpoint_every", "eval_every"):
        if algo[key] % algo.iterations_per_step:
            raise ConfigError(f"algo.{key}={algo[key]} must be a multiple of algo.iterations_per_step="
                              f"{algo.iterations_per_step} (the iterations of one training step)")
    if cfg.logger.kind not in LOGGERS:
        raise ConfigError(f"logger.kind must be one of {', '.join(LOGGERS)}, got {cfg.logger.kind!r}")
    if cfg.resume == "last" and not cfg.run_dir:
        raise ConfigError("resume=last needs run_dir=<the interrupted run's folder>")
    return game, build_learner(cfg, game)


def check_config(cfg: DictConfig) -> None:
    """Everything :func:`run_train` checks before it writes (a sweep checks every job first: deep_smfg/cli.py)."""
    _checked(cfg)


def make_loggers(cfg: DictConfig, run_dir: Path) -> list:
    kind = cfg.logger.kind
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        logger = WandbLogger(project=cfg.logger.project, save_dir=str(run_dir), mode=cfg.logger.mode,
                             name=run_dir.name, config=OmegaConf.to_container(cfg, resolve=True))
        quiet.drop_wandb_anonymous(logger)
        return [logger]
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    return []


def run_train(cfg: DictConfig) -> str:
    quiet.install()
    torch.set_num_threads(int(cfg.threads))
    is_child = ENV_RUN_DIR in os.environ and "LOCAL_RANK" in os.environ
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    game, learner = _checked(cfg)  # before the reference answer is computed and before anything is written
    evaluator = make_evaluator(game, cfg)
    if cfg.dtype == "float64":
        learner = learner.double()
    if is_child:
        run_dir = Path(os.environ[ENV_RUN_DIR])
    else:
        run_dir = make_run_dir(cfg, "train", game.name)
        os.environ[ENV_RUN_DIR] = str(run_dir.resolve())
    ckpt_path = None
    if cfg.resume:
        ckpt_path = run_dir / "checkpoints" / "last.ckpt" if cfg.resume == "last" else Path(cfg.resume)
        if not ckpt_path.exists():
            raise ConfigError(f"no checkpoint to resume from at {ckpt_path}")

    algo = cfg.algo
    steps_per_epoch = algo.checkpoint_every // algo.iterations_per_step
    learner.max_iterations = int(algo.iterations)
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=1, every_n_epochs=1)
    evaluation = EvaluationCallback(evaluator, int(algo.eval_every))
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices, strategy=cfg.trainer.strategy,
        max_epochs=math.ceil(algo.iterations / algo.checkpoint_every), precision=PRECISION[cfg.dtype],
        logger=make_loggers(cfg, run_dir) or False, use_distributed_sampler=False,
        enable_progress_bar=bool(cfg.progress_bar), enable_model_summary=False, log_every_n_steps=1,
        default_root_dir=str(run_dir), num_sanity_val_steps=0,
        callbacks=[checkpoint, evaluation],
    )
    evaluation.world = trainer.world_size
    t0 = time.perf_counter()
    trainer.fit(learner, DataLoader(range(steps_per_epoch), batch_size=None), ckpt_path=ckpt_path)
    seconds = time.perf_counter() - t0
    rank = trainer.global_rank
    if trainer.world_size > 1:
        torch.save(learner.final_parameters(), run_dir / f"final_params_rank{rank}.pt")
    if rank != 0:
        return ""
    summary = evaluator.report(learner, evaluation.history, run_dir, seconds, trainer.world_size)
    summary["warnings"] = regressions(evaluation.history, evaluator.watch)
    summary["run_dir"] = str(run_dir)
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return write_summary(run_dir, summary)
