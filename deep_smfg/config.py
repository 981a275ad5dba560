"""What the command-line jobs share: the config error type, dtype names, and the game node's split."""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf

DTYPES = {"float64": torch.float64, "float32": torch.float32}


class ConfigError(ValueError):
    """A bad command line or config value."""


def dtype_of(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def game_kwargs(game_cfg: DictConfig) -> tuple[str, dict]:
    """Split a ``game`` config node into its name and the factory's keyword arguments."""
    params = OmegaConf.to_container(game_cfg, resolve=True)
    name = params.pop("name")
    return name, params
