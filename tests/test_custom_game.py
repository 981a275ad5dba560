"""A user-built game (FiniteGame directly), checked against a hand computation in plain numpy.

The game: 2 states, 2 actions; the next state is the action, whatever the current state
(``P(s'|s,a) = 1[s' = a]``); ``z = s``; follower reward ``r_f(s, a, mu) = u[a] - mu[a]``.
By hand, the soft values at a fixed ``mu`` do not depend on the state:

    Q(s, a) = u[a] - mu[a] + gamma Vbar,   Vbar = tau log sum_a exp((u[a] - mu[a]) / tau) / (1 - gamma),
    BR(a | s) = softmax((u - mu) / tau),

the population's next state is its action, so ``Gamma(pi)`` is the stationary law of the 2x2 kernel
``K[s, a] = pi(a | s)``, and the equilibrium solves ``mu_1 = sigmoid((u_1 - u_0 - 2 mu_1 + 1) / tau)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deep_smfg.exact import (
    follower_exploitability,
    follower_return,
    leader_objective,
    logit_gradient,
    soft_best_response,
    soft_policy_evaluation,
    solve_equilibrium,
    stackelberg_gradient,
)
from deep_smfg.games import FiniteGame

f64 = torch.float64
GAMMA, TAU = 0.5, 1.0
U = np.array([0.2, 1.0])
RHO = np.array([0.3, 0.7])
R_L = np.array([[1.0, -0.5], [0.25, 2.0]])  # leader reward r_l[s, a]


def build(dtype=f64, subsidy: tuple[float, ...] = (0.0,), target: float | None = None) -> FiniteGame:
    """The game above; with ``subsidy`` the leader's action b adds ``subsidy[b]`` to action 1's reward."""
    n_b = len(subsidy)
    P = torch.zeros(2, 2, n_b, 2, dtype=dtype)
    for a in range(2):
        P[:, a, :, a] = 1.0
    u = torch.tensor(U, dtype=f64)
    sub = torch.tensor(subsidy, dtype=f64)

    def reward_f(mu):
        r = (u.to(mu) - mu)[None, :, None] + sub.to(mu)[None, None, :] * torch.tensor([0.0, 1.0]).to(mu)[None, :, None]
        return r.expand(2, 2, n_b)

    if target is None:
        reward_l = torch.tensor(R_L, dtype=f64)[:, :, None].expand(2, 2, n_b).clone()
    else:

        def reward_l(mu):
            return (-((mu[1] - target) ** 2)).expand(2, 2, n_b)

    return FiniteGame(name="user_game", transition=P, reward_f=reward_f, reward_l=reward_l, rho=torch.tensor(RHO),
                      gamma=GAMMA, tau=TAU)


def hand_soft_values(mu: np.ndarray, shift: float = 0.0):
    x = (U - mu + np.array([0.0, shift])) / TAU
    vbar = TAU * math.log(np.exp(x).sum()) / (1 - GAMMA)
    Q = np.tile(U - mu + np.array([0.0, shift]) + GAMMA * vbar, (2, 1))
    pi = np.tile(np.exp(x) / np.exp(x).sum(), (2, 1))
    return np.array([vbar, vbar]), Q, pi


def hand_equilibrium_share(shift: float = 0.0) -> float:
    """mu_1 = sigmoid((u_1 + shift - u_0 - mu_1 + mu_0) / tau) with mu_0 = 1 - mu_1, by bisection."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        m = 0.5 * (lo + hi)
        f = m - 1 / (1 + math.exp(-(U[1] + shift - U[0] - 2 * m + 1) / TAU))
        lo, hi = (m, hi) if f < 0 else (lo, m)
    return 0.5 * (lo + hi)


def hand_policy_value(pi: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """V(s) = c(s) + gamma sum_a pi(a|s) V(a), solved by Cramer's rule."""
    c = (pi * (U - mu - TAU * np.log(pi))).sum(1)
    a11, a12 = 1 - GAMMA * pi[0, 0], -GAMMA * pi[0, 1]
    a21, a22 = -GAMMA * pi[1, 0], 1 - GAMMA * pi[1, 1]
    det = a11 * a22 - a12 * a21
    return np.array([(c[0] * a22 - a12 * c[1]) / det, (a11 * c[1] - a21 * c[0]) / det])


def hand_stationary(pi: np.ndarray) -> np.ndarray:
    """Two-state chain K = pi: d_0 = K[1,0] / (K[0,1] + K[1,0])."""
    d0 = pi[1, 0] / (pi[0, 1] + pi[1, 0])
    return np.array([d0, 1 - d0])


def test_transitions_rewards_and_sampling():
    game = build()
    mu = torch.tensor([0.4, 0.6], dtype=f64)
    assert (game.n_states, game.n_actions, game.n_leader_actions, game.n_z) == (2, 2, 1, 2) and game.is_nash
    np.testing.assert_allclose(game.reward_f_tensor(mu)[:, :, 0].numpy(), [[-0.2, 0.4], [-0.2, 0.4]], atol=1e-15)
    gen = torch.Generator().manual_seed(0)
    s = torch.randint(2, (1000,), generator=gen)
    a = torch.randint(2, (1000,), generator=gen)
    s_next = game.sample_next_state(s, a, torch.zeros(1000, dtype=torch.long), mu, generator=gen)
    assert torch.equal(s_next, a)
    assert torch.equal(game.sample_z(s, a, torch.zeros_like(s)), s)


@pytest.mark.parametrize("mu", [[0.5, 0.5], [0.9, 0.1], [0.05, 0.95]])
def test_soft_values_at_a_fixed_mean_field(mu):
    game = build()
    mu_np = np.array(mu)
    mu_t = torch.tensor(mu, dtype=f64)
    r = game.reward_f_tensor(mu_t)[:, :, 0]
    P = game.transition_tensor(mu_t)[:, :, 0]
    br = soft_best_response(r, P, GAMMA, TAU)
    V, Q, pi = hand_soft_values(mu_np)
    np.testing.assert_allclose(br.V.numpy(), V, atol=1e-10)
    np.testing.assert_allclose(br.Q.numpy(), Q, atol=1e-10)
    np.testing.assert_allclose(br.pi.numpy(), pi, atol=1e-10)
    # a state-dependent policy, evaluated by hand
    pi_any = np.array([[0.8, 0.2], [0.35, 0.65]])
    got = soft_policy_evaluation(r, P, torch.tensor(pi_any, dtype=f64), GAMMA, TAU).V.numpy()
    np.testing.assert_allclose(got, hand_policy_value(pi_any, mu_np), atol=1e-12)
    # J_f = rho . V^pi
    phi = game.uniform_leader(f64)
    assert follower_return(game, torch.tensor(pi_any, dtype=f64), phi, mu_t).item() == pytest.approx(
        RHO @ hand_policy_value(pi_any, mu_np), abs=1e-12)


def test_equilibrium_matches_hand_fixed_point():
    game = build()
    m1 = hand_equilibrium_share()
    mu = np.array([1 - m1, m1])
    eq = solve_equilibrium(game, game.uniform_leader(f64))
    np.testing.assert_allclose(eq.mu.numpy(), mu, atol=1e-10)
    V, Q, pi = hand_soft_values(mu)
    np.testing.assert_allclose(eq.pi.numpy(), pi, atol=1e-10)
    np.testing.assert_allclose(eq.values.V.numpy(), V, atol=1e-10)
    # leader objective: every row of K is p, so V_l = r + gamma (p . r) / (1 - gamma)
    p = pi[0]
    r_pi = (pi * R_L).sum(1)
    phi_hand = RHO @ r_pi + GAMMA * (p @ r_pi) / (1 - GAMMA)
    assert leader_objective(game, game.uniform_leader(f64)) == pytest.approx(phi_hand, abs=1e-10)
    assert follower_exploitability(game, eq.pi, game.uniform_leader(f64)) < 1e-10


def test_exploitability_of_a_non_equilibrium_policy_by_hand():
    game = build()
    pi = np.array([[0.8, 0.2], [0.35, 0.65]])
    mu_bar = hand_stationary(pi)
    V_star, _, _ = hand_soft_values(mu_bar)
    expected = RHO @ (V_star - hand_policy_value(pi, mu_bar))
    assert expected > 1e-2
    got = follower_exploitability(game, torch.tensor(pi, dtype=f64), game.uniform_leader(f64))
    assert got == pytest.approx(expected, abs=1e-10)


def test_float32_user_game():
    game = build(dtype=torch.float32)
    eq = solve_equilibrium(game, game.uniform_leader(torch.float32))
    assert eq.mu.dtype == torch.float32
    m1 = hand_equilibrium_share()
    np.testing.assert_allclose(eq.mu.double().numpy(), [1 - m1, m1], atol=1e-5)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_subsidy_leader_gradient_by_hand(p):
    """A leader subsidising action 1 by s w.p. p (the same in both states); r_l = -(mu_1 - target)^2.

    Hand: mu_1 = sigmoid((u_1 + p s - u_0 - 2 mu_1 + 1) / tau); Phi = -(mu_1 - target)^2 / (1 - gamma);
    implicit function theorem: dmu_1/dp = (sig' s / tau) / (1 + 2 sig' / tau), sig' = mu_1 (1 - mu_1).
    """
    s, target = 0.8, 0.9
    game = build(subsidy=(0.0, s), target=target)
    phi = torch.tensor([[1 - p, p], [1 - p, p]], dtype=f64)
    grad = stackelberg_gradient(game, phi, tol=1e-13)
    m1 = hand_equilibrium_share(shift=p * s)
    assert grad.equilibrium.mu[1].item() == pytest.approx(m1, abs=1e-10)
    assert grad.value == pytest.approx(-((m1 - target) ** 2) / (1 - GAMMA), abs=1e-10)
    sp = m1 * (1 - m1)
    dm = (sp * s / TAU) / (1 + 2 * sp / TAU)
    dphi_dp = -2 * (m1 - target) * dm / (1 - GAMMA)
    assert dphi_dp > 0.01
    # phi moves along (-1, +1) in both states at once
    got = (grad.total[:, 1] - grad.total[:, 0]).sum().item()
    assert got == pytest.approx(dphi_dp, rel=1e-7)
    # with pi and mu frozen the leader's own reward does not depend on b: the partial gradient along
    # any direction that keeps phi a distribution (d/dp, or any softmax-logit direction) is 0
    assert (grad.partial[:, 1] - grad.partial[:, 0]).abs().max().item() < 1e-12
    assert logit_gradient(phi, grad.partial).abs().max().item() < 1e-12
    assert logit_gradient(phi, grad.total).abs().max().item() > 1e-3
