"""The linear-quadratic SMFG as a continuous game (docs/linear_quadratic.md, "The game in training").

One definition: the game's torch functions read the same :class:`~deep_smfg.exact.linear_quadratic.LQParams` as the
closed form, which the game carries (:attr:`LinearQuadraticGame.params`) for the exact evaluator.

* State ``x in R^n``, follower action ``u in R^k``, **unbounded** (a Gaussian policy, ``model=gaussian``).
* Leader action ``b in R^k``, a per-unit subsidy on ``u``; the leader plays ``b ~ N(theta, s^2)`` independent of
  the state and of ``u`` (a state-independent Gaussian, built by :func:`~deep_smfg.modules.continuous_modules`).
* Transition ``x' = A x + B u + Abar m + c0 + w``, ``w = L eps``, ``L L' = W``, ``eps ~ N(0, I)``; it reads the
  mean field's mean ``m`` (``transition_reads_mean_field``) and is **never clipped**.
* Follower reward ``-(x - z)'Q(x - z) - u'Ru + b'u`` with ``z = H m + h0`` (linear in ``b``: in expectation the
  subsidy ``theta``; the follower faces the closed form's problem); the learner adds ``tau = beta`` times the
  entropy.
* Leader reward ``-|x - x_T|^2 - kappa |b|^2``: its stationary average is ``J_L(theta) - kappa tr(cov b)``.
* Mean field: the law of ``z = x`` (the state), a Gaussian ``N(m, Sigma)``; exact at equilibrium.
* ``x_0 ~ N(m*(0), Sigma*)``, the equilibrium law of the unsubsidised game.

The boxes are **not constraints**: the class needs them for specs, feature scaling and the mean field's start.
The state box is ``[min(m*(0), m*(theta*)) - box_sds sd, max(...) + box_sds sd]`` per coordinate (``sd`` the
equilibrium standard deviation), the action box the best response's mean over the state box widened by
``box_sds`` action standard deviations, the leader box ``[-2 |theta*|, 2 |theta*|]`` (at least ``[-1, 1]``).

Presets (``preset``): ``1d``, the spec's scalar instance (:func:`~deep_smfg.exact.linear_quadratic.scalar_reference`);
``2d``, a coupled instance (:func:`~deep_smfg.exact.linear_quadratic.two_dim_reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..exact.linear_quadratic import (
    LQParams,
    lq_equilibrium,
    lq_equilibrium_system,
    lq_leader_optimum,
    scalar_reference,
    two_dim_reference,
)
from .base import GameDefinitionError
from .continuous import Box, ContinuousGame

PRESETS = {"1d": scalar_reference, "2d": two_dim_reference}


@dataclass
class LinearQuadraticGame(ContinuousGame):
    """A :class:`ContinuousGame` with unbounded actions, a state-independent Gaussian leader and a closed form
    (``params``); the evaluator and the modules are chosen by this type (docs/linear_quadratic.md)."""

    params: LQParams | None = None
    preset: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.params is None:
            raise GameDefinitionError("a LinearQuadraticGame needs its LQParams")


def _boxes(p: LQParams, box_sds: float) -> tuple[Box, Box, Box]:
    system = lq_equilibrium_system(p)
    theta_star = lq_leader_optimum(p, system)
    eq0, eq_star = lq_equilibrium(p, None, system), lq_equilibrium(p, theta_star, system)
    sd = eq0.Sigma.diagonal().sqrt()
    lo = torch.minimum(eq0.m, eq_star.m) - box_sds * sd
    hi = torch.maximum(eq0.m, eq_star.m) + box_sds * sd
    corners = torch.cartesian_prod(*[torch.stack([a, b]) for a, b in zip(lo, hi, strict=True)]).reshape(-1, p.n)
    means = torch.cat([eq.best_response.mean_action(corners) for eq in (eq0, eq_star)])
    u_sd = eq0.best_response.cov.diagonal().sqrt()
    u_lo, u_hi = means.min(0).values - box_sds * u_sd, means.max(0).values + box_sds * u_sd
    b_max = max(1.0, 2 * float(theta_star.abs().max()))
    return (Box(lo.tolist(), hi.tolist()), Box(u_lo.tolist(), u_hi.tolist()),
            Box((-b_max,) * p.k, (b_max,) * p.k))


def make_linear_quadratic(preset: str = "1d", box_sds: float = 6.0) -> ContinuousGame:
    """Build the LQ game of ``preset`` (see the module docstring for every formula)."""
    if preset not in PRESETS:
        raise GameDefinitionError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if box_sds <= 0:
        raise GameDefinitionError(f"box_sds must be > 0, got {box_sds}")
    p = PRESETS[preset]()
    state_box, action_box, leader_box = _boxes(p, box_sds)
    vals, vecs = torch.linalg.eigh(p.W)
    noise_factor = vecs * vals.clamp_min(0).sqrt()  # L L' = W (W may be singular)
    eq0 = lq_equilibrium(p)
    start_mean, start_factor = eq0.m, torch.linalg.cholesky(eq0.Sigma)

    def const(t: Tensor, like: Tensor) -> Tensor:
        return t.to(dtype=like.dtype, device=like.device)

    def next_state(s: Tensor, a: Tensor, b: Tensor, m: Tensor, eps: Tensor) -> Tensor:
        drift = const(p.Abar, s) @ m.to(s) + const(p.c0, s)
        return s @ const(p.A, s).T + a @ const(p.B, s).T + drift + eps @ const(noise_factor, s).T

    def sample_noise(n: int, generator=None, like: Tensor | None = None) -> Tensor:
        kw = {} if like is None else dict(dtype=like.dtype, device=like.device)
        return torch.randn(n, p.n, generator=generator, **kw)

    def noise_quadrature(k: int) -> tuple[Tensor, Tensor]:
        """Gauss-Hermite (probabilists') nodes per coordinate, their product grid (``k^n`` nodes)."""
        x, w = (torch.from_numpy(v) for v in np.polynomial.hermite_e.hermegauss(k))
        w = w / w.sum()
        nodes = torch.cartesian_prod(*[x] * p.n).reshape(-1, p.n)
        weights = torch.cartesian_prod(*[w] * p.n).reshape(-1, p.n).prod(-1)
        return nodes, weights

    def reward_f(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
        e = s - (m.to(s) @ const(p.H, s).T + const(p.h0, s))
        return -((e @ const(p.Q, s)) * e).sum(-1) - ((a @ const(p.R, s)) * a).sum(-1) + (b * a).sum(-1)

    def reward_l(s: Tensor, a: Tensor, b: Tensor, m: Tensor) -> Tensor:
        return -((s - const(p.x_T, s)) ** 2).sum(-1) - p.kappa * (b**2).sum(-1)

    def contribution(s: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return s

    def initial_state(n: int, generator=None, like: Tensor | None = None) -> Tensor:
        kw = {} if like is None else dict(dtype=like.dtype, device=like.device)
        eps = torch.randn(n, p.n, generator=generator, **kw)
        ref = eps if like is None else like
        return const(start_mean, ref) + eps @ const(start_factor, ref).T

    xs = tuple(f"x{i + 1}" for i in range(p.n)) if p.n > 1 else ("x",)
    us = tuple(f"u{i + 1}" for i in range(p.k)) if p.k > 1 else ("u",)
    return LinearQuadraticGame(
        name="linear_quadratic", state_space=state_box, action_space=action_box, leader_action_space=leader_box,
        z_space=state_box, next_state=next_state, sample_noise=sample_noise, noise_quadrature=noise_quadrature,
        reward_f=reward_f, reward_l=reward_l, contribution=contribution, initial_state=initial_state,
        gamma=p.gamma, tau=p.beta, transition_reads_mean_field=True, actions_unbounded=True, action_names=us,
        state_names=xs,
        leader_action_names=tuple(f"subsidy b on {u}" for u in us), z_names=xs,
        info=dict(preset=preset, box_sds=box_sds, boxes="not constraints: specs and feature scaling only",
                  params=p.as_dict()),
        params=p, preset=preset,
    )


GAME = make_linear_quadratic  # the registry (deep_smfg/games/__init__.py) finds games by this name
