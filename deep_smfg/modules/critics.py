"""Critics: state values ``V(s)`` (a table, or an MLP over state features, finite or continuous states), and the
action values ``Q(s, a)`` a leader-gradient estimator learns (docs/stackelberg_gradient.md)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .features import BoxFeatures, StateFeatures, mlp
from .policies import build_policy


class TabularCritic(nn.Module):
    def __init__(self, n_states: int):
        super().__init__()
        self.values = nn.Parameter(torch.zeros(n_states))

    def forward(self, s: Tensor) -> Tensor:
        return self.values[s]


class MLPCritic(nn.Module):
    """``V(s) = MLP(features(s))``; ``features`` maps states (indices, or points of a box) to vectors."""

    def __init__(self, features: nn.Module, hidden: list[int]):
        super().__init__()
        self.features = features
        self.net = mlp(self.features.dim, list(hidden), 1)

    def forward(self, s: Tensor) -> Tensor:
        return self.net(self.features(s)).squeeze(-1)


class QuadraticMLPCritic(MLPCritic):
    """``V(s) = MLP(f) + w'f + sum_{i <= j} W_ij f_i f_j`` with ``f = features(s)``: an MLP beside a quadratic in the
    features (``model.critic=mlp_quadratic``). The tanh units of an MLP can saturate and leave the critic flat; the
    quadratic part cannot, and it holds the linear-quadratic game's values exactly (docs/linear_quadratic.md)."""

    def __init__(self, features: nn.Module, hidden: list[int]):
        super().__init__(features, hidden)
        d = features.dim
        self.register_buffer("pairs", torch.triu_indices(d, d))
        self.quadratic = nn.Linear(d + self.pairs.shape[1], 1, bias=False)
        nn.init.zeros_(self.quadratic.weight)

    def forward(self, s: Tensor) -> Tensor:
        f = self.features(s)
        q = torch.cat([f, f[..., self.pairs[0]] * f[..., self.pairs[1]]], -1)
        return (self.net(f) + self.quadratic(q)).squeeze(-1)


def build_critic(kind: str, n_states: int, hidden=(64, 64), coords=None) -> nn.Module:
    if kind == "tabular":
        return TabularCritic(n_states)
    if kind == "mlp":
        return MLPCritic(StateFeatures(n_states, coords), list(hidden))
    raise ValueError(f"critic kind must be 'tabular' or 'mlp', got {kind!r}")


def build_action_critic(kind: str, n_states: int, n_actions: int, hidden=(64, 64), coords=None) -> nn.Module:
    """``Q(s, .)``: one value per action, a table or an MLP shaped like a categorical policy's logits (zero at
    the start)."""
    return build_policy(kind, n_states, n_actions, hidden, coords)


class MLPActionCritic(nn.Module):
    """``Q(s, a) = MLP([features(s), features(a)])`` on continuous states and actions (each rescaled to
    ``[-1, 1]^d`` by :class:`~.features.BoxFeatures`); zero at the start, like the finite ``Q(s, .)``."""

    def __init__(self, state_features: nn.Module, action_low: Tensor, action_high: Tensor, hidden: list[int]):
        super().__init__()
        self.state_features = state_features
        self.action_features = BoxFeatures(action_low, action_high)
        self.net = mlp(state_features.dim + self.action_features.dim, list(hidden), 1)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, s: Tensor, a: Tensor) -> Tensor:
        """``[N]`` values at ``s [N, ds]``, ``a [N, da]``."""
        return self.net(torch.cat([self.state_features(s), self.action_features(a)], -1)).squeeze(-1)
