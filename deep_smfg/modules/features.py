"""State features for neural modules: one-hot indices, optionally concatenated with coordinates."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class StateFeatures(nn.Module):
    """``s -> [one_hot(s), coords(s)]`` (coords scaled to [0, 1]), as a fixed lookup table."""

    def __init__(self, n_states: int, coords: Tensor | None = None):
        super().__init__()
        table = torch.eye(n_states)
        if coords is not None:
            c = coords.float()
            span = (c.max(0).values - c.min(0).values).clamp_min(1e-9)
            table = torch.cat([table, (c - c.min(0).values) / span], dim=1)
        self.register_buffer("table", table)

    @property
    def dim(self) -> int:
        return self.table.shape[1]

    def forward(self, s: Tensor) -> Tensor:
        return self.table[s]


def mlp(in_dim: int, hidden: list[int], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), nn.Tanh()]
        in_dim = h
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class BoxFeatures(nn.Module):
    """``s -> 2 (s - low) / (high - low) - 1``: a continuous state rescaled to ``[-1, 1]^d``."""

    def __init__(self, low: Tensor, high: Tensor):
        super().__init__()
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32))

    @property
    def dim(self) -> int:
        return self.low.numel()

    def forward(self, s: Tensor) -> Tensor:
        return 2 * (s - self.low) / (self.high - self.low) - 1
