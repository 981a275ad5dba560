"""Markov-chain algebra: stationary laws, discounted values, policy-averaged kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deep_smfg.exact import (
    StationaryDistributionError,
    discounted_value,
    state_kernel,
    state_reward,
    stationary_distribution,
)

f64 = torch.float64


def random_stochastic(n: int, rng: np.random.Generator, sparse: bool = False) -> np.ndarray:
    K = rng.random((n, n))
    if sparse:  # a cycle plus random extra edges: irreducible and aperiodic, many exact zeros
        mask = rng.random((n, n)) < 0.3
        mask[np.arange(n), (np.arange(n) + 1) % n] = True
        mask[0, 0] = True
        K = K * mask
    return K / K.sum(1, keepdims=True)


def power_iteration(K: np.ndarray, tol: float = 1e-15) -> np.ndarray:
    d = np.full(K.shape[0], 1.0 / K.shape[0])
    for _ in range(1_000_000):
        new = d @ K
        if np.abs(new - d).max() < tol:
            return new
        d = new
    raise AssertionError("power iteration did not converge")


@pytest.mark.parametrize("n", [2, 3, 7, 20])
@pytest.mark.parametrize("sparse", [False, True])
def test_stationary_distribution_matches_power_iteration(n, sparse):
    rng = np.random.default_rng(100 * n + sparse)
    for _ in range(3):
        K = random_stochastic(n, rng, sparse)
        expected = power_iteration(K)
        got = stationary_distribution(torch.tensor(K, dtype=f64))
        assert got.dtype == f64
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-10, rtol=0)
        assert abs(got.sum().item() - 1) < 1e-12


def test_stationary_distribution_known_two_state_chain():
    # K = [[1-a, a], [b, 1-b]] has d = (b, a) / (a + b).
    a, b = 0.3, 0.05
    K = torch.tensor([[1 - a, a], [b, 1 - b]], dtype=f64)
    np.testing.assert_allclose(stationary_distribution(K).numpy(), [b / (a + b), a / (a + b)], atol=1e-14)


def test_stationary_distribution_float32():
    rng = np.random.default_rng(7)
    K = random_stochastic(6, rng)
    got = stationary_distribution(torch.tensor(K, dtype=torch.float32))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), power_iteration(K), atol=1e-5)


@pytest.mark.parametrize(
    "K",
    [
        # two absorbing states (and a transient one feeding both)
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]],
        # two closed classes {0, 1} and {2, 3}
        [[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.3, 0.7], [0.0, 0.0, 0.6, 0.4]],
    ],
    ids=["two-absorbing", "two-classes"],
)
def test_reducible_chain_raises(K):
    with pytest.raises(StationaryDistributionError):
        stationary_distribution(torch.tensor(K, dtype=f64))


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_discounted_value_matches_truncated_series(gamma):
    rng = np.random.default_rng(int(gamma * 100))
    n = 6
    K = random_stochastic(n, rng)
    r = rng.normal(size=n)
    # V = sum_t gamma^t K^t r, truncated where gamma^T |r|_max / (1 - gamma) < 1e-13
    T = int(np.ceil(np.log(1e-13 * (1 - gamma) / np.abs(r).max()) / np.log(gamma)))
    V, term = np.zeros(n), r.copy()
    for _ in range(T):
        V += term
        term = gamma * K @ term
    got = discounted_value(torch.tensor(K, dtype=f64), torch.tensor(r, dtype=f64), gamma)
    np.testing.assert_allclose(got.numpy(), V, atol=1e-11, rtol=0)


def test_state_kernel_and_reward_match_loops():
    rng = np.random.default_rng(3)
    S, A, B = 3, 2, 4
    P = rng.random((S, A, B, S))
    P /= P.sum(-1, keepdims=True)
    r = rng.normal(size=(S, A, B))
    pi = rng.random((S, A))
    pi /= pi.sum(-1, keepdims=True)
    phi = rng.random((S, B))
    phi /= phi.sum(-1, keepdims=True)
    K = np.zeros((S, S))
    rv = np.zeros(S)
    for s in range(S):
        for a in range(A):
            for b in range(B):
                K[s] += pi[s, a] * phi[s, b] * P[s, a, b]
                rv[s] += pi[s, a] * phi[s, b] * r[s, a, b]
    t = lambda x: torch.tensor(x, dtype=f64)  # noqa: E731
    np.testing.assert_allclose(state_kernel(t(P), t(pi), t(phi)).numpy(), K, atol=1e-14)
    np.testing.assert_allclose(state_reward(t(r), t(pi), t(phi)).numpy(), rv, atol=1e-14)
    np.testing.assert_allclose(K.sum(1), 1.0, atol=1e-14)
