"""The modules of a continuous game: squashed-Gaussian policies, MLP critics over the state box, and a
Gaussian mean field that starts at the centre of ``z``'s box with the variance of the uniform law there."""

from __future__ import annotations

import torch
from torch import nn

from ..games.continuous import ContinuousGame
from .critics import MLPCritic
from .features import BoxFeatures
from .mean_field import GaussianMeanField
from .policies import SquashedGaussianPolicy


def continuous_modules(game: ContinuousGame, policy: str = "squashed_gaussian", critic: str = "mlp", hidden=(64, 64),
                       init_log_std: float = 0.0, covariance: str = "diag") -> tuple[nn.Module, ...]:
    """``(follower, leader, critic_f, critic_l, mean_field)`` for ``game``."""
    if policy != "squashed_gaussian" or critic != "mlp":
        raise ValueError(f"continuous games need model=squashed_gaussian (policy squashed_gaussian, critic mlp); "
                         f"got policy {policy!r}, critic {critic!r}")
    f32 = dict(dtype=torch.float32)

    def features() -> BoxFeatures:
        return BoxFeatures(*game.state_space.tensors(**f32))

    follower = SquashedGaussianPolicy(features(), *game.action_space.tensors(**f32), list(hidden), init_log_std)
    leader = SquashedGaussianPolicy(features(), *game.leader_action_space.tensors(**f32), list(hidden), init_log_std)
    low, high = game.z_space.tensors(**f32)
    mean_field = GaussianMeanField((low + high) / 2, (high - low) ** 2 / 12, covariance)
    return follower, leader, MLPCritic(features(), list(hidden)), MLPCritic(features(), list(hidden)), mean_field
