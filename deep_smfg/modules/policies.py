"""Policies: categorical ``pi(a | s) = softmax(logits(s))`` (a tabular table or an MLP) for finite games; squashed
Gaussians on action boxes and unsquashed Gaussians for unbounded actions (docs/linear_quadratic.md) for continuous
games."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .features import StateFeatures, mlp
from .quadrature import gaussian_expected


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
        u, a, _ = self.sample_log_prob(s, generator)
        return u, a

    @torch.no_grad()
    def sample_log_prob(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(u, a, log pi(a|s))`` from one pass of the network, without gradients (the draws of :meth:`sample`)."""
        mean, log_std = self(s)
        u = mean + log_std.exp() * torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return u, self.squash(u), self._log_prob(mean, log_std, u)

    def log_prob(self, s: Tensor, u: Tensor) -> Tensor:
        """``log pi(a|s)`` at ``a = squash(u)``, ``[N]`` (differentiable in the parameters)."""
        mean, log_std = self(s)
        return self._log_prob(mean, log_std, u)

    def _log_prob(self, mean: Tensor, log_std: Tensor, u: Tensor) -> Tensor:
        normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        log_jac = torch.log((self.high - self.low) / 2) + 2 * (math.log(2) - u - nn.functional.softplus(-2 * u))
        return (normal - log_jac).sum(-1)

    def median_action(self, s: Tensor) -> Tensor:
        """``squash(m(s))``, the median action (what plots of a schedule show)."""
        return self.squash(self(s)[0])

    def actions_at(self, s: Tensor, nodes: Tensor) -> Tensor:
        """The actions ``[N, K, d]`` at standard-normal quadrature ``nodes`` ``[K, d]``: ``squash(m + sd * node)``
        (an expectation over the policy is then a weighted sum over the nodes)."""
        mean, log_std = self(s)
        return self.squash(mean[:, None, :] + log_std.exp()[:, None, :] * nodes)

    def expected(self, s: Tensor, f) -> Tensor:
        """``E_{a ~ pi(.|s)} f(a)`` ``[N]`` by the Gauss-Hermite rule (:func:`.quadrature.gaussian_expected`)."""
        return gaussian_expected(self, s, f)

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


class GaussianPolicy(nn.Module):
    """An unsquashed Gaussian policy for unbounded actions (docs/linear_quadratic.md): ``a = u ~ N(m(s), L(s) L(s)')``.

    ``L`` is lower triangular with diagonal ``exp(log sd(s))`` (clamped to ``log_std_bounds``) and free
    off-diagonal entries (a full covariance; in 1-D simply ``sd``). With ``state_dependent`` the outputs
    ``(m, log sd, off-diagonal)`` are ``MLP(features(s))`` (the last layer starts at zero); without it they are free
    parameters, the same for every state (the LQ game's leader ``b ~ N(theta, s^2)``). Either way ``m = 0`` and
    ``sd = exp(init_log_std)`` at the start. The interface is :class:`SquashedGaussianPolicy`'s (``sample`` returns
    ``(u, a)`` with ``a = u``; ``log_prob(s, u)`` is the Gaussian density), so the learners need no change::

        log pi(u|s) = -|L^{-1}(u - m)|^2 / 2 - sum_i log sd_i - (d/2) log(2 pi)
    """

    def __init__(self, features: nn.Module | None, dim: int, hidden: list[int], init_log_std: float = 0.0,
                 log_std_bounds: tuple[float, float] = (-5.0, 2.0), state_dependent: bool = True):
        super().__init__()
        if state_dependent and features is None:
            raise ValueError("a state-dependent GaussianPolicy needs state features")
        self.dim, self.state_dependent = dim, state_dependent
        self.init_log_std, self.log_std_bounds = init_log_std, log_std_bounds
        n_out = 2 * dim + dim * (dim - 1) // 2
        self.register_buffer("tril", torch.tril_indices(dim, dim, -1))
        if state_dependent:
            self.features = features
            self.net = mlp(features.dim, list(hidden), n_out)
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)
        else:
            self.out = nn.Parameter(torch.zeros(n_out))

    def _raw(self, s: Tensor) -> Tensor:
        if self.state_dependent:
            return self.net(self.features(s))
        return self.out.expand(s.shape[0], -1)

    def forward(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """``(m(s), log sd(s))``, each ``[N, d]`` (``sd`` the diagonal of ``L``)."""
        out = self._raw(s)
        return out[..., : self.dim], (out[..., self.dim : 2 * self.dim] + self.init_log_std).clamp(*self.log_std_bounds)

    def mean_and_factor(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """``(m(s) [N, d], L(s) [N, d, d])``."""
        out = self._raw(s)
        mean = out[..., : self.dim]
        log_std = (out[..., self.dim : 2 * self.dim] + self.init_log_std).clamp(*self.log_std_bounds)
        L = torch.diag_embed(log_std.exp())
        if self.dim > 1:
            off = torch.zeros_like(L)
            off[:, self.tril[0], self.tril[1]] = out[..., 2 * self.dim :]
            L = L + off
        return mean, L

    def covariance(self, s: Tensor) -> Tensor:
        """``L(s) L(s)'``, ``[N, d, d]``."""
        _, L = self.mean_and_factor(s)
        return L @ L.transpose(-1, -2)

    def sample(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(u, a)`` with ``a = u``, without gradients."""
        u, a, _ = self.sample_log_prob(s, generator)
        return u, a

    @torch.no_grad()
    def sample_log_prob(self, s: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(u, u, log pi(u|s))`` from one pass of the network, without gradients (the draws of :meth:`sample`)."""
        mean, L = self.mean_and_factor(s)
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        u = mean + (L @ eps.unsqueeze(-1)).squeeze(-1)
        return u, u, self._log_prob(mean, L, u)

    def log_prob(self, s: Tensor, u: Tensor) -> Tensor:
        """``log pi(u|s)``, ``[N]`` (differentiable in the parameters)."""
        mean, L = self.mean_and_factor(s)
        return self._log_prob(mean, L, u)

    def _log_prob(self, mean: Tensor, L: Tensor, u: Tensor) -> Tensor:
        y = torch.linalg.solve_triangular(L, (u - mean).unsqueeze(-1), upper=False).squeeze(-1)
        log_det = torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        return -0.5 * (y**2).sum(-1) - log_det - 0.5 * self.dim * math.log(2 * math.pi)

    def median_action(self, s: Tensor) -> Tensor:
        """``m(s)``, the mean (and median) action."""
        return self(s)[0]

    def actions_at(self, s: Tensor, nodes: Tensor) -> Tensor:
        """The actions ``[N, K, d]`` at standard-normal quadrature ``nodes`` ``[K, d]``: ``m + L node``."""
        mean, L = self.mean_and_factor(s)
        return mean[:, None, :] + nodes @ L.transpose(-1, -2)

    def expected(self, s: Tensor, f) -> Tensor:
        """``E_{a ~ pi(.|s)} f(a)`` ``[N]`` by the Gauss-Hermite rule (:func:`.quadrature.gaussian_expected`)."""
        return gaussian_expected(self, s, f)
