"""Torch modules for policies, critics and mean fields. Tabular modules are ordinary modules: the
tabular and neural cases run through the same training code.

Every policy maps a batch of state indices ``s`` (long, ``[N]``) to logits ``[N, K]``; every critic
maps ``s`` to values ``[N]``; a mean-field module returns the current estimate ``mu_hat``. On continuous
games states are points ``[N, d]`` (``BoxFeatures``), policies are squashed Gaussians or piecewise-uniform laws
(``CellPolicy``) on the action box (or unsquashed Gaussians where a game's actions are unbounded) and the mean
field is Gaussian (its ``forward`` returns the mean ``m``, what the rewards read).
"""

from .cell_policy import CellPolicy
from .continuous import continuous_modules
from .critics import MLPActionCritic, MLPCritic, TabularCritic, build_action_critic, build_critic
from .features import BoxFeatures, StateFeatures
from .mean_field import CategoricalMeanField, GaussianMeanField, project_simplex
from .mixture_mean_field import MixtureMeanField
from .policies import GaussianPolicy, MLPCategoricalPolicy, SquashedGaussianPolicy, TabularSoftmaxPolicy, build_policy

__all__ = [
    "BoxFeatures",
    "CategoricalMeanField",
    "CellPolicy",
    "GaussianMeanField",
    "GaussianPolicy",
    "MixtureMeanField",
    "MLPActionCritic",
    "SquashedGaussianPolicy",
    "StateFeatures",
    "MLPCategoricalPolicy",
    "MLPCritic",
    "TabularCritic",
    "TabularSoftmaxPolicy",
    "build_action_critic",
    "build_critic",
    "build_policy",
    "continuous_modules",
    "project_simplex",
]
