"""State-value critics ``V(s)``: a table or an MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .features import StateFeatures, mlp


class TabularCritic(nn.Module):
    def __init__(self, n_states: int):
        super().__init__()
        self.values = nn.Parameter(torch.zeros(n_states))

    def forward(self, s: Tensor) -> Tensor:
        return self.values[s]


class MLPCritic(nn.Module):
    def __init__(self, n_states: int, hidden: list[int], coords: Tensor | None = None):
        super().__init__()
        self.features = StateFeatures(n_states, coords)
        self.net = mlp(self.features.dim, list(hidden), 1)

    def forward(self, s: Tensor) -> Tensor:
        return self.net(self.features(s)).squeeze(-1)


def build_critic(kind: str, n_states: int, hidden=(64, 64), coords=None) -> nn.Module:
    if kind == "tabular":
        return TabularCritic(n_states)
    if kind == "mlp":
        return MLPCritic(n_states, list(hidden), coords)
    raise ValueError(f"critic kind must be 'tabular' or 'mlp', got {kind!r}")
