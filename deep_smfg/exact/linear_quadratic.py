"""A linear-quadratic Stackelberg MFG in closed form (docs/linear_quadratic.md): the continuous verification game.

Conventions. The game is *written as costs*, as in the spec; the library's convention is rewards to
maximise, and every *return, value, objective and exploitability* this module hands out is in the reward
convention: the follower's reward is ``-c(x, u)`` plus ``beta`` times the (differential) entropy of its
policy, the leader's objective ``J_L`` is maximised, and exploitability is ``>= 0``. Only the quadratic
coefficients ``(P, p, v0)`` are cost-to-go coefficients, exactly as the spec writes them:
``V_reward(x) = -(x'Px + 2p'x + v0)``. All tensors are ``torch.float64``; states ``x`` in ``R^n``,
follower actions ``u`` in ``R^k`` (unbounded: Gaussian policies, not squashed), subsidy ``theta`` in ``R^k``.
The linear solves use Kronecker products (``n^2 x n^2`` systems), meant for small ``n``.

The game:

* dynamics ``x' = A x + B u + Abar m + c0 + w``, ``w ~ N(0, W)``, ``m = E_mu[x]`` the population mean;
* follower cost ``c(x, u) = (x - z)'Q(x - z) + u'Ru - theta'u`` with target ``z = H m + h0``; the follower
  minimises ``E sum_t gamma^t [c(x_t, u_t) + beta log pi(u_t | x_t)]`` (i.e. maximises reward plus
  ``beta`` times entropy; ``beta`` is the library's ``tau``);
* leader objective ``J_L(theta) = -|m*(theta) - x_T|^2 - tr Sigma*(theta) - kappa |theta|^2``, a function of the
  equilibrium mean field ``N(m*, Sigma*)`` (equivalently the stationary average of the leader reward
  ``-|x - x_T|^2 - kappa |theta|^2``).

Closed form:

* Riccati: ``P = Q + gamma A'PA - gamma^2 A'PB S^{-1} B'PA``, ``S = R + gamma B'PB``, ``K = gamma S^{-1} B'PA``,
  ``rho = A - BK`` (independent of ``beta``, ``m`` and ``theta``). Solved by Riccati value iteration from
  ``P = Q`` polished by Newton (Hewer) steps ``P = Q + K'RK + gamma rho'P rho``.
* Soft best response to ``(m, theta)``, with ``d = Abar m + c0`` and ``z = H m + h0``:
  ``p = (I - gamma rho')^{-1} (gamma rho'P d - Q z + K'theta/2)``, ``k = S^{-1} (gamma B'(P d + p) - theta/2)``,
  ``pi(u | x) = N(-K x - k, C*)``, ``C* = (beta/2) S^{-1}``, and
  ``(1 - gamma) v0 = z'Qz + gamma (d'Pd + 2p'd + tr(PW)) - k'Sk - (beta/2) log det(pi beta S^{-1})``.
* Equilibrium mean ``D m* = r0 + T theta`` with ``Pi_d = (I - gamma rho')^{-1} gamma rho' P``,
  ``Pi_z = -(I - gamma rho')^{-1} Q``, ``Pi_theta = (I - gamma rho')^{-1} K'/2``, ``G = gamma B S^{-1} B'``,
  ``D = I - rho - Abar + G [(P + Pi_d) Abar + Pi_z H]``, ``r0 = c0 - G [(P + Pi_d) c0 + Pi_z h0]``,
  ``T = B S^{-1} (I/2 - gamma B' Pi_theta)``; unique iff ``D`` is invertible (:class:`LQSingularError`).
* Equilibrium covariance ``Sigma* = rho Sigma* rho' + B C* B' + W`` (discrete Lyapunov; needs ``|eig rho| < 1``);
  the equilibrium mean field is ``N(m*, Sigma*)``.
* Leader: ``dm*/dtheta = D^{-1} T =: M``; total gradient ``dJ_L/dtheta = -2 M'(m* - x_T) - 2 kappa theta``
  (``Sigma*`` does not move with ``theta``); partial gradient (follower policy and mean field frozen; ``theta``
  moves no dynamics) ``-2 kappa theta``; optimum ``theta* = -(M'M + kappa I)^{-1} M'(m*(0) - x_T)``.
* Any linear-Gaussian follower ``u ~ N(-K'x - k', C)`` (:class:`LinearGaussianPolicy`): its closed loop
  ``rho' = A - B K'`` induces the Gaussian law ``N(m, Sigma)`` with ``(I - rho' - Abar) m = c0 - B k'`` and
  ``Sigma = rho' Sigma rho'' + B C B' + W``; at a fixed mean ``m`` its soft value is ``-(x'P'x + 2p''x + v0')``
  with ``P' = Q + K''RK' + gamma rho''P' rho'`` (Stein),
  ``(I - gamma rho'') p' = -Qz + K''R k' + K''theta/2 + gamma rho''P' e``, ``e = d - B k'``, and
  ``(1 - gamma) v0' = z'Qz + k''Rk' + tr(RC) + theta'k' - (beta/2) log det(2 pi e C)
  + gamma (e'P'e + tr(P'(BCB' + W)) + 2p''e)``.
  Exploitability ``= max_pi' J_f(pi'; mu^pi) - J_f(pi; mu^pi)`` with ``mu^pi`` the law the policy itself
  induces and ``J_f`` the soft return from an initial law ``x_0 ~ N(m0, Sigma0)`` (default: ``mu^pi``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

f64 = torch.float64


class LQSingularError(ValueError):
    """The LQ game has no unique (stationary) equilibrium: a singular system or an unstable closed loop."""


def _mat(x, name: str) -> Tensor:
    t = torch.as_tensor(x, dtype=f64)
    if t.ndim == 0:
        t = t.reshape(1, 1)
    if t.ndim != 2:
        raise ValueError(f"{name} must be a matrix (or a scalar for a 1-D game), got shape {tuple(t.shape)}")
    return t


def _vec(x, name: str) -> Tensor:
    t = torch.as_tensor(x, dtype=f64).reshape(-1)
    return t


@dataclass
class LQParams:
    """The game's constants (see the module docstring); scalars are accepted for a 1-D game.

    ``A [n, n]``, ``B [n, k]``, ``Abar [n, n]``, ``c0 [n]``, ``W [n, n]`` (noise covariance, PSD),
    ``Q [n, n]`` (PSD), ``R [k, k]`` (PD), ``H [n, n]``, ``h0 [n]``, ``gamma`` in (0, 1), ``beta > 0`` (the
    entropy weight ``tau``), ``x_T [n]`` (the leader's target), ``kappa >= 0`` (the leader's subsidy cost).
    """

    A: Tensor
    B: Tensor
    Abar: Tensor
    c0: Tensor
    W: Tensor
    Q: Tensor
    R: Tensor
    H: Tensor
    h0: Tensor
    gamma: float
    beta: float
    x_T: Tensor
    kappa: float

    def __post_init__(self) -> None:
        for name in ("A", "B", "Abar", "W", "Q", "R", "H"):
            setattr(self, name, _mat(getattr(self, name), name))
        for name in ("c0", "h0", "x_T"):
            setattr(self, name, _vec(getattr(self, name), name))
        n, k = self.B.shape
        expected = {"A": (n, n), "Abar": (n, n), "W": (n, n), "Q": (n, n), "R": (k, k), "H": (n, n),
                    "c0": (n,), "h0": (n,), "x_T": (n,)}
        for name, shape in expected.items():
            if tuple(getattr(self, name).shape) != shape:
                got = tuple(getattr(self, name).shape)
                raise ValueError(f"{name} must have shape {shape} (n={n}, k={k}), got {got}")
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {self.kappa}")
        for name in ("W", "Q", "R"):
            M = getattr(self, name)
            if not torch.allclose(M, M.T):
                raise ValueError(f"{name} must be symmetric")
        if torch.linalg.eigvalsh(self.R).min() <= 0:
            raise ValueError("R must be positive definite")
        if torch.linalg.eigvalsh(self.Q).min() < -1e-12 or torch.linalg.eigvalsh(self.W).min() < -1e-12:
            raise ValueError("Q and W must be positive semi-definite")

    @property
    def n(self) -> int:
        return self.B.shape[0]

    @property
    def k(self) -> int:
        return self.B.shape[1]

    def as_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, Tensor) else v
        return out


def scalar_reference() -> LQParams:
    """The scalar instance of ``LQ_SMFG.md`` whose reference numbers the tests check."""
    return LQParams(A=0.9, B=0.7, Abar=0.05, c0=0.1, W=0.2, Q=1.3, R=0.4, H=0.5, h0=1.0, gamma=0.95, beta=0.3,
                    x_T=0.0, kappa=0.05)


def two_dim_reference() -> LQParams:
    """A coupled 2-D instance (state and action in R^2) of the project's own (the spec does not give its 2-D
    instance): the ``2d`` preset of ``game=linear_quadratic`` and the 2-D case of the tests."""
    return LQParams(A=[[0.9, 0.1], [0.0, 0.8]], B=[[0.7, 0.0], [0.2, 0.5]], Abar=[[0.05, 0.02], [0.0, 0.05]],
                    c0=[0.1, -0.2], W=[[0.2, 0.05], [0.05, 0.1]], Q=[[1.3, 0.2], [0.2, 0.8]],
                    R=[[0.4, 0.05], [0.05, 0.3]], H=[[0.5, 0.1], [0.0, 0.4]], h0=[1.0, 0.5], gamma=0.95, beta=0.3,
                    x_T=[0.5, -0.5], kappa=0.05)


def _theta(params: LQParams, theta) -> Tensor:
    t = torch.zeros(params.k, dtype=f64) if theta is None else torch.as_tensor(theta, dtype=f64).reshape(-1)
    if t.shape != (params.k,):
        raise ValueError(f"theta must have {params.k} entries, got {tuple(t.shape)}")
    return t


def spectral_radius(F: Tensor) -> float:
    return float(torch.linalg.eigvals(F).abs().max())


def stein(F: Tensor, Y: Tensor, scale: float = 1.0) -> Tensor:
    """``X = scale F X F' + Y`` (discrete Lyapunov / Stein equation) by a Kronecker solve.

    Raises :class:`LQSingularError` unless ``scale * spectral_radius(F)^2 < 1`` (the series converges).
    """
    r = spectral_radius(F)
    if scale * r * r >= 1:
        raise LQSingularError(f"Stein equation X = {scale:g} F X F' + Y: spectral radius {r:.6g} of F is too large "
                              f"(needs {scale:g} * rho(F)^2 < 1)")
    n = F.shape[0]
    lhs = torch.eye(n * n, dtype=F.dtype) - scale * torch.kron(F, F)
    X = torch.linalg.solve(lhs, Y.reshape(-1)).reshape(n, n)
    return 0.5 * (X + X.T)


@dataclass
class Riccati:
    P: Tensor  # [n, n] quadratic cost-to-go coefficient
    S: Tensor  # [k, k] R + gamma B'PB
    K: Tensor  # [k, n] feedback gain (u = -K x - k)
    rho: Tensor  # [n, n] closed loop A - B K
    iterations: int


def lq_riccati(params: LQParams, tol: float = 1e-14, max_iter: int = 10_000) -> Riccati:
    """The discounted Riccati solution ``(P, S, K, rho)`` (module docstring); raises :class:`LQSingularError` when
    the Riccati value iteration does not converge (``(sqrt(gamma) A, sqrt(gamma) B)`` not stabilisable)."""
    A, B, Q, R, g = params.A, params.B, params.Q, params.R, params.gamma
    P = Q.clone()
    it, converged = 0, False
    while it < max_iter and not converged:  # Riccati value iteration: monotone from P = Q
        it += 1
        S = R + g * B.T @ P @ B
        new = Q + g * A.T @ P @ A - g * g * A.T @ P @ B @ torch.linalg.solve(S, B.T @ P @ A)
        new = 0.5 * (new + new.T)
        if not torch.isfinite(new).all():
            break
        converged = float((new - P).abs().max()) < 1e-9 * (1 + float(new.abs().max()))
        P = new
    if not converged:
        raise LQSingularError(f"the Riccati iteration did not converge in {it} steps: (sqrt(gamma) A, sqrt(gamma) B) "
                              "is not stabilisable")
    for _ in range(50):  # Newton (Hewer) polishing: evaluate the greedy gain exactly
        S = R + g * B.T @ P @ B
        K = g * torch.linalg.solve(S, B.T @ P @ A)
        rho = A - B @ K
        new = stein(rho.T, Q + K.T @ R @ K, scale=g)
        change = float((new - P).abs().max())
        P = new
        if change < tol * (1 + float(P.abs().max())):
            break
    S = R + g * B.T @ P @ B
    K = g * torch.linalg.solve(S, B.T @ P @ A)
    return Riccati(P=P, S=S, K=K, rho=A - B @ K, iterations=it)


@dataclass
class BestResponse:
    """The soft best response ``u ~ N(-K x - k, cov)`` to ``(m, theta)`` and its cost-to-go ``x'Px + 2p'x + v0``."""

    K: Tensor  # [k, n]
    k: Tensor  # [k]
    cov: Tensor  # [k, k] = (beta/2) S^{-1}
    P: Tensor  # [n, n]
    p: Tensor  # [n]
    v0: float
    m: Tensor  # the mean it responds to
    theta: Tensor

    def mean_action(self, x: Tensor) -> Tensor:
        """``-K x - k`` for ``x [..., n]``."""
        return -x @ self.K.T - self.k

    def value(self, x: Tensor) -> Tensor:
        """The soft value in the reward convention, ``-(x'Px + 2p'x + v0)``, for ``x [..., n]``."""
        return -(torch.einsum("...i,ij,...j->...", x, self.P, x) + 2 * x @ self.p + self.v0)

    @property
    def policy(self) -> LinearGaussianPolicy:
        return LinearGaussianPolicy(K=self.K, k=self.k, C=self.cov)


def _gaussian_logdet(C: Tensor) -> float:
    return float(torch.linalg.slogdet(2 * math.pi * math.e * C).logabsdet)  # 2 x (differential entropy)


def lq_best_response(params: LQParams, m, theta=None, ric: Riccati | None = None) -> BestResponse:
    """The follower's soft best response to mean ``m`` and subsidy ``theta`` and its value (module docstring)."""
    ric = lq_riccati(params) if ric is None else ric
    m = _vec(m, "m")
    theta = _theta(params, theta)
    g, P, S, K, rho = params.gamma, ric.P, ric.S, ric.K, ric.rho
    n = params.n
    d = params.Abar @ m + params.c0
    z = params.H @ m + params.h0
    eye = torch.eye(n, dtype=f64)
    p = torch.linalg.solve(eye - g * rho.T, g * rho.T @ P @ d - params.Q @ z + K.T @ theta / 2)
    k = torch.linalg.solve(S, g * params.B.T @ (P @ d + p) - theta / 2)
    cov = 0.5 * params.beta * torch.linalg.inv(S)
    cov = 0.5 * (cov + cov.T)
    logdet = float(torch.linalg.slogdet(math.pi * params.beta * torch.linalg.inv(S)).logabsdet)
    const = (z @ params.Q @ z + g * (d @ P @ d + 2 * p @ d + torch.trace(P @ params.W)) - k @ S @ k
             - 0.5 * params.beta * logdet)
    return BestResponse(K=K, k=k, cov=cov, P=P, p=p, v0=float(const) / (1 - g), m=m, theta=theta)


@dataclass
class EquilibriumSystem:
    """``D m* = r0 + T theta`` (module docstring) and the Riccati solution it is built on."""

    D: Tensor  # [n, n]
    r0: Tensor  # [n]
    T: Tensor  # [n, k]
    ric: Riccati


def lq_equilibrium_system(params: LQParams, ric: Riccati | None = None) -> EquilibriumSystem:
    ric = lq_riccati(params) if ric is None else ric
    g, P, S, K, rho, B = params.gamma, ric.P, ric.S, ric.K, ric.rho, params.B
    eye = torch.eye(params.n, dtype=f64)
    inv = torch.linalg.inv(eye - g * rho.T)
    Pi_d = inv @ (g * rho.T @ P)
    Pi_z = -inv @ params.Q
    Pi_theta = inv @ K.T / 2
    Sinv_Bt = torch.linalg.solve(S, B.T)
    G = g * B @ Sinv_Bt
    D = eye - rho - params.Abar + G @ ((P + Pi_d) @ params.Abar + Pi_z @ params.H)
    r0 = params.c0 - G @ ((P + Pi_d) @ params.c0 + Pi_z @ params.h0)
    T = B @ torch.linalg.solve(S, 0.5 * torch.eye(params.k, dtype=f64) - g * B.T @ Pi_theta)
    return EquilibriumSystem(D=D, r0=r0, T=T, ric=ric)


def _solve_D(D: Tensor, rhs: Tensor, what: str) -> Tensor:
    sv = torch.linalg.svdvals(D)
    if float(sv.min()) <= 1e-12 * max(1.0, float(sv.max())):
        raise LQSingularError(f"{what}: the matrix D is singular (singular values {sv.tolist()}); the LQ mean-field "
                              "game has no unique equilibrium mean")
    return torch.linalg.solve(D, rhs)


@dataclass
class LQEquilibrium:
    """The regularised MFE for subsidy ``theta``: mean field ``N(m, Sigma)`` and the best response to it."""

    theta: Tensor
    m: Tensor  # [n]
    Sigma: Tensor  # [n, n]
    dm_dtheta: Tensor  # [n, k] = D^{-1} T
    best_response: BestResponse
    system: EquilibriumSystem


def lq_stationary_covariance(params: LQParams, ric: Riccati | None = None) -> Tensor:
    """``Sigma* = rho Sigma* rho' + B (beta/2) S^{-1} B' + W`` (independent of ``theta``)."""
    ric = lq_riccati(params) if ric is None else ric
    cov_u = 0.5 * params.beta * torch.linalg.inv(ric.S)
    return stein(ric.rho, params.B @ cov_u @ params.B.T + params.W)


def lq_equilibrium(params: LQParams, theta=None, system: EquilibriumSystem | None = None) -> LQEquilibrium:
    system = lq_equilibrium_system(params) if system is None else system
    theta = _theta(params, theta)
    m = _solve_D(system.D, system.r0 + system.T @ theta, "equilibrium mean")
    M = _solve_D(system.D, system.T, "dm*/dtheta")
    Sigma = lq_stationary_covariance(params, system.ric)
    br = lq_best_response(params, m, theta, system.ric)
    return LQEquilibrium(theta=theta, m=m, Sigma=Sigma, dm_dtheta=M, best_response=br, system=system)


def leader_value(params: LQParams, m: Tensor, Sigma: Tensor, theta: Tensor) -> float:
    """``-|m - x_T|^2 - tr Sigma - kappa |theta|^2`` for any Gaussian mean field ``N(m, Sigma)``."""
    return float(-((m - params.x_T) ** 2).sum() - torch.trace(Sigma) - params.kappa * (theta**2).sum())


def lq_leader_objective(params: LQParams, theta=None, system: EquilibriumSystem | None = None) -> float:
    """``J_L(theta)`` at the equilibrium for ``theta`` (maximised)."""
    eq = lq_equilibrium(params, theta, system)
    return leader_value(params, eq.m, eq.Sigma, eq.theta)


@dataclass
class LQLeaderGradient:
    value: float  # J_L(theta)
    total: Tensor  # [k] dJ_L/dtheta through the equilibrium
    partial: Tensor  # [k] dJ_L/dtheta with the follower policy and the mean field frozen
    equilibrium: LQEquilibrium

    @property
    def cosine(self) -> float:
        """Cosine of the partial and total gradients (0 when either vanishes)."""
        nt, np_ = self.total.norm(), self.partial.norm()
        if nt == 0 or np_ == 0:
            return 0.0
        return float(self.total @ self.partial / (nt * np_))


def lq_leader_gradient(params: LQParams, theta=None, system: EquilibriumSystem | None = None) -> LQLeaderGradient:
    eq = lq_equilibrium(params, theta, system)
    partial = -2 * params.kappa * eq.theta
    total = -2 * eq.dm_dtheta.T @ (eq.m - params.x_T) + partial
    return LQLeaderGradient(value=leader_value(params, eq.m, eq.Sigma, eq.theta), total=total, partial=partial,
                            equilibrium=eq)


def lq_leader_optimum(params: LQParams, system: EquilibriumSystem | None = None) -> Tensor:
    """``theta* = -(M'M + kappa I)^{-1} M'(m*(0) - x_T)``, the maximiser of ``J_L`` (unique when it is strictly
    concave: ``kappa > 0`` or ``M`` of full column rank)."""
    system = lq_equilibrium_system(params) if system is None else system
    eq0 = lq_equilibrium(params, None, system)
    M = eq0.dm_dtheta
    lhs = M.T @ M + params.kappa * torch.eye(params.k, dtype=f64)
    return -torch.linalg.solve(lhs, M.T @ (eq0.m - params.x_T))


# ----- linear-Gaussian followers: induced mean field, soft policy evaluation, exploitability -------------------
@dataclass
class LinearGaussianPolicy:
    """``u ~ N(-K x - k, C)`` (``K [k, n]``, ``k [k]``, ``C [k, k]`` positive definite)."""

    K: Tensor
    k: Tensor
    C: Tensor

    def __post_init__(self) -> None:
        self.K = _mat(self.K, "K")
        self.k = _vec(self.k, "k")
        self.C = _mat(self.C, "C")


@dataclass
class QuadraticValue:
    """A soft value in cost-to-go form ``x'Px + 2p'x + v0``; :meth:`value` gives the reward convention."""

    P: Tensor
    p: Tensor
    v0: float

    def value(self, x: Tensor) -> Tensor:
        return -(torch.einsum("...i,ij,...j->...", x, self.P, x) + 2 * x @ self.p + self.v0)

    def expected_value(self, m0: Tensor, Sigma0: Tensor) -> float:
        """``E[value(x_0)]`` for ``x_0 ~ N(m0, Sigma0)`` (reward convention)."""
        return float(-(m0 @ self.P @ m0 + torch.trace(self.P @ Sigma0) + 2 * self.p @ m0 + self.v0))


def lq_induced_mean_field(params: LQParams, policy: LinearGaussianPolicy) -> tuple[Tensor, Tensor]:
    """``(m, Sigma)`` of the stationary law that a population playing ``policy`` induces (its own mean field)."""
    rho = params.A - params.B @ policy.K
    r = spectral_radius(rho)
    if r >= 1:
        raise LQSingularError(f"the closed loop A - B K of the policy is not stable (spectral radius {r:.6g})")
    eye = torch.eye(params.n, dtype=f64)
    m = _solve_D(eye - rho - params.Abar, params.c0 - params.B @ policy.k, "induced mean field")
    Sigma = stein(rho, params.B @ policy.C @ params.B.T + params.W)
    return m, Sigma


def lq_policy_value(params: LQParams, policy: LinearGaussianPolicy, m, theta=None) -> QuadraticValue:
    """The soft value of ``policy`` against a population of mean ``m`` (module docstring), cost-to-go form."""
    m = _vec(m, "m")
    theta = _theta(params, theta)
    g, A, B, Q, R = params.gamma, params.A, params.B, params.Q, params.R
    K, k, C = policy.K, policy.k, policy.C
    rho = A - B @ K
    d = params.Abar @ m + params.c0
    z = params.H @ m + params.h0
    e = d - B @ k
    P = stein(rho.T, Q + K.T @ R @ K, scale=g)
    eye = torch.eye(params.n, dtype=f64)
    p = torch.linalg.solve(eye - g * rho.T, -Q @ z + K.T @ R @ k + K.T @ theta / 2 + g * rho.T @ P @ e)
    const = (z @ Q @ z + k @ R @ k + torch.trace(R @ C) + theta @ k - 0.5 * params.beta * _gaussian_logdet(C)
             + g * (e @ P @ e + torch.trace(P @ (B @ C @ B.T + params.W)) + 2 * p @ e))
    return QuadraticValue(P=P, p=p, v0=float(const) / (1 - g))


def lq_follower_return(params: LQParams, policy: LinearGaussianPolicy, m, theta=None, m0=None,
                       Sigma0=None) -> float:
    """``J_f(pi; m) = E_{x_0 ~ N(m0, Sigma0)} [V^pi(x_0)]`` (reward convention; default ``x_0 ~ N(m, 0)``)."""
    m = _vec(m, "m")
    m0 = m if m0 is None else _vec(m0, "m0")
    Sigma0 = torch.zeros(params.n, params.n, dtype=f64) if Sigma0 is None else _mat(Sigma0, "Sigma0")
    return lq_policy_value(params, policy, m, theta).expected_value(m0, Sigma0)


@dataclass
class LQExploitability:
    value: float  # J_f(BR) - J_f(pi) >= 0, at pi's own mean field
    m: Tensor  # the policy's induced mean
    Sigma: Tensor  # the policy's induced covariance
    best_response: BestResponse


def lq_exploitability(params: LQParams, policy: LinearGaussianPolicy, theta=None, m0=None, Sigma0=None,
                      ric: Riccati | None = None) -> LQExploitability:
    """``max_pi' J_f(pi'; mu^pi) - J_f(pi; mu^pi)``, ``mu^pi = N(m, Sigma)`` the law ``policy`` induces.

    ``J_f`` is the soft return from ``x_0 ~ N(m0, Sigma0)``, by default ``mu^pi`` itself.
    """
    m, Sigma = lq_induced_mean_field(params, policy)
    m0 = m if m0 is None else _vec(m0, "m0")
    Sigma0 = Sigma if Sigma0 is None else _mat(Sigma0, "Sigma0")
    br = lq_best_response(params, m, theta, ric)
    own = lq_policy_value(params, policy, m, theta).expected_value(m0, Sigma0)
    best = QuadraticValue(P=br.P, p=br.p, v0=br.v0).expected_value(m0, Sigma0)
    return LQExploitability(value=best - own, m=m, Sigma=Sigma, best_response=br)
