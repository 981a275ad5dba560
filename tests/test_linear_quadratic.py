"""The closed-form linear-quadratic SMFG (deep_smfg/exact/linear_quadratic.py, LQ_SMFG.md), checked independently:
the spec's scalar numbers, the total gradient against finite differences of an iterated mean-field fixed point,
the soft Bellman equation by quadrature, exploitability against forward moment propagation, and a discretised
twin solved by the library's finite exact solvers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deep_smfg.exact import leader_objective, solve_equilibrium, stackelberg_gradient
from deep_smfg.exact.linear_quadratic import (
    LinearGaussianPolicy,
    LQParams,
    LQSingularError,
    lq_best_response,
    lq_equilibrium,
    lq_equilibrium_system,
    lq_exploitability,
    lq_leader_gradient,
    lq_leader_objective,
    lq_leader_optimum,
    lq_riccati,
    scalar_reference,
)
from deep_smfg.games.base import FiniteGame

f64 = torch.float64


def two_dim() -> LQParams:
    """A coupled 2-D instance (state and action in R^2) of our own; the spec does not give its 2-D instance."""
    return LQParams(A=[[0.9, 0.1], [0.0, 0.8]], B=[[0.7, 0.0], [0.2, 0.5]], Abar=[[0.05, 0.02], [0.0, 0.05]],
                    c0=[0.1, -0.2], W=[[0.2, 0.05], [0.05, 0.1]], Q=[[1.3, 0.2], [0.2, 0.8]],
                    R=[[0.4, 0.05], [0.05, 0.3]], H=[[0.5, 0.1], [0.0, 0.4]], h0=[1.0, 0.5], gamma=0.95, beta=0.3,
                    x_T=[0.5, -0.5], kappa=0.05)


# ----- the spec's scalar reference numbers ---------------------------------------------------------------------
def test_scalar_reference_numbers():
    p = scalar_reference()
    ric = lq_riccati(p)
    system = lq_equilibrium_system(p, ric)
    assert float(ric.K) == pytest.approx(0.861144, abs=1e-6)
    assert float(ric.rho) == pytest.approx(0.297199, abs=1e-6)
    assert float(system.D) == pytest.approx(0.351400, abs=1e-6)
    g0 = lq_leader_gradient(p, 0.0, system)
    assert float(g0.equilibrium.m) == pytest.approx(2.0, abs=1e-6)
    assert float(g0.equilibrium.dm_dtheta) == pytest.approx(0.166135, abs=1e-6)
    assert float(g0.equilibrium.Sigma) == pytest.approx(0.285934, abs=1e-6)
    assert float(g0.total) == pytest.approx(-0.664539, abs=1e-6)
    assert float(g0.partial) == 0.0
    g7 = lq_leader_gradient(p, 0.7, system)
    assert float(g7.equilibrium.m) == pytest.approx(2.116294, abs=1e-6)
    assert float(g7.total) == pytest.approx(-0.773180, abs=1e-6)
    assert float(g7.partial) == pytest.approx(-0.070000, abs=1e-12)
    theta_star = lq_leader_optimum(p, system)
    assert float(theta_star) == pytest.approx(-4.281781, abs=1e-6)
    assert float(lq_equilibrium(p, theta_star, system).m) == pytest.approx(1.288647, abs=1e-6)
    assert abs(float(lq_leader_gradient(p, theta_star, system).total)) < 1e-12


def test_scalar_riccati_against_quadratic_formula():
    """Scalar Riccati: with s = r + gamma b^2 P, P s = q s + gamma a^2 P r, a quadratic in P."""
    a, b, q, r, g = 0.9, 0.7, 1.3, 0.4, 0.95
    # gamma b^2 P^2 + (r - gamma a^2 r - q gamma b^2) P - q r = 0
    c2, c1, c0 = g * b * b, r - g * a * a * r - q * g * b * b, -q * r
    P = (-c1 + math.sqrt(c1 * c1 - 4 * c2 * c0)) / (2 * c2)
    assert float(lq_riccati(scalar_reference()).P) == pytest.approx(P, abs=1e-12)


def test_singular_D_raises():
    """Choose abar so that D = 0 (D is affine in abar for fixed h): no unique equilibrium mean."""
    base = scalar_reference()
    d0 = float(lq_equilibrium_system(LQParams(**{**base.__dict__, "Abar": 0.0})).D)
    d1 = float(lq_equilibrium_system(LQParams(**{**base.__dict__, "Abar": 1.0})).D)
    singular = LQParams(**{**base.__dict__, "Abar": d0 / (d0 - d1)})
    assert abs(float(lq_equilibrium_system(singular).D)) < 1e-12
    with pytest.raises(LQSingularError, match="singular"):
        lq_equilibrium(singular, 0.0)


def test_other_errors():
    base = scalar_reference()
    with pytest.raises(LQSingularError, match="stabilisable"):  # sqrt(gamma) a > 1 and b = 0
        lq_riccati(LQParams(**{**base.__dict__, "A": 1.5, "B": 0.0}))
    with pytest.raises(LQSingularError, match="not stable"):  # a follower whose closed loop a - b K explodes
        lq_exploitability(base, LinearGaussianPolicy(K=-0.5, k=0.0, C=0.1))
    with pytest.raises(ValueError, match="shape"):
        LQParams(**{**base.__dict__, "c0": [0.1, 0.2]})


# ----- the total gradient by an independent route ---------------------------------------------------------------
def iterated_leader_objective(p: LQParams, theta) -> float:
    """``J_L`` from the mean-field fixed point ``m <- E_stationary[x]`` under the soft best response to ``m``
    (damped iteration, no ``D``), the stationary covariance by iterating ``Sigma <- rho Sigma rho' + ...``."""
    ric = lq_riccati(p)
    theta = torch.as_tensor(theta, dtype=f64).reshape(-1)
    m = torch.zeros(p.n, dtype=f64)
    eye = torch.eye(p.n, dtype=f64)
    for _ in range(500):
        br = lq_best_response(p, m, theta, ric)
        rho = p.A - p.B @ br.K
        new = torch.linalg.solve(eye - rho, p.Abar @ m + p.c0 - p.B @ br.k)  # stationary mean at fixed m
        if float((new - m).abs().max()) < 1e-14:
            break
        m = 0.5 * m + 0.5 * new
    Sigma = torch.zeros(p.n, p.n, dtype=f64)
    for _ in range(400):
        Sigma = rho @ Sigma @ rho.T + p.B @ br.cov @ p.B.T + p.W
    return float(-((m - p.x_T) ** 2).sum() - torch.trace(Sigma) - p.kappa * (theta**2).sum())


@pytest.mark.parametrize("case", ["scalar", "two_dim"])
def test_total_gradient_against_finite_differences(case):
    p = scalar_reference() if case == "scalar" else two_dim()
    thetas = [[0.0], [0.7], [-2.0]] if case == "scalar" else [[0.0, 0.0], [0.3, -0.4], [-1.0, 0.8]]
    h = 1e-4
    for theta in thetas:
        theta = torch.tensor(theta, dtype=f64)
        grad = lq_leader_gradient(p, theta)
        assert grad.value == pytest.approx(iterated_leader_objective(p, theta), abs=1e-11)
        fd = torch.zeros_like(theta)
        for i in range(len(theta)):
            e = torch.zeros_like(theta)
            e[i] = h
            fd[i] = (iterated_leader_objective(p, theta + e) - iterated_leader_objective(p, theta - e)) / (2 * h)
        torch.testing.assert_close(grad.total, fd, atol=1e-8, rtol=0)
        torch.testing.assert_close(grad.partial, -2 * p.kappa * theta, atol=1e-15, rtol=0)
    if case == "two_dim":  # our instance, not the spec's (whose cos(partial, total) is 0.88)
        assert lq_leader_gradient(p, [0.3, -0.4]).cosine == pytest.approx(-0.4995, abs=1e-4)
        theta_star = lq_leader_optimum(p)
        assert float(lq_leader_gradient(p, theta_star).total.abs().max()) < 1e-12
        for direction in torch.eye(2, dtype=f64):
            assert lq_leader_objective(p, theta_star) > lq_leader_objective(p, theta_star + 0.1 * direction)


# ----- the soft Bellman equation by quadrature (numpy) -----------------------------------------------------------
@pytest.mark.parametrize("theta", [0.0, 0.7])
def test_soft_bellman_equation_by_quadrature(theta):
    """``V(x) = max_pi E_pi[-c(x, u) + gamma E_w V(x')] + beta H(pi)``, reward convention, at a few ``x``:
    (i) at the closed-form policy (Gauss-Hermite in ``u`` and ``w``, entropy in closed form), and (ii) the max
    itself, ``beta log int exp(Q(x, u) / beta) du`` by the trapezoid rule, whose maximiser is the Gaussian."""
    p = scalar_reference()
    a, b, abar, c0, W = (float(v) for v in (p.A, p.B, p.Abar, p.c0, p.W))
    q, r, h, h0, g, beta = float(p.Q), float(p.R), float(p.H), float(p.h0), p.gamma, p.beta
    eq = lq_equilibrium(p, theta)
    br = eq.best_response
    m = float(eq.m)
    P, pp, v0, K, k, cu = float(br.P), float(br.p), br.v0, float(br.K), float(br.k), float(br.cov)

    def V(x):  # reward convention
        return -(P * x * x + 2 * pp * x + v0)

    z = h * m + h0
    nodes, weights = np.polynomial.hermite_e.hermegauss(12)  # E f(N(0, 1)) = sum w f(node) / sqrt(2 pi)
    weights = weights / math.sqrt(2 * math.pi)

    def Q(x, u):  # -c(x, u) + gamma E_w V(x'), any array u
        u = np.asarray(u, dtype=float)[..., None]
        nxt = a * x + b * u + abar * m + c0 + math.sqrt(W) * nodes
        return -(q * (x - z) ** 2 + r * u[..., 0] ** 2 - theta * u[..., 0]) + g * (V(nxt) * weights).sum(-1)

    for x in (-1.0, 0.5, 2.0, 3.7):
        mean_u = -K * x - k
        u_nodes = mean_u + math.sqrt(cu) * nodes
        entropy = 0.5 * math.log(2 * math.pi * math.e * cu)
        rhs = float((Q(x, u_nodes) * weights).sum()) + beta * entropy
        assert rhs == pytest.approx(V(x), abs=1e-10)
        us = np.linspace(mean_u - 12 * math.sqrt(cu), mean_u + 12 * math.sqrt(cu), 2001)
        qs = Q(x, us)
        top = qs.max()
        dens = np.exp((qs - top) / beta)
        du = us[1] - us[0]
        soft_max = top + beta * math.log(dens.sum() * du)
        assert soft_max == pytest.approx(V(x), abs=1e-10)
        dens /= dens.sum()
        assert float((dens * us).sum()) == pytest.approx(mean_u, abs=1e-10)
        assert float((dens * (us - mean_u) ** 2).sum()) == pytest.approx(cu, abs=1e-10)


# ----- exploitability ----------------------------------------------------------------------------------------------
def forward_return(p: LQParams, pol: LinearGaussianPolicy, m_pop: torch.Tensor, theta: torch.Tensor, m0, S0,
                   steps: int = 900) -> float:
    """Soft return from ``x_0 ~ N(m0, S0)`` by propagating the state's mean and covariance forward (no Stein
    equation, no ``v0`` formula); ``gamma^steps`` is negligible."""
    rho = p.A - p.B @ pol.K
    d = p.Abar @ m_pop + p.c0
    z = p.H @ m_pop + p.h0
    neg_entropy = -0.5 * float(torch.linalg.slogdet(2 * math.pi * math.e * pol.C).logabsdet)
    mt, St, total = m0.clone(), S0.clone(), 0.0
    for t in range(steps):
        mu_u = -pol.K @ mt - pol.k
        cov_u = pol.K @ St @ pol.K.T + pol.C
        cost = ((mt - z) @ p.Q @ (mt - z) + torch.trace(p.Q @ St) + mu_u @ p.R @ mu_u + torch.trace(p.R @ cov_u)
                - theta @ mu_u + p.beta * neg_entropy)
        total += p.gamma**t * float(cost)
        mt = rho @ mt - p.B @ pol.k + d
        St = rho @ St @ rho.T + p.B @ pol.C @ p.B.T + p.W
    return -total


def induced_by_iteration(p: LQParams, pol: LinearGaussianPolicy, steps: int = 600):
    """The population's own mean and covariance by running the population's moment dynamics to stationarity."""
    rho = p.A - p.B @ pol.K
    m, S = torch.zeros(p.n, dtype=f64), torch.zeros(p.n, p.n, dtype=f64)
    for _ in range(steps):
        m = (rho + p.Abar) @ m - p.B @ pol.k + p.c0
        S = rho @ S @ rho.T + p.B @ pol.C @ p.B.T + p.W
    return m, S


@pytest.mark.parametrize("case", ["scalar", "two_dim"])
def test_exploitability(case):
    p = scalar_reference() if case == "scalar" else two_dim()
    theta = torch.full((p.k,), 0.3, dtype=f64)
    eq = lq_equilibrium(p, theta)
    star = eq.best_response.policy
    assert abs(lq_exploitability(p, star, theta).value) < 1e-10
    gen = torch.Generator().manual_seed(0)
    perturbed = [
        LinearGaussianPolicy(K=star.K + 0.1 * torch.randn(star.K.shape, generator=gen, dtype=f64), k=star.k, C=star.C),
        LinearGaussianPolicy(K=star.K, k=star.k + 0.2, C=star.C),
        LinearGaussianPolicy(K=star.K, k=star.k, C=1.5 * star.C),
        LinearGaussianPolicy(K=0.8 * star.K, k=star.k - 0.1, C=0.7 * star.C),
    ]
    for pol in perturbed:
        ex = lq_exploitability(p, pol, theta)
        assert ex.value > 1e-4
        m_it, S_it = induced_by_iteration(p, pol)
        torch.testing.assert_close(ex.m, m_it, atol=1e-12, rtol=0)
        torch.testing.assert_close(ex.Sigma, S_it, atol=1e-12, rtol=0)
    # brute force for the last one: both policies evaluated by forward moment propagation from its own mean field
    pol = perturbed[-1]
    ex = lq_exploitability(p, pol, theta)
    br = lq_best_response(p, ex.m, theta)
    j_pi = forward_return(p, pol, ex.m, theta, ex.m, ex.Sigma)
    j_br = forward_return(p, br.policy, ex.m, theta, ex.m, ex.Sigma)
    assert j_br - j_pi == pytest.approx(ex.value, abs=1e-9)
    # a different initial law (a point mass away from the mean field)
    x0 = ex.m + 1.0
    zero = torch.zeros(p.n, p.n, dtype=f64)
    ex0 = lq_exploitability(p, pol, theta, m0=x0, Sigma0=zero)
    brute = forward_return(p, br.policy, ex.m, theta, x0, zero) - forward_return(p, pol, ex.m, theta, x0, zero)
    assert brute == pytest.approx(ex0.value, abs=1e-9)


# ----- the discretised twin, solved by the library's finite exact solvers ----------------------------------------
def scalar_twin(p: LQParams, theta0: float, xs: torch.Tensor, us: torch.Tensor, delta: float = 0.1) -> FiniteGame:
    """States on grid ``xs`` (the mean field: the law of the state on the grid), actions on grid ``us``, two leader
    actions ``theta0 -+ delta`` (the follower's reward is linear in them, so ``phi = (1/2, 1/2)`` is subsidy
    ``theta0``). Transition: the Gaussian density of ``w`` at the grid points, normalised over the grid. Leader
    reward ``-E_mu (x - x_T)^2`` (constant in ``s, a, b``), so ``J_L = (1 - gamma) Phi - kappa theta^2``."""
    a, b, abar, c0, W = (float(v) for v in (p.A, p.B, p.Abar, p.c0, p.W))
    q, r, h, h0, x_T = (float(v) for v in (p.Q, p.R, p.H, p.h0, p.x_T))
    thetas = torch.tensor([theta0 - delta, theta0 + delta], dtype=f64)
    n_s, n_a = len(xs), len(us)

    def transition(mu):
        x, u = xs.to(mu), us.to(mu)
        mean = a * x[:, None] + b * u[None, :] + abar * (mu @ x) + c0
        P = torch.softmax(-((x[None, None, :] - mean[..., None]) ** 2) / (2 * W), dim=-1)
        return P[:, :, None, :].expand(n_s, n_a, 2, n_s)

    def reward_f(mu):
        z = h * (mu @ xs.to(mu)) + h0
        x, u, th = xs.to(mu)[:, None, None], us.to(mu)[None, :, None], thetas.to(mu)[None, None, :]
        return -(q * (x - z) ** 2 + r * u**2 - th * u)

    def reward_l(mu):
        return (-(mu @ (xs.to(mu) - x_T) ** 2)).expand(n_s, n_a, 2)

    return FiniteGame(name="lq_twin", transition=transition, reward_f=reward_f, reward_l=reward_l,
                      rho=torch.full((n_s,), 1.0 / n_s, dtype=f64), gamma=p.gamma, tau=p.beta,
                      transition_depends_on_mu=True, default_damping=1.0)


@pytest.mark.parametrize("width,dx,du,tol", [(6.0, 0.3, 0.25, 2e-6), (8.0, 0.3, 0.3, 1e-9)])
def test_discretised_twin(width, dx, du, tol):
    """Grid: ``m* -+ width sd`` for states; for actions, the best response's mean over that range -+ width
    action sd. Errors are set by the truncation width (the spacing enters only as exp(-2 pi^2 sd^2 / dx^2))."""
    p = scalar_reference()
    theta0, delta = 0.7, 0.1
    grad = lq_leader_gradient(p, theta0)
    eq, br = grad.equilibrium, grad.equilibrium.best_response
    m_star, sd, sd_u = float(eq.m), math.sqrt(float(eq.Sigma)), math.sqrt(float(br.cov))
    xs = torch.arange(m_star - width * sd, m_star + width * sd + 1e-9, dx, dtype=f64)
    u_ends = [-float(br.K) * float(x) - float(br.k) for x in (xs[0], xs[-1])]
    us = torch.arange(min(u_ends) - width * sd_u, max(u_ends) + width * sd_u + 1e-9, du, dtype=f64)
    game = scalar_twin(p, theta0, xs, us, delta)
    phi = game.uniform_leader()
    twin_eq = solve_equilibrium(game, phi)
    sg = stackelberg_gradient(game, phi, eq=twin_eq)
    mu = twin_eq.mu
    m = float(mu @ xs)
    var = float(mu @ (xs - m) ** 2)
    j_l = (1 - p.gamma) * sg.value - p.kappa * theta0**2
    total = (1 - p.gamma) * float((sg.total[:, 1] - sg.total[:, 0]).sum()) / (2 * delta) - 2 * p.kappa * theta0
    assert m == pytest.approx(m_star, abs=tol)
    assert var == pytest.approx(float(eq.Sigma), abs=tol)
    assert j_l == pytest.approx(grad.value, abs=tol)
    assert total == pytest.approx(float(grad.total), abs=5 * tol)
    # the follower's policy at the state nearest m*, and its value up to the entropy constant -beta log(du)/(1-gamma)
    i = int(torch.argmin((xs - m_star).abs()))
    pi = twin_eq.pi[i]
    mean_u = float(pi @ us)
    assert mean_u == pytest.approx(float(br.mean_action(xs[i:i + 1, None])[0, 0]), abs=tol)
    assert float(pi @ (us - mean_u) ** 2) == pytest.approx(float(br.cov), abs=tol)
    shifted = float(br.value(xs[i:i + 1, None])[0]) - p.beta * math.log(du) / (1 - p.gamma)
    assert float(twin_eq.values.V[i]) == pytest.approx(shifted, abs=max(tol, 1e-8) * 100)
    if width == 6.0:  # the twin's own finite difference of J_L in theta (a game per theta, one leader action)
        h = 1e-3
        fd = [(1 - p.gamma) * leader_objective(scalar_twin(p, theta0 + s * h, xs, us, 0.0), phi) for s in (1, -1)]
        fd_total = (fd[0] - fd[1]) / (2 * h) - 2 * p.kappa * theta0
        assert fd_total == pytest.approx(total, abs=1e-6)
