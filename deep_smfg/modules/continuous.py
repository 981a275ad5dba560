"""The modules of a continuous game: policies, MLP critics over the state box, and a Gaussian mean field that starts
at the centre of ``z``'s box with the variance of the uniform law there.

Policies by ``model.policy``:

* ``squashed_gaussian``: squashed Gaussians on the action boxes (games with bounded actions);
* ``cells``: the follower piecewise-uniform on its action box (:class:`~.cell_policy.CellPolicy`, ``model.cells`` cells
  per dimension), the leader a squashed Gaussian;
* ``gaussian``: unsquashed Gaussians for unbounded actions (docs/linear_quadratic.md): a state-dependent follower
  and the state-independent leader ``b ~ N(theta, s^2)`` of the linear-quadratic game.

The mean field by ``model.density``: ``gaussian`` (:class:`~.mean_field.GaussianMeanField`, covariance by
``model.covariance``) or ``mixture`` (:class:`~.mixture_mean_field.MixtureMeanField`, ``model.components``
full-covariance components; docs/crowd.md).

A game declares unbounded actions (``ContinuousGame.actions_unbounded``, the linear-quadratic game); each policy kind
refuses the other kind of game.
"""

from __future__ import annotations

import torch
from torch import nn

from ..games.continuous import ContinuousGame
from .cell_policy import CellPolicy
from .critics import MLPCritic, QuadraticMLPCritic
from .features import BoxFeatures
from .mean_field import GaussianMeanField
from .mixture_mean_field import MixtureMeanField
from .policies import GaussianPolicy, SquashedGaussianPolicy

POLICIES = ("squashed_gaussian", "cells", "gaussian")
CRITICS = {"mlp": MLPCritic, "mlp_quadratic": QuadraticMLPCritic}
DENSITIES = ("gaussian", "mixture")


def continuous_modules(game: ContinuousGame, policy: str = "squashed_gaussian", critic: str = "mlp", hidden=(64, 64),
                       init_log_std: float = 0.0, covariance: str = "diag", density: str = "gaussian",
                       components: int = 3, cells: int = 16) -> tuple[nn.Module, ...]:
    """``(follower, leader, critic_f, critic_l, mean_field)`` for ``game``."""
    unbounded = game.actions_unbounded
    if policy not in POLICIES or critic not in CRITICS:
        raise ValueError(f"continuous games need model=squashed_gaussian or model=cells (bounded actions) or "
                         f"model=gaussian (unbounded actions: linear_quadratic), with critic mlp or mlp_quadratic; "
                         f"got policy {policy!r}, critic {critic!r}")
    if unbounded and policy != "gaussian":
        raise ValueError(f"{game.name} has unbounded actions (its boxes are not constraints): use model=gaussian "
                         f"(an unsquashed Gaussian policy), not policy {policy!r}")
    if not unbounded and policy == "gaussian":
        raise ValueError(f"{game.name} has bounded actions: model=gaussian (unsquashed) would play outside its "
                         f"action box; use model=squashed_gaussian or model=cells")
    if density not in DENSITIES:
        raise ValueError(f"model.density must be one of {', '.join(DENSITIES)}, got {density!r}")
    if density == "mixture" and components < 1:
        raise ValueError(f"model.components must be >= 1 for a mixture, got {components}")
    f32 = dict(dtype=torch.float32)

    def features() -> BoxFeatures:
        return BoxFeatures(*game.state_space.tensors(**f32))

    if unbounded:
        follower = GaussianPolicy(features(), game.action_space.dim, list(hidden), init_log_std)
        leader = GaussianPolicy(None, game.leader_action_space.dim, list(hidden), init_log_std, state_dependent=False)
    else:
        bounded_followers = {  # model.policy -> the follower on the action box
            "squashed_gaussian": lambda: SquashedGaussianPolicy(features(), *game.action_space.tensors(**f32),
                                                                list(hidden), init_log_std),
            "cells": lambda: CellPolicy(features(), *game.action_space.tensors(), list(hidden), cells)}
        follower = bounded_followers[policy]()
        leader = SquashedGaussianPolicy(features(), *game.leader_action_space.tensors(**f32), list(hidden),
                                        init_log_std)
    low, high = game.z_space.tensors(**f32)
    mean_field = (GaussianMeanField((low + high) / 2, (high - low) ** 2 / 12, covariance) if density == "gaussian"
                  else MixtureMeanField(low, high, components))
    critic_cls = CRITICS[critic]
    return follower, leader, critic_cls(features(), list(hidden)), critic_cls(features(), list(hidden)), mean_field
