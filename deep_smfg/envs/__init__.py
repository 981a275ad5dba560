"""TorchRL environments over the games."""

from .smfg_env import SMFGEnv

__all__ = ["SMFGEnv"]
