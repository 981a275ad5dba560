"""The Python API: train a game, load a finished run, act with its policies (docs/custom_games.md, "From Python").

    run = deep_smfg.train(my_game, ["algo.iterations=2000", "logger=csv"])   # a game object, built in a notebook
    run = deep_smfg.train("equilibrium_pricing", ["seed=1"])                  # a config of configs/game/
    run = deep_smfg.train("my_pkg.games.make_my_game", ["+game.n=5"])         # a factory, by its dotted path
    run = deep_smfg.load_run("runs/train/my_game/2026-12-06_12-00-00")
    actions = run.act(states)                      # the follower's actions, sampled; mean=True: its typical action

``train`` runs exactly what ``deep-smfg train <overrides>`` runs (the same config, checks, run folder and report;
errors are raised, not printed). A game object passed to ``train`` is held in this process under a fresh key
(``_target_: deep_smfg.api.given_game``, recorded in the run's config.yaml): ``load_run`` finds it again in the same
process; in another one, pass it: ``load_run(run_dir, game=my_game)``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from omegaconf import DictConfig, OmegaConf

from .checkpoints import newest_checkpoint, read_checkpoint
from .config import ConfigError, build_learner, game_of
from .games import ContinuousGame, FiniteGame, GameDefinitionError

_GIVEN: dict[str, FiniteGame | ContinuousGame] = {}


def given_game(key: str) -> FiniteGame | ContinuousGame:
    """The game object passed to :func:`train` under ``key`` in this process (the ``_target_`` of such runs)."""
    if key not in _GIVEN:
        raise GameDefinitionError("this run's game was an object passed to deep_smfg.train in another process; pass "
                                  "it again: deep_smfg.load_run(run_dir, game=my_game)")
    return _GIVEN[key]


@dataclass
class Run:
    """A finished (or interrupted) run: its folder, config and summary, its game, and its learner in eval mode."""

    run_dir: Path
    config: DictConfig
    summary: dict
    game: FiniteGame | ContinuousGame
    learner: torch.nn.Module
    checkpoint: Path

    @property
    def follower(self) -> torch.nn.Module:
        return self.learner.agents().follower

    @property
    def leader(self) -> torch.nn.Module:
        return self.learner.agents().leader

    @property
    def mean_field(self) -> torch.nn.Module:
        return self.learner.agents().mean_field

    @torch.no_grad()
    def act(self, states: torch.Tensor, *, leader: bool = False, mean: bool = False,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """Actions of the follower (``leader=True``: the leader) at a batch of states: finite games take state indices
        ``[N]`` (long) and give action indices ``[N]``; continuous games take points ``[N, ds]`` (of the run's dtype,
        float32 unless it trained with ``dtype=float64``) and give actions ``[N, da]``. ``mean=False`` draws from the
        policy (``generator`` for reproducible draws); ``mean=True`` gives its typical action (finite: the most likely
        one; continuous: the median, ``squash(mean)``)."""
        policy = self.leader if leader else self.follower
        return self.learner.kind.act(policy, states, mean=mean, generator=generator)


def train(game_or_config: FiniteGame | ContinuousGame | str, overrides: Sequence[str] = (),
          config_dir: str | Path | None = None) -> Run:
    """Run ``deep-smfg train`` on a game and return the finished :class:`Run` (see the module docstring).

    ``game_or_config``: a game object; the name of a game config (``configs/game/<name>.yaml``, or
    ``<config_dir>/game/<name>.yaml``); or a factory's dotted path. ``config_dir``: a folder of your own configs, as
    ``deep-smfg train --config-dir``."""
    from . import train_job
    from .cli import compose_config

    overrides = list(overrides)
    if config_dir is not None:  # as the command's --config-dir: the folder joins the config search path
        folder = Path(config_dir).expanduser().resolve()
        if not folder.is_dir():
            raise ConfigError(f"config_dir={config_dir}: no such folder")
        overrides.append(f"hydra.searchpath=[file://{folder}]")
    if not isinstance(game_or_config, str):  # a game object: its declared kind picks the empty node
        key = uuid.uuid4().hex
        _GIVEN[key] = game_or_config
        overrides = [f"game={game_or_config.KIND}", "game._target_=deep_smfg.api.given_game", f"+game.key={key}",
                     *overrides]
    elif "." in game_or_config:
        overrides = [f"game._target_={game_or_config}", *overrides]
    else:
        overrides = [f"game={game_or_config}", *overrides]
    cfg = compose_config("train", overrides)
    summary = json.loads(train_job.run_train(cfg))
    return load_run(summary["run_dir"])


def load_run(run_dir: str | Path, game: FiniteGame | ContinuousGame | None = None,
             checkpoint: str | Path | None = None) -> Run:
    """The run in ``run_dir`` with its newest checkpoint by iteration (or ``checkpoint``): the game rebuilt from its
    config (or ``game``), the learner's modules loaded, in eval mode, on the CPU."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.yaml)")
    cfg = OmegaConf.load(run_dir / "config.yaml")
    info = read_checkpoint(Path(checkpoint)) if checkpoint else newest_checkpoint(run_dir / "checkpoints")
    if info is None:
        raise ConfigError(f"{run_dir} holds no checkpoint")
    learner, game = learner_from_checkpoint(info.path, cfg, game)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return Run(run_dir, cfg, summary, game, learner, info.path)


def learner_from_checkpoint(path: Path, cfg: DictConfig | None = None, game=None):
    """``(learner, game)`` rebuilt from the checkpoint ``path`` (its config: the one stored in it, or ``cfg``) with its
    parameters loaded, in eval mode."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = cfg if cfg is not None else OmegaConf.create(state.get("run_config"))
    if cfg is None or "algo" not in cfg:
        raise ConfigError(f"{path} holds no run config: load it through its run folder, load_run(run_dir)")
    game = game if game is not None else game_of(cfg)
    learner = build_learner(cfg, game)
    if cfg.get("dtype") == "float64":
        learner = learner.double()
    try:
        learner.load_state_dict(state.get("state_dict", {}))
    except RuntimeError as exc:
        raise ConfigError(f"the checkpoint {path} does not fit the run's game {game.name} (was it written for another "
                          f"game or model, or by an earlier deep_smfg whose learner held other modules?): "
                          f"{str(exc).splitlines()[0]}") from exc
    return learner.eval(), game
