"""Categorical policies ``pi(a | s) = softmax(logits(s))``: a tabular table or an MLP."""

from __future__ import annotations

import math

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


class SquashedGaussianPolicy(nn.Module):
    """A policy on a box ``[low, high]``: ``a = low + (high - low) (tanh(u) + 1) / 2``, ``u ~ N(m(s), diag sd(s)^2)``.

    ``(m, log sd) = MLP(features(s))`` (the last layer starts at zero: ``m = 0`` and ``sd = exp(init_log_std)``,
    clamped to ``log_std_bounds``). The density of ``a`` (the change of variables through the squash)::

        log pi(a|s) = sum_i [ log N(u_i; m_i, sd_i) - log((high_i - low_i) / 2) - log(1 - tanh(u_i)^2) ]

    with ``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))`` (stable for large ``|u|``). The learner keeps
    the pre-squash sample ``u`` so that it never inverts the squash.
    """

    def __init__(self, features: nn.Module, low: Tensor, high: Tensor, hidden: list[int], init_log_std: float = 0.0,
                 log_std_bounds: tuple[float, float] = (-5.0, 1.0)):
        super().__init__()
        self.features = features
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32))
        self.dim = self.low.numel()
        self.net = mlp(features.dim, list(hidden), 2 * self.dim)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.init_log_std, self.log_std_bounds = init_log_std, log_std_bounds

    def forward(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """``(m(s), log sd(s))``, each ``[N, d]``."""
        out = self.net(self.features(s))
        mean, raw = out[..., : self.dim], out[..., self.dim :]
        return mean, (raw + self.init_log_std).clamp(*self.log_std_bounds)

    def squash(self, u: Tensor) -> Tensor:
        return self.low + (self.high - self.low) * (torch.tanh(u) + 1) / 2

    def sample(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(u, a)``: a pre-squash draw and the action, without gradients."""
        with torch.no_grad():
            mean, log_std = self(s)
            u = mean + log_std.exp() * torch.randn(mean.shape, generator=generator, dtype=mean.dtype,
                                                   device=mean.device)
            return u, self.squash(u)

    def log_prob(self, s: Tensor, u: Tensor) -> Tensor:
        """``log pi(a|s)`` at ``a = squash(u)``, ``[N]`` (differentiable in the parameters)."""
        mean, log_std = self(s)
        normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        log_jac = torch.log((self.high - self.low) / 2) + 2 * (math.log(2) - u - nn.functional.softplus(-2 * u))
        return (normal - log_jac).sum(-1)

    def median_action(self, s: Tensor) -> Tensor:
        """``squash(m(s))``, the median action (what plots of a schedule show)."""
        return self.squash(self(s)[0])

    def cell_probs(self, s: Tensor, grids: list[Tensor]) -> Tensor:
        """Probability of each cell of a product grid (``torch.cartesian_prod`` order), ``[N, prod K_i]``.

        Dimension ``i``'s cell ``j`` is the interval between the midpoints around ``grids[i][j]`` (the box
        bounds at the ends); the dimensions are independent under the policy.
        """
        mean, log_std = self(s)
        out = None
        for i, g in enumerate(grids):
            g = g.to(mean)
            mid = (g[1:] + g[:-1]) / 2
            y = (2 * (mid - self.low[i]) / (self.high[i] - self.low[i]) - 1).clamp(-1 + 1e-12, 1 - 1e-12)
            z = (torch.atanh(y)[None, :] - mean[:, i : i + 1]) / log_std[:, i : i + 1].exp()
            cdf = torch.special.ndtr(z)
            ones = torch.ones_like(cdf[:, :1])
            p = torch.cat([cdf, ones], 1) - torch.cat([0 * ones, cdf], 1)  # [N, K_i]
            out = p if out is None else (out[:, :, None] * p[:, None, :]).reshape(p.shape[0], -1)
        return out
