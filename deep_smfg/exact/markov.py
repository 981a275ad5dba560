"""Markov-chain algebra shared by every exact solver: policy-averaged kernels and rewards,
stationary distributions and discounted values. Pure tensor code, differentiable, any float dtype.

Shapes: ``P[s, a, b, s']``, ``r[s, a, b]``, ``pi[s, a]`` (follower), ``phi[s, b]`` (leader).
"""

from __future__ import annotations

import torch
from torch import Tensor


class StationaryDistributionError(RuntimeError):
    """The chain has no unique stationary distribution."""


def leader_averaged(x: Tensor, phi: Tensor) -> Tensor:
    """Average over the leader's action: ``x_phi[s, a, ...] = sum_b phi(b|s) x[s, a, b, ...]``."""
    return torch.einsum("sab...,sb->sa...", x, phi)


def state_kernel(P: Tensor, pi: Tensor, phi: Tensor) -> Tensor:
    """``K(s'|s) = sum_{a,b} pi(a|s) phi(b|s) P(s'|s,a,b)``, shape ``[S, S]``."""
    return torch.einsum("sabt,sa,sb->st", P, pi, phi)


def state_reward(r: Tensor, pi: Tensor, phi: Tensor) -> Tensor:
    """``r^{pi,phi}(s) = sum_{a,b} pi(a|s) phi(b|s) r(s,a,b)``, shape ``[S]``."""
    return torch.einsum("sab,sa,sb->s", r, pi, phi)


def entropy(p: Tensor) -> Tensor:
    """Row entropies ``-sum_a p log p`` (0 log 0 = 0), shape ``p.shape[:-1]``."""
    return -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(-1)


def discounted_value(K: Tensor, r: Tensor, gamma: float) -> Tensor:
    """``V = (I - gamma K)^{-1} r``: the discounted value of per-state reward ``r`` under kernel ``K``."""
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    return torch.linalg.solve(eye - gamma * K, r)


def discounted_occupancy(K: Tensor, rho: Tensor, gamma: float) -> Tensor:
    """Normalised discounted occupancy ``(1 - gamma) rho^T (I - gamma K)^{-1}``."""
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    return (1 - gamma) * torch.linalg.solve((eye - gamma * K).T, rho)


def stationary_distribution(K: Tensor, check: bool = True, atol: float = 1e-6) -> Tensor:
    """The stationary law ``d = d K`` of a row-stochastic ``K``.

    Solves ``d (I - K + 1 1^T) = 1^T``, which is non-singular exactly when the stationary
    distribution is unique; raises :class:`StationaryDistributionError` otherwise.
    """
    n = K.shape[0]
    eye = torch.eye(n, dtype=K.dtype, device=K.device)
    ones = torch.ones(n, dtype=K.dtype, device=K.device)
    try:
        d = torch.linalg.solve((eye - K + 1.0).T, ones)
    except torch.linalg.LinAlgError as exc:
        raise StationaryDistributionError(
            "the follower chain has no unique stationary distribution (singular system);"
            " add noise or renewal to the game"
        ) from exc
    if check:
        bad = (~torch.isfinite(d)).any() or (d < -atol).any() or (d @ K - d).abs().max() > atol
        if bool(bad):
            raise StationaryDistributionError(
                "the follower chain has no unique stationary distribution (reducible or numerically singular);"
                " add noise or renewal to the game"
            )
    return d
