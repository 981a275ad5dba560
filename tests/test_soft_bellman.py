"""Soft (entropy-regularised) policy evaluation and best response on tiny random MDPs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from helpers import logsumexp, soft_policy_value, soft_value_iteration, softmax

from deep_smfg.exact import soft_best_response, soft_policy_evaluation

f64 = torch.float64


def random_mdp(S: int, A: int, seed: int):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(S, A))
    P = rng.random((S, A, S)) + 0.05
    P /= P.sum(-1, keepdims=True)
    return r, P, rng


def t(x, dtype=f64):
    return torch.tensor(x, dtype=dtype)


def test_soft_policy_evaluation_matches_monte_carlo():
    S, A, gamma, tau = 3, 2, 0.8, 0.3
    r, P, rng = random_mdp(S, A, seed=11)
    pi = np.array([[0.3, 0.7], [0.85, 0.15], [0.5, 0.5]])
    got = soft_policy_evaluation(t(r), t(P), t(pi), gamma, tau)

    # Monte Carlo: n episodes from each start state, reward r(s,a) - tau log pi(a|s), horizon with gamma^H < 1e-4.
    H = int(np.ceil(np.log(1e-4) / np.log(gamma)))
    n = 20_000
    soft_r = r - tau * np.log(pi)
    bias = gamma**H * np.abs(soft_r).max() / (1 - gamma)  # bound on the truncated tail
    pi_cdf, P_cdf = pi.cumsum(-1), P.cumsum(-1)
    for s0 in range(S):
        s = np.full(n, s0)
        G = np.zeros(n)
        for step in range(H):
            a = (rng.random(n)[:, None] > pi_cdf[s]).sum(-1)
            G += gamma**step * soft_r[s, a]
            s = (rng.random(n)[:, None] > P_cdf[s, a]).sum(-1)
        se = G.std(ddof=1) / np.sqrt(n)
        assert abs(G.mean() - got.V[s0].item()) < 4 * se + bias, (s0, G.mean(), got.V[s0].item(), se)

    # and the exact linear-algebra answer, with Q^pi = r + gamma P V^pi
    V = soft_policy_value(r, P, pi, gamma, tau)
    np.testing.assert_allclose(got.V.numpy(), V, atol=1e-12)
    np.testing.assert_allclose(got.Q.numpy(), r + gamma * P @ V, atol=1e-12)


def test_soft_policy_evaluation_of_a_deterministic_policy_has_no_entropy_term():
    S, A, gamma, tau = 3, 3, 0.9, 0.7
    r, P, _ = random_mdp(S, A, seed=5)
    pi = np.eye(A)[[2, 0, 1]]  # a(s) = 2, 0, 1
    K = P[np.arange(S), [2, 0, 1]]
    V = np.linalg.solve(np.eye(S) - gamma * K, r[np.arange(S), [2, 0, 1]])
    got = soft_policy_evaluation(t(r), t(P), t(pi), gamma, tau).V
    np.testing.assert_allclose(got.numpy(), V, atol=1e-12)


@pytest.mark.parametrize("seed,S,A,gamma,tau", [(0, 3, 3, 0.9, 0.5), (1, 4, 3, 0.8, 0.1), (2, 2, 4, 0.95, 2.0)])
def test_soft_best_response_solves_soft_bellman_and_beats_every_policy(seed, S, A, gamma, tau):
    r, P, rng = random_mdp(S, A, seed)
    br = soft_best_response(t(r), t(P), gamma, tau)
    V, Q, pi = br.V.numpy(), br.Q.numpy(), br.pi.numpy()

    # the soft Bellman equation, recomputed here
    Q_here = r + gamma * P @ V
    assert np.abs(Q - Q_here).max() < 1e-9
    assert np.abs(tau * logsumexp(Q_here / tau) - V).max() < 1e-9
    np.testing.assert_allclose(pi, softmax(Q_here / tau), atol=1e-9)
    # the same fixed point by plain soft value iteration
    V_vi, _, _ = soft_value_iteration(r, P, gamma, tau)
    np.testing.assert_allclose(V, V_vi, atol=1e-9)
    # the best response's own soft value is V*
    np.testing.assert_allclose(soft_policy_evaluation(t(r), t(P), br.pi, gamma, tau).V.numpy(), V, atol=1e-9)

    # brute force: every deterministic policy and 50 random stochastic ones are (weakly) worse in every state
    det_values = []
    for actions in itertools.product(range(A), repeat=S):
        pi_det = np.eye(A)[list(actions)]
        v = soft_policy_evaluation(t(r), t(P), t(pi_det), gamma, tau).V.numpy()
        np.testing.assert_allclose(v, soft_policy_value(r, P, pi_det, gamma, tau), atol=1e-10)
        det_values.append(v)
        assert (v <= V + 1e-10).all(), (actions, v, V)
    for _ in range(50):
        pi_rand = rng.dirichlet(np.full(A, 0.5), size=S)
        v = soft_policy_evaluation(t(r), t(P), t(pi_rand), gamma, tau).V.numpy()
        assert (v <= V + 1e-10).all()
    # with entropy the optimum is strictly above the best deterministic policy
    assert (V > np.max(det_values, axis=0) + 1e-6).all()


def test_soft_best_response_small_tau_approaches_hard_optimum():
    S, A, gamma = 3, 3, 0.9
    r, P, _ = random_mdp(S, A, seed=9)
    best_det = max(
        (soft_policy_value(r, P, np.eye(A)[list(acts)], gamma, 0.0) for acts in itertools.product(range(A), repeat=S)),
        key=lambda v: v.sum(),
    )
    tau = 1e-3
    V = soft_best_response(t(r), t(P), gamma, tau).V.numpy()
    # 0 <= V*_tau - V*_0 <= tau log|A| / (1 - gamma)
    assert (V >= best_det - 1e-9).all()
    assert (V <= best_det + tau * np.log(A) / (1 - gamma) + 1e-9).all()


def test_soft_best_response_float32_agrees_with_float64():
    S, A, gamma, tau = 4, 3, 0.9, 0.4
    r, P, _ = random_mdp(S, A, seed=21)
    b64 = soft_best_response(t(r), t(P), gamma, tau)
    b32 = soft_best_response(t(r, torch.float32), t(P, torch.float32), gamma, tau)
    assert b32.V.dtype == torch.float32 and b32.pi.dtype == torch.float32
    np.testing.assert_allclose(b32.V.double().numpy(), b64.V.numpy(), atol=1e-4)
    np.testing.assert_allclose(b32.Q.double().numpy(), b64.Q.numpy(), atol=1e-4)
    np.testing.assert_allclose(b32.pi.double().numpy(), b64.pi.numpy(), atol=1e-4)


def test_soft_best_response_warm_start_gives_same_answer():
    S, A, gamma, tau = 4, 3, 0.9, 0.4
    r, P, _ = random_mdp(S, A, seed=4)
    cold = soft_best_response(t(r), t(P), gamma, tau)
    warm = soft_best_response(t(r), t(P), gamma, tau, V0=t(np.full(S, 37.0)))
    np.testing.assert_allclose(warm.V.numpy(), cold.V.numpy(), atol=1e-9)
