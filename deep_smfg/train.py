"""``deep-smfg train``: a learning run with its run folder, loggers, checkpoints and plots.

Under ``trainer=ddp_*`` Lightning re-runs this command once per extra rank; the parent passes the run
folder and ``Phi*`` to the children through the environment, so every rank writes to one folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from . import exact
from .algorithms.ac_smfg import ACSMFG
from .algorithms.schedules import PowerSchedule
from .config import ConfigError, dtype_of, game_kwargs
from .evaluation.plots import plot_mean_field
from .evaluation.continuous_metrics import TwinReference
from .games import GameDefinitionError, make_game
from .games.continuous import ContinuousGame, discretise
from .report_continuous import write_continuous_results
from .modules.policies import policy_table
from .run_folder import make_run_dir, write_history, write_summary

ENV_RUN_DIR, ENV_PHI_STAR = "DEEP_SMFG_RUN_DIR", "DEEP_SMFG_PHI_STAR"
PRECISION = {"float32": "32-true", "float64": "64-true"}


def _cache_path(kind: str, cfg: DictConfig) -> tuple[Path, str]:
    key = json.dumps({"game": OmegaConf.to_container(cfg.game), "ref": OmegaConf.to_container(cfg.reference)}, sort_keys=True)
    return Path("runs/.cache") / f"{kind}_{hashlib.sha1(key.encode()).hexdigest()[:16]}.json", key


def reference_phi_star(game, cfg: DictConfig) -> float:
    """``Phi*`` by exact multi-start ascent, cached in ``runs/.cache`` by game config."""
    if ENV_PHI_STAR in os.environ:
        return float(os.environ[ENV_PHI_STAR])
    cache, key = _cache_path("phi_star", cfg)
    if cache.exists():
        return json.loads(cache.read_text())["phi_star"]
    value = exact.reference_leader_optimum(game, n_starts=cfg.reference.n_starts, n_steps=cfg.reference.n_steps,
                                           lr=cfg.reference.lr).value
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"phi_star": value, "key": json.loads(key)}))
    return value


def twin_reference(game: ContinuousGame, cfg: DictConfig) -> TwinReference:
    """The discretised twin (grid sizes ``reference.twin``) and its exact answer, cached in ``runs/.cache``."""
    grid = cfg.reference.twin
    try:
        twin = discretise(game, grid.n_states, grid.n_actions, grid.n_leader, grid.n_quadrature)
    except GameDefinitionError as exc:
        raise ConfigError(f"reference.twin: {exc}") from exc
    cache, key = _cache_path("twin", cfg)
    if cache.exists():
        c = json.loads(cache.read_text())
        return TwinReference(game, twin, c["phi_star"], torch.tensor(c["phi_star_table"], dtype=torch.float64),
                             c["price_star"], c["phi_uniform"])
    ref = TwinReference.solve(game, twin, cfg.reference.n_starts, cfg.reference.n_steps, cfg.reference.lr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"phi_star": ref.phi_star, "phi_star_table": ref.phi_star_table.tolist(),
                                 "price_star": ref.price_star, "phi_uniform": ref.phi_uniform, "key": json.loads(key)}))
    return ref


def build_module(cfg: DictConfig, game, phi_star: float, reference: TwinReference | None = None) -> ACSMFG:
    algo, model = cfg.algo, cfg.model
    if algo.name != "ac_smfg":
        raise ConfigError(f"algo must be ac_smfg for now, got {algo.name!r}")
    optimizer = OmegaConf.to_container(algo.optimizer) if OmegaConf.is_config(algo.optimizer) else algo.optimizer
    try:
        schedules = {k: PowerSchedule(float(v.c), float(v.p)) for k, v in algo.step_sizes.items()}
        return ACSMFG(
            game, n_envs=algo.n_envs, policy=model.policy, critic=model.critic, hidden=tuple(model.hidden),
            schedules=schedules, optimizer=optimizer, allow_any_step_order=algo.allow_any_step_order,
            occupancy_restart=algo.occupancy_restart, iterations_per_step=algo.iterations_per_step, seed=cfg.seed,
            eval_every=algo.eval_every, log_every=algo.log_every, phi_star=phi_star,
            init_log_std=model.get("init_log_std", 0.0), covariance=model.get("covariance", "diag"), reference=reference,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _check(cfg: DictConfig) -> None:
    algo = cfg.algo
    dtype_of(cfg.dtype)
    if algo.iterations < 1 or algo.checkpoint_every < 1:
        raise ConfigError(f"algo.iterations and algo.checkpoint_every must be >= 1, got {algo.iterations}, {algo.checkpoint_every}")
    for name, value in (("iterations", algo.iterations), ("checkpoint_every", algo.checkpoint_every)):
        if value % algo.iterations_per_step:
            raise ConfigError(f"algo.{name}={value} must be a multiple of algo.iterations_per_step={algo.iterations_per_step}")
    if algo.iterations % algo.checkpoint_every:
        raise ConfigError(f"algo.iterations={algo.iterations} must be a multiple of algo.checkpoint_every={algo.checkpoint_every}")
    if cfg.logger.kind not in ("wandb", "csv", "none"):
        raise ConfigError(f"logger.kind must be wandb, csv or none, got {cfg.logger.kind!r}")
    if cfg.resume == "last" and not cfg.run_dir:
        raise ConfigError("resume=last needs run_dir=<the interrupted run's folder>")


def make_loggers(cfg: DictConfig, run_dir: Path) -> list:
    kind = cfg.logger.kind
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        return [WandbLogger(project=cfg.logger.project, save_dir=str(run_dir), mode=cfg.logger.mode,
                            name=run_dir.name, config=OmegaConf.to_container(cfg, resolve=True))]
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    return []


def run_train(cfg: DictConfig) -> str:
    name, params = game_kwargs(cfg.game)
    game = make_game(name, **params)
    _check(cfg)
    torch.set_num_threads(int(cfg.threads))
    is_child = ENV_RUN_DIR in os.environ and "LOCAL_RANK" in os.environ
    continuous = isinstance(game, ContinuousGame)
    reference = twin_reference(game, cfg) if continuous else None
    if continuous:
        phi_star = reference.phi_star
    else:
        phi_star = reference_phi_star(game, cfg) if cfg.algo.eval_every else float("nan")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build_module(cfg, game, phi_star, reference)
    if cfg.dtype == "float64":
        module = module.double()
    if is_child:
        run_dir = Path(os.environ[ENV_RUN_DIR])
    else:
        run_dir = make_run_dir(cfg, "train", name)
        os.environ[ENV_RUN_DIR], os.environ[ENV_PHI_STAR] = str(run_dir.resolve()), repr(phi_star)
    ckpt_path = None
    if cfg.resume:
        ckpt_path = run_dir / "checkpoints" / "last.ckpt" if cfg.resume == "last" else Path(cfg.resume)
        if not ckpt_path.exists():
            raise ConfigError(f"no checkpoint to resume from at {ckpt_path}")

    algo = cfg.algo
    steps_per_epoch = algo.checkpoint_every // algo.iterations_per_step
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=1, every_n_epochs=1)
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices, strategy=cfg.trainer.strategy,
        max_epochs=algo.iterations // algo.checkpoint_every, precision=PRECISION[cfg.dtype],
        logger=make_loggers(cfg, run_dir) or False, callbacks=[checkpoint], use_distributed_sampler=False,
        enable_progress_bar=bool(cfg.progress_bar), enable_model_summary=False, log_every_n_steps=1,
        default_root_dir=str(run_dir), num_sanity_val_steps=0,
    )
    t0 = time.perf_counter()
    trainer.fit(module, DataLoader(range(steps_per_epoch), batch_size=None), ckpt_path=ckpt_path)
    seconds = time.perf_counter() - t0
    rank = trainer.global_rank
    if trainer.world_size > 1:
        torch.save(module.final_parameters(), run_dir / f"final_params_rank{rank}.pt")
    if rank != 0:
        return ""
    if continuous:
        return write_continuous_results(module, reference, run_dir, seconds, trainer.world_size,
                                        int(cfg.algo.get("best_response_iterations", 0)))
    return write_results(module, game, run_dir, phi_star, seconds, trainer.world_size)


def write_results(module: ACSMFG, game, run_dir: Path, phi_star: float, seconds: float, world: int) -> str:
    """``metrics.csv``, ``summary.json``, one PNG per metric and the learned mean field vs mu*."""
    history = module.history
    write_history(history, game.name, run_dir)
    mu_hat = module.mean_field().detach().double().cpu()
    with torch.no_grad():
        phi = policy_table(module.leader).double().cpu()
    eq = exact.solve_equilibrium(game, phi)
    plot_mean_field(game, mu_hat, run_dir / "mean_field.png", f"{game.name}: learned mean field vs mu*(phi)", reference=eq.mu,
                    label="learned mu_hat", reference_label="exact mu*(phi) of the learned leader")
    first, last = (history[0], history[-1]) if history else ({}, {})
    summary = {
        "game": game.name,
        "iterations": int(module.iteration),
        "samples": int(module.iteration) * module.n_envs * world,
        "seconds": seconds,
        "phi_star": phi_star,
        "final": last,
        "initial": first,
        "partial_grad_norm_reduction": (first.get("partial_grad_norm", float("nan")) / last["partial_grad_norm"])
        if last.get("partial_grad_norm") else float("inf"),
        "learned_mean_field": mu_hat,
        "equilibrium_mean_field": eq.mu,
        "run_dir": str(run_dir),
    }
    return write_summary(run_dir, summary)
