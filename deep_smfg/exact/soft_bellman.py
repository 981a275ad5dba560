"""Soft (entropy-regularised) policy evaluation and best response for the follower.

For a leader policy ``phi`` and a fixed mean field ``mu`` the follower faces an MDP with
``r_phi(s,a) = sum_b phi(b|s) r_f(s,a,b,mu)`` and ``P_phi(s'|s,a) = sum_b phi(b|s) P(s'|s,a,b,mu)``.

* Soft evaluation of ``pi``:  ``V^pi = (I - gamma K^pi)^{-1} (r^pi + tau H(pi))`` and
  ``Q^pi(s,a) = r_phi(s,a) + gamma sum_s' P_phi(s'|s,a) V^pi(s')``.
* Soft best response:  ``Q = r_phi + gamma P_phi V``,  ``V = tau log sum_a exp(Q / tau)``,
  ``BR(a|s) = softmax_a(Q(s,a) / tau)``; solved by soft policy iteration (each step a soft
  evaluation of the softmax of the last ``Q``, monotone and locally quadratic), falling back to
  soft value iteration steps if it stalls.
* Regularised mirror (KL-proximal) step of size ``eta`` on ``<pi, Q> + tau H(pi)``:
  ``pi'(a|s) ∝ pi(a|s)^(1 - eta tau) exp(eta Q(s,a))``, for ``0 < eta tau <= 1``
  (``eta tau = 1``: ``softmax(Q / tau)``).
  It maximises ``<p, Q> + tau H(p) - (1/eta - tau) KL(p || pi)``; its fixed point is ``softmax(Q / tau)``,
  the soft best response when ``Q`` is the soft value of ``pi`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .markov import discounted_value, entropy


@dataclass
class SoftValues:
    V: Tensor  # [S]
    Q: Tensor  # [S, A]
    pi: Tensor  # [S, A] the policy these values belong to


def soft_q(r_phi: Tensor, P_phi: Tensor, V: Tensor, gamma: float) -> Tensor:
    """``Q(s,a) = r_phi(s,a) + gamma sum_s' P_phi(s'|s,a) V(s')``."""
    return r_phi + gamma * P_phi @ V


def soft_policy_evaluation(r_phi: Tensor, P_phi: Tensor, pi: Tensor, gamma: float, tau: float) -> SoftValues:
    """Exact soft values of ``pi``: ``V = (I - gamma K)^{-1}(sum_a pi r_phi + tau H(pi))``."""
    K = torch.einsum("sa,sat->st", pi, P_phi)
    r = (pi * r_phi).sum(-1) + tau * entropy(pi)
    V = discounted_value(K, r, gamma)
    return SoftValues(V=V, Q=soft_q(r_phi, P_phi, V, gamma), pi=pi)


def soft_best_response(
    r_phi: Tensor,
    P_phi: Tensor,
    gamma: float,
    tau: float,
    V0: Tensor | None = None,
    tol: float | None = None,
    max_iter: int = 200,
) -> SoftValues:
    """Soft-optimal values and the soft best response ``softmax(Q / tau)``.

    Stops when the soft Bellman residual ``max |T V - V|`` is below ``tol (1 + max |V|)`` (default
    ``tol``: 1e-11 in float64, 1e-6 in float32).
    """
    if tol is None:
        tol = 1e-11 if r_phi.dtype == torch.float64 else 1e-6
    V = torch.zeros(r_phi.shape[0], dtype=r_phi.dtype, device=r_phi.device) if V0 is None else V0
    tol = tol * (1.0 + (r_phi.abs().max().item() + tau) / (1 - gamma))
    residual = float("inf")
    for _ in range(max_iter):
        Q = soft_q(r_phi, P_phi, V, gamma)
        TV = tau * torch.logsumexp(Q / tau, dim=-1)
        new_residual = (TV - V).abs().max().item()
        if new_residual < tol:
            V = TV
            break
        if new_residual < residual:  # policy-iteration step: evaluate the softmax policy exactly
            pi = torch.softmax(Q / tau, dim=-1)
            V = soft_policy_evaluation(r_phi, P_phi, pi, gamma, tau).V
        else:  # not improving (float noise): a plain contraction step
            V = TV
        residual = new_residual
    Q = soft_q(r_phi, P_phi, V, gamma)
    return SoftValues(V=V, Q=Q, pi=torch.softmax(Q / tau, dim=-1))


def soft_bellman_step(r_phi: Tensor, P_phi: Tensor, V: Tensor, gamma: float, tau: float) -> tuple[Tensor, Tensor]:
    """One application of the soft Bellman optimality operator: returns ``(T V, softmax(Q/tau))``."""
    Q = soft_q(r_phi, P_phi, V, gamma)
    return tau * torch.logsumexp(Q / tau, dim=-1), torch.softmax(Q / tau, dim=-1)


def mirror_step(log_pi: Tensor, Q: Tensor, eta: float, tau: float) -> Tensor:
    """``log pi'`` with ``pi' ∝ pi^(1 - eta tau) exp(eta Q)`` row by row (module docstring), ``0 < eta tau <= 1``.

    Works in logs, so that a probability that underflowed to 0 stays a valid ``-inf`` logit.
    """
    if not 0 < eta * tau <= 1:
        raise ValueError(f"the mirror step needs 0 < eta * tau <= 1, got eta={eta}, tau={tau}")
    keep = 1.0 - eta * tau
    logits = eta * Q if keep == 0 else keep * log_pi + eta * Q
    return torch.log_softmax(logits, dim=-1)
