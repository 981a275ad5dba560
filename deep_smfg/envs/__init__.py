"""TorchRL environments over the games: finite (indices) and continuous (points in boxes)."""

from .continuous_env import ContinuousSMFGEnv
from .smfg_env import SMFGEnv

__all__ = ["ContinuousSMFGEnv", "SMFGEnv"]
