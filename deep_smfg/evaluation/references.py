"""Reference answers that evaluation compares a run with, cached in ``runs/.cache`` by game and reference config.

* :func:`reference_phi_star`: ``Phi*`` of a finite game by exact multi-start ascent;
* :func:`twin_reference`: a continuous game's discretised twin (the grid sizes its config declares) and its exact
  answer.

Under DDP the children find the answer the parent cached before it launched them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from .. import exact
from ..config import ConfigError
from ..games import GameDefinitionError
from ..games.continuous import ContinuousGame, discretise
from .continuous_metrics import TwinReference


def _cache_path(kind: str, cfg: DictConfig) -> tuple[Path, str]:
    key = json.dumps({"game": OmegaConf.to_container(cfg.game), "ref": OmegaConf.to_container(cfg.reference)},
                     sort_keys=True)
    return Path("runs/.cache") / f"{kind}_{hashlib.sha1(key.encode()).hexdigest()[:16]}.json", key


def reference_phi_star(game, cfg: DictConfig) -> float:
    """``Phi*`` by exact multi-start ascent, cached in ``runs/.cache`` by game config."""
    cache, key = _cache_path("phi_star", cfg)
    if cache.exists():
        return json.loads(cache.read_text())["phi_star"]
    value = exact.reference_leader_optimum(game, n_starts=cfg.reference.n_starts, n_steps=cfg.reference.n_steps,
                                           lr=cfg.reference.lr).value
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"phi_star": value, "key": json.loads(key)}))
    return value


def twin_reference(game: ContinuousGame, cfg: DictConfig, grid: dict[str, int]) -> TwinReference:
    """The discretised twin on ``grid`` (``n_states``, ``n_actions``, ``n_leader``, ``n_quadrature``: the game config's
    ``evaluator`` node) and its exact answer, cached in ``runs/.cache``."""
    for key, low in (("n_states", 2), ("n_actions", 2), ("n_leader", 2), ("n_quadrature", 1)):
        value = grid[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"game.evaluator.{key}={value!r}: must be an integer >= {low} (the twin's grid)")
    try:
        twin = discretise(game, grid["n_states"], grid["n_actions"], grid["n_leader"], grid["n_quadrature"])
    except GameDefinitionError as exc:
        raise ConfigError(f"game.evaluator (the twin's grids): {exc}") from exc
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
