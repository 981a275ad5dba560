"""``deep-smfg evaluate run_dir=RUN``: a finished run's learned policies in populations of ``n`` players.

Reads the run's ``config.yaml`` and its newest checkpoint by iteration (which must be the iteration its
``summary.json`` reports; a corrupt file is named), rebuilds its game and learner, and runs
:func:`deep_smfg.evaluation.n_player.evaluate_n_players` on the learned follower and leader tables (finite games)
or :func:`deep_smfg.evaluation.n_player_continuous.evaluate_n_players_continuous` on the learned modules. Writes
``<run_dir>/n_player/``: ``n_player.csv`` (one row per ``n``), ``summary.json`` (the rows, the mean-field
values, the settings) and ``n_player.png``. Everything is checked before anything is written. The games run on
the device the run trained on (``device=auto``), or the one asked for.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .api import learner_from_checkpoint
from .checkpoints import newest_checkpoint, read_checkpoint
from .config import ConfigError, game_of
from .evaluation.n_player import check_settings, evaluate_n_players
from .evaluation.n_player_continuous import evaluate_n_players_continuous
from .evaluation.n_player_plot import plot_n_player
from .modules.policies import policy_table
from .run_folder import write_csv, write_summary
from .run_lock import RunLock
from .schema import validate


def _run_folder(cfg: DictConfig) -> Path:
    """``cfg.run_dir`` if it holds a run with a summary, or a :class:`ConfigError`."""
    run_dir = Path(cfg.run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.yaml): pass run_dir=<a deep-smfg train run>")
    if not (run_dir / "summary.json").is_file():
        raise ConfigError(f"{run_dir} holds no finished run (no summary.json): evaluate after the run ends")
    return run_dir


def _checked(cfg: DictConfig):
    """The run's game, learned ``(pi, phi)`` and the output folder, or a :class:`ConfigError`."""
    run_dir = _run_folder(cfg)
    ckpt_path = _checkpoint(cfg, run_dir)
    try:
        run_cfg = OmegaConf.load(run_dir / "config.yaml")
        validate("train", run_cfg, devices=False)
    except (ConfigError, OmegaConfBaseException, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{run_dir / 'config.yaml'} is not a readable train config ({exc}): the run folder is "
                          f"damaged") from exc
    game = game_of(run_cfg)
    n_players = [int(n) for n in cfg.n_players] if OmegaConf.is_list(cfg.n_players) else [int(cfg.n_players)]
    try:
        check_settings(game, n_players, int(cfg.games), int(cfg.ghosts), int(cfg.periods))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    learner, _ = learner_from_checkpoint(ckpt_path, run_cfg, game)  # the one way a run's learner is loaded
    return game, learner.double().to(_device(str(cfg.device), run_cfg)), n_players, run_dir / "n_player"


def _checkpoint(cfg: DictConfig, run_dir: Path) -> Path:
    """``checkpoint=``, or the run's newest checkpoint by iteration; it must hold the iteration the summary reports."""
    if cfg.checkpoint:
        path = Path(cfg.checkpoint)
        if not path.is_file():
            raise ConfigError(f"checkpoint={path}: no such file")
        read_checkpoint(path)  # readable, or named as corrupt
        return path
    newest = newest_checkpoint(run_dir / "checkpoints")
    if newest is None:
        raise ConfigError(f"{run_dir} holds no checkpoint (checkpoints/ is empty or missing)")
    iteration, path = newest.iteration, newest.path
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except ValueError as exc:
        raise ConfigError(f"{run_dir / 'summary.json'} is not readable JSON: the run folder is damaged") from exc
    if summary.get("status", "completed") != "completed":
        raise ConfigError(f"{run_dir} holds a run that did not complete (status {summary['status']}: "
                          f"{summary.get('error', '')}); resume it first, or pass checkpoint=<path>")
    if "iterations" in summary and int(summary["iterations"]) != iteration:
        raise ConfigError(f"{run_dir}: summary.json reports iteration {summary['iterations']} but the newest "
                          f"checkpoint {path.name} holds iteration {iteration}; pass checkpoint=<path> to choose")
    return path


def _device(wanted: str, run_cfg: DictConfig) -> torch.device:
    """``auto``: the device the run trained on (``trainer.accelerator``), or the CPU where that one is missing."""
    if wanted == "auto":
        on_gpu = OmegaConf.select(run_cfg, "trainer.accelerator") == "gpu"
        wanted = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
    if wanted not in ("cpu", "cuda") and not wanted.startswith("cuda:"):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:<index>, got {wanted!r}")
    if wanted != "cpu" and not torch.cuda.is_available():
        raise ConfigError(f"device={wanted} asked for, but torch sees no CUDA device here: use device=cpu or auto")
    return torch.device(wanted)


def check_config(cfg: DictConfig) -> None:
    with RunLock(_run_folder(cfg), "deep-smfg evaluate"):  # a run still writing the folder is refused first
        _checked(cfg)


def run_evaluate(cfg: DictConfig) -> str:
    # a run folder (else no lock file is written there), locked before it is read: no run writes it meanwhile
    with RunLock(_run_folder(cfg), "deep-smfg evaluate"):
        game, learner, n_players, out = _checked(cfg)
        return _evaluate(cfg, game, learner, n_players, out)


def _evaluate(cfg: DictConfig, game, learner, n_players: list[int], out: Path) -> str:
    torch.set_num_threads(int(cfg.threads))
    t0 = time.perf_counter()
    device = next(learner.parameters()).device
    settings = dict(games=int(cfg.games), max_players=int(cfg.max_players), ghosts=int(cfg.ghosts),
                    periods=int(cfg.periods), seed=int(cfg.seed))
    if game.KIND == "finite":
        with torch.no_grad():
            pi, phi = policy_table(learner.agents().follower), policy_table(learner.agents().leader)
        rows, limit = evaluate_n_players(game, pi, phi, n_players, samples=int(cfg.samples), device=device,
                                         **settings)
    else:
        rows, limit = evaluate_n_players_continuous(learner, n_players, **settings,
                                                    best_response_iterations=int(cfg.best_response_iterations),
                                                    mean_field_chains=int(cfg.mean_field_chains))
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    table = [asdict(r) for r in rows]
    write_csv(out / "n_player.csv", table)
    plot_n_player(rows, limit, out / "n_player.png", f"{game.name}: the learned policies among n players")
    chosen = OmegaConf.to_container(cfg, resolve=True)
    summary = {"game": game.name, "run_dir": str(cfg.run_dir), "rows": table, "mean_field": asdict(limit),
               "settings": {**{k: chosen[k] for k in ("games", "max_players", "ghosts", "periods", "samples",
                                                        "best_response_iterations", "mean_field_chains", "seed")},
                            "device": str(device)},
               "seconds": seconds, "out_dir": str(out)}
    return write_summary(out, summary)
