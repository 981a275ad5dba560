"""Categorical policies ``pi(a | s) = softmax(logits(s))``: a tabular table or an MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .features import StateFeatures, mlp


class TabularSoftmaxPolicy(nn.Module):
    """``pi_theta(a|s) = exp(theta[s, a]) / sum_a' exp(theta[s, a'])`` (the paper's parameterisation)."""

    def __init__(self, n_states: int, n_actions: int):
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(n_states, n_actions))
        self.n_states = n_states

    def forward(self, s: Tensor) -> Tensor:
        return self.theta[s]


class MLPCategoricalPolicy(nn.Module):
    """``logits = MLP(features(s))``; the last layer starts at zero, so the policy starts uniform."""

    def __init__(self, n_states: int, n_actions: int, hidden: list[int], coords: Tensor | None = None):
        super().__init__()
        self.features = StateFeatures(n_states, coords)
        self.net = mlp(self.features.dim, list(hidden), n_actions)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.n_states = n_states

    def forward(self, s: Tensor) -> Tensor:
        return self.net(self.features(s))


def policy_table(policy: nn.Module) -> Tensor:
    """``pi[s, a]`` for every state (what the exact metrics read)."""
    s = torch.arange(policy.n_states, device=next(policy.parameters()).device)
    return torch.softmax(policy(s), dim=-1)


def build_policy(kind: str, n_states: int, n_actions: int, hidden=(64, 64), coords=None) -> nn.Module:
    if kind == "tabular":
        return TabularSoftmaxPolicy(n_states, n_actions)
    if kind == "mlp":
        return MLPCategoricalPolicy(n_states, n_actions, list(hidden), coords)
    raise ValueError(f"policy kind must be 'tabular' or 'mlp', got {kind!r}")
