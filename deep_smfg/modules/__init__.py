"""Torch modules for policies, critics and mean fields. Tabular modules are ordinary modules: the
tabular and neural cases run through the same training code.

Every policy maps a batch of state indices ``s`` (long, ``[N]``) to logits ``[N, K]``; every critic
maps ``s`` to values ``[N]``; a mean-field module returns the current estimate ``mu_hat``.
"""

from .critics import MLPCritic, TabularCritic, build_critic
from .mean_field import CategoricalMeanField, project_simplex
from .policies import MLPCategoricalPolicy, TabularSoftmaxPolicy, build_policy

__all__ = [
    "CategoricalMeanField",
    "MLPCategoricalPolicy",
    "MLPCritic",
    "TabularCritic",
    "TabularSoftmaxPolicy",
    "build_critic",
    "build_policy",
    "project_simplex",
]
