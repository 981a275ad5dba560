"""Independent numpy references for the tests: nothing here imports ``deep_smfg.exact``.

They read a game only through its dense tensors (``transition_tensor``, ``reward_f_tensor``, ``g``,
``rho``), which ``tests/test_games.py`` checks against hand formulas.
"""

from __future__ import annotations

import numpy as np
import torch

# Every finite Stackelberg game configuration (a leader with more than one action).
SMFG_CONFIGS = [
    ("equilibrium_pricing", {"leader": "incentive"}),
    ("equilibrium_pricing", {"leader": "stake"}),
    ("shop_positioning", {}),
    ("market_entrance", {"leader": "sell_skew"}),
    ("market_entrance", {"leader": "balanced"}),
    ("congestion_toll", {}),
]
# ... plus the Nash game (|B| = 1) and two members of the random family (the second's transitions read mu).
ALL_CONFIGS = SMFG_CONFIGS + [("four_rooms", {}), ("random_smfg", {}),
                              ("random_smfg", {"seed": 1, "leader_channel": "both", "transition_coupling": 0.5})]


def config_id(cfg) -> str:
    name, kw = cfg
    return name + "".join(f"-{v}" for v in kw.values())


def np64(x) -> np.ndarray:
    return x.detach().cpu().numpy().astype(np.float64) if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)


def logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def soft_value_iteration(r: np.ndarray, P: np.ndarray, gamma: float, tau: float, tol: float = 1e-14):
    """Soft-optimal ``V``, ``Q`` and ``softmax(Q/tau)`` by plain value iteration (a gamma-contraction)."""
    V = np.zeros(r.shape[0])
    for _ in range(100_000):
        Q = r + gamma * P @ V
        new = tau * logsumexp(Q / tau)
        done = np.abs(new - V).max() < tol * (1 + np.abs(new).max())
        V = new
        if done:
            break
    else:  # pragma: no cover - the contraction always converges
        raise AssertionError("soft value iteration did not converge")
    Q = r + gamma * P @ V
    return V, Q, softmax(Q / tau)


def soft_policy_value(r: np.ndarray, P: np.ndarray, pi: np.ndarray, gamma: float, tau: float) -> np.ndarray:
    """``V^pi`` of the entropy-regularised reward by one linear solve."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(pi > 0, pi * np.log(pi), 0.0).sum(-1)
    K = np.einsum("sa,sat->st", pi, P)
    return np.linalg.solve(np.eye(len(K)) - gamma * K, (pi * r).sum(-1) + tau * ent)


def stationary(K: np.ndarray) -> np.ndarray:
    """The unique stationary law of ``K`` by least squares on ``[K^T - I; 1^T] d = [0; 1]``."""
    n = K.shape[0]
    A = np.vstack([K.T - np.eye(n), np.ones((1, n))])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    d, *_ = np.linalg.lstsq(A, b, rcond=None)
    return d


def game_arrays(game, phi: np.ndarray, mu: np.ndarray):
    """``(P[s,a,b,s'], r_f[s,a,b], r_phi[s,a], P_phi[s,a,s'])`` at ``mu`` for leader ``phi``."""
    mu_t = torch.as_tensor(mu, dtype=torch.float64)
    P = np64(game.transition_tensor(mu_t))
    r = np64(game.reward_f_tensor(mu_t))
    r_phi = np.einsum("sab,sb->sa", r, phi)
    P_phi = np.einsum("sabt,sb->sat", P, phi)
    return P, r, r_phi, P_phi


def induced(game, pi: np.ndarray, phi: np.ndarray, P: np.ndarray) -> np.ndarray:
    """``Gamma(pi, phi)``: the law of ``z`` with ``s`` stationary under ``pi``, ``phi``, ``P``."""
    K = np.einsum("sabt,sa,sb->st", P, pi, phi)
    d = stationary(K)
    return np.einsum("s,sa,sb,sabz->z", d, pi, phi, np64(game.g))


def exploitability(game, pi: np.ndarray, phi: np.ndarray) -> float:
    """``max_pi' J_f(pi'; mu_bar) - J_f(pi; mu_bar)`` with ``mu_bar = Gamma(pi, phi)``.

    Where the transition reads ``mu``, ``mu_bar = Gamma(pi, phi, mu_bar)`` is iterated to its fixed point (damped
    by a half), and a fixed point that is not reached fails the test.
    """
    mu_bar = np.full(game.n_z, 1.0 / game.n_z)
    for _ in range(10_000):
        P, *_ = game_arrays(game, phi, mu_bar)
        new = induced(game, pi, phi, P)
        if np.abs(new - mu_bar).sum() < 1e-14 or not game.transition_depends_on_mu:
            mu_bar = new
            break
        mu_bar = 0.5 * (mu_bar + new)
    else:
        raise AssertionError(f"the induced mean field did not converge: residual {np.abs(new - mu_bar).sum():.3g}")
    _, _, r_phi, P_phi = game_arrays(game, phi, mu_bar)
    v_pi = soft_policy_value(r_phi, P_phi, pi, game.gamma, game.tau)
    v_star, _, _ = soft_value_iteration(r_phi, P_phi, game.gamma, game.tau)
    return float(np64(game.rho) @ (v_star - v_pi))


def leader_value(game, phi: np.ndarray, pi: np.ndarray, mu: np.ndarray) -> float:
    """``J_l = rho^T (I - gamma K)^{-1} r_l^{pi,phi}`` (no leader entropy)."""
    mu_t = torch.as_tensor(mu, dtype=torch.float64)
    P = np64(game.transition_tensor(mu_t))
    rl = np64(game.reward_l_tensor(mu_t))
    K = np.einsum("sabt,sa,sb->st", P, pi, phi)
    r = np.einsum("sab,sa,sb->s", rl, pi, phi)
    V = np.linalg.solve(np.eye(len(K)) - game.gamma * K, r)
    return float(np64(game.rho) @ V)
