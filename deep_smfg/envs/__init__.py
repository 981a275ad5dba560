"""TorchRL environments over the games: finite (indices) and continuous (points in boxes)."""

from .chains import TwoChainEnv, split_chains, stack_chains
from .continuous_env import ContinuousSMFGEnv
from .smfg_env import SMFGEnv

__all__ = ["ContinuousSMFGEnv", "SMFGEnv", "TwoChainEnv", "split_chains", "stack_chains"]
