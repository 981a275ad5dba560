"""Exact metrics of a learner on the linear-quadratic game from the closed form (docs/linear_quadratic.md, "Exact
metrics during training").

* :func:`leader_theta`: the leader's ``theta`` (its mean action, averaged over states) and its action covariance;
* :func:`project_follower`: the learned follower projected to the nearest linear-Gaussian policy
  ``N(-K'x - k', C)``: a least-squares fit of the policy's mean on states drawn from the learned mean field,
  ``C`` the average of the policy's covariance over those states;
* :func:`lq_metrics`: the mean-field, follower and leader figures against the closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..exact.linear_quadratic import (
    EquilibriumSystem,
    LinearGaussianPolicy,
    LQParams,
    LQSingularError,
    leader_value,
    lq_equilibrium,
    lq_exploitability,
    lq_follower_return,
    lq_leader_gradient,
)

f64 = torch.float64


def _module_like(module: nn.Module) -> dict:
    p = next(module.parameters())
    return dict(dtype=p.dtype, device=p.device)


def draw_states(mean: Tensor, cov: Tensor, n: int, seed: int) -> Tensor:
    """``n`` draws ``[n, d]`` (float64) from ``N(mean, cov)`` (common random numbers by ``seed``)."""
    mean, cov = mean.detach().to("cpu", f64), cov.detach().to("cpu", f64)
    vals, vecs = torch.linalg.eigh(0.5 * (cov + cov.T))
    factor = vecs * vals.clamp_min(0).sqrt()
    eps = torch.randn(n, mean.numel(), generator=torch.Generator().manual_seed(seed), dtype=f64)
    return mean + eps @ factor.T


@torch.no_grad()
def leader_theta(leader: nn.Module, states: Tensor) -> tuple[Tensor, Tensor]:
    """``(theta, cov_b)``: the leader's mean action and its action covariance, averaged over ``states``."""
    s = states.to(**_module_like(leader))
    mean, L = leader.mean_and_factor(s)
    return mean.to("cpu", f64).mean(0), (L @ L.transpose(-1, -2)).to("cpu", f64).mean(0)


@dataclass
class Projection:
    policy: LinearGaussianPolicy  # N(-K'x - k', C)
    residual: float  # RMS of the learned mean minus the linear fit, over the states


@torch.no_grad()
def project_follower(follower: nn.Module, states: Tensor) -> Projection:
    """The nearest linear-Gaussian policy: least squares ``m(x) ~ -K'x - k'`` over ``states`` ``[N, n]``, and
    ``C`` the average of the policy's covariance ``L(x) L(x)'`` there."""
    s = states.to(**_module_like(follower))
    mean, L = follower.mean_and_factor(s)
    mean, cov = mean.to("cpu", f64), (L @ L.transpose(-1, -2)).to("cpu", f64).mean(0)
    design = torch.cat([states.to(f64), torch.ones(states.shape[0], 1, dtype=f64)], 1)
    coef = torch.linalg.lstsq(design, mean).solution  # [n + 1, k]
    fit = design @ coef
    K, k = -coef[:-1].T, -coef[-1]
    return Projection(LinearGaussianPolicy(K=K, k=k, C=0.5 * (cov + cov.T)),
                      float((mean - fit).pow(2).sum(-1).mean().sqrt()))


def relative(err: Tensor, ref: Tensor) -> float:
    """``|err| / |ref|`` (Euclidean for vectors, Frobenius for matrices)."""
    return float(err.norm() / ref.norm())


def cosine(u: Tensor, v: Tensor) -> float:
    nu, nv = float(u.norm()), float(v.norm())
    return float(u @ v) / (nu * nv) if nu > 0 and nv > 0 else math.nan


def lq_metrics(params: LQParams, system: EquilibriumSystem, theta_star: Tensor, m_hat: Tensor, sigma_hat: Tensor,
               follower: nn.Module, leader: nn.Module, n_states: int = 4096, seed: int = 0,
               theta_prev: Tensor | None = None) -> tuple[dict[str, float], Tensor]:
    """The figures of docs/linear_quadratic.md at the learner's ``(pi, phi, N(m_hat, sigma_hat))``, and ``theta``.

    ``theta_prev`` (the leader's ``theta`` at the previous evaluation) gives ``leader_direction_cosine``, the cosine
    of ``theta - theta_prev`` with the exact total gradient at ``theta_prev``.
    """
    m_hat, sigma_hat = m_hat.detach().to("cpu", f64), sigma_hat.detach().to("cpu", f64)
    states = draw_states(m_hat, sigma_hat, n_states, seed)
    theta, cov_b = leader_theta(leader, states)
    grad = lq_leader_gradient(params, theta, system)
    eq = grad.equilibrium
    m_opt = lq_equilibrium(params, theta_star, system).m
    j_star = leader_value(params, m_opt, eq.Sigma, theta_star)
    out = {f"theta_{i + 1}": float(v) for i, v in enumerate(theta)}
    out.update(
        leader_sd=float(cov_b.diagonal().mean().sqrt()),
        theta_error=relative(theta - theta_star, theta_star),
        leader_objective=grad.value,
        leader_gap=j_star - grad.value,
        mean_error=relative(m_hat - eq.m, eq.m),
        cov_error=relative(sigma_hat - eq.Sigma, eq.Sigma),
        mean_error_at_theta_star=relative(m_hat - m_opt, m_opt),
        partial_total_cosine=cosine(grad.partial, grad.total),
        leader_direction_cosine=math.nan,
    )
    if theta_prev is not None:
        total_prev = lq_leader_gradient(params, theta_prev, system).total
        out["leader_direction_cosine"] = cosine(theta - theta_prev, total_prev)
    proj = project_follower(follower, states)
    br = eq.best_response
    out.update(
        projection_residual=proj.residual,
        gain_error=relative(proj.policy.K - br.K, br.K),
        offset_error=relative(proj.policy.k - br.k, br.k),
        policy_cov_error=relative(proj.policy.C - br.cov, br.cov),
    )
    try:
        expl = lq_exploitability(params, proj.policy, theta, ric=system.ric)
        j_f = lq_follower_return(params, proj.policy, expl.m, theta, expl.m, expl.Sigma)
        out.update(exploitability=expl.value, J_f=j_f, relative_exploitability=expl.value / abs(j_f),
                   induced_mean_error=relative(expl.m - eq.m, eq.m))
    except LQSingularError:  # the projected follower's closed loop is unstable: no stationary law
        out.update(exploitability=math.inf, J_f=-math.inf, relative_exploitability=math.inf,
                   induced_mean_error=math.inf)
    return out, theta
